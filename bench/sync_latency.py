"""Save → searchable latency with the real watcher, and what the freshness backstop costs a search.

A temporary copy of `--notes` corpus notes becomes a memory (`project-memory.toml`: every file a plain note), its
index in a temporary $PROJECT_MEMORY_CACHE_DIR, opened as the server opens it (`ProjectMemory` with the
`Freshness` policy, `ensure_index`), with `LiveSync` started. Then, `--saves` times, a unique marker word is
appended to a random note, saved the way an editor saves, alternating:
- plain: truncate and write the note in place;
- atomic: write a hidden temp file beside it, fsync, rename it onto the note (VS Code, most tools);
- vim: a `.swp` file beside it, the note renamed to `note.md~`, a new `note.md` written, the backup deleted.
The clock starts when the save returns; the engine's search for the marker is then polled (directly, so the
freshness sweep cannot do the watcher's work) until the note comes back. The live-sync callback is timed too,
which splits the latency into waiting for the batch (the debounce) and indexing it (`IndexService.update`; when
a merge holds the index, the update leaves the note pending and returns, and the next search indexes it first,
as every search does).

Then the freshness backstop that `ProjectMemory.search` runs first (`Freshness.needs_sweep()`, and a stat sweep
when it says so) is timed in its three states: watcher healthy and heard from recently (no sweep), watcher
healthy but quiet for longer than `QUIET_SWEEP_SECONDS` (a sweep; at most one per that interval), watcher
stopped (a sweep every search).

    .venv/bin/python bench/sync_latency.py [--quick] [--notes 200] [--saves 500]

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
from typing import TYPE_CHECKING, Any

from common import (
    CACHE_ENV,
    DEFAULT_CORPUS,
    CodeWatch,
    code_state,
    command_line,
    copy_notes,
    corpus_missing,
    load_note,
    load_now,
    machine_facts,
    make_memory,
    ms,
    require_index,
    spread,
    table,
    use_repo,
    verdict,
    write_result,
)

if TYPE_CHECKING:
    from server.watcher import ChangeBatch

TARGET_MAX_S = 1.5  # the slowest save
DEFERRED_S = 0.001  # a callback this short left its notes pending instead of indexing them
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
    """Make every search look like the first after a quiet spell longer than QUIET_SWEEP_SECONDS."""
    import server.freshness as freshness_module

    real = freshness_module.QUIET_SWEEP_SECONDS
    freshness_module.QUIET_SWEEP_SECONDS = 0.0
    try:
        yield
    finally:
        freshness_module.QUIET_SWEEP_SECONDS = real


@dataclass(frozen=True)
class Backstop:
    """One state of the freshness policy: what deciding costs, whether it sweeps, what a search then costs."""

    state: str
    decide: list[float]  # needs_sweep() alone
    sweeps: bool
    search: list[float]  # ProjectMemory.search: the backstop, then the engine


@dataclass
class Measured:
    notes: int
    build_s: float
    saves: list[Save]
    polls: list[float]  # each marker search while waiting
    backstops: list[Backstop]
    engine_search: list[float]  # the same searches, engine only
    sweep: list[float]
    quiet_seconds: float
    debounce: float


def segments_in(folder: Path) -> int:
    return len(list(folder.glob("*.trm")))  # one terms file per Whoosh segment (compound=False)


def measure(args: argparse.Namespace, corpus: Path, work: Path) -> Measured:
    os.environ[CACHE_ENV] = str(work / "cache")  # before the server's modules read it
    use_repo()
    import server.freshness as freshness_module
    import server.sync as sync_module
    from server.freshness import Freshness
    from server.memory import ProjectMemory
    from server.search.request import search_request
    from server.sync import LiveSync

    log = CallbackLog()

    class TimedSync(LiveSync):  # type: ignore[misc]
        def _on_change(self, batch: ChangeBatch) -> None:
            started = time.perf_counter()
            super()._on_change(batch)
            with log.lock:
                log.entries.append(Callback(started, time.perf_counter(), batch.changed))

    rng = random.Random(args.seed)
    root = work / "memory"
    notes = copy_subset(corpus, root, args.notes, args.seed)
    make_memory(root)
    memory = ProjectMemory(root, freshness=Freshness())  # as `project-memory serve` makes it
    started = time.perf_counter()
    memory.ensure_index()
    build_s = time.perf_counter() - started
    engine = memory.engine
    status = memory.index_status()
    require_index(status.state, status.files, len(notes))
    index_dir = Path(str(status.location))
    sync = TimedSync(memory)
    sync.start()
    try:
        if not sync.healthy:
            raise RuntimeError("the watcher did not start; nothing to measure")
        time.sleep(1.0)  # let the copy's own file events drain

        saves: list[Save] = []
        polls: list[float] = []
        for number in range(args.saves):
            style = STYLES[number % len(STYLES)]
            rel = rng.choice(notes)
            path = root / rel
            marker = f"synclat{number:04d}q{rng.randrange(16**6):06x}"
            text = path.read_text(encoding="utf-8") + f"\n\n{marker} 同步标记 sync marker\n"
            request = search_request(marker, limit=5)
            SAVERS[style](path, text)
            saved = time.perf_counter()
            latency: float | None = None
            while time.perf_counter() - saved < TIMEOUT_S:
                polled = time.perf_counter()
                result = engine.search(request)
                polls.append(time.perf_counter() - polled)
                require_index(result.index_state, scanned=result.scanned)
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
                    segments=segments_in(index_dir),
                )
            )
            if (number + 1) % 50 == 0:
                print(f"{number + 1}/{args.saves} saves", flush=True)
            time.sleep(rng.uniform(0.0, 0.2))  # a person does not save the next note at once

        queries = ["注意力机制", "KV缓存", "data parallelism", "FlashAttention原理", "混合精度训练"]
        requests = [search_request(q) for q in queries]

        def searches(call: Callable[[Any], object]) -> list[float]:
            return [t for request in requests for t in timed(functools.partial(call, request), args.repeats)]

        engine_search = searches(engine.search)
        backstops: list[Backstop] = []
        # Healthy, heard from just now: a save first, then the calls (well inside QUIET_SWEEP_SECONDS).
        save_plain(root / notes[0], (root / notes[0]).read_text(encoding="utf-8") + "\nfresh\n")
        time.sleep(1.0)
        policy = memory.freshness
        quiet = freshness_module.QUIET_SWEEP_SECONDS
        backstops.append(Backstop(f"healthy, a file event within {quiet:.0f} s", timed(policy.needs_sweep, 200),
                                  policy.needs_sweep(), searches(memory.search)))
        with quiet_watcher():
            backstops.append(Backstop(f"healthy, quiet for over {quiet:.0f} s", timed(policy.needs_sweep, 200),
                                      policy.needs_sweep(), searches(memory.search)))
        sweep = timed(memory.index.sweep, args.sweeps)
        sync.stop()
        backstops.append(Backstop("watcher stopped", timed(policy.needs_sweep, 200), policy.needs_sweep(),
                                  searches(memory.search)))
    finally:
        sync.stop()  # idempotent
        memory.close()
    return Measured(
        notes=len(notes),
        build_s=build_s,
        saves=saves,
        polls=polls,
        backstops=backstops,
        engine_search=engine_search,
        sweep=sweep,
        quiet_seconds=freshness_module.QUIET_SWEEP_SECONDS,
        debounce=sync_module.DEBOUNCE_SECONDS,
    )


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
        slowest = latency.max if len(found) == len(saves) else TIMEOUT_S
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
                ms(max(indexing)) if indexing else "–",
                verdict(slowest, TARGET_MAX_S) if name == "all" else "",
            ]
        )
    over = [s for s in m.saves if s.latency is None or s.latency > TARGET_MAX_S]
    merges = sum(1 for a, b in zip(m.saves, m.saves[1:], strict=False) if b.segments < a.segments)
    deferred = sum(1 for s in m.saves if s.indexing is not None and s.indexing < DEFERRED_S)
    engine = spread(m.engine_search)
    sweep = spread(m.sweep)
    backstop_rows = []
    for b in m.backstops:
        searched = spread(b.search)
        backstop_rows.append([b.state, f"{1e6 * spread(b.decide).p50:.1f}", "yes" if b.sweeps else "no",
                              str(searched.n), ms(searched.p50), ms(searched.p95), ms(searched.max),
                              ms(searched.p50 - engine.p50)])
    return "\n".join(
        [
            "## Live sync: save → searchable",
            "",
            f"Command: `{command_line()}`  ",
            f"Machine: {facts}; load average at the end {load_now()}  ",
            f"Code: {code}",
            "",
            *load_note(args.start_load),
            f"A temporary copy of {m.notes} corpus notes (seed {args.seed}) made a memory, opened as the server "
            f"opens it (`ProjectMemory` with `Freshness()`, `ensure_index`: built in {m.build_s:.1f} s, index in a "
            f"temporary cache folder) and `LiveSync` started (debounce {m.debounce * 1000:.0f} ms). "
            f"{len(m.saves)} saves of a unique marker into a random note, styles alternating, 0–200 ms apart; "
            f"latency from the save's return until the engine's search for the marker (polled every "
            f"{POLL_S * 1000:.0f} ms plus the search's own time, p50 {ms(spread(m.polls).p50)} ms over "
            f'{len(m.polls)} polls) returns the note. "to callback": save → the live-sync callback that carried '
            'the note began (event delivery + debounce); "indexing": that callback\'s duration '
            f"(`IndexService.update`). Target: the slowest save ≤ {TARGET_MAX_S} s.",
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
                    "indexing max ms",
                    "target (max)",
                ],
                rows,
            ),
            f"Saves over {TARGET_MAX_S} s: {len(over)}. Merges seen (the segment count dropped): {merges}. Saves "
            f"whose callback returned in under {DEFERRED_S * 1000:.0f} ms without indexing them (another pass, such "
            f"as a merge, held the index: the note stayed pending until a search indexed it): {deferred}.",
            "",
            "Slowest saves (latency ms / to callback ms / indexing ms / Whoosh segments after, before):",
            "",
            *(f"- {s}" for s in _slowest(m.saves, 8)),
            "",
            "### The freshness backstop: what `ProjectMemory.search` adds before searching",
            "",
            "`ProjectMemory.search` asks `Freshness.needs_sweep()` first and sweeps (stats every note against the "
            "manifest) when it says so: unless the watcher is healthy and was heard from, or swept, within the "
            f"last {m.quiet_seconds:.0f} s. The quiet state is simulated by setting `QUIET_SWEEP_SECONDS` to 0 "
            f"(so every search there sweeps; in use, one per {m.quiet_seconds:.0f} s). Each search: 5 topic "
            f"queries × {args.repeats}. For scale: the engine's search alone p50 {ms(engine.p50)} ms (p95 "
            f"{ms(engine.p95)} ms); `IndexService.sweep()` alone p50 {ms(sweep.p50)} ms (p95 {ms(sweep.p95)} ms, "
            f"{1e6 * sweep.p50 / m.notes:.0f} µs per note).",
            "",
            *table(
                ["state", "needs_sweep() µs", "sweeps", "searches", "search p50 ms", "p95 ms", "max ms",
                 "p50 added to the engine's ms"],
                backstop_rows,
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Save → searchable latency with the real watcher.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus root (default: ../shared/corpus)")
    parser.add_argument("--quick", action="store_true", help="fewer saves and sweeps (under a minute)")
    parser.add_argument("--notes", type=int, default=200, help="notes copied into the memory (default 200)")
    parser.add_argument("--saves", type=int, help="saves measured (default 500; quick 15)")
    parser.add_argument("--sweeps", type=int, help="sweeps timed (default 30; quick 5)")
    parser.add_argument("--repeats", type=int, help="times each backstop query runs (default 5; quick 2)")
    parser.add_argument("--seed", type=int, default=336)
    parser.add_argument("--name", default="sync", help="result file name under bench/results (default: sync)")
    args = parser.parse_args(argv)
    args.saves = args.saves or (15 if args.quick else 500)
    args.sweeps = args.sweeps or (5 if args.quick else 30)
    args.repeats = args.repeats or (2 if args.quick else 5)
    corpus: Path = args.corpus.resolve()
    if corpus_missing(corpus):
        return 0
    args.start_load = os.getloadavg()[0]
    facts, code, watch = machine_facts(), code_state(), CodeWatch()
    with tempfile.TemporaryDirectory(prefix="project-memory-sync-") as tmp:
        measured = measure(args, corpus, Path(tmp))
    text = render(measured, args, facts, code)
    text = "\n".join([text, *watch.note()])
    print(text)
    print(f"written to {write_result(args.name, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
