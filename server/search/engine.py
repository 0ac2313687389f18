"""The query side: a `SearchRequest` in, `SearchResults` out.

`SearchEngine` turns the query into a plan (`analyzer`, with the glossary's aliases), asks the
`IndexService` for a commit to rank (`ranking`) and, when there is none (no index yet, a damaged one, one
being built, no usable cache), scans the notes with the same analyzer (`scan`); the results say which. Full
matches come first; when there are fewer than asked for, partial matches follow, marked. When nothing
matches and some query word occurs in no note, the results name it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from itertools import islice, pairwise

import numpy as np
import numpy.typing as npt

from memory_schema.errors import ProjectMemoryError
from memory_schema.layout import Layout
from memory_schema.lectures import lecture_label
from server.search.absence import (
    SPECIFIC_SHARE,
    absent_units,
    anchors,
    apart_pair,
    compound_seam,
    inflected,
    inflected_where_unwritten,
    name_in_its_plural,
    names_found_nowhere,
    near_pairs,
    not_covered,
    partial_matches_miss_the_topic,
    spellings,
    written_as_one,
    written_near,
)
from server.search.analyzer import (
    QueryPlan,
    Unit,
    fold,
    load_segmenter,
    writes_capitals,
)
from server.search.chinese_script import load_table
from server.search.filters import Filters, filters_for
from server.search.glossary import Glossary, parse_glossary_markdown
from server.search.note_evidence import raise_ranking
from server.search.planning import expanded_plan
from server.search.postings import IndexTerms
from server.search.ranking import (
    NEAR_CHECK_TOP,
    PARTIAL_MIN_COVERAGE,
    QUESTION_MIN_COVERAGE,
    RESCORE_TOP,
    IntArray,
    KeywordPartials,
    Ranking,
    Written,
    applied_names,
    applied_sides,
    character_pairs,
    joined_seams,
    near_in_section,
    rank,
    rescore,
    whole_terms,
    written_whole,
)
from server.search.request import SearchRequest
from server.search.results import IndexState, SearchHit, SearchResults, SectionHit
from server.search.scan import Scanner
from server.search.service import IndexService
from server.search.snippets import folded_with_origins, make_snippet
from server.search.whoosh_index import IndexOvertaken, IndexUnavailable
from server.store import NoteStore

logger = logging.getLogger(__name__)

GLOSSARY_NOTE = "glossary.md"


class SearchEngine:
    def __init__(self, store: NoteStore, layout: Layout, index: IndexService, glossary: Glossary | None = None) -> None:
        self._store = store
        self._layout = layout
        self._index = index
        self._scanner = Scanner(store)
        self._fixed_glossary = glossary
        self._glossary: Glossary | None = glossary

    def prepare(self) -> None:
        """Load the segmenter, the table of traditional characters and the glossary now rather than at the first
        query."""
        load_segmenter()
        load_table()
        self.reload_glossary()

    def reload_glossary(self) -> None:
        if self._fixed_glossary is not None:
            return
        glossary = Glossary.builtin()
        try:
            own = self._store.read(GLOSSARY_NOTE).text
        except ProjectMemoryError:
            own = ""
        self._glossary = glossary.extended(parse_glossary_markdown(own)) if own else glossary

    def forget_scanned(self) -> None:
        self._scanner.clear()

    def search(self, request: SearchRequest) -> SearchResults:
        results = self._search_quoted(request)
        if not results.hits and (rest := _without_lacking(request.query, results.absent)) is not None \
                and not self.plan(request.query).question:  # a question's words are weighed, not listed
            return self._with_the_rest_suggested(request, results, rest)
        if results.hits or not (filtered := _filters_named(request)):
            return results
        # Nothing within the filters: say whether the filters, not the words, are what found nothing (a lecture
        # no note is of, a tag never given), so the model does not conclude the notes lack the topic.
        everywhere = self._search_quoted(request.model_copy(update=UNFILTERED))
        if not everywhere.hits:
            return results
        found = f"{len(everywhere.hits)}{'+' if len(everywhere.hits) == request.limit else ''}"
        what = "sections" if request.all_sections else "notes"
        said = (f"nothing {filtered} matches; without the filters, {found} {what} match: search again without "
                f"{_filter_names(request)} to see them.")
        return results.model_copy(update={"notice": said})

    def _with_the_rest_suggested(self, request: SearchRequest, results: SearchResults, rest: str) -> SearchResults:
        """`results` (nothing found; some keywords held by no note) with the search of the other keywords
        suggested when it finds something: the model then retries with what the notes hold (梯度裁剪 L2 范数 for
        梯度裁剪 L2 范数 最大阈值) instead of concluding the topic was never written about. Only suggested:
        what the query names as a whole may still be absent (GPU 挖矿 算力 收益), so nothing is returned."""
        found = self._search_quoted(request.model_copy(update={"query": rest})).hits
        if not found:
            return results
        count = f"{len(found)}{'+' if len(found) == request.limit else ''}"
        said = f"Searched without {'it' if len(results.absent) == 1 else 'them'}, '{rest}' finds {count} notes."
        return results.model_copy(update={"notice": f"{results.notice} {said}" if results.notice else said})

    def _search_quoted(self, request: SearchRequest) -> SearchResults:
        plan = self.plan(request.query)
        results = self._search(request, plan)
        if results.hits or not plan.phrases:
            return results
        # Nothing holds the quoted words as written. A question's quotes are as often the asker quoting a phrase
        # of their own (“哪个回答更好”): its words are searched instead, and said to be. Keywords quoted are
        # meant as written: nothing is shown, but the answer says whether the words are there apart.
        loose = self._search(request, replace(plan, phrases=[], phrase_texts=[]))
        quoted = "、".join(f"“{text}”" for text in plan.phrase_texts)
        unwritten = f"no note writes {quoted} as quoted" if len(plan.phrase_texts) == 1 else \
            f"no section writes all of {quoted} as quoted"
        if not loose.hits:
            return loose
        if plan.question:
            said = f"{unwritten}; these results are for the words, searched apart."
            return loose.model_copy(update={"notice": f"{said} {loose.notice}" if loose.notice else said})
        return results.model_copy(update={
            "notice": f"{unwritten}; search again without the quotes to find notes holding the words apart."})

    def _search(self, request: SearchRequest, plan: QueryPlan) -> SearchResults:
        filters = filters_for(request)
        aliases = list(dict.fromkeys(alt.text for alt in plan.alternatives))
        if not plan.units:
            common = "the query holds only very common words; add a topic word."
            return SearchResults(query=request.query, hits=[], aliases=[], index_state=self._index.state.value,
                                 notice=common)
        found, absent, apart, similar = self._read_index(plan, filters, request)
        corrected: dict[str, str] = {}
        if found == [] and similar:
            # Every word but a slip of the keys is in the notes (chinchila): search the word it was meant to be,
            # and say so. Only when nothing was found as typed, one word a query (see `_similar_words`).
            fixed_plan = self.plan(_with_words_replaced(request.query, similar))
            fixed, still_absent, _, _ = self._read_index(fixed_plan, filters, request)
            if fixed:
                found, plan, corrected = fixed, fixed_plan, dict(similar)
                absent = list(dict.fromkeys([*corrected, *still_absent]))
        # Named as the person typed them (FA-2, 張量平行), not as they were searched (fa-2, 张量并行).
        typed = _as_typed(request.query, [*absent, *apart, *corrected])
        absent = [typed.get(word, word) for word in absent]
        apart = [typed.get(word, word) for word in apart]
        corrected = {typed.get(word, word): meant for word, meant in corrected.items()}
        state = self._index.state
        waiting = self._index.pending
        notice: str | None = None
        scanned = found is None
        if found is None:
            found = self._scanner.search(plan, filters, self._layout, limit=request.limit,
                                         per_file=not request.all_sections)
            notice = _scan_notice(state)
        elif waiting:
            notice = f"{waiting} changed notes are not indexed yet; results may miss their latest text."
        if not found and (absent or apart) and not scanned and waiting:
            notice = (f"nothing found, but {waiting} changed notes are not indexed yet and may hold it; search again "
                      "in a moment.")
        elif corrected:
            said = "no note contains " + ", ".join(corrected) + "; these results are for " + ", ".join(
                f"{word} (for {typed})" for typed, word in corrected.items()) + ", the word the notes hold."
            if others := [word for word in absent if word not in corrected]:
                said += f" No note contains {'、'.join(others)} either: these results hold the query's other words."
            notice = f"{said} {notice}" if notice else said
        elif not found and absent:
            notice = (f"no note contains {'、'.join(absent)}; the notes may not cover this, or try other words "
                      "for it.")
            if similar:
                notice += " Did you mean " + ", ".join(f"{word} (for {typed})" for typed, word in similar) + "?"
        elif not found and apart:
            notice = (f"no note holds {' and '.join(apart)} together; the notes may not cover this, or try other "
                      "words for it.")
        elif found and absent:  # the rest of the query was found: say what of it was not, so no hit is read as it
            lacking = f"no note contains {'、'.join(absent)}; these results hold only the query's other words."
            notice = f"{lacking} {notice}" if notice else lacking
        hits = [_hit(item, plan) for item in found]
        shown = f"pending {waiting}" if state is IndexState.FRESH and waiting else state.value
        return SearchResults(query=request.query, hits=hits, aliases=aliases, index_state=shown, notice=notice,
                             absent=absent, scanned=scanned, corrected=corrected)

    def _read_index(
        self, plan: QueryPlan, filters: Filters, request: SearchRequest
    ) -> tuple[list[SectionHit] | None, list[str], list[str], list[tuple[str, str]]]:
        """`_from_index` on the index as committed, and the slips of the keys to suggest when nothing was found.
        The hits are None when the index cannot answer (the notes are then scanned)."""
        for _attempt in range(3):  # another process's commit may replace the one being read: read the new one
            try:
                with self._index.reading() as terms:
                    if terms is None:
                        return None, [], [], []
                    slips = Slips(terms)  # a walk of the term list per word, shared by both asks
                    found, absent, apart = self._from_index(terms, plan, filters, request, slips)
                    return found, absent, apart, [] if found else _similar_words(terms, absent, slips)
            except IndexOvertaken:
                continue
            except IndexUnavailable:
                return None, [], [], []
        return None, [], [], []

    def plan(self, query: str) -> QueryPlan:
        return expanded_plan(query, self._glossary if self._glossary is not None else Glossary.builtin())

    def _from_index(
        self, terms: IndexTerms, plan: QueryPlan, filters: Filters, request: SearchRequest, slips: Slips
    ) -> tuple[list[SectionHit], list[str], list[str]]:
        """The hits, the query words no note holds, and the two that carry the query when they never meet."""
        def written(term: str) -> bool:
            return len(terms.postings(term).docs) > 0

        plan = name_in_its_plural(inflected_where_unwritten(plan, written), written)
        ranking = rank(plan, terms, _in_capitals(terms), lambda units, docs: _alias_near(terms, units, docs))
        plan = ranking.plan  # only the aliases some section holds
        held = [bool(unit.any()) for unit in ranking.units]

        def together(members: Sequence[int]) -> bool:
            return bool(np.logical_and.reduce([ranking.units[i] for i in members]).any())

        absence = absent_units(plan, held, together, lambda pair: _near_somewhere(ranking, terms, pair),
                               lambda index: _close_somewhere(ranking, terms, index),
                               lambda members: _in_one_note(ranking, terms, members, forms=True),
                               lambda index: ranking.units[index].sum() <= SPECIFIC_SHARE * terms.sections)
        absent = absence.words
        typos = [i for i in names_found_nowhere(plan, ranking.weights, absence, held)
                 if slips.of(plan.units[i].text) is not None]
        if not_covered(plan, ranking.weights, absence, terms.sections, held, typos):
            return [], absent, []
        if (pair := apart_pair(plan, ranking.weights, held, lambda pair: _in_one_note(ranking, terms, pair),
                               two_together=lambda: _two_together(ranking))) is not None:
            return [], absent, [plan.units[i].text for i in pair]
        allowed = terms.allowed(filters)
        admitted = partial_rule(ranking)
        # Before the leading sections are chosen: a note the evidence lifts is among them, whatever the limit.
        raise_ranking(ranking, *terms.notes(), among=admitted | ranking.fully_matched())
        full = ranking.full(allowed)
        leading = [int(doc) for doc in full[: max(RESCORE_TOP, request.limit * 5)]]
        rescore(ranking, terms, leading)
        ordered = sorted(leading, key=lambda doc: (-float(ranking.score[doc]), doc))
        rest = (int(doc) for doc in full[len(leading):])
        per_file = not request.all_sections
        hits = list(islice(self._hits(terms, ranking, _chain(ordered, rest), per_file, set(), partial=False),
                           request.limit))
        if len(hits) < request.limit:
            seen = {hit.path for hit in hits}
            partial = ranking.partial(admitted, allowed)
            hits += islice(self._hits(terms, ranking, (int(d) for d in partial), per_file, seen, partial=True),
                           request.limit - len(hits))
        if hits and all(hit.partial for hit in hits) \
                and partial_matches_miss_the_topic(plan, absence, held, [hit.words for hit in hits]):
            return [], absent, []  # 决策树投票, cold brew: the partial matches hold only the question's other words
        if not hits and plan.question and (sides := applied_sides(plan, ranking.held_counts())) \
                and not together(sides):
            return [], absent, applied_names(plan)  # RoPE and 时间序列异常检测: each in the notes, never together
        return hits, absent, []

    @staticmethod
    def _hits(
        terms: IndexTerms, ranking: Ranking, docs: Iterator[int], per_file: bool, seen: set[str], *, partial: bool
    ) -> Iterator[SectionHit]:
        for doc in docs:
            path = terms.path(doc)
            if per_file and path in seen:
                continue
            seen.add(path)
            stored = terms.stored(doc)
            words = tuple(ranking.plan.units[i].text for i in ranking.matched_units(doc))
            lecture = int(terms.column_value(doc, "lecture"))
            yield SectionHit(
                path=path,
                section=stored.get("section", ""),
                level=stored.get("level", 0),
                score=float(ranking.score[doc]),
                kind=bytes(terms.column_value(doc, "kind") or b"note").decode("utf-8"),
                lecture=lecture or None,
                text=stored.get("text", ""),
                matched=ranking.matched_terms(doc),
                words=words,
                partial=partial,
                missing=tuple(ranking.plan.units[i].text for i in ranking.missing_units(doc)),
                aliases=tuple(ranking.aliases_used(doc)),
            )


def _without_lacking(query: str, absent: Sequence[str]) -> str | None:
    """The keyword query without each of its space-separated keywords holding a word no note holds (梯度裁剪 L2
    范数 for 梯度裁剪 L2 范数 最大阈值; 参数初始化 截断正态 for 参数初始化 除以根号输入维度 截断正态), or None: one
    keyword, or nothing left."""
    keywords = query.split()
    if not absent or len(keywords) < 2:
        return None
    lacking = [word.casefold() for word in absent]
    kept = [keyword for keyword in keywords if not any(word in keyword.casefold() for word in lacking)]
    if not kept or len(kept) == len(keywords):
        return None
    return " ".join(kept)


UNFILTERED = {"scope": "all", "lecture": None, "tags": (), "since": None}


def _filters_named(request: SearchRequest) -> str:
    """The request's filters as words (`in the discussions of Lecture 99 tagged rope`), or "" when it has none."""
    said = []
    if request.scope != "all":
        said.append(f"in the {request.scope}")
    if request.lecture is not None:
        said.append(f"{'of' if said else 'in'} Lecture {request.lecture:02d}")
    if request.tags:
        said.append(f"tagged {' or '.join(request.tags)}")
    if request.since is not None:
        said.append(f"changed since {request.since.isoformat()}")
    return " ".join(said)


