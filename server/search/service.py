"""`IndexService`: the one owner of the search index — its state, readiness, the Whoosh index, the
maintenance thread (rebuilds after damage, merges) and reconciliation with the notes on disk.

Everything else asks it: the engine for a commit to read (`reading`, None while the index is unusable, so the
engine scans), the use cases and the watcher to index changed notes (`update`), the CLI and `doctor` for
`ensure_ready`, `rebuild` and `status`. See the package docstring for the threads and locks.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime

from memory_schema.errors import CacheUnavailable, ProjectMemoryError
from memory_schema.layout import Layout
from server.cache import RootCache
from server.search.build_workers import LoadedNote, analyzed_notes
from server.search.manifest import ManifestEntry, compare, load_note, stat_changed
from server.search.postings import IndexTerms
from server.search.results import IndexState, IndexStatus, ReconcileReport
from server.search.whoosh_index import MERGE_AT, IndexBusy, IndexUnavailable, NoteDocuments, WhooshIndex
from server.store import FileStat, NoteStore

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
WRITE_WAIT_SECONDS = 2.0  # how long an update waits for another pass before leaving its notes pending
BUILD_WAIT_SECONDS = 2.0  # how long a search waits for a build under way before it scans the notes instead
QUIET_SECONDS = 0.2  # the maintenance thread indexes our writes once they pause this long (a search does it sooner)
QUIET_AT_MOST_SECONDS = 2.0  # ... or once it has waited this long, under a steady stream of writes


class IndexService:
    def __init__(self, store: NoteStore, layout: Layout, cache: RootCache | None = None) -> None:
        self._store = store
        self._layout = layout
        self._cache = cache if cache is not None else store.cache
        self._index = WhooshIndex(self._cache)
        self._lock = threading.Lock()  # state, reason, pending, listeners: held briefly, calls nothing out
        self._writer = threading.Lock()  # one pass over the manifest (update, reconcile, rebuild, merge) at a time
        self._ready = threading.Event()  # the first open was attempted: searches may run (index or scan)
        self._settled = threading.Event()  # no build under way: the state is not STARTING or REBUILDING
        self._state = IndexState.STARTING
        self._reason: str | None = None
        self._started = False
        self._listeners: list[Progress] = []
        self._pending: set[str] = set()
        self._pending_deleted: set[str] = set()
        self._inflight = 0  # notes taken from pending by a pass not yet committed (under _writer)
        self._builds_started = 0  # full builds begun, numbered from 1 (written under _writer; `rebuild` reads it)
        self._built_by = 0  # the number of the last full build that committed (under _writer)
        self._manifest: dict[str, ManifestEntry] = {}
        self._generation: int | None = None
        self._updated_at: datetime | None = None
        self._tasks: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._last_queued = 0.0  # time.monotonic() of our latest write
        self._maintainer: threading.Thread | None = None
        self._closed = False
        self.last_reconcile: ReconcileReport | None = None

    # --- state ----------------------------------------------------------------------------------------

    @property
    def state(self) -> IndexState:
        with self._lock:
            return self._state

    def _set(self, state: IndexState, reason: str | None = None) -> None:
        with self._lock:
            self._state, self._reason = state, reason
            if state in (IndexState.STARTING, IndexState.REBUILDING):
                self._settled.clear()
            else:
                self._settled.set()

    def status(self) -> IndexStatus:
        with self._lock:
            state, reason = self._state, self._reason
            pending = len(self._pending) + len(self._pending_deleted) + self._inflight
        files = sections = 0
        if state in (IndexState.FRESH, IndexState.REBUILDING) and self._index.is_open:
            try:
                files, sections = self._index.counts()
            except IndexUnavailable as err:
                state, reason = IndexState(err.state), str(err)
        shown = f"pending {pending}" if state is IndexState.FRESH and pending else state.value
        return IndexStatus(state=shown, files=files, sections=sections, pending=pending, updated_at=self._updated_at,
                           location=str(self._index.directory), reason=reason)

    @property
    def pending(self) -> int:
        """Notes changed on disk and not yet searchable: waiting, or taken by a pass still writing them."""
        with self._lock:
            return len(self._pending) + len(self._pending_deleted) + self._inflight

    # --- lifecycle ------------------------------------------------------------------------------------

    def ensure_ready(self, progress: Progress | None = None) -> None:
        """Open the index and bring it up to date, building it if there is none. The first caller does the
        work and hears its progress; later callers wait until the index is open or known to be unusable (a
        build then goes on while they scan). Never raises: an unusable index is a state."""
        with self._lock:
            if progress is not None and not self._ready.is_set():
                self._listeners.append(progress)
            first, self._started = not self._started, True
        if not first:
            self._ready.wait()  # opened, or found unusable and being built: searches scan meanwhile
            return
        try:
            with self._writer:
                self._open_or_build()
        except ProjectMemoryError as err:  # a root that cannot be indexed as it is (too many notes): say why
            logger.info("search index not built: %s", err)  # the caller hears it from the search itself
            self._set(IndexState.UNAVAILABLE, str(err))
        except Exception:
            logger.exception("search index warm-up failed; searches scan the notes")
            with self._lock:
                if self._state in (IndexState.STARTING, IndexState.REBUILDING):
                    self._state = IndexState.CORRUPT
        finally:
            self._ready.set()
            with self._lock:
                self._listeners.clear()
        self._merge_if_needed()

    def _open_or_build(self) -> None:
        try:
            self._index.open()
        except CacheUnavailable as err:
            self._set(IndexState.UNAVAILABLE, str(err))
            return
        except IndexUnavailable as err:
            self._set(IndexState(err.state), str(err))
            self._ready.set()  # searches scan while the index is built
            self._build(self._report, force=False)
            return
        self._manifest_loaded()
        on_disk = self._queue_stale()  # before searches may start: they wait for queued notes (`reading`)
        self._set(IndexState.FRESH)
        self._ready.set()
        self._catch_up(self._report, persist_touched=True, on_disk=on_disk)

    def _report(self, done: int, total: int) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(done, total)
            except Exception:  # a progress reader that went away must not stop the build
                logger.debug("progress listener failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            maintainer = self._maintainer
        if maintainer is not None:
            self._tasks.put(None)
            maintainer.join(timeout=60)
        with self._writer:
            try:  # notes left pending (the index was busy) are indexed now; the next start would otherwise
                self._apply_pending()
            except ProjectMemoryError as err:
                logger.info("notes left unindexed at close (the next start indexes them): %s", err)
            self._index.close()

    # --- reading --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[IndexTerms | None]:
        """The latest commit to search, or None while the index is unusable (the caller scans then). Notes
        waiting to be indexed are indexed first, waiting up to WRITE_WAIT_SECONDS for the index to be free; a
        build under way is given BUILD_WAIT_SECONDS to finish."""
        if not self._ready.is_set():
            self.ensure_ready()
        if not self._settled.is_set():  # a build under way: a small root's ends in a moment, better than a scan
            self._settled.wait(BUILD_WAIT_SECONDS)
        self.apply_pending()
        if self.state not in (IndexState.FRESH,) or not self._index.is_open:
            yield None
            return
        try:
            with self._index.reading() as terms:
                yield terms
        except IndexUnavailable as err:
            self.failed(err)
            raise

    def failed(self, err: IndexUnavailable) -> None:
        """The index turned out unusable: searches scan until a background rebuild replaces it."""
        logger.warning("search index unusable (%s); scanning until it is rebuilt", err)
        self._set(IndexState(err.state), str(err))
        self._schedule("rebuild")

    # --- keeping it current ---------------------------------------------------------------------------

    def update(self, changed: Iterable[str], deleted: Iterable[str] = ()) -> None:
        """Index these notes now; when another pass holds the index (a merge, a rebuild, another process's
        commit) leave them pending instead of waiting: the maintenance thread indexes them once the index is
        free, and a search meanwhile indexes them first (`reading`), so a search after a write still finds it.
        The watcher calls this for changes on disk; our own writes `queue` theirs."""
        with self._lock:
            self._pending.update(path for path in changed if self._store.rules.is_note(path))
            self._pending_deleted.update(path for path in deleted if self._store.rules.is_note(path, folder=True))
        if not self._writable():
            return
        if not self._writer.acquire(blocking=False):
            self._schedule("apply")
            return
        try:
            self._apply_pending()
        finally:
            self._writer.release()
        self._merge_if_needed()

    def queue(self, changed: Iterable[str]) -> None:
        """Index these notes soon, on the maintenance thread, and return at once. Used for our own writes: a
        tool's answer does not wait for the commit, and a search meanwhile indexes whatever is still queued
        before it reads (`reading`), so it still finds what was just written."""
        with self._lock:
            self._pending.update(path for path in changed if self._store.rules.is_note(path))
            self._last_queued = time.monotonic()
        if self._writable():
            self._schedule("apply")

    def apply_pending(self, wait: float = WRITE_WAIT_SECONDS) -> None:
        """Index the pending notes now, waiting up to `wait` seconds for another pass to finish (after that they
        stay pending for the maintenance thread)."""
        if self.pending and self._writable() and self._writer.acquire(timeout=wait):
            try:
                self._apply_pending()
            finally:
                self._writer.release()

    def _apply_pending(self) -> None:
        """Index the pending notes (writer lock held)."""
        if self._writable() and self.pending and self._manifest_current():
            self._apply(*self._take_pending(), persist_touched=False)

    def reconcile(self, progress: Progress | None = None) -> ReconcileReport:
        """Compare every note with the manifest re-read from the index and index what changed, in one
        commit; builds the index when there is none."""
        self.ensure_ready(progress)
        with self._writer:
            if not self._index.is_open or self.state is not IndexState.FRESH:
                if self.state is not IndexState.UNAVAILABLE:
                    self._build(progress, force=False)
                return self.last_reconcile or _nothing_done()
            try:
                self._manifest_loaded()
            except IndexUnavailable as err:
                self.failed(err)
                return _nothing_done()
            return self._catch_up(progress, persist_touched=True)

    def sweep(self) -> ReconcileReport:
        """A stat-only pass over every note against the manifest held in memory (for missed file events)."""
        if not self._writable() or not self._writer.acquire(timeout=WRITE_WAIT_SECONDS):
            return _nothing_done()
        try:
            if not self._writable() or not self._manifest_current():
                return _nothing_done()
            return self._catch_up(None, persist_touched=False)
        finally:
            self._writer.release()

    def rebuild(self, progress: Progress | None = None) -> None:
        """Build the index afresh from every note, now. Searches meanwhile read the old index if usable.
        A build that began after this call (the first one, on an empty cache) counts: it is not done twice."""
        asked = self._builds_started
        self.ensure_ready(progress)
        with self._writer:
            if self._built_by <= asked:  # no build that began after this call has committed
                self._build(progress, force=True)

    def _writable(self) -> bool:
        return self._index.is_open and self.state is IndexState.FRESH

    def _build(self, progress: Progress | None, *, force: bool) -> None:
        """Write every note afresh (writer lock held); unless forced, only when the index does not open."""
        previous = self.state
        self._builds_started += 1
        number = self._builds_started
        self._set(IndexState.REBUILDING)
        try:
            with self._lock:  # every note is read now; later changes queue up again
                self._pending.clear()
                self._pending_deleted.clear()
            paths = list(self._store.iter_markdown())
            manifest: dict[str, ManifestEntry] = {}
            place = {path: done for done, path in enumerate(paths, 1)}

            def read() -> Iterator[LoadedNote]:
                for path in paths:
                    loaded = load_note(self._store, path)
                    if loaded is not None:
                        yield (path, *loaded)

            def notes() -> Generator[NoteDocuments, None, None]:
                with contextlib.closing(analyzed_notes(self._layout, read(), len(paths))) as analyzed:
                    for note in analyzed:
                        manifest[note.path] = note.entry
                        yield note
                        if progress is not None:
                            progress(place[note.path], len(paths))
                if progress is not None and paths and paths[-1] not in manifest:  # the last notes were unreadable
                    progress(len(paths), len(paths))

            with contextlib.closing(notes()) as stream:  # an aborted build ends its workers now, not at GC
                written = self._index.rebuild(stream, force=force)
            if written:
                self._built_by = number
                self._manifest = manifest
                self._committed()
                self._set(IndexState.FRESH)
            else:  # the index opens (another process built it, or the damage was not in the files)
                self._manifest_loaded()
                on_disk = self._queue_stale()
                self._set(IndexState.FRESH)
                self._catch_up(progress, persist_touched=True, on_disk=on_disk)
        except CacheUnavailable as err:
            self._set(IndexState.UNAVAILABLE, str(err))
            return
        except BaseException:
            self._set(previous if previous in (IndexState.FRESH, IndexState.MISSING, IndexState.CORRUPT)
                      else IndexState.MISSING)
            raise
        if self.pending:
            self._apply(*self._take_pending(), persist_touched=False)

    def _queue_stale(self) -> list[tuple[str, FileStat]]:
        """Queue the notes whose mtime or size differ from the manifest, and those gone from disk, so that a
        search meanwhile waits for them instead of reading a commit that lacks them; returns the notes listed."""
        on_disk = list(self._store.iter_markdown_stats())
        listed = {path for path, _ in on_disk}
        suspects = stat_changed(on_disk, self._manifest)
        with self._lock:
            self._pending.update(suspects)
            self._pending_deleted.update(path for path in self._manifest if path not in listed)
        return on_disk

    def _catch_up(
        self, progress: Progress | None, *, persist_touched: bool, on_disk: list[tuple[str, FileStat]] | None = None
    ) -> ReconcileReport:
        """Index the notes whose mtime or size differ from the manifest, and the pending ones (the notes on disk
        listed by `_queue_stale` already, when given)."""
        started = time.perf_counter()
        if on_disk is None:
            on_disk = self._queue_stale()
        report = self._apply(*self._take_pending(), progress=progress, persist_touched=persist_touched,
                             started=started)
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
        """Index the changed notes whose content differs from the manifest and remove the deleted ones, in one
        commit (writer lock held). A note with a new stat but the same content ("touched") is not re-indexed;
        its stat is remembered, in the index too when `persist_touched` or when there is a commit anyway."""
        try:
            return self._write_changes(changed, deleted, persist_touched=persist_touched, progress=progress,
                                       started=started)
        finally:
            with self._lock:
                self._inflight = 0

    def _write_changes(
        self,
        changed: list[str],
        deleted: list[str],
        *,
        persist_touched: bool,
        progress: Progress | None,
        started: float | None,
    ) -> ReconcileReport:
        began = started if started is not None else time.perf_counter()
        changes = compare(self._store, self._layout, self._manifest, changed, deleted, progress)
        records, removed, touched = changes.records, changes.removed, changes.touched
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
                self.failed(err)
                return _nothing_done()
            self._committed()
        changes.apply_to(self._manifest)
        return ReconcileReport(
            indexed=[r.path for r in records],
            removed=removed,
            unchanged=changes.compared - len(records) - len(touched),
            touched=len(touched),
            seconds=time.perf_counter() - began,
        )

    def _take_pending(self) -> tuple[list[str], list[str]]:
        """The pending notes, now in flight until the pass (writer lock held) ends in `_apply`."""
        with self._lock:
            changed, deleted = sorted(self._pending), sorted(self._pending_deleted)
            self._pending.clear()
            self._pending_deleted.clear()
            self._inflight = len(changed) + len(deleted)
        return changed, deleted

    def _requeue(self, changed: Iterable[str], deleted: Iterable[str]) -> None:
        with self._lock:
            self._pending.update(changed)
            self._pending_deleted.update(deleted)

    def _committed(self) -> None:
        self._generation = self._index.generation()
        self._updated_at = datetime.now().astimezone()

    def _manifest_loaded(self) -> None:
        self._manifest = self._index.manifest()
        self._generation = self._index.generation()
        self._updated_at = self._updated_at or self._index.updated_at()

    def _manifest_current(self) -> bool:
        """Reload the manifest if another process committed since we read it; False if the index broke."""
        try:
            if self._index.generation() != self._generation:
                self._manifest_loaded()
        except IndexUnavailable as err:
            self.failed(err)
            return False
        return True

    # --- the maintenance thread -----------------------------------------------------------------------

    def _merge_if_needed(self) -> None:
        try:
            if self._writable() and self._index.segment_count() >= MERGE_AT and self._index.needs_merge():
                self._schedule("merge")
        except IndexUnavailable as err:
            self.failed(err)

    def _schedule(self, task: str) -> None:
        with self._lock:
            if self._closed:
                return
            if self._maintainer is None or not self._maintainer.is_alive():
                self._maintainer = threading.Thread(target=self._maintain, name="search-index-maintenance",
                                                    daemon=True)
                self._maintainer.start()
        self._tasks.put(task)

    def _await_quiet(self) -> bool:
        """Wait until our writes pause for QUIET_SECONDS (at most QUIET_AT_MOST_SECONDS): a tool call answers
        sooner when the index work of the call before it does not run beside it. False when closing."""
        began = time.monotonic()
        while not self._closed:
            with self._lock:
                idle = time.monotonic() - self._last_queued
            if idle >= QUIET_SECONDS or time.monotonic() - began >= QUIET_AT_MOST_SECONDS:
                return True
            time.sleep(QUIET_SECONDS - idle)
        return False

    def _maintain(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            try:
                if task == "rebuild":
                    with self._writer:
                        if self.state in (IndexState.MISSING, IndexState.CORRUPT):
                            self._build(None, force=False)
                elif task == "apply":
                    self._await_quiet()
                    with self._writer:
                        self._apply_pending()
                    self._merge_if_needed()
                elif task == "merge" and self._await_quiet() and self._writable():
                    # A merge folds a tier of small segments: it holds the writer for a moment; saves meanwhile
                    # stay pending (never waiting for it) and are indexed right after.
                    with self._writer:
                        if self._writable():
                            self._index.merge_small()
                            self._committed()
                            self._apply_pending()
            except IndexBusy:
                logger.info("search index busy; %s postponed", task)
            except IndexUnavailable as err:
                self._set(IndexState(err.state), str(err))
            except Exception:
                logger.exception("search index %s failed; searches keep working", task)


def _nothing_done() -> ReconcileReport:
    return ReconcileReport(indexed=[], removed=[], unchanged=0, seconds=0.0)
