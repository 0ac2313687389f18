"""Traditional Chinese characters read as their simplified forms (張量並行 as 张量并行), in notes and queries
alike, so a person who types either script finds notes written in the other, as case folding does for English.

One character for one, never a word for a word: a folded text keeps its length, so every offset into it (a
snippet's highlights, a term's position) still points into the text as written. Regional wording (記憶體 for
内存, 平行 for 并行) is a different word, not a different script: the glossary's work, not this module's. A few
characters that simplified text also writes are folded with the rest (乾 to 干, 於 to 于, 昇 to 升): notes and
queries fold alike, so a search finds all it found before, and 升腾 now also finds a note writing 昇腾.

The characters come from OpenCC's Traditional-to-Simplified table, each converted on its own; this is the only
module that imports `opencc`.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from itertools import chain

# The unified Han blocks: Extension A and the basic block. Compatibility ideographs are unified by NFKC first.
_HAN_BLOCKS = (range(0x3400, 0x4DC0), range(0x4E00, 0xA000))


_built: tuple[dict[int, str], re.Pattern[str]] | None = None
_building = threading.Lock()  # the first searches of a session may arrive on several threads at once


def _table() -> tuple[dict[int, str], re.Pattern[str]]:
    """The traditional characters with a simplified form of one character, and a pattern finding any of them;
    built once, on first use (the warm-up builds it, see `engine.prepare`), not at import."""
    global _built
    if _built is None:
        with _building:
            if _built is None:
                _built = _build()
    return _built


def _build() -> tuple[dict[int, str], re.Pattern[str]]:
    import opencc  # the library's dictionaries load here

    converter = opencc.OpenCC("t2s.json")
    table: dict[int, str] = {}
    for code in chain.from_iterable(_HAN_BLOCKS):
        simplified = converter.convert(chr(code))
        if len(simplified) == 1 and simplified != chr(code):
            table[code] = simplified
    # The class lists runs of consecutive code points as ranges: compiled one character at a time it takes a
    # noticeable part of a second, as ranges milliseconds.
    runs: list[list[int]] = []
    for code in sorted(table):
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    spans = "".join(chr(first) if first == last else f"{chr(first)}-{chr(last)}" for first, last in runs)
    return table, re.compile(f"[{spans}]")


def load_table() -> None:
    """Build the table now (the warm-up's work) rather than at the first search."""
    _table()


@functools.cache  # the table never changes once built: read at every index open and rebuild
def table_digest() -> str:
    """A digest of the characters folded and their forms: an index built with another table (another OpenCC
    release) reads some characters otherwise than queries now do, so it is rebuilt."""
    table, _ = _table()
    pairs = "".join(f"{chr(code)}{table[code]}" for code in sorted(table))
    return hashlib.sha256(pairs.encode("utf-8")).hexdigest()[:12]


def to_simplified(text: str) -> str:
    """`text` with each traditional character replaced by its simplified form; the same length. A text without
    one (the common case: any English text, most Chinese) is returned as it is."""
    if text.isascii():
        return text
    table, traditional = _table()
    return text if traditional.search(text) is None else text.translate(table)
