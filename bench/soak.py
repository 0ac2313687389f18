"""Soak test: one real stdio server under a steady mixed load for ten minutes; memory and file handles stay flat.

The script starts `python -m server --root COPY` (folder watcher on) on a temporary copy of the bundled example,
its cache (search index, locks, undo journal) in a temporary $PROJECT_MEMORY_CACHE_DIR, and drives it with the
SDK client at a bounded request rate: searches, reads, session briefings, insights,
research TODOs added and ticked, discussion rounds, progress updates, and edits made directly to the files
as a person's editor would (appending to a note, creating and deleting scratch notes, and every few minutes
putting the memory documents back as they started, so the corpus stays the same size and growth in the
server can only be a leak). Every 10 s it samples the server's resident memory (`VmRSS` in
/proc/<pid>/status), its open file descriptors (/proc/<pid>/fd) and the bytes of its search index. At the end
it prints the samples and fails unless the last 30 s are within 20% (median RSS) / +10 descriptors (fewest
open) of the 30 s after the warm-up; the index's size is reported beside the notes' (min and max).

Local only (a pipe to a child process), Linux only (/proc). Not run in CI:

    python bench/soak.py                 # 10 minutes
    python bench/soak.py --quick         # 1 minute: checks the script, not the figures
    python bench/soak.py --minutes 2 --rate 4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "cs336"
SAMPLE_SECONDS = 10.0
RSS_TOLERANCE = 0.20
FD_TOLERANCE = 10
# Whoosh opens segment files per search, so one sample of the fd count swings by dozens; a leak shows as a
# rising floor. Each end of the run is judged by a window of samples: the lowest fd count, the median RSS.
WINDOW = 3
RESET_EVERY_WRITES = 60  # put the memory documents back after this many writes: a steady-size corpus
QUERIES = ("KV缓存", "pin_memory", "内存墙", "量化 int8", "BPE", "FlashAttention", "混合精度", "soak洞察", "AdamW")
DOCUMENTS = ("AI助手工作记忆.md", "学习进度.md", "深度探索TODO.md", "学习计划.md")
SCRATCH = "学习笔记/soak-scratch"
HANDLES = ("学习进度.md", "AI助手工作记忆.md#下一步计划")


@dataclass
class Sample:
    seconds: float
    rss_kib: int
    fds: int
    requests: int
    errors: int
    index_bytes: int
    notes_bytes: int


@dataclass
class Load:
    """What the client did: per operation, its latencies; the errors it got back."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    requests: int = 0
    writes: int = 0
    open_items: list[str] = field(default_factory=list)

    def record(self, op: str, seconds: float, error: str | None) -> None:
        self.requests += 1
        self.latencies.setdefault(op, []).append(seconds)
        if error is not None:
            self.errors[op] += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{op}: {error[:200]}")


def server_pid() -> int:
    """The server is this process's only child: the SDK client started it."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            children.append(int(stat.parent.name))
    if len(children) != 1:
        raise SystemExit(f"expected one server process, found {children}")
    return children[0]


def tree_bytes(folder: Path, pattern: str = "*") -> int:
    """Bytes of the files under `folder` matching `pattern`; files deleted meanwhile (a merge) count as 0."""
    total = 0
    for path in folder.rglob(pattern):
        with contextlib.suppress(OSError):
            if path.is_file():
                total += path.stat().st_size
    return total


def sample(pid: int, started: float, load: Load, cache: Path, root: Path) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    index = sum(tree_bytes(folder) for folder in (cache / "roots").glob("*/index"))
    return Sample(time.monotonic() - started, rss, fds, load.requests, sum(load.errors.values()), index,
                  tree_bytes(root, "*.md"))


class Workload:
    """Chooses and makes one request at a time against the server and the files."""

    def __init__(self, client: Client, root: Path, originals: dict[str, bytes], seed: int) -> None:
        self.client = client
        self.root = root
        self.originals = originals
        self.rng = random.Random(seed)
        self.load = Load()
        self.counter = 0
        self.handles: list[str] = list(HANDLES)
        self.scratch: list[Path] = []

    async def step(self) -> None:
        self.counter += 1
        roll = self.rng.random()
        if roll < 0.35:
            await self.call("search", "search_discussions", {"query": self.rng.choice(QUERIES), "limit": 10})
        elif roll < 0.50:
            await self.call("read", "read_memory", {"handle": self.rng.choice(self.handles)})
        elif roll < 0.55:
            await self.call("briefing", "get_session_context", {"max_tokens": 2000})
        elif roll < 0.65:
            await self.write(
                "insight",
                "append_insight",
                {"title": f"soak洞察 {self.counter}", "body": f"- 第{self.counter}次写入\n- 稳定性测试"},
            )
        elif roll < 0.72:
            item = f"soak研究 {self.counter}"
            writes_before = self.load.writes
            added = await self.write("todo", "add_research_todo", {"item": item, "topic": "soak"})
            reset = (writes_before + 1) % RESET_EVERY_WRITES == 0  # the reset after this write removed the item
            if added and not reset:
                self.load.open_items.append(item)
        elif roll < 0.77 and self.load.open_items:
            item = self.load.open_items.pop(0)
            await self.write("complete", "complete_research_todo", {"item": item})
        elif roll < 0.81:
            parts = {
                "question": f"soak问题 {self.counter}",
                "thinking": "思考",
                "details": "细节",
                "methodology": "方法",
                "practice": "实践",
            }
            await self.write("discussion", "record_discussion", {"topic": "soak讨论", **parts})
        elif roll < 0.85:
            status = self.rng.choice(("done", "in_progress", "not_started"))
            await self.write(
                "progress",
                "update_progress",
                {"lecture": str(self.rng.randint(3, 17)), "status": status, "note": "soak"},
            )
        else:
            self.edit_files()

    async def call(self, op: str, tool: str, args: dict[str, Any]) -> bool:
        started = time.monotonic()
        result = await self.client.call_tool(tool, args)
        error = None
        if result.is_error:
            error = " ".join(getattr(part, "text", "") for part in result.content)
        elif op == "search":
            hits = (result.structured_content or {}).get("hits", [])
            self.handles = list(dict.fromkeys([*self.handles, *(hit["handle"] for hit in hits[:2])]))[-40:]
        self.load.record(op, time.monotonic() - started, error)
        return error is None

    async def write(self, op: str, tool: str, args: dict[str, Any]) -> bool:
        ok = await self.call(op, tool, args)
        self.load.writes += 1
        if self.load.writes % RESET_EVERY_WRITES == 0:
            self.reset_documents()
        return ok

    def edit_files(self) -> None:
        """What a person's editor does: add to a note, create or remove a scratch note."""
        started = time.monotonic()
        roll = self.rng.random()
        if roll < 0.4 or not self.scratch:
            folder = self.root / SCRATCH
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"草稿{self.counter}.md"
            path.write_text(f"# 草稿 {self.counter}\n\n外部编辑 soakedit{self.counter}\n", encoding="utf-8")
            self.scratch.append(path)
        elif roll < 0.7:
            self.forget(self.scratch.pop(0))
        else:
            path = self.rng.choice(self.scratch)
            with open(path, "a", encoding="utf-8") as note:
                note.write(f"- 追加 {self.counter}\n")
        while len(self.scratch) > 30:
            self.forget(self.scratch.pop(0))
        self.load.record("edit", time.monotonic() - started, None)

    def forget(self, path: Path) -> None:
        """Delete a scratch note, and stop reading the handles search gave for it."""
        path.unlink(missing_ok=True)
        gone = path.relative_to(self.root).as_posix()
        self.handles = [handle for handle in self.handles if handle.split("#")[0] != gone]

    def reset_documents(self) -> None:
        """The person tidies up: the memory documents go back to how they started, the soak topic is removed."""
        for name, data in self.originals.items():
            (self.root / name).write_bytes(data)
        (self.root / "深度讨论" / "soak讨论深度讨论.md").unlink(missing_ok=True)
        self.load.open_items.clear()
        self.handles = list(HANDLES)  # the sections search named may be gone


