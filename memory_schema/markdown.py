"""Markdown structure: headings, sections addressed by heading path, and byte-preserving section edits.

Headings come from a real CommonMark parser (markdown-it-py), so `# comment` lines inside code fences are
never headings. Sections are char ranges into the original text; every edit splices new text into one range
and leaves every other character as it was (BOM, CRLF, trailing spaces and a missing final newline too).
Pure: no file I/O.
"""

import functools
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from memory_schema.errors import SectionNotFound
from memory_schema.frontmatter import read_frontmatter
from memory_schema.outline import Outline, outline_of

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MARKUP = re.compile(r"\*\*|__|`")
_SPACES = re.compile(r"\s+")
# An ATX closing sequence is a run of '#' after a space (or the whole text); the '#' of "C#" is a word.
_CLOSING_HASHES = re.compile(r"(?:^|\s)#+$")


@functools.lru_cache(maxsize=8192)
def normalize_heading(text: str) -> str:
    """The heading as a person would name it: no emoji, no bold/code markup, single spaces, composed (NFC: a
    title typed on one system matches the same title written decomposed on another)."""
    kept = []
    for char in _MARKUP.sub("", unicodedata.normalize("NFC", text)):
        category = unicodedata.category(char)
        if category in ("So", "Sk", "Cf", "Cs", "Co") or 0xFE00 <= ord(char) <= 0xFE0F:
            continue
        kept.append(char)
    return _CLOSING_HASHES.sub("", _SPACES.sub(" ", "".join(kept)).strip()).strip()


@dataclass(frozen=True)
class Section:
    level: int
    title: str
    raw_title: str
    trail: tuple[str, ...]
    line: int
    start: int
    body_start: int
    body_end: int
    end: int

    @property
    def path(self) -> str:
        return join_trail(self.trail)


def join_trail(trail: tuple[str, ...] | list[str]) -> str:
    """A heading path `a/b/c`; a `/` inside a heading is written `\\/`, so every heading can be addressed."""
    return "/".join(part.replace("/", "\\/") for part in trail)


def split_trail(path: str) -> tuple[str, ...]:
    return tuple(part.replace("\\/", "/") for part in re.split(r"(?<!\\)/", path.strip("/")))


class MarkdownDocument:
    """A parsed view of one Markdown text; the text itself is never changed.

    A document footer — a closing thematic break followed only by bold `**key**: value` lines, as in
    `---` / `**最后更新**: …` — belongs to no section: the last section ends before it, so a section edit can
    never swallow it. `footer` is where it starts (None without one).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        front = read_frontmatter(text)
        self.body_offset = front.end
        self.metadata: dict[str, Any] = front.metadata
        self.frontmatter_problem = front.problem
        self.frontmatter_line = front.problem_line
        outline = outline_of(text, front.end)
        self.footer = outline.footer
        self.code_spans = list(outline.code)
        self.sections = _sections(outline, len(text))

    @property
    def preamble(self) -> Section:
        return self.sections[0]

    @cached_property
    def newline(self) -> str:
        match = _LINE_BREAK.search(self.text)
        return match.group(0) if match else "\n"

    @cached_property
    def title(self) -> str | None:
        """The first level-1 heading, if the document has one."""
        return next((s.title for s in self.sections if s.level == 1), None)

    def headings(self) -> Iterator[Section]:
        return (s for s in self.sections if s.level > 0)

    def find(self, path: str, *, document: str = "document") -> Section:
        """The section at heading path `a/b/c`, matched on normalized titles; a trailing part is enough."""
        wanted = tuple(normalize_heading(part) for part in split_trail(path))
        found = self.find_optional(path)
        if found is None:
            raise SectionNotFound(document, join_trail(wanted), [s.path for s in self.headings()])
        return found

    def find_optional(self, path: str) -> Section | None:
        wanted = tuple(normalize_heading(part) for part in split_trail(path))
        if not any(wanted):
            return None
        exact = [s for s in self.headings() if s.trail == wanted]
        if exact:
            return exact[0]
        return next((s for s in self.headings() if s.trail[-len(wanted) :] == wanted), None)

    def own_text(self, section: Section) -> str:
        return self.text[section.body_start : section.body_end]

    def full_text(self, section: Section) -> str:
        return self.text[section.body_start : section.end]

    def in_code(self, offset: int) -> bool:
        """Whether `offset` lies inside a fenced or indented code block."""
        return any(start <= offset < end for start, end in self.code_spans)

    def children(self, section: Section) -> list[Section]:
        return [
            s
            for s in self.headings()
            if section.start < s.start < section.end and s.trail[:-1] == section.trail
        ]


_documents: OrderedDict[str, MarkdownDocument] = OrderedDict()
_documents_lock = threading.Lock()


def parse_markdown(text: str) -> MarkdownDocument:
    """The document view of `text`. A write parses the same few texts several times (to check, to edit, to
    index), and a document never changes, so the last few are kept and shared."""
    with _documents_lock:
        found = _documents.get(text)
        if found is not None:
            _documents.move_to_end(text)
            return found
    document = MarkdownDocument(text)
    with _documents_lock:
        _documents[text] = document
        while len(_documents) > 8:
            _documents.popitem(last=False)
    return document


def _sections(outline: Outline, length: int) -> list[Section]:
    """The preamble and one section per heading; a section runs to the next heading of its level or above,
    or to the footer."""
    end_of_text = outline.footer if outline.footer is not None else length
    heads = outline.heads
    first_heading = heads[0].start if heads else end_of_text
    ends = [end_of_text] * len(heads)
    open_: list[int] = []
    for index, head in enumerate(heads):
        while open_ and heads[open_[-1]].level >= head.level:
            ends[open_.pop()] = head.start
        open_.append(index)
    sections = [Section(0, "", "", (), 1, 0, outline.body_offset, first_heading, first_heading)]
    trail: list[tuple[int, str]] = []
    for index, head in enumerate(heads):
        title = normalize_heading(head.raw)
        trail = [(lvl, t) for lvl, t in trail if lvl < head.level] + [(head.level, title)]
        body_end = heads[index + 1].start if index + 1 < len(heads) else end_of_text
        sections.append(Section(head.level, title, head.raw, tuple(t for _, t in trail), head.line, head.start,
                                head.body_start, body_end, ends[index]))
    return sections


# --- edits: each returns new text in which only the named range differs ---------------------------------


def _convert_newlines(block: str, newline: str) -> str:
    return _LINE_BREAK.sub(newline, block)


def _content_end(text: str, start: int, end: int) -> int:
    """The end of the last non-blank line in text[start:end], its trailing spaces included."""
    at = start + len(text[start:end].rstrip(" \t\r\n"))
    if at == start:
        return start
    while at < end and text[at] in " \t":
        at += 1
    return at


def _line_breaks(text: str) -> int:
    return len(_LINE_BREAK.findall(text))


def _closing(text: str, at: int, gap: str, newline: str) -> str:
    """What must follow new text inserted at `at` (before `gap`, the blank space up to the next heading).

    A following heading gets a blank line before it: a setext heading or an HTML block would otherwise
    run into the new text. At the end of the text the final newline is kept as it was (or missing).
    """
    if at + len(gap) < len(text):
        return newline * max(0, 2 - _line_breaks(gap))
    if gap:
        return "" if _line_breaks(gap) else newline
    return newline if not text or text.endswith(("\n", "\r")) else ""


def append_to_section(document: MarkdownDocument, section: Section, block: str) -> str:
    """Add `block` after the last content of `section` (subsections included), one blank line before it."""
    text, newline = document.text, document.newline
    block = _convert_newlines(block.strip("\r\n"), newline)
    at = _content_end(text, section.body_start, section.end)
    if at > section.body_start:
        lead = newline + newline
    else:  # an empty section: start right under its heading, a blank line between them
        at = section.body_start
        if not text[:at].strip("\ufeff"):  # the very start of the text
            lead = ""
        else:
            lead = newline if text[:at].endswith(("\n", "\r")) else newline + newline
    gap = text[at : section.end]
    return text[:at] + lead + block + _closing(text, at, gap, newline) + text[at:]


_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]")


def append_list_item(document: MarkdownDocument, section: Section, line: str) -> str:
    """Continue the list that ends `section` with `line`, or start one after the section's text."""
    text = document.text
    content_end = section.body_start + len(document.full_text(section).rstrip(" \t\r\n"))
    last_line = _LINE_BREAK.split(text[:content_end])[-1]
    if content_end <= section.body_start or _LIST_ITEM.match(last_line) is None:
        return append_to_section(document, section, line)
    while content_end < len(text) and text[content_end] in " \t":  # the last item keeps its trailing spaces
        content_end += 1
    return text[:content_end] + document.newline + line + text[content_end:]


