"""The working-memory document (`AI助手工作记忆.md`): what it says, and the edits the server makes to it.

Sections are found by role through their heading text without emoji, in either preset language; sections the
parser does not know are kept untouched and listed. Every edit returns new text that differs only where it
must.
"""

import re
from collections.abc import Iterable

from pydantic import BaseModel

from memory_schema.fields import Span, list_items, read_field, replace_field
from memory_schema.markdown import (
    MarkdownDocument,
    Section,
    append_to_section,
    parse_markdown,
    whole_document,
)
from memory_schema.vocabulary import FIELDS, SECTIONS, Language, names, preferred

# One line each: `\s` would run into the next line and `$` would keep a CRLF file's `\r` in the match.
_DOC_ITEM = re.compile(
    r"^(?P<indent>[ \t]*)(?P<n>\d+)\.[ \t]+`(?P<file>[^`\r\n]+\.md)`[ \t]*"
    r"(?:[-–—:：][ \t]*(?P<desc>[^\r\n]*))?(?=\r?\n|\r|\Z)",
    re.M,
)
_PROGRESS = re.compile(r"(\d+)\s*/\s*(\d+)(?:\s*\(\s*([\d.]+)\s*%\s*\))?")


class Insight(BaseModel):
    title: str
    body: str
    handle_path: str  # heading path inside the document


class DiscussionRef(BaseModel):
    file: str
    description: str


class ProgressSummary(BaseModel):
    done: int
    total: int
    percent: float
    phase: str | None = None
    week: str | None = None


class StepGroup(BaseModel):
    title: str
    items: list[str]


class WorkingMemory(BaseModel):
    title: str | None
    overview: dict[str, str]
    goals: list[str]
    progress: ProgressSummary | None
    completed_work: list[str]
    takeaways: list[str]
    insights: list[Insight]
    discussions: list[DiscussionRef]
    next_steps: list[StepGroup]
    updated: str | None
    updated_by: str | None
    version: str | None
    sections: list[str]  # every heading path, known or not


def find_role(document: MarkdownDocument, role: str) -> Section | None:
    wanted = set(names(SECTIONS, role))
    return next((s for s in document.headings() if s.title in wanted), None)


def parse_working_memory(text: str) -> WorkingMemory:
    document = parse_markdown(text)

    def own(role: str) -> str:
        section = find_role(document, role)
        return document.own_text(section) if section else ""

    def full(role: str) -> str:
        section = find_role(document, role)
        return document.full_text(section) if section else ""

    overview = {}
    for match in re.finditer(r"^\s*(?:[-*]\s+)?\*\*(.+?)\*\*\s*[:：]\s*(.+?)\s*$", own("overview"), re.M):
        overview[match.group(1)] = match.group(2)
    footer = footer_span(document)
    progress_section = find_role(document, "progress")
    progress_span = (progress_section.body_start, progress_section.end) if progress_section else None
    completed = find_role(document, "completed_work")
    insights_section = find_role(document, "insights")
    next_section = find_role(document, "next_steps")
    return WorkingMemory(
        title=document.title,
        overview=overview,
        goals=list_items(own("goals")),
        progress=parse_progress_summary(text, within=progress_span, skip=document.code_spans),
        completed_work=[s.title for s in document.children(completed)] if completed else [],
        takeaways=list_items(own("takeaways")),
        insights=[
            Insight(title=s.title, body=document.full_text(s).strip(), handle_path=s.path)
            for s in (document.children(insights_section) if insights_section else [])
        ],
        discussions=[
            DiscussionRef(file=m.group("file"), description=(m.group("desc") or "").strip())
            for m in _DOC_ITEM.finditer(full("discussion_index") or full("method"))
        ],
        next_steps=_step_groups(document, next_section),
        updated=read_field(text, names(FIELDS, "updated"), within=footer, skip=document.code_spans),
        updated_by=read_field(text, names(FIELDS, "updated_by"), within=footer, skip=document.code_spans),
        version=read_field(text, names(FIELDS, "version"), within=footer, skip=document.code_spans),
        sections=[s.path for s in document.headings()],
    )


def footer_span(document: MarkdownDocument) -> Span | None:
    """The footer's text range (`---` and its `**key**: value` lines), None when the document has none."""
    return (document.footer, len(document.text)) if document.footer is not None else None


def parse_progress_summary(
    text: str, *, within: Span | None = None, skip: Iterable[Span] = ()
) -> ProgressSummary | None:
    skipped = list(skip)
    value = read_field(text, names(FIELDS, "lectures_done"), within=within, skip=skipped)
    match = _PROGRESS.search(value or "")
    if match is None:
        return None
    done, total = int(match.group(1)), int(match.group(2))
    percent = float(match.group(3)) if match.group(3) else round(100 * done / total, 1) if total else 0.0
    return ProgressSummary(
        done=done,
        total=total,
        percent=percent,
        phase=read_field(text, names(FIELDS, "phase"), within=within, skip=skipped),
        week=read_field(text, names(FIELDS, "week"), within=within, skip=skipped),
    )


