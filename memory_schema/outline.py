"""The block outline of a Markdown text: its top-level headings, its code blocks and its footer.

The outline comes from a real CommonMark parser (markdown-it-py, block rules only), so `# comment` lines inside
code fences are never headings. Parsing a large working memory costs tens of milliseconds and every write
parses the text before and after it, so outlines are kept for the last few texts seen, and a text that
differs from one of them in one place is re-parsed only around that place: from the last top-level ATX
heading before the change to the first one after it. A top-level ATX heading closes every open block (a
list, a quote, a paragraph), so the parser's state at that line is the same whatever came before; the
re-parse ends by checking that the heading after the change is still a top-level heading (an unclosed code
fence in the new text would swallow it), and parses the whole text when it is not. Pure: no file I/O.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark").disable(["inline", "text_join"])  # the block structure is all we need
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FOOTER_LINE = re.compile(r"^[ \t]*(?:[-*+][ \t]+)?\*\*[^*\r\n]+\*\*[ \t]*[:：]")
_KEPT = 16  # outlines kept for re-use ...
_KEPT_LARGE = 4  # ... and, apart, those of large texts: a listing of many small notes must not push them out
_LARGE_CHARS = 32_768
_SMALL_CHANGE = 0.5  # re-parse in part only when the changed stretch is under half the text

Span = tuple[int, int]


@dataclass(frozen=True)
class Head:
    level: int
    raw: str  # the heading's text as written
    start: int  # offset of its line
    body_start: int  # offset of the line after it
    line: int  # 1-based
    atx: bool  # written with '#' (a setext heading depends on the line before it: no re-parse starts there)


@dataclass(frozen=True)
class Outline:
    text: str
    body_offset: int  # where the Markdown starts: after the frontmatter and a BOM
    heads: tuple[Head, ...]
    code: tuple[Span, ...]
    footer: int | None


_recent: OrderedDict[str, Outline] = OrderedDict()
_recent_large: OrderedDict[str, Outline] = OrderedDict()
_recent_lock = threading.Lock()


def outline_of(text: str, body_offset: int) -> Outline:
    """The outline of `text`, whose Markdown starts at `body_offset` (after any frontmatter): the one kept for
    the same text, or one re-parsed around an edit from a kept outline of a similar text (the closest in
    length first), or a whole parse."""
    kept = _recent_large if len(text) >= _LARGE_CHARS else _recent
    with _recent_lock:
        found = kept.get(text)
        if found is not None and found.body_offset == _skip_bom(text, body_offset):
            kept.move_to_end(text)
            return found
        candidates = sorted((old for old in (*kept.values(), *(_recent_large if kept is _recent else _recent).values())
                             if abs(len(old.text) - len(text)) <= _SMALL_CHANGE * len(text)),
                            key=lambda old: abs(len(old.text) - len(text)))
    outline = None
    for old in candidates:
        outline = _reparse(old, text, body_offset)
        if outline is not None:
            break
    if outline is None:
        outline = _parse(text, _skip_bom(text, body_offset), _skip_bom(text, body_offset), len(text))
    with _recent_lock:
        kept[text] = outline
        while len(kept) > (_KEPT_LARGE if kept is _recent_large else _KEPT):
            kept.popitem(last=False)
    return outline


def _skip_bom(text: str, body_offset: int) -> int:
    # A BOM would hide a first-line heading from the parser; the Markdown starts after it, so that text put at
    # the start of the preamble goes after the BOM too.
    return body_offset + 1 if text[body_offset : body_offset + 1] == "\ufeff" else body_offset


def _parse(text: str, body_offset: int, lo: int, hi: int) -> Outline:
    """The outline of text[lo:hi] parsed on its own, in the offsets and lines of the whole text."""
    heads, code, footer = _scan(text, lo, hi)
    return Outline(text, body_offset, tuple(heads), tuple(code), footer if hi == len(text) else None)


def _scan(text: str, lo: int, hi: int) -> tuple[list[Head], list[Span], int | None]:
    part = text[lo:hi]
    starts = [lo, *(lo + m.end() for m in _LINE_BREAK.finditer(part))]
    first_line = text.count("\n", 0, lo) - text.count("\r\n", 0, lo) + text.count("\r", 0, lo) if lo else 0

    def offset(line: int) -> int:
        return starts[line] if line < len(starts) else hi

    tokens = _PARSER.parse(part)
    heads: list[Head] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0 and token.map:
            raw = tokens[i + 1].content if i + 1 < len(tokens) else ""
            start = offset(token.map[0])
            heads.append(Head(int(token.tag[1:]), raw, start, offset(token.map[1]), first_line + token.map[0] + 1,
                              text[start:start + 4].lstrip(" ").startswith("#")))
    code = [(offset(t.map[0]), offset(t.map[1])) for t in tokens if t.type in ("fence", "code_block") and t.map]
    return heads, code, _footer(tokens, offset)


def _footer(tokens: list[Any], offset: Callable[[int], int]) -> int | None:
    """Where the document footer starts: a last top-level thematic break after the last heading, followed by a
    paragraph opening with bold `**key**: value` lines; None when the text does not end so. What the person
    added after those lines (`echo … >>` appends below the footer) is part of it, not of the last section: a
    section update must not take it away."""
    for at in range(len(tokens) - 1, -1, -1):
        token = tokens[at]
        if token.type == "heading_open":
            return None
        if token.type == "hr" and token.level == 0:
            break
    else:
        return None
    following = tokens[at + 1 : at + 4]
    if [t.type for t in following] != ["paragraph_open", "inline", "paragraph_close"] or not token.map:
        return None
    lines = [line for line in following[1].content.splitlines() if line.strip()]
    if not lines or not _FOOTER_LINE.match(lines[0]):
        return None
    return offset(token.map[0])


def _reparse(old: Outline, text: str, body_offset: int) -> Outline | None:
    """`text`'s outline from `old`'s, re-parsing only around the stretch where the two texts differ; None
    when that is not possible or not worth it."""
    body_offset = _skip_bom(text, body_offset)
    if body_offset != old.body_offset or not old.heads:
        return None
    prefix = _common_prefix(old.text, text)
    shifted = _items_inserted(old, text, prefix, body_offset)
    if shifted is not None:
        return shifted
    suffix = _common_suffix(old.text, text, limit=min(len(old.text), len(text)) - prefix)
    if prefix < body_offset or (len(text) - prefix - suffix) > _SMALL_CHANGE * len(text):
        return None
    delta = len(text) - len(old.text)
    changed_end = len(old.text) - suffix
    # A change can turn the paragraph above it into a setext heading: resume at a heading whose whole line lies
    # before the change (no paragraph runs across a top-level ATX heading).
    before = [h for h in old.heads if h.body_start <= prefix]
    resume = next((i for i in range(len(before) - 1, -1, -1) if before[i].atx), None)
    lo = before[resume].start if resume is not None else body_offset
    kept = list(old.heads[:resume]) if resume is not None else []
    after = next((i for i, h in enumerate(old.heads) if h.start >= changed_end and h.atx and h.start >= lo), None)
    if after is None:
        heads, code, footer = _scan(text, lo, len(text))
        tail: list[Head] = []
    else:
        boundary = old.heads[after]
        hi = boundary.start + delta
        line_end = boundary.body_start + delta
        heads, code, footer = _scan(text, lo, line_end)
        if not heads or heads[-1].start != hi or not heads[-1].atx:
            return None  # the change leaves something open that swallows the next heading: parse it all
        heads.pop()
        code = [span for span in code if span[0] < hi]
        lines = _line_count(text, lo, hi) - _line_count(old.text, lo, boundary.start)
        tail = [Head(h.level, h.raw, h.start + delta, h.body_start + delta, h.line + lines, h.atx)
                for h in old.heads[after:]]
        code += [(a + delta, b + delta) for a, b in old.code if a >= boundary.start]
        footer = old.footer + delta if old.footer is not None else None
    code = [span for span in old.code if span[1] <= lo] + code
    return Outline(text, body_offset, tuple(kept + heads + tail), tuple(sorted(code)), footer)


def _items_inserted(old: Outline, text: str, prefix: int, body_offset: int) -> Outline | None:
    """`text`'s outline when it is `old.text` with list items inserted after an item of the same list (a
    discussion listed, a TODO added): such lines open no block, end none and start no heading, and items of the
    same marker and indent take the lines after them exactly as the item before did, so the outline is
    `old`'s, moved. None for any other change."""
    delta = len(text) - len(old.text)
    at = _line_start(text, prefix)
    if delta <= 0 or at <= body_offset or text[at + delta :] != old.text[at:]:
        return None
    inserted = text[at : at + delta]
    lines = _LINE_BREAK.split(inserted)
    splits_crlf = text[at - 1] == "\r" and "\n" in (text[at : at + 1], old.text[at : at + 1])
    joins_crlf = inserted.endswith("\r") and old.text[at : at + 1] == "\n"
    if lines[-1] != "" or splits_crlf or joins_crlf:
        return None
    previous = _LINE_BREAK.split(old.text[_line_start(old.text, at - 1) : at])[0]
    shape = _item_shape(previous)
    if shape is None or any(_item_shape(line) != shape for line in lines[:-1]):
        return None
    if any(h.start < at < h.body_start or (h.start == at and not h.atx) for h in old.heads):
        return None
    if any(a <= at <= b for a, b in old.code):  # inside a code block, or at the end of one left open
        return None
    count = len(lines) - 1
    heads = tuple(Head(h.level, h.raw, h.start + delta, h.body_start + delta, h.line + count, h.atx)
                  if h.start >= at else h for h in old.heads)
    code = tuple((a + delta, b + delta) if a >= at else (a, b) for a, b in old.code)
    footer = old.footer + delta if old.footer is not None and old.footer >= at else old.footer
    return Outline(text, body_offset, heads, code, footer)


