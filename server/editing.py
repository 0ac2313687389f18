"""Editing whole notes and sections, and taking writes back.

`save_lecture_note` creates a lecture note, or replaces one whose version the caller read; `update_section`
replaces one section of any document; `undo` restores the bytes a journaled write replaced, only if the files
still hold exactly what that write left (`server.journal`).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from memory_schema.errors import InvalidInput, ProjectMemoryError
from memory_schema.lectures import lecture_label, lecture_number, parse_lecture
from memory_schema.markdown import normalize_heading, parse_markdown, replace_section_body
from memory_schema.notes import lecture_folder, part_file, phase_folder
from memory_schema.progress import parse_progress
from memory_schema.validation import MAX_NOTE_CHARS, check_body
from memory_schema.working_memory import parse_working_memory, set_updated
from server.afterwrite import MERGE_TOOL, REAPPLY_TOOL
from server.handles import parse_handle
from server.journal import FileChange, WriteRecord, digest, in_progress, write_group
from server.outcomes import WriteResult
from server.paths import normalize_relpath

if TYPE_CHECKING:
    from server.memory import ProjectMemory


def save_lecture_note(
    memory: ProjectMemory, lecture: str | int, part: str, content: str, expected_version: str | None
) -> WriteResult:
    number = lecture_number(lecture)
    file_name = part_file(part)
    body = check_body(content, "content", limit=MAX_NOTE_CHARS, min_heading=1)
    path = f"{_lecture_dir(memory, number)}/{file_name}"
    new_text = body + "\n"

    def change(text: str) -> str:
        # Decided under the note's lock, on what is there now: a note the person just made is never replaced.
        if text and expected_version is None and text != new_text:
            raise InvalidInput(
                f"{path} already exists (version {memory.store.version_of(text)}); read it with read_memory and "
                "pass expected_version to replace it."
            )
        return new_text

    with write_group("save_lecture_note") as write_id:
        before = memory.read_optional(path)
        snapshot = memory.store.edit(path, change, expected_version=expected_version, create=expected_version is None)
    memory.indexed(path)
    changed = before is None or before.version != snapshot.version
    return WriteResult(path=path, version=snapshot.version, handle=path, changed=changed,
                       message=f"saved {path}" if changed else f"{path} already holds this text; nothing changed",
                       write_id=write_id if changed else None)


def _lecture_dir(memory: ProjectMemory, number: int) -> str:
    notes = memory.layout.notes_dir
    for path in memory.store.iter_markdown():
        if not path.startswith(notes + "/"):
            continue
        folder = path.rsplit("/", 1)[0]
        if folder != notes and parse_lecture(folder.rsplit("/", 1)[-1]) == number:
            return folder
    plan = memory.plan()
    phase = plan.phase_of(number) if plan else None
    planned = plan.lecture(number) if plan else None
    progress = memory.progress()
    tracked = sorted(lecture.number for lecture in progress.lectures) if progress else []
    if planned is None and tracked and number not in tracked:
        # A slip (99 for 9) would make a folder no lecture needs; the progress table says which lectures exist.
        raise InvalidInput(f"neither the plan nor {memory.layout.progress} has {lecture_label(number)} (they have "
                           f"{lecture_label(tracked[0])} to {lecture_label(tracked[-1])}); check the number, or add "
                           f"its row to {memory.layout.progress} first.")
    phase_dir = phase_folder(phase.number, phase.name) if phase else "00-未分阶段"
    return f"{notes}/{phase_dir}/{lecture_folder(number, planned.title if planned else '')}"


def update_section(memory: ProjectMemory, handle: str, content: str, expected_version: str) -> WriteResult:
    parsed = parse_handle(handle)
    if not parsed.section:
        raise InvalidInput("update_section needs a section handle such as 'AI助手工作记忆.md#下一步计划'.")
    if not expected_version:
        raise InvalidInput("expected_version is required; read the section with read_memory first.")
    section_path = parsed.section
    today = memory.today().isoformat()

    def change(text: str) -> str:
        document = parse_markdown(text)
        section = document.find(section_path, document=parsed.path)
        body = _without_own_heading(content, section.title)
        body = check_body(body, "content", limit=MAX_NOTE_CHARS, min_heading=section.level + 1)
        updated = replace_section_body(document, section, body)
        return set_updated(updated, today) if updated != text else text

    with write_group("update_section") as write_id:
        before = memory.store.read(parsed.path)
        snapshot = memory.store.edit(parsed.path, change, expected_version=expected_version, redo=True)
    memory.indexed(parsed.path)
    changed = snapshot.version != before.version
    lost = _structure_lost(memory, parsed.path, before.text, snapshot.text) if changed else ""
    return WriteResult(path=parsed.path, version=snapshot.version, handle=str(parsed), changed=changed,
                       message=(f"replaced {parsed}{lost}" if changed
                                else f"{parsed} already reads so; nothing changed"),
                       write_id=write_id if changed else None)


def _structure_lost(memory: ProjectMemory, path: str, before: str, after: str) -> str:
    """What the tools and the briefing read from a role document that a section's new text took away (the
    progress table replaced by a sentence: update_progress then knows no lecture; every insight or next step
    gone), said in the answer with how to take it back. The person may mean it; the model must not be surprised
    later. Dropping one finished next step is the routine, and says nothing."""
    layout = memory.layout
    lost = []
    if path == layout.progress:
        had, has = len(parse_progress(before).lectures), len(parse_progress(after).lectures)
        if has < had:
            lost.append(f"{path} now lists {has} of its {had} lectures, which update_progress and the briefing read")
    elif path == layout.working_memory:
        old, new = parse_working_memory(before), parse_working_memory(after)
        for label, had, has in (("insights", len(old.insights), len(new.insights)),
                                ("next steps", sum(len(g.items) for g in old.next_steps),
                                 sum(len(g.items) for g in new.next_steps))):
            if had and not has:  # pruning a done step is the routine; emptying the list is not
                lost.append(f"{path} now holds none of its {had} {label}")
    return f"; note: {'; '.join(lost)} (undo_last_write takes it back)" if lost else ""


def _without_own_heading(content: str, title: str) -> str:
    """Content may start with the section's own heading (as read_memory shows it): drop that line."""
    lines = content.strip("\r\n").split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("#") and normalize_heading(first.lstrip("#")) == title:
        return "\n".join(lines[1:])
    return content


