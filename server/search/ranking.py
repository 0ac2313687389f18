"""The ranking rules: which sections match a query, and how they rank. Pure: no Whoosh, no files.

Which sections match at all (the coverage rule): each query word (a jieba word, or a letter/digit word)
weighs the square of its inverse document frequency over sections; words that only frame a question
(原理, 区别, example, ...) weigh nothing unless the query has nothing else. A section holding at least
MIN_COVERAGE (65%) of the query's total weight is a full match, a word counting as held when it or one of its
glossary aliases is present (a Chinese word: the word itself, or all of its character bigrams). Rare words
carry a query's meaning, so an absent topic finds nothing (区块链共识算法: 区块链 occurs nowhere; 共识 and 算法
together are a small share), while a question padded with common words (为什么需要KV缓存) finds its topic.
A topic whose words all occur, but never together, is absent too: the two words that carry most of a keyword
query are what it is about (马尔可夫 and 决策 in 马尔可夫决策过程), and when no note holds both and no section
holds two of its words, the notes hold each for another reason; in a question, a compound whose words never meet
in a section is absent (垃圾回收), and in any query so are two words written side by side that no section holds
together (协同过滤, face recognition; two English words of a question: no note) or, for keywords of one script,
within one clause (进程调度, graph attention), and a keyword compound or a word with parts that no section writes
together (对抗样本训练, DP-SGD). These rules are `absence`'s; the index and the scan apply them alike.

Partial matches (`partial_rule`) are sections below that share that still hold the query's most
distinctive present words, or all but one of three or more keywords; the caller shows them after the full ones,
marked.

How matching sections rank: BM25F. All parts of a section are one field whose occurrences weigh their part's
boost (title > headings > body > code, ZONE_BOOSTS), so a term's weight in a section is
saturated once, against the section's weighted length. Glossary aliases count at ALIAS_BOOST, framing words
at FRAMING_BOOST, then the leading sections get a bonus where neighbouring query words occur close together in
the body (NEAR_SLOP positions) or the whole query occurs there as written. A quoted phrase must occur as
written in the title, a heading or the body. What the other sections of a section's note hold of the query
raises its score too (`note_evidence`).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Protocol

import numpy as np
import numpy.typing as npt

from server.search.analyzer import (
    BODY,
    CODE,
    HEADING,
    TITLE,
    ZONE_BASES,
    Alternative,
    QueryPlan,
    Unit,
    framed,
)
from server.search.questions import applied_spans, compared_spans

MIN_COVERAGE = 0.65
PARTIAL_MIN_COVERAGE = 0.4  # a partial match of keywords holds this share of the query's weight, and its rarest
# word found anywhere or all but one of its words: a section holding only common words is noise (a question's:
# QUESTION_MIN_COVERAGE)
QUESTION_MIN_COVERAGE = 0.25  # a question's extra words are expected to be missing: a partial match holds this
ABSENT_SHARE = 0.5  # query words found in no note carrying this share of its weight: the topic is not covered
ZONE_BOOSTS = {TITLE: 4.0, HEADING: 2.5, BODY: 1.0, CODE: 0.3}
K1 = 1.2
B = 0.75
ALIAS_BOOST = 0.7
NEAR_BOOST = 0.6
NEAR_SLOP = 8
WRITTEN_NEAR_SLOP = 24  # words of one name are written together when this close: in one clause (a Han character
# takes a position). 编译器，旨在通过最少的代码改动来显著加速 (17) is; words of two sentences never are (SENTENCE_GAP)
NAME_SLOP = 1  # two English words of one name follow each other at once: gradient KL penalty is no gradient penalty
PART_SLOP = 2  # a word's parts written apart follow each other this closely: Flash Attention, KV (key) cache
EXACT_BOOST = 1.5
FRAMING_BOOST = 0.5
RESCORE_TOP = 25  # proximity needs positions, the costly part of a query: only the leading sections get it
NEAR_CHECK_TOP = 400  # index: words found together in more sections than this are taken as related without
# reading positions (a bound on the cost of the side-by-side rule; the scan, used only without an index, reads all)
PHRASE_CHECK_TOP = 2000  # quoted phrases are checked in the best-scoring sections, this many at most

CAPITALS_CHECK_TOP = 64  # sections an acronym's capitals are checked in (its stored text read), at most

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
Written = Callable[[str, "IntArray"], bool]  # whether one of these sections writes the word in capitals
AliasWritten = Callable[[Sequence[Unit], "IntArray"], bool]  # whether one of these sections writes an alias's
# words together


class PostingsLike(Protocol):
    @property
    def docs(self) -> IntArray: ...

    @property
    def weights(self) -> FloatArray: ...


class TermSource(Protocol):
    """One commit of the index as ranking reads it."""

    @property
    def size(self) -> int:
        """Document numbers run from 0 to size - 1."""
        ...

    @property
    def sections(self) -> int:
        """How many live sections there are."""
        ...

    @property
    def average_length(self) -> float: ...

    @property
    def lengths(self) -> FloatArray:
        """Each document's weighted length."""
        ...

    def postings(self, term: str) -> PostingsLike: ...

    def positions(self, term: str, docs: Sequence[int]) -> dict[int, list[int]]: ...


