"""The Whoosh index: its schema, its analyzer, its documents, its queries; the only module importing whoosh.

One Whoosh document per heading section of a note (plus one for the text before the first heading), and
one manifest document per note (path, mtime_ns, size, content version) written in the same commit as the
note's sections, so the index and its manifest never disagree. A `meta` document holds the schema version:
an index written by another version is treated as missing and rebuilt.

Whoosh rules kept here: every writer uses `compound=False` (no copy of the index into memory at each
searcher open) and a timeout, and is serialized across processes by a file lock beside the index; a
searcher is never `refresh()`ed (whoosh-reloaded's refresh returns stale documents): after a commit, ours
or another process's, a new one is opened. Queries are built here from an `analyzer.QueryPlan`, never
parsed from user text.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from filelock import FileLock
from filelock import Timeout as LockTimeout
from whoosh import collectors
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh.analysis import Analyzer, Token
from whoosh.codec.base import PerDocumentReader, TermsReader
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.filedb.structfile import StructFile
from whoosh.index import LockError
from whoosh.query.spans import SpanNear2
from whoosh.reading import IndexReader
from whoosh.searching import Searcher
from whoosh.writing import CLEAR, MERGE_SMALL

from memory_schema.lectures import parse_lecture
from memory_schema.markdown import MarkdownDocument, Section, parse_markdown
from server.analyzer import QueryPlan, Unit, framed, index_terms

T = TypeVar("T")
SCHEMA_VERSION = "1"
WRITER_TIMEOUT_SECONDS = 5.0
MAX_SEGMENTS = 8
# Query-time field weights (linear, unlike Whoosh's index-time field_boost, which BM25 saturates).
FIELD_BOOSTS = {"title": 4.0, "heading": 2.5, "body": 1.0, "code": 0.3}
ALIAS_BOOST = 0.7
NEAR_BOOST = 0.6
NEAR_SLOP = 8
EXACT_BOOST = 1.5
FRAMING_BOOST = 0.5
RESCORE_TOP = 50
SKIP_TO_LIMIT = 150


class NoteAnalyzer(Analyzer):  # type: ignore[misc]  # whoosh is untyped
    """`analyzer.index_terms` as a Whoosh analyzer. Whoosh pickles it into the index: keep this name."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.pos, token.startchar, token.endchar = start_pos, start_char, start_char + len(value)
            yield token
            return
        # Character offsets are not tracked (snippets find terms themselves): chars=True gets the start.
        token.startchar = token.endchar = start_char
        token.boost = 1.0
        token.stopped = False
        for text, pos in index_terms(value, start_pos):
            token.text = text
            token.pos = pos
            yield token


def build_schema() -> Schema:
    analyzer = NoteAnalyzer()
    return Schema(
        key=ID(unique=True, stored=True),  # "meta", "file:<path>" or "section:<path>#<ordinal>"
        doctype=ID(stored=True),
        path=ID(stored=True, sortable=True),
        title=TEXT(analyzer=analyzer, phrase=True),
        heading=TEXT(analyzer=analyzer, phrase=True),
        body=TEXT(analyzer=analyzer, phrase=True),
        code=TEXT(analyzer=analyzer, phrase=False),
        kind=ID(stored=True),
        lecture=NUMERIC(int, stored=True),
        tags=KEYWORD(commas=True, lowercase=True, stored=True, scorable=False),
        mtime=NUMERIC(int, bits=64, stored=True),  # seconds, for `since`
        section=STORED,  # heading path "a/b/c", "" for the text before the first heading
        level=STORED,
        text=STORED,  # the section's own text as written, for snippets
        mtime_ns=STORED,
        size=STORED,
        version=STORED,
        schema_version=STORED,
    )


TEXT_FIELDS = tuple(FIELD_BOOSTS)
ALIAS_FIELDS = ("title", "heading", "body")


class IndexUnavailable(Exception):
    """The index cannot be used: `state` is "missing" or "corrupt"."""

    def __init__(self, state: str, reason: str) -> None:
        super().__init__(reason)
        self.state = state


class IndexBusy(Exception):
    """Another writer held the index lock for longer than we wait."""


@dataclass(frozen=True)
class ManifestEntry:
    mtime_ns: int
    size: int
    version: str


@dataclass(frozen=True)
class Filters:
    kinds: frozenset[str] | None = None
    lecture: int | None = None
    tags: tuple[str, ...] = ()
    since: int | None = None  # epoch seconds


@dataclass(frozen=True)
class IndexHit:
    path: str
    section: str
    level: int
    score: float
    kind: str
    lecture: int | None
    text: str
    matched: frozenset[str]  # query terms found in this section, any field


# --- what a note becomes ------------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SNIPPET_SOURCE_CHARS = 800  # a heading-only section shows the start of its subsections instead


@dataclass(frozen=True)
class SectionRecord:
    ordinal: int
    level: int  # 0 for the text before the first heading
    heading: str  # the heading path "a/b/c" that addresses the section ("" before the first heading)
    headings: str  # heading text to index: the trail without the document's title
    body: str  # the section's own prose, fenced code removed
    code: str  # the fenced code
    text: str  # what snippets are cut from


@dataclass(frozen=True)
class FileRecord:
    path: str
    kind: str
    title: str  # title text to index: the title and the file name's words
    lecture: int | None
    tags: tuple[str, ...]
    mtime_ns: int
    size: int
    version: str
    sections: tuple[SectionRecord, ...]


def split_code(text: str) -> tuple[str, str]:
    """(prose, code): the fenced code blocks moved out of the prose."""
    if "```" not in text and "~~~" not in text:
        return text, ""
    prose: list[str] = []
    code: list[str] = []
    fence = ""
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if not fence:
            if match:
                fence = match.group(1)
            else:
                prose.append(line)
        elif (
            match
            and match.group(1)[0] == fence[0]
            and len(match.group(1)) >= len(fence)
            and (line.strip() == match.group(1))
        ):
            fence = ""
        else:
            code.append(line)
    return "".join(prose), "".join(code)


def file_words(path: str) -> str:
    """`notes/lecture-05_gpus.zh.md` -> "lecture 05 gpus zh"."""
    name = PurePosixPath(path).name
    stem = name[:-3] if name.lower().endswith(".md") else name
    return " ".join(re.sub(r"[-_.]+", " ", stem).split())


def _title(doc: MarkdownDocument, path: str) -> str:
    declared = doc.metadata.get("title")
    if isinstance(declared, str) and declared.strip():
        return declared.strip()
    return doc.title or file_words(path)


def _lecture(doc: MarkdownDocument, path: str, title: str) -> int | None:
    declared = doc.metadata.get("lecture")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared > 0:
        return declared
    if isinstance(declared, str):
        text = declared.strip()
        found = int(text) if text.isdigit() else parse_lecture(text)
        if found:
            return found
    return parse_lecture(path) or parse_lecture(title)


def _tags(doc: MarkdownDocument) -> tuple[str, ...]:
    declared = doc.metadata.get("tags")
    if isinstance(declared, str):
        items: list[object] = list(declared.split(","))
    elif isinstance(declared, list):
        items = list(declared)
    else:
        return ()
    tags = (str(item).strip().lstrip("#").strip().lower() for item in items if item is not None)
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _opening(doc: MarkdownDocument, section: Section) -> str:
    """What a section with no text of its own shows: the start of its subsections, or of the document."""
    start = doc.body_offset if section.level == 0 else section.body_start
    return doc.text[start : start + _SNIPPET_SOURCE_CHARS]


def file_record(path: str, text: str, *, kind: str, mtime_ns: int, size: int, version: str) -> FileRecord:
    """The documents one note becomes: a title and, per section, its headings, prose and code."""
    doc = parse_markdown(text)
    title = _title(doc, path)
    words = file_words(path)
    title_text = title if words.lower() in title.lower() else f"{title}\n{words}"
    sections: list[SectionRecord] = []
    for ordinal, section in enumerate(doc.sections):
        own = doc.own_text(section)
        prose, code = split_code(own)
        trail = section.trail[1:] if section.trail and section.trail[0] == doc.title else section.trail
        shown = own if own.strip() else _opening(doc, section)
        sections.append(SectionRecord(ordinal, section.level, section.path, " / ".join(trail), prose, code, shown))
    return FileRecord(
        path=path,
        kind=kind,
        title=title_text,
        lecture=_lecture(doc, path, title),
        tags=_tags(doc),
        mtime_ns=mtime_ns,
        size=size,
        version=version,
        sections=tuple(sections),
    )


