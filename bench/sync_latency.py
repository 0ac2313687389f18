"""Save → searchable latency with the real watcher, and what the freshness backstop costs a search.

A temporary copy of `--notes` corpus notes becomes a memory root (index in its own `.project-memory/`), opened
with `ProjectMemory`, warmed up, with `LiveSync` started. Then, `--saves` times, a unique marker word is
appended to a random note, saved the way an editor saves, alternating:
- plain: truncate and write the note in place;
- atomic: write a hidden temp file beside it, fsync, rename it onto the note (VS Code, most tools);
- vim: a `.swp` file beside it, the note renamed to `note.md~`, a new `note.md` written, the backup deleted.
The clock starts when the save returns; the engine's `search(marker)` is then polled (directly, so the
freshness sweep cannot do the watcher's work) until the note comes back. The live-sync callback is timed
too, which splits the latency into waiting for the batch (the debounce) and indexing it.

Then `LiveSync.ensure_fresh()`, which `ProjectMemory.search` calls first, is timed in its three states:
watcher healthy and heard from recently (no sweep), watcher healthy but quiet for longer than
`QUIET_SWEEP_SECONDS` (a sweep; at most one per that interval), watcher stopped (a sweep every search).

    .venv/bin/python bench/sync_latency.py [--quick] [--notes 200] [--saves 120]

Writes the tables to bench/results/sync.md.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from common import (
    DEFAULT_CORPUS,
    Spread,
    code_changed_note,
    code_fingerprint,
    code_state,
    command_line,
    copy_notes,
    corpus_missing,
    machine_facts,
    ms,
    require_index,
    spread,
    use_repo,
    verdict,
    write_result,
)

if TYPE_CHECKING:
    from server.watcher import ChangeBatch

TARGET_P95_S = 1.0
TIMEOUT_S = 10.0
POLL_S = 0.010
STYLES = ("plain", "atomic", "vim")


def save_plain(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def save_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_vim(path: Path, text: str) -> None:
    """vim's default `backupcopy=auto` on Linux: rename to a backup, write anew, delete the backup."""
    swap = path.parent / f".{path.name}.swp"
    swap.write_bytes(b"b0VIM 9.0\0")
    backup = path.parent / f"{path.name}~"
    os.rename(path, backup)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    backup.unlink()
    swap.unlink()


SAVERS: dict[str, Callable[[Path, str], None]] = {"plain": save_plain, "atomic": save_atomic, "vim": save_vim}


@dataclass(frozen=True)
class Callback:
    started: float
    ended: float
    changed: frozenset[str]


@dataclass
class CallbackLog:
    entries: list[Callback] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_with(self, path: str, after: float) -> Callback | None:
        with self.lock:
            return next((c for c in self.entries if c.started >= after and path in c.changed), None)


@dataclass(frozen=True)
class Save:
    style: str
    latency: float | None  # None: not found within TIMEOUT_S
    to_callback: float | None
    indexing: float | None
    size: int
    segments: int  # Whoosh segments once the note was found (a drop since the previous save is a merge)


def copy_subset(corpus: Path, root: Path, count: int, seed: int) -> list[str]:
    notes = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.md") if p.is_file())
    return copy_notes(corpus, root, random.Random(seed).sample(notes, min(count, len(notes))))


def timed(call: Callable[[], object], times: int) -> list[float]:
    spent: list[float] = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return spent


@contextlib.contextmanager
def quiet_watcher() -> Iterator[None]:
    """Make every call look like the first after a quiet spell longer than QUIET_SWEEP_SECONDS."""
    import server.sync as sync_module

    real = sync_module.QUIET_SWEEP_SECONDS
    sync_module.QUIET_SWEEP_SECONDS = 0.0
    try:
        yield
    finally:
        sync_module.QUIET_SWEEP_SECONDS = real


@dataclass
class Measured:
    notes: int
    build_s: float
    saves: list[Save]
    polls: list[float]  # each marker search while waiting
    fresh_recent: list[float]
    fresh_quiet: list[float]
    fresh_stopped: list[float]
    sweep: list[float]
    search: list[float]
    quiet_seconds: float
    debounce: float