def _step_groups(document: MarkdownDocument, section: Section | None) -> list[StepGroup]:
    if section is None:
        return []
    loose = list_items(_before_rule(document.own_text(section)))
    groups = [StepGroup(title="", items=loose)] if loose else []
    groups += [
        StepGroup(title=child.title, items=list_items(_before_rule(document.full_text(child))))
        for child in document.children(section)
    ]
    return groups


def _before_rule(text: str) -> str:
    """Section text up to a thematic break: the footer after `---` is not part of the last section's list."""
    return re.split(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$", text, maxsplit=1, flags=re.M)[0]


# --- edits ------------------------------------------------------------------------------------------------


def insert_before_later_sections(document: MarkdownDocument, block: str, after_roles: tuple[str, ...]) -> str:
    """Put a new level-2 section after the first existing role in `after_roles`, else before the footer."""
    block = re.sub(r"\r\n|\r|\n", document.newline, block)
    anchors = (find_role(document, role) for role in after_roles)
    anchor = next((section for section in anchors if section is not None), None)
    if anchor is not None and anchor.end < len(document.text):
        return _insert_at_line(document, anchor.end, block)
    if document.footer is not None:
        return _insert_at_line(document, document.footer, block)
    return append_to_section(document, whole_document(document), block)


def _insert_at_line(document: MarkdownDocument, at: int, block: str) -> str:
    """`block` put before the line starting at `at`, with a blank line on either side."""
    text, newline = document.text, document.newline
    blank_before = re.search(r"(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n)\Z", text[:at]) is not None
    lead = "" if blank_before or not text[:at].strip("\ufeff") else newline
    return text[:at] + lead + block + newline + newline + text[at:]


def set_updated(text: str, today: str) -> str:
    """Keep the footer's `最后更新` at `today`; a document without a footer, or without that line in it, is
    left as it is (a field of that name anywhere else is the person's text, never ours to change)."""
    document = parse_markdown(text)
    footer = footer_span(document)
    if footer is None:
        return text
    # The person may have appended below the footer, code included: a field in a code block is never ours.
    return replace_field(text, names(FIELDS, "updated"), today, within=footer, skip=document.code_spans) or text


def set_progress(text: str, done: int, total: int, phase: str | None) -> str:
    """Rewrite the `已完成讲座` value (and `当前阶段` when given) in place, in the progress section only."""
    percent = 100 * done / total if total else 0.0
    updated = _set_progress_field(text, "lectures_done", f"{done}/{total} ({percent:.1f}%)")
    return _set_progress_field(updated, "phase", phase) if phase is not None else updated


def _set_progress_field(text: str, field: str, value: str) -> str:
    """Set a progress field where progress is kept (当前进度状态 or 总体进度; else the body), outside code."""
    document = parse_markdown(text)
    section = find_role(document, "progress") or find_role(document, "progress_summary")
    if section is not None:
        within = (section.body_start, section.end)
    else:
        within = (document.body_offset, document.footer if document.footer is not None else len(text))
    return replace_field(text, names(FIELDS, field), value, within=within, skip=document.code_spans) or text


PLACEHOLDERS = ("（尚无记录）", "(尚无记录)", "（暂无）", "(nothing yet)", "(none yet)")


def is_placeholder(line: str) -> bool:
    return line.strip() in PLACEHOLDERS


def add_discussion_ref(text: str, file: str, description: str, language: Language) -> str:
    """List `file` among the existing discussion documents (once), numbered after the last entry.

    The list is the one under `**现有文档**:` (or `**Existing documents**:`); a placeholder line such as
    （尚无记录） under that label is replaced by the first entry; a section without the label gets it once."""
    document = parse_markdown(text)
    section = find_role(document, "discussion_index") or find_role(document, "method")
    listed = document.full_text(section) if section else ""
    if any(m.group("file") == file for m in _DOC_ITEM.finditer(listed)):  # as `parse_working_memory` lists them
        return text
    line_end = "" if not description else f" - {description}"
    newline = document.newline
    if section is not None:
        entries = list(_DOC_ITEM.finditer(document.text, section.body_start, section.end))
        if entries:
            last = entries[-1]
            line = f"{last.group('indent')}{int(last.group('n')) + 1}. `{file}`{line_end}"
            return text[: last.end()] + newline + line + text[last.end() :]
        labels = "|".join(re.escape(label) for label in names(FIELDS, "existing_documents"))
        label = re.compile(rf"^[ \t]*\*\*(?:{labels})\*\*[ \t]*[:：][ \t]*(?=\r?\n|\r|\Z)", re.M)
        found = label.search(text, section.body_start, section.end)
        if found is not None:
            entry = f"1. `{file}`{line_end}"
            rest = re.compile(r"(?:\r\n|\r|\n)(?P<line>[^\r\n]*)").match(text, found.end())
            if rest is not None and is_placeholder(rest.group("line")):
                return text[: rest.start("line")] + entry + text[rest.end("line") :]
            return text[: found.end()] + newline + entry + text[found.end() :]
    label_text = preferred(FIELDS, "existing_documents", language)
    block = f"**{label_text}**:\n1. `{file}`{line_end}"
    if section is not None:
        return append_to_section(document, section, block)
    heading = preferred(SECTIONS, "discussion_index", language)
    return insert_before_later_sections(document, f"## {heading}\n\n{block}", after_roles=("method",))