def _filter_names(request: SearchRequest) -> str:
    names = [name for name, unset in UNFILTERED.items() if getattr(request, name) != unset]
    return " and ".join(names)


SIMILAR_MIN_LETTERS = 6  # shorter words are one letter from too many others (react, reach; flop, flow)
SLIP_MIN_LETTERS = 4  # a shorter word is a slip from too many others to tell one (a, an, at)
SIMILAR_COMMONER = 10  # a suggestion is held by this many times as many sections as the word typed, and by three


def _with_words_replaced(query: str, replacements: Sequence[tuple[str, str]]) -> str:
    """`query` with each typed word (whole, any case; an English word, so Han text may touch it) replaced by the
    word meant."""
    for typed, meant in replacements:  # meant is letters alone (`_slip_of`): no escapes in it
        query = re.sub(rf"(?<![a-z0-9]){re.escape(typed)}(?![a-z0-9])", meant, query, flags=re.IGNORECASE)
    return query


def _similar_words(terms: IndexTerms, absent: Sequence[str], slips: Slips) -> list[tuple[str, str]]:
    """For the English words of `absent` (the words, or pairs of words, no note holds), a word the notes hold one
    slip of the keys away (a letter left out, added, mistyped or two swapped: flashattenion, tokenzier), when it
    is far commoner: (typed, suggested) pairs. Only suggested, never searched: a word found nowhere may be a
    topic the notes lack that is spelled like one they hold."""
    similar: list[tuple[str, str]] = []
    words = [word for word in dict.fromkeys(word for text in absent for word in text.split())
             if word.isascii() and word.isalpha() and len(word) >= SIMILAR_MIN_LETTERS]
    rare = {word: held for word in words if (held := len(terms.postings(word).docs)) <= 1}  # no slip if several
    for typed in sorted(rare, key=len, reverse=True)[:1]:  # one walk of the term list (~5 ms): one slip a query
        if (best := slips.of(typed, rare[typed])) is not None:
            similar.append((typed, best))
    return similar