def measure(args: argparse.Namespace, corpus: Path) -> Measured:
    use_repo()
    import server.sync as sync_module
    from server.memory import ProjectMemory
    from server.search import default_index_dir
    from server.sync import LiveSync

    log = CallbackLog()

    class TimedSync(LiveSync):
        def _on_change(self, batch: ChangeBatch) -> None:
            started = time.perf_counter()
            super()._on_change(batch)
            with log.lock:
                log.entries.append(Callback(started, time.perf_counter(), batch.changed))

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="project-memory-sync-") as tmp:
        root = Path(tmp) / "memory"
        notes = copy_subset(corpus, root, args.notes, args.seed)
        memory = ProjectMemory(root)
        started = time.perf_counter()
        memory.warm_up()
        build_s = time.perf_counter() - started
        engine = memory.search_engine
        index_dir = default_index_dir(memory.root)
        status = engine.status()
        require_index(status.state, status.files, len(notes))
        sync = TimedSync(memory)
        sync.start()
        try:
            if not sync.healthy:
                raise RuntimeError("the watcher did not start; nothing to measure")
            time.sleep(1.0)  # let the index build's own file events (ignored, in a dot folder) drain

            saves: list[Save] = []
            polls: list[float] = []
            for number in range(args.saves):
                style = STYLES[number % len(STYLES)]
                rel = rng.choice(notes)
                path = root / rel
                marker = f"synclat{number:04d}q{rng.randrange(16**6):06x}"
                text = path.read_text(encoding="utf-8") + f"\n\n{marker} 同步标记 sync marker\n"
                SAVERS[style](path, text)
                saved = time.perf_counter()
                latency: float | None = None
                while time.perf_counter() - saved < TIMEOUT_S:
                    polled = time.perf_counter()
                    result = engine.search(marker, limit=5)
                    polls.append(time.perf_counter() - polled)
                    require_index(result.index_state)
                    if any(hit.path == rel for hit in result.hits):
                        latency = time.perf_counter() - saved
                        break
                    time.sleep(POLL_S)
                callback = log.first_with(rel, saved)
                deadline = time.perf_counter() + 1.0
                while callback is None and latency is not None and time.perf_counter() < deadline:
                    time.sleep(POLL_S)  # found as the callback committed; it logs itself just after
                    callback = log.first_with(rel, saved)
                saves.append(
                    Save(
                        style=style,
                        latency=latency,
                        to_callback=callback.started - saved if callback else None,
                        indexing=callback.ended - callback.started if callback else None,
                        size=len(text.encode("utf-8")),
                        segments=len(list(index_dir.glob("*.trm"))),  # one terms file per segment
                    )
                )
                if (number + 1) % 30 == 0:
                    print(f"{number + 1}/{args.saves} saves", flush=True)
                time.sleep(rng.uniform(0.0, 0.2))  # a person does not save the next note at once

            queries = ["注意力机制", "KV缓存", "data parallelism", "FlashAttention原理", "混合精度训练"]
            search: list[float] = []
            for query in queries:
                search += timed(functools.partial(engine.search, query), 5)
            # Healthy, heard from just now: a save first, then the calls (well inside QUIET_SWEEP_SECONDS).
            save_plain(root / notes[0], (root / notes[0]).read_text(encoding="utf-8") + "\nfresh\n")
            time.sleep(0.5)
            fresh_recent = timed(sync.ensure_fresh, 200)
            with quiet_watcher():
                fresh_quiet = timed(sync.ensure_fresh, args.sweeps)
            sweep = timed(engine.sweep, args.sweeps)
            sync.stop()
            fresh_stopped = timed(sync.ensure_fresh, args.sweeps)
        finally:
            sync.stop()  # idempotent
            memory.close()
    return Measured(
        notes=len(notes),
        build_s=build_s,
        saves=saves,
        polls=polls,
        fresh_recent=fresh_recent,
        fresh_quiet=fresh_quiet,
        fresh_stopped=fresh_stopped,
        sweep=sweep,
        search=search,
        quiet_seconds=sync_module.QUIET_SWEEP_SECONDS,
        debounce=sync_module.DEBOUNCE_SECONDS,
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _fresh_row(label: str, calls: Spread, search: Spread) -> list[str]:
    ratio = calls.p50 / search.p50
    return [
        label,
        str(calls.n),
        ms(calls.p50),
        ms(calls.p95),
        ms(calls.max),
        f"{ratio:.4f}" if ratio < 0.01 else f"{ratio:.2f}",
    ]


def _slowest(saves: Sequence[Save], count: int) -> list[str]:
    def cell(value: float | None) -> str:
        return "–" if value is None else f"{1000 * value:.0f}"

    order = sorted(range(len(saves)), key=lambda i: -(saves[i].latency or TIMEOUT_S))[:count]
    return [
        f"save {i + 1} ({saves[i].style}): {cell(saves[i].latency)} / {cell(saves[i].to_callback)} / "
        f"{cell(saves[i].indexing)} / {saves[i].segments}, {saves[i - 1].segments if i else '–'}"
        for i in order
    ]


def render(m: Measured, args: argparse.Namespace, facts: str, code: str) -> str:
    groups = {"all": m.saves, **{style: [s for s in m.saves if s.style == style] for style in STYLES}}
    rows = []
    for name, saves in groups.items():
        found = [s.latency for s in saves if s.latency is not None]
        waits = [s.to_callback for s in saves if s.to_callback is not None]
        indexing = [s.indexing for s in saves if s.indexing is not None]
        latency = spread(found)
        rows.append(
            [
                name,
                str(len(saves)),
                str(len(saves) - len(found)),
                ms(latency.p50),
                ms(latency.p95),
                ms(latency.max),
                ms(statistics.median(waits)) if waits else "–",
                ms(statistics.median(indexing)) if indexing else "–",
                ms(spread(indexing).p95) if indexing else "–",
                verdict(latency.p95, TARGET_P95_S) if name == "all" else "",
            ]
        )
    recent, quiet, stopped = spread(m.fresh_recent), spread(m.fresh_quiet), spread(m.fresh_stopped)
    sweep, search = spread(m.sweep), spread(m.search)
    quiet_s = f"{m.quiet_seconds:.0f}"
    return "\n".join(
        [
            "## Live sync: save → searchable",
            "",
            f"Command: `{command_line()}`  ",
            f"Machine: {facts}; load average at the end " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + "  ",
            f"Code: {code}",
            "",
            f"A temporary copy of {m.notes} corpus notes (seed {args.seed}), `ProjectMemory` with its index in "
            f"`.project-memory/` (built in {m.build_s:.1f} s) and `LiveSync` started (debounce "
            f"{m.debounce * 1000:.0f} ms). {len(m.saves)} saves of a unique marker into a random note, styles "
            f"alternating; latency from the save's return until `engine.search(marker)` (polled every "
            f"{POLL_S * 1000:.0f} ms plus the search's own time, p50 {ms(spread(m.polls).p50)} ms over "
            f'{len(m.polls)} polls) returns the note. "to callback": save → the '
            'live-sync callback that carried the note began (event delivery + debounce); "indexing": that '
            f"callback's duration (`update_paths`). Target: p95 ≤ {TARGET_P95_S:.0f} s.",
            "",
            *table(
                [
                    "saves",
                    "n",
                    "not found in 10 s",
                    "p50 ms",
                    "p95 ms",
                    "max ms",
                    "to callback p50 ms",
                    "indexing p50 ms",
                    "indexing p95 ms",
                    "target",
                ],
                rows,
            ),
            "Slowest saves (latency ms / to callback ms / indexing ms / segments after, before):",
            "",
            *(f"- {s}" for s in _slowest(m.saves, 8)),
            "",
            "### The freshness backstop: what `ensure_fresh()` adds to each search",
            "",
            f"`ProjectMemory.search` calls `LiveSync.ensure_fresh()` first. It sweeps (stats every note against "
            f"the manifest) unless the watcher is healthy and was heard from, or swept, within the last "
            f"{m.quiet_seconds:.0f} s. Quiet state simulated by setting `QUIET_SWEEP_SECONDS` to 0.",
            "",
            *table(
                ["state", "calls", "p50 ms", "p95 ms", "max ms", "p50 / search p50"],
                [
                    _fresh_row(f"healthy, event within {quiet_s} s (no sweep)", recent, search),
                    _fresh_row(f"healthy, quiet > {quiet_s} s (sweep, then none for {quiet_s} s)", quiet, search),
                    _fresh_row("watcher stopped (sweep on every search)", stopped, search),
                    _fresh_row("for scale: `engine.sweep()` alone", sweep, search),
                    _fresh_row("for scale: one search (5 topic queries × 5)", search, search),
                ],
            ),
            f"Sweep per note: {1e6 * sweep.p50 / m.notes:.0f} µs.",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Save → searchable latency with the real watcher.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus root (default: ../shared/corpus)")
    parser.add_argument("--quick", action="store_true", help="fewer saves and sweeps (under a minute)")
    parser.add_argument("--notes", type=int, default=200, help="notes copied into the memory root (default 200)")
    parser.add_argument("--saves", type=int, help="saves measured (default 120; quick 15)")
    parser.add_argument("--sweeps", type=int, help="ensure_fresh calls timed per sweeping state (default 30; quick 5)")
    parser.add_argument("--seed", type=int, default=336)
    parser.add_argument("--name", default="sync", help="result file name under bench/results (default: sync)")
    args = parser.parse_args(argv)
    args.saves = args.saves or (15 if args.quick else 120)
    args.sweeps = args.sweeps or (5 if args.quick else 30)
    corpus: Path = args.corpus.resolve()
    if corpus_missing(corpus):
        return 0
    facts, code, fingerprint = machine_facts(), code_state(), code_fingerprint()
    text = render(measure(args, corpus), args, facts, code)
    text = "\n".join([text, *code_changed_note(fingerprint)])
    print(text)
    print(f"written to {write_result(args.name, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
