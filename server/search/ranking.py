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
holds two of its words, the notes hold each for another reason (`apart_pair`); in a question, a compound whose
words never meet in a section is absent (垃圾回收, `absent_units`), and in any query so are two words written side
by side that no section holds together (协同过滤, face recognition; two English words of a question: no note) or,
for keywords of one script, within one clause (进程调度, graph attention), and a keyword compound or a word with
parts that no section writes together (对抗样本训练, DP-SGD). The index and the scan apply these rules alike.

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

import functools
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from server.search.analyzer import (
    BODY,
    CODE,
    COMPOUND_CHARS,
    COMPOUND_PIECES,
    DEGREE,
    HEADING,
    NAME_HEADS,
    NAME_LEADS,
    TITLE,
    ZONE_BASES,
    Alternative,
    QueryPlan,
    Unit,
    WordClass,
    framed,
    lone_han,
    never_in_a_name,
    pair_end,
    word_parts,
)
from server.search.questions import applied_spans, compared_spans, inflected_forms, listed, names_nothing, subject_end

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
    least half the rarest: of two equally rare words, a section may hold either) or all but one of three or more
    words the notes hold (矩阵乘法, 分块 and 共享内存 of 矩阵乘法 分块 共享内存 数据复用, whose rarest word is the one
    the tiling note lacks; the two commonest of 模型 训练 蒸馏 hold too little). The index reads it over every
    section at once (`admitted`), the scan section by section (`admits`)."""

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
        return share >= PARTIAL_MIN_COVERAGE and (bool(held & self.rare) or self._all_but_one(len(held & self.content)))

    def admitted(self, ranking: Ranking) -> npt.NDArray[np.bool_]:
        """`admits` for every section of the index."""
        rule = ranking.coverage >= PARTIAL_MIN_COVERAGE
        if not self.rare:
            return rule & False
        rare: npt.NDArray[np.bool_] = np.logical_or.reduce([ranking.units[i] for i in self.rare])
        admitted = (rule & rare) | ranking.holding_a_name()
        if len(self.content) >= 3:
            admitted |= rule & (ranking.words_held() >= len(self.content) - 1)
        return admitted

    def _all_but_one(self, count: int) -> bool:
        return len(self.content) >= 3 and count >= len(self.content) - 1


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


def written_together(plan: QueryPlan) -> list[tuple[int, int]]:
    """Neighbouring content words of the query written as one name: a Chinese word and its neighbour with nothing
    between them (协同 and 过滤 in 推荐系统协同过滤, 在线softmax; Chinese separates words of a name by nothing,
    so a space separates keywords: softmax 分块), two English words with nothing but spaces (face recognition;
    among keywords, a coined word is a keyword of its own: BPE embedding, fastText quality), and two words a
    linking word joins as in a name (mixture of experts; in a question, capitalised: Tree of Thoughts)."""
    pairs = []
    for i, (left, right) in enumerate(zip(plan.units, plan.units[1:], strict=False)):
        between = plan.text[left.end : right.start]
        if left.han or right.han:
            joined = not between
        elif _linked_name(plan, i, i + 1):
            joined = True
        else:
            joined = not between.strip() and (plan.question or not (left.coined or right.coined))
        if joined and not (((left.framing or right.framing) and not _framed_name(left, right))
                           or WordClass.OTHER in (left.word_class, right.word_class)  # 没什么 收益 is no name
                           or _phrasing_pair(left, right) or _disposal_verb(plan, right)
                           or _predicate_verb(plan, i + 1)):
            pairs.append((i, i + 1))
    return pairs


def _framed_name(left: Unit, right: Unit) -> bool:
    """A framing word written onto a content word as a name is (高斯过程, 对偶问题, 概念漂移; see NAME_HEADS)."""
    if not (left.han and right.han):
        return False
    return (right.text in NAME_HEADS and not left.framing) or (left.text in NAME_LEADS and not right.framing)


# 把 X 去掉: X is what is acted on, the verb after it the asker's sentence. Not 将, which is as often "will".
_DISPOSAL = "把"
_CLAUSE_END = re.compile(r"\s*(?:[了吗呢吧啊呀嘛]|[,.!?;:，。！？；：]|$)")


def _disposal_verb(plan: QueryPlan, right: Unit) -> bool:
    """In a question, the verb (as jieba tags it) ending a compound that follows 把 and ends its clause
    (先把换行去掉？): the act done to the words before it, not part of their name. A compound the clause goes on
    after (把协同过滤和深度模型结合) ends with a word of the name."""
    if not plan.question or right.word_class != WordClass.ACT or right.compound is None:
        return False
    start, end = right.compound
    return right.end == end and plan.text[:start].rstrip().endswith(_DISPOSAL) \
        and _CLAUSE_END.match(plan.text, end) is not None


def _phrasing_pair(left: Unit, right: Unit) -> bool:
    """In a question, two verbs side by side outside one compound (放进 固定, 传到 显卡): the asker's sentence, not a
    name (a compound of verbs, 垃圾回收 or 协同过滤, is judged as a compound, see `absent_units`)."""
    return left.phrasing and right.phrasing and (left.compound is None or left.compound != right.compound)


LIST_WORDS = 4  # English keywords this many are a list of things (NVTX range annotations Nsight timeline)
LINKS = frozenset({"of", "for", "from", "to"})  # not "and": Transformer and Mamba are two things


def _linked_name(plan: QueryPlan, left: int, right: int) -> bool:
    """Two English words with a linking word between, as names are written, checked as a keyword pair is: two
    capitalised words (Tree of Thoughts, Learning from Human Feedback; in a question, the size of the vocabulary
    is the asker's wording), or among keywords two plain words joined by "of" (mixture of experts; "resume
    training from checkpoints" states a relation, not a name). Never a coined word: GELU names itself."""
    first, second = plan.units[left], plan.units[right]
    between = plan.text[first.end : second.start].strip()
    if between not in LINKS or first.han or second.han or first.coined or second.coined:
        return False
    return (first.named and second.named) or (not plan.question and between == "of")


def _checked_for_nearness(plan: QueryPlan, left: int, right: int) -> bool:
    """Whether two words written side by side must also be written near each other somewhere: in keywords, two
    Chinese words (进程调度) or two English ones (graph attention: a section may hold both, CUDA graphs in one
    paragraph and attention in another), unless LIST_WORDS English ones make a list (one section is enough then);
    in a question, only the two words of a two-word compound (its longer stretches are as often the asker's
    phrasing, and its English ones a list) and a linked name (Tree of Thoughts)."""
    first, second = plan.units[left], plan.units[right]
    if first.han != second.han:
        return False
    if plan.question:
        if first.han:
            return _pair_compound(plan, left, right) or _framed_name(first, second) \
                or _subject_compound(plan, left, right)
        return _linked_name(plan, left, right) or _english_name(plan, (left, right)) \
            or _capitalised_name(first, second)
    return first.han or sum(not unit.framing for unit in plan.units) < LIST_WORDS


def _capitalised_name(first: Unit, second: Unit) -> bool:
    """Two plain English words side by side, each written with a capital (Stable Diffusion, Common Crawl): in a
    question, one name, as a linked name is (Tree of Thoughts); an acronym (SQL) or a coined word (PyTorch) is a
    name of its own beside another."""
    return all(unit.named and not unit.coined and not unit.acronym for unit in (first, second))


def compound_seam(plan: QueryPlan, left: int, right: int) -> str | None:
    """For a keyword query that is one short Chinese compound (世界模型, 梯度提升: its words searched apart for the
    glossary term in it), where its two words `left` and `right` meet: the character pair a note writing the
    compound as written holds there (界模, 度提), to ask the index cheaply (see `seam_written`). None for any other
    pair: a compound beside other keywords (torch.compile 编译加速) may be the asker's description, its words in
    one clause enough."""
    a, b = plan.units[left], plan.units[right]
    if a.compound is None or a.compound != b.compound or a.end != b.start:
        return None
    if not (a.han and b.han) or len(a.text) < 2 or len(b.text) < 2:
        return None
    start, end = a.compound
    members = [unit for unit in plan.units if unit.compound == a.compound]
    if plan.question:  # a name of two words a question opens with or compares (混淆矩阵怎么看)
        return a.text[-1] + b.text[0] if len(members) == 2 and _in_naming_span(plan, a.compound) else None
    alone = all(unit.compound == a.compound or unit.framing for unit in plan.units)
    return a.text[-1] + b.text[0] if alone and end - start <= COMPOUND_CHARS and len(members) <= COMPOUND_PIECES \
        else None


def seam_written(left: Sequence[int], right: Sequence[int], length: int) -> bool:
    """Whether a word of `length` characters at a position of `left` is followed by one at `right` at once, or
    one character later (显存上分配, 混合精度的训练): the two written as one compound."""
    rights = set(right)
    return any(pos + length in rights or pos + length + 1 in rights for pos in left)


def near_pairs(plan: QueryPlan, pair: Sequence[int]) -> list[tuple[str, str]]:
    """The pairs of terms that may stand for the two query units of `pair` where nearness is read (`anchors`): any
    of each, but where the two are one name (`_one_name`) both their own words or both aliases (梯度 beside
    penalty is no way to write gradient penalty, model beside 融合 none to write 模型融合)."""
    left, right = pair
    pairs = [(a, b) for a in anchors(plan, left) for b in anchors(plan, right)]
    if not _one_name(plan, pair):
        return pairs
    own = spellings(plan.units[left]), spellings(plan.units[right])
    return [(a, b) for a, b in pairs if (a in own[0]) == (b in own[1])]


def _one_name(plan: QueryPlan, pair: Sequence[int]) -> bool:
    """The two units are one name a note writes as is: two English keywords that are the whole query (transfer
    learning, data mining), or the two words of a keyword query that is one Chinese compound (`compound_seam`)."""
    return _english_name(plan, pair) or compound_seam(plan, pair[0], pair[1]) is not None


def _english_name(plan: QueryPlan, pair: Sequence[int]) -> bool:
    """Two English keywords that are the whole query (transfer learning, data mining), or the whole of what a
    question asks to define (what is the kernel trick, how does face recognition work): one name."""
    left, right = (plan.units[i] for i in pair)
    if left.han or right.han:
        return False
    content = sum(not unit.framing for unit in plan.units)
    if not plan.question:
        return content == 2
    # A coined word is a name of its own, as among keywords (ZeRO offload: the notes write ZeRO-Offload once);
    # an acronym is not (OS scheduler).
    coined = any(unit.coined and not unit.acronym for unit in (left, right))
    return not coined and ((content in (2, 3) and _defining(plan)) or _compared_name(plan, pair))


def _compared_name(plan: QueryPlan, pair: Sequence[int]) -> bool:
    """The two words are the whole of one of the things a question compares (prompt tuning of "prompt tuning 和
    prefix tuning 有什么区别"): one name, as the things compared are (`compared_spans`)."""
    for start, end in compared_spans(plan.text):
        inside = [i for i, unit in enumerate(plan.units)
                  if start <= unit.start and unit.end <= end and not unit.framing]
        if sorted(inside) == sorted(pair):
            return True
    return False


def _defining(plan: QueryPlan) -> bool:
    """Whether the query only asks what a term of a few English words is (what is the kernel trick)."""
    return plan.question and _defines_a_term(plan.text)


@functools.lru_cache(maxsize=64)
def _defines_a_term(text: str) -> bool:
    """`_DEFINING` read once per query text: `written_near` asks it for every section a nearness check reads."""
    return _DEFINING.fullmatch(text) is not None


# A question asking what one thing of two or three words is: they are its name, not the asker's wording.
_DEFINING = re.compile(r"\s*(?:(?:what\s+(?:is|are)|what's)\s+(?:(?:a|an|the)\s+)?[^\s?]+(?:\s+[^\s?]+){1,2}"
                       r"|explain\s+(?:(?:a|an|the)\s+)?[^\s?]+\s+[^\s?]+"
                       r"|how\s+(?:does|do)\s+(?:(?:a|an|the)\s+)?[^\s?]+\s+[^\s?]+\s+works?)\s*[?？]?\s*")
# Only what is asks to define three words: explain X Y Z is as often a topic and what of it (pipeline bubble size).


def written_near(plan: QueryPlan, pair: Sequence[int], terms: tuple[str, str],
                 positions: tuple[Sequence[int] | None, Sequence[int] | None]) -> bool:
    """Whether a section writes the two query units of `pair`, by the terms `terms` (see `near_pairs`) at
    `positions`, near enough to be what they name: in one clause (`near_in_section`), but where they are one name,
    by their own words as a name is written. Two English keywords that are the whole query (transfer learning,
    data mining: each word is common in the notes, in one clause with the other for other reasons) in order, within
    PART_SLOP (mining massive data is no data mining); the two words of a one-compound Chinese query one right
    after the other (`seam_written`: 全世界的语言进模型 is no 世界模型)."""
    left, right = (plan.units[i] for i in pair)
    if terms[0] in spellings(left) and terms[1] in spellings(right):
        if compound_seam(plan, pair[0], pair[1]) is not None:
            return seam_written(positions[0] or (), positions[1] or (), len(left.text))
        if _english_name(plan, pair):
            # A word with parts (mixed-precision, top-k) takes a position for each, even where it is searched whole
            # (a letter of its own): the next word may follow its last.
            slop = PART_SLOP if any(len(option) > 1 for option in left.options) or word_parts(left.text) \
                else NAME_SLOP
            return _in_order([sorted(positions[0] or ()), sorted(positions[1] or ())], slop=slop)
    return near_in_section(*positions)


def anchors(plan: QueryPlan, index: int) -> set[str]:
    """The terms that stand for a query word where nearness is read: its own, its other spellings as one word
    (visualize for visualization), and those of the glossary aliases that stand for it (a note may write 解码
    beside contrastive, not decoding)."""
    found = spellings(plan.units[index])
    for alt in plan.alternatives:
        if index in alt.covers:
            found.update(unit.anchor for unit in alt.units)
    return found


def spellings(unit: Unit) -> set[str]:
    """The terms that stand for a word where nearness is read: its own, and its other spellings as one word."""
    return {unit.anchor} | {option[0] for option in unit.options if len(option) == 1}


def inflected(unit: Unit, written: Callable[[str], bool] = lambda form: True) -> Unit:
    """The unit also found in its plural and -ing forms (encode as encodes), those `written` admits: where a
    question's two English neighbours are looked for in one section (`absent_units`), the notes' inflection is
    not a topic they lack."""
    forms = [(form,) for form in inflected_forms(unit.text) if (form,) not in unit.options and written(form)]
    return replace(unit, options=unit.options + tuple(forms)) if forms and not unit.joined else unit


def inflected_where_unwritten(plan: QueryPlan, written: Callable[[str], bool]) -> QueryPlan:
    """The plan, where an English word no note writes as asked (`written`: whether some note holds a term) is
    searched in the forms the notes write it in (spike as spikes, jailbreak as jailbreaking). Only then: a word
    written as asked is found as written, so that neither the ranking nor whether a query is covered changes
    (support vector machines is not support vector machine)."""
    units = [unit if any(all(written(term) for term in option) for option in unit.options) else inflected(unit, written)
             for unit in plan.units]
    return plan if units == plan.units else replace(plan, units=units)


def name_in_its_plural(plan: QueryPlan, written: Callable[[str], bool]) -> QueryPlan:
    """The plan, where a keyword query of two English words naming one thing (agent benchmark; `_english_name`)
    also finds its last word in the plural the notes write (Agent Benchmarks): a name's plural is the same name,
    and the two words must be written one after the other (`written_near`)."""
    content = [i for i, unit in enumerate(plan.units) if not unit.framing]
    if plan.question or len(content) != 2 or not _english_name(plan, content):
        return plan
    first, last = (plan.units[i] for i in content)
    if not plan.text[first.end : last.start].isspace():
        return plan  # Triton 写 kernel: two words, not written as one name
    named = inflected(last, lambda form: not form.endswith("ing") and written(form))  # its plural, not its -ing
    if named is last:
        return plan
    units = list(plan.units)
    units[content[1]] = named
    return replace(plan, units=units)


def written_as_one(plan: QueryPlan, left: int, right: int) -> bool:
    """Whether two words are one term wherever the notes hold them, with no positions to read: one glossary alias
    stands for both (投机解码 for speculative decoding; the plan holds only the aliases some note holds, see
    `rank`), or one word stands for both (数据 in 数据库)."""
    return plan.units[left].anchor == plan.units[right].anchor \
        or any(left in alt.covers and right in alt.covers for alt in plan.alternatives)


class Absence(NamedTuple):
    """The query units to count as not in the notes, the words to name for them, and the groups of units
    found only apart (each group names one thing: 协同过滤 from 协同 and 过滤)."""

    units: set[int]
    words: list[str]
    names: list[set[int]]


def absent_units(
    plan: QueryPlan, held: Sequence[bool], together: Together, near: Together | None = None,
    close: Callable[[int], bool] | None = None, in_one_note: Together | None = None,
) -> Absence:
    """What of the query is not in the notes (`held`: per unit, whether any note holds it). A compound of a
    question (联邦学习, 垃圾回收) names one thing: it is absent as a whole when one of its words occurs nowhere,
    or when its content words never meet in a section, however common each is (学习; 垃圾 and 回收 apart). So are
    two words the query writes side by side when no section holds both (协同过滤, face recognition: the notes
    hold each word, for other reasons); and, for keywords of one script (two Chinese or two English words) and a
    question's two-word compound, when no section writes them within one clause (`near`: 进程调度 where a note
    has 进程 and, lines later, 调度; graph attention). A Chinese word beside an English one (在线softmax) must
    only meet it in a section.
    Chinese writes a compound without spaces, so two words side by side in a keyword query name one thing; a
    question's longer stretches are as often the asker's phrasing (加快训练速度), and English ones a list.
    A keyword compound taken as one word (对抗样本训练) or a word with parts (DP-SGD) is absent when no section
    writes it whole or its words close together (`close`: 对抗 in one sentence, 样本 in another; DP for data
    parallel, SGD lines later), unless a glossary alias stands for it. Two English words side by side in a
    question are as often its wording (implement top-p, generate loop) as a name: they are absent only when no
    note holds both (`in_one_note`; raft consensus, spike timing)."""
    gone = {i for i, anywhere in enumerate(held) if not anywhere and plan.units[i].topical}
    named: dict[int, str] = {}
    names: list[set[int]] = []
    aliased = plan.aliased
    for i, unit in enumerate(plan.units):
        if spelled_in_parts(unit) and held[i] and i not in aliased and close is not None \
                and not never_in_a_name(unit.text) and not close(i):  # 好几个 (好几|几个) names nothing
            gone.add(i)
            names.append({i})
    for left, right in written_together(plan):
        if not (held[left] and held[right]) or (plan.question and aliased & {left, right}
                                                 and not _english_name(plan, (left, right))
                                                 and not _subject_compound(plan, left, right)):
            continue  # a question's words met through an alias are as often its phrasing as a name
        question_english = plan.question and not (plan.units[left].han or plan.units[right].han) \
            and not _linked_name(plan, left, right)
        apart = not (in_one_note if question_english and in_one_note is not None else together)((left, right))
        if not apart and near is not None and _checked_for_nearness(plan, left, right):
            apart = not near((left, right))
        if apart:
            gone.update((left, right))
            names.append({left, right})
            named[left] = plan.text[plan.units[left].start : plan.units[right].end]
            named.setdefault(right, "")
    compounds: dict[tuple[int, int], list[int]] = {}
    for i, unit in enumerate(plan.units):
        if unit.compound is not None and not _disposal_verb(plan, unit):
            compounds.setdefault(unit.compound, []).append(i)
    for span, members in compounds.items():
        # In the compound a question opens with or compares, a lone character is part of the name, whatever
        # jieba tags it and wherever the notes hold it (逆 of 逆强化学习是怎么做的, 锁 of 乐观锁和悲观锁的区别).
        subject = _in_naming_span(plan, span)
        content = [i for i in _before_predicate(plan, members)
                   if (_may_name(plan.units[i], held[i]) or (subject and _in_a_subject_name(plan.units[i])))
                   and not (plan.described and plan.units[i].word_class == WordClass.ACT)]
        if len(content) > 1 and (gone.intersection(content) or not together(content)):
            gone.update(members)
            names.append(set(members))
            if not any(named.get(i) for i in members):  # else a pair inside it names what is missing (协同过滤)
                named[members[0]] = plan.text[plan.units[content[0]].start : pair_end(plan.units[content[-1]])]
            named.update({i: "" for i in members if i not in named})
    # A lone character found nowhere is as often the asker's wording (喂 进): named only when the notes hold no
    # word naming the topic (see `not_covered`). A new word found nowhere (协程, 锚框) is a name they lack.
    naming = _naming(plan)
    topic_held = any(held[i] and i not in gone for i in naming)
    words = [named.get(i, _shown(unit)) for i, unit in enumerate(plan.units)
             if (i in gone and (i in named or not unit.framing or unit.word_class == WordClass.NEW))
             or (not topic_held and i in naming and not held[i])]
    return Absence(gone, list(dict.fromkeys(word for word in words if word)), names)


# 推出来, 放进去, 算到, 切分出去: a verb's direction or result, written after it
_COMPLEMENTS = frozenset([*"来去到完好掉出", "出来", "出去", "进来", "进去", "下来", "下去", "上来", "上去",
                          "回来", "回去", "过来", "过去", "开来", "起来"])


def _predicate_verb(plan: QueryPlan, index: int) -> bool:
    """In a question, the verb before the complement ending a compound (推出 in 算术强度推出来): the asker's
    predicate, not part of the name before it. A compound ending in a verb alone (垃圾回收) ends with its name."""
    units = plan.units
    if not plan.question or index + 1 >= len(units) or units[index].word_class != WordClass.ACT:
        return False
    verb, after = units[index], units[index + 1]
    return verb.compound is not None and after.compound == verb.compound and after.text in _COMPLEMENTS \
        and after.end == verb.compound[1]


def _before_predicate(plan: QueryPlan, members: list[int]) -> list[int]:
    """A question's compound without the verb and complement it ends with (see `_predicate_verb`), or the
    adjective it ends with after a word of degree (训练太慢, 显存很大): what the asker says of the name."""
    if len(members) > 2 and _predicate_verb(plan, members[-2]):
        return members[:-2]
    last = plan.units[members[-1]]
    if len(members) > 1 and plan.question and last.word_class == WordClass.ACT and last.text[0] in DEGREE:
        return members[:-1]
    return members


def _naming(plan: QueryPlan) -> list[int]:
    """The query's words that may name its topic: content words, and words new to the dictionary (变分)."""
    return [i for i, unit in enumerate(plan.units) if unit.topical or unit.word_class == WordClass.NEW]


def _shown(unit: Unit) -> str:
    """How to name a word found nowhere: a lone character by the pair it is searched as (龙 and 猫 of 龙猫, which
    the dictionary cuts in two), any other word as written."""
    return unit.options[0][0] if len(unit.text) == 1 and unit.han else unit.text


def spelled_in_parts(unit: Unit) -> bool:
    """A unit a section may hold as separate words that must be written together: a keyword compound
    (对抗样本训练), a word with parts (DP-SGD as dp and sgd, FlashAttention as flash and attention) or a Chinese
    word of three characters or more, searched by its character pairs too (语法分析 where a note cuts it otherwise)."""
    return unit.joined or any(len(option) > 1 for option in unit.options)


def _may_name(unit: Unit, held: bool) -> bool:
    """Whether a word of a question's compound can be part of the name: a content word or a lone character naming
    a thing (机 in 支持向量机), and, where the notes hold them, a verb (回收 in 垃圾回收) or a new word (变分 in
    变分自编码器); never the asker's phrasing (没什么; 混进, found nowhere)."""
    if unit.topical:
        return True
    return held and (unit.word_class == WordClass.NEW or (unit.word_class == WordClass.ACT and not unit.framing))


def _in_a_subject_name(unit: Unit) -> bool:
    """Whether a word of the compound a question opens with or compares is part of the name, whatever jieba tags it
    and wherever the notes hold it: a lone character (逆 of 逆强化学习) or a word tagged a verb (高考 of 高考志愿怎么
    填报), not the asker's framing. Not an adverb, numeral or word of time (之前 of 语言识别之前为什么…)."""
    if lone_han(unit):
        return True
    return unit.han and not unit.framing and unit.word_class == WordClass.ACT


def _subject_compound(plan: QueryPlan, left: int, right: int) -> bool:
    """The two words are in one compound of what a question names before asking (高斯混合模型 of 高斯混合模型怎么
    训练, `questions.subject_end`) or of the things it compares (最终一致性 of 最终一致性和强一致性有什么区别): the
    name of what it asks about, not the asker's phrasing."""
    span = plan.units[left].compound
    return span is not None and plan.units[right].compound == span and _in_naming_span(plan, span)


def _in_naming_span(plan: QueryPlan, span: tuple[int, int]) -> bool:
    """Whether `span` lies in what a question names before asking, or in one of the things it compares."""
    return plan.question and any(start <= span[0] and span[1] <= stop for start, stop in _naming_spans(plan.text))


@functools.lru_cache(maxsize=64)
def _naming_spans(text: str) -> tuple[tuple[int, int], ...]:
    """A question's subject and compared things (`subject_end`, `compared_spans`), read once per query text: the
    nearness checks ask for every section they read."""
    end = subject_end(text)
    return (*compared_spans(text), *([(0, end)] if end is not None else []))


def _pair_compound(plan: QueryPlan, left: int, right: int) -> bool:
    """The two words are the whole of a compound of the question (协同过滤 in 为什么协同过滤会有冷启动问题)."""
    span = plan.units[left].compound
    return span is not None and plan.units[right].compound == span \
        and sum(unit.compound == span for unit in plan.units) == 2


def names_found_nowhere(plan: QueryPlan, weights: Sequence[float], absence: Absence,
                        held: Sequence[bool]) -> list[int]:
    """The query's words that no note holds and that name what it is about, whatever else the notes hold:
    - among keywords, the rarest (遗传算法 of 遗传算法 交叉 变异 选择: the notes hold 变异 and 交叉 for other reasons);
    - in a question asked in Chinese, its English words: a Chinese asker writes a thing's name in English, not
      their own wording (asyncio of python asyncio event loop 怎么理解, redis of KV cache 放在 redis 里怎么设计 key),
      unless it is one of several things listed (dropout of 残差连接和层归一化跟dropout有什么关系): the notes may
      still speak of the others."""
    if not plan.question:
        heaviest = max(range(len(weights)), key=lambda i: (weights[i], -i), default=None)
        return [heaviest] if heaviest is not None and heaviest in absence.units and not held[heaviest] else []
    if not any(unit.han for unit in plan.units):
        return []
    return [i for i in sorted(absence.units) if not held[i] and not plan.units[i].han and plan.units[i].topical
            and not listed(plan.text, plan.units[i].start, plan.units[i].end)]


def not_covered(
    plan: QueryPlan, weights: Sequence[float], absence: Absence, sections: int, held: Sequence[bool],
    slips: Collection[int] = (),
) -> bool:
    """Whether the notes do not cover what the query asks about: they hold none of the words that may name it,
    only the asker's wording (龙猫平时该喂什么: 平时 and 喂, not 龙猫), or what is absent carries ABSENT_SHARE of the
    query's weight, or of its subject's, when a question names what it asks about before asking (孪生网络是怎么
    判断两段文本是否相似的: 学习, 判断, 文本 and 相似 are in the notes, the subject is not), or a word naming what it
    is about is held nowhere (`names_found_nowhere`), unless it is one slip of the keys from a word the notes hold
    (`slips`: the indexes of such units; cahce for cache)."""
    naming = _naming(plan)
    if naming and not any(held[i] and i not in absence.units for i in naming):
        return True
    if plan.described and any(not held[i] and i not in slips and plan.units[i].han
                              and plan.units[i].word_class in (WordClass.THING, WordClass.NEW) for i in naming):
        return True  # 几家医院各自在本地训练模型…病人: a description names its topic with its nouns, all of them
    weights, absence = _wording_capped(plan, weights, absence, held, slips)
    if absent_share(plan, weights, absence, sections) >= ABSENT_SHARE:
        return True
    if any(i not in slips for i in names_found_nowhere(plan, weights, absence, held)):
        return True  # python asyncio event loop 怎么理解: the notes lack asyncio, whatever else they hold
    if _defining(plan) and any(i in absence.units for i in naming):
        return True  # what is Gaussian elimination: a term the notes hold only part of is a term they lack
    targets = applied_spans(plan.text)[1:] if plan.question else []  # the thing RoPE 能用在 … 上吗 asks of
    for start, end in [*compared_spans(plan.text), *targets] if plan.question else []:
        # Two things compared, one of which the notes lack (git rebase和merge的区别): nothing says how they differ;
        # a thing the subject may apply to, which the notes lack: nothing says whether it does.
        item = [i for i in naming if start <= plan.units[i].start and plan.units[i].end <= end]
        if item and absent_share(plan, weights, absence, sections, among=item) >= ABSENT_SHARE:
            return True
    subject = subject_units(plan)
    head = _subject_head(plan, subject) if subject else []
    if head and all(i in absence.units for i in head):
        return True
    return bool(subject) and absent_share(plan, weights, absence, sections, among=subject) >= ABSENT_SHARE


def partial_matches_miss_the_topic(plan: QueryPlan, absence: Absence, held: Sequence[bool]) -> bool:
    """Whether a question that no section matches whole asks about something its partial matches lack, which
    then hold only its other words (asked only when every match is partial):
    - a name the notes hold only in parts: Chinese words written side by side, opening with a noun, that no
      section writes together, in what the query is about: a question's subject, before its question word
      (雅思口语 of 雅思口语 part2 怎么准备), or anywhere in a description (决策树投票 of 用很多棵决策树投票…).
      After the question word such a stretch is as often the asker's own phrasing of what they want to know;
      so is a stretch opening with a verb (发出命令, 去掉导航栏), and a compound ending in a noun that names
      nothing (检测办法) asks about its other words;
    - an English word no note holds, when the question names nothing the notes hold: no name, acronym, coined
      word or glossary term (cold brew in "how to make cold brew at home", whose make and home the notes hold).
      A question naming what it asks about (GELU, perplexity, critical batch size) keeps its partial matches: its
      word found nowhere is as often the asker's wording (misleading, hand-written, diminish)."""
    if not plan.question:
        return False

    subject = None if plan.described else subject_end(plan.text)

    def named(group: set[int]) -> bool:
        units = [plan.units[i] for i in sorted(group)]
        asked_about = plan.described or (subject is not None and units[-1].end <= subject)
        return asked_about and len(units) > 1 and units[0].word_class in (WordClass.THING, WordClass.NEW) \
            and not names_nothing(units[-1].text) \
            and all(unit.han and unit.word_class != WordClass.OTHER for unit in units)

    if any(named(group) for group in absence.names):
        return True
    unknown = any(not held[i] and not unit.han and unit.topical and i in absence.units
                  for i, unit in enumerate(plan.units))
    return unknown and not any(
        held[i] and i not in absence.units and (unit.named or unit.acronym or unit.coined or unit.term)
        for i, unit in enumerate(plan.units))


def _subject_head(plan: QueryPlan, subject: list[int]) -> list[int]:
    """The words of a question's subject after its last 的 (核技巧 of SVM的核技巧是什么): what it asks about, the
    words before it only saying whose; [] when the subject has no 的 or nothing topical follows it."""
    end = max(plan.units[i].end for i in subject)
    mark = plan.text.rfind("的", 0, end)
    if mark < 0 or mark < min(plan.units[i].start for i in subject):
        return []
    return [i for i in subject if plan.units[i].start > mark and plan.units[i].topical]


def _wording_capped(plan: QueryPlan, weights: Sequence[float], absence: Absence,
                    held: Sequence[bool], slips: Collection[int] = ()) -> tuple[list[float], Absence]:
    """`weights` (and `absence`, its names without those words), where in a question a plain English word the notes
    lack (misleading, idle; input-gradient, whose parts no note writes together) weighs at most what the heaviest
    topic word the notes hold weighs. Such a word is as often the asker's wording as a name (English has no part of
    speech here to tell them apart, as jieba's does for Chinese), and alone it must not outweigh the topic the notes
    hold: "why is it misleading to compare the perplexity of models with different tokenizers". A word written as
    a name (Kalman), a coined word, an acronym and a name of several words found only apart keep their weight."""
    topic = [weights[i] for i in _naming(plan) if held[i] and i not in absence.units]
    if not plan.question or not topic or _defining(plan):
        return list(weights), absence  # a question asking what a term is has no wording of its own
    ceiling = max(topic)
    in_names = set().union(*(group for group in absence.names if len(group) > 1))
    # A question asked in Chinese has no English wording either, only names (asyncio of python asyncio event loop
    # 怎么理解) and slips of the keys (gradeint).
    chinese = any(unit.han for unit in plan.units)
    capped = {i for i, unit in enumerate(plan.units)
              if _plain_english(unit) and i in absence.units and i not in in_names and (not chinese or i in slips)}
    names = [group for group in absence.names if not group <= capped]
    return ([min(weight, ceiling) if i in capped else weight for i, weight in enumerate(weights)],
            absence._replace(names=names))


def _plain_english(unit: Unit) -> bool:
    """A lowercase English word, or lowercase words joined by hyphens (input-gradient): no name, coined word or
    acronym."""
    return not (unit.han or unit.named or unit.coined or unit.acronym)


def subject_units(plan: QueryPlan) -> list[int]:
    """A question's topical words before its question word, when it opens with them (`questions.subject_end`)."""
    end = subject_end(plan.text) if plan.question else None
    if end is None:
        return []
    return [i for i, unit in enumerate(plan.units) if unit.end <= end and unit.topical]


def absent_share(
    plan: QueryPlan, weights: Sequence[float], absence: Absence, sections: int, among: Sequence[int] | None = None
) -> float:
    """The share of the query's weight (or of the words `among`) carried by what is absent. A question's words
    are weighed here as keywords are (rarity squared, see `unit_weight`): whether the notes cover a topic depends
    on its rare words (联邦 in 联邦学习中的差分隐私), however a question's ranking spreads its weight. A name
    found only apart weighs what a word found nowhere weighs, at least: as one term (协同过滤) it is in no
    section, however common its words are each."""
    counted = [weight * weight for weight in weights] if plan.question else list(weights)
    unseen = unit_weight(0, max(1, sections))
    # A new word found nowhere (协程 of 线程和协程的区别, 点云 of RoPE 在点云里怎么用) is a name the notes lack: in a
    # question it weighs what a name found nowhere would, or RoPE, a name the notes hold, outweighs it.
    new_name = unit_weight(0, max(1, sections), question=True, named=True) ** 2 if plan.question else unseen
    for i in absence.units:
        if plan.units[i].word_class == WordClass.NEW and not counted[i]:
            counted[i] = new_name
    for group in _merged(absence.names):
        members = sorted(group)
        whole = sum(counted[i] for i in members)
        if whole < unseen:
            for i in members:
                counted[i] = counted[i] * unseen / whole if whole else unseen / len(members)
    if among is not None:
        counted = [weight if i in among else 0.0 for i, weight in enumerate(counted)]
    total = sum(counted)
    return sum(weight for i, weight in enumerate(counted) if i in absence.units) / total if total else 0.0


def _merged(groups: list[set[int]]) -> list[set[int]]:
    """Overlapping groups joined (A B C written together: A-B and B-C name one thing)."""
    merged: list[set[int]] = []
    for group in groups:
        joined = set(group)
        for other in [m for m in merged if m & joined]:
            joined |= other
            merged.remove(other)
        merged.append(joined)
    return merged


def apart_pair(
    plan: QueryPlan, weights: Sequence[float], held: Sequence[bool], in_one_note: Together, *,
    two_together: Callable[[], bool],
) -> tuple[int, int] | None:
    """For keywords, the two heaviest content words when the notes hold each but no note holds both, and no
    section holds two of the query's words with PARTIAL_MIN_COVERAGE of it (`two_together`): the notes hold
    each word for another reason. None when they meet in a note (sibling sections of one note are about one
    subject: BPE in one, embedding in the next), when a section holds two of the words (a paraphrase added to a
    query that finds its section: FlashAttention 反向传播 重计算, where the note says 重新计算), when the query has
    fewer than two words, or for a question (whose rare words are as often the asker's phrasing: its compounds
    are judged instead, see `absent_units`)."""
    if plan.question:
        return None
    content = [i for i, unit in enumerate(plan.units) if not unit.framing and weights[i] > 0 and held[i]]
    if len(content) < 2:
        return None
    first, second = sorted(content, key=lambda i: (-weights[i], i))[:2]
    # Asked only now, cheapest first: most queries end at the first test (their two words meet in a section).
    if in_one_note((first, second)) or two_together():
        return None
    return first, second


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
    return _in_order(positions)


def _in_order(positions: Sequence[Sequence[int]], slop: int = PART_SLOP) -> bool:
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