def _documents(record: FileRecord) -> Iterator[dict[str, Any]]:
    common: dict[str, Any] = {"doctype": "section", "path": record.path, "kind": record.kind, "title": record.title}
    if record.lecture is not None:
        common["lecture"] = record.lecture
    if record.tags:
        common["tags"] = ",".join(record.tags)
    common["mtime"] = record.mtime_ns // 1_000_000_000
    for section in record.sections:
        yield {
            **common,
            "key": f"section:{record.path}#{section.ordinal}",
            "heading": section.headings,
            "body": section.body,
            "code": section.code,
            "section": section.heading,
            "level": section.level,
            "text": section.text,
        }
    yield _manifest_document(record.path, record.mtime_ns, record.size, record.version)


def _merge_when_many(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh's merge policy, applied only once MAX_SEGMENTS segments have piled up: saving a note then
    costs one small segment (~50 ms) rather than a merge at every commit (~200 ms), and queries still
    read few segments."""
    return segments if len(segments) < MAX_SEGMENTS else MERGE_SMALL(writer, segments)


def _manifest_document(path: str, mtime_ns: int, size: int, version: str) -> dict[str, Any]:
    return {
        "key": f"file:{path}",
        "doctype": "file",
        "path": path,
        "mtime_ns": mtime_ns,
        "size": size,
        "version": version,
    }


class SearchIndex:
    """One Whoosh index directory: open, write in batches, search, rebuild."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file_lock = FileLock(str(directory.parent / f"{directory.name}.lock"))
        self._ix: Any = None
        self._searcher: Any = None
        self._lock = threading.RLock()  # the searcher
        self._write_lock = threading.Lock()

    # --- opening ------------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the index and a searcher; raises IndexUnavailable when it is missing, outdated or broken."""
        with self._lock:
            self._forget()
            if not self._exists():
                raise IndexUnavailable("missing", "no search index yet")
            with _damage_reported():
                ix = whoosh_index.open_dir(str(self.directory))
                searcher = ix.searcher()
                meta = searcher.document(key="meta")
                if not meta or meta.get("schema_version") != SCHEMA_VERSION:
                    searcher.close()
                    raise IndexUnavailable("missing", "the search index was written by another version")
            self._ix, self._searcher = ix, searcher

    def _exists(self) -> bool:
        """Whether the directory holds an index at all (a damaged one included)."""
        if not self.directory.is_dir():
            return False
        try:
            with _damage_reported():
                return bool(whoosh_index.exists_in(str(self.directory)))
        except IndexUnavailable:  # a table of contents full of garbage: an index, and a damaged one
            return True

    def _current(self) -> Any:
        """A searcher on the latest commit; a new one when another process has committed since."""
        if self._ix is None:
            raise IndexUnavailable("missing", "the search index is not open")
        if self._searcher is None or not self._searcher.up_to_date():
            self._close_searcher()
            self._searcher = self._ix.searcher()
        return self._searcher

    def _read(self, action: Callable[[Any], T]) -> T:
        """`action(searcher)` on the latest commit. A read that fails because another process committed
        (and merged segments away) meanwhile is retried once on a new searcher; other damage closes the
        index and raises IndexUnavailable: "missing" when its files are gone, else "corrupt"."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    with _damage_reported():
                        return action(self._current())
                except IndexUnavailable as err:
                    if attempt == 1 and err.state == "corrupt" and self._overtaken():
                        self._close_searcher()
                        continue
                    self._forget()
                    if err.state == "corrupt" and not self._exists():
                        raise IndexUnavailable("missing", "the search index was removed") from None
                    raise
            raise AssertionError("unreachable: the second attempt returns or raises")

    def _overtaken(self) -> bool:
        """Whether a newer commit than our searcher's exists."""
        try:
            return self._searcher is not None and not self._searcher.up_to_date()
        except Exception:  # the index is in no state to say: treat the failure as damage
            return False

    def _forget(self) -> None:
        self._close_searcher()
        self._ix = None

    def _close_searcher(self) -> None:
        if self._searcher is not None:
            # Closing a searcher over deleted or damaged files must not mask why we are closing it.
            with contextlib.suppress(Exception):
                self._searcher.close()
            self._searcher = None

    def close(self) -> None:
        with self._lock:
            self._forget()

    @property
    def is_open(self) -> bool:
        return self._ix is not None

    # --- reading ------------------------------------------------------------------------------------

    def manifest(self) -> dict[str, ManifestEntry]:
        return self._read(
            lambda searcher: {
                doc["path"]: ManifestEntry(doc["mtime_ns"], doc["size"], doc["version"])
                for doc in searcher.documents(doctype="file")
            }
        )

    def counts(self) -> tuple[int, int]:
        """(files, sections) in the index."""

        def count(searcher: Any) -> tuple[int, int]:
            return int(searcher.doc_frequency("doctype", "file")), int(searcher.doc_frequency("doctype", "section"))

        return self._read(count)

    def generation(self) -> int | None:
        """The commit the searcher reads (a new searcher first if another process has committed since)."""
        if self._ix is None:
            return None
        return self._read(lambda searcher: int(searcher.reader().generation()))

    def updated_at(self) -> datetime | None:
        """When the latest commit was written (None if that cannot be told just now)."""
        times: list[float] = []
        for toc in self.directory.glob("_MAIN_*.toc"):
            with contextlib.suppress(OSError):  # another process's commit may delete an old one meanwhile
                times.append(toc.stat().st_mtime)
        return datetime.fromtimestamp(max(times)).astimezone() if times else None

    def search(
        self, plan: QueryPlan, filters: Filters, *, limit: int, min_coverage: float, per_file: bool
    ) -> list[IndexHit]:
        """The best sections by BM25F among those covering `min_coverage` of the query's weight (see
        `server.search`), at most `limit`, the best one per file when `per_file`."""
        return self._read(lambda searcher: self._search(searcher, plan, filters, limit, min_coverage, per_file))

    def absent_words(self, plan: QueryPlan) -> list[str]:
        """The query words that no section holds, not even through an alias."""
        matched = self._read(lambda searcher: _matching_units(searcher, plan))
        return [unit.text for unit, docs in zip(plan.units, matched.effective, strict=True) if not docs]

    def _search(
        self, searcher: Any, plan: QueryPlan, filters: Filters, limit: int, min_coverage: float, per_file: bool
    ) -> list[IndexHit]:
        matched = _matching_units(searcher, plan)
        total = max(1, int(searcher.doc_frequency("doctype", "section")))
        weights = framed(plan.units, [unit_weight(len(docs), total) for docs in matched.own])
        needed = min_coverage * sum(weights)
        gained: dict[int, float] = {}
        for docs, weight in zip(matched.effective, weights, strict=True):
            for doc in docs:
                gained[doc] = gained.get(doc, 0.0) + weight
        allowed = {doc for doc, weight in gained.items() if weight >= needed - 1e-9}
        restrict = build_filter(filters)
        if restrict is not None and allowed:
            allowed &= set(searcher.docs_for_query(restrict))
        if not allowed:
            return []
        for phrase in plan.phrases:
            allowed &= set(searcher.docs_for_query(_phrase_query(phrase)))
        if not allowed:
            return []
        scores = _scores(searcher, build_query(plan), allowed)
        # Proximity needs positions, the costly part of a query: only the leading sections get it.
        leading = sorted(scores, key=lambda doc: (-scores[doc], doc))[: max(RESCORE_TOP, limit * 5)]
        proximity = build_proximity(plan)
        if proximity is not None:
            for doc, bonus in _scores(searcher, proximity, set(leading)).items():
                scores[doc] += bonus
        paths = searcher.reader().column_reader("path")
        hits: list[IndexHit] = []
        seen: set[str] = set()
        for doc in sorted(scores, key=lambda doc: (-scores[doc], doc)):
            score = scores[doc]
            path = paths[doc]
            if per_file and path in seen:
                continue
            seen.add(path)
            stored = searcher.stored_fields(doc)
            terms = {t for i, docs in enumerate(matched.effective) if doc in docs for t in matched.terms[i]}
            hits.append(
                IndexHit(
                    path=path,
                    section=stored.get("section", ""),
                    level=stored.get("level", 0),
                    score=float(score),
                    kind=stored.get("kind", "note"),
                    lecture=stored.get("lecture"),
                    text=stored.get("text", ""),
                    matched=frozenset(terms),
                )
            )
            if len(hits) >= limit:
                break
        return hits

    # --- writing ------------------------------------------------------------------------------------

    def write(
        self,
        records: Iterable[FileRecord],
        deleted: Iterable[str] = (),
        touched: dict[str, ManifestEntry] | None = None,
    ) -> int:
        """In one commit: replace these notes' documents, remove the deleted notes' and record new stats
        for touched notes (same content); returns the notes written."""
        lock_timeout = WRITER_TIMEOUT_SECONDS
        with self._writing(lock_timeout, "writing"):
            if self._ix is None:
                self.open()
            writer = self._ix.writer(timeout=lock_timeout, compound=False)
            try:
                written = 0
                for path in deleted:
                    writer.delete_by_term("path", path)
                for path, entry in (touched or {}).items():
                    writer.delete_by_term("key", f"file:{path}")
                    writer.add_document(**_manifest_document(path, entry.mtime_ns, entry.size, entry.version))
                for record in records:
                    writer.delete_by_term("path", record.path)
                    for doc in _documents(record):
                        writer.add_document(**doc)
                    written += 1
            except BaseException:
                writer.cancel()
                raise
            writer.commit(mergetype=_merge_when_many)
            self._reopen(self._ix)
            return written

    def rebuild(self, records: Iterable[FileRecord], *, force: bool, lock_timeout: float = 600.0) -> bool:
        """Write every note afresh; False, writing nothing, when not `force`d and the index opens after all
        (another process rebuilt it while we waited for the lock). Searches keep reading the old index (if
        it was usable) until the one commit that replaces it; an unusable index directory is emptied first."""
        with self._writing(lock_timeout, "rebuilding"):
            try:
                self.open()
                ix = self._ix
                if not force:
                    return False
            except IndexUnavailable:
                if self.directory.exists():
                    shutil.rmtree(self.directory)  # a cache: whatever is there is unusable
                self.directory.mkdir(parents=True)
                ix = whoosh_index.create_in(str(self.directory), build_schema())
            writer = ix.writer(timeout=WRITER_TIMEOUT_SECONDS, compound=False, limitmb=128)
            try:
                writer.add_document(key="meta", doctype="meta", schema_version=SCHEMA_VERSION)
                for record in records:
                    for doc in _documents(record):
                        writer.add_document(**doc)
            except BaseException:
                writer.cancel()
                raise
            # CLEAR: the new segment replaces every old one in this same commit, so readers see the old
            # index or the new one, never an empty one.
            writer.commit(mergetype=CLEAR)
            self._reopen(ix)
            return True

    @contextlib.contextmanager
    def _writing(self, lock_timeout: float, doing: str) -> Iterator[None]:
        """One writer at a time: across processes (file lock, then Whoosh's own lock) and threads.
        Damage found while writing closes the index and raises IndexUnavailable."""
        try:
            with self._file_lock.acquire(timeout=lock_timeout), self._write_lock, _damage_reported():
                yield
        except (LockTimeout, LockError) as err:
            raise IndexBusy(f"another process is {doing} the search index") from err
        except IndexUnavailable:
            with self._lock:
                self._forget()
            raise

    def _reopen(self, ix: Any) -> None:
        with self._lock:
            self._close_searcher()
            self._ix = ix
            self._searcher = ix.searcher()


@contextlib.contextmanager
def _damage_reported() -> Iterator[None]:
    """Turn whatever Whoosh raises on damaged files into IndexUnavailable("corrupt").

    Whoosh leaves files open when it fails half-way through reading garbage (its table of contents, a
    segment): the files its failing frames held are closed here, and the original error is not kept.
    """
    reason = ""
    try:
        yield
    except (IndexUnavailable, IndexBusy, LockError, LockTimeout):
        raise
    except Exception as err:  # EOFError, UnpicklingError, struct.error, whoosh's own IndexError...
        reason = f"{type(err).__name__}: {err}"[:160]
        _close_files(err)
    if reason:
        raise IndexUnavailable("corrupt", f"the search index is damaged ({reason})")


_HOLDING_FILES = (io.IOBase, StructFile, IndexReader, PerDocumentReader, TermsReader, Searcher)


def _close_files(err: BaseException) -> None:
    """Close the files and readers that the failing frames held (half-built ones included)."""
    traceback = err.__traceback__
    while traceback is not None:
        for value in traceback.tb_frame.f_locals.values():
            if isinstance(value, _HOLDING_FILES):
                with contextlib.suppress(Exception):
                    value.close()
        traceback = traceback.tb_next


@dataclass
class _UnitMatches:
    own: list[set[int]]  # per unit: the sections matching it
    effective: list[set[int]]  # ... or matching an alternative that covers it
    terms: list[set[str]]  # per unit: the terms to mark in a snippet (its own and its alternatives')


def _matching_units(searcher: Any, plan: QueryPlan) -> _UnitMatches:
    """Which sections match each query unit: posting lists as sets, no scoring."""
    cache: dict[str, set[int]] = {}

    def term_docs(text: str) -> set[int]:
        if text not in cache:
            docs: set[int] = set()
            for field in TEXT_FIELDS:
                docs.update(searcher.docs_for_query(Q.Term(field, text)))
            cache[text] = docs
        return cache[text]

    def unit_docs(unit: Unit) -> set[int]:
        docs: set[int] = set()
        for option in unit.options:
            found = set(term_docs(option[0]))
            for term in option[1:]:
                found &= term_docs(term)
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
    return _UnitMatches(own, effective, terms)


def _scores(searcher: Any, query: Q.Query, docs: set[int]) -> dict[int, float]:
    """The score of each of `docs` (all of which match `query`).

    Few documents: the matcher skips straight to each. Many: Whoosh's own collector walks the matches
    (with its matcher "replacement" and block-quality skipping off: on these wide OR queries they walk
    the whole matcher tree every few documents and cost more than they save).
    """
    if len(docs) > SKIP_TO_LIMIT:
        top = collectors.TopCollector(limit=len(docs), usequality=False, replace=0)
        collector = collectors.FilterCollector(top, allow=docs)
        searcher.search_with_collector(query, collector)
        return {doc: float(score) for doc, score in collector.results().items()}
    context = searcher.context(needs_current=True)
    ordered = sorted(docs)
    scores: dict[int, float] = {}
    for sub, offset in searcher.leaf_searchers():
        end = offset + sub.doc_count_all()
        matcher = query.matcher(sub, context)
        for doc in ordered:
            if doc < offset or doc >= end:
                continue
            local = doc - offset
            if matcher.is_active() and matcher.id() < local:
                matcher.skip_to(local)
            if not matcher.is_active():
                break
            if matcher.id() == local:
                scores[doc] = float(matcher.score())
    return scores


def unit_weight(df: int, total: int) -> float:
    """How much of a query's meaning one word carries: its BM25 inverse document frequency, squared so that
    common framing words (原理, 区别, 计算) count for little beside the topic words."""
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5)) ** 2


