"""The Whoosh index in the user's cache: its schema, its commits, merges and rebuilds, and views of a commit.

With `whoosh_private`, the only module importing whoosh. One Whoosh document per heading section of a note
(plus one for the text before the first heading) and one manifest document per note (path, mtime_ns, size,
content version, and the digest of each section), written in one commit, so the index and its manifest never
disagree. A `meta` document holds the schema version: an index written by another version is "missing".

All of a section's text is one field, `words`: title, headings, body and code occupy separate position
ranges (`analyzer.ZONE_BASES`) and each occurrence weighs its part's boost, so one posting list per term
serves matching, BM25F scoring and phrases. The analysis happens before Whoosh sees the text
(`PreAnalyzed`), positions are packed as arrays, and each section's weighted length is a column.

A changed note rewrites only its changed sections (their keys are their heading paths, their digests say
what changed); saves commit without merging, and `merge_small` folds the small segments they leave, a size
tier at a time (`merge_plan`), never the largest, so no save waits long for a merge.

Whoosh rules kept here: every writer uses `compound=False` and our codec settings; one writer at a time across
processes (a lock file in the cache, `server.locks`) and threads; a searcher is never `refresh()`ed (stale
results in whoosh-reloaded): after a commit a new view is opened, and an old view is closed when the last
query reading it ends. The index folder is the cache's (`server.cache`), checked before every open, write and
delete; only regular files inside it are ever deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import stat
import threading
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate
from typing import Any

from whoosh import index as whoosh_index
from whoosh.codec.base import PerDocumentReader, TermsReader
from whoosh.codec.whoosh3 import W3Codec
from whoosh.columns import NumericColumn, VarBytesColumn
from whoosh.fields import COLUMN, ID, STORED, FieldType, Schema
from whoosh.filedb.structfile import StructFile
from whoosh.formats import Format
from whoosh.index import LockError
from whoosh.reading import IndexReader
from whoosh.searching import Searcher
from whoosh.writing import CLEAR, NO_MERGE

from memory_schema.errors import ProjectMemoryError
from server import locks
from server.cache import RootCache
from server.search.analyzer import BODY, CODE, HEADING, TITLE, section_terms, segmenter_digest
from server.search.chinese_script import table_digest
from server.search.documents import FileRecord, SectionRecord
from server.search.manifest import ManifestEntry
from server.search.postings import LENGTH_COLUMN, WORDS, IndexTerms, SegmentTerms, SegmentVanished, forget_columns
from server.search.ranking import ZONE_BOOSTS
from server.search.whoosh_private import MergeSource, segment_sizes

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "23"  # and the analyzer's: a change of stop words or terms means a rebuild
WRITER_TIMEOUT_SECONDS = 5.0
REBUILD_LOCK_SECONDS = 600.0
LOCK_NAME = "index.lock"
TIER_DOCS = 200  # the size of the smallest merge tier (a save's segment holds a few sections)
MERGE_AT = 8  # segments of one tier that make a merge worth its cost


def schema_version() -> str:
    """The schema's version, the digest of the traditional characters' table the analyzer folds with and that of
    the words it adds to the segmenter: an index written with another table (another OpenCC release) or other
    words reads some text otherwise, so it is rebuilt."""
    return f"{SCHEMA_VERSION}.{table_digest()}.{segmenter_digest()}"


class IndexUnavailable(ProjectMemoryError):
    """The index cannot be used: `state` is "missing" or "corrupt"."""

    def __init__(self, state: str, reason: str) -> None:
        super().__init__(reason)
        self.state = state


class IndexBusy(ProjectMemoryError):
    """Another writer held the index for longer than we wait."""


class IndexOvertaken(ProjectMemoryError):
    """A read failed on a commit another process has since replaced (and may have deleted files of): the
    caller reads the newer commit instead of taking the index for damaged."""


# --- what a section becomes -------------------------------------------------------------------------------


class PreAnalyzed(tuple):  # type: ignore[type-arg]
    """A section's postings, computed before Whoosh sees them: (term, frequency, weight, positions bytes)."""


