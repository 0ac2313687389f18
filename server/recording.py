"""记录: insights in the working memory and deep discussions in their own files.

Each use case validates its input, computes its edit as an idempotent change (re-applying it to a text that
has its effect changes nothing, which the store relies on after an editor's save), writes through the store
as one journaled write, and tells the index. `changed` is true only when some byte changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memory_schema.discussion import (
    Discussion,
    DiscussionParts,
    has_round,
    one_line_summary,
    parse_discussion,
    render_discussion,
    render_round,
    strip_suffix,
    topic_key,
)
from memory_schema.errors import ProjectMemoryError
from memory_schema.insights import append_insight as add_insight
from memory_schema.insights import insight_meta_line
from memory_schema.insights import revise_insight as replace_insight
from memory_schema.layout import DocumentKind
from memory_schema.lectures import lecture_label, optional_lecture_label
from memory_schema.markdown import join_trail, parse_markdown
from memory_schema.validation import check_body, check_file_name, check_tags, check_title
from memory_schema.vocabulary import SECTIONS, names
from memory_schema.working_memory import add_discussion_ref, find_role, set_updated
from server.journal import write_group
from server.outcomes import DiscussionEntry, DiscussionList, WriteResult

if TYPE_CHECKING:
    from server.memory import ProjectMemory

GLOSSARY_NOTE = "glossary.md"


def append_insight(
    memory: ProjectMemory, title: str, body: str, tags: list[str] | None, lecture: str | int | None
) -> WriteResult:
    title = check_title(title)
    body = check_body(body)
    tag_list = check_tags(tags)
    label = optional_lecture_label(lecture)
    today = memory.today().isoformat()
    meta = insight_meta_line(memory.language, tag_list, label, today)
    path = memory.layout.working_memory
    added = False

    def change(text: str) -> str:
        nonlocal added
        updated = add_insight(text, title, body, meta, memory.language)
        added = updated != text
        return set_updated(updated, today) if added else text

    with write_group("append_insight") as write_id:
        snapshot = memory.store.edit(path, change, guard=memory.role_guard(path), redo=True)
    memory.indexed(path)
    return WriteResult(
        path=path, version=snapshot.version, handle=_insight_handle(memory, snapshot.text, title), changed=added,
        message=(f"insight '{title}' added" if added
                 else f"insight '{title}' is already recorded as given; nothing changed"),
        write_id=write_id if added else None,
    )


def revise_insight(memory: ProjectMemory, title: str, body: str, expected_version: str) -> WriteResult:
    title = check_title(title)
    body = check_body(body)
    today = memory.today().isoformat()
    path = memory.layout.working_memory
    revised = False

    def change(text: str) -> str:
        nonlocal revised
        updated = replace_insight(text, title, body, today, memory.language)
        revised = updated != text
        return set_updated(updated, today) if revised else text

    with write_group("revise_insight") as write_id:
        snapshot = memory.store.edit(path, change, expected_version=expected_version, guard=memory.role_guard(path),
                                         redo=True)
    memory.indexed(path)
    return WriteResult(
        path=path, version=snapshot.version, handle=_insight_handle(memory, snapshot.text, title), changed=revised,
        message=f"insight '{title}' revised" if revised else f"insight '{title}' already reads so; nothing changed",
        write_id=write_id if revised else None,
    )


def _insight_handle(memory: ProjectMemory, text: str, title: str) -> str:
    section = find_role(parse_markdown(text), "insights")
    heading = section.title if section is not None else names(SECTIONS, "insights")[0]
    return f"{memory.layout.working_memory}#{join_trail((heading, title))}"


def record_discussion(
    memory: ProjectMemory,
    topic: str,
    parts: DiscussionParts,
    tags: list[str] | None,
    lecture: str | int | None,
    summary: str | None,
) -> WriteResult:
    topic = check_file_name(strip_suffix(check_title(topic, "topic")), "topic", memory.layout.discussion_name)
    checked = DiscussionParts(
        **{name: check_body(getattr(parts, name), name) for name in DiscussionParts.model_fields}
    )
    tag_list = check_tags(tags)
    label = optional_lecture_label(lecture)
    line = check_title(summary, "summary") if summary else one_line_summary(checked.question)
    today = memory.today()
    # Two sessions recording one topic at once (RoPE and rope, full- and half-width) would each find no file
    # and make its own: the topic is found and its file written under one lock.
    with memory.store.name_lock(f"discussion {topic_key(topic)}"):
        existing, known = find_discussion(memory, topic)
        path = existing or memory.layout.discussion_path(topic)
        outcome = "unchanged"

        def change(text: str) -> str:
            nonlocal outcome
            if not text.strip():
                outcome = "created"
                return render_discussion(topic, checked, lecture=label, tags=tag_list, today=today,
                                         language=memory.language, summary=line if summary else None)
            if has_round(text, checked):
                outcome = "unchanged"
                return text
            outcome = "appended"
            rounds = parse_discussion(path, text).rounds
            separator = "" if text.endswith(("\n", "\r")) else "\n"
            return text + separator + "\n" + render_round(rounds + 1, checked, today, memory.language) + "\n"

        listed_now = False

        def listed(text: str) -> str:
            # Also on a retry whose five parts are recorded already: the listing may be what failed the first time.
            nonlocal listed_now
            updated = _listed(text, path.removeprefix(memory.layout.discussions_dir + "/"), line, memory,
                              today.isoformat())
            listed_now = updated != text
            return updated

        with write_group("record_discussion") as write_id:
            snapshot = memory.store.edit(path, change, create=existing is None, redo=True)
            lagging = _follow_up(memory, listed)
    if outcome == "unchanged" and listed_now:
        outcome = "listed"
    memory.indexed(path, memory.layout.working_memory)
    rounds = parse_discussion(path, snapshot.text).rounds
    related = related_discussions(known, topic) if outcome == "created" else []  # read before the write
    also = (f"; related: {', '.join(related[:3])} (if this continues one of them, undo_last_write and record "
            "with its topic)") if related else ""
    message = {
        "created": f"created {path}{also}",
        "appended": f"round {rounds} appended to {path}",
        "unchanged": f"these five parts are already recorded in {path}; nothing changed",
        "listed": f"these five parts are already recorded in {path}; now listed in {memory.layout.working_memory}",
    }[outcome]
    return WriteResult(path=path, version=snapshot.version, handle=path, changed=outcome != "unchanged",
                       message=message + lagging, write_id=write_id if outcome != "unchanged" else None)


def _listed(text: str, file_name: str, line: str, memory: ProjectMemory, today: str) -> str:
    updated = add_discussion_ref(text, file_name, line, memory.language)
    return set_updated(updated, today) if updated != text else text


def _follow_up(memory: ProjectMemory, change: object) -> str:
    """Apply a secondary edit to the working memory after the primary write landed.

    The primary write (the record, the progress table) is already saved, so a failure here must not turn
    into an error: the model would retry and save the record twice. It is reported in the message instead;
    the next write or `doctor` brings the working memory back in line.
    """
    path = memory.layout.working_memory
    if not memory.store.exists(path):
        return ""
    try:
        memory.store.edit(path, change, guard=memory.role_guard(path), redo=True)  # type: ignore[arg-type]
    except ProjectMemoryError as err:
        return f"; saved, but {path} was not updated ({err})"
    return ""


def find_discussion(memory: ProjectMemory, topic: str) -> tuple[str | None, list[Discussion]]:
    """The existing discussion file for `topic`: one named after it, with or without the 深度讨论 suffix (so the
    person's `KV缓存内存计算精确分析.md` is continued, not duplicated), else one whose front matter's topic or whose
    title is it (topic: 7B模型训练内存计算 in 7B模型内存计算分析.md); compared case- and width-insensitively. Also the
    discussions read to find it, none when a file name matched: read once, for `related_discussions` too."""
    wanted = topic_key(topic)
    for path in memory.store.iter_markdown(memory.layout.discussions_dir, lambda name: topic_key(name) == wanted):
        if memory.layout.kind_of(path) is DocumentKind.DISCUSSION:
            return path, []
    known = memory.discussions()
    return next((d.path for d in known if wanted in (topic_key(d.topic), topic_key(d.title))), None), known


def related_discussions(known: list[Discussion], topic: str) -> list[str]:
    """The discussions whose topic holds `topic` or is held in it (KV缓存内存计算精确分析 for KV缓存): a new file
    beside them may be a round of one of them, so the model is told."""
    wanted = topic_key(topic)
    return [d.path for d in known
            if any(wanted in key or key in wanted for key in (topic_key(d.topic), topic_key(d.title)) if len(key) > 1)]


def list_discussions(
    memory: ProjectMemory, *, offset: int, limit: int, lecture: int | None, text: str | None,
    skipped: dict[str, str] | None = None,
) -> DiscussionList:
    """A page of the discussions; the ones that cannot be read are named in the list (and, by path, in
    `skipped` when given)."""
    skipped = {} if skipped is None else skipped
    found = [(d, d.last_round) for d in memory.discussions(skipped)]
    if lecture is not None:
        found = [(d, last) for d, last in found if d.lecture == lecture]
    if text and text.strip():
        needle = text.strip().casefold()
        found = [(d, last) for d, last in found
                 if needle in " ".join([d.title, d.topic, d.summary, d.path, *d.tags]).casefold()]
    found.sort(key=lambda item: (item[1] or "", item[0].path), reverse=True)
    page = found[offset : offset + limit]
    entries = [
        DiscussionEntry(title=d.title, path=d.path, last_round=last, rounds=d.rounds, summary=d.summary,
                        lecture=lecture_label(d.lecture) if d.lecture else None)
        for d, last in page
    ]
    more = offset + limit < len(found)
    return DiscussionList(total=len(found), offset=offset, next_offset=offset + limit if more else None,
                          discussions=entries, skipped=list(skipped.values()))
