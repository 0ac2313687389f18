"""Deep-discussion records (`深度讨论/<主题>深度讨论.md`): five required parts, and later rounds appended.

A new record gets YAML frontmatter (topic, lecture, tags, created) since the file is ours to create; an
existing record, whoever wrote it, only ever gets a new dated round appended at its end.
"""

import re
import unicodedata
from datetime import date

from pydantic import BaseModel

from memory_schema.errors import InvalidInput
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
    summary: str  # for listings: the front matter's summary, else the first line of the question
    rounds: int
    last_round: str | None  # the date of the newest dated round, else of the record


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
    round_titles = [s.title for s in document.headings() if s.level == 2 and _is_round_heading(s.title)]
    rounds = 1 + len(round_titles)
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", " ".join(round_titles))
    created = str(meta["created"]) if meta.get("created") else None
    return Discussion(
        path=path,
        title=title,
        topic=str(meta.get("topic") or stem.removesuffix("深度讨论") or stem),
        lecture=lecture if lecture is not None else parse_lecture(path) or parse_lecture(title),
        tags=[str(tag) for tag in tags] if isinstance(tags, list) else [],
        created=created,
        parts_present=present,
        summary=_summary(meta.get("summary")) or _first_line(question)
        or _first_line(document.own_text(document.preamble)),
        rounds=rounds,
        last_round=max(dates) if dates else (created[:10] if created else None),
    )


def _summary(value: object) -> str:
    """The front matter's one-line summary, if it holds one as text (a person may write a list or a date there)."""
    return _first_line(value) if isinstance(value, str) else ""


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
    summary: str | None = None,
) -> str:
    meta: dict[str, object] = {"topic": topic}
    if summary:
        meta["summary"] = summary  # what listings show; else the question's first line
    if lecture:
        meta["lecture"] = lecture
    if tags:
        meta["tags"] = tags
    meta["created"] = today
    title = f"{topic}{SUFFIX}" if language == "zh" else topic
    return f"{render_frontmatter(meta)}\n# {title}\n\n{render_parts(parts, 2, language)}\n"


def render_round(number: int, parts: DiscussionParts, today: date, language: Language) -> str:
    heading = OTHER["round"][language].format(n=number, date=today.isoformat())
    return f"## {heading}\n\n{render_parts(parts, 3, language)}"


SUFFIX = "深度讨论"
_SENTENCE_END = "。！？；!?;"
_CLAUSE_END = "，、,：:"
_OPENERS = {"“": "”", "「": "」", "『": "』", "《": "》", "(": ")", "（": "）", "`": "`", '"': '"', "'": "'"}


def topic_key(name: str) -> str:
    """How topics compare: width- and case-folded, spaces dropped, without a trailing 深度讨论 or `.md`."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    folded = folded.removesuffix(".md")
    folded = re.sub(r"\s+", "", folded)
    return folded.removesuffix(SUFFIX) or folded


def strip_suffix(topic: str) -> str:
    """`RoPE深度讨论` -> `RoPE`: the file name adds the suffix itself. A topic that is nothing but the suffix
    names nothing: InvalidInput."""
    stripped = topic.strip()
    while stripped.endswith(SUFFIX):
        stripped = stripped[: -len(SUFFIX)].rstrip(" -_·")
    if not stripped:
        raise InvalidInput(f"the topic {topic.strip()!r} names no subject; give what the discussion is about, "
                           "such as 'KV缓存'.")
    return stripped


def one_line_summary(text: str, limit: int = 60) -> str:
    """The first line of `text`, cut at a sentence end (or a clause end) within `limit` characters, never
    inside a quote or code span."""
    line = _first_line(text).replace("**", "")
    if len(line) <= limit:
        return line
    cut = _last_boundary(line, limit, _SENTENCE_END) or _last_boundary(line, limit, _CLAUSE_END)
    if cut:
        return line[:cut].rstrip("，、,：: ")
    head = _outside_quotes(line, limit)
    if head >= limit // 3:
        return line[:head].rstrip() + "…"
    # A quote makes up most of the line (引导问题：“…”): keep its start, cut at a mark inside it, close it.
    marks = [i + 1 for i, char in enumerate(line[:limit]) if char in _SENTENCE_END + _CLAUSE_END and i > head]
    cut = marks[-1] if marks else limit
    closers = "".join(_OPENERS[line[i]] for i in reversed(_open_at(line, cut)))
    return line[:cut].rstrip("，、,：: ") + "…" + closers


def _open_at(line: str, at: int) -> list[int]:
    """Where the quotes and code spans still open at `at` start, outermost first."""
    opened: list[int] = []
    for i, char in enumerate(line[:at]):
        if opened and char == _OPENERS[line[opened[-1]]]:
            opened.pop()
        elif char in _OPENERS:
            opened.append(i)
    return opened


def _last_boundary(line: str, limit: int, marks: str) -> int:
    best = 0
    for i, char in enumerate(line[:limit]):
        if char in marks and _outside_quotes(line, i + 1) == i + 1 and i >= 8:
            best = i + 1 if char in _SENTENCE_END else i
    return best


def _outside_quotes(line: str, at: int) -> int:
    """`at`, or the start of a quote or code span still open there."""
    opened: list[tuple[str, int]] = []
    for i, char in enumerate(line[:at]):
        if opened and char == _OPENERS[opened[-1][0]]:
            opened.pop()
        elif char in _OPENERS:
            opened.append((char, i))
    return opened[0][1] if opened else at


ROUND_GAP_CHARS = 80  # what may stand between two parts of one recorded round: a heading, blank lines


def has_round(text: str, parts: DiscussionParts) -> bool:
    """Whether these five parts are already recorded together, in order, as one round of the document (a
    retried or re-applied write); parts that only occur scattered over earlier rounds are a new round."""
    squashed = _squash(text)
    wanted = [_squash(getattr(parts, name)) for name in PART_ORDER]
    start = squashed.find(wanted[0])
    while start >= 0:
        end = start + len(wanted[0])
        for part in wanted[1:]:
            at = squashed.find(part, end)
            if at < 0 or at - end > ROUND_GAP_CHARS:
                break
            end = at + len(part)
        else:
            return True
        start = squashed.find(wanted[0], start + 1)
    return False


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
