"""Live sync with the person's editor: watcher batches → index updates → resource-change notifications.

Also the freshness rule for searches: when the watcher is not running or not healthy, or has been quiet for
longer than `QUIET_SWEEP_SECONDS`, a stat-only sweep of the files runs before answering (events can be
missed: inotify limits, synced folders, changes made while the server was down).
"""

import logging
import time
from collections.abc import Callable

from memory_schema.layout import DocumentKind
from server.memory import ProjectMemory
from server.uris import uri_for
from server.watcher import ChangeBatch, FolderWatcher

logger = logging.getLogger(__name__)

QUIET_SWEEP_SECONDS = 30.0  # with a healthy watcher, at most one backstop sweep per 30 s
DEBOUNCE_SECONDS = 0.25

Publish = Callable[[list[str], bool], None]  # (changed resource URIs, whether the listing changed)


class LiveSync:
    def __init__(self, memory: ProjectMemory, publish: Publish | None = None) -> None:
        self.memory = memory
        self._publish = publish
        self.watcher = FolderWatcher(memory.root, self._on_change, debounce=DEBOUNCE_SECONDS)
        self._last_sweep = 0.0
        memory.freshness_check = self.ensure_fresh

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.memory.freshness_check = None
        self.watcher.stop()

    @property
    def healthy(self) -> bool:
        return self.watcher.healthy

    def ensure_fresh(self) -> None:
        """Sweep by stat before a search unless the watcher is healthy and was heard from recently."""
        now = time.monotonic()
        heard = self.watcher.last_event_at
        recent = max(heard or 0.0, self._last_sweep)
        if self.watcher.healthy and now - recent < QUIET_SWEEP_SECONDS:
            return
        self.memory.search_engine.sweep()
        self._last_sweep = now

    def _on_change(self, batch: ChangeBatch) -> None:
        engine = self.memory.search_engine
        if batch.rescan:
            engine.reconcile()
        else:
            engine.update_paths(sorted(batch.changed), sorted(batch.deleted))
        try:
            self._notify(batch)
        finally:
            engine.tidy()  # merges happen here, after the batch is searchable, never inside a save's commit

    def _notify(self, batch: ChangeBatch) -> None:
        if self._publish is None:
            return
        paths = sorted(batch.changed | batch.deleted)
        uris = [uri_for(self.memory.layout, path) for path in paths]
        listing_changed = bool(batch.deleted) or batch.rescan or any(
            self.memory.layout.kind_of(path) in (DocumentKind.DISCUSSION, DocumentKind.NOTE) for path in batch.changed
        )
        try:
            self._publish(uris, listing_changed)
        except Exception:  # a client gone away must not stop the watcher
            logger.warning("could not notify subscribers of %d changed documents", len(uris), exc_info=True)