class Slips:
    """The words one slip of the keys from the words a search asks about (`_slip_of`), each looked up once: the
    absent-topic rule and the "Did you mean" suggestion ask for the same word."""

    def __init__(self, terms: IndexTerms) -> None:
        self._terms = terms
        self._found: dict[tuple[str, int], str | None] = {}

    def of(self, typed: str, held: int = 0) -> str | None:
        key = (typed, held)
        if key not in self._found:
            self._found[key] = _slip_of(self._terms, typed, held)
        return self._found[key]


def _slip_of(terms: IndexTerms, typed: str, held: int = 0) -> str | None:
    """The word the notes hold one slip of the keys from `typed` (held by `held` sections), when it is far commoner
    (SIMILAR_COMMONER times, and three sections at least), or None."""
    if not (typed.isascii() and typed.isalpha()) or len(typed) < SLIP_MIN_LETTERS:
        return None
    swapped = {typed[:i] + typed[i + 1] + typed[i] + typed[i + 2:] for i in range(len(typed) - 1)}
    near = {word: len(terms.postings(word).docs)  # the index's automaton counts a swap as two edits
            for word in terms.spelled_like(typed, 1) | swapped
            if word.isalpha() and word != typed and not _another_ending(typed, word)}
    near = {word: count for word, count in near.items() if count}
    if not near:
        return None
    best = max(near, key=lambda word: (near[word], word))
    return best if near[best] >= max(3, SIMILAR_COMMONER * held) else None


