"""The session briefing (`get_session_context`): the 回顾 step in one token-budgeted text.

Everything is cut into small items (one per insight, discussion, TODO...) with a priority. Items go in by
priority until the next one would pass the budget; that one and every later one are left out whole and
listed as handles the model can read next. The estimate comes from `server.tokens`.
"""

import re
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel

from memory_schema.errors import ProjectMemoryError
from memory_schema.layout import DocumentKind
from memory_schema.progress import Progress
from memory_schema.vocabulary import SECTIONS, names
from memory_schema.working_memory import WorkingMemory
from server.memory import ProjectMemory
from server.tokens import estimate_tokens

STALE_AFTER_DAYS = 7
MIN_TOKENS = 200
MAX_TOKENS = 20_000
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class OmittedItem(BaseModel):
    handle: str
    what: str


class SessionContext(BaseModel):
    text: str
    estimated_tokens: int
    max_tokens: int
    included: list[str]
    omitted: list[OmittedItem]
    flags: list[str]
    index_state: str


@dataclass
class _Item:
    priority: int
    key: str
    text: str
    handle: str
    what: str


def build_session_context(memory: ProjectMemory, max_tokens: int = 2000, focus: str | None = None) -> SessionContext:
    if not MIN_TOKENS <= max_tokens <= MAX_TOKENS:
        raise ProjectMemoryError(f"max_tokens must be between {MIN_TOKENS} and {MAX_TOKENS}, not {max_tokens}.")
    layout = memory.layout
    working = memory.working_memory()
    progress = memory.progress()
    flags = _stale_flags(memory, working, progress)
    status = memory.index_status()
    items = _progress_items(memory, working, progress)
    items += [_Item(1, "flag", f"⚠ {flag}", layout.working_memory, "staleness flag") for flag in flags]
    if working:
        items += _working_items(layout.working_memory, working)
    items += _discussion_items(memory)
    items += [
        _Item(4, "todo", f"- [ ] {item.text}" + (f" ({item.topic})" if item.topic else ""), layout.research_todo,
              "open research TODO")
        for item in memory.research_todos()
        if not item.done
    ]
    if focus and focus.strip():
        items += _focus_items(memory, focus.strip())
    if status.state != "starting":  # "starting": this process has not loaded the index (e.g. the CLI hook)
        items.append(_Item(6, "index", f"Index: {status.state}, {status.files} files", "", "index state"))
    return _fit(items, max_tokens, flags, status.state)


def _fit(items: list[_Item], max_tokens: int, flags: list[str], index_state: str) -> SessionContext:
    ordered = sorted(items, key=lambda item: item.priority)  # stable: document order within a priority
    chosen: list[_Item] = []
    omitted: list[_Item] = []
    for position, item in enumerate(ordered):
        candidate = _render([*chosen, item], ordered[position + 1 :])
        if estimate_tokens(candidate) <= max_tokens:
            chosen.append(item)
        else:
            omitted = ordered[position:]
            break
    while chosen and estimate_tokens(_render(chosen, omitted)) > max_tokens:
        omitted.insert(0, chosen.pop())
    text = _render(chosen, omitted)
    handles = list(dict.fromkeys((item.handle, item.what) for item in omitted if item.handle))
    return SessionContext(
        text=text,
        estimated_tokens=estimate_tokens(text),
        max_tokens=max_tokens,
        included=list(dict.fromkeys(item.key for item in chosen)),
        omitted=[OmittedItem(handle=handle, what=what) for handle, what in handles],
        flags=flags,
        index_state=index_state,
    )


# Sections in reading order; items are chosen by priority but always shown in this order.
_SECTIONS: list[tuple[str, str]] = [
    ("overview", ""),
    ("progress", ""),
    ("flag", ""),
    ("next", "## Next steps"),
    ("focus", "## Matching notes"),
    ("insight", "## Recent insights"),
    ("discussion", "## Discussions (read with read_memory)"),
    ("todo", "## Open research TODOs"),
    ("takeaway", "## Key takeaways"),
    ("index", ""),
]


def _render(chosen: list[_Item], omitted: list[_Item]) -> str:
    lines: list[str] = []
    for key, header in _SECTIONS:
        group = [item.text for item in chosen if item.key == key]
        if group and header:
            lines.append(header)
        lines += group
    if omitted:
        handles = list(dict.fromkeys(item.handle for item in omitted if item.handle))
        lines.append("## Left out (read_memory handle)")
        lines.append("; ".join(handles))
    return "\n".join(lines)