def history(memory: ProjectMemory, path: str | None, limit: int) -> list[WriteRecord]:
    wanted = normalize_relpath(path) if path else None
    records = [r for r in memory.store.journal.writes() if wanted is None or any(f.path == wanted for f in r.files)]
    return list(reversed(records))[:limit]


def undo(memory: ProjectMemory, write_id: str | None, *, own: bool = False) -> WriteResult:
    """Restore what a write replaced (default: the newest write not yet undone, not itself an undo and not a
    merge of someone's save; with `own`, the newest of this process's writes: a session's model takes back
    its own write, never another session's or the person's)."""
    journal = memory.store.journal
    records = journal.writes()
    target = _target(records, write_id, journal.writer if own else None)
    changes = _net_changes(target)
    for change in changes:  # every file must still hold what the write left, before any is restored
        current = memory.read_optional(change.path)
        now = digest(current.text.encode("utf-8")) if current is not None else None
        if now != change.new:
            state = f"is now version {current.version}" if current is not None else "was deleted since"
            raise InvalidInput(
                f"{change.path} changed after write {target.id} ({state}); nothing was undone. Compare the "
                f"versions with `project-memory history --show {target.id}` and edit the file by hand."
            )
    done_paths: list[str] = []
    with write_group("undo", undoes=target.id) as undo_id:
        for change in reversed(changes):
            new_version = memory.store.version_of(journal.object(change.new).decode("utf-8")) if change.new else None
            try:
                if change.old is None:
                    assert new_version is not None
                    memory.store.remove(change.path, new_version)
                else:
                    old_text = journal.object(change.old).decode("utf-8")
                    memory.store.write(change.path, old_text, expected_version=new_version, create=new_version is None)
            except ProjectMemoryError as err:
                if not done_paths:
                    raise
                memory.indexed(*done_paths)
                raise ProjectMemoryError(
                    f"the undo of {target.id} is partial: {', '.join(done_paths)} restored, but {change.path} "
                    f"changed meanwhile ({err}). Take the partial undo back with undo_last_write(write_id="
                    f"'{undo_id}'), or finish by hand (`project-memory history --show {target.id}`)."
                ) from err
            done_paths.append(change.path)
    memory.indexed(*(change.path for change in changes))
    restored = [change.path for change in changes if change.old is not None]
    removed = [change.path for change in changes if change.old is None]  # the write had created them
    done = [f"restored {', '.join(restored)}"] if restored else []
    done += [f"removed {', '.join(removed)}, which it had created"] if removed else []
    first = (restored or removed)[0]
    return WriteResult(path=first, version=_version_now(memory, first), handle=first, changed=True,
                       message=f"undid write {target.id} ({target.tool}): {'; '.join(done)}", write_id=undo_id)


