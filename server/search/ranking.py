"""The ranking rules the index and the scan share: which sections match a query, and how much each field
and word weighs. Pure: no Whoosh, no files.

Which sections match at all (the coverage rule): each query word (a jieba word, or a letter/digit word)
weighs the square of its inverse document frequency over sections; words that only frame a question
(原理, 区别, example, ...) weigh nothing unless the query has nothing else. A section must hold at least
MIN_COVERAGE (65%) of the query's total weight, a word counting as held when it or one of its glossary
aliases is present (a Chinese word: the word itself, or all of its character bigrams). Rare words carry
a query's meaning, so an absent topic finds nothing (区块链共识算法: 区块链 occurs nowhere; 共识 and 算法
together are a small share), while a question padded with common words (为什么需要KV缓存) finds its topic.
A plain OR would return every note that mentions 算法; an AND of every bigram would miss notes that phrase
the topic a little differently.

How the matching sections rank: BM25F over title > heading > body > code (query-time boosts, linear,
unlike Whoosh's index-time field_boost, which BM25 saturates), glossary aliases at ALIAS_BOOST of a word's
weight, framing words at FRAMING_BOOST, then a bonus for the leading sections where neighbouring query
words occur close together (NEAR_SLOP positions) or the whole query occurs as written. A quoted phrase
must occur as written in the title, a heading or the body.

The scores are those Whoosh's own queries gave (an Or of per-unit Ors of per-field Terms, aliases as Ands,
SpanNear2 and Phrase for the bonus), computed here from the postings of a `TermSource` rather than by
Whoosh's matcher trees, which cost several times more in Python.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from server.analyzer import QueryPlan, Unit, framed

MIN_COVERAGE = 0.65
FIELD_BOOSTS = {"title": 4.0, "heading": 2.5, "body": 1.0, "code": 0.3}
TEXT_FIELDS = tuple(FIELD_BOOSTS)
ALIAS_FIELDS = ("title", "heading", "body")
PHRASE_FIELDS = ("title", "heading", "body")
ALIAS_BOOST = 0.7
NEAR_BOOST = 0.6
NEAR_SLOP = 8
EXACT_BOOST = 1.5
FRAMING_BOOST = 0.5
RESCORE_TOP = 50  # proximity needs positions, the costly part of a query: only the leading sections get it


@dataclass(frozen=True)
class IndexHit:
    """A section a search found, by the index or by the scan."""

    path: str
    section: str
    level: int
    score: float
    kind: str
    lecture: int | None
    text: str
    matched: frozenset[str]  # query terms found in this section, any field


def unit_weight(df: int, total: int) -> float:
    """How much of a query's meaning one word carries: its BM25 inverse document frequency, squared so that
    common framing words (原理, 区别, 计算) count for little beside the topic words."""
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5)) ** 2


@dataclass
class UnitMatches:
    own: list[set[int]]  # per unit: the sections matching it
    effective: list[set[int]]  # ... or matching an alternative that covers it
    terms: list[set[str]]  # per unit: the terms to mark in a snippet (its own and its alternatives')

    def terms_in(self, doc: int) -> frozenset[str]:
        """The terms of the units that `doc` matches."""
        return frozenset(t for i, docs in enumerate(self.effective) if doc in docs for t in self.terms[i])


def match_units(plan: QueryPlan, term_docs: Callable[[str], set[int]]) -> UnitMatches:
    """Which sections match each query unit, given the sections holding a term (in any field)."""
    cache: dict[str, set[int]] = {}

    def docs_of(text: str) -> set[int]:
        if text not in cache:
            cache[text] = term_docs(text)
        return cache[text]

    def unit_docs(unit: Unit) -> set[int]:
        docs: set[int] = set()
        for option in unit.options:
            found = set(docs_of(option[0]))
            for term in option[1:]:
                found &= docs_of(term)
            docs |= found
        return docs

    own = [unit_docs(unit) for unit in plan.units]
    effective = [set(docs) for docs in own]
    terms = [set(unit.terms) for unit in plan.units]
    for alt in plan.alternatives:
        docs = set.intersection(*(unit_docs(unit) for unit in alt.units))
        for index in alt.covers:
            effective[index] |= docs
            terms[index].update(term for unit in alt.units for term in unit.terms)
    return UnitMatches(own, effective, terms)


def covering(matched: UnitMatches, weights: list[float], min_coverage: float) -> set[int]:
    """The sections holding at least `min_coverage` of the query's weight."""
    needed = min_coverage * sum(weights)
    gained: dict[int, float] = {}
    for docs, weight in zip(matched.effective, weights, strict=True):
        for doc in docs:
            gained[doc] = gained.get(doc, 0.0) + weight
    return {doc for doc, weight in gained.items() if weight >= needed - 1e-9}


class TermSource(Protocol):
    """One commit of the index as ranking reads it."""

    @property
    def sections(self) -> int:
        """How many sections the index holds."""
        ...

    def docs(self, field: str, term: str) -> Collection[int]:
        """The sections holding `term` in `field`."""
        ...

    def scores(self, field: str, term: str, within: Collection[int]) -> dict[int, float]:
        """The BM25 score of `term` in `field` of each section of `within` that holds it."""
        ...

    def bm25(self, field: str, term: str, doc: int) -> float:
        """The BM25 score of `term` in `field` of `doc`, a section holding it."""
        ...

    def positions(self, field: str, term: str, doc: int) -> Sequence[int]:
        """Where `term` occurs in `field` of `doc`, a section holding it, in increasing order."""
        ...