def _another_ending(typed: str, word: str) -> bool:
    """Whether `word` is `typed` with one of its last two letters changed: another form of the word (recommender,
    recommended; decoder, decoded), not a slip of the keys. The last two swapped (modle) is a slip."""
    return len(word) == len(typed) and word[:-2] == typed[:-2] and word[-2:] != typed[:-3:-1]


def _in_one_note(ranking: Ranking, terms: IndexTerms, members: Sequence[int], *, forms: bool = False) -> bool:
    """Whether some note holds all `members` (in any of its sections); with `forms`, or one section holds
    them with an English word in its plural or -ing form (encode relative: a note writes encodes relative)."""
    holding = [ranking.units[i] for i in members]
    if np.logical_and.reduce(holding).any():
        return True  # in one section: no need to look up the notes of every section holding a word
    if forms and np.logical_and.reduce(
            [_with_forms(terms, ranking.plan.units[i], h) for i, h in zip(members, holding, strict=True)]).any():
        return True  # only in one section: a note's encodes and, sections later, relative are no answer
    first, *rest = holding
    notes = {terms.path(int(doc)) for doc in np.flatnonzero(first)}
    for other in rest:
        notes &= {terms.path(int(doc)) for doc in np.flatnonzero(other)}
    return bool(notes)


def _with_forms(terms: IndexTerms, unit: Unit, holding: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The sections holding `unit` (`holding`) or its plural or -ing form (`absence.inflected`)."""
    wider = holding.copy()
    for option in inflected(unit).options[len(unit.options):]:
        wider[terms.postings(option[0]).docs] = True
    return wider


def _near_somewhere(ranking: Ranking, terms: IndexTerms, pair: Sequence[int]) -> bool:
    """Whether some section holds the two query units of `pair` near each other (in its title, headings,
    body or code), by a pair of `near_pairs` as `written_near` reads it.
    Words found together in more than NEAR_CHECK_TOP sections are taken as related without reading positions; for
    a one-compound query (`compound_seam`), only those holding the character pair where its words meet, or an
    alias of each word, count then: its common words (梯度, 提升) are together in hundreds of sections."""
    left, right = pair
    plan = ranking.plan
    if written_as_one(plan, left, right):
        return True
    both = np.flatnonzero(ranking.units[left] & ranking.units[right])
    seam = compound_seam(plan, left, right)
    if seam is not None and len(both) > NEAR_CHECK_TOP:
        sides = [anchors(plan, i) - spellings(plan.units[i]) for i in pair]  # each word's aliases
        aliased = both
        for side in sides:
            aliased = np.intersect1d(aliased, _holding_any(terms, side), assume_unique=True)
        both = np.union1d(np.intersect1d(both, terms.postings(seam).docs, assume_unique=True), aliased)
    pairs = near_pairs(plan, pair)
    if not pairs or not len(both):
        return False
    if len(both) > NEAR_CHECK_TOP:
        return True
    # Read a few sections' positions at a time: a pair that is written together is most often found in the
    # first few, and only a pair that never is (the absent topic) pays for reading them all.
    wanted = {term for two in pairs for term in two}
    for start in range(0, len(both), NEAR_CHECK_CHUNK):
        docs = [int(doc) for doc in both[start : start + NEAR_CHECK_CHUNK]]
        where = {text: terms.positions(text, docs) for text in wanted}
        if any(written_near(plan, pair, (a, b), (where[a].get(doc), where[b].get(doc)))
               for doc in docs for a, b in pairs):
            return True
    return False


def _holding_any(terms: IndexTerms, words: set[str]) -> IntArray:
    """The sections holding any of `words`."""
    found = [terms.postings(word).docs for word in words]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int32)


def _in_capitals(terms: IndexTerms) -> Written:
    """Whether one of the given sections writes a word in capitals (see `rank`), read from its stored heading
    path, text and note path: its title may come from the file's name."""
    def written(word: str, docs: IntArray) -> bool:
        for doc in docs:
            stored = terms.stored(int(doc))
            if any(writes_capitals(fold(str(stored.get(name, ""))), word) for name in ("text", "section", "path")):
                return True
        return False
    return written


def _close_somewhere(ranking: Ranking, terms: IndexTerms, index: int) -> bool:
    """Whether some section holding the query unit `index`, spelled in parts, writes it whole or by its parts as
    `spelled_in_section` reads them (see `_near_somewhere` for the bound and the reading in chunks)."""
    holding = np.flatnonzero(ranking.units[index])
    unit = ranking.plan.units[index]
    options = unit.options
    for pair in character_pairs(unit):  # a compound's sections hold each of its character pairs: cheap to ask
        holding = np.intersect1d(holding, terms.postings(pair).docs, assume_unique=True)
    if len(holding) > NEAR_CHECK_TOP or any(len(option) == 1 and len(terms.postings(option[0]).docs)
                                            for option in options):
        return bool(len(holding))
    wanted = whole_terms(unit)
    seams = joined_seams(unit)
    if seams:  # those writing the compound as written first: a compound that is written is found in a chunk or two
        written = holding
        for seam in seams:
            written = np.intersect1d(written, terms.postings(seam).docs, assume_unique=True)
        holding = np.concatenate([written, np.setdiff1d(holding, written, assume_unique=True)])
    for start in range(0, len(holding), NEAR_CHECK_CHUNK):
        docs = [int(doc) for doc in holding[start : start + NEAR_CHECK_CHUNK]]
        where = {term: terms.positions(term, docs) for term in wanted}
        if any(written_whole(unit, {term: where[term].get(doc) for term in wanted}) for doc in docs):
            return True
    return False


def _alias_near(terms: IndexTerms, units: Sequence[Unit], docs: IntArray) -> bool:
    """Whether one of `docs` writes each word of an alias in one clause with the next, or an alias of one word
    of several terms (快速排序) whole (see `rank`; bounded and read in chunks as `_near_somewhere` is)."""
    words = [spellings(unit) for unit in units]
    if len(docs) > NEAR_CHECK_TOP:
        return True
    wanted = set().union(*words) | {term for unit in units for term in whole_terms(unit)}
    for start in range(0, len(docs), NEAR_CHECK_CHUNK):
        chunk = [int(doc) for doc in docs[start : start + NEAR_CHECK_CHUNK]]
        where = {term: terms.positions(term, chunk) for term in wanted}
        for doc in chunk:
            if len(units) == 1:  # one word of several terms (快速排序): written whole, or its terms together
                if written_whole(units[0], {term: where[term].get(doc) for term in whole_terms(units[0])}):
                    return True
            elif all(any(near_in_section(where[a].get(doc), where[b].get(doc)) for a in left for b in right)
                     for left, right in pairwise(words)):
                return True
    return False


NEAR_CHECK_CHUNK = 16  # sections whose positions `_near_somewhere` and `_close_somewhere` read at a time


def _two_together(ranking: Ranking) -> bool:
    """Whether a section holds two or more of the query's content words and enough of it to be shown (a full
    or a partial match)."""
    content = [held for unit, held in zip(ranking.plan.units, ranking.units, strict=True) if not unit.framing]
    if len(content) < 2:
        return False
    count = np.sum(content, axis=0)
    return bool(np.any((ranking.coverage >= PARTIAL_MIN_COVERAGE - 1e-6) & (count >= 2)))


def partial_rule(ranking: Ranking) -> np.ndarray:
    """Which sections may follow the full matches: for a question, those holding QUESTION_MIN_COVERAGE of it;
    for keywords, those `KeywordPartials` admits."""
    if ranking.plan.question:
        return ranking.coverage >= QUESTION_MIN_COVERAGE
    held = [bool(holding.any()) for holding in ranking.units]
    return KeywordPartials.of(ranking.plan, ranking.weights, held, ranking.names).admitted(ranking)


def _chain(first: list[int], rest: Iterator[int]) -> Iterator[int]:
    yield from first
    yield from rest


def _as_typed(query: str, words: Sequence[str]) -> dict[str, str]:
    """Each of `words` (searched folded and lower-cased: fa-2, 张量并行) as `query` writes it (FA-2, 張量平行): found
    in the folded query at a word's edges (the CAP of "Recap: CAP theorem", not its recap), and mapped back through
    where each folded character came from. A word not found so is left as it is."""
    if not words:
        return {}  # most searches: every word found
    folded, origins = folded_with_origins(query)
    typed: dict[str, str] = {}
    for word in dict.fromkeys(words):
        for match in re.finditer(re.escape(word), folded):
            start, end = match.span()
            if _inside_a_word(folded, start) or _inside_a_word(folded, end):
                continue
            first, last = (origins[start], origins[end - 1] + 1) if origins is not None else (start, end)
            typed[word] = query[first:last]
            break
    return typed


def _inside_a_word(text: str, at: int) -> bool:
    """Whether offset `at` of `text` falls between two letters or digits of one English word."""
    return 0 < at < len(text) and all(char.isascii() and char.isalnum() for char in text[at - 1 : at + 1])


def _scan_notice(state: IndexState) -> str:
    if state in (IndexState.STARTING, IndexState.REBUILDING, IndexState.MISSING):
        return "search index still being built: these results come from scanning the notes; ranking is simpler."
    if state is IndexState.UNAVAILABLE:
        return "search index unavailable (see `project-memory doctor`): these results come from scanning the notes."
    return f"search index {state.value}: these results come from scanning the notes; ranking is simpler."


def _hit(item: SectionHit, plan: QueryPlan) -> SearchHit:
    return SearchHit(
        path=item.path,
        heading=item.section,
        snippet=make_snippet(item.text, item.matched or plan.terms),
        score=round(item.score, 4),
        kind=item.kind,
        lecture=lecture_label(item.lecture) if item.lecture else None,
        handle=f"{item.path}#{item.section}" if item.section else item.path,
        match="partial" if item.partial else "full",
        matched=list(item.words),
        missing=list(item.missing),
        aliases=list(item.aliases),
    )
