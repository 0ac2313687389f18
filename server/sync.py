"""Live sync with the person's editor: watcher batches → index updates → resource-change notifications.

The watcher's health and last event feed the memory's freshness policy (`server.freshness`): when events
may have been missed, a search sweeps the files by stat first.
"""

import logging
from collections.abc import Callable

from memory_schema.layout import DocumentKind
from server.memory import ProjectMemory
from server.uris import uri_for
from server.watcher import ChangeBatch, FolderWatcher

logger = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.25

Publish = Callable[[list[str], bool], None]  # (changed resource URIs, whether the listing changed)


class LiveSync:
    def __init__(self, memory: ProjectMemory, publish: Publish | None = None) -> None:
        self.memory = memory
        self._publish = publish
        self.watcher = FolderWatcher(memory.root, self._on_change, is_note=memory.store.rules.is_note,
                                     debounce=DEBOUNCE_SECONDS)
        memory.freshness.watch(lambda: self.watcher.healthy, lambda: self.watcher.last_event_at)

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()

    @property
    def healthy(self) -> bool:
        return self.watcher.healthy

    def _on_change(self, batch: ChangeBatch) -> None:
        self.memory.notes_changed(sorted(batch.changed), sorted(batch.deleted), rescan=batch.rescan)
        self._notify(batch)

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
