"""The Whoosh index: its schema, its analyzer, its documents, its postings; the only module importing whoosh.

One Whoosh document per heading section of a note (plus one for the text before the first heading), and
one manifest document per note (path, mtime_ns, size, content version) written in the same commit as the
note's sections, so the index and its manifest never disagree. A `meta` document holds the schema version:
an index written by another version is treated as missing and rebuilt.

Whoosh rules kept here: every writer uses `compound=False` (no copy of the index into memory at each
searcher open), a timeout and our codec settings (`_codec`), and is serialized across processes by a file
lock beside the index; a searcher is never `refresh()`ed (whoosh-reloaded's refresh returns stale
documents): after a commit, ours or another process's, a new one is opened. Searches read posting lists
directly (`_Terms`) and rank in `server.ranking`; nothing is parsed from user text.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock
from filelock import Timeout as LockTimeout
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh.analysis import Analyzer, Token
from whoosh.codec.base import PerDocumentReader, TermsReader
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.filedb.structfile import StructFile
from whoosh.index import LockError
from whoosh.matching import FilterMatcher
from whoosh.reading import IndexReader, SegmentReader
from whoosh.scoring import bm25
from whoosh.searching import Searcher
from whoosh.writing import CLEAR, NO_MERGE

from server.analyzer import QueryPlan, index_terms
from server.documents import FileRecord
from server.filters import Filters
from server.index_trust import is_trusted, record_trusted
from server.manifest import ManifestEntry
from server.ranking import TEXT_FIELDS, IndexHit, any_field_docs, match_units, rank

T = TypeVar("T")
SCHEMA_VERSION = "1"
WRITER_TIMEOUT_SECONDS = 5.0
MAX_SEGMENTS = 30  # merging costs 1-5 s in pure Python: rare enough that few saves ever wait for one
TRUST_WAIT_SECONDS = 2.0  # how long a commit may take to be recorded as ours


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


class IndexUnavailable(Exception):
    """The index cannot be used: `state` is "missing" or "corrupt"."""

    def __init__(self, state: str, reason: str) -> None:
        super().__init__(reason)
        self.state = state


class IndexBusy(Exception):
    """Another writer held the index lock for longer than we wait."""


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


def _codec() -> W3Codec:
    """Whoosh's codec, writing about twice as fast: posting blocks uncompressed (the index grows by about
    40%; reading them skips zlib too) and without per-block field-length bounds, which only serve
    Whoosh's block-quality skipping, unused here. The settings are pickled with each segment."""
    codec = W3Codec(compression=0)
    codec.length_stats = False
    return codec


