"""A full build's parsing and analysis, spread over worker processes while this process writes the index.

Parsing and analyzing a note costs about as much as Whoosh's writing of it, so a build of many notes hands
the notes, read here, to worker processes in batches and writes their documents as they come back, in
order: the index is the one an inline build writes. Reading stays in this process, through the store and its
checks; a worker gets a note's text, never a path to open.

A worker is a plain child process (`python -I -c`, this package first on its path, the same interpreter) reading
pickled batches on its stdin and writing their documents on its stdout, never the server's stdio. Not
`multiprocessing`: its spawn start re-runs the parent's main script in every child (a caller's script with no
`__main__` guard ran again there), and a fork copies whatever lock another thread of the server holds. The
pickles cross between this process and children it started on its own code, nothing else.

A worker imports the analyzer and loads its dictionary (about a second), so a build of fewer than
POOL_FROM_NOTES notes analyzes inline. Workers that cannot start, or die, cost speed and nothing else: every
batch they did not return is analyzed here. At most IN_FLIGHT_PER_WORKER batches per worker are read ahead of
the writer, so memory stays bounded however many notes there are.

Threads: the build's thread sends batches, reads results and closes the workers; one feeder thread per
worker writes its batches to the pipe (so a worker blocked on a full stdout never blocks the sender). They
share only the feeder's queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

from memory_schema.layout import Layout
from server.search.analyzer import load_segmenter
from server.search.manifest import note_record
from server.search.whoosh_index import NoteDocuments, note_documents
from server.store import FileStat, Snapshot

logger = logging.getLogger(__name__)

POOL_FROM_NOTES = 200  # below this a build is over before the workers have loaded their dictionary
MAX_WORKERS = 4  # past this the writing process, not the analysis, bounds a build
BATCH_NOTES = 16
IN_FLIGHT_PER_WORKER = 2
EXIT_WAIT_SECONDS = 5.0

LoadedNote = tuple[str, FileStat, Snapshot]  # (path, stat, snapshot), as `manifest.load_note` read it
Batch = tuple[Layout, list[LoadedNote]]

_CODE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `server` package
_WORKER_MAIN = "from server.search.build_workers import serve; serve()"


def worker_command() -> list[str]:
    """How a worker starts: isolated (`-I`), so neither the current folder (which may be the notes folder, or
    hold a planted `server/`) nor PYTHONPATH nor the user's site folder comes before this package, which is
    put first on the path by name."""
    return [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(_CODE_ROOT)!r}); {_WORKER_MAIN}"]


def analyze_batch(layout: Layout, batch: list[LoadedNote]) -> list[NoteDocuments]:
    """Parse and analyze read notes; runs in a worker, or here when there is none."""
    return [note_documents(note_record(layout, path, stat, snapshot)) for path, stat, snapshot in batch]


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # Linux: the CPUs this process may run on
    except AttributeError:  # macOS, Windows: no affinity call; every CPU counts
        return os.cpu_count() or 1


def worker_count(notes: int) -> int:
    """How many workers a build of `notes` notes is worth: none when small, on one CPU, or frozen."""
    cpus = min(usable_cpus(), MAX_WORKERS)
    if notes < POOL_FROM_NOTES or cpus < 2 or not sys.executable or getattr(sys, "frozen", False):
        return 0
    return cpus


def analyzed_notes(layout: Layout, notes: Iterable[LoadedNote], count: int) -> Iterator[NoteDocuments]:
    """The documents of `notes` (about `count` of them), in their order; from worker processes when the
    build is large enough to pay for them (`worker_count`), else analyzed here."""
    batches = _batches(iter(notes))
    workers = _Workers(worker_count(count))
    try:
        waiting: deque[tuple[list[LoadedNote], _Worker | None]] = deque()
        for batch in batches:
            waiting.append((batch, workers.send(layout, batch)))
            if len(waiting) >= max(1, workers.count * IN_FLIGHT_PER_WORKER):
                yield from workers.result(layout, *waiting.popleft())
        while waiting:
            yield from workers.result(layout, *waiting.popleft())
    finally:
        workers.close()


def _batches(notes: Iterator[LoadedNote]) -> Iterator[list[LoadedNote]]:
    while batch := list(islice(notes, BATCH_NOTES)):
        yield batch


class _Workers:
    """Worker processes that may fail at any point: a batch they do not return is analyzed here instead.
    Batches go round-robin and each worker answers in order, so results are read in the order sent."""

    def __init__(self, count: int) -> None:
        self._workers: list[_Worker] = []
        self._sent = 0
        try:
            for _ in range(count):
                self._workers.append(_Worker())
        except OSError as err:  # no processes here (a sandbox, a limit, no interpreter to run)
            logger.info("search index build: no worker processes (%s); analyzing inline", err)
            self.close()

    @property
    def count(self) -> int:
        return len(self._workers)

    def send(self, layout: Layout, batch: list[LoadedNote]) -> _Worker | None:
        if not self._workers:
            return None
        worker = self._workers[self._sent % len(self._workers)]
        self._sent += 1
        worker.send((layout, batch))
        return worker

    def result(self, layout: Layout, batch: list[LoadedNote], worker: _Worker | None) -> list[NoteDocuments]:
        if worker is not None and self._workers:
            try:
                return worker.receive()
            except Exception as err:  # a dead worker, a garbled pipe; an analysis bug raises again below
                logger.warning("search index build: a worker process failed (%s); analyzing inline", err)
                self.close()
        return analyze_batch(layout, batch)

    def close(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()


class _Worker:
    """One child process and the feeder thread writing its batches."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._outbox: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._feeder = threading.Thread(target=self._feed, name="index-build-feeder", daemon=True)
        self._feeder.start()

    def send(self, batch: Batch) -> None:
        self._outbox.put(batch)

    def receive(self) -> list[NoteDocuments]:
        assert self._process.stdout is not None
        documents: list[NoteDocuments] = pickle.load(self._process.stdout)
        return documents

    def close(self) -> None:
        """Let the worker finish (end of its input) or, if it is stuck writing what nobody reads, end it."""
        self._outbox.put(None)
        if self._process.stdout is not None:
            self._process.stdout.close()  # a worker blocked writing a result nobody reads gets a broken pipe
        try:
            self._process.wait(EXIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._feeder.join(EXIT_WAIT_SECONDS)

    def _feed(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            while (batch := self._outbox.get()) is not None:
                pickle.dump(batch, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
        except (OSError, ValueError):  # the worker is gone: its batches are analyzed in the build's thread
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()


def serve() -> None:
    """A worker's loop: (layout, batch) pickles in on stdin until it ends, their documents out on stdout.
    `print` goes to stderr meanwhile, so nothing the analysis might print can garble the results."""
    results: IO[bytes] = sys.stdout.buffer
    sys.stdout = sys.stderr
    load_segmenter()
    batches: Any = sys.stdin.buffer
    while True:
        try:
            layout, batch = pickle.load(batches)
        except EOFError:
            return
        pickle.dump(analyze_batch(layout, batch), results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()
