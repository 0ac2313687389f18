"""Deep-discussion records (`深度讨论/<主题>深度讨论.md`): five required parts, and later rounds appended.

A new record gets YAML frontmatter (topic, lecture, tags, created) since the file is ours to create; an
existing record, whoever wrote it, only ever gets a new dated round appended at its end.
"""

import re
from datetime import date

from pydantic import BaseModel

from memory_schema.frontmatter import render_frontmatter
from memory_schema.lectures import parse_lecture
from memory_schema.markdown import parse_markdown
from memory_schema.vocabulary import DISCUSSION_PARTS, OTHER, Language, names, preferred

# List, quote and heading markers before a line's words; "7B模型" keeps its digit.
_LINE_MARKER = re.compile(r"^(?:(?:[-*+>#]+|\d+[.)）])[ \t]+)+")

PART_ORDER = ("question", "thinking", "details", "methodology", "practice")


class DiscussionParts(BaseModel):
    question: str
    thinking: str
    details: str
    methodology: str
    practice: str


class Discussion(BaseModel):
    path: str
    title: str
    topic: str
    lecture: int | None
    tags: list[str]
    created: str | None
    parts_present: list[str]  # which of the five parts the record has
    summary: str  # the first line of the question, for listings
    rounds: int


def parse_discussion(path: str, text: str) -> Discussion:
    document = parse_markdown(text)
    meta = document.metadata
    stem = path.rsplit("/", 1)[-1].removesuffix(".md")
    title = document.title or stem
    present = [
        part for part in PART_ORDER if any(s.title in names(DISCUSSION_PARTS, part) for s in document.headings())
    ]
    question = next(
        (document.own_text(s) for s in document.headings() if s.title in names(DISCUSSION_PARTS, "question")),
        "",
    )
    lecture_value = meta.get("lecture")
    lecture = parse_lecture(str(lecture_value)) if lecture_value is not None else None
    tags = meta.get("tags", [])
    if isinstance(tags, str):
        tags = [tag.strip() for tag in tags.replace("，", ",").split(",") if tag.strip()]
    rounds = 1 + sum(1 for s in document.headings() if s.level == 2 and _is_round_heading(s.title))
    return Discussion(
        path=path,
        title=title,
        topic=str(meta.get("topic") or stem.removesuffix("深度讨论") or stem),
        lecture=lecture if lecture is not None else parse_lecture(path) or parse_lecture(title),
        tags=[str(tag) for tag in tags] if isinstance(tags, list) else [],
        created=str(meta["created"]) if meta.get("created") else None,
        parts_present=present,
        summary=_first_line(question) or _first_line(document.own_text(document.preamble)),
        rounds=rounds,
    )


def _is_round_heading(title: str) -> bool:
    return (title.startswith("第") and "轮讨论" in title) or title.lower().startswith("round ")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        cleaned = _LINE_MARKER.sub("", line.strip()).strip()
        if cleaned and not cleaned.startswith(("```", "|", "---")):
            return cleaned[:120]
    return ""


def render_parts(parts: DiscussionParts, level: int, language: Language) -> str:
    hashes = "#" * level
    blocks = [
        f"{hashes} {preferred(DISCUSSION_PARTS, part, language)}\n\n{getattr(parts, part).strip()}"
        for part in PART_ORDER
    ]
    return "\n\n".join(blocks)


def render_discussion(
    topic: str,
    parts: DiscussionParts,
    *,
    lecture: str | None,
    tags: list[str],
    today: date,
    language: Language,
) -> str:
    meta: dict[str, object] = {"topic": topic}
    if lecture:
        meta["lecture"] = lecture
    if tags:
        meta["tags"] = tags
    meta["created"] = today
    title = f"{topic}深度讨论" if language == "zh" else topic
    return f"{render_frontmatter(meta)}\n# {title}\n\n{render_parts(parts, 2, language)}\n"


def render_round(number: int, parts: DiscussionParts, today: date, language: Language) -> str:
    heading = OTHER["round"][language].format(n=number, date=today.isoformat())
    return f"## {heading}\n\n{render_parts(parts, 3, language)}"