def _merge_all_but_largest(writer: Any, segments: list[Any]) -> list[Any]:
    """Fold every segment but the largest (the last full build) into one: the small ones are what saves
    left behind, so this costs little and leaves queries reading two segments."""
    largest = max(segments, key=lambda segment: segment.doc_count_all())
    for segment in segments:
        if segment is not largest:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            writer.add_reader(reader)
            reader.close()
    return [largest]


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
        self._view: _Terms | None = None  # the current searcher's postings, read as queries need them
        self._lock = threading.RLock()  # the searcher
        self._write_lock = threading.Lock()

    # --- opening ------------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the index and a searcher; raises IndexUnavailable when it is missing, outdated or broken."""
        with self._lock:
            self._forget()
            if not self.directory.is_dir():
                raise IndexUnavailable("missing", "no search index yet")
            self._check_trusted()  # before anything of Whoosh's reads (and unpickles) the table of contents
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

    def _check_trusted(self) -> None:
        """Refuse an index whose table of contents this user's server did not write: Whoosh unpickles it."""
        # A writer (another process, or another thread here) records its commit right after making it, without
        # waiting for anything else: poll for that moment. Taking the file lock instead could deadlock with a
        # writer of this process that holds it and waits for the searcher lock a reader holds here.
        deadline = time.monotonic() + TRUST_WAIT_SECONDS
        while not is_trusted(self.directory):
            if time.monotonic() > deadline:
                raise IndexUnavailable("corrupt", "the index holds files this server did not write; rebuilding it")
            time.sleep(0.01)

    def _exists(self) -> bool:
        """Whether the directory holds an index at all (a damaged one included)."""
        if not self.directory.is_dir():
            return False
        if not is_trusted(self.directory):
            return True  # an index, and not one to let Whoosh unpickle
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
            self._check_trusted()
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
        self._view = None
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
        `server.ranking`), at most `limit`, the best one per file when `per_file`."""
        return self._read(lambda searcher: self._search(searcher, plan, filters, limit, min_coverage, per_file))

    def absent_words(self, plan: QueryPlan) -> list[str]:
        """The query words that no section holds, not even through an alias."""

        def absent(searcher: Any) -> list[str]:
            terms = self._terms(searcher)
            matched = match_units(plan, lambda text: any_field_docs(terms, text))
            return [unit.text for unit, docs in zip(plan.units, matched.effective, strict=True) if not docs]

        return self._read(absent)

    def _terms(self, searcher: Any) -> _Terms:
        """The postings view of this searcher, kept while it stays the current one."""
        if self._view is None or self._view.searcher is not searcher:
            self._view = _Terms(searcher)
        return self._view

    def _search(
        self, searcher: Any, plan: QueryPlan, filters: Filters, limit: int, min_coverage: float, per_file: bool
    ) -> list[IndexHit]:
        terms = self._terms(searcher)
        restrict = build_filter(filters)

        def narrowed(docs: set[int]) -> set[int]:
            return docs & set(searcher.docs_for_query(restrict))

        ranking = rank(
            plan,
            terms,
            min_coverage=min_coverage,
            limit=limit,
            restrict=narrowed if restrict is not None else None,
        )
        if ranking is None:
            return []
        scores = ranking.scores
        hits: list[IndexHit] = []
        seen: set[str] = set()
        for doc in sorted(scores, key=lambda doc: (-scores[doc], doc)):
            score = scores[doc]
            path = terms.path(doc)
            if per_file and path in seen:
                continue
            seen.add(path)
            stored = searcher.stored_fields(doc)
            hits.append(
                IndexHit(
                    path=path,
                    section=stored.get("section", ""),
                    level=stored.get("level", 0),
                    score=float(score),
                    kind=stored.get("kind", "note"),
                    lecture=stored.get("lecture"),
                    text=stored.get("text", ""),
                    matched=ranking.matched.terms_in(doc),
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
            writer = self._ix.writer(timeout=lock_timeout, compound=False, codec=_codec())
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
            writer.commit(mergetype=NO_MERGE)  # a save never waits for a merge; tidy() merges afterwards
            record_trusted(self.directory)
            self._reopen(self._ix)
            return written

    def tidy(self) -> bool:
        """Merge small segments, in a commit of their own, once MAX_SEGMENTS have piled up.

        Saves commit without merging so that none waits seconds for a merge; this runs after a batch is
        already searchable (the watcher's thread, the end of a warm-up) and keeps queries reading few segments.
        """
        with self._writing(WRITER_TIMEOUT_SECONDS, "merging"):
            if self._ix is None:
                return False
            self._check_trusted()  # _segments() reads the latest table of contents
            if len(self._ix._segments()) < MAX_SEGMENTS:
                return False
            writer = self._ix.writer(timeout=WRITER_TIMEOUT_SECONDS, compound=False, codec=_codec())
            writer.commit(mergetype=_merge_all_but_largest)
            record_trusted(self.directory)
            self._reopen(self._ix)
            return True

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
            writer = ix.writer(timeout=WRITER_TIMEOUT_SECONDS, compound=False, limitmb=128, codec=_codec())
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
            record_trusted(self.directory)
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


class _Postings:
    """One term's postings in one field, live sections only: doc number -> term frequency, raw value (the
    positions, encoded) and, once asked for, BM25 score."""

    __slots__ = ("at", "scores", "values", "weights")

    def __init__(self, ids: list[int], weights: list[float], values: list[Any]) -> None:
        self.at = dict(zip(ids, range(len(ids)), strict=True))
        self.weights = weights
        self.values = values
        self.scores: dict[int, float] = {}


class _Terms:
    """One searcher's postings and statistics, read once per term (`ranking.TermSource`).

    A posting list is read block by block (Whoosh's own matchers cost a Python call per posting and
    per matcher in their trees). Scores are Whoosh's BM25F: the searcher's idf and average field
    length, the section's field length as Whoosh stores it.
    """

    MAX_POSTINGS = 250_000  # postings held (~50 MB at most) before the cache starts afresh

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.sections = int(searcher.doc_frequency("doctype", "section"))
        self._leaves = [(sub.reader(), offset) for sub, offset in searcher.leaf_searchers()]
        self._postings: dict[tuple[str, str], _Postings] = {}
        self._held = 0
        self._lengths: dict[str, dict[int, int]] = {field: {} for field in TEXT_FIELDS}
        self._formats = {field: searcher.schema[field].format for field in TEXT_FIELDS}
        self._paths: Any = None

    def path(self, doc: int) -> str:
        if self._paths is None:
            self._paths = self.searcher.reader().column_reader("path")
        return str(self._paths[doc])

    def docs(self, field: str, term: str) -> Any:
        return self._get(field, term).at.keys()

    def scores(self, field: str, term: str, within: Collection[int]) -> dict[int, float]:
        postings = self._get(field, term)
        at, known = postings.at, postings.scores
        docs = [doc for doc in at if doc in within] if len(at) < len(within) else [doc for doc in within if doc in at]
        missing = [doc for doc in docs if doc not in known]
        if missing:
            searcher, weights, lengths = self.searcher, postings.weights, self._lengths[field]
            idf, average = searcher.idf(field, term), searcher.avg_field_length(field) or 1
            for doc in missing:
                length = lengths.get(doc)
                if length is None:
                    length = lengths[doc] = searcher.doc_field_length(doc, field, 1)
                known[doc] = bm25(idf, weights[at[doc]], length, average, 0.75, 1.2)
        return {doc: known[doc] for doc in docs}

    def bm25(self, field: str, term: str, doc: int) -> float:
        return self.scores(field, term, (doc,))[doc]

    def positions(self, field: str, term: str, doc: int) -> list[int]:
        postings = self._get(field, term)
        return list(self._formats[field].decode_positions(postings.values[postings.at[doc]]))

    def _get(self, field: str, term: str) -> _Postings:
        key = (field, term)
        found = self._postings.get(key)
        if found is None:
            found = self._read(field, term)
            if self._held + len(found.at) > self.MAX_POSTINGS:
                self._postings.clear()
                self._held = 0
            self._postings[key] = found
            self._held += len(found.at)
        return found

    def _read(self, field: str, term: str) -> _Postings:
        ids: list[int] = []
        weights: list[float] = []
        values: list[Any] = []
        for reader, offset in self._leaves:
            if (field, term) not in reader:
                continue
            matcher = reader.postings(field, term)
            deleted: frozenset[int] = frozenset()
            if isinstance(matcher, FilterMatcher):  # how a segment with deleted documents hides them
                matcher, deleted = matcher.child, reader.deleted_docs_set
                matcher.reset()  # the filter has already stepped past the deleted documents it starts with
            start = len(ids)
            if type(matcher) is W3LeafMatcher:
                _read_blocks(matcher, ids, weights, values)
            else:  # a short list stored inline with the term
                while matcher.is_active():
                    ids.append(matcher.id())
                    weights.append(matcher.weight())
                    values.append(matcher.value())
                    matcher.next()
            if deleted or offset:
                kept = [i for i in range(start, len(ids)) if ids[i] not in deleted]
                ids[start:] = [ids[i] + offset for i in kept]
                weights[start:] = [weights[i] for i in kept]
                values[start:] = [values[i] for i in kept]
        return _Postings(ids, weights, values)


def _read_blocks(matcher: Any, ids: list[int], weights: list[float], values: list[Any]) -> None:
    """Every posting of a Whoosh 3 posting list, a block at a time (whoosh-reloaded 2.7.5's block layout:
    `_read_ids`, `_read_weights`, `_read_values`, `_next_block`; the version is pinned)."""
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        matcher._read_values()
        ids.extend(matcher._ids)
        weights.extend(matcher._weights)
        values.extend(matcher._values)
        matcher._next_block()


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