# A list item line: up to 3 spaces, a marker, 1-4 spaces and plain content: nothing that opens or closes a
# block of its own (a fence, a heading, a thematic break, a quote, a nested marker, a link reference
# definition) and no `<` or `>`, so no HTML block it may sit in can end on it.
_ITEM = re.compile(r"( {0,3})(\d{1,9}[.)]|[-*+])( {1,4})"
                   r"(?![`~]{3}|#|[-*+_=>]|\d{1,9}[.)]|\[[^\]]*\]:)[^<>\s][^<>\r\n]*")


def _item_shape(line: str) -> tuple[int, str, int] | None:
    """A list item line's indent, marker kind (its delimiter or bullet) and content indent; None for another
    line, and for an item numbered 1, the one ordered item that may interrupt a paragraph (after `2. a` read as
    a paragraph's text, `1. b` would start a list)."""
    match = _ITEM.fullmatch(line)
    if match is None:
        return None
    indent, marker, spaces = match.group(1), match.group(2), match.group(3)
    if marker[:-1].isdigit() and int(marker[:-1]) == 1:
        return None
    return len(indent), marker[-1], len(indent) + len(marker) + len(spaces)


def _line_start(text: str, offset: int) -> int:
    """The offset of the start of the line holding `offset`."""
    return max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1


def _line_count(text: str, lo: int, hi: int) -> int:
    return len(_LINE_BREAK.findall(text, lo, hi))


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix, by bisection over slice comparisons (memcmp, not a loop)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, *, limit: int) -> int:
    lo, hi = 0, max(0, limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo
