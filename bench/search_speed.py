"""Search-speed benchmark on the CS336 corpus: the issue's targets, with grep baselines measured alongside.

Measured on a temporary copy of the corpus (the corpus itself stays untouched), index in a temporary folder:
- full build: `warm_up` into a fresh index folder, median of `--builds` (dictionary loaded beforehand);
- warm queries: every judged query in `queries.toml` (Chinese, English, mixed, phrases, aliases, absent),
  each run `--rounds` times after one unmeasured pass, systems interleaved query by query so machine noise
  falls on all of them alike: the engine with snippets, the engine with snippets stubbed out, a pure-Python
  grep over preloaded texts (`grep_baselines.grep_any`) and ripgrep when installed (a process per query,
  as a person would run it);
- re-indexing one edited note: `update_paths` after appending a line to a note, median of `--edits` notes;
- the freshness backstop: `sweep()` when nothing changed;
- cold start: a new Python process (import, open the existing index, first query), wall time measured here,
  median of `--cold-starts`; the same process then runs every query and reports its peak RSS (VmHWM).

    .venv/bin/python bench/search_speed.py [--quick] [--corpus PATH]

Writes the tables to bench/results/speed.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    DEFAULT_CORPUS,
    QUERIES_FILE,
    Spread,
    code_changed_note,
    code_fingerprint,
    code_state,
    command_line,
    copy_notes,
    corpus_engine,
    corpus_missing,
    folder_mb,
    machine_facts,
    ms,
    peak_rss_mb,
    require_index,
    spread,
    use_repo,
    verdict,
    write_result,
)

# The targets.
WARM_P50_S = 0.010
WARM_P95_S = 0.040
BUILD_S = 15.0
REINDEX_S = 0.150
COLD_START_S = 1.5
SERVING_RSS_MB = 250.0

FIRST_QUERY = "KV缓存"
LIMIT = 10


@dataclass(frozen=True)
class JudgedQuery:
    kind: str
    text: str


def judged_queries() -> list[JudgedQuery]:
    with QUERIES_FILE.open("rb") as handle:
        raw = tomllib.load(handle)
    return [JudgedQuery(str(q["kind"]), str(q["text"])) for q in raw.get("query", [])]


# --- child process: cold start and serving memory ---------------------------------------------------------


def child(stack: str, root: Path, index_dir: Path) -> int:
    """Import, open the existing index, answer one query (report), then serve every query (report)."""
    started = time.perf_counter()
    use_repo()
    if stack == "server":
        import server.app  # noqa: F401  # what `project-memory serve` imports before it can answer
        from server.memory import ProjectMemory

        imported = time.perf_counter()
        memory = ProjectMemory(root, index_dir=index_dir)
        memory.warm_up()
        search: Callable[[str], Any] = lambda q: memory.search(q, limit=LIMIT)  # noqa: E731
    else:
        from server.search import SearchEngine  # noqa: F401  # the import being timed

        imported = time.perf_counter()
        engine = corpus_engine(root, index_dir)
        engine.warm_up()
        search = lambda q: engine.search(q, limit=LIMIT)  # noqa: E731
    opened = time.perf_counter()
    first = search(FIRST_QUERY)
    require_index(first.index_state)
    hits = len(first.hits)
    answered = time.perf_counter()
    print(
        json.dumps({"import": imported - started, "open": opened - imported, "first": answered - opened, "hits": hits}),
        flush=True,
    )
    for _ in range(2):
        for query in judged_queries():
            search(query.text)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
    return 0


@dataclass(frozen=True)
class ColdStart:
    wall: float
    imports: float
    open: float
    first: float
    peak_rss_mb: float | None


def cold_start(stack: str, root: Path, index_dir: Path) -> ColdStart:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", stack, str(root), str(index_dir)]
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        wall = time.perf_counter() - started
        last = proc.stdout.readline()
        proc.wait(timeout=300)
    if proc.returncode != 0 or not first or not last:
        raise RuntimeError(f"cold-start child ({stack}) failed with exit code {proc.returncode}")
    timings, memory = json.loads(first), json.loads(last)
    return ColdStart(wall, timings["import"], timings["open"], timings["first"], memory["peak_rss_mb"])


# --- warm queries -----------------------------------------------------------------------------------------


def _no_snippet(text: str, terms: Iterable[str], width: int = 0) -> str:
    return ""


@contextlib.contextmanager
def snippets_stubbed() -> Iterator[None]:
    """The engine's search path with the snippet builder replaced by a no-op (module global, restored)."""
    import server.search as search_module

    real = search_module.__dict__["make_snippet"]
    setattr(search_module, "make_snippet", _no_snippet)  # noqa: B010  # the name `search` looks up per hit
    try:
        yield
    finally:
        setattr(search_module, "make_snippet", real)  # noqa: B010


