"""What the speed benchmarks share: paths, percentiles, machine facts, result files, the engine seen through one
small interface (this code or the old checkout), child processes, and a driver for the real server over stdio.

Importing this module must stay cheap and must not import the project (`server`) or the MCP SDK: the cold-start
measurements time those imports in child processes started from the same scripts, and a child that measures
the old engine (`--old`, a checkout of the code before the search rewrite) must import *its* `server` package.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
DEFAULT_OLD = Path("/tmp/oldmain")  # the code before the search rewrite, read-only: the "before" baseline
RESULTS_DIR = BENCH_DIR / "results"
QUERIES_FILE = BENCH_DIR / "queries.toml"
CACHE_ENV = "PROJECT_MEMORY_CACHE_DIR"
CONFIG_FILE = "project-memory.toml"
PLAIN_NOTES_CONFIG = 'preset = "default-en"\nnotes_dir = "."\n'  # every file a plain note
PROBE_QUERY = "zzqbenchprobe"  # a word in no note: waits for the index, shares no term with any query set


def use_repo() -> None:
    """Make the project importable however the script was started."""
    use_code(REPO_ROOT)


def use_code(code: Path) -> None:
    """Import `server` from `code` (this repository or the old checkout); call before anything imports it."""
    if str(code) not in sys.path[:1]:
        sys.path.insert(0, str(code))


def corpus_missing(corpus: Path) -> bool:
    """True, after saying so, when there is no corpus to measure (a clone without ../shared)."""
    if corpus.is_dir():
        return False
    print(f"corpus not found at {corpus}; nothing to measure (pass --corpus).")
    return True


def copy_notes(source: Path, target: Path, paths: Sequence[str] | None = None) -> list[str]:
    """Copy `paths` (default: every `*.md`) from `source` into `target`, which becomes writable whatever
    the source's permissions (the shared corpus is read-only, and copytree would keep that)."""
    chosen = (
        sorted(paths)
        if paths is not None
        else sorted(p.relative_to(source).as_posix() for p in source.rglob("*.md") if p.is_file())
    )
    for rel in chosen:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target / rel)
    return chosen


def make_memory(root: Path) -> None:
    """Make a folder of notes a memory the server accepts, every file a plain note."""
    root.mkdir(parents=True, exist_ok=True)
    (root / CONFIG_FILE).write_text(PLAIN_NOTES_CONFIG, encoding="utf-8")


def notes_bytes(root: Path) -> int:
    """The bytes of the Markdown notes under `root`, dot folders (an index kept beside them) left out."""
    total = 0
    for path in root.rglob("*.md"):
        if not any(part.startswith(".") for part in path.relative_to(root).parts) and path.is_file():
            total += path.stat().st_size
    return total


def query_texts(path: Path = QUERIES_FILE) -> list[str]:
    """The judged queries' texts: Chinese, English, mixed, phrases, aliases, questions and absent topics."""
    with path.open("rb") as handle:
        return [str(entry["text"]) for entry in tomllib.load(handle).get("query", [])]


# --- the engine, new API or old ---------------------------------------------------------------------------


class NotMeasurable(RuntimeError):
    """The engine is not answering from its index, so timing it would measure something else."""


def require_index(state: str, files: int | None = None, expected: int | None = None, scanned: bool = False) -> None:
    """Stop unless the engine reports a usable index (holding `expected` files, when given): a search
    without one scans the notes, and its timings would be of the fallback."""
    if scanned or not (state == "fresh" or state.startswith("pending")):
        raise NotMeasurable(f"the search index is {state!r}; searches would scan the notes instead")
    if expected is not None and files != expected:
        raise NotMeasurable(f"the search index holds {files} files, not the {expected} notes")