# An undo is undone by its id; a merge brought the person's save in; a re-application is the watch's, not the model's.
UNDONE_BY_DEFAULT_NEVER = frozenset({"undo", MERGE_TOOL, REAPPLY_TOOL})


def _target(records: list[WriteRecord], write_id: str | None, writer: str | None = None) -> WriteRecord:
    if write_id:
        found = next((r for r in records if r.id == write_id.strip()), None)
        if found is None:
            raise InvalidInput(f"no write {write_id!r} in the journal; `project-memory history` lists them.")
    else:
        candidates = [r for r in reversed(records) if r.kind == "write" and r.tool not in UNDONE_BY_DEFAULT_NEVER
                      and not r.undone_by]
        found = next((r for r in candidates if writer is None or r.writer == writer), None)
        if found is None and writer is not None and candidates:
            recent = "; ".join(f"{r.id} {r.tool} {', '.join(dict.fromkeys(c.path for c in r.files))}"
                               for r in candidates[:3])
            raise InvalidInput(
                "this session has made no write to undo; another session's or server's writes are taken back "
                f"only by their id. The newest: {recent}. Pass write_id to take one back.")
        if found is None:
            raise InvalidInput("there is no write to undo in the journal.")
    if found.kind != "write":
        raise InvalidInput(f"{found.id} is an editor's save kept for reference, not a write that can be undone.")
    if in_progress(found.id):
        raise InvalidInput(f"write {found.id} ({found.tool}) is still being made; undo it once it has answered.")
    if found.undone_by:
        raise InvalidInput(f"write {found.id} was already undone by {found.undone_by}.")
    return found


def _net_changes(record: WriteRecord) -> list[FileChange]:
    """One change per file: from the bytes before its first change in the write to those after its last."""
    merged: dict[str, FileChange] = {}
    for change in record.files:
        first = merged.get(change.path)
        merged[change.path] = change if first is None else first.model_copy(
            update={"new": change.new, "new_size": change.new_size})
    return [change for change in merged.values() if change.old != change.new]


def _version_now(memory: ProjectMemory, path: str) -> str:
    current = memory.read_optional(path)
    return current.version if current is not None else ""


def write_diff(memory: ProjectMemory, write_id: str) -> str:
    """A unified diff of every file a write changed, from the journal's copies."""
    record = _target_any(memory.store.journal.writes(), write_id)
    journal = memory.store.journal
    out: list[str] = []
    for change in _net_changes(record) or record.files:
        try:
            old = journal.object(change.old).decode("utf-8") if change.old else ""
            new = journal.object(change.new).decode("utf-8") if change.new else ""
        except (OSError, UnicodeDecodeError) as err:
            raise ProjectMemoryError(f"the journal no longer holds the bytes of write {write_id} ({err}).") from err
        out += difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                    fromfile=f"{change.path} (before {record.id})",
                                    tofile=f"{change.path} (after {record.id})")
    return "".join(out)


def _target_any(records: list[WriteRecord], write_id: str) -> WriteRecord:
    found = next((r for r in records if r.id == write_id.strip()), None)
    if found is None:
        raise InvalidInput(f"no write {write_id!r} in the journal; `project-memory history` lists them.")
    return found
