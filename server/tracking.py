"""Keeping track: lecture progress (the progress table, its summary and the working memory's mirror of it)
and the research TODO list.

The progress document's table is the source of truth. After a change, the working memory's 当前进度状态 is
set from it; when it disagreed before the change, the result says what was corrected.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from memory_schema.errors import DocumentNotFound, InvalidInput
from memory_schema.lectures import lecture_label, lecture_number
from memory_schema.progress import Progress, add_log_line, parse_progress, set_lecture_status, status_from_word
from memory_schema.research_todo import add_todo, complete_todo, has_done_todo, has_todo, parse_research_todo
from memory_schema.validation import check_body, check_title
from memory_schema.vocabulary import OTHER
from memory_schema.working_memory import parse_working_memory, set_progress, set_updated
from server.journal import write_group
from server.outcomes import WriteResult

if TYPE_CHECKING:
    from server.memory import ProjectMemory


def update_progress(memory: ProjectMemory, lecture: str | int, status: str | None, note: str | None) -> WriteResult:
    number = lecture_number(lecture)
    state = status_from_word(status) if status else None
    note_text = check_body(note, "note") if note else None
    if note_text is not None and ("\n" in note_text or "\r" in note_text):
        # The note is one line of the log: a second line would stand on its own, and a table row there is read
        # as a lecture of the progress table.
        raise InvalidInput("note must be one line (it is logged as one list item); record longer text with "
                           "append_insight or record_discussion.")
    if state is None and note_text is None:
        raise InvalidInput("give a status (done, in_progress or not_started), a note for the log, or both.")
    today = memory.today().isoformat()
    path = memory.layout.progress
    label = lecture_label(number)
    before: Progress | None = None

    def change(text: str) -> str:
        nonlocal before
        before = parse_progress(text)
        updated = set_lecture_status(text, number, state, today, memory.language) if state else text
        if updated != text:
            after = parse_progress(updated)
            updated = set_progress(updated, after.done, after.total, _phase_line(memory, after))
        if note_text:
            line = f"{label}: {note_text}"
            if f"- {line}" not in updated:  # a retried or re-applied note is logged once
                updated = add_log_line(updated, today, line, memory.language)
        return updated

    corrected = ""

    def mirror(text: str) -> str:
        # Read the table again under the working memory's lock: another process may have changed it since our
        # edit, and the last writer here must leave both documents agreeing.
        nonlocal corrected
        current = parse_progress(memory.store.read(path).text)
        shown = parse_working_memory(text).progress
        if shown and before is not None and (shown.done, shown.total) != (before.done, before.total) \
                and (shown.done, shown.total) != (current.done, current.total):
            corrected = (f"; corrected {memory.layout.working_memory} from {shown.done}/{shown.total} to "
                         f"{current.done}/{current.total} ({path}'s table is the source of truth: mark there any "
                         "lecture it lacks)")
        updated = set_progress(text, current.done, current.total, _phase_line(memory, current))
        return set_updated(updated, today) if updated != text else text

    with write_group("update_progress") as write_id:
        if not memory.store.exists(path):
            raise DocumentNotFound(path)
        old = memory.store.read(path).version
        snapshot = memory.store.edit(path, change, guard=memory.role_guard(path), redo=True)
        mirrored = _mirror(memory, mirror)
    memory.indexed(path, memory.layout.working_memory)
    after = parse_progress(snapshot.text)
    changed = snapshot.version != old or mirrored
    done_text = f"{after.done}/{after.total} ({100 * after.done / after.total:.1f}%) done" if after.total else ""
    if state is not None and before is not None and _was(before, number, state):
        what = f"{label} was already {state.value}" + ("; note logged" if note_text and changed else "")
    elif state is not None:
        what = f"{label} marked {state.value}"
    else:
        what = f"{label}: note logged" if snapshot.version != old else f"{label}: this note is already logged"
    return WriteResult(path=path, version=snapshot.version, handle=path, changed=changed,
                       message="; ".join(part for part in (what, done_text) if part) + corrected,
                       write_id=write_id if changed else None)


def _was(before: Progress, number: int, state: object) -> bool:
    return any(lec.number == number and lec.status is state for lec in before.lectures)


def _mirror(memory: ProjectMemory, change: object) -> bool:
    """The working memory's progress lines set from the progress table; True if a byte changed."""
    path = memory.layout.working_memory
    if not memory.store.exists(path):
        return False
    old = memory.store.read(path).version
    return memory.store.edit(path, change, guard=memory.role_guard(path), redo=True).version != old  # type: ignore[arg-type]


def _phase_line(memory: ProjectMemory, progress: Progress) -> str | None:
    current = progress.current()
    plan = memory.plan()
    if current is None:
        return None
    phase = plan.phase_of(current.number) if plan else None
    heading = phase.heading if phase else current.phase
    return f"{heading} ({OTHER['in_progress_suffix'][memory.language]})" if heading else None


def add_research_todo(memory: ProjectMemory, item: str, topic: str | None) -> WriteResult:
    item = check_title(item, "item")
    heading = check_title(topic, "topic") if topic else OTHER["uncategorized"][memory.language]
    today = memory.today().isoformat()
    path = memory.layout.research_todo
    already = ""

    def change(text: str) -> str:
        nonlocal already
        already = "open" if has_todo(text, item, done=False) else "done" if has_todo(text, item, done=True) else ""
        return add_todo(text, item, heading, today)

    with write_group("add_research_todo") as write_id:
        snapshot = memory.store.edit(path, change, guard=memory.role_guard(path), redo=True)
    memory.indexed(path)
    return WriteResult(path=path, version=snapshot.version, handle=path, changed=not already,
                       message=f"already {already}: {item}; nothing changed" if already else f"added: {item}",
                       write_id=None if already else write_id)


_DONE_STAMP = re.compile(r"\s*✅\s*\d{4}-\d{2}-\d{2}\s*$")  # what complete_todo writes after a ticked item


def complete_research_todo(memory: ProjectMemory, item: str) -> WriteResult:
    item = check_title(item, "item")
    today = memory.today().isoformat()
    path = memory.layout.research_todo
    already = False
    ticked = item

    def change(text: str) -> str:
        nonlocal already, ticked
        updated = complete_todo(text, item, today)
        already = updated == text and has_done_todo(text, item)
        # The item as the list writes it, without the date it was ticked: `item` need only be enough of its text.
        before, after = parse_research_todo(text), parse_research_todo(updated)
        ticked = next((_DONE_STAMP.sub("", now.text) for was, now in zip(before, after, strict=False)
                       if now.done and not was.done), item)
        return updated

    with write_group("complete_research_todo") as write_id:
        snapshot = memory.store.edit(path, change, guard=memory.role_guard(path), redo=True)
    memory.indexed(path)
    return WriteResult(path=path, version=snapshot.version, handle=path, changed=not already,
                       message=f"already done: {item}; nothing changed" if already else f"done: {ticked}",
                       write_id=None if already else write_id)