@dataclass
class Ranking:
    scores: dict[int, float]  # every section that matches, and its score
    matched: UnitMatches


def rank(
    plan: QueryPlan,
    terms: TermSource,
    *,
    min_coverage: float,
    limit: int,
    restrict: Callable[[set[int]], set[int]] | None = None,
) -> Ranking | None:
    """The sections matching `plan` (the coverage rule, the quoted phrases, then `restrict`), scored by BM25F
    plus the proximity bonus for the leading ones; None when no section matches."""
    matched = match_units(plan, lambda text: any_field_docs(terms, text))
    weights = framed(plan.units, [unit_weight(len(docs), max(1, terms.sections)) for docs in matched.own])
    allowed = covering(matched, weights, min_coverage)
    if restrict is not None and allowed:
        allowed = restrict(allowed)
    for phrase in plan.phrases:
        allowed = {doc for doc in allowed if any(_has_phrase(terms, field, phrase, doc) for field in PHRASE_FIELDS)}
    if not allowed:
        return None
    scores = _bm25f(plan, terms, allowed)
    leading = sorted(scores, key=lambda doc: (-scores[doc], doc))[: max(RESCORE_TOP, limit * 5)]
    for doc, bonus in _proximity(plan, terms, leading).items():
        scores[doc] += bonus
    return Ranking(scores, matched)


def any_field_docs(terms: TermSource, text: str) -> set[int]:
    """The sections holding `text` in any text field."""
    found: set[int] = set()
    for field in TEXT_FIELDS:
        found.update(terms.docs(field, text))
    return found


Scores = dict[int, float]


def _add(total: Scores, more: Scores) -> Scores:
    """Or: the sections matching either, their scores summed where both match."""
    for doc, score in more.items():
        total[doc] = total.get(doc, 0.0) + score
    return total


def _both(parts: Iterable[Scores]) -> Scores:
    """And: the sections matching every part, their scores summed."""
    result: Scores | None = None
    for part in parts:
        result = dict(part) if result is None else {doc: s + part[doc] for doc, s in result.items() if doc in part}
        if not result:
            return {}
    return result or {}


def _term(terms: TermSource, text: str, boost: float, fields: Sequence[str], within: set[int]) -> Scores:
    scores: Scores = {}
    for field in fields:
        field_boost = boost * FIELD_BOOSTS[field]
        for doc, score in terms.scores(field, text, within).items():
            scores[doc] = scores.get(doc, 0.0) + score * field_boost
    return scores


def _unit(terms: TermSource, unit: Unit, boost: float, fields: Sequence[str], within: set[int]) -> Scores:
    scores: Scores = {}
    for option in unit.options:
        _add(scores, _both(_term(terms, text, boost, fields, within) for text in option))
    return scores


def _bm25f(plan: QueryPlan, terms: TermSource, within: set[int]) -> Scores:
    """BM25F over the fields, per unit; aliases weigh less (and skip code)."""
    scores: Scores = {}
    for unit in plan.units:
        _add(scores, _unit(terms, unit, FRAMING_BOOST if unit.framing else 1.0, TEXT_FIELDS, within))
    for alt in plan.alternatives:
        _add(scores, _both(_unit(terms, unit, ALIAS_BOOST, ALIAS_FIELDS, within) for unit in alt.units))
    return scores


def _proximity(plan: QueryPlan, terms: TermSource, leading: list[int]) -> Scores:
    """The bonus for neighbouring query words found close together in the body (in either order, 1 to
    NEAR_SLOP positions apart), and for the query found there as written."""
    bonus: Scores = {}
    pairs = [(a.anchor, b.anchor) for a, b in zip(plan.units, plan.units[1:], strict=False) if a.anchor != b.anchor]
    exact = list(plan.sequence) if 1 < len(plan.sequence) <= 12 else []
    if not pairs and not exact:
        return bonus
    for doc in leading:
        for left, right in pairs:
            if _holds(terms, "body", (left, right), doc) and _near(
                terms.positions("body", left, doc), terms.positions("body", right, doc)
            ):
                near = terms.bm25("body", left, doc) * NEAR_BOOST + terms.bm25("body", right, doc) * NEAR_BOOST
                bonus[doc] = bonus.get(doc, 0.0) + near
        if exact and _has_phrase(terms, "body", exact, doc):
            bonus[doc] = bonus.get(doc, 0.0) + sum(terms.bm25("body", text, doc) for text in exact) * EXACT_BOOST
    return bonus


def _holds(terms: TermSource, field: str, texts: Iterable[str], doc: int) -> bool:
    return all(doc in terms.docs(field, text) for text in texts)


def _near(left: Sequence[int], right: Sequence[int]) -> bool:
    """Whether some position of `left` lies 1 to NEAR_SLOP positions from some position of `right`."""
    for pos in left:
        i = bisect_left(right, pos - NEAR_SLOP)
        while i < len(right) and right[i] <= pos + NEAR_SLOP:
            if right[i] != pos:
                return True
            i += 1
    return False


def _has_phrase(terms: TermSource, field: str, words: Sequence[str], doc: int) -> bool:
    """Whether `words` occur in `field` of `doc` at consecutive positions."""
    if not _holds(terms, field, words, doc):
        return False
    following = [set(terms.positions(field, word, doc)) for word in words[1:]]
    return any(
        all(start + i in positions for i, positions in enumerate(following, 1))
        for start in terms.positions(field, words[0], doc)
    )
