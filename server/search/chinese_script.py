"""Traditional Chinese characters read as their simplified forms (張量並行 as 张量并行), in notes and queries
alike, so a person who types either script finds notes written in the other, as case folding does for English.

One character for one, never a word for a word: a folded text keeps its length, so every offset into it (a
snippet's highlights, a term's position) still points into the text as written. Regional wording (記憶體 for
内存, 平行 for 并行) is a different word, not a different script: the glossary's work, not this module's.

The characters come from OpenCC's Traditional-to-Simplified table, each converted on its own; this is the only
module that imports `opencc`.
"""

from __future__ import annotations

import functools
from itertools import chain

# The unified Han blocks: Extension A and the basic block. Compatibility ideographs are unified by NFKC first.
_HAN_BLOCKS = (range(0x3400, 0x4DC0), range(0x4E00, 0xA000))


@functools.cache
def _table() -> tuple[dict[int, str], frozenset[str]]:
    """The traditional characters with a simplified form of one character, and the set of them. Built on first
    use (about 30 ms), not at import. A set, not a regular expression: one of 3,700 characters takes 0.2 s to
    compile, and testing a text against the set is as cheap as a search (about 7 ns a character)."""
    import opencc  # the library's dictionaries load here

    converter = opencc.OpenCC("t2s.json")
    table: dict[int, str] = {}
    for code in chain.from_iterable(_HAN_BLOCKS):
        simplified = converter.convert(chr(code))
        if len(simplified) == 1 and simplified != chr(code):
            table[code] = simplified
    return table, frozenset(map(chr, table))


def to_simplified(text: str) -> str:
    """`text` with each traditional character replaced by its simplified form; the same length. A text holding
    none (the common case) is returned as it is after one scan."""
    table, traditional = _table()
    return text if traditional.isdisjoint(text) else text.translate(table)
