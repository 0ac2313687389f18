"""Whether the notes cover a query: which of its words, and which names made of its words, no section holds (or
holds only apart), and whether what is missing is what the query is about. The ranking (`ranking.rank`) scores what
the notes hold; these rules decide, before and after it, whether any of it answers the query. The index and the scan
apply them alike, each with its own way of asking whether words meet in a section (`Together`).

A compound of a question (联邦学习, 垃圾回收) names one thing, absent as a whole when one of its words occurs nowhere or
its content words never meet in a section (`absent_units`); a topic is not covered when what is absent carries
ABSENT_SHARE of the query's weight, or names what it asks about (`not_covered`), as an English question's subject
does when it opens with a name no note holds together (`_english_subject_lacking`); four keywords or more that meet
in one section name the topic a word found nowhere only describes (`_described_by_the_rest`); the two words that
carry a keyword query, held by no note together, are two topics, not one (`apart_pair`); partial matches alone are
no answer when they lack what the question names, nor when each holds one keyword beside a name held only
apart (`partial_matches_miss_the_topic`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import NamedTuple

from server.search.analyzer import (
    COMPOUND_CHARS,
    COMPOUND_PIECES,
    DEGREE,
    NAME_HEADS,
    NAME_LEADS,
    QueryPlan,
    Unit,
    WordClass,
    lone_han,
    never_in_a_name,
    pair_end,
    word_parts,
)
from server.search.questions import (
    applied_spans,
    compared_spans,
    inflected_forms,
    listed,
    names_nothing,
    subject_end,
    subject_opening,
)
from server.search.ranking import (
    ABSENT_SHARE,
    NAME_SLOP,
    PART_SLOP,
    Together,
    in_order,
    near_in_section,
    spelled_in_parts,
    unit_weight,
)


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
            return in_order([sorted(positions[0] or ()), sorted(positions[1] or ())], slop=slop)
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
    specific: Callable[[int], bool] | None = None,
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
    shown = list(dict.fromkeys(word for word in words if word))
    if specific is not None and _described_by_the_rest(plan, held, gone, together, specific):
        return Absence(set(), shown, [])  # still named in the notice: the results lack them
    return Absence(gone, shown, names)


KEYWORDS_THAT_NAME = 4  # keywords the notes hold, all in one section: what they name is what the query is about
SPECIFIC_KEYWORDS = 2  # of them, held by few sections (`specific`): common course words name no topic
SPECIFIC_SHARE = 0.02  # a keyword held by at most this share of the sections (or notes, for the scan) is specific


def _described_by_the_rest(
    plan: QueryPlan, held: Sequence[bool], gone: set[int], together: Together, specific: Callable[[int], bool]
) -> bool:
    """Whether a keyword query's words the notes lack only describe what its other keywords name: at least
    KEYWORDS_THAT_NAME others the notes hold, more of them than words lacked, all in one section (手写 CUDA GeLU
    kernel blockIdx threadIdx beside 计算全局下标; z-loss 输出层 softmax log Z 稳定训练 beside 归一化项, which no
    note writes), SPECIFIC_KEYWORDS of them held by few sections. Common course words meet everywhere and name
    nothing (训练 模型 数据 GPU 区块链), and fewer keywords name too little to tell (图神经网络 消息传递; GPU 挖矿 算力
    收益, where a section holds GPU, 算力 and 收益). An English word found nowhere is a name the notes lack, however
    many keywords stand beside it (Horovod of Horovod 分布式 训练 ring allreduce). Not for a question, whose words
    are weighed by what it asks about."""
    if plan.question or not gone or any(not held[i] and not plan.units[i].han for i in gone):
        return False
    named = [i for i, unit in enumerate(plan.units) if unit.topical and not unit.framing and held[i] and i not in gone]
    lacked = [i for i in gone if plan.units[i].topical]
    return len(named) >= KEYWORDS_THAT_NAME and len(named) > len(lacked) \
        and sum(specific(i) for i in named) >= SPECIFIC_KEYWORDS and together(named)


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
    if _english_subject_lacking(plan, absence, held):
        return True  # what does the operating system save: the notes hold saving, not what the question asks of
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


def partial_matches_miss_the_topic(plan: QueryPlan, absence: Absence, held: Sequence[bool],
                                   held_by: Sequence[Sequence[str]] = ()) -> bool:
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
      word found nowhere is as often the asker's wording (misleading, hand-written, diminish).
    Keywords are asked `_one_keyword_beside_a_lacked_name` (`held_by`: per match, the query words it holds)."""
    if not plan.question:
        return _one_keyword_beside_a_lacked_name(plan, absence, held_by)

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


def _one_keyword_beside_a_lacked_name(plan: QueryPlan, absence: Absence, held_by: Sequence[Sequence[str]]) -> bool:
    """Whether keywords naming something the notes hold only apart (optimizer join of SQL query optimizer join
    order) found only partial matches holding one keyword each (`held_by`: per match, the query words it holds;
    asked only when every match is partial): SQL mentioned in passing answers nothing of the rest."""
    return not plan.question and bool(absence.names) and len(plan.units) >= 3 \
        and all(len(set(words)) <= 1 for words in held_by)


def _english_subject_lacking(plan: QueryPlan, absence: Absence, held: Sequence[bool]) -> bool:
    """Whether an English question's subject opens with a name of several words that no note holds together
    (the operating system, a support vector machine, text-to-image diffusion models), with no name the notes hold
    beside it: what the question is about is then what the notes lack, whatever else they hold. Not a word
    found nowhere: in the opening two words it is as often the verb after a one-word subject (why does warmup
    stabilise training), the asker's description (a hand-written GELU) or a slip of the keys."""
    if not plan.question or plan.described or any(unit.han for unit in plan.units) \
            or (span := subject_opening(plan.text)) is None:
        return False
    opening = [i for i, unit in enumerate(plan.units) if span[0] <= unit.start < span[1]]
    return bool(opening) and any(opening[-1] in group and len(group) > 1 for group in absence.names) \
        and not any(held[i] and (plan.units[i].named or plan.units[i].acronym or plan.units[i].coined)
                    for i in opening)


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