class ZonedPositions(Format):  # type: ignore[misc]  # whoosh is untyped
    """Postings whose weight is the sum of their occurrences' boosts and whose value is their positions, as
    packed unsigned deltas. Whoosh pickles this class into the schema: keep its name and module."""

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Iterator[tuple[str, int, float, bytes]]:
        if not isinstance(value, PreAnalyzed):
            raise TypeError("the words field takes PreAnalyzed postings")
        return iter(value)

    def decode_positions(self, value: bytes) -> list[int]:
        return decode_positions(value)

    def decode_frequency(self, value: bytes) -> int:
        return len(value) // 4

    def decode_weight(self, value: bytes) -> float:
        return float(len(value) // 4)


def encode_positions(positions: list[int]) -> bytes:
    deltas = array("I", positions)
    for i in range(len(deltas) - 1, 0, -1):
        deltas[i] -= deltas[i - 1]
    return deltas.tobytes()


def decode_positions(value: bytes) -> list[int]:
    deltas = array("I")
    deltas.frombytes(value)
    return list(accumulate(deltas))


def section_key(path: str, key: str) -> str:
    return f"sec:{path}#{key}"


def _section_digest(record: FileRecord, section: SectionRecord) -> str:
    data = "\x1f".join((record.title, record.kind, str(record.lecture), ",".join(record.tags), section.heading,
                        str(section.level), section.headings, section.body, section.code, section.text))
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _section_keys(record: FileRecord) -> list[str]:
    """A stable key per section: its heading path, and a count for repeated ones."""
    seen: dict[str, int] = {}
    keys = []
    for section in record.sections:
        count = seen.get(section.heading, 0)
        seen[section.heading] = count + 1
        keys.append(f"{section.heading}~{count}" if count else section.heading)
    return keys


def _section_document(record: FileRecord, key: str, section: SectionRecord, digest: str) -> dict[str, Any]:
    terms, length = section_terms(
        (
            (TITLE, record.title, ZONE_BOOSTS[TITLE]),
            (HEADING, section.headings, ZONE_BOOSTS[HEADING]),
            (BODY, section.body, ZONE_BOOSTS[BODY]),
            (CODE, section.code, ZONE_BOOSTS[CODE]),
        )
    )
    document: dict[str, Any] = {
        "key": section_key(record.path, key),
        "doctype": "section",
        "path": record.path,
        "kind": record.kind.encode("utf-8"),
        "mtime": record.mtime_ns // 1_000_000_000,
        WORDS: PreAnalyzed((term, len(positions), weight, encode_positions(positions))
                           for term, (positions, weight) in terms.items()),
        LENGTH_COLUMN: float(length),
        "section": section.heading,
        "level": section.level,
        "text": section.text,
    }
    if record.lecture is not None:
        document["lecture"] = record.lecture
    if record.tags:
        document["tags"] = ",".join(record.tags).encode("utf-8")
    return document


@dataclass(frozen=True)
class NoteDocuments:
    """A note as a full build writes it: its manifest entry and its sections' digests and documents.
    Pickled from a build worker to the writing process (`build_workers`)."""

    path: str
    entry: ManifestEntry
    sections: list[tuple[str, str, dict[str, Any]]]  # (key, digest, document), in the note's order


def note_documents(record: FileRecord) -> NoteDocuments:
    """What a full build writes for one note: its parse and analysis, the costly half of a build."""
    sections = []
    for key, section in zip(_section_keys(record), record.sections, strict=True):
        digest = _section_digest(record, section)
        sections.append((key, digest, _section_document(record, key, section, digest)))
    return NoteDocuments(record.path, ManifestEntry(record.mtime_ns, record.size, record.version), sections)


def _file_document(path: str, entry: ManifestEntry, sections: dict[str, str]) -> dict[str, Any]:
    return {
        "key": f"file:{path}",
        "doctype": "file",
        "path": path,
        "mtime_ns": entry.mtime_ns,
        "size": entry.size,
        "version": entry.version,
        "sections": "\n".join(f"{digest} {key}" for key, digest in sections.items()),
        LENGTH_COLUMN: 0.0,
    }


def _stored_sections(document: dict[str, Any] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (document or {}).get("sections", "").split("\n"):
        if line:
            digest, _, key = line.partition(" ")
            found[key] = digest
    return found


def build_schema() -> Schema:
    return Schema(
        key=ID(unique=True, stored=True),  # "meta", "file:<path>" or "sec:<path>#<heading path>"
        doctype=ID(stored=True),
        path=ID(stored=True, sortable=True),
        words=FieldType(format=ZonedPositions(), analyzer=None, scorable=False),
        # Columns, not indexed fields: filters read them as arrays, and a section costs no postings for them.
        wlen=COLUMN(NumericColumn("f", default=0.0)),
        kind=COLUMN(VarBytesColumn()),
        lecture=COLUMN(NumericColumn("i", default=0)),
        tags=COLUMN(VarBytesColumn()),  # "a,b,c", lower-cased
        mtime=COLUMN(NumericColumn("q", default=0)),  # seconds, for `since`
        section=STORED,  # heading path "a/b/c", "" for the text before the first heading
        level=STORED,
        text=STORED,  # the section's own text as written, for snippets
        mtime_ns=STORED,
        size=STORED,
        version=STORED,
        sections=STORED,  # per note: "<digest> <key>" lines of its sections
        schema_version=STORED,
    )


def _codec() -> W3Codec:
    """Whoosh's codec, writing about twice as fast: posting blocks uncompressed (reading them skips zlib too)
    and without per-block field-length bounds, which only serve Whoosh's block-quality skipping, unused here.
    The settings are pickled with each segment."""
    codec = W3Codec(compression=0)
    codec.length_stats = False
    return codec


def merge_plan(sizes: list[tuple[int, int]]) -> list[int]:
    """Which segments to merge (indexes into `sizes`, (documents, deleted) per segment): the segments of the
    lowest size tier holding MERGE_AT of them. Tier 0 holds segments of up to TIER_DOCS live documents, tier k
    up to TIER_DOCS * MERGE_AT**k. The largest segment (the last full build) is never merged, so a merge costs
    what the few similar small segments hold, and every document is merged about log(n) times in all."""
    if len(sizes) <= 1:
        return []
    largest = max(range(len(sizes)), key=lambda i: sizes[i][0])
    tiers: dict[int, list[int]] = {}
    for i, (docs, deleted) in enumerate(sizes):
        if i == largest:
            continue
        live, tier = docs - deleted, 0
        while live > TIER_DOCS * MERGE_AT**tier:
            tier += 1
        tiers.setdefault(tier, []).append(i)
    full = [members for _tier, members in sorted(tiers.items()) if len(members) >= MERGE_AT]
    return full[0] if full else []


def _merge_tier(writer: Any, segments: list[Any]) -> list[Any]:
    """A Whoosh mergetype: fold the segments `merge_plan` picks into one, keep the others."""
    chosen = set(merge_plan(segment_sizes(segments)))
    if not chosen:
        return segments
    from whoosh.reading import SegmentReader

    for i in sorted(chosen):
        reader = SegmentReader(writer.storage, writer.schema, segments[i])
        writer.add_reader(MergeSource(reader))
        reader.close()
    return [segment for i, segment in enumerate(segments) if i not in chosen]


class _View:
    """One commit held open for the queries reading it; closed when retired and no query reads it."""

    def __init__(self, searcher: Any, terms: IndexTerms) -> None:
        self.searcher = searcher
        self.terms = terms
        self.readers = 0
        self.retired = False

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing over damaged files must not mask why we close
            self.searcher.close()


class WhooshIndex:
    """The index folder of one memory root: open it, read a commit, write batches, merge, rebuild."""

    def __init__(self, cache: RootCache) -> None:
        self._cache = cache
        self.directory = cache.index_dir
        self._ix: Any = None
        self._view: _View | None = None
        self._segments: dict[str, SegmentTerms] = {}
        self._lock = threading.Lock()  # _ix, _view, _segments; held briefly, never while waiting for another lock
        self._write_lock = threading.Lock()  # one writer thread in this process
        # One reader thread at a time: Whoosh's readers and our segment readers (shared by every view holding
        # the segment) seek and read shared file handles, so two threads reading at once read each other's
        # bytes and take the index for damaged. Re-entrant so a read nested in a read (none today) cannot hang.
        self._read_lock = threading.RLock()

    # --- opening and reading ------------------------------------------------------------------------

    def open(self) -> None:
        """Open the index; raises IndexUnavailable when it is missing, outdated or broken."""
        self._cache.ensure()
        self._cache.check(self.directory.parent)
        with self._lock:
            self._forget()
            if not self._is_index_folder():
                raise IndexUnavailable("missing", "no search index yet")
            with _damage_reported():
                if not whoosh_index.exists_in(str(self.directory)):
                    raise IndexUnavailable("missing", "no search index yet")
                ix = whoosh_index.open_dir(str(self.directory))
                searcher = ix.searcher()
                meta = searcher.document(key="meta")
                if not meta or meta.get("schema_version") != schema_version():
                    searcher.close()
                    raise IndexUnavailable("missing", "the search index was written by another version")
                self._ix = ix
                try:
                    self._install(searcher)
                except SegmentVanished:
                    self._install_latest()

    @property
    def is_open(self) -> bool:
        return self._ix is not None

    def close(self) -> None:
        with self._lock:
            self._forget()

    @contextlib.contextmanager
    def reading(self) -> Iterator[IndexTerms]:
        """The latest commit, for the block. A read that fails because another process committed meanwhile
        raises IndexOvertaken (read again); other damage raises IndexUnavailable."""
        with self._read_lock:
            view = self._acquire()
            try:
                with _damage_reported():
                    yield view.terms
            except IndexUnavailable:
                if self._overtaken(view):
                    raise IndexOvertaken("another process committed to the search index during the read") from None
                with self._lock:
                    self._forget()
                raise
            finally:
                self._release(view)

    def _overtaken(self, view: _View) -> bool:
        try:
            return not view.searcher.up_to_date()
        except Exception:  # the index is in no state to say: treat the failure as damage
            return False

    def _acquire(self) -> _View:
        with self._lock:
            if self._ix is None or self._view is None:
                raise IndexUnavailable("missing", "the search index is not open")
            with _damage_reported():
                if not self._view.searcher.up_to_date():  # another process committed
                    self._install_latest()
            view = self._view
            assert view is not None
            view.readers += 1
            return view

    def _release(self, view: _View) -> None:
        with self._lock:
            view.readers -= 1
            if view.retired and view.readers == 0:
                view.close()

    def _install_latest(self) -> None:
        """Open the newest commit as the view (lock held), again if another process replaced it meanwhile."""
        for attempt in range(5):
            try:
                self._install(self._ix.searcher())
                return
            except SegmentVanished:
                if attempt == 4:
                    raise

    def _install(self, searcher: Any) -> None:
        """Make `searcher` the current view (lock held); the old one closes when its last reader is done."""
        segments = []
        live: dict[str, SegmentTerms] = {}
        try:
            for sub, _offset in searcher.leaf_searchers():
                reader = sub.reader()
                segid = reader.segment().segment_id()
                terms = self._segments.get(segid) or SegmentTerms(reader, self._cache.columns_dir)
                live[segid] = terms
                segments.append(terms)
        except SegmentVanished:
            searcher.close()
            raise
        if set(live) != set(self._segments):
            forget_columns(self._cache.columns_dir, set(live))
        self._segments = live
        old, self._view = self._view, _View(searcher, IndexTerms(searcher, segments))
        if old is not None:
            old.retired = True
            if old.readers == 0:
                old.close()

    def _forget(self) -> None:
        if self._view is not None:
            self._view.retired = True
            if self._view.readers == 0:
                self._view.close()
        self._view = None
        self._ix = None
        self._segments = {}

    def _is_index_folder(self) -> bool:
        try:
            info = os.lstat(self.directory)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(info.st_mode):
            raise IndexUnavailable("corrupt", f"{self.directory} is not a folder")
        return True

    def manifest(self) -> dict[str, ManifestEntry]:
        with self.reading() as terms:
            return {
                doc["path"]: ManifestEntry(doc["mtime_ns"], doc["size"], doc["version"])
                for doc in terms.searcher.documents(doctype="file")
            }

    def counts(self) -> tuple[int, int]:
        """(files, sections) in the index."""
        with self.reading() as terms:
            searcher = terms.searcher
            return int(searcher.doc_frequency("doctype", "file")), int(searcher.doc_frequency("doctype", "section"))

    def generation(self) -> int | None:
        if self._ix is None:
            return None
        with self.reading() as terms:
            return int(terms.searcher.reader().generation())

    def segment_count(self) -> int:
        with self.reading() as terms:
            return len(terms.searcher.leaf_searchers())

    def size_bytes(self) -> int:
        total = 0
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.directory):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
        return total

    def updated_at(self) -> datetime | None:
        """When the latest commit was written (None if that cannot be told just now)."""
        times: list[float] = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.directory):
                if entry.name.startswith("_MAIN_") and entry.name.endswith(".toc"):
                    with contextlib.suppress(OSError):
                        times.append(entry.stat(follow_symlinks=False).st_mtime)
        return datetime.fromtimestamp(max(times)).astimezone() if times else None

    # --- writing ------------------------------------------------------------------------------------

    def write(
        self,
        records: Iterable[FileRecord],
        deleted: Iterable[str] = (),
        touched: dict[str, ManifestEntry] | None = None,
    ) -> int:
        """In one commit: the notes' changed sections, the deleted notes gone, new stats for touched notes
        (same content); returns the notes written."""
        with self._writing(WRITER_TIMEOUT_SECONDS, "writing"):
            if self._ix is None:
                self.open()
            with self.reading() as terms:
                searcher = terms.searcher
                records = list(records)
                touched = touched or {}
                old = {path: _stored_sections(searcher.document(key=f"file:{path}"))
                       for path in [r.path for r in records] + list(touched)}
            writer = self._ix.writer(timeout=WRITER_TIMEOUT_SECONDS, compound=False, codec=_codec())
            try:
                for path in deleted:
                    writer.delete_by_term("path", path)
                for path, entry in touched.items():
                    writer.delete_by_term("key", f"file:{path}")
                    writer.add_document(**_file_document(path, entry, old[path]))
                for record in records:
                    self._write_record(writer, record, old[record.path])
            except BaseException:
                writer.cancel()
                raise
            writer.commit(mergetype=NO_MERGE)  # a save never waits for a merge: merge_small() runs later
            self._reopen()
            return len(records)

    @staticmethod
    def _write_record(writer: Any, record: FileRecord, old: dict[str, str]) -> None:
        new: dict[str, str] = {}
        for key, section in zip(_section_keys(record), record.sections, strict=True):
            digest = new[key] = _section_digest(record, section)
            if old.get(key) != digest:
                if key in old:
                    writer.delete_by_term("key", section_key(record.path, key))
                writer.add_document(**_section_document(record, key, section, digest))
        for key in old.keys() - new.keys():
            writer.delete_by_term("key", section_key(record.path, key))
        writer.delete_by_term("key", f"file:{record.path}")
        entry = ManifestEntry(record.mtime_ns, record.size, record.version)
        writer.add_document(**_file_document(record.path, entry, new))

    def needs_merge(self) -> bool:
        return bool(merge_plan(self._segment_sizes()))

    def _segment_sizes(self) -> list[tuple[int, int]]:
        with self.reading() as terms:
            return segment_sizes([sub.reader().segment() for sub, _ in terms.searcher.leaf_searchers()])

    def merge_small(self) -> bool:
        """Fold the small segments saves left behind, once MERGE_AT of one size have piled up (`merge_plan`)."""
        with self._writing(WRITER_TIMEOUT_SECONDS, "merging"):
            if self._ix is None or not self.needs_merge():
                return False
            writer = self._ix.writer(timeout=WRITER_TIMEOUT_SECONDS, compound=False, codec=_codec())
            writer.commit(mergetype=_merge_tier)
            self._reopen()
            return True

    def rebuild(self, notes: Iterable[NoteDocuments], *, force: bool) -> bool:
        """Write every note afresh; False, writing nothing, when not `force`d and the index opens after all
        (another process rebuilt it while we waited for the lock). Searches keep reading the old index (if
        it was usable) until the one commit that replaces it; an unusable index folder is emptied first."""
        with self._writing(REBUILD_LOCK_SECONDS, "rebuilding"):
            try:
                self.open()
                ix = self._ix
                if not force:
                    return False
            except IndexUnavailable:
                self._empty_folder()
                ix = whoosh_index.create_in(str(self.directory), build_schema())
            writer = ix.writer(timeout=WRITER_TIMEOUT_SECONDS, compound=False, limitmb=256, codec=_codec())
            try:
                writer.add_document(key="meta", doctype="meta", schema_version=schema_version(), wlen=0.0)
                for note in notes:
                    for _key, _digest, document in note.sections:
                        writer.add_document(**document)
                    digests = {key: digest for key, digest, _document in note.sections}
                    writer.add_document(**_file_document(note.path, note.entry, digests))
            except BaseException:
                writer.cancel()
                raise
            # CLEAR: the new segment replaces every old one in this same commit, so readers see the old
            # index or the new one, never an empty one.
            writer.commit(mergetype=CLEAR)
            with self._lock:
                self._ix = ix
            self._reopen()
            return True

    def _empty_folder(self) -> None:
        """Delete the regular files of the index folder (ours, checked), make it if missing."""
        self._cache.ensure()
        if not self._is_index_folder():
            os.mkdir(self.directory, 0o700)
        self._cache.check(self.directory)
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                    os.unlink(entry.path)  # a symlink itself, never what it points to

    @contextlib.contextmanager
    def _writing(self, lock_timeout: float, doing: str) -> Iterator[None]:
        """One writer at a time across processes and threads; damage found while writing closes the index
        and raises IndexUnavailable."""
        self._cache.ensure("locks")
        try:
            with locks.hold(self._cache.locks_dir, LOCK_NAME, lock_timeout), self._write_lock, _damage_reported():
                yield
        except (locks.LockTimeout, LockError) as err:
            raise IndexBusy(f"another process is {doing} the search index; retry in a moment") from err
        except IndexUnavailable:
            with self._lock:
                self._forget()
            raise

    def _reopen(self) -> None:
        with self._lock:
            if self._ix is not None:
                self._install_latest()


