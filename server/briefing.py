"""The session briefing (`get_session_context`): the 回顾 step in one text that never passes its budget.

What goes in, in a fixed order of importance, each part cut into small items:
1. the lead: the project, today, progress (done/total, phase, week), the current and the next lecture, the
   newest insight's title, conflicts and staleness flags — always, at any budget from 300 tokens; then the
   first next step;
2. the person's working rules, digested from their own rule sections (`memory_schema.rules`), point by point;
3. the newest insights, one line each; 4. the most recent discussions; 5. focus matches (with `focus`);
6. the other next steps and open research TODOs; 7. goals and key takeaways.
Items go in by importance while the text (with the summary of what was left out) fits; an item that does not
fit is left out, and a smaller, less important one may still go in. What was left out is summarised last,
one line per kind with a count and where to read it ("+54 discussions: list_discussions"), so the model knows
it has not seen everything. The estimate comes from `server.tokens`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel

from memory_schema.discussion import one_line_summary
from memory_schema.errors import ProjectMemoryError
from memory_schema.layout import DocumentKind
from memory_schema.markdown import parse_markdown
from memory_schema.progress import LectureProgress, Progress
from memory_schema.rules import digest_rules
from memory_schema.vocabulary import SECTIONS, names
from memory_schema.working_memory import StepGroup, WorkingMemory
from server.memory import readable
from server.outcomes import DiscussionList
from server.search import MAX_QUERY_CHARS
from server.search.request import search_request
from server.tokens import estimate_tokens

if TYPE_CHECKING:
    from server.memory import ProjectMemory


STALE_AFTER_DAYS = 7
MIN_TOKENS = 200
MAX_TOKENS = 20_000
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class OmittedItem(BaseModel):
    kind: str
    count: int
    read_with: str  # a read_memory handle, or the tool that lists them


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
    kind: str  # the part it belongs to (see _PARTS)
    text: str
    group: str = ""  # items of one group share a line: "- group: text；text；…"


@dataclass(frozen=True)
class _Part:
    kind: str
    header: str  # shown once above the part's items ("" for none)
    label: str  # how an omitted count is named
    lead: bool = False  # never left out


# Reading order; importance is the order items are offered in (`build_session_context`).
_PARTS = {part.kind: part for part in (
    _Part("title", "", "title", lead=True),
    _Part("progress", "", "progress", lead=True),
    _Part("flag", "", "flags", lead=True),
    _Part("step", "## Next steps", "next steps"),
    _Part("rule", "## The person's rules (follow them)", "rule points"),
    _Part("insight", "## Newest insights", "insights"),
    _Part("discussion", "## Recent discussions", "discussions"),
    _Part("focus", "## Matching notes", "focus matches"),
    _Part("todo", "## Open research TODOs", "open TODOs"),
    _Part("goal", "## Goals", "goals"),
    _Part("takeaway", "## Key takeaways", "takeaways"),
)}


def build_session_context(memory: ProjectMemory, max_tokens: int = 2000, focus: str | None = None) -> SessionContext:
    if not MIN_TOKENS <= max_tokens <= MAX_TOKENS:
        raise ProjectMemoryError(f"max_tokens must be between {MIN_TOKENS} and {MAX_TOKENS}, not {max_tokens}.")
    if focus is not None and len(focus) > MAX_QUERY_CHARS:
        raise ProjectMemoryError(f"focus is {len(focus)} characters; keep it under {MAX_QUERY_CHARS}.")
    layout = memory.layout
    unreadable: dict[str, str] = {}  # a document the memory cannot read, and why: said, not fatal
    working = readable(memory.working_memory, layout.working_memory, unreadable)
    progress = readable(memory.progress, layout.progress, unreadable)
    todos = readable(memory.research_todos, layout.research_todo, unreadable) or []
    wm_unreadable = layout.working_memory in unreadable
    discussions = memory.list_discussions(limit=1000, skipped=unreadable)
    flags = [*_flags(memory, working, progress), *_left_out(unreadable)]
    wm = layout.working_memory
    lead = _lead(memory, working, progress, wm_unreadable=wm_unreadable)
    offered: list[_Item] = [*lead, *(_Item("flag", f"⚠ {flag}") for flag in flags)]
    steps = _steps(working.next_steps if working else [])
    offered += [_Item("step", step) for step in steps[:1]]
    offered += _rules(memory)
    if working:
        offered += [_Item("insight", f"- {i.title}: {_first_line(i.body)}") for i in reversed(working.insights)]
    offered += _discussions(discussions)
    if focus and focus.strip():
        offered += _focus(memory, focus.strip())
    offered += [_Item("step", step) for step in steps[1:]]
    offered += [_Item("todo", f"- [ ] {t.text}" + (f" ({t.topic})" if t.topic else ""))
                for t in todos if not t.done]
    if working:
        offered += [_Item("goal", f"- {goal}") for goal in working.goals]
        offered += [_Item("takeaway", f"- {takeaway}") for takeaway in working.takeaways]
    reading = {
        "step": f"{wm}#{_title(working, 'next_steps')}", "rule": wm, "insight": f"{wm}#{_title(working, 'insights')}",
        "discussion": "list_discussions", "focus": "search_discussions", "todo": layout.research_todo,
        "goal": f"{wm}#{_title(working, 'goals')}", "takeaway": f"{wm}#{_title(working, 'takeaways')}",
    }
    chosen, left = _fit(offered, max_tokens, reading)
    text = _render(chosen, left, reading)
    return SessionContext(
        text=text,
        estimated_tokens=estimate_tokens(text),
        max_tokens=max_tokens,
        included=list(dict.fromkeys(item.kind for item in chosen)),
        omitted=[OmittedItem(kind=_PARTS[kind].label, count=count, read_with=reading.get(kind, wm))
                 for kind, count in left.items()],
        flags=flags,
        index_state=memory.index_status().state,
    )


def _fit(offered: list[_Item], budget: int, reading: dict[str, str]) -> tuple[list[_Item], dict[str, int]]:
    """Take items in the order offered while the whole text (with the left-out summary) fits the budget.

    A text's estimate is at most the sum of its lines' estimates (the estimator's counts never span a line
    break), so summing per line keeps the choice linear in the items and the result within the budget."""
    chosen: list[_Item] = []
    left: dict[str, int] = {}
    for item in offered:
        left[item.kind] = left.get(item.kind, 0) + 1
    shown: set[str] = set()
    used = 0
    for item in offered:
        part = _PARTS[item.kind]
        cost = _line_cost(part.header) if part.header and item.kind not in shown else 0
        if item.group:
            cost += _line_cost("；" + item.text) + (0 if item.group in shown else _line_cost(f"- {item.group}: "))
        else:
            cost += _line_cost(item.text)
        left[item.kind] -= 1
        if part.lead or used + cost + _line_cost(_summary(left, reading)) <= budget:
            chosen.append(item)
            shown.update((item.kind, item.group))
            used += cost
        else:
            left[item.kind] += 1
    # The lead always stays; if even it passes a tiny budget, shorten its longest lines, while that still shortens.
    while estimate_tokens(_render(chosen, left, reading)) > budget:
        longest = max((i for i in chosen if _PARTS[i.kind].lead), key=lambda i: len(i.text), default=None)
        if longest is None:
            break
        shorter = longest.text[: max(SHORTEST_LEAD_LINE, len(longest.text) * 3 // 4)].rstrip() + "…"
        if len(shorter) >= len(longest.text):
            break
        longest.text = shorter
    return chosen, {kind: count for kind, count in left.items() if count}


def _line_cost(line: str) -> int:
    return estimate_tokens(line + "\n") if line else 0


def _summary(left: dict[str, int], reading: dict[str, str]) -> str:
    """`Left out: 3 insights, 9 next steps (read_memory AI助手工作记忆.md); 6 discussions (list_discussions)`."""
    by_source: dict[str, list[str]] = {}
    for kind, count in left.items():
        if count:
            source = reading.get(kind, "").split("#")[0]
            by_source.setdefault(source, []).append(f"{count} {_PARTS[kind].label}")
    if not by_source:
        return ""
    where = {source: source if source.endswith("_discussions") else f"read_memory {source}" for source in by_source}
    return "Left out: " + "; ".join(f"{', '.join(counts)} ({where[source]})" for source, counts in by_source.items())


def _render(chosen: list[_Item], left: dict[str, int], reading: dict[str, str]) -> str:
    lines: list[str] = []
    for kind, part in _PARTS.items():
        items = [item for item in chosen if item.kind == kind]
        if items and part.header:
            lines.append(part.header)
        groups: dict[str, list[str]] = {}
        for item in items:
            if item.group:
                if item.group not in groups:
                    groups[item.group] = []
                    lines.append(item.group)  # a placeholder, filled in below
                groups[item.group].append(item.text)
            else:
                lines.append(item.text)
        lines = [f"- {line}: " + "；".join(groups[line]) if line in groups else line for line in lines]
    summary = _summary(left, reading)
    if summary:
        lines.append(summary)
    return "\n".join(lines)


def _lead(memory: ProjectMemory, working: WorkingMemory | None, progress: Progress | None, *,
          wm_unreadable: bool = False) -> list[_Item]:
    name = (working.overview.get("项目名称") or working.overview.get("Project") or working.title) if working else None
    updated = f"; memory updated {working.updated}" if working and working.updated else ""
    items = [_Item("title", f"# {name or 'Project memory'} (today {memory.today().isoformat()}{updated})")]
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
        items.append(_Item("progress", "; ".join(parts)))
    if progress and progress.lectures:
        current = progress.current()
        following = next((lec for lec in progress.lectures if current and lec.number > current.number
                          and lec.status.value != "done"), None)
        if current:
            line = f"Current lecture: {_named(current)} ({current.status.value.replace('_', ' ')})"
            if following:
                line += f"; next: {_named(following)}"
            items.append(_Item("progress", line))
        elif progress.done == progress.total:
            items.append(_Item("progress", "Every lecture is done."))
    elif not working and not wm_unreadable:
        items.append(_Item("progress", f"No {memory.layout.working_memory} yet: `project-memory init` creates it."))
    if working and working.insights:  # its body follows under "Newest insights" where the budget allows
        count = len(working.insights)
        items.append(_Item("progress", f"Newest insight ({count} in all): {working.insights[-1].title}"))
    return items


def _rules(memory: ProjectMemory) -> list[_Item]:
    snapshot = readable(lambda: memory.read_optional(memory.layout.working_memory), "", None)  # said in the flags
    if snapshot is None:
        return []
    items = []
    for rule in digest_rules(parse_markdown(snapshot.text)):
        items += [_Item("rule", point, group=rule.title) for point in rule.points]
    return items


SHORTEST_LEAD_LINE = 24  # characters a lead line keeps when even the lead passes a tiny budget
LEFT_OUT_NAMED = 3  # files named in the one line saying what the briefing could not read


def _left_out(unreadable: dict[str, str]) -> list[str]:
    """One flag for the files the briefing could not read (path → reason), however many: each flag is part of
    the lead, which always stays, so a folder of files saved as GBK must not fill the budget. The first reason
    says how to mend them."""
    reasons = list(unreadable.values())
    if len(reasons) <= 1:
        return [f"left out: {reason}" for reason in reasons]
    names = list(unreadable)
    more = f" and {len(names) - LEFT_OUT_NAMED} more" if len(names) > LEFT_OUT_NAMED else ""
    return [f"left out {len(names)} files ({', '.join(names[:LEFT_OUT_NAMED])}{more}); the first: {reasons[0]}"]


def _discussions(listing: DiscussionList) -> list[_Item]:
    return [_Item("discussion", f"- {d.title} ({d.last_round or 'undated'}): "
                                f"{one_line_summary(d.summary, 60)} → {d.path}")
            for d in listing.discussions]


def _focus(memory: ProjectMemory, focus: str) -> list[_Item]:
    try:
        results = memory.search(search_request(focus, limit=5))
    except ProjectMemoryError:
        return []
    return [_Item("focus", f"- {hit.handle} ({hit.kind}): {hit.snippet[:120]}")
            for hit in results.hits if hit.kind != DocumentKind.WORKING_MEMORY.value]


def _first_line(body: str) -> str:
    first = next((line for line in body.splitlines() if line.strip()), "")
    plain = first.replace("**", "").strip().lstrip("-*+ ").strip()
    return plain[:80]


def _title(working: WorkingMemory | None, role: str) -> str:
    """The section's title as the document spells it (without emoji), for a handle."""
    wanted = set(names(SECTIONS, role))
    found = [path.rsplit("/", 1)[-1] for path in (working.sections if working else [])]
    return next((title for title in found if title in wanted), names(SECTIONS, role)[0])