NAMED_BOOST = 3.0  # in a question, a word written as a name (GELU, PyTorch) is what the question is about


def unit_weight(df: int, total: int, *, question: bool = False, named: bool = False) -> float:
    """How much of a query's meaning one word carries: its BM25 inverse document frequency, squared so that
    common framing words (原理, 区别, 计算) count for little beside the topic words. In a question the rare
    words are as often the asker's own phrasing (slower, hand-written) as its topic, so the frequency counts
    once, not squared, and a word written as a name counts NAMED_BOOST times."""
    idf = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
    if question:
        return idf * (NAMED_BOOST if named else 1.0)
    return idf**2


@dataclass(frozen=True)
class KeywordPartials:
    """Which sections may follow the full matches of keywords: those holding one of the query's names, however
    little else (RoPE beside mistakes, implementing: the keywords' name is what they are about); else those
    holding PARTIAL_MIN_COVERAGE of the query's weight and one of its rarest words the notes hold (weighing at
    least half the rarest: of two equally rare words, a section may hold either) or all but a few of three or more
    words the notes hold (`_lacking`: 矩阵乘法, 分块 and 共享内存 of 矩阵乘法 分块 共享内存 数据复用, whose rarest word
    is the one the tiling note lacks; the two commonest of 模型 训练 蒸馏 hold too little). The index reads it over
    every section at once (`admitted`), the scan section by section (`admits`)."""

    rare: frozenset[int]
    names: frozenset[int]
    content: frozenset[int]  # the content words the notes hold, as `Ranking.words_held` counts them

    @classmethod
    def of(cls, plan: QueryPlan, weights: Sequence[float], held: Sequence[bool], names: Collection[int]
           ) -> KeywordPartials:
        present = [i for i, weight in enumerate(weights) if weight and held[i]]
        heaviest = max((weights[i] for i in present), default=0.0)
        return cls(frozenset(i for i in present if weights[i] >= heaviest / 2), frozenset(names),
                   frozenset(i for i in present if not plan.units[i].framing))

    def admits(self, share: float, holding: Collection[int]) -> bool:
        """Whether a section holding `share` of the query's weight and the query words `holding` may follow."""
        held = set(holding)
        if held & self.names:
            return True
        return share >= PARTIAL_MIN_COVERAGE and (
            bool(held & self.rare) or self._all_but_a_few(len(held & self.content)))

    def admitted(self, ranking: Ranking) -> npt.NDArray[np.bool_]:
        """`admits` for every section of the index."""
        rule = ranking.coverage >= PARTIAL_MIN_COVERAGE
        if not self.rare:
            return rule & False
        rare: npt.NDArray[np.bool_] = np.logical_or.reduce([ranking.units[i] for i in self.rare])
        admitted = (rule & rare) | ranking.holding_a_name()
        if len(self.content) >= 3:
            admitted |= rule & (ranking.words_held() >= len(self.content) - self._lacking())
        return admitted

    def _all_but_a_few(self, count: int) -> bool:
        return len(self.content) >= 3 and count >= len(self.content) - self._lacking()

    def _lacking(self) -> int:
        """How many of the keywords a partial match may lack: one of three to five, a third of more (two of
        tiled matrix multiplication shared memory data reuse, whose tiling notes never write data reuse)."""
        return max(1, len(self.content) // 3)


@dataclass
class Ranking:
    """Every section holding some of the query, with how much of it and how well."""

    score: FloatArray  # per document: BM25F plus bonuses (0 where nothing matched)
    coverage: FloatArray  # per document: the share of the query's weight held
    units: list[npt.NDArray[np.bool_]]  # per query unit: which documents hold it (directly or via an alias)
    weights: list[float]  # per unit, as the coverage rule weighs it
    plan: QueryPlan
    through: list[npt.NDArray[np.bool_] | None] = field(default_factory=list)  # per alternative: who holds it
    names: list[int] = field(default_factory=list)  # the query's names some section holds (`names_held`)

    def full(self, allowed: npt.NDArray[np.bool_] | None = None) -> IntArray:
        """The full matches, best first."""
        return self._ordered(self.fully_matched(), allowed)

    def fully_matched(self) -> npt.NDArray[np.bool_]:
        """Per document: whether it is a full match."""
        matched: npt.NDArray[np.bool_] = self.coverage >= MIN_COVERAGE - 1e-6
        return matched

    def partial(self, rule: npt.NDArray[np.bool_], allowed: npt.NDArray[np.bool_] | None = None) -> IntArray:
        """The sections `rule` admits that are not full matches, best first: those holding one of the query's
        names (`names_held`) before the others, then by score for a question (its rare words may be the asker's
        phrasing), else by how many of the keywords they hold, then score. Not by the share of the query's weight
        held: that puts any section holding the rarest word first (数据复用 of 矩阵乘法 分块 共享内存 数据复用, held
        in passing by notes on data reuse across epochs) before those holding the rest."""
        chosen = rule & (self.coverage < MIN_COVERAGE - 1e-6) & (self.score > 0)
        if allowed is not None:
            chosen &= allowed
        docs = np.flatnonzero(chosen)
        nameless = ~self.holding_a_name()[docs]
        if self.plan.question:
            order = np.lexsort((-self.score[docs], nameless))
        else:
            order = np.lexsort((-self.score[docs], -self.words_held()[docs], nameless))
        return docs[order].astype(np.int32)

    def words_held(self) -> IntArray:
        """Per document: how many of the query's content words (weighing something) it holds."""
        held = np.zeros(len(self.score), dtype=np.int32)
        for unit, weight, holding in zip(self.plan.units, self.weights, self.units, strict=True):
            if weight > 0 and not unit.framing:
                held += holding
        return held

    def held_counts(self) -> list[int]:
        """How many sections hold each query unit."""
        return [int(np.count_nonzero(holding)) for holding in self.units]

    def holding_a_name(self) -> npt.NDArray[np.bool_]:
        """Per document: whether it holds one of the query's names (all False when the query names nothing)."""
        if not self.names:
            return np.zeros(len(self.score), dtype=np.bool_)
        holding: npt.NDArray[np.bool_] = np.logical_or.reduce([self.units[i] for i in self.names])
        return holding

    def _ordered(self, mask: npt.NDArray[np.bool_], allowed: npt.NDArray[np.bool_] | None) -> IntArray:
        if allowed is not None:
            mask = mask & allowed
        docs = np.flatnonzero(mask & (self.score > 0))
        return docs[np.argsort(-self.score[docs], kind="stable")].astype(np.int32)

    def matched_units(self, doc: int) -> list[int]:
        return [i for i, held in enumerate(self.units) if held[doc]]

    def missing_units(self, doc: int) -> list[int]:
        """The query's content words (not framing ones) that `doc` does not hold."""
        return [i for i, (unit, held) in enumerate(zip(self.plan.units, self.units, strict=True))
                if not held[doc] and not unit.framing]

    def aliases_used(self, doc: int) -> list[str]:
        """The glossary aliases `doc` holds, for query words it holds only through them."""
        used: list[str] = []
        for alt, holding in zip(self.plan.alternatives, self.through, strict=False):
            if holding is not None and holding[doc] and alt.text not in used:
                used.append(alt.text)
        return used

    def matched_terms(self, doc: int) -> frozenset[str]:
        """The query terms to mark in a snippet of `doc`: those of the units it holds, aliases included."""
        found: set[str] = set()
        for index in self.matched_units(doc):
            found.update(self.plan.units[index].terms)
            for alt in self.plan.alternatives:
                if index in alt.covers:
                    found.update(term for unit in alt.units for term in unit.terms)
        return frozenset(found)


Together = Callable[[Sequence[int]], bool]  # whether some section holds all of these query units


def spelled_in_parts(unit: Unit) -> bool:
    """A unit a section may hold as separate words that must be written together: a keyword compound
    (对抗样本训练), a word with parts (DP-SGD as dp and sgd, FlashAttention as flash and attention) or a Chinese
    word of three characters or more, searched by its character pairs too (语法分析 where a note cuts it otherwise)."""
    return unit.joined or any(len(option) > 1 for option in unit.options)


def rank(plan: QueryPlan, terms: TermSource, in_capitals: Written | None = None,
         alias_written: AliasWritten | None = None) -> Ranking:
    """Score every section holding some of `plan` and say how much of it each holds. An acronym (CAP) is held
    nowhere when no section holding it writes it in capitals (`in_capitals`: whether one of the sections it is
    given does; the index folds case, so \\cap and CapEx hold cap too), unless a glossary alias stands for it
    (its alias may be what the notes hold) or it is held in more than CAPITALS_CHECK_TOP sections (then surely
    written so somewhere). An alias of several words (bubble sort for 冒泡排序, 快速排序 for quicksort) stands for a
    query word no section holds only where a section writes its words together (`alias_written`): a pipeline
    bubble and a sort lines later are not it."""
    size = terms.size
    held: list[npt.NDArray[np.bool_]] = []
    score = np.zeros(size, dtype=np.float32)
    aliased = plan.aliased
    for i, unit in enumerate(plan.units):
        unit_score = _unit(terms, unit)
        if unit.acronym and i not in aliased and in_capitals is not None:
            sections = np.flatnonzero(unit_score).astype(np.int32)
            if len(sections) <= CAPITALS_CHECK_TOP and not in_capitals(unit.text, sections):
                unit_score[:] = 0
        held.append(unit_score > 0)
        score += unit_score * (FRAMING_BOOST if unit.framing else 1.0)
    direct = [h.copy() for h in held]
    through: list[npt.NDArray[np.bool_] | None] = []
    found: list[Alternative] = []
    for alt in plan.alternatives:
        alt_score = _all_of(terms, alt.units, ALIAS_BOOST)
        if alt_score is None:
            continue
        holding = alt_score > 0
        if not holding.any() or (
                alias_written is not None and (len(alt.units) > 1 or spelled_in_parts(alt.units[0]))
                and not all(direct[i].any() for i in alt.covers)
                and not alias_written(alt.units, np.flatnonzero(holding).astype(np.int32))):
            continue
        found.append(alt)
        only_alias = np.zeros(size, dtype=np.bool_)
        for index in alt.covers:
            only_alias |= holding & ~direct[index]
            held[index] = held[index] | holding
        through.append(only_alias)
        score += alt_score
    total = max(1, terms.sections)
    weights = framed(plan.units, [unit_weight(int(np.count_nonzero(h)), total, question=plan.question, named=u.named)
                                  for u, h in zip(plan.units, held, strict=True)])
    coverage = np.zeros(size, dtype=np.float32)
    whole = sum(weights)
    if whole > 0:
        for weight, holding in zip(weights, held, strict=True):
            if weight:
                coverage[holding] += weight / whole
    if len(found) < len(plan.alternatives):
        plan = replace(plan, alternatives=found)  # the ranking's plan: only the aliases some section holds
    ranking = Ranking(score=score, coverage=coverage, units=held, weights=weights, plan=plan, through=through,
                      names=names_held(plan, [bool(holding.any()) for holding in held]))
    if ranking.names:  # no full match without the query's name
        nameless = ~ranking.holding_a_name()
        coverage[nameless] = np.minimum(coverage[nameless], MIN_COVERAGE - NAMELESS_MARGIN)
    if plan.question and (sides := compared_sides(plan, ranking.held_counts())):
        one_sided = ~np.logical_and.reduce([held[i] for i in sides])  # a comparison without each thing compared
        coverage[one_sided] = np.minimum(coverage[one_sided], MIN_COVERAGE - NAMELESS_MARGIN)
    if plan.question and (sides := applied_sides(plan, ranking.held_counts())):  # counts only for a question
        coverage[~np.logical_and.reduce([held[i] for i in sides])] = 0.0  # says nothing of the two together
    if plan.phrases:
        _require_phrases(ranking, terms)
    return ranking


NAMELESS_MARGIN = 1e-3  # how far below MIN_COVERAGE a section without the question's name is held


def compared_sides(plan: QueryPlan, df: Sequence[int]) -> list[int]:
    """For a question comparing things (`compared_spans`), the word that names each, among the content words in its
    span that the others do not write too (not parallel of "data parallel and tensor parallel training"): the
    rarest written as a name (`df`: how many sections hold each unit; GELU of "a hand-written GELU"), else the
    first (tensor; training is as common, and only says what of). A section lacking one of them says nothing of
    how the two differ. [] for any other question, or when one thing has no such word in the notes."""
    spans = compared_spans(plan.text) if plan.question else []
    sides = []
    for start, end in spans:
        others = [plan.text[a:b].lower() for a, b in spans if (a, b) != (start, end)]
        own = [i for i, unit in enumerate(plan.units) if start <= unit.start and unit.end <= end and df[i]
               and not unit.framing and not any(unit.text in other for other in others)]
        if not own:
            return []
        named = [i for i in own if plan.units[i].named]
        sides.append(min(named, key=lambda i: df[i]) if named else own[0])
    return sides


def applied_sides(plan: QueryPlan, df: Sequence[int]) -> list[int]:
    """For a question asking whether its subject applies to a thing (`applied_spans`: RoPE 能用在时间序列异常检测上吗),
    the word naming each of the two: the rarest of its content words the notes hold, one written as a name
    first. A section lacking either is no answer at all, not even a partial one: RoPE's own sections say nothing
    of anomaly detection. [] for any other question, or when the notes hold no word of one of the two."""
    sides = []
    for start, end in applied_spans(plan.text) if plan.question else []:
        own = [i for i, unit in enumerate(plan.units)
               if start <= unit.start and unit.end <= end and df[i] and unit.topical and not unit.framing]
        if not own:
            return []
        sides.append(min(own, key=lambda i: (not plan.units[i].named, df[i], i)))
    return sides


def applied_names(plan: QueryPlan) -> list[str]:
    """The subject and the target of a question asking whether one applies to the other, as written from their
    first content word to their last (BPE tokenization, DNA sequences), to say that no note holds them together."""
    names = []
    for start, end in applied_spans(plan.text):
        inside = [unit for unit in plan.units if start <= unit.start and unit.end <= end and not unit.framing]
        if inside:
            names.append(plan.text[inside[0].start : inside[-1].end])
    return names


def names_held(plan: QueryPlan, held: Sequence[bool]) -> list[int]:
    """The query's names some note holds (GQA, RoPE, PyTorch): what it is about, so a section holding none of them
    is at best a partial match, however much of the rest it holds (设计 and 动机 of GQA的设计动机; common and
    implementing of "common mistakes when implementing RoPE", rarer words than RoPE)."""
    return [i for i, unit in enumerate(plan.units) if unit.named and held[i]]


def rescore(ranking: Ranking, terms: TermSource, leading: Sequence[int]) -> None:
    """Add the proximity bonus to the leading sections (in place)."""
    plan = ranking.plan
    pairs = [(a.anchor, b.anchor) for a, b in zip(plan.units, plan.units[1:], strict=False) if a.anchor != b.anchor]
    exact = plan.sequence if 1 < len(plan.sequence) <= 12 else ()
    if not leading or (not pairs and not exact):
        return
    wanted = {text for pair in pairs for text in pair} | {text for text, _ in exact}
    docs = sorted(int(doc) for doc in leading)
    where = {text: terms.positions(text, docs) for text in wanted}
    scores = {text: _term_scores_at(terms, text, docs) for text in wanted}
    for doc in docs:
        bonus = 0.0
        for left, right in pairs:
            lpos, rpos = _body(where[left].get(doc)), _body(where[right].get(doc))
            if lpos and rpos and _near(lpos, rpos):
                bonus += (scores[left].get(doc, 0.0) + scores[right].get(doc, 0.0)) * NEAR_BOOST
        if exact and _has_sequence([(_body(where[text].get(doc)), offset) for text, offset in exact]):
            bonus += sum(scores[text].get(doc, 0.0) for text, _ in exact) * EXACT_BOOST
        ranking.score[doc] += bonus


def _bm25(terms: TermSource, postings: PostingsLike) -> FloatArray:
    df = len(postings.docs)
    total = max(1, terms.sections)
    idf = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
    tf = postings.weights
    norm = K1 * (1.0 - B + B * terms.lengths[postings.docs] / max(terms.average_length, 1e-6))
    return (idf * tf * (K1 + 1.0) / (tf + norm)).astype(np.float32)


def _term_scores_at(terms: TermSource, text: str, docs: Sequence[int]) -> dict[int, float]:
    postings = terms.postings(text)
    if not len(postings.docs):
        return {}
    at = np.searchsorted(postings.docs, docs)
    scores = _bm25(terms, postings)
    found = {}
    for doc, i in zip(docs, at, strict=True):
        if i < len(postings.docs) and postings.docs[i] == doc:
            found[doc] = float(scores[i])
    return found


def _option(terms: TermSource, option: tuple[str, ...]) -> FloatArray | None:
    """The sections holding every term of `option`, scored by the sum of the terms' BM25 (dense)."""
    total: FloatArray | None = None
    for text in option:
        postings = terms.postings(text)
        if not len(postings.docs):
            return None
        dense = np.zeros(terms.size, dtype=np.float32)
        dense[postings.docs] = _bm25(terms, postings)
        total = dense if total is None else np.where((total > 0) & (dense > 0), total + dense, 0).astype(np.float32)
    return total


def _unit(terms: TermSource, unit: Unit) -> FloatArray:
    """A unit's score: its options' summed, or for a joined compound the best of its spellings (测试+试集+污染
    or 测试+集污+污染 are one compound, not two)."""
    score = np.zeros(terms.size, dtype=np.float32)
    for option in unit.options:
        found = _option(terms, option)
        if found is not None:
            score = np.maximum(score, found) if unit.joined else score + found
    return score


def _all_of(terms: TermSource, units: Sequence[Unit], boost: float) -> FloatArray | None:
    """Sections holding every one of `units` (an alias's words), their summed scores times `boost`."""
    total: FloatArray | None = None
    for unit in units:
        found = _unit(terms, unit)
        total = found if total is None else np.where((total > 0) & (found > 0), total + found, 0).astype(np.float32)
    return None if total is None else total * boost


def _require_phrases(ranking: Ranking, terms: TermSource) -> None:
    """Keep only the sections where every quoted phrase occurs as written (title, headings or body)."""
    candidates = np.flatnonzero(ranking.score > 0)
    if len(candidates) > PHRASE_CHECK_TOP:
        candidates = candidates[np.argsort(-ranking.score[candidates])[:PHRASE_CHECK_TOP]]
    docs = sorted(int(doc) for doc in candidates)
    keep = np.zeros(len(ranking.score), dtype=np.bool_)
    for doc in docs:
        keep[doc] = True
    for phrase in ranking.plan.phrases:
        where = {text: terms.positions(text, docs) for text, _ in phrase}
        for doc in docs:
            if keep[doc] and not _has_sequence([(_before_code(where[text].get(doc)), at) for text, at in phrase]):
                keep[doc] = False
    ranking.score[~keep] = 0
    ranking.coverage[~keep] = 0


def _body(positions: list[int] | None) -> list[int]:
    if not positions:
        return []
    return [p for p in positions if ZONE_BASES[BODY] <= p < ZONE_BASES[CODE]]


def _before_code(positions: list[int] | None) -> list[int]:
    return [p for p in positions or () if p < ZONE_BASES[CODE]]


def close_in_section(positions: Sequence[Sequence[int]]) -> bool:
    """Whether words (each: its positions in one section, sorted) occur all within WRITTEN_NEAR_SLOP of one
    position of the first: written in one clause."""
    first, *rest = positions
    for pos in first:
        if all((i := bisect_left(other, pos - WRITTEN_NEAR_SLOP)) < len(other) and other[i] <= pos + WRITTEN_NEAR_SLOP
               for other in rest):
            return True
    return False


def written_whole(unit: Unit, where: Mapping[str, Sequence[int] | None]) -> bool:
    """Whether a section (or a part of a note) whose positions of `unit`'s terms (`whole_terms`) are `where`
    writes it: a keyword compound of two words or more with its words one after another (`_words_in_order`: 课程
    and 学习 in one clause are a course and learning, not 课程学习); any other word by one of its options, as
    `spelled_in_section` reads them."""
    if _compound_words(unit):
        return _words_in_order(unit, where)
    return any(all(where.get(term) for term in option)
               and spelled_in_section(unit, [sorted(where.get(term) or ()) for term in option])
               for option in unit.options)


def _compound_words(unit: Unit) -> list[str]:
    """A keyword compound's words of two characters or more, when it has two or more (课程|学习, 参数|服务器); []
    for one word beside lone characters (图|神经网络: read as its options are) and any other unit."""
    words = [word for word in unit.words if len(word) > 1] if unit.joined else []
    return words if len(words) > 1 else []


def character_pairs(unit: Unit) -> set[str]:
    """The character pairs the index holds where a note writes the words of a keyword compound (every pair of
    neighbouring characters of a Chinese stretch is a term), and those joining a lone character at either end to
    its neighbour (隐马 of 隐马尔可夫模型); empty for any other unit."""
    if not _compound_words(unit):
        return set()
    words = unit.words
    pairs = {word[i : i + 2] for word in words if len(word) > 1 for i in range(len(word) - 1)}
    if len(words[0]) == 1 and len(words[1]) > 1:
        pairs.add(words[0] + words[1][0])
    if len(words[-1]) == 1 and len(words[-2]) > 1:
        pairs.add(words[-2][-1] + words[-1])
    return pairs


def joined_seams(unit: Unit) -> list[str]:
    """The character pairs where the words of a keyword compound of several words meet when it is written as is
    (型内 and 存计 of 模型内存计算); [] for any other unit."""
    if not _compound_words(unit):
        return []
    words = unit.words
    return [left[-1] + right[0] for left, right in pairwise(words)
            if len(left) > 1 and len(right) > 1]


def whole_terms(unit: Unit) -> set[str]:
    """The terms whose positions `written_whole` reads."""
    return unit.terms | character_pairs(unit)


def _words_in_order(unit: Unit, where: Mapping[str, Sequence[int] | None]) -> bool:
    """Whether a section writes a compound's words one after another, each whole (its character pairs one position
    apart), the next beginning at most one character after the one before ends (的 in 混合精度的训练), or one more
    for each lone character of the query between them, which it may leave out (集 of 测试集污染 in 训练-测试污染). A
    lone character at either end is written onto its neighbour (隐马 of 隐马尔可夫模型).
    A compound of three words or more may also be written as two halves, each so written, anywhere in the section
    (大模型|推理加速 in 大模型部署时，推理加速…): the person's compound of two names the notes write. A compound of
    two words is not (对比学习 is no 对比 and 学习), nor a half that is a lone character (图|神经网络)."""
    found = {pair: set(where.get(pair) or ()) for pair in character_pairs(unit)}
    words = unit.words
    if _written_in_order(words, found):
        return True
    if len(words) < 3:
        return False
    for cut in range(1, len(words)):
        halves = (words[:cut], words[cut:])
        if all(any(len(word) > 1 for word in half) and _written_in_order(half, found) for half in halves):
            return True
    return False


def _written_in_order(words: Sequence[str], found: Mapping[str, set[int]]) -> bool:
    """Whether `words` are written one after another (see `_words_in_order`), by the positions of their character
    pairs (`found`)."""
    def starts(word: str) -> list[int]:
        pairs = [word[i : i + 2] for i in range(len(word) - 1)]
        return [pos for pos in found[pairs[0]] if all(pos + k in found[pair] for k, pair in enumerate(pairs))]

    reached: list[int] = []
    length = lone = 0
    for k, word in enumerate(words):
        if len(word) == 1:
            lone += 1
            continue
        here = starts(word)
        if not reached and k == 1:  # one lone character first: written onto this word
            here = [pos for pos in here if pos - 1 in found.get(words[0] + word[0], ())]
        elif reached:
            here = [pos for pos in here if any(length <= pos - at <= length + 1 + lone for at in reached)]
        if not here:
            return False
        reached, length, lone = here, len(word), 0
    if len(words) > 1 and len(words[-1]) == 1 and len(words[-2]) > 1:  # one lone character last: onto the one before
        return any(at + length - 1 in found.get(words[-2][-1] + words[-1], ()) for at in reached)
    return True


def spelled_in_section(unit: Unit, positions: Sequence[Sequence[int]]) -> bool:
    """Whether a section writes `unit` by one of its options (`positions`: each term's positions there, sorted):
    a keyword compound of one word and lone characters in one clause (`close_in_section`; one of several words:
    see `written_whole`), a word's parts one after another, in order
    (Flash Attention writes FlashAttention; min in one line and p in the next never write min-p)."""
    if unit.joined:
        return close_in_section(positions)
    if unit.han:  # a word's character pairs, one position apart (语法 and 分析 apart are no 语法分析)
        later = [set(others) for others in positions[1:]]
        return any(all(pos + k in others for k, others in enumerate(later, 1)) for pos in positions[0])
    return in_order(positions)


def in_order(positions: Sequence[Sequence[int]], slop: int = PART_SLOP) -> bool:
    """Whether some position of each list follows a position of the list before it (one that so follows, in
    turn) by 1 to `slop` positions."""
    reached: Sequence[int] = positions[0]
    for other in positions[1:]:
        reached = [pos for pos in other if (i := bisect_left(reached, pos - slop)) < len(reached)
                   and reached[i] < pos]
        if not reached:
            return False
    return bool(reached)


def near_in_section(left: Sequence[int] | None, right: Sequence[int] | None) -> bool:
    """Whether two words are written in one clause of a section: their positions lie within WRITTEN_NEAR_SLOP of
    each other in one of its parts (title, headings, body or code: quality_model = fasttext.load_model writes
    fastText beside quality)."""
    return _near(sorted(left or ()), sorted(right or ()), WRITTEN_NEAR_SLOP)


def _near(left: Sequence[int], right: Sequence[int], slop: int = NEAR_SLOP) -> bool:
    """Whether some position of `left` lies 1 to `slop` positions from some position of `right`."""
    for pos in left:
        i = bisect_left(right, pos - slop)
        while i < len(right) and right[i] <= pos + slop:
            if right[i] != pos:
                return True
            i += 1
    return False


def _has_sequence(words: Sequence[tuple[Sequence[int], int]]) -> bool:
    """Whether the words occur as a phrase: each (its positions in a section, its offset in the phrase) at the
    first word's position plus its offset."""
    if not words or not all(positions for positions, _ in words):
        return False
    (first, _), *rest = words
    following = [(set(positions), offset) for positions, offset in rest]
    return any(all(start + offset in after for after, offset in following) for start in first)