@contextlib.contextmanager
def _damage_reported() -> Iterator[None]:
    """Turn whatever Whoosh raises on damaged files into IndexUnavailable("corrupt").

    Whoosh leaves files open when it fails half-way through reading garbage (its table of contents, a
    segment): the files its failing frames held are closed here, and the original error is not kept.
    """
    reason = ""
    try:
        yield
    except (ProjectMemoryError, LockError, locks.LockTimeout):
        raise
    except Exception as err:  # EOFError, UnpicklingError, struct.error, whoosh's own IndexError...
        if not _raised_reading_the_index(err):
            raise  # a fault in the code ranking what was read: no damage, and no cause to rebuild
        reason = f"{type(err).__name__}: {err}"[:160]
        logger.debug("search index read failed", exc_info=True)  # where in Whoosh, for a report
        _close_files(err)
    if reason:
        raise IndexUnavailable("corrupt", f"the search index is damaged ({reason})")


# Where the index's files are read: Whoosh, and this project's readers of its segments.
# Compared case-folded where the file system folds case (Windows, `os.path.normcase`).
_WHOOSH_DIR = os.path.normcase(os.path.dirname(whoosh_index.__file__) + os.sep)
_INDEX_READERS = frozenset(os.path.normcase(os.path.join(os.path.dirname(__file__), name))
                           for name in ("whoosh_index.py", "whoosh_private.py", "postings.py"))
_PROJECT_DIRS = tuple(
    os.path.normcase(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), package) + os.sep)
    for package in ("server", "memory_schema"))


def _raised_reading_the_index(err: BaseException) -> bool:
    """Whether `err` comes from reading the index's files (in Whoosh or this project's readers of them), not from
    the code searching what was read (a reading block runs the caller's ranking): the innermost frame of this
    project or Whoosh says which. A library frame (numpy) is read past to the frame that called it."""
    frames = []
    traceback = err.__traceback__
    while traceback is not None:
        frames.append(os.path.normcase(traceback.tb_frame.f_code.co_filename))
        traceback = traceback.tb_next
    for filename in reversed(frames):
        if filename.startswith(_WHOOSH_DIR) or filename in _INDEX_READERS:
            return True
        if filename.startswith(_PROJECT_DIRS):
            return False
    return True


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
