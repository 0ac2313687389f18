"""A query's plan as the index and the scan search it: the analyzer's plan (`analyzer.plan_query`), with the
glossary's aliases of the terms it writes and, in a question, the other forms of its verbs as alternatives."""

from __future__ import annotations

from dataclasses import replace

from server.search.analyzer import (
    WORD_STARTS,
    WORD_STARTS_AFTER_A_BREAK,
    Alternative,
    QueryPlan,
    Unit,
    WordClass,
    plan_query,
)
from server.search.glossary import Glossary
from server.search.questions import same_verbs


def expanded_plan(query: str, glossary: Glossary) -> QueryPlan:
    """The query's plan with its glossary terms' aliases (and, in a question, its verbs' other forms) as
    alternatives: what the index and the scan search."""
    expansions = list(glossary.expand(query))
    terms = [(e.start, e.end) for e in expansions]
    plan = plan_query(query, terms=terms)
    if any(_defines(e.start, e.end, unit.start, unit.end) and not _after_word_start(plan, e.start, unit)
           for e in expansions for unit in plan.units):
        # A glossary term making up most of a compound (交叉熵 in 交叉熵损失) says what it is about: its words
        # are searched apart so the term's aliases apply; a generic one (模型 in 隐马尔可夫模型) does not.
        plan = plan_query(query, compounds=False, terms=terms)
    for expansion in expansions:
        for i, unit in enumerate(plan.units):
            if expansion.start <= unit.start and unit.end <= expansion.end:
                # A term of the glossary is a name, whatever the dictionary tags it or its words (冒泡排序 as an
                # idiom, the 快速 of 快速排序 as an adverb, 技巧 of 核技巧 a framing word; a lone character stays
                # as it is, as in any compound).
                plan.units[i] = replace(unit, word_class=WordClass.THING, term=unit.term or len(unit.text) > 1)
        covers = tuple(
            i for i, unit in enumerate(plan.units) if expansion.start <= unit.start and unit.end <= expansion.end
        )
        if not covers:
            continue
        for alias in expansion.aliases:
            units = tuple(plan_query(alias).units)
            if units:
                plan.alternatives.append(Alternative(alias, units, covers))
    for i, unit in enumerate(plan.units):
        if plan.question and unit.word_class == WordClass.ACT:
            for verb in same_verbs(unit.text):
                plan.alternatives.append(Alternative(verb, tuple(plan_query(verb).units), (i,)))
    return plan


def _after_word_start(plan: QueryPlan, term_start: int, unit: Unit) -> bool:
    """Whether a glossary term follows the character its compound begins with, one that begins a word jieba cut
    apart (量化 in 向量化: a longer word, not the term with a modifier)."""
    return term_start == unit.start + 1 and plan.text[unit.start] in WORD_STARTS | WORD_STARTS_AFTER_A_BREAK


def _defines(term_start: int, term_end: int, start: int, end: int) -> bool:
    """Whether a glossary term lies inside a compound [start, end) without being all of it, and makes up at
    least half of it."""
    inside = max(term_start, start) < min(term_end, end) and (term_start, term_end) != (start, end)
    overlap = min(term_end, end) - max(term_start, start)
    return inside and overlap * 2 >= end - start