def ripgrep(root: Path) -> Callable[[str], object] | None:
    """A ripgrep run per query: files containing any query word, case-insensitive, literal."""
    rg = shutil.which("rg")
    if rg is None:
        return None
    from grep_baselines import split_terms

    def search(query: str) -> object:
        patterns = [arg for term in split_terms(query) for arg in ("-e", term)]
        found = subprocess.run(
            [rg, "-i", "-F", "-l", "--glob", "*.md", *patterns, str(root)], capture_output=True, check=False
        )
        return found.stdout

    return search


@dataclass
class Timings:
    """Per query text, the wall and the CPU seconds (this thread's) of each measured round."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]


def time_queries(
    systems: dict[str, Callable[[str], object]], queries: Sequence[JudgedQuery], rounds: int
) -> dict[str, Timings]:
    """Each system on each query, `rounds` times after one unmeasured pass, systems interleaved."""
    names = list(systems)
    for name in names:
        for query in queries:
            systems[name](query.text)
    times = {name: Timings({q.text: [] for q in queries}, {q.text: [] for q in queries}) for name in names}
    for round_number in range(rounds):
        order = names[round_number % len(names) :] + names[: round_number % len(names)]
        for query in queries:
            for name in order:
                cpu = time.thread_time()
                started = time.perf_counter()
                systems[name](query.text)
                times[name].wall[query.text].append(time.perf_counter() - started)
                times[name].cpu[query.text].append(time.thread_time() - cpu)
    return times


def flat(per_query: dict[str, list[float]]) -> list[float]:
    return [t for values in per_query.values() for t in values]


# --- the run ----------------------------------------------------------------------------------------------


@dataclass
class Measured:
    notes: int
    corpus_mb: float
    files: int
    sections: int
    index_mb: float
    builds: list[float]
    build_cpu: list[float]
    build_rss_mb: float | None
    queries: list[JudgedQuery]
    systems: dict[str, Timings]
    sweeps: list[float]
    cold: dict[str, list[ColdStart]]
    edits: list[float]
    unchanged: list[float]
    edited_sizes: list[int]
    segments: list[int]  # after each edit's commit
    before_edits: Timings
    after_edits: Timings


def measure(args: argparse.Namespace, corpus: Path) -> Measured:
    use_repo()
    from grep_baselines import grep_any, load_texts

    from server.analyzer import load_segmenter

    queries = judged_queries()
    with tempfile.TemporaryDirectory(prefix="project-memory-speed-") as tmp:
        root = Path(tmp) / "corpus"
        notes = copy_notes(corpus, root)  # edits below go to the copy
        load_segmenter()  # every build then starts equal; the dictionary load belongs to the cold start

        builds: list[float] = []
        build_cpu: list[float] = []
        engine = None
        index_dir = Path(tmp)
        for number in range(args.builds):
            if engine is not None:
                engine.close()
            index_dir = Path(tmp) / f"index-{number}"
            engine = corpus_engine(root, index_dir)
            cpu, started = time.process_time(), time.perf_counter()
            engine.warm_up()
            builds.append(time.perf_counter() - started)
            build_cpu.append(time.process_time() - cpu)
            print(f"build {number + 1}/{args.builds}: {builds[-1]:.1f} s", flush=True)
        assert engine is not None
        build_rss = peak_rss_mb()
        status = engine.status()
        require_index(status.state, status.files, len(notes))
        index_mb = folder_mb(index_dir)

        def with_snippets(query: str) -> object:
            return engine.search(query, limit=LIMIT)

        def without_snippets(query: str) -> object:
            with snippets_stubbed():
                return engine.search(query, limit=LIMIT)

        systems: dict[str, Callable[[str], object]] = {
            WITH_SNIPPETS: with_snippets,
            STUBBED: without_snippets,
            GREP: grep_any(load_texts(root)),
        }
        rg = ripgrep(root)
        if rg is not None:
            systems[RIPGREP] = rg
        timings = time_queries(systems, queries, args.rounds)
        print("warm queries measured", flush=True)

        sweeps: list[float] = []
        for _ in range(args.sweeps):
            started = time.perf_counter()
            swept = engine.sweep()
            sweeps.append(time.perf_counter() - started)
            assert not swept.indexed and not swept.removed, "a sweep found changes in an untouched copy"

        cold: dict[str, list[ColdStart]] = {"engine": [], "server": []}
        for _ in range(args.cold_starts):
            for stack in cold:
                cold[stack].append(cold_start(stack, root, index_dir))
        print("cold starts measured", flush=True)

        later_rounds = max(1, args.rounds // 2)
        before = time_queries({"before": with_snippets}, queries, later_rounds)["before"]
        edits: list[float] = []
        unchanged: list[float] = []
        sizes: list[int] = []
        segments: list[int] = []
        for number, path in enumerate(random.Random(336).sample(notes, args.edits)):
            marker = f"benchedit{number:03d}marker"
            with (root / path).open("a", encoding="utf-8") as handle:
                handle.write(f"\n\n{marker} 编辑 edit\n")
            sizes.append((root / path).stat().st_size)
            started = time.perf_counter()
            engine.update_paths([path])
            edits.append(time.perf_counter() - started)
            segments.append(len(list(index_dir.glob("*.trm"))))  # one terms file per Whoosh segment
            started = time.perf_counter()
            engine.update_paths([path])  # as when the watcher reports our own write: content unchanged
            unchanged.append(time.perf_counter() - started)
            found = [hit.path for hit in engine.search(marker).hits]
            assert found == [path], f"{marker} not found after update_paths: {found}"
        after = time_queries({"after": with_snippets}, queries, later_rounds)["after"]
        engine.close()
        return Measured(
            notes=len(notes),
            corpus_mb=sum((root / n).stat().st_size for n in notes) / 2**20,
            files=status.files,
            sections=status.sections,
            index_mb=index_mb,
            builds=builds,
            build_cpu=build_cpu,
            build_rss_mb=build_rss,
            queries=queries,
            systems=timings,
            sweeps=sweeps,
            cold=cold,
            edits=edits,
            unchanged=unchanged,
            edited_sizes=sizes,
            segments=segments,
            before_edits=before,
            after_edits=after,
        )


WITH_SNIPPETS = "project-memory, with snippets"
STUBBED = "project-memory, snippets stubbed out"
GREP = "grep-any (pure Python, texts preloaded)"
RIPGREP = "ripgrep, a process per query (`rg -i -F -l`)"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def render(m: Measured, args: argparse.Namespace, facts: str, code: str) -> str:
    warm = {name: spread(flat(t.wall)) for name, t in m.systems.items()}
    cpu = {name: spread(flat(t.cpu)) for name, t in m.systems.items()}
    main, stub = warm[WITH_SNIPPETS], warm[STUBBED]
    build, edit, sweep = spread(m.builds), spread(m.edits), spread(m.sweeps)
    cold_wall = {stack: statistics.median(c.wall for c in runs) for stack, runs in m.cold.items()}
    cold_rss = {stack: statistics.median(c.peak_rss_mb or math.nan for c in runs) for stack, runs in m.cold.items()}
    kinds = _kinds(m.queries)
    samples = len(flat(m.systems[WITH_SNIPPETS].wall))

    def target(label: str, limit: str, shown: str, value: float, bound: float) -> list[str]:
        return [label, limit, shown, verdict(value, bound)]

    out = [
        "## Search speed (real corpus)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {facts}; load average at the end " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + "  ",
        f"Code: {code}",
        "",
        f"Corpus: {m.notes} notes, {m.corpus_mb:.1f} MB; index: {m.files} files, {m.sections} sections, "
        f"{m.index_mb:.1f} MB. Queries: the {len(m.queries)} judged queries of `bench/queries.toml` "
        f"({', '.join(f'{k} {n}' for k, n in kinds.items())}), each measured {args.rounds} times after one "
        f"unmeasured pass ({samples} samples per system), limit {LIMIT}. Wall-clock times; on a shared machine "
        "the CPU time of the searching thread is given too, as the figure least disturbed by other load.",
        "",
        "### Targets",
        "",
        *table(
            ["measure", "target", "measured", "result"],
            [
                target("warm query p50, with snippets", "≤ 10 ms", f"{ms(main.p50)} ms", main.p50, WARM_P50_S),
                target("warm query p95, with snippets", "≤ 40 ms", f"{ms(main.p95)} ms", main.p95, WARM_P95_S),
                target("warm query p50, snippets stubbed out", "≤ 10 ms", f"{ms(stub.p50)} ms", stub.p50, WARM_P50_S),
                target("warm query p95, snippets stubbed out", "≤ 40 ms", f"{ms(stub.p95)} ms", stub.p95, WARM_P95_S),
                target(f"full index build, median of {build.n}", "≤ 15 s", f"{build.p50:.1f} s", build.p50, BUILD_S),
                target(
                    f"re-index one edited note (`update_paths`), median of {edit.n}",
                    "≤ 150 ms",
                    f"{ms(edit.p50)} ms",
                    edit.p50,
                    REINDEX_S,
                ),
                *(
                    target(
                        f"first search after a cold start ({stack}), median of {len(m.cold[stack])}",
                        "≤ 1.5 s",
                        f"{cold_wall[stack]:.2f} s",
                        cold_wall[stack],
                        COLD_START_S,
                    )
                    for stack in m.cold
                ),
                *(
                    target(
                        f"peak RSS while serving ({stack} process, VmHWM)",
                        "≤ 250 MB",
                        f"{cold_rss[stack]:.0f} MB",
                        cold_rss[stack],
                        SERVING_RSS_MB,
                    )
                    for stack in m.cold
                ),
            ],
        ),
        "### Warm queries, side by side (same run, interleaved query by query)",
        "",
        *table(
            ["system", "p50 ms", "p95 ms", "max ms", "CPU p50 ms", "CPU p95 ms", "p50 / project-memory p50"],
            [
                [
                    name,
                    ms(warm[name].p50),
                    ms(warm[name].p95),
                    ms(warm[name].max),
                    "–" if name == RIPGREP else ms(cpu[name].p50),
                    "–" if name == RIPGREP else ms(cpu[name].p95),
                    f"{warm[name].p50 / main.p50:.2f}",
                ]
                for name in m.systems
            ],
        ),
        "By query kind (project-memory; wall):",
        "",
        *table(
            ["kind", "queries", "p50 ms", "p95 ms", "stubbed p50 ms", "stubbed p95 ms", "grep-any p50 ms"],
            [_kind_row(m, kind, count) for kind, count in kinds.items()],
        ),
        "Slowest queries (median of the rounds, wall):",
        "",
        *table(
            ["query", "kind", "with snippets ms", "stubbed ms", "CPU ms", "grep-any ms"],
            [
                [
                    q.text,
                    q.kind,
                    *(
                        ms(statistics.median(series[q.text]))
                        for series in (
                            m.systems[WITH_SNIPPETS].wall,
                            m.systems[STUBBED].wall,
                            m.systems[WITH_SNIPPETS].cpu,
                            m.systems[GREP].wall,
                        )
                    ),
                ]
                for q in sorted(m.queries, key=lambda q: -statistics.median(m.systems[WITH_SNIPPETS].wall[q.text]))[:8]
            ],
        ),
    ]
    before, after = spread(flat(m.before_edits.wall)), spread(flat(m.after_edits.wall))
    unchanged = spread(m.unchanged)
    build_cpu = spread(m.build_cpu)
    out += [
        "### Index build, re-index, freshness sweep",
        "",
        *table(
            ["measure", "p50", "p95", "max", "runs"],
            [
                _spread_row("full build, wall (s)", build, seconds=True),
                _spread_row("full build, CPU of the process (s)", build_cpu, seconds=True),
                _spread_row("`update_paths`, one edited note (ms)", edit),
                _spread_row("`update_paths`, same note again, content unchanged (ms)", unchanged),
                _spread_row("`sweep()`, nothing changed (ms)", sweep),
                _spread_row("warm query with snippets, just before the edits (ms)", before),
                _spread_row(f"... after the {edit.n} one-note commits (ms)", after),
            ],
        ),
        f"Sweep per note: {1e6 * sweep.p50 / m.notes:.0f} µs. Edited notes: median size "
        f"{statistics.median(m.edited_sizes) / 1024:.1f} KB. Query p50 after the one-note commits / before: "
        f"{after.p50 / before.p50:.2f}. Peak RSS of this benchmark process after the in-process builds (harness "
        f"included): {m.build_rss_mb or math.nan:.0f} MB.",
        "",
        "Each edit in order, `update_paths` ms / Whoosh segments after its commit (a drop is a merge): "
        + ", ".join(f"{1000 * t:.0f}/{n}" for t, n in zip(m.edits, m.segments, strict=True))
        + ".",
        "",
        "### Cold start (a new process, wall time from spawn to the first answer)",
        "",
        "`engine`: import `server.search`, open the index (`warm_up`: dictionary, open, reconcile), one query. "
        "`server`: import `server.app` (MCP included) and `ProjectMemory`, `warm_up`, one query through "
        f"`ProjectMemory.search`. First query `{FIRST_QUERY}`; the OS file cache is warm. Peak RSS: VmHWM of "
        "the same process after it also ran every judged query twice.",
        "",
        *table(
            ["stack", "wall p50 s", "wall max s", "import s", "open + reconcile s", "first query ms", "peak RSS MB"],
            [
                [
                    stack,
                    f"{cold_wall[stack]:.2f}",
                    f"{max(c.wall for c in runs):.2f}",
                    f"{statistics.median(c.imports for c in runs):.2f}",
                    f"{statistics.median(c.open for c in runs):.2f}",
                    ms(statistics.median(c.first for c in runs)),
                    f"{cold_rss[stack]:.0f}",
                ]
                for stack, runs in m.cold.items()
            ],
        ),
    ]
    return "\n".join(out)


def _spread_row(label: str, values: Spread, *, seconds: bool = False) -> list[str]:
    cells = [values.p50, values.p95, values.max]
    return [label, *(f"{v:.1f}" if seconds else ms(v) for v in cells), str(values.n)]


def _kind_row(m: Measured, kind: str, count: int) -> list[str]:
    def of(name: str) -> Spread:
        return spread([t for q in m.queries if q.kind == kind for t in m.systems[name].wall[q.text]])

    main, stub, grep = of(WITH_SNIPPETS), of(STUBBED), of(GREP)
    return [kind, str(count), ms(main.p50), ms(main.p95), ms(stub.p50), ms(stub.p95), ms(grep.p50)]


def run(args: argparse.Namespace) -> int:
    corpus: Path = args.corpus.resolve()
    if corpus_missing(corpus):
        return 0
    facts, code, fingerprint = machine_facts(), code_state(), code_fingerprint()
    text = render(measure(args, corpus), args, facts, code)
    text = "\n".join([text, *code_changed_note(fingerprint)])
    print(text)
    print(f"written to {write_result(args.name, text)}")
    return 0


def _kinds(queries: Sequence[JudgedQuery]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for query in queries:
        counts[query.kind] = counts.get(query.kind, 0) + 1
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Search speed on the CS336 corpus against the issue's targets.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus root (default: ../shared/corpus)")
    parser.add_argument("--quick", action="store_true", help="one build, fewer rounds (about a minute or two)")
    parser.add_argument("--rounds", type=int, help="measured rounds per query (default 5; quick 2)")
    parser.add_argument("--builds", type=int, help="full builds (default 3; quick 1)")
    parser.add_argument("--edits", type=int, help="edited notes re-indexed one by one (default 20; quick 5)")
    parser.add_argument("--cold-starts", type=int, help="new processes timed (default 5; quick 2)")
    parser.add_argument("--sweeps", type=int, help="sweeps timed (default 30; quick 5)")
    parser.add_argument("--name", default="speed", help="result file name under bench/results (default: speed)")
    parser.add_argument("--child", nargs=3, metavar=("STACK", "ROOT", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        stack, root, index_dir = args.child
        return child(stack, Path(root), Path(index_dir))
    defaults = {"rounds": (5, 2), "builds": (3, 1), "edits": (20, 5), "cold_starts": (5, 2), "sweeps": (30, 5)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
