"""Answering a search without the index (none yet, a damaged one, one being rebuilt) by scanning the notes.

The same analyzer, the same coverage and absent-topic rules (`server.ranking`; a question also gets its
partial matches, marked), a simpler score: word weights come from a cheap test over whole files (`_Terms`:
an English word is tested exactly, raft is not in draft); only the files that could pass the coverage rule are
analyzed, section by section, and scored by a plain weighted log-tf sum. Files are kept between scans while their
stat is unchanged.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from itertools import pairwise

from memory_schema.errors import ProjectMemoryError
from memory_schema.layout import Layout
from server.search.absence import (
    SPECIFIC_SHARE,
    absent_units,
    apart_pair,
    inflected,
    inflected_where_unwritten,
    name_in_its_plural,
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
    coverage,
    fold,
    framed,
    has_han,
    index_terms,
    word_terms,
    writes_capitals,
)
from server.search.documents import FileRecord, file_record
from server.search.filters import Filters, passes
from server.search.note_evidence import raise_hits
from server.search.ranking import (
    CAPITALS_CHECK_TOP,
    MIN_COVERAGE,
    NAMELESS_MARGIN,
    PARTIAL_MIN_COVERAGE,
    QUESTION_MIN_COVERAGE,
    ZONE_BOOSTS,
    KeywordPartials,
    applied_sides,
    compared_sides,
    names_held,
    near_in_section,
    spelled_in_parts,
    unit_weight,
    written_whole,
)
from server.search.results import SectionHit
from server.store import FileStat, NoteStore, Snapshot

# Sections are cut and analyzed only in this many of the notes that could match, the likeliest first
# (`_likelihood`). Analyzing is the scan's cost: a 5,000-note folder has thousands of notes holding two common
# words, and a search waited seconds for sections that rank below the tenth.
SCAN_ANALYZE_MOST = 200


class _Terms:
    """A text as a container of its index terms, told cheaply: an English term exactly (`word_terms`: raft is
    not in draft), a Chinese one by substring (a superset: its bigrams, save across a function word)."""

    def __init__(self, text: str) -> None:
        self.cased = fold(text)
        self.folded = self.cased.lower()
        self._text = text
        self._words: frozenset[str] | None = None

    def __contains__(self, term: object) -> bool:
        if not isinstance(term, str) or term not in self.folded:  # a cheap superset first
            return False
        if has_han(term):
            return True
        if self._words is None:
            self._words = word_terms(self._text)
        return term in self._words


class _ScannedFile:
    """One note as the scan sees it: its folded text at once, its sections and their terms when needed."""

    def __init__(self, path: str, stat: FileStat, snapshot: Snapshot, kind: str) -> None:
        self.stat = (stat.mtime_ns, stat.size)
        self.text = _Terms(snapshot.text)
        self.path = path
        self._source = (path, stat, snapshot, kind)
        self._record: FileRecord | None = None
        self._sections: list[dict[str, Counter[str]]] | None = None

    @property
    def record(self) -> FileRecord:
        if self._record is None:
            path, stat, snapshot, kind = self._source
            self._record = file_record(
                path, snapshot.text, kind=kind, mtime_ns=stat.mtime_ns, size=stat.size, version=snapshot.version
            )
        return self._record

    def analyzed(self) -> list[dict[str, Counter[str]]]:
        """Per section, its term counts by field."""
        if self._sections is None:
            title = Counter(t[0] for t in index_terms(self.record.title))
            self._sections = [
                {
                    "title": title,
                    "heading": Counter(t[0] for t in index_terms(section.headings)),
                    "body": Counter(t[0] for t in index_terms(section.body)),
                    "code": Counter(t[0] for t in index_terms(section.code)),
                }
                for section in self.record.sections
            ]
        return self._sections


class Scanner:
    """Searches the notes themselves."""

    def __init__(self, store: NoteStore) -> None:
        self._store = store
        self._files: dict[str, _ScannedFile] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._files.clear()

    def search(
        self, plan: QueryPlan, filters: Filters, layout: Layout, *, limit: int, per_file: bool
    ) -> list[SectionHit]:
        with self._lock:
            files = [f for f in (self._file(path, layout) for path in self._store.iter_markdown()) if f is not None]
        def written(term: str) -> bool:
            return any(term in f.text for f in files)

        plan = name_in_its_plural(inflected_where_unwritten(plan, written), written)
        plan = _written_aliases(plan, files)
        could = [plan.satisfied(f.text) for f in files]
        _capitals_only(plan, files, could)
        df = [sum(row[i] for row in could) for i in range(len(plan.units))]
        total = max(1, len(files))
        weights = framed(plan.units, [unit_weight(d, total, question=plan.question, named=unit.named)
                                      for d, unit in zip(df, plan.units, strict=True)])
        held = [count > 0 for count in df]

        def together(members: Sequence[int]) -> bool:
            return _together(files, could, plan, members)

        def in_one_note(members: Sequence[int]) -> bool:
            return _in_one_note(files, could, plan, members)

        widened: list[tuple[QueryPlan, list[list[bool]]]] = []  # the plan with inflected forms, read once

        def in_one_note_inflected(members: Sequence[int]) -> bool:  # as the index reads it (`engine._in_one_note`)
            if in_one_note(members):
                return True
            if not widened:  # only for a pair not met as written, and once per search however many pairs
                wide = replace(plan, units=[inflected(unit) for unit in plan.units])
                widened.append((wide, [wide.satisfied(f.text) for f in files]))
            wide, wide_could = widened[0]
            return _together(files, wide_could, wide, members)

        def two_together() -> bool:  # judged by note: the scan analyzes sections only later
            content = [i for i, unit in enumerate(plan.units) if not unit.framing]
            return any(coverage(weights, row) >= PARTIAL_MIN_COVERAGE and sum(row[i] for i in content) >= 2
                       for row in could)

        def near(members: Sequence[int]) -> bool:
            return _near(files, could, plan, members)

        def close(index: int) -> bool:
            return _close(files, could, plan, index)

        absence = absent_units(plan, held, together, near, close, in_one_note_inflected,
                               lambda index: df[index] <= SPECIFIC_SHARE * total)
        # No term list to find a slip of the keys in (`engine._slip_of`): a typo found nowhere (the cahce of KV cahce
        # 显存占用怎么算) counts as a name the notes lack until the index is there.
        if not_covered(plan, weights, absence, total, held) or apart_pair(
            plan, weights, held, in_one_note, two_together=two_together
        ):
            return []
        named = names_held(plan, held)
        keep = _admission(plan, weights, held, named)
        sides = compared_sides(plan, df)
        applied = applied_sides(plan, df)
        found: list[tuple[float, SectionHit]] = []
        shares = [(file, row, coverage(weights, row)) for file, row in zip(files, could, strict=True)]
        candidates = [(file, row, share) for file, row, share in shares if keep(share, row)]
        # Those that may match in full first (a keyword query's candidates include notes holding part of it), and
        # in a large folder the likeliest notes' sections only.
        large = len(candidates) > SCAN_ANALYZE_MOST
        candidates.sort(key=lambda found: (found[2] < MIN_COVERAGE,
                                           -_likelihood(found[0], plan, weights, found[1]) if large else 0.0))
        analyzed = 0
        sections: dict[str, int] = {}
        matched_whole: set[str] = set()
        for file, _row, share in candidates:
            if analyzed >= SCAN_ANALYZE_MOST or (len(matched_whole) >= limit and share < MIN_COVERAGE):
                break  # partial matches would follow `limit` notes matched in full: never shown
            if passes(file.record, filters):
                analyzed += 1
                sections[file.record.path] = len(file.record.sections)
                for held_share, hit in self._sections(file, plan, weights, keep, named, sides, applied):
                    found.append((held_share, hit))
                    if not hit.partial:
                        matched_whole.add(hit.path)
        found = _raised_by_notes(found, sections)
        found.sort(key=_index_order(plan, weights, named))
        if found and all(hit.partial for _, hit in found) \
                and partial_matches_miss_the_topic(plan, absence, held, [hit.words for _, hit in found]):
            return []  # as the index reads it (`engine._from_index`)
        return _best([hit for _, hit in found], limit, per_file)

    @staticmethod
    def _sections(
        file: _ScannedFile, plan: QueryPlan, weights: list[float], keep: Admission, named: Sequence[int],
        sides: Sequence[int], applied: Sequence[int],
    ) -> Iterator[tuple[float, SectionHit]]:
        """The file's sections `keep` admits, each with the share of the query it holds (below a full
        match's when it holds none of the query's `named` words, or the word naming one of the things compared
        (`sides`), as `ranking.rank` reads the index; none lacking the subject or the target of a question asking
        whether one applies to the other, `applied`)."""
        record = file.record
        for section, fields in zip(record.sections, file.analyzed(), strict=True):
            present = set().union(*fields.values())
            satisfied = plan.satisfied(present)
            if not all(satisfied[i] for i in applied):
                continue
            held = coverage(weights, satisfied)
            if (named and not any(satisfied[i] for i in named)) or \
                    not all(satisfied[i] for i in sides):
                held = min(held, MIN_COVERAGE - NAMELESS_MARGIN)
            if not keep(held, satisfied):
                continue
            if plan.phrase_texts and not plan.phrases_in(f"{record.title}\n{section.headings}\n{section.body}"):
                continue
            score = 0.0
            for unit, weight, ok in zip(plan.units, weights, satisfied, strict=True):
                if ok:
                    for name, counts in fields.items():
                        score += weight * ZONE_BOOSTS[name] * math.log1p(max(counts[t] for t in unit.terms))
            matched = frozenset(t for t in plan.terms if t in present)
            words = tuple(unit.text for unit, ok in zip(plan.units, satisfied, strict=True) if ok)
            missing = tuple(unit.text for unit, ok in zip(plan.units, satisfied, strict=True)
                            if not ok and not unit.framing)
            yield held, SectionHit(
                record.path, section.heading, section.level, score, record.kind, record.lecture, section.text, matched,
                words, partial=held < MIN_COVERAGE, missing=missing,
            )

    def _file(self, path: str, layout: Layout) -> _ScannedFile | None:
        try:
            stat = self._store.stat(path)
            cached = self._files.get(path)
            if cached is not None and cached.stat == (stat.mtime_ns, stat.size):
                return cached
            snapshot = self._store.read(path)
        except ProjectMemoryError:
            return None
        scanned = _ScannedFile(path, stat, snapshot, layout.kind_of(path).value)
        self._files[path] = scanned
        return scanned


def _likelihood(file: _ScannedFile, plan: QueryPlan, weights: Sequence[float], row: Sequence[bool]) -> float:
    """How likely a note is to hold a leading section, told without cutting it: each query word it holds, by its
    weight and how often the note writes it or a glossary alias for it (counted in its folded text, a superset as
    `_Terms` tests), more when its title line or path has it (a title weighs most in a section's score)."""
    text = file.text.folded
    first_line = text.split("\n", 1)[0]
    title = f"{fold(file.path).lower()}\n{first_line}"
    score = 0.0
    for i, (unit, weight, held) in enumerate(zip(plan.units, weights, row, strict=True)):
        if held:
            terms = unit.terms.union(*(u.terms for alt in plan.alternatives if i in alt.covers for u in alt.units))
            count = max((text.count(term) for term in terms), default=0)
            score += weight * (math.log1p(count) + (ZONE_BOOSTS["title"] if any(t in title for t in terms) else 0))
    return score


def _capitals_only(plan: QueryPlan, files: list[_ScannedFile], could: list[list[bool]]) -> None:
    """An acronym held nowhere when no note holding it writes it in capitals, as `ranking.rank` reads the index."""
    aliased = plan.aliased
    for i, unit in enumerate(plan.units):
        if not unit.acronym or i in aliased:
            continue  # most queries: nothing to read
        holding = [(file, row) for file, row in zip(files, could, strict=True) if row[i]]
        if len(holding) <= CAPITALS_CHECK_TOP and not any(
            writes_capitals(file.text.cased, unit.text) or writes_capitals(fold(file.path), unit.text)
            for file, _ in holding
        ):
            for _, row in holding:
                row[i] = False


def _written_aliases(plan: QueryPlan, files: list[_ScannedFile]) -> QueryPlan:
    """The plan with only the aliases some note holds, as `ranking.rank` reads the index; an alias of several words
    standing for a query word no note holds counts only where a note writes its words together (bubble sort for
    冒泡排序: a pipeline bubble, a sort lines later)."""
    kept = []
    for alt in plan.alternatives:
        holding = [f for f in files if all(unit.matched_by(f.text) for unit in alt.units)]
        if not holding:
            continue
        if (len(alt.units) > 1 or spelled_in_parts(alt.units[0])) \
                and not all(any(plan.units[i].matched_by(f.text) for f in files) for i in alt.covers) \
                and not any(_written_near(file, alt.units) for file in holding):
            continue
        kept.append(alt)
    return plan if len(kept) == len(plan.alternatives) else replace(plan, alternatives=kept)


def _written_near(file: _ScannedFile, units: Sequence[Unit]) -> bool:
    """Whether a part of the note writes each of `units` in one clause with the next."""
    words = [spellings(unit) for unit in units]
    for text in _parts(file.record):
        where = _positions(text)
        if len(units) == 1:  # one word of several terms (快速排序): written whole, or its terms together
            if written_whole(units[0], where):
                return True
        elif all(any(near_in_section(where.get(a), where.get(b)) for a in left for b in right)
                 for left, right in pairwise(words)):
            return True
    return False


def _together(files: list[_ScannedFile], could: list[list[bool]], plan: QueryPlan, members: Sequence[int]) -> bool:
    """Whether a section of some note holds all `members` (only files holding all of them are analyzed)."""
    for file, row in zip(files, could, strict=True):
        if all(row[i] for i in members):
            for fields in file.analyzed():
                satisfied = plan.satisfied(set().union(*fields.values()))
                if all(satisfied[i] for i in members):
                    return True
    return False


def _in_one_note(files: list[_ScannedFile], could: list[list[bool]], plan: QueryPlan, members: Sequence[int]) -> bool:
    """Whether some note holds all `members`, each in one of its sections, as the index reads them (not by
    substring: raft is not in draft); only files that may hold all of them are analyzed."""
    for file, row in zip(files, could, strict=True):
        if all(row[i] for i in members):
            found = [plan.satisfied(set().union(*fields.values())) for fields in file.analyzed()]
            if all(any(satisfied[i] for satisfied in found) for i in members):
                return True
    return False


def _near(files: list[_ScannedFile], could: list[list[bool]], plan: QueryPlan, pair: Sequence[int]) -> bool:
    """Whether a section of some note holds the two query units of `pair` near each other, in its title,
    headings, body or code (only files holding both are analyzed)."""
    if written_as_one(plan, pair[0], pair[1]):
        return True
    candidates = near_pairs(plan, pair)
    for file, row in zip(files, could, strict=True):
        if not all(row[i] for i in pair):
            continue
        for text in _parts(file.record):
            folded = fold(text).lower()
            wanted = [(a, b) for a, b in candidates if a in folded and b in folded]  # cheap: substrings
            if wanted:
                where = _positions(text)
                if any(written_near(plan, pair, (a, b), (where.get(a), where.get(b))) for a, b in wanted):
                    return True
    return False


def _close(files: list[_ScannedFile], could: list[list[bool]], plan: QueryPlan, index: int) -> bool:
    """Whether a section of some note writes the query unit `index`, spelled in parts, whole or by its parts as
    `spelled_in_section` reads them, in its title, headings, body or code (only files that may hold it are
    analyzed)."""
    unit = plan.units[index]
    options = unit.options
    for file, row in zip(files, could, strict=True):
        if not row[index]:
            continue
        for text in _parts(file.record):
            folded = fold(text).lower()
            if any(all(term in folded for term in option) for option in options) \
                    and written_whole(unit, _positions(text)):  # substrings first, as in `_near`
                return True
    return False


def _positions(text: str) -> dict[str, list[int]]:
    """Each term of `text` with its positions, in order."""
    where: dict[str, list[int]] = {}
    for term, pos in index_terms(text):
        where.setdefault(term, []).append(pos)
    return {term: sorted(found) for term, found in where.items()}


def _parts(record: FileRecord) -> Iterator[str]:
    """A note's title and each section's headings, prose and code: the parts nearness is read within."""
    yield record.title
    for section in record.sections:
        yield from (section.headings, section.body, section.code)


Admission = Callable[[float, Sequence[bool]], bool]  # whether a section (or a note) holding this share of the
# query, and these of its words, may be a match


def _admission(plan: QueryPlan, weights: Sequence[float], held: Sequence[bool], named: Sequence[int]) -> Admission:
    """The matches the index admits (`engine.partial_rule`): full ones, and partial ones holding
    QUESTION_MIN_COVERAGE of a question or that `KeywordPartials` admits for keywords."""
    if plan.question:
        return lambda share, holding: share >= QUESTION_MIN_COVERAGE
    partials = KeywordPartials.of(plan, weights, held, named)
    return lambda share, holding: share >= MIN_COVERAGE or (
        share > 0 and partials.admits(share, [i for i, ok in enumerate(holding) if ok]))


def _index_order(
    plan: QueryPlan, weights: Sequence[float], named: Sequence[int]
) -> Callable[[tuple[float, SectionHit]], tuple[bool, bool, float, float]]:
    """Full matches by score, then partial ones. Keywords' as the index orders them (`ranking.Ranking.partial`):
    those holding one of the query's names first, then by how many of the keywords they hold, then by score. A
    question's by the share of it they hold, then score: the scan weighs words by notes, not sections, so where it
    draws the line between full and partial differs from the index, and a question's partial match holding most of
    it is the likelier answer (pin memory of 为什么 pin memory 能让训练更快, which the index matches in full)."""
    names = {plan.units[i].text for i in named}
    content = {unit.text for unit, weight in zip(plan.units, weights, strict=True) if weight > 0 and not unit.framing}

    def order(item: tuple[float, SectionHit]) -> tuple[bool, bool, float, float]:
        share, hit = item
        if not hit.partial:
            return False, False, 0.0, -hit.score
        if plan.question:
            return True, False, -share, -hit.score
        words = set(hit.words)
        return True, not words & names, -float(len(words & content)), -hit.score

    return order


def _raised_by_notes(
    found: list[tuple[float, SectionHit]], sections: dict[str, int]
) -> list[tuple[float, SectionHit]]:
    """The matches with their scores raised as the index raises its admitted sections' (`note_evidence`;
    `sections`: how many sections each note has)."""
    raised = raise_hits([(hit.score, held, hit.path) for held, hit in found], sections)
    return [(held, replace(hit, score=score)) for (held, hit), score in zip(found, raised, strict=True)]


def _best(found: list[SectionHit], limit: int, per_file: bool) -> list[SectionHit]:
    """The first `limit` hits, one per file when `per_file`."""
    chosen: list[SectionHit] = []
    seen: set[str] = set()
    for item in found:
        if per_file and item.path in seen:
            continue
        seen.add(item.path)
        chosen.append(item)
        if len(chosen) >= limit:
            break
    return chosen
