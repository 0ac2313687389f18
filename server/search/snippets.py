"""Snippets: about 200 characters of a section around its densest cluster of matched terms.

Matched terms are marked `**term**` (neighbouring matches merge into one mark, so the bigrams of 注意力 give
**注意力**). The cut prefers sentence and clause ends (。！？；，and their ASCII forms), then whitespace, and
never falls inside a mark. Built only for the hits a search returns, from the text stored in the index.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from server.search.analyzer import fold

SNIPPET_CHARS = 200
_SEEK = 30  # how far past the ideal cut we look for a good boundary
_STRONG = "。！？；!?;\n"
_WEAK = "，、,：: \t"
_SPACES = re.compile(r"\s+")
_MARKUP = re.compile(r"\*\*|__")
_MAX_SPANS = 400


class _FoldedChars(dict[int, str]):
    """Each character, folded and lower-cased on its own: a `str.translate` table filled on first use."""

    def __missing__(self, code: int) -> str:
        piece = self[code] = fold(chr(code)).lower()
        return piece


_FOLDED = _FoldedChars()


def folded_with_origins(text: str) -> tuple[str, list[int] | None]:
    """The folded, lower-cased text, and where each of its characters came from when lengths differ
    (then each character is folded on its own, so that every piece has one origin)."""
    folded = fold(text).lower()
    if len(folded) == len(text):
        return folded, None
    pieces: list[str] = []
    origins: list[int] = []
    base = 0
    for line in text.split("\n"):
        lowered = line.lower()
        # A normalized line without Σ (whose lower case depends on its neighbours) folds char by char
        # to its lower case; when that keeps its length, each character maps to one.
        if len(lowered) == len(line) and "Σ" not in line and unicodedata.is_normalized("NFKC", line):
            pieces.append(lowered)
            origins.extend(range(base, base + len(line)))
        else:
            pieces.append(line.translate(_FOLDED))
            for i, char in enumerate(line, base):
                origins.extend([i] * len(_FOLDED[ord(char)]))
        origins.append(base + len(line))  # the newline
        base += len(line) + 1
    origins.pop()  # no newline after the last line
    return "\n".join(pieces), origins


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def find_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int, str]]:
    """Where the terms occur in `text`: merged (start, end, terms) spans in the original text's offsets. The
    terms are looked for longest first, in a fixed order: past _MAX_SPANS the later ones are not looked for, and
    the same query must show the same snippet whatever order its terms came in (a set's differs by process)."""
    folded, origins = folded_with_origins(text)
    found: list[tuple[int, int, str]] = []
    for term in sorted(set(terms), key=lambda term: (-len(term), term)):
        if not term:
            continue
        ascii_term = term.isascii()
        at = folded.find(term)
        while at >= 0 and len(found) < _MAX_SPANS:
            end = at + len(term)
            ok = True
            if ascii_term:
                before = folded[at - 1] if at else " "
                # A word starts after a non-word character or at a camelCase hump (Flash|Attention).
                hump = at > 0 and text[at - 1].islower() and text[at].isupper() if origins is None else False
                ok = not _is_word_char(before) or hump
                if ok and len(term) <= 2:
                    ok = end >= len(folded) or not _is_word_char(folded[end])
            if ok:
                found.append((at, end, term))
            at = folded.find(term, at + 1)
    if origins is not None:
        found = [(origins[s], origins[e - 1] + 1, t) for s, e, t in found]
    found.sort()
    merged: list[tuple[int, int, str]] = []
    for start, end, term in found:
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] + "\x00" + term)
        else:
            merged.append((start, end, term))
    return merged


def _densest(spans: list[tuple[int, int, str]], width: int) -> tuple[int, int]:
    """The run of spans fitting in `width` characters that holds the most distinct terms (then most hits): one
    pass with a window that counts its terms."""
    terms = [span[2].split("\x00") for span in spans]
    counts: Counter[str] = Counter()
    best_key, best = (-1, -1), (0, 0)
    j = -1
    for i in range(len(spans)):
        if j < i:
            counts.clear()
            counts.update(terms[i])
            j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= width:
            j += 1
            counts.update(terms[j])
        key = (len(counts), j - i + 1)
        if key > best_key:
            best_key, best = key, (i, j)
        counts.subtract(terms[i])
        for term in terms[i]:
            if counts[term] <= 0:
                del counts[term]
    return best


def _snap_start(text: str, ideal: int) -> int:
    if ideal <= 0:
        return 0
    window = text[max(0, ideal - _SEEK) : ideal + 1]
    for boundaries in (_STRONG, _WEAK):
        cut = max(window.rfind(ch) for ch in boundaries)
        if cut >= 0:
            return max(0, ideal - _SEEK) + cut + 1
    return ideal


def _snap_end(text: str, ideal: int) -> int:
    if ideal >= len(text):
        return len(text)
    window = text[ideal : ideal + _SEEK]
    for boundaries in (_STRONG, _WEAK):
        cuts = [window.find(ch) for ch in boundaries]
        found = [c for c in cuts if c >= 0]
        if found:
            return ideal + min(found) + 1
    return ideal


def _clean(piece: str) -> str:
    return _SPACES.sub(" ", _MARKUP.sub("", piece))


def make_snippet(text: str, terms: Iterable[str], width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text` around its densest cluster of `terms`, the terms marked."""
    spans = find_spans(text, terms)
    if not spans:
        end = _snap_end(text, width)
        return (_clean(text[:end]).strip() + (" …" if end < len(text) else "")).strip()
    first, last = _densest(spans, width)
    lo, hi = spans[first][0], spans[last][1]
    slack = max(0, width - (hi - lo))
    start = _snap_start(text, lo - slack // 3)
    end = _snap_end(text, max(hi, start + width))
    # Never cut a mark in two.
    for s, e, _ in spans:
        if s < start < e:
            start = s
        if s < end < e:
            end = e
    out: list[str] = []
    cursor = start
    for s, e, _ in spans:
        if e <= start or s >= end:
            continue
        out.append(_clean(text[cursor:s]))
        out.append("**" + _clean(text[s:e]).strip() + "**")
        cursor = e
    out.append(_clean(text[cursor:end]))
    body = "".join(out).strip()
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")
