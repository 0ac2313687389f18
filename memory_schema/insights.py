"""Insights in the working memory: `### title` entries under 重要技术洞察记录, one entry per title.

An entry is the title heading, the body as given, and a meta line (`- **标签**: … | **讲座**: … | **日期**: …`)
whose date makes the timeline possible. Adding the same title and body again is a retry and changes nothing;
the same title with another body is refused (InsightExists) and `revise_insight` replaces a body instead.
Every edit returns new text that differs only in that entry (or in a new insights section, when the document
had none).
"""

import re

from memory_schema.errors import InsightExists, SectionNotFound
from memory_schema.markdown import (
    MarkdownDocument,
    Section,
    append_to_section,
    normalize_heading,
    parse_markdown,
    replace_section_body,
)
from memory_schema.vocabulary import SECTIONS, Language, preferred
from memory_schema.working_memory import find_role, insert_before_later_sections

_LABELS = {"zh": ("标签", "讲座", "日期", "修订"), "en": ("Tags", "Lecture", "Date", "Revised")}
_META = re.compile(r"^- \*\*(?:标签|讲座|日期|Tags|Lecture|Date)\*\*: .*$", re.M)


def insight_meta_line(language: Language, tags: list[str], lecture: str | None, today: str) -> str:
    """`- **标签**: … | **讲座**: … | **日期**: …`: dates make the timeline and "this week" counts possible."""
    labels = _LABELS[language]
    parts = []
    if tags:
        parts.append(f"**{labels[0]}**: {', '.join(tags)}")
    if lecture:
        parts.append(f"**{labels[1]}**: {lecture}")
    parts.append(f"**{labels[2]}**: {today}")
    return "- " + " | ".join(parts)


def render_insight(title: str, body: str, meta: str) -> str:
    return f"### {title}\n{body}\n{meta}" if meta else f"### {title}\n{body}"


def find_insight(document: MarkdownDocument, title: str) -> Section | None:
    section = find_role(document, "insights")
    if section is None:
        return None
    wanted = normalize_heading(title)
    return next((child for child in document.children(section) if child.title == wanted), None)


def insight_body(document: MarkdownDocument, section: Section) -> str:
    """An entry's body without its meta line."""
    return _META.sub("", document.full_text(section)).strip()


def append_insight(text: str, title: str, body: str, meta: str, language: Language) -> str:
    """Add the entry at the end of the insights section (created if needed); the same entry again is a no-op."""
    document = parse_markdown(text)
    existing = find_insight(document, title)
    if existing is not None:
        if _squash(insight_body(document, existing)) == _squash(body):
            return text
        raise InsightExists(title)
    entry = render_insight(title, body, meta)
    section = find_role(document, "insights")
    if section is not None:
        return append_to_section(document, section, entry)
    heading = "## " + ("🧠 " if language == "zh" else "") + preferred(SECTIONS, "insights", language)
    return insert_before_later_sections(document, f"{heading}\n\n{entry}", after_roles=("method", "progress"))


def revise_insight(text: str, title: str, body: str, today: str, language: Language) -> str:
    """Replace an entry's body, keeping its meta line (with the revision date) and every other byte."""
    document = parse_markdown(text)
    section = find_insight(document, title)
    if section is None:
        insights = find_role(document, "insights")
        titles = [child.title for child in document.children(insights)] if insights else []
        raise SectionNotFound("the working memory", normalize_heading(title), titles)
    if _squash(insight_body(document, section)) == _squash(body):
        return text
    meta = _META.search(document.full_text(section))
    revised = _LABELS[language][3]
    if meta is None:
        line = f"- **{_LABELS[language][2]}**: {today}"
    else:
        line = re.sub(rf" \| \*\*{revised}\*\*: [0-9-]+$", "", meta.group(0)) + f" | **{revised}**: {today}"
    return replace_section_body(document, section, f"{body.strip()}\n{line}")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
