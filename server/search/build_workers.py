"""A full build's parsing and analysis, spread over worker processes while this process writes the index.

Parsing and analyzing a note costs about as much as Whoosh's writing of it, so a build of many notes hands
the notes, read here, to worker processes in batches and writes their documents as they come back, in
order: the index is the one an inline build writes. Reading stays in this process, through the store and its
checks; a worker gets a note's text, never a path to open.

A worker is a plain child process (`python -I -c`, the same interpreter, given this process's import path) reading
pickled batches on its stdin and writing their documents, framed, on its stdout, never the server's stdio. Not
`multiprocessing`: its spawn start re-runs the parent's main script in every child (a caller's script with no
`__main__` guard ran again there), and a fork copies whatever lock another thread of the server holds. The
pickles cross between this process and children it started on its own code, nothing else.

A worker imports the analyzer and loads its dictionary (about a second), so a build of fewer than
POOL_FROM_NOTES notes analyzes inline. Workers that cannot start, or die, cost speed and nothing else: every
batch they did not return is analyzed here. At most IN_FLIGHT_PER_WORKER batches per worker are read ahead of
the writer, so memory stays bounded however many notes there are.

Threads: the build's thread hands out batches, takes results and closes the workers; per worker, a feeder
thread writes its batches to its stdin and a reader thread reads its results from its stdout, so no pipe ever
blocks the build's thread, which waits for a result at most RESULT_WAIT_SECONDS (a worker stopped, stuck, or
writing garbage is then ended and its batches analyzed inline). They share only the two queues.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator
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
RESULT_WAIT_SECONDS = 120.0  # a batch takes well under a second; a worker silent this long is stopped or stuck
_FRAME = struct.Struct("<4sQ")  # each result: a magic tag and the pickle's length, so a stray byte fails at once
_MAGIC = b"PMW1"

LoadedNote = tuple[str, FileStat, Snapshot]  # (path, stat, snapshot), as `manifest.load_note` read it
Batch = tuple[Layout, list[LoadedNote]]

_CODE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the `server` package
_WORKER_MAIN = "from server.search.build_workers import serve; serve()"


def worker_command() -> list[str]:
    """How a worker starts: isolated (`-I`: neither the current folder, which may be the notes folder and hold
    a planted `server/` or `queue.py`, nor PYTHONPATH, nor the user's site folder is on its path), then given
    this process's own import path (`worker_path`) as its first message, before it imports anything of ours."""
    bootstrap = "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer)"
    return [sys.executable, "-I", "-c", f"{bootstrap}; {_WORKER_MAIN}"]


def worker_path() -> list[str]:
    """This process's import path without the current folder (unless this package lives there): a worker then
    finds the standard library, the packages and this code where this process found them."""
    here = os.getcwd()
    path = [entry for entry in sys.path
            if entry and (os.path.abspath(entry) != here or os.path.abspath(entry) == _CODE_ROOT)]
    return path if _CODE_ROOT in path else [_CODE_ROOT, *path]


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


def analyzed_notes(
    layout: Layout, notes: Iterable[LoadedNote], count: int
) -> Generator[NoteDocuments, None, None]:
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
        except Exception as err:  # no processes or threads here (a sandbox, a limit, no interpreter to run)
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
            except Exception as err:  # dead, stuck or garbled; an analysis bug raises again below
                logger.warning("search index build: a worker process failed (%s); analyzing inline", err)
                self.close()
        return analyze_batch(layout, batch)

    def close(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()


class _Worker:
    """One child process, the feeder thread writing its batches and the reader thread taking its results (so
    the build's thread waits for a result with a deadline, on every platform)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._outbox: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._inbox: queue.SimpleQueue[list[NoteDocuments] | Exception] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        try:
            for target, name in ((self._feed, "index-build-feeder"), (self._read, "index-build-reader")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.close()
            raise

    def send(self, batch: Batch) -> None:
        self._outbox.put(batch)

    def receive(self) -> list[NoteDocuments]:
        try:
            found = self._inbox.get(timeout=RESULT_WAIT_SECONDS)
        except queue.Empty:
            raise TimeoutError(f"no answer in {RESULT_WAIT_SECONDS:.0f} s") from None
        if isinstance(found, Exception):
            raise found
        return found

    def close(self) -> None:
        """Let the worker finish (end of its input); end it if it does not within EXIT_WAIT_SECONDS."""
        self._outbox.put(None)
        try:
            self._process.wait(EXIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for thread in self._threads:
            thread.join(EXIT_WAIT_SECONDS)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def _feed(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            pickle.dump(worker_path(), stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.flush()
            while (batch := self._outbox.get()) is not None:
                pickle.dump(batch, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
        except (OSError, ValueError):  # the worker is gone: its batches are analyzed in the build's thread
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            while header := stdout.read(_FRAME.size):
                magic, length = _FRAME.unpack(header) if len(header) == _FRAME.size else (b"", 0)
                if magic != _MAGIC:
                    raise ValueError("the worker wrote something other than a result")
                data = stdout.read(length)
                if len(data) != length:
                    raise EOFError("the worker ended in the middle of a result")
                self._inbox.put(pickle.loads(data))
            raise EOFError("the worker ended")
        except Exception as err:  # garbled or ended: the build's thread hears it and stops this worker
            self._inbox.put(err)


def serve() -> None:
    """A worker's loop: (layout, batch) pickles in on stdin until it ends, their documents out on stdout, each
    framed (`_FRAME`). `print` goes to stderr meanwhile, so nothing the analysis might print can garble them.
    The server closing the pipes or stopping the worker ends it quietly."""
    results: IO[bytes] = sys.stdout.buffer
    sys.stdout = sys.stderr
    batches: Any = sys.stdin.buffer
    try:
        load_segmenter()
        while True:
            try:
                layout, batch = pickle.load(batches)
            except EOFError:
                return
            data = pickle.dumps(analyze_batch(layout, batch), protocol=pickle.HIGHEST_PROTOCOL)
            results.write(_FRAME.pack(_MAGIC, len(data)) + data)
            results.flush()
    except (BrokenPipeError, KeyboardInterrupt):
        return