def replace_section_body(document: MarkdownDocument, section: Section, body: str) -> str:
    """Replace everything under the heading of `section` (subsections included), keeping its spacing."""
    text, newline = document.text, document.newline
    old = text[section.body_start : section.end]
    new = _convert_newlines(body.strip("\r\n"), newline)
    if old.strip():
        lead = old[: len(old) - len(old.lstrip("\r\n"))]
        gap = old[len(old.rstrip(" \t\r\n")) :].lstrip(" \t")
    else:
        lead = newline if text[: section.body_start].strip("\ufeff") else ""
        gap = old.lstrip(" \t")
    trail = gap + _closing(text, section.end - len(gap), gap, newline)
    return text[: section.body_start] + lead + new + trail + text[section.end :]


def insert_section(
    document: MarkdownDocument, parent: Section | None, level: int, title: str, body: str
) -> str:
    """Add a new `level` heading with `body` at the end of `parent` (or of the document)."""
    heading = "#" * level + " " + title
    block = heading + document.newline + document.newline + body.strip("\r\n") if body.strip() else heading
    target = parent if parent is not None else whole_document(document)
    return append_to_section(document, target, block)


def whole_document(document: MarkdownDocument) -> Section:
    """The document as one section: its body from after the frontmatter (and BOM) to the footer or the end."""
    end = document.footer if document.footer is not None else len(document.text)
    return Section(0, "", "", (), 1, 0, document.preamble.body_start, end, end)


Shape = tuple[int, bool, int]  # a document's `##` sections, whether it has its footer, its length


def shape_of(text: str) -> Shape:
    """What a save under way shows first: a text written from its start has fewer `##` sections, no footer,
    and is shorter than the whole."""
    document = parse_markdown(text)
    return sum(1 for s in document.headings() if s.level == 2), document.footer is not None, len(text)


def shape_problem(shape: Shape, known: Shape) -> str | None:
    """Why a text of `shape` reads as a save under way, against a whole text's shape `known`, or None."""
    sections, footer, length = known
    if shape[2] >= length:  # a save under way writes the text from its start: it reads shorter
        return None
    if shape[0] < sections:
        return f"it has {shape[0]} '##' sections, where it had {sections}"
    if footer and not shape[1]:
        return "its closing footer is gone"
    return None
