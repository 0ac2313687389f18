"""Search over the notes: Chinese, English and mixed, ranked by section, kept current with the files.

The query side answers a `SearchRequest` (`engine.SearchEngine`: `analyzer` turns text into terms and a
query into a plan, `glossary` adds aliases, `absence` decides whether the notes cover it at all, `ranking`
what matches and how it ranks, with `note_evidence` for what a section's note adds, `snippets` cuts what the model
reads, `filters` narrows by scope, lecture, tags and date, `scan` answers without an index).
`service.IndexService` alone owns the index: its state (`results.IndexState`), readiness, the Whoosh index
(`whoosh_index`, with `whoosh_private` and `postings`: the only modules importing whoosh), the maintenance
thread and reconciliation with the notes (`manifest`, `documents`, `build_workers`). The rest of the server
asks these two, never their parts.

Threads and locks (locks listed in the order they are taken; none is taken while a later one is held):

- A request (an MCP worker thread, the CLI's main thread) searching, through `SearchEngine.search`:
  `IndexService._lock` (state, briefly); when notes wait to be indexed, `IndexService._writer` (waiting up to
  WRITE_WAIT_SECONDS, else it searches the last commit) and the write chain below; then `WhooshIndex._read_lock`
  for the whole read (one reading thread at a time: Whoosh's readers share file handles) and, inside it,
  `WhooshIndex._lock` (take a view, briefly).
- A request writing a note, through `ProjectMemory`, calls `IndexService.queue`: `_lock` only, to add the note
  to the pending ones and hand the maintenance thread an "apply" task; it never waits for the index.
- Indexing pending notes (`IndexService.update` from the watcher, the maintenance thread's "apply", a search
  with notes pending): `_writer` (`update` only if free at once, else the notes stay pending for the
  maintenance thread), then the cache's `index.lock` file → `WhooshIndex._write_lock` → `WhooshIndex._read_lock`
  (the old sections, briefly) → `WhooshIndex._lock` (install the new view).
- Warm-up at server start, `IndexService.ensure_ready`: `_writer` → as above, for the open, the reconcile or the
  first build.
- The watcher's worker (`server.sync`): `IndexService.update`, `reconcile`, `sweep`, indexing as above.
- A full build (the first one, `rebuild`, a rebuild after damage) runs in whichever thread asked for it, under
  the locks above; with many notes it hands their parsing and analysis to worker processes
  (`build_workers`, one feeder thread each, sharing no lock with anything here) and writes what they return.
- The maintenance thread (`IndexService`'s own): applying pending notes, rebuilding after damage, merging small
  segments; indexing as above, waiting for `_writer`. Before applying or merging it waits for our writes to pause
  (QUIET_SECONDS, at most QUIET_AT_MOST_SECONDS), so its work does not run beside the next tool call; a search
  does not wait for that, it indexes what is queued itself.

`IndexService._lock` guards the state, its reason, the pending notes and the progress listeners; it is a plain
`Lock`, held for a few lines and never while calling out. `_writer` makes one pass over the manifest at a time
(the manifest itself is touched only under it). A query holds `_read_lock` while it ranks, and a reference on
its commit's view, which a writer retires (never closes) when it installs the next one. At start, and when a
rebuild finds the index usable after all, the notes changed since the last commit are queued before searches are
let in, so a search waits for them rather than reading a commit without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from server.search.request import MAX_LIMIT, MAX_QUERY_CHARS, Scope, SearchRequest
from server.search.results import IndexState, IndexStatus, ReconcileReport, SearchHit, SearchResults

if TYPE_CHECKING:
    from server.search.engine import SearchEngine
    from server.search.service import IndexService

# Imported when first asked for: a build worker imports `build_workers` alone, not the engine and the service.
_LAZY = {"SearchEngine": "server.search.engine", "IndexService": "server.search.service"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "MAX_LIMIT",
    "MAX_QUERY_CHARS",
    "IndexService",
    "IndexState",
    "IndexStatus",
    "ReconcileReport",
    "Scope",
    "SearchEngine",
    "SearchHit",
    "SearchRequest",
    "SearchResults",
]
