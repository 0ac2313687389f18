"""When a search must first sweep the notes by stat: file events can be missed (inotify limits, synced
folders, changes made while the server was down), so without a healthy watcher heard from recently, a
stat-only sweep runs before answering — at most once per QUIET_SWEEP_SECONDS while the watcher is healthy.

The policy is handed to `ProjectMemory` when it is made; the live-sync layer that owns the watcher tells the
policy how to ask about it (`watch`), so the dependency is visible where both are built.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

QUIET_SWEEP_SECONDS = 30.0


class Freshness:
    def __init__(self, *, sweeps: bool = True) -> None:
        self._sweeps = sweeps
        self._healthy: Callable[[], bool] = lambda: False
        self._last_event: Callable[[], float | None] = lambda: None
        self._last_sweep = 0.0
        self._lock = threading.Lock()

    @classmethod
    def none(cls) -> Freshness:
        """Never sweep: a one-shot command reconciles the index when it opens it, a test writes through us."""
        return cls(sweeps=False)

    def watch(self, healthy: Callable[[], bool], last_event: Callable[[], float | None]) -> None:
        """Ask the watcher these two things from now on."""
        with self._lock:
            self._healthy, self._last_event = healthy, last_event

    def needs_sweep(self) -> bool:
        if not self._sweeps:
            return False
        with self._lock:
            healthy, last_event, last_sweep = self._healthy, self._last_event, self._last_sweep
        recent = max(last_event() or 0.0, last_sweep)
        return not (healthy() and time.monotonic() - recent < QUIET_SWEEP_SECONDS)

    def swept(self) -> None:
        with self._lock:
            self._last_sweep = time.monotonic()