def _steps(groups: list[StepGroup]) -> list[str]:
    """The next steps as lines: the first group's (the nearest: 短期目标（本周）) as they are, a later group's with
    its title (中期目标（本月）: …), so a month's or the course's goals are not read as the next session's steps."""
    return [f"- {step}" if number == 0 or not group.title else f"- {group.title}: {step}"
            for number, group in enumerate(groups) for step in group.items]


def next_steps_title(working: WorkingMemory) -> str:
    return _title(working, "next_steps")


def _flags(memory: ProjectMemory, working: WorkingMemory | None, progress: Progress | None) -> list[str]:
    today = memory.today()
    flags = []
    layout = memory.layout
    if working and working.updated:
        updated = _parse_date(working.updated)
        if updated and (today - updated).days > STALE_AFTER_DAYS:
            flags.append(f"{layout.working_memory} not updated for {(today - updated).days} days ({working.updated})")
    if working and working.progress and progress and progress.lectures and working.progress.done != progress.done:
        flags.append(
            f"conflict: {layout.progress} says {progress.done}/{progress.total} lectures done but "
            f"{layout.working_memory} says {working.progress.done}/{working.progress.total}"
        )
    if working and working.progress and working.progress.week:
        dates = _DATE.findall(working.progress.week)
        if dates:
            end = _parse_date("-".join(dates[-1]))
            if end and end < today:
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


def _named(lecture: LectureProgress) -> str:
    return f"{lecture.label} {lecture.topic}" if lecture.topic else lecture.label
