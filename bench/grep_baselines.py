"""Grep-style baselines for the search-quality benchmark: what a person gets with no index at all.

A system here is `Callable[[str], list[str]]`: query text in, corpus-relative paths out, best first, one
entry per file. Every file text is read once, lowercased and kept in memory (the corpus is a few MB), so
each query is a plain substring scan. Matching is case-insensitive and purely literal: no tokenizing, no
stemming, no synonyms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

System = Callable[[str], list[str]]


def load_texts(root: Path) -> dict[str, str]:
    """Every `*.md` under `root` (dot folders and dot files skipped), keyed by relative posix path."""
    texts: dict[str, str] = {}
    for path in sorted(root.rglob("*.md")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        texts[relative.as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def _lowered(corpus: Path | Mapping[str, str]) -> dict[str, str]:
    texts = load_texts(corpus) if isinstance(corpus, Path) else corpus
    return {path: text.lower() for path, text in texts.items()}


def split_terms(query: str) -> list[str]:
    """Whitespace-separated terms, lowercased, without repeats.

    A run of Chinese characters with no spaces stays one term, which is what typing it into grep does.
    """
    terms: list[str] = []
    for term in query.lower().split():
        if term not in terms:
            terms.append(term)
    return terms


def grep_literal(corpus: Path | Mapping[str, str]) -> System:
    """Files containing the whole query string, most occurrences first."""
    texts = _lowered(corpus)

    def search(query: str) -> list[str]:
        needle = query.strip().lower()
        if not needle:
            return []
        counts = [(text.count(needle), path) for path, text in texts.items()]
        return [path for count, path in sorted(counts, key=lambda c: (-c[0], c[1])) if count > 0]

    return search


def grep_any(corpus: Path | Mapping[str, str]) -> System:
    """Files containing any query term, ranked by distinct terms present, then total occurrences."""
    texts = _lowered(corpus)

    def search(query: str) -> list[str]:
        terms = split_terms(query)
        scored: list[tuple[int, int, str]] = []
        for path, text in texts.items():
            counts = [text.count(term) for term in terms]
            present = sum(1 for count in counts if count > 0)
            if present:
                scored.append((-present, -sum(counts), path))
        return [path for _, _, path in sorted(scored)]

    return search