# --- queries -------------------------------------------------------------------------------------------


def _term(text: str, boost: float, fields: tuple[str, ...]) -> Q.Query:
    return Q.Or([Q.Term(field, text, boost=boost * FIELD_BOOSTS[field]) for field in fields])


def _unit(unit: Unit, boost: float, fields: tuple[str, ...] = TEXT_FIELDS) -> Q.Query:
    options = [
        _term(option[0], boost, fields) if len(option) == 1 else Q.And([_term(t, boost, fields) for t in option])
        for option in unit.options
    ]
    return options[0] if len(options) == 1 else Q.Or(options)


def build_query(plan: QueryPlan) -> Q.Query:
    """BM25F over the fields, per unit; aliases weigh less (and skip code)."""
    parts: list[Q.Query] = [_unit(unit, FRAMING_BOOST if unit.framing else 1.0) for unit in plan.units]
    for alt in plan.alternatives:
        units = [_unit(unit, ALIAS_BOOST, ALIAS_FIELDS) for unit in alt.units]
        parts.append(units[0] if len(units) == 1 else Q.And(units))
    return Q.Or(parts)


def build_proximity(plan: QueryPlan) -> Q.Query | None:
    """The bonus for neighbouring query words found close together, and for the query found as written."""
    parts: list[Q.Query] = []
    for left, right in zip(plan.units, plan.units[1:], strict=False):
        if left.anchor != right.anchor:
            # A span scores as its terms do, so the boost goes on them.
            pair = [Q.Term("body", left.anchor, boost=NEAR_BOOST), Q.Term("body", right.anchor, boost=NEAR_BOOST)]
            parts.append(SpanNear2(pair, slop=NEAR_SLOP, ordered=False))
    if 1 < len(plan.sequence) <= 12:
        parts.append(Q.Phrase("body", list(plan.sequence), boost=EXACT_BOOST))
    return Q.Or(parts) if parts else None


def _phrase_query(phrase: tuple[str, ...]) -> Q.Query:
    return Q.Or([Q.Phrase(field, list(phrase)) for field in ("title", "heading", "body")])


def build_filter(filters: Filters) -> Q.Query | None:
    """None without filters: manifest documents have no text fields, so text queries never match them."""
    clauses: list[Q.Query] = []
    if filters.kinds is not None:
        clauses.append(Q.Or([Q.Term("kind", kind) for kind in sorted(filters.kinds)]))
    if filters.lecture is not None:
        clauses.append(Q.NumericRange("lecture", filters.lecture, filters.lecture))
    if filters.tags:
        clauses.append(Q.Or([Q.Term("tags", tag) for tag in filters.tags]))
    if filters.since is not None:
        clauses.append(Q.NumericRange("mtime", filters.since, None))
    return Q.And(clauses) if clauses else None