async def soak(minutes: float, rate: float, warmup: float, seed: int, keep: bool) -> int:
    folder = Path(tempfile.mkdtemp(prefix="project-memory-soak-"))
    root = folder / "memory"
    cache = folder / "cache"
    shutil.copytree(EXAMPLE, root)
    originals = {name: (root / name).read_bytes() for name in DOCUMENTS}
    env = {**os.environ, "PYTHONPATH": str(REPO), "PROJECT_MEMORY_CACHE_DIR": str(cache)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "server", "--root", str(root)], cwd=str(REPO),
                                   env=env)
    samples: list[Sample] = []
    try:
        async with Client(params) as client:
            pid = server_pid()
            workload = Workload(client, root, originals, seed)
            started = time.monotonic()
            deadline = started + minutes * 60
            next_sample = started
            interval = 1.0 / rate
            tick = started
            while time.monotonic() < deadline:
                now = time.monotonic()
                if now >= next_sample:
                    samples.append(sample(pid, started, workload.load, cache, root))
                    next_sample += SAMPLE_SECONDS
                await workload.step()
                tick += interval
                await anyio.sleep(max(0.0, tick - time.monotonic()))  # bounded rate, no catching up in bursts
                tick = max(tick, time.monotonic() - interval)
            samples.append(sample(pid, started, workload.load, cache, root))
        load = workload.load
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return report(samples, load, warmup, minutes)


def report(samples: list[Sample], load: Load, warmup: float, minutes: float) -> int:
    print(f"{'t (s)':>7} {'RSS (MiB)':>10} {'fds':>5} {'requests':>9} {'errors':>7} {'index (KiB)':>12}"
          f" {'notes (KiB)':>12}")
    for s in samples:
        print(f"{s.seconds:7.0f} {s.rss_kib / 1024:10.1f} {s.fds:5d} {s.requests:9d} {s.errors:7d}"
              f" {s.index_bytes / 1024:12.0f} {s.notes_bytes / 1024:12.0f}")
    print()
    print(f"{'operation':<11} {'count':>6} {'p50 (ms)':>9} {'p95 (ms)':>9} {'max (ms)':>9} {'errors':>7}")
    for op, times in sorted(load.latencies.items()):
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(
            f"{op:<11} {len(times):6d} {statistics.median(times) * 1000:9.1f} {p95 * 1000:9.1f}"
            f" {ordered[-1] * 1000:9.1f} {load.errors[op]:7d}"
        )
    for line in load.error_samples:
        print(f"  error: {line}")
    first = next((i for i, s in enumerate(samples) if s.seconds >= warmup), 0)
    early, late = samples[first : first + WINDOW], samples[-WINDOW:]
    early_rss, late_rss = (statistics.median(s.rss_kib for s in window) for window in (early, late))
    early_fds, late_fds = (min(s.fds for s in window) for window in (early, late))
    rss_growth = (late_rss - early_rss) / early_rss
    fd_growth = late_fds - early_fds
    print()
    print(
        f"{minutes:g} min, {load.requests} requests ({load.requests / (minutes * 60):.1f}/s), {load.writes} writes,"
        f" {sum(load.errors.values())} errors"
    )
    print(
        f"after warm-up (t={early[0].seconds:.0f}-{early[-1].seconds:.0f} s): RSS {early_rss / 1024:.1f} MiB,"
        f" {early_fds} fds; last {WINDOW} samples: RSS {late_rss / 1024:.1f} MiB ({rss_growth:+.1%}),"
        f" {late_fds} fds ({fd_growth:+d})"
    )
    settled = samples[first:]  # the index is built during the warm-up
    index = [s.index_bytes for s in settled if s.index_bytes]
    notes = [s.notes_bytes for s in settled]
    if index:
        print(
            f"search index {min(index) / 1024:.0f}-{max(index) / 1024:.0f} KiB over the run (notes "
            f"{min(notes) / 1024:.0f}-{max(notes) / 1024:.0f} KiB): at most {max(index) / min(notes):.1f}x the notes"
        )
    flat = rss_growth <= RSS_TOLERANCE and fd_growth <= FD_TOLERANCE
    print("FLAT" if flat else f"NOT FLAT (limits: RSS +{RSS_TOLERANCE:.0%}, fds +{FD_TOLERANCE})")
    return 0 if flat else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    parser.add_argument("--quick", action="store_true", help="one minute (checks the script, not the figures)")
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second at most (default 4)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before the baseline sample (default: a fifth of the run, at most 60)",
    )
    parser.add_argument("--seed", type=int, default=336)
    parser.add_argument("--keep", action="store_true", help="keep the temporary memory folder")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        parser.error("the soak test reads /proc: run it on Linux")
    if args.quick:
        args.minutes = 1.0
    warmup = args.warmup if args.warmup is not None else min(60.0, args.minutes * 60 / 5)
    return anyio.run(soak, args.minutes, args.rate, warmup, args.seed, args.keep)


if __name__ == "__main__":
    sys.exit(main())
