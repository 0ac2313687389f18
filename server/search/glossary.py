"""Aliases between words that mean the same thing (分词器 = tokenizer = tokenization), so a query in one
language also finds notes written in the other.

The built-in groups live in `server/data/glossary.toml`. A person adds their own in `<root>/glossary.md`, a
normal note (it is indexed and searchable like any other) whose list items define groups:

    # 术语表
    - 分词器 = tokenizer = 切词器
    - 显存 = VRAM = GPU memory
    - **投机解码** = speculative decoding

Every list item (`-`, `*` or `+`) holding at least one `=` (or full-width `＝`) is a group; `**` and
backticks around a term are ignored, and so is everything else in the file. A group sharing a term with
another group (built-in or not) is merged with it.

A glossary term is found in a query by comparing `analyzer.match_keys`: Han characters one by one (so
注意力 is found inside 多头注意力机制) and whole words (so `attention` is not found inside `flashattention`),
case and width folded. When one match lies inside a longer one (注意力 inside 多头注意力), only the longer
one counts. A term found across a space the query puts between two Han characters does not count where it
overlaps a term found within the words as written: in 混合精度 损失缩放 the person wrote two words, and 精度损失
(precision loss) is neither of them. This module only finds the aliases; `server.search` decides how much they weigh.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from server.search.analyzer import fold, is_han, match_keys

_LIST_ITEM = re.compile(r"^\s*[-*+]\s+(.+?)\s*$")
_EQUALS = re.compile(r"\s*[=＝]\s*")
_MARKUP = re.compile(r"^[*_`\s]+|[*_`\s]+$")

Keys = tuple[str, ...]


@dataclass(frozen=True)
class Expansion:
    """A glossary term found in a query, and the other words of its group."""

    matched: str  # the query's own text for the term
    start: int  # offsets into the folded query (`analyzer.fold`)
    end: int
    aliases: tuple[str, ...]


@lru_cache(maxsize=4096)
def _keys(term: str) -> Keys:
    return tuple(key for key, _, _ in match_keys(term))


def parse_glossary_markdown(text: str) -> list[list[str]]:
    """The groups defined by the list items of a person's glossary.md."""
    groups: list[list[str]] = []
    for line in text.splitlines():
        item = _LIST_ITEM.match(line)
        if item is None or not _EQUALS.search(item.group(1)):
            continue
        terms = [_MARKUP.sub("", term) for term in _EQUALS.split(item.group(1))]
        terms = [term for term in terms if _keys(term)]
        if len(terms) >= 2:
            groups.append(terms)
    return groups


class Glossary:
    """Groups of interchangeable terms, looked up by their match keys."""

    def __init__(self, groups: Iterable[Iterable[str]] = (), cased: Iterable[str] = ()) -> None:
        """`cased`: terms found in a query only as written, case and all: ZeRO, not the word zero."""
        self._cased: dict[Keys, set[str]] = {}
        for term in cased:
            self._cased.setdefault(_keys(term), set()).add(fold(term))
        merged: list[tuple[list[str], set[Keys]]] = []  # each group with the keys of its terms
        for group in groups:
            terms = [term.strip() for term in group if _keys(term)]
            group_keys = {_keys(term) for term in terms}
            touching = [g for g in merged if group_keys & g[1]]
            if touching:
                merged = [g for g in merged if not any(g is t for t in touching)]
                terms = [term for g, _ in touching for term in g] + terms
                group_keys = group_keys.union(*(keys for _, keys in touching))
            merged.append((terms, group_keys))
        self._groups = [group for group in (_dedupe(g) for g, _ in merged) if len(group) > 1]
        self._by_first: dict[str, list[tuple[Keys, int]]] = {}
        for index, group in enumerate(self._groups):
            for term in group:
                term_keys = _keys(term)
                self._by_first.setdefault(term_keys[0], []).append((term_keys, index))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda item: -len(item[0]))

    @classmethod
    def builtin(cls) -> Glossary:
        data = resources.files("server").joinpath("data/glossary.toml").read_text(encoding="utf-8")
        groups = tomllib.loads(data)["group"]
        return cls((group["terms"] for group in groups), [term for group in groups for term in group.get("cased", ())])

    def extended(self, groups: Iterable[Iterable[str]]) -> Glossary:
        """A new glossary holding these groups too, merged where they share a term."""
        return Glossary([*self._groups, *groups], [term for spellings in self._cased.values() for term in spellings])

    def __len__(self) -> int:
        return len(self._groups)

    def expand(self, query: str) -> list[Expansion]:
        keys = match_keys(query)
        words = [key for key, _, _ in keys]
        folded_query = fold(query)
        found: list[tuple[int, int, int]] = []  # (first key, past-the-end key, group)
        for i, word in enumerate(words):
            for candidate, group in self._by_first.get(word, ()):
                if tuple(words[i : i + len(candidate)]) != candidate:
                    continue
                spellings = self._cased.get(candidate)
                if spellings and folded_query[keys[i][1] : keys[i + len(candidate) - 1][2]] not in spellings:
                    continue  # the word zero, not ZeRO
                found.append((i, i + len(candidate), group))
        found = [m for m in found if not _across_a_space(m, found, folded_query, keys)]
        found.sort(key=lambda m: (m[0] - m[1], m[0]))
        kept: list[tuple[int, int, int]] = []
        for first, end, group in found:
            if any(k_first <= first and end <= k_end for k_first, k_end, _ in kept):
                continue
            kept.append((first, end, group))
        kept.sort()
        expansions: list[Expansion] = []
        for first, end, group in kept:
            matched_keys = tuple(words[first:end])
            aliases = tuple(term for term in self._groups[group] if _keys(term) != matched_keys)
            start, stop = keys[first][1], keys[end - 1][2]
            expansions.append(Expansion(folded_query[start:stop], start, stop, aliases))
        return expansions


def _across_a_space(match: tuple[int, int, int], found: list[tuple[int, int, int]], query: str,
                    keys: list[tuple[str, int, int]]) -> bool:
    """Whether a match spans whitespace the query puts between two Han characters while overlapping a match
    that does not: 精度损失 in 混合精度 损失缩放, where the person wrote 混合精度 and 损失缩放. Typed alone
    (精度 损失) it still counts."""
    def spaced(first: int, end: int) -> bool:
        return any(is_han(keys[k][0]) and is_han(keys[k + 1][0]) and query[keys[k][2] : keys[k + 1][1]].isspace()
                   for k in range(first, end - 1))

    first, end, _ = match
    return spaced(first, end) and any(other[0] < end and first < other[1] and not spaced(other[0], other[1])
                                      for other in found)


def _dedupe(terms: list[str]) -> list[str]:
    """Keep the first spelling of each term (`KV cache` and `kv-cache` are the same term)."""
    seen: set[Keys] = set()
    kept: list[str] = []
    for term in terms:
        keys = _keys(term)
        if keys not in seen:
            seen.add(keys)
            kept.append(term)
    return kept
