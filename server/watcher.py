"""Watch the memory root and report, in debounced batches, which Markdown notes changed on disk.

This module owns watchdog (no other module imports it) and the translation of raw file-system events into
`ChangeBatch` callbacks. It never reads notes and decides nothing about what a change means: the callback
re-reads or drops the paths it is given.

Every touched path is judged by its state on disk when the batch is flushed: a file there now is
"changed", anything else "deleted". That makes each editor's save dance come out right by construction:
an atomic save (temp file renamed onto the note), vim's backup rename and rewrite, JetBrains' tmp/old
files and a delete followed by a re-create all leave the note on disk, so they report it changed.

A folder moved within the root is listed on disk at flush time: its notes are deleted under the old path
and changed under the new one. A folder that vanished (deleted, or moved out of the root) cannot be listed
and this watcher keeps no inventory of the tree, so the batch carries `rescan=True`: the consumer, which
holds the inventory (the index), reconciles it against disk.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from watchdog.events import (
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, EventEmitter

__all__ = ["ChangeBatch", "FolderWatcher"]

logger = logging.getLogger(__name__)

# Opens, reads and closes are left out at the source (inotify is never asked for them), so reading a note
# can never look like a change; directory "modified" events say nothing a file event does not.
_WATCHED_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
_CHANGE_KINDS = frozenset({EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_DELETED, EVENT_TYPE_MOVED})


class IsNote(Protocol):
    def __call__(self, relpath: str, *, folder: bool = False) -> bool: ...


@dataclass(frozen=True)
class ChangeBatch:
    """What changed during one quiet period, as relative posix paths of `.md` notes."""

    changed: frozenset[str]
    """Notes that exist now and were created, modified, or moved in."""
    deleted: frozenset[str]
    """Notes that do not exist now; may include paths that only lived briefly and were never seen."""
    rescan: bool = False
    """A folder vanished (deleted or moved out of the root): reconcile every known note under it."""


@dataclass
class _Pending:
    files: set[str] = field(default_factory=set)
    folders: set[tuple[str | None, str]] = field(default_factory=set)  # (old path or None, new path)
    rescan: bool = False
    first_at: float = 0.0
    last_at: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.files or self.folders or self.rescan)


class FolderWatcher:
    """Call `on_change` on a worker thread with one `ChangeBatch` per quiet period of `debounce` seconds.

    `is_note(relpath)` says which paths are notes (and, with `folder=True`, which folders can hold notes);
    the watcher has no rule of its own.

    A steady stream of events is still flushed at most `max_wait` seconds after the first pending one.
    `on_change` exceptions are logged and the watcher carries on.
    """

    def __init__(
        self,
        root: Path,
        on_change: Callable[[ChangeBatch], None],
        *,
        is_note: IsNote,
        debounce: float = 0.3,
        max_wait: float = 2.0,
    ) -> None:
        self._root = os.path.abspath(root)
        self._prefix = os.path.join(self._root, "")
        self._on_change = on_change
        self._is_note = is_note
        self._debounce = debounce
        self._max_wait = max_wait
        self._wake = threading.Condition()
        self._pending = _Pending()
        self._stopping = False
        self._started = False
        self._observer: BaseObserver | None = None
        self._emitters: tuple[EventEmitter, ...] = ()
        self._worker: threading.Thread | None = None
        self._last_event_at: float | None = None

    @property
    def healthy(self) -> bool:
        """Whether events are being delivered: started, not stopped, and the watch is still in place."""
        observer, worker = self._observer, self._worker
        return (
            observer is not None
            and observer.is_alive()
            and all(emitter.is_alive() for emitter in self._emitters)
            and worker is not None
            and worker.is_alive()
        )

    @property
    def last_event_at(self) -> float | None:
        """`time.monotonic()` of the last event that touched a note or a folder, or None."""
        return self._last_event_at

    def start(self) -> None:
        """Begin watching. If the root cannot be watched (e.g. the inotify watch limit), log a warning and
        stay unhealthy instead of raising, so the caller can fall back to sweeping the folder."""
        if self._started or self._stopping:
            raise RuntimeError("FolderWatcher.start() may be called only once, before stop()")
        self._started = True
        observer = Observer()
        try:
            observer.schedule(_EventSink(self), self._root, recursive=True, event_filter=_WATCHED_EVENTS)
            observer.start()
        except OSError as err:
            logger.warning(
                "Cannot watch %s for changes (%s); edits made outside the server will be picked up by "
                "sweeping the folder instead. On Linux, raising fs.inotify.max_user_watches may help.",
                self._root,
                err,
            )
            return
        self._observer = observer
        self._emitters = tuple(observer.emitters)
        self._worker = threading.Thread(target=self._run, name="project-memory-watcher", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop watching within about `timeout` seconds. Idempotent.

        Pending events are dropped rather than flushed, so stopping stays prompt during a burst; the next
        start reconciles the index against disk anyway. A callback already running gets the rest of the
        timeout to finish and is then left to end on its own (the worker is a daemon thread).
        """
        deadline = time.monotonic() + timeout
        with self._wake:
            self._stopping = True
            self._pending = _Pending()
            self._wake.notify_all()
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(max(0.0, deadline - time.monotonic()))
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                logger.warning("The change callback was still running %.1f s after stop()", timeout)

    def _record(self, event: FileSystemEvent) -> None:
        """Note which paths an event touched. Runs on watchdog's thread, so it only updates sets."""
        kind = event.event_type
        if kind not in _CHANGE_KINDS:
            return
        src = self._relative(event.src_path)
        dest = self._relative(event.dest_path) if kind == EVENT_TYPE_MOVED else None
        files: list[str] = []
        folder: tuple[str | None, str] | None = None
        lost = False
        if not event.is_directory:
            files = [path for path in (src, dest) if path is not None and self._is_note(path)]
        elif event.is_synthetic:
            # watchdog listed a moved or new folder; the folder's own event makes us list it at flush.
            return
        elif kind == EVENT_TYPE_CREATED and src and self._visible(src):
            folder = (None, src)
        elif kind == EVENT_TYPE_MOVED and dest and (self._visible(dest) or self._visible(src)):
            folder = (src, dest)
        elif kind in (EVENT_TYPE_DELETED, EVENT_TYPE_MOVED) and self._visible(src):
            lost = True  # deleted, or moved out of the root: it can no longer be listed
        if files or folder or lost:
            self._add_pending(files, folder, lost=lost)

    def _add_pending(self, files: list[str], folder: tuple[str | None, str] | None, *, lost: bool) -> None:
        now = time.monotonic()
        with self._wake:
            pending = self._pending
            pending.files.update(files)
            if folder is not None:
                pending.folders.add(folder)
            pending.rescan = pending.rescan or lost
            if not pending.first_at:
                pending.first_at = now
            pending.last_at = now
            self._last_event_at = now
            self._wake.notify_all()

    def _record_failure(self, event: FileSystemEvent) -> None:
        logger.exception("Could not record file-system event %r; asking for a rescan", event)
        self._add_pending([], None, lost=True)

    def _relative(self, path: bytes | str) -> str | None:
        """The event path relative to the root in posix form ("" for the root), or None if outside it."""
        text = os.fsdecode(path)
        if text == self._root:
            return ""
        if not text.startswith(self._prefix):
            return None
        rel = text[len(self._prefix) :]
        return rel if os.sep == "/" else rel.replace(os.sep, "/")

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._pending:
                    self._wake.wait()
                while not self._stopping:
                    pending = self._pending
                    flush_at = min(pending.last_at + self._debounce, pending.first_at + self._max_wait)
                    remaining = flush_at - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                if self._stopping:
                    return
                pending, self._pending = self._pending, _Pending()
            batch = self._settle(pending)
            if not (batch.changed or batch.deleted or batch.rescan):
                continue
            try:
                self._on_change(batch)
            except Exception:
                logger.exception(
                    "Handling a change to %d note(s) failed; watching continues",
                    len(batch.changed) + len(batch.deleted),
                )

    def _settle(self, pending: _Pending) -> ChangeBatch:
        """Judge every touched path by what is on disk now."""
        candidates = set(pending.files)
        rescan = pending.rescan
        for old, new in pending.folders:
            inside = self._list_notes(new)
            if inside is None:  # gone again before we could list it
                rescan = rescan or self._visible(old)
                continue
            for rel in inside:
                candidates.add(f"{new}/{rel}")
                if old is not None:
                    candidates.add(f"{old}/{rel}")
        changed: set[str] = set()
        deleted: set[str] = set()
        for rel in candidates:
            if self._is_note(rel):
                (changed if os.path.isfile(os.path.join(self._root, rel)) else deleted).add(rel)
        return ChangeBatch(changed=frozenset(changed), deleted=frozenset(deleted), rescan=rescan)

    def _list_notes(self, folder: str) -> list[str] | None:
        """Note paths under `folder` relative to it, or None if it is not a folder now."""
        top = os.path.join(self._root, folder)
        if not os.path.isdir(top):
            return None
        found = []
        for parent, subfolders, files in os.walk(top):
            rel_parent = os.path.relpath(parent, top)
            prefix = "" if rel_parent == "." else rel_parent.replace(os.sep, "/") + "/"
            subfolders[:] = [name for name in subfolders if self._is_note(f"{folder}/{prefix}{name}", folder=True)]
            found += [prefix + name for name in files if self._is_note(f"{folder}/{prefix}{name}")]
        return found

    def _visible(self, rel: str | None) -> bool:
        return rel is not None and self._is_note(rel, folder=True)


class _EventSink(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        super().__init__()
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        # An exception escaping here would end watchdog's dispatch thread and with it every later event.
        try:
            self._watcher._record(event)
        except Exception:
            self._watcher._record_failure(event)