def _progress_items(memory: ProjectMemory, working: WorkingMemory | None, progress: Progress | None) -> list[_Item]:
    layout = memory.layout
    name = (working.overview.get("项目名称") or working.overview.get("Project") or working.title) if working else None
    updated = f"; memory updated {working.updated}" if working and working.updated else ""
    items = [_Item(0, "overview", f"# {name or 'Project memory'} (today {memory.today().isoformat()}{updated})",
                   layout.working_memory, "overview")]
    summary = working.progress if working and working.progress else progress.summary if progress else None
    if progress and progress.lectures:
        done, total = progress.done, progress.total
    elif summary:
        done, total = summary.done, summary.total
    else:
        done = total = 0
    if total:
        parts = [f"Progress: {done}/{total} lectures ({100 * done / total:.1f}%)"]
        if summary and summary.phase:
            parts.append(f"phase {summary.phase}")
        if summary and summary.week:
            parts.append(f"week {summary.week}")
        items.append(_Item(0, "progress", "; ".join(parts), layout.progress, "progress"))
    if progress:
        current = progress.current()
        if current:
            items.append(_Item(0, "progress", f"Current lecture: {current.label} {current.topic} "
                                              f"({current.status.value})", layout.progress, "progress"))
    return items


def _working_items(path: str, working: WorkingMemory) -> list[_Item]:
    items: list[_Item] = []
    steps_handle = f"{path}#{next_steps_title(working)}"
    for index, group in enumerate(working.next_steps):
        title = f"{group.title}: " if group.title else ""
        for position, step in enumerate(group.items):
            priority = 0 if index == 0 and position == 0 else 3 if index == 0 else 7
            label = title if position == 0 else "  " if index == 0 else f"{group.title}: "
            items.append(_Item(priority, "next", f"- {label}{step}", steps_handle, "next steps"))
    insights_handle = f"{path}#{_role_title(working, 'insights')}"
    for insight in reversed(working.insights):  # newest entries are at the end of the section
        first = next((_plain(line) for line in insight.body.splitlines() if line.strip()), "")
        items.append(_Item(2, "insight", f"- {insight.title}: {first[:80]}", insights_handle, "insights"))
    takeaways_handle = f"{path}#{_role_title(working, 'takeaways')}"
    for takeaway in working.takeaways:
        items.append(_Item(5, "takeaway", f"- {takeaway}", takeaways_handle, "key takeaways"))
    return items


def _plain(line: str) -> str:
    """One line without list markers and bold markup, for a one-line summary."""
    return line.replace("**", "").strip().lstrip("-*+ ").strip()


def next_steps_title(working: WorkingMemory) -> str:
    return _role_title(working, "next_steps")


def _role_title(working: WorkingMemory, role: str) -> str:
    """The section's title as the document spells it (without emoji), for a handle."""
    wanted = set(names(SECTIONS, role))
    return next((path.rsplit("/", 1)[-1] for path in working.sections if path.rsplit("/", 1)[-1] in wanted),
                names(SECTIONS, role)[0])


def _discussion_items(memory: ProjectMemory) -> list[_Item]:
    found = sorted(memory.discussions(), key=lambda d: (d.created or "", d.path), reverse=True)
    return [
        _Item(3, "discussion", f"- {d.title}: {d.summary[:60]} → {d.path}", d.path, "discussion")
        for d in found
    ]


def _focus_items(memory: ProjectMemory, focus: str) -> list[_Item]:
    try:
        results = memory.search(focus, limit=5)
    except ProjectMemoryError:
        return []
    return [
        _Item(2, "focus", f"- {hit.handle} ({hit.kind}): {hit.snippet[:120]}", hit.handle, "focus match")
        for hit in results.hits
        if hit.kind != DocumentKind.WORKING_MEMORY.value
    ]


def _stale_flags(memory: ProjectMemory, working: WorkingMemory | None, progress: Progress | None) -> list[str]:
    today = memory.today()
    flags = []
    layout = memory.layout
    if working and working.updated:
        updated = _parse_date(working.updated)
        if updated and (today - updated).days > STALE_AFTER_DAYS:
            flags.append(f"{layout.working_memory} not updated for {(today - updated).days} days ({working.updated})")
    if working and working.progress and progress and progress.lectures and working.progress.done != progress.done:
            flags.append(
                f"{layout.progress} says {progress.done}/{progress.total} lectures done but "
                f"{layout.working_memory} says {working.progress.done}/{working.progress.total}"
            )
    if working and working.progress and working.progress.week:
        dates = _DATE.findall(working.progress.week)
        if dates:
            end = date(*(int(part) for part in dates[-1]))
            if end < today:
                flags.append(f"the study week ({working.progress.week}) ended {(today - end).days} days ago")
    return flags


def _parse_date(value: str) -> date | None:
    match = _DATE.search(value)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