class CorpusSearch:
    """Search over a folder where every Markdown file is a plain note, through whichever `server` package is
    on sys.path: this code (`IndexService` + `SearchEngine`, the index in $PROJECT_MEMORY_CACHE_DIR) or the old
    checkout (one `SearchEngine`, the index in the notes folder's `.project-memory/index`, where its server
    keeps it too). Not opened: call `open()`."""

    def __init__(self, root: Path) -> None:
        import server.search as search
        from memory_schema.layout import PRESETS
        from server.store import NoteStore

        nowhere = "\0"  # no file is named so: no file plays a memory role
        roles = ("working_memory", "progress", "plan", "research_todo", "discussions_dir")
        layout = PRESETS["default-en"].model_copy(update={**{role: nowhere for role in roles}, "notes_dir": "."})
        self.root = root
        self.store = NoteStore(root)
        self.old = not hasattr(search, "IndexService")
        self.index: Any = None
        if self.old:
            self._index_dir = search.default_index_dir(root)
            self.engine: Any = search.SearchEngine(self.store, layout, index_dir=self._index_dir)
        else:
            from server.search.request import search_request

            self._request = search_request
            self.index = search.IndexService(self.store, layout)
            self.engine = search.SearchEngine(self.store, layout, self.index)

    def open(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Load the dictionary and glossary, open the index, build it if there is none."""
        if self.old:
            self.engine.warm_up(progress)
        else:
            self.engine.prepare()
            self.index.ensure_ready(progress)

    def search(self, query: str, limit: int = 10) -> Any:
        if self.old:
            return self.engine.search(query, limit=limit)
        return self.engine.search(self._request(query, limit=limit))

    def update(self, changed: Sequence[str]) -> None:
        if self.old:
            self.engine.update_paths(changed)
        else:
            self.index.update(changed)

    def sweep(self) -> Any:
        return (self.engine if self.old else self.index).sweep()

    def status(self) -> Any:
        return (self.engine if self.old else self.index).status()

    def require_fresh(self, expected: int | None = None) -> Any:
        status = self.status()
        require_index(status.state, status.files, expected)
        return status

    @property
    def index_dir(self) -> Path:
        if self.old:
            return Path(self._index_dir)
        return Path(self.status().location)

    def index_bytes(self) -> int:
        return folder_bytes(self.index_dir)

    def segments(self) -> int:
        return len(list(self.index_dir.glob("*.trm")))  # one terms file per Whoosh segment (compound=False)

    def close(self) -> None:
        (self.engine if self.old else self.index).close()
        if hasattr(self.store, "close"):  # the old store holds nothing open
            self.store.close()


def open_cold(root: Path) -> tuple[CorpusSearch, float, float]:
    """In a fresh child: import the search package and open the index at `root`; the open corpus and the
    seconds the import and the open took (what a restart costs before its first query)."""
    started = time.perf_counter()
    import server.search  # noqa: F401  # the import being timed

    imported = time.perf_counter()
    corpus = CorpusSearch(root)
    corpus.open()
    return corpus, imported - started, time.perf_counter() - imported

def load_dictionary() -> None:
    """Load the segmenter's dictionary now (this code: `server.search.analyzer`; the old: `server.analyzer`)."""
    import importlib

    try:
        analyzer = importlib.import_module("server.search.analyzer")
    except ImportError:
        analyzer = importlib.import_module("server.analyzer")
    analyzer.load_segmenter()


def plain_note_paths(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.md")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


# --- stacks and child processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """Which code a child process runs: `server` from `code`, with its caches in `cache`."""

    name: str  # "after" (this code) or "before" (the old checkout)
    code: Path
    cache: Path
    pycache: Path | None = None  # bytecode cache for a checkout we must not write to

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(self.code), CACHE_ENV: str(self.cache)}
        if self.pycache is not None:
            env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        return env


def stacks(work: Path, old: Path | None) -> list[Stack]:
    """This code, and the old checkout when there is one; each with its own cache folder under `work`."""
    found = [Stack("after", REPO_ROOT, work / "cache-after")]
    if old is not None and (old / "server" / "search.py").is_file():
        found.append(Stack("before", old, work / "cache-before", pycache=work / "pycache-before"))
    for stack in found:
        stack.cache.mkdir(parents=True, exist_ok=True)
    return found


def old_checkout(path: Path | None) -> Path | None:
    """The old checkout to measure as the baseline, or None (after saying why)."""
    if path is None:
        return None
    if not (path / "server" / "search.py").is_file():
        print(f"no old checkout at {path} (server/search.py missing): the 'before' baselines are skipped.")
        return None
    return path


def spawn_json(script: Path, stack: Stack, *args: str, timeout: float = 3600) -> tuple[list[dict[str, Any]], float]:
    """Run `script` with `args` in a child on `stack`'s code (cwd: that code); its JSON lines, and the wall
    seconds from spawn to the first line."""
    command = [sys.executable, str(script), *args, "--code", str(stack.code)]
    started = time.perf_counter()
    lines: list[dict[str, Any]] = []
    first = math.nan
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=stack.code, env=stack.env()) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            if not lines:
                first = time.perf_counter() - started
            lines.append(json.loads(line))
        proc.wait(timeout=timeout)
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {' '.join(args[:2])} on {stack.name} failed with exit code {proc.returncode}")
    return lines, first


def emit(**values: Any) -> None:
    """One JSON line for the parent."""
    print(json.dumps(values), flush=True)


# --- measuring queries ------------------------------------------------------------------------------------


@dataclass
class QueryTimes:
    """One system's timings: each query's first time (sent once, fresh), then its repeats."""

    first: dict[str, float] = field(default_factory=dict)
    repeated: dict[str, list[float]] = field(default_factory=dict)
    first_cpu: dict[str, float] = field(default_factory=dict)
    repeated_cpu: dict[str, list[float]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def first_values(self) -> list[float]:
        return list(self.first.values())

    def repeated_values(self) -> list[float]:
        return [t for values in self.repeated.values() for t in values]

    def to_json(self) -> dict[str, Any]:
        return {"first": self.first, "repeated": self.repeated, "first_cpu": self.first_cpu,
                "repeated_cpu": self.repeated_cpu, "hits": self.hits}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueryTimes:
        return cls(data["first"], data["repeated"], data.get("first_cpu", {}), data.get("repeated_cpu", {}),
                   data.get("hits", {}))


def rotated(names: Sequence[str], turn: int) -> list[str]:
    shift = turn % len(names) if names else 0
    return [*names[shift:], *names[:shift]]


def time_queries(
    systems: dict[str, Callable[[str], int]], queries: Sequence[str], rounds: int
) -> dict[str, QueryTimes]:
    """Each query sent once to every system (its first time: nothing cached for it yet), then `rounds` more
    times; systems interleaved query by query, in an order that rotates, so machine noise falls on all alike.
    A system returns its hit count. Wall and this thread's CPU time per call."""
    names = list(systems)
    times = {name: QueryTimes() for name in names}
    for turn in range(rounds + 1):
        for number, query in enumerate(queries):
            for name in rotated(names, turn + number):
                cpu, started = time.thread_time(), time.perf_counter()
                hits = systems[name](query)
                wall, spent = time.perf_counter() - started, time.thread_time() - cpu
                _record(times[name], query, turn, wall, spent, hits)
    return times


AsyncSystem = Callable[[str], Awaitable[int]]


async def time_queries_async(
    systems: dict[str, AsyncSystem], queries: Sequence[str], rounds: int
) -> dict[str, QueryTimes]:
    """`time_queries` for systems reached over a pipe (wall time only: their CPU is another process's)."""
    names = list(systems)
    times = {name: QueryTimes() for name in names}
    for turn in range(rounds + 1):
        for number, query in enumerate(queries):
            for name in rotated(names, turn + number):
                started = time.perf_counter()
                hits = await systems[name](query)
                _record(times[name], query, turn, time.perf_counter() - started, None, hits)
    return times


def _record(times: QueryTimes, query: str, turn: int, wall: float, cpu: float | None, hits: int) -> None:
    if turn == 0:
        if query in times.first:
            raise ValueError(f"query {query!r} is in the set twice: its second run would not be a first time")
        times.first[query] = wall
        times.hits[query] = hits
        if cpu is not None:
            times.first_cpu[query] = cpu
    else:
        times.repeated.setdefault(query, []).append(wall)
        if cpu is not None:
            times.repeated_cpu.setdefault(query, []).append(cpu)


# --- the real server over stdio ---------------------------------------------------------------------------


class StdioSearch:
    """A `python -m server --root ROOT` process on `stack`'s code, driven with the MCP SDK's client: the way
    Claude Code reaches the search. Use as an async context manager.

    The SDK client checks each structured result against the tool's output schema (`jsonschema`, in this
    process) before returning it; `checks` keeps how long that took per answer, since another client (Claude
    Code's) does that check its own way, or not at all."""

    def __init__(self, stack: Stack, root: Path, limit: int = 10) -> None:
        self.stack = stack
        self.root = root
        self.limit = limit
        self.pid: int | None = None
        self.checks: dict[str, list[float]] = {}  # per query, the client's output-schema check of each answer
        self._client: Any = None
        self._context: Any = None
        self._checked = 0.0

    def params(self) -> Any:
        from mcp import StdioServerParameters

        return StdioServerParameters(command=sys.executable, args=["-m", "server", "--root", str(self.root)],
                                     cwd=str(self.stack.code), env=self.stack.env())

    async def __aenter__(self) -> StdioSearch:
        from mcp import Client

        self._context = Client(self.params())
        self._client = await self._context.__aenter__()
        self.pid = server_pid(str(self.root))
        session = self._client.session
        check = session.validate_tool_result

        async def timed_check(name: str, result: Any) -> None:
            started = time.perf_counter()
            await check(name, result)
            self._checked = time.perf_counter() - started

        session.validate_tool_result = timed_check  # the SDK client's own step, timed so it can be told apart
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(*exc)

    async def call(self, query: str, limit: int | None = None) -> dict[str, Any]:
        """One search; its structured result. Raises on a tool error."""
        self._checked = 0.0
        result = await self._client.call_tool("search_discussions", {"query": query, "limit": limit or self.limit})
        self.checks.setdefault(query, []).append(self._checked)
        if result.is_error:
            text = " ".join(getattr(part, "text", "") for part in result.content)
            raise RuntimeError(f"search_discussions({query!r}) failed on {self.stack.name}: {text[:300]}")
        return dict(result.structured_content or {})

    async def round_trip(self) -> float:
        """The floor of a call: seconds for a search of a word in no note (the tool's whole path, next to
        nothing to rank). The SDK's MCPServer does not answer `ping`, so there is no emptier request."""
        started = time.perf_counter()
        await self.call(PROBE_QUERY)
        return time.perf_counter() - started

    async def search(self, query: str) -> int:
        """One search answered from the index (else NotMeasurable); its hit count."""
        found = await self.call(query)
        require_index(str(found.get("index_state", "")), scanned=bool(found.get("scanned")))
        return len(found.get("hits", []))

    async def wait_ready(self, timeout: float = 900.0) -> float:
        """Ask for a word no note holds until the answer comes from the index; the seconds that took."""
        import anyio

        started = time.perf_counter()
        while True:
            found = await self.call(PROBE_QUERY)
            state = str(found.get("index_state", ""))
            if not found.get("scanned") and (state == "fresh" or state.startswith("pending")):
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise NotMeasurable(f"the server's index is still {state!r} after {timeout:.0f} s")
            await anyio.sleep(0.25)

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb(self.pid) if self.pid is not None else None


def server_pid(root_arg: str) -> int | None:
    """The child of this process serving `root_arg` (its command line names it), or None."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = stat.read_text().rsplit(")", 1)[1].split()[1]
            if parent != me:
                continue
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if os.fsencode(root_arg) in command:
            return int(stat.parent.name)
    return None


async def stdio_cold_start(stack: Stack, root: Path, query: str) -> tuple[float, float]:
    """Spawn the server, ask one query as soon as it has shaken hands (the tool waits for the index to open);
    (seconds from spawn to the handshake, seconds from spawn to the answer)."""
    started = time.perf_counter()
    async with StdioSearch(stack, root) as server:
        shaken = time.perf_counter() - started
        await server.search(query)
        answered = time.perf_counter() - started
    return shaken, answered


# --- order statistics and reporting -----------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Order statistics of repeated measurements (seconds, bytes, ...)."""

    n: int
    p50: float
    p95: float
    max: float
    min: float


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks, q in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float]) -> Spread:
    if not values:
        return Spread(0, math.nan, math.nan, math.nan, math.nan)
    return Spread(len(values), percentile(values, 50), percentile(values, 95), max(values), min(values))


