"""Keeping the search index current with the notes: its state, the notes waiting to be indexed, passes over
the manifest and rebuilds.

`IndexUpkeep` owns the index's state (starting, fresh, rebuilding, missing, corrupt) and every write to it.
A pass compares the notes on disk with the index's manifest (`server.manifest`) and writes everything it
found in one commit; one pass runs at a time, and a write that cannot get the index (busy, rebuilding,
starting) leaves its notes pending for the next pass. An index found missing or damaged is rebuilt in a
background thread while searches scan the notes. Searching is not its business (`server.search`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from memory_schema.layout import Layout
from server.documents import FileRecord
from server.index import IndexBusy, IndexUnavailable, SearchIndex
from server.manifest import ManifestEntry, Progress, compare, load_note, note_record, stat_changed
from server.results import IndexStatus, ReconcileReport
from server.store import NoteStore

logger = logging.getLogger(__name__)

WRITE_WAIT_SECONDS = 2.0  # how long a write's index update waits for another pass before queueing


class IndexUpkeep:
    def __init__(self, store: NoteStore, layout: Layout, index: SearchIndex, *, on_rebuilt: Callable[[], None]) -> None:
        self._store = store
        self._layout = layout
        self._index = index
        self._on_rebuilt = on_rebuilt
        self._state = "starting"
        self._state_lock = threading.Lock()
        self._write_lock = threading.RLock()  # one pass over the manifest at a time
        self._manifest: dict[str, ManifestEntry] = {}
        self._manifest_generation: int | None = None
        self._pending: set[str] = set()  # changed notes not yet indexed (index busy, rebuilding, starting)
        self._pending_deleted: set[str] = set()
        self._updated_at: datetime | None = None
        self._rebuilder: threading.Thread | None = None
        self._closed = False
        self.last_reconcile: ReconcileReport | None = None

    @property
    def state(self) -> str:
        return self._state

    @property
    def pending(self) -> int:
        """How many changed notes wait to be indexed."""
        return len(self._pending) + len(self._pending_deleted)

    def set_state(self, state: str) -> None:
        with self._state_lock:
            self._state = state

    def open(self) -> None:
        """Open the index and read its manifest; the state says whether that worked."""
        try:
            self._index.open()
            self._manifest_loaded()
            self.set_state("fresh")
        except IndexUnavailable as err:
            self.set_state(err.state)

    def close(self) -> None:
        self._closed = True
        rebuilder = self._rebuilder
        if rebuilder is not None:
            rebuilder.join(timeout=60)
        with self._write_lock:
            self._index.close()

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

    # --- recovery -----------------------------------------------------------------------------------

    def failed(self, err: IndexUnavailable) -> None:
        """The index turned out unusable: searches scan until a background rebuild replaces it."""
        logger.warning("search index unusable (%s); scanning until it is rebuilt", err)
        self.set_state(err.state)
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
            self.rebuild(None, force=False)
        except Exception:
            logger.exception("rebuilding the search index failed; searches keep scanning the notes")

    def rebuild(self, progress: Progress | None, *, force: bool) -> None:
        """Write every note afresh; unless `force`d, only when the index does not open (another process may
        have rebuilt it meanwhile: then only catch up)."""
        with self._write_lock:
            previous = self._state
            self.set_state("rebuilding")
            try:
                if not force and self._reopened():
                    self._catch_up(progress, persist_touched=True)
                    return
                self._take_pending()  # every note is read now; later changes queue up again
                paths = list(self._store.iter_markdown())
                manifest: dict[str, ManifestEntry] = {}

                def records() -> Iterator[FileRecord]:
                    for done, path in enumerate(paths, 1):
                        loaded = load_note(self._store, path)
                        if loaded is not None:
                            record = note_record(self._layout, path, *loaded)
                            manifest[path] = ManifestEntry(record.mtime_ns, record.size, record.version)
                            yield record
                        if progress is not None:
                            progress(done, len(paths))

                if self._index.rebuild(records(), force=force):
                    self._manifest = manifest
                    self._committed()
                else:  # another process built it while we waited for the lock
                    self._manifest_loaded()
                    self.set_state("fresh")
                    self._catch_up(progress, persist_touched=True)
                self._on_rebuilt()
                self.set_state("fresh")
            except BaseException:
                self.set_state(previous if previous in ("fresh", "missing", "corrupt") else "missing")
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
        self.set_state("fresh")
        return True

    # --- keeping the index current ------------------------------------------------------------------

    def update_paths(self, changed: Iterable[str], deleted: Iterable[str] = ()) -> None:
        """Index these notes now, or leave them pending when the index is not writable within a moment."""
        with self._state_lock:
            self._pending.update(changed)
            self._pending_deleted.update(deleted)
        if not self._writable() or not self._write_lock.acquire(timeout=WRITE_WAIT_SECONDS):
            return
        try:
            if self._writable() and self._manifest_current():
                self._apply(*self._take_pending(), persist_touched=False)
        finally:
            self._write_lock.release()

    def tidy(self) -> None:
        """Merge piled-up segments when the index is free; skipped, not waited for, when it is busy."""
        if not self._writable() or not self._write_lock.acquire(timeout=0):
            return
        try:
            if self._writable():
                self._index.tidy()
        except IndexUnavailable as err:
            self.failed(err)
        finally:
            self._write_lock.release()

    def reconcile(self, progress: Progress | None = None, *, reread: bool = True) -> ReconcileReport:
        """Compare every note with the index's manifest and index what changed, in one commit; builds the
        index when there is none. The manifest is re-read from the index (forgetting the stats of touched
        notes held only in memory, so that they are written now) unless `reread` is False: just opened."""
        with self._write_lock:
            if not self._index.is_open or self._state in ("missing", "corrupt"):
                self.rebuild(progress, force=False)
                return self.last_reconcile or _nothing_done()
            if reread:
                try:
                    self._manifest_loaded()
                except IndexUnavailable as err:
                    self.failed(err)
                    return _nothing_done()
            elif not self._manifest_current():
                return _nothing_done()
            return self._catch_up(progress, persist_touched=True)

    def sweep(self) -> ReconcileReport:
        """A stat-only pass over every note against the manifest held in memory."""
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
        suspects = stat_changed(on_disk, self._manifest)
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
            self.failed(err)
            return False
        return True


def _nothing_done() -> ReconcileReport:
    return ReconcileReport(indexed=[], removed=[], unchanged=0, seconds=0.0)
