"""The search engine the server and the CLI call: queries, filters, freshness and recovery.

`SearchEngine` answers a query from the Whoosh index (`server.index`) when it can, and by scanning the
notes with the same analyzer when it cannot (no index yet, a damaged one, one being rebuilt): the results
say which (`index_state`, `notice`). It keeps the index current by comparing the notes on disk with the
index's manifest (mtime and size first, the content version only when those differ) and writes every
change of one pass in one commit.

Ranking: BM25F over title > heading > body > code (query-time boosts in `server.index`), glossary aliases
at 0.7 of a word's weight, then a bonus for the leading sections where neighbouring query words occur close
together or the whole query occurs as written; one best section per file unless `all_sections`.

Which sections match at all (the coverage rule): each query word (a jieba word, or a letter/digit word)
weighs the square of its inverse document frequency over sections; words that only frame a question
(原理, 区别, example, ...) weigh nothing unless the query has nothing else. A section must hold at least
MIN_COVERAGE (65%) of the query's total weight, a word counting as held when it or one of its glossary
aliases is present (a Chinese word: the word itself, or all of its character bigrams). Rare words carry
a query's meaning, so an absent topic finds nothing (区块链共识算法: 区块链 occurs nowhere; 共识 and 算法
together are a small share), while a question padded with common words (为什么需要KV缓存) finds its topic.
A plain OR would return every note that mentions 算法; an AND of every bigram would miss notes that phrase
the topic a little differently. When nothing matches and some query word occurs in no note, the notice
names it.

Cold start: the constructor only records its arguments; `warm_up` loads the dictionary, opens the index,
reconciles it (or builds it) and may run in a background thread; `search` waits for the index to be opened
(not for a build: meanwhile it scans).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from memory_schema.errors import InvalidInput, ProjectMemoryError
from memory_schema.layout import MEMORY_KINDS, DocumentKind, Layout
from memory_schema.lectures import lecture_label, parse_lecture
from server.analyzer import (
    Alternative,
    QueryPlan,
    coverage,
    fold,
    framed,
    index_terms,
    load_segmenter,
    plan_query,
)
from server.glossary import Glossary, parse_glossary_markdown
from server.index import (
    FIELD_BOOSTS,
    FileRecord,
    Filters,
    IndexBusy,
    IndexHit,
    IndexUnavailable,
    ManifestEntry,
    SearchIndex,
    file_record,
    unit_weight,
)
from server.snippets import make_snippet
from server.store import FileStat, NoteStore, Snapshot

logger = logging.getLogger(__name__)

MIN_COVERAGE = 0.65
MAX_LIMIT = 50
WRITE_WAIT_SECONDS = 2.0  # how long a write's index update waits for another pass before queueing
GLOSSARY_NOTE = "glossary.md"
SCOPES: dict[str, frozenset[str] | None] = {
    "all": None,
    "discussions": frozenset({DocumentKind.DISCUSSION.value}),
    "notes": frozenset({DocumentKind.NOTE.value}),
    "memory": frozenset(kind.value for kind in MEMORY_KINDS),
}
Progress = Callable[[int, int], None]


class SearchHit(BaseModel):
    path: str
    heading: str
    snippet: str
    score: float
    kind: str
    lecture: str | None
    handle: str


class SearchResults(BaseModel):
    query: str
    hits: list[SearchHit]
    aliases: list[str]
    index_state: str
    notice: str | None = None


class IndexStatus(BaseModel):
    state: str  # starting | fresh | pending N | rebuilding | missing | corrupt
    files: int
    sections: int
    pending: int
    updated_at: datetime | None


class ReconcileReport(BaseModel):
    indexed: list[str]  # notes (re)indexed
    removed: list[str]  # notes gone from disk, removed from the index
    unchanged: int
    touched: int = 0  # notes with a new mtime but the same content: only their stat was remembered
    seconds: float


def default_index_dir(root: Path) -> Path:
    return root / ".project-memory" / "index"


class SearchEngine:
    def __init__(
        self,
        store: NoteStore,
        layout: Layout,
        *,
        index_dir: Path | None = None,
        glossary: Glossary | None = None,
    ) -> None:
        self._store = store
        self._layout = layout
        self._index_dir = index_dir if index_dir is not None else default_index_dir(store.root)
        self._index = SearchIndex(self._index_dir)
        self._fixed_glossary = glossary
        self._glossary = glossary
        self._state = "starting"
        self._state_lock = threading.Lock()
        self._ready = threading.Event()  # the index was opened, or found unusable: searches may run
        self._done = threading.Event()  # warm-up finished
        self._started = False
        self._listeners: list[Progress] = []
        self._write_lock = threading.RLock()  # one pass over the manifest at a time
        self._manifest: dict[str, ManifestEntry] = {}
        self._manifest_generation: int | None = None
        self._pending: set[str] = set()  # changed notes not yet indexed (index busy, rebuilding, starting)
        self._pending_deleted: set[str] = set()
        self._updated_at: datetime | None = None
        self._rebuilder: threading.Thread | None = None
        self._scanner = _Scanner(store)
        self._closed = False
        self.last_reconcile: ReconcileReport | None = None

    # --- lifecycle ----------------------------------------------------------------------------------

    def warm_up(self, progress: Progress | None = None) -> None:
        """Load the dictionary, open the index and bring it up to date (building it if needed).

        Thread-safe and idempotent: a later caller waits for the first one to finish, hearing its progress.
        """
        with self._state_lock:
            if progress is not None:
                self._listeners.append(progress)
            first, self._started = not self._started, True
        if not first:
            self._done.wait()
            return
        try:
            load_segmenter()
            self._load_glossary()
            self._prepare_home()
            try:
                self._index.open()
                self._manifest_loaded()
                self._set_state("fresh")
            except IndexUnavailable as err:
                self._set_state(err.state)
            self._ready.set()
            if self._state == "fresh":
                self.reconcile(self._report)
            else:
                self._rebuild(self._report, force=False)
        except Exception:
            logger.exception("search index warm-up failed; searches scan the notes")
            if self._state in ("starting", "rebuilding"):
                self._set_state("corrupt")
        finally:
            self._ready.set()
            self._done.set()
            with self._state_lock:
                self._listeners.clear()

    def _report(self, done: int, total: int) -> None:
        for listener in list(self._listeners):
            try:
                listener(done, total)
            except Exception:  # a progress reader that went away must not stop the build
                logger.debug("progress listener failed", exc_info=True)

    def _wait_until_ready(self) -> None:
        if self._ready.is_set():
            return
        with self._state_lock:
            started = self._started
        if not started:
            self.warm_up()
        self._ready.wait()

    def close(self) -> None:
        self._closed = True
        rebuilder = self._rebuilder
        if rebuilder is not None:
            rebuilder.join(timeout=60)
        with self._write_lock:
            self._index.close()

    def _prepare_home(self) -> None:
        """The index is a cache: keep it out of version control."""
        home = self._index_dir.parent
        try:
            home.mkdir(parents=True, exist_ok=True)
            ignore = home / ".gitignore"
            if home == self._store.root / ".project-memory" and not ignore.exists():
                ignore.write_text("*\n", encoding="utf-8")
        except OSError:
            logger.warning("cannot prepare %s for the search index", home, exc_info=True)

    def _load_glossary(self) -> None:
        if self._fixed_glossary is not None:
            return
        glossary = Glossary.builtin()
        try:
            own = self._store.read(GLOSSARY_NOTE).text
        except ProjectMemoryError:
            own = ""
        self._glossary = glossary.extended(parse_glossary_markdown(own)) if own else glossary

    def _set_state(self, state: str) -> None:
        with self._state_lock:
            self._state = state

    def status(self) -> IndexStatus:
        with self._state_lock:
            state, pending = self._state, len(self._pending) + len(self._pending_deleted)
        files = sections = 0
        if state in ("fresh", "rebuilding") and self._index.is_open:
            try:
                files, sections = self._index.counts()
            except IndexUnavailable as err:
                state = err.state
        if state == "fresh" and pending:
            state = f"pending {pending}"
        return IndexStatus(state=state, files=files, sections=sections, pending=pending, updated_at=self._updated_at)

    # --- searching ----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        scope: str = "all",
        limit: int = 10,
        lecture: int | str | None = None,
        tags: list[str] | None = None,
        since: date | datetime | None = None,
        all_sections: bool = False,
    ) -> SearchResults:
        filters = _filters(scope, lecture, tags, since)
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("the query is empty; give a few words to search for, such as 'KV缓存'.")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit!r}.")
        self._wait_until_ready()
        plan = self._plan(query)
        aliases = list(dict.fromkeys(alt.text for alt in plan.alternatives))
        state = self._state
        if not plan.units:
            common = "the query holds only very common words; add a topic word."
            return SearchResults(query=query, hits=[], aliases=[], index_state=state, notice=common)
        found: list[IndexHit] | None = None
        notice: str | None = None
        if self._index.is_open and state not in ("missing", "corrupt"):
            try:
                found = self._index.search(
                    plan, filters, limit=limit, min_coverage=MIN_COVERAGE, per_file=not all_sections
                )
            except IndexUnavailable as err:
                self._index_failed(err)
        if found is None:
            state = self._state if self._state != "fresh" else "corrupt"
            found = self._scanner.search(plan, filters, self._layout, limit=limit, per_file=not all_sections)
            notice = f"search index {state}: these results come from scanning the notes; ranking is simpler."
        elif waiting := len(self._pending) + len(self._pending_deleted):
            state = f"pending {waiting}" if state == "fresh" else state
            notice = f"{waiting} changed notes are not indexed yet; results may miss their latest text."
        elif not found:
            notice = self._nothing_found(plan)
        hits = [_hit(item, plan) for item in found]
        return SearchResults(query=query, hits=hits, aliases=aliases, index_state=state, notice=notice)

    def _nothing_found(self, plan: QueryPlan) -> str | None:
        """Why a query found nothing, when some of its words occur in no note at all."""
        try:
            absent = self._index.absent_words(plan)
        except IndexUnavailable:
            return None
        if not absent:
            return None
        words = "、".join(absent)
        return f"no note contains {words}; the notes may not cover this, or try other words for it."

    def _plan(self, query: str) -> QueryPlan:
        plan = plan_query(query)
        glossary = self._glossary if self._glossary is not None else Glossary.builtin()
        for expansion in glossary.expand(query):
            covers = tuple(
                i for i, unit in enumerate(plan.units) if expansion.start <= unit.start and unit.end <= expansion.end
            )
            if not covers:
                continue
            for alias in expansion.aliases:
                units = tuple(plan_query(alias).units)
                if units:
                    plan.alternatives.append(Alternative(alias, units, covers))
        return plan

    # --- recovery -----------------------------------------------------------------------------------

    def _index_failed(self, err: IndexUnavailable) -> None:
        logger.warning("search index unusable (%s); scanning until it is rebuilt", err)
        self._set_state(err.state)
        self._schedule_rebuild()

    def _schedule_rebuild(self) -> None:
        with self._state_lock:
            if self._closed or (self._rebuilder is not None and self._rebuilder.is_alive()):
                return
            thread = threading.Thread(target=self._background_rebuild, name="search-index-rebuild", daemon=True)
            self._rebuilder = thread
        thread.start()

    def _background_rebuild(self) -> None:
        try:
            self._rebuild(None, force=False)
        except Exception:
            logger.exception("rebuilding the search index failed; searches keep scanning the notes")

    def rebuild(self, progress: Progress | None = None) -> None:
        """Build the index afresh from every note, synchronously. Searches meanwhile read the old index
        if it is usable, else scan."""
        self._wait_until_ready()
        self._rebuild(progress, force=True)

    def _rebuild(self, progress: Progress | None, *, force: bool) -> None:
        with self._write_lock:
            previous = self._state
            self._set_state("rebuilding")
            try:
                if not force and self._reopened():
                    self._catch_up(progress, persist_touched=True)
                    return
                self._take_pending()  # every note is read now; later changes queue up again
                paths = list(self._store.iter_markdown())
                manifest: dict[str, ManifestEntry] = {}

                def records() -> Iterator[FileRecord]:
                    for done, path in enumerate(paths, 1):
                        loaded = self._load(path)
                        if loaded is not None:
                            record = self._file_record(path, *loaded)
                            manifest[path] = ManifestEntry(record.mtime_ns, record.size, record.version)
                            yield record
                        if progress is not None:
                            progress(done, len(paths))

                if self._index.rebuild(records(), force=force):
                    self._manifest = manifest
                    self._committed()
                else:  # another process built it while we waited for the lock
                    self._manifest_loaded()
                    self._set_state("fresh")
                    self._catch_up(progress, persist_touched=True)
                self._scanner.clear()
                self._set_state("fresh")
            except BaseException:
                self._set_state(previous if previous in ("fresh", "missing", "corrupt") else "missing")
                raise
        if self._pending or self._pending_deleted:
            self.update_paths((), ())

    def _reopened(self) -> bool:
        """Whether the index opens now (another process may have rebuilt it while we waited)."""
        try:
            self._index.open()
            self._manifest_loaded()
        except IndexUnavailable:
            return False
        self._set_state("fresh")
        return True

    # --- keeping the index current ------------------------------------------------------------------

    def update_paths(self, changed: Iterable[str], deleted: Iterable[str] = ()) -> None:
        """Index these notes now (our own writes, the watcher's events). A note whose content version equals
        the manifest's is left alone, so a write is not indexed twice when the watcher reports it too.
        Never blocks on a rebuild: the notes then wait, and status() counts them as pending."""
        changed = [p for p in changed if _is_note(p)]
        deleted = [p for p in deleted if _is_note(p, folder=True)]
        with self._state_lock:
            self._pending.update(changed)
            self._pending_deleted.update(deleted)
        if GLOSSARY_NOTE in changed or GLOSSARY_NOTE in deleted:
            self._load_glossary()
        if not self._writable() or not self._write_lock.acquire(timeout=WRITE_WAIT_SECONDS):
            return
        try:
            if self._writable() and self._manifest_current():
                self._apply(*self._take_pending(), persist_touched=False)
        finally:
            self._write_lock.release()

    def reconcile(self, progress: Progress | None = None) -> ReconcileReport:
        """Compare every note with the index's manifest (re-read from the index) and index what changed,
        in one commit; builds the index when there is none."""
        self._wait_until_ready()
        with self._write_lock:
            if not self._index.is_open or self._state in ("missing", "corrupt"):
                self._rebuild(progress, force=False)
                return self.last_reconcile or _nothing_done()
            try:
                self._manifest_loaded()
            except IndexUnavailable as err:
                self._index_failed(err)
                return _nothing_done()
            return self._catch_up(progress, persist_touched=True)

    def sweep(self) -> ReconcileReport:
        """A stat-only pass over every note against the manifest held in memory, for file events the
        watcher may have missed; returns what it re-indexed."""
        self._wait_until_ready()
        if not self._writable() or not self._write_lock.acquire(timeout=WRITE_WAIT_SECONDS):
            return _nothing_done()
        try:
            if not self._writable() or not self._manifest_current():
                return _nothing_done()
            return self._catch_up(None, persist_touched=False)
        finally:
            self._write_lock.release()

    def _writable(self) -> bool:
        return self._index.is_open and self._state not in ("starting", "rebuilding", "missing", "corrupt")

    def _catch_up(self, progress: Progress | None, *, persist_touched: bool) -> ReconcileReport:
        """Index the notes whose mtime or size differ from the manifest (and the pending ones)."""
        started = time.perf_counter()
        on_disk = list(self._store.iter_markdown_stats())
        suspects: set[str] = set()
        for path, stat in on_disk:
            entry = self._manifest.get(path)
            if entry is None or (entry.mtime_ns, entry.size) != (stat.mtime_ns, stat.size):
                suspects.add(path)
        listed = {path for path, _ in on_disk}
        changed, deleted = self._take_pending()
        report = self._apply(
            sorted(suspects | set(changed)),
            sorted({p for p in self._manifest if p not in listed} | set(deleted)),
            progress=progress,
            persist_touched=persist_touched,
            started=started,
        )
        report.unchanged = len(on_disk) - len(report.indexed) - report.touched
        self.last_reconcile = report
        return report

    def _apply(
        self,
        changed: list[str],
        deleted: list[str],
        *,
        persist_touched: bool,
        progress: Progress | None = None,
        started: float | None = None,
    ) -> ReconcileReport:
        """Index the changed notes whose content differs from the manifest and remove the deleted ones,
        in one commit. A note with new stat but the same content ("touched") is not re-indexed; its stat
        is remembered, in the index too when `persist_touched` or when there is a commit anyway."""
        began = started if started is not None else time.perf_counter()
        records: list[FileRecord] = []
        touched: dict[str, ManifestEntry] = {}
        gone: set[str] = set()
        # A deleted path that exists again was deleted and re-created (an editor's save): compare it.
        back = {p for p in deleted if p.endswith(".md") and self._store_has(p)}
        for path in deleted:
            if path not in back:
                gone.add(path)
                gone.update(p for p in self._manifest if p.startswith(path.rstrip("/") + "/"))
        todo = sorted(set(changed) | back)
        for done, path in enumerate(todo, 1):
            self._compare(path, records, touched, gone)
            if progress is not None:
                progress(done, len(todo))
        removed = sorted(gone & set(self._manifest))
        write_touched = touched if (persist_touched or records or removed) else {}
        if records or removed or write_touched:
            try:
                self._index.write(records, removed, write_touched)
            except IndexBusy:
                logger.info("search index busy; %d notes wait for the next pass", len(changed) + len(deleted))
                self._requeue(changed, deleted)
                return _nothing_done()
            except IndexUnavailable as err:
                self._requeue(changed, deleted)
                self._index_failed(err)
                return _nothing_done()
            self._committed()
        for record in records:
            self._manifest[record.path] = ManifestEntry(record.mtime_ns, record.size, record.version)
        for path in removed:
            self._manifest.pop(path, None)
        self._manifest.update(touched)
        return ReconcileReport(
            indexed=[r.path for r in records],
            removed=removed,
            unchanged=len(todo) - len(records) - len(touched),
            touched=len(touched),
            seconds=time.perf_counter() - began,
        )

    def _compare(self, path: str, records: list[FileRecord], touched: dict[str, ManifestEntry], gone: set[str]) -> None:
        loaded = self._load(path)
        if loaded is None:
            gone.add(path)
            return
        stat, snapshot = loaded
        entry = self._manifest.get(path)
        if entry is None or entry.version != snapshot.version:
            records.append(self._file_record(path, stat, snapshot))
        elif (entry.mtime_ns, entry.size) != (stat.mtime_ns, stat.size):
            touched[path] = ManifestEntry(stat.mtime_ns, stat.size, snapshot.version)

    def _load(self, path: str) -> tuple[FileStat, Snapshot] | None:
        """A note's stat and text; None when it is gone or unreadable. Stat before read: a change racing
        the read then shows as a newer mtime at the next sweep, never as a missed one."""
        try:
            stat = self._store.stat(path)
            return stat, self._store.read(path)
        except ProjectMemoryError:
            return None

    def _file_record(self, path: str, stat: FileStat, snapshot: Snapshot) -> FileRecord:
        kind = self._layout.kind_of(path).value
        return file_record(
            path, snapshot.text, kind=kind, mtime_ns=stat.mtime_ns, size=stat.size, version=snapshot.version
        )

    def _store_has(self, path: str) -> bool:
        try:
            return self._store.exists(path)
        except ProjectMemoryError:
            return False

    def _take_pending(self) -> tuple[list[str], list[str]]:
        with self._state_lock:
            changed, deleted = sorted(self._pending), sorted(self._pending_deleted)
            self._pending.clear()
            self._pending_deleted.clear()
        return changed, deleted

    def _requeue(self, changed: Iterable[str], deleted: Iterable[str]) -> None:
        with self._state_lock:
            self._pending.update(changed)
            self._pending_deleted.update(deleted)

    def _committed(self) -> None:
        self._manifest_generation = self._index.generation()
        self._updated_at = datetime.now().astimezone()

    def _manifest_loaded(self) -> None:
        self._manifest = self._index.manifest()
        self._manifest_generation = self._index.generation()
        self._updated_at = self._updated_at or self._index.updated_at()

    def _manifest_current(self) -> bool:
        """Reload the manifest if another process committed since we read it; False if the index broke."""
        try:
            if self._index.generation() != self._manifest_generation:
                self._manifest_loaded()
        except IndexUnavailable as err:
            self._index_failed(err)
            return False
        return True


def _nothing_done() -> ReconcileReport:
    return ReconcileReport(indexed=[], removed=[], unchanged=0, seconds=0.0)


def _hit(item: IndexHit, plan: QueryPlan) -> SearchHit:
    return SearchHit(
        path=item.path,
        heading=item.section,
        snippet=make_snippet(item.text, item.matched or plan.terms),
        score=round(item.score, 4),
        kind=item.kind,
        lecture=lecture_label(item.lecture) if item.lecture else None,
        handle=f"{item.path}#{item.section}" if item.section else item.path,
    )


class _Substrings:
    """A text as a container of terms, by substring test: a cheap superset of its real index terms."""

    def __init__(self, folded: str) -> None:
        self.folded = folded

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and term in self.folded


class _ScannedFile:
    """One note as the scan sees it: its folded text at once, its sections and their terms when needed."""

    def __init__(self, path: str, stat: FileStat, snapshot: Snapshot, kind: str) -> None:
        self.stat = (stat.mtime_ns, stat.size)
        self.text = _Substrings(fold(snapshot.text).lower())
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


class _Scanner:
    """Searches without an index: the notes themselves, the same analyzer, the same coverage rule.

    Word weights come from a substring test over whole files (cheap); only the files that could pass the
    coverage rule are analyzed, section by section, and scored by a plain weighted log-tf sum.
    """

    def __init__(self, store: NoteStore) -> None:
        self._store = store
        self._files: dict[str, _ScannedFile] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._files.clear()

    def search(
        self, plan: QueryPlan, filters: Filters, layout: Layout, *, limit: int, per_file: bool
    ) -> list[IndexHit]:
        with self._lock:
            files = [f for f in (self._file(path, layout) for path in self._store.iter_markdown()) if f is not None]
        could = [plan.satisfied(f.text) for f in files]
        df = [sum(row[i] for row in could) for i in range(len(plan.units))]
        weights = framed(plan.units, [unit_weight(d, max(1, len(files))) for d in df])
        found: list[IndexHit] = []
        for file, row in zip(files, could, strict=True):
            if coverage(weights, row) >= MIN_COVERAGE and _passes(file.record, filters):
                found.extend(self._sections(file, plan, weights))
        found.sort(key=lambda hit: -hit.score)
        return _best(found, limit, per_file)

    @staticmethod
    def _sections(file: _ScannedFile, plan: QueryPlan, weights: list[float]) -> Iterator[IndexHit]:
        record = file.record
        for section, fields in zip(record.sections, file.analyzed(), strict=True):
            present = set().union(*fields.values())
            satisfied = plan.satisfied(present)
            if coverage(weights, satisfied) < MIN_COVERAGE:
                continue
            if plan.phrase_texts and not plan.phrases_in(f"{record.title}\n{section.headings}\n{section.body}"):
                continue
            score = 0.0
            for unit, weight, ok in zip(plan.units, weights, satisfied, strict=True):
                if ok:
                    for name, counts in fields.items():
                        score += weight * FIELD_BOOSTS[name] * math.log1p(max(counts[t] for t in unit.terms))
            matched = frozenset(t for t in plan.terms if t in present)
            yield IndexHit(
                record.path, section.heading, section.level, score, record.kind, record.lecture, section.text, matched
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


def _best(found: list[IndexHit], limit: int, per_file: bool) -> list[IndexHit]:
    """The first `limit` hits, one per file when `per_file`."""
    chosen: list[IndexHit] = []
    seen: set[str] = set()
    for item in found:
        if per_file and item.path in seen:
            continue
        seen.add(item.path)
        chosen.append(item)
        if len(chosen) >= limit:
            break
    return chosen


def _passes(record: FileRecord, filters: Filters) -> bool:
    if filters.kinds is not None and record.kind not in filters.kinds:
        return False
    if filters.lecture is not None and record.lecture != filters.lecture:
        return False
    if filters.tags and not set(filters.tags) & set(record.tags):
        return False
    return filters.since is None or record.mtime_ns // 1_000_000_000 >= filters.since


def _filters(scope: str, lecture: int | str | None, tags: list[str] | None, since: date | datetime | None) -> Filters:
    if scope not in SCOPES:
        raise InvalidInput(f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}.")
    number: int | None = None
    if isinstance(lecture, bool):
        raise InvalidInput(f"lecture must be a number or a label such as 'Lecture 03', not {lecture!r}.")
    if isinstance(lecture, int):
        number = lecture
    elif isinstance(lecture, str) and lecture.strip():
        text = lecture.strip()
        number = int(text) if text.isdigit() else parse_lecture(text)
        if number is None:
            raise InvalidInput(f"lecture {lecture!r} is not understood; use a number or a label like 'Lecture 03'.")
    if number is not None and number <= 0:
        raise InvalidInput(f"lecture must be a positive number, not {lecture!r}.")
    wanted = tuple(dict.fromkeys(t.strip().lstrip("#").strip().lower() for t in tags or [] if t.strip()))
    return Filters(kinds=SCOPES[scope], lecture=number, tags=wanted, since=_epoch(since))


def _epoch(since: date | datetime | None) -> int | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return int(since.timestamp())
    if isinstance(since, date):
        return int(datetime(since.year, since.month, since.day).timestamp())
    raise InvalidInput(f"since must be a date such as 2026-03-01, not {since!r}.")


def _is_note(path: str, *, folder: bool = False) -> bool:
    """Paths the watcher may report that are not notes: dot folders, editor files, other extensions."""
    parts = PurePosixPath(path).parts
    if not parts or any(part.startswith(".") for part in parts):
        return False
    return folder or path.endswith(".md")


def open_corpus_engine(root: Path, index_dir: Path) -> Callable[[str, int], list[str]]:
    """An engine over any folder of Markdown files (every file a note), for the search-quality benchmark:
    returns `search(query, limit)` -> the relative paths of the best files, best first."""
    from memory_schema.layout import PRESETS

    nowhere = "\0"  # no file is named so: every file is a plain note
    roles = ("working_memory", "progress", "plan", "research_todo", "discussions_dir")
    layout = PRESETS["default-en"].model_copy(update={**{r: nowhere for r in roles}, "notes_dir": "."})
    engine = SearchEngine(NoteStore(root), layout, index_dir=index_dir)
    engine.warm_up()

    def search(query: str, limit: int) -> list[str]:
        return [hit.path for hit in engine.search(query, limit=min(limit, MAX_LIMIT)).hits]

    return search