def ratio(after: float, before: float | None) -> str:
    """after / before, as the tables show it ('–' without a baseline)."""
    if before is None or not before or math.isnan(before) or math.isnan(after):
        return "–"
    value = after / before
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """A process's peak resident memory so far (VmHWM), in MiB; None where /proc is absent."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def folder_bytes(folder: Path) -> int:
    try:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    except OSError:  # a merge deleted a file between the listing and its stat: count again
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def folder_mb(folder: Path) -> float:
    return folder_bytes(folder) / 2**20


def ms(seconds: float) -> str:
    """Milliseconds with the precision the number deserves."""
    value = seconds * 1000
    if math.isnan(value):
        return "–"
    if value < 1:
        return f"{value:.3f}"
    if value < 10:
        return f"{value:.2f}"
    return f"{value:.1f}"


def verdict(value: float, limit: float) -> str:
    if math.isnan(value):
        return "not measured"
    return "pass" if value <= limit else "**FAIL**"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table, first column left-aligned, the rest right-aligned; a blank line after it."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def load_now() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine_facts() -> str:
    """Date, cores, Python and load: what a reader needs to weigh the numbers."""
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"{now}; nproc {os.cpu_count()}; Python {platform.python_version()} ({platform.machine()}, "
        f"{platform.system()} {platform.release()}); load average at start {load_now()}"
    )


def load_note(started_load: float, limit: float = 1.5) -> list[str]:
    """A warning for the report when the machine was busy (1-minute load above `limit` at either end)."""
    ended = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if max(started_load, ended) <= limit:
        return []
    return [
        f"**Note: the machine was loaded (1-minute load average {started_load:.2f} at the start, {ended:.2f} at "
        f"the end, on {os.cpu_count()} cores): wall-clock figures include waiting for the CPU; the CPU-time "
        "columns are the steadier ones.**",
        "",
    ]


CODE_FOLDERS = ("server", "memory_schema")


def code_fingerprint(root: Path = REPO_ROOT) -> str:
    """A hash of the measured code (every .py under server/ and memory_schema/), to tell runs apart."""
    digest = hashlib.sha256()
    for folder in CODE_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout if done.returncode == 0 else ""


def code_state(root: Path = REPO_ROOT) -> str:
    """Which code was measured: the commit, the files changed since, and the fingerprint."""
    head = _git(root, "rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = [line[3:] for line in _git(root, "status", "--porcelain", "--", *CODE_FOLDERS).splitlines()]
    changed = f" + uncommitted changes to {', '.join(dirty)}" if dirty else ""
    return f"commit {head}{changed} (fingerprint {code_fingerprint(root)})"


def code_changed_note(fingerprint: str) -> list[str]:
    """A warning for the report when the measured code changed while the benchmark ran."""
    if code_fingerprint() == fingerprint:
        return []
    return [
        f"**Warning: the code under {' and '.join(CODE_FOLDERS)} changed during this run (fingerprint "
        f"{fingerprint} at the start, {code_fingerprint()} at the end); child processes may have measured "
        "the newer code. Rerun for figures of one version.**",
        "",
    ]


class CodeWatch:
    """Notices the measured code changing during a run (others may be committing), and which steps then ran
    on the changed code: their figures belong to another version than the ones before."""

    def __init__(self) -> None:
        self.fingerprint = code_fingerprint()
        self.changed_at: str | None = None

    def step(self, name: str) -> None:
        """Call before each step that starts a process or opens the index."""
        if self.changed_at is None and code_fingerprint() != self.fingerprint:
            self.changed_at = name

    def note(self) -> list[str]:
        self.step("")
        if self.changed_at is None:
            return []
        where = (f"from {self.changed_at} on, the figures are of the newer code (an index format change also makes "
                 "the next open rebuild)" if self.changed_at else "after the last step started: code imported "
                 "late may be of the newer version")
        return [
            f"**Warning: the code under {' and '.join(CODE_FOLDERS)} changed during this run (fingerprint "
            f"{self.fingerprint} at the start, {code_fingerprint()} at the end); {where}. Rerun for figures of one "
            "version.**",
            "",
        ]


def command_line() -> str:
    """How this run was started, relative to the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = script.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        shown = str(script)
    return " ".join([".venv/bin/python", shown, *sys.argv[1:]])


def write_result(name: str, text: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def profile_lines(stats_text: str, top: int = 25) -> Iterator[str]:
    """The header and the first `top` rows of a pstats listing."""
    lines = stats_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    yield from lines[max(0, start - 4) : start + 1 + top]
