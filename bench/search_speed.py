"""Search speed on the CS336 corpus: the targets, with the old engine and grep measured beside it in the same run.

Two temporary copies of the corpus, each made a memory (`project-memory.toml`: preset default-en, every file a
plain note): one for this code ("after", index in a temporary $PROJECT_MEMORY_CACHE_DIR), one for the old
checkout ("before", `--old`, default /tmp/oldmain; its index in the copy's `.project-memory/`, where it kept
it). Every engine runs in a child process on its own code. In order:

1. full build: a fresh process opens an empty index and builds it (dictionary loaded beforehand), `--builds`
   times per stack, the stacks alternating; wall and CPU time, peak RSS;
2. queries in process: a fresh process opens the index, sends one probe (a word in no note: the code paths
   warm, no query term cached), then every query of `bench/queries.toml` once — its *first time* — and then
   `--rounds` more times (*repeated*); wall and the searching thread's CPU time;
3. cold start: a new process (import, open, first query), in process and as the real server over stdio
   (spawn → MCP handshake → first answer), `--cold-starts` times per stack;
4. queries over stdio: both servers (`python -m server --root COPY`, driven by the MCP SDK's client), each
   probed until its index answers, then every query once (first time) and `--rounds` more times, interleaved
   query by query with grep-any (pure Python over preloaded texts) and ripgrep (a process per query) so
   machine noise falls on all four alike;
5. writes: `--edits` notes edited one by one, each re-indexed (`IndexService.update`; the old engine's
   `update_paths`) and timed until a search returns it, then a stat sweep with nothing changed, then
   `--saves` saves of the note nearest 76,000 bytes (a marker line moved to a random line each time), each
   timed the same way, the index's bytes recorded after every one.

    .venv/bin/python bench/search_speed.py [--quick] [--corpus PATH] [--old PATH] [--profile]

Writes the tables to bench/results/speed.md (and, with --profile, the first-time pass's profile to
bench/results/speed-profile.md).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    DEFAULT_CORPUS,
    DEFAULT_OLD,
    PROBE_QUERY,
    QUERIES_FILE,
    CodeWatch,
    CorpusSearch,
    QueryTimes,
    Spread,
    Stack,
    StdioSearch,
    code_state,
    command_line,
    copy_notes,
    corpus_missing,
    emit,
    folder_bytes,
    load_dictionary,
    load_note,
    load_now,
    machine_facts,
    make_memory,
    ms,
    notes_bytes,
    old_checkout,
    open_cold,
    peak_rss_mb,
    plain_note_paths,
    profile_lines,
    ratio,
    require_index,
    spawn_json,
    spread,
    stacks,
    stdio_cold_start,
    table,
    time_queries,
    time_queries_async,
    use_code,
    verdict,
    write_result,
)

# The targets.
BUILD_S = 8.0
FIRST_P50_S = 0.010
FIRST_P95_S = 0.040

FIRST_QUERY = "KV缓存"
LIMIT = 10
FLOOR_CALLS = 30  # searches of a word in no note per server: the floor of a call over stdio
GROWTH_NOTE_BYTES = 76_000  # the saves go to the note nearest this size
SCRIPT = Path(__file__).resolve()


@dataclass(frozen=True)
class JudgedQuery:
    kind: str
    text: str


def judged_queries() -> list[JudgedQuery]:
    with QUERIES_FILE.open("rb") as handle:
        raw = tomllib.load(handle)
    return [JudgedQuery(str(q["kind"]), str(q["text"])) for q in raw.get("query", [])]


# --- child processes --------------------------------------------------------------------------------------


def child_build(root: Path) -> None:
    load_dictionary()  # the dictionary load belongs to a cold start, not to the build
    corpus = CorpusSearch(root)
    cpu, started = time.process_time(), time.perf_counter()
    corpus.open()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    status = corpus.require_fresh(len(plain_note_paths(root)))
    emit(wall=wall, cpu=cpu, files=status.files, sections=status.sections, rss=peak_rss_mb(),
         index_bytes=corpus.index_bytes())
    corpus.close()


def engine_search(corpus: CorpusSearch) -> Callable[[str], int]:
    def search(query: str) -> int:
        found = corpus.search(query, LIMIT)
        require_index(found.index_state, scanned=bool(getattr(found, "scanned", False)))
        return len(found.hits)

    return search


def child_serve(root: Path, rounds: int) -> None:
    """Open, probe, then every query once (first time) and `rounds` more times."""
    started = time.perf_counter()
    import server.search  # noqa: F401

    imported = time.perf_counter()
    corpus = CorpusSearch(root)
    corpus.open()
    corpus.require_fresh()
    opened = time.perf_counter()
    corpus.search(PROBE_QUERY)
    emit(imports=imported - started, open=opened - imported, probe=time.perf_counter() - opened)
    queries = [q.text for q in judged_queries()]
    times = time_queries({"engine": engine_search(corpus)}, queries, rounds)["engine"]
    emit(times=times.to_json(), rss=peak_rss_mb())
    corpus.close()


def child_profile(root: Path) -> None:
    """The first-time pass under cProfile: where a fresh query's time goes."""
    corpus = CorpusSearch(root)
    corpus.open()
    corpus.search(PROBE_QUERY)
    search = engine_search(corpus)
    queries = [q.text for q in judged_queries()]
    profiler = cProfile.Profile()
    profiler.enable()
    for query in queries:
        search(query)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(30)
    by_own = out.getvalue()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    emit(tottime=by_own, cumulative=out.getvalue())
    corpus.close()


def child_cold(root: Path) -> None:
    """Import, open the existing index, answer one query."""
    corpus, imports, opening = open_cold(root)
    opened = time.perf_counter()
    found = corpus.search(FIRST_QUERY, LIMIT)
    require_index(found.index_state, scanned=bool(getattr(found, "scanned", False)))
    emit(imports=imports, open=opening, first=time.perf_counter() - opened, rss=peak_rss_mb())
    corpus.close()


def child_writes(root: Path, edits: int, sweeps: int, saves: int, growth_note: str) -> None:
    corpus = CorpusSearch(root)
    corpus.open()
    notes = plain_note_paths(root)
    corpus.require_fresh(len(notes))
    edit_calls: list[float] = []
    edit_times: list[float] = []
    unchanged: list[float] = []
    segments: list[int] = []
    sizes: list[int] = []
    for number, path in enumerate(random.Random(336).sample(notes, edits)):
        marker = f"benchedit{number:03d}marker"
        with (root / path).open("a", encoding="utf-8") as handle:
            handle.write(f"\n\n{marker} 编辑 edit\n")
        sizes.append((root / path).stat().st_size)
        call, found = update_until_found(corpus, path, marker)
        edit_calls.append(call)
        edit_times.append(found)
        segments.append(corpus.segments())
        started = time.perf_counter()
        corpus.update([path])  # as when the watcher reports our own write: content unchanged
        unchanged.append(time.perf_counter() - started)
    sweep_times: list[float] = []
    for _ in range(sweeps):
        started = time.perf_counter()
        swept = corpus.sweep()
        sweep_times.append(time.perf_counter() - started)
        if swept.indexed or swept.removed:
            raise RuntimeError("a sweep found changes in an untouched copy")

    note = root / growth_note
    lines = note.read_text(encoding="utf-8").split("\n")
    rng = random.Random(337)
    initial = corpus.index_bytes()
    series: list[tuple[int, int]] = []
    save_calls: list[float] = []
    save_times: list[float] = []
    for number in range(saves):
        marker = f"benchsave{number:04d}marker"
        at = rng.randrange(len(lines) + 1)
        note.write_text("\n".join([*lines[:at], f"{marker} 保存 save", *lines[at:]]), encoding="utf-8")
        call, found = update_until_found(corpus, growth_note, marker)
        save_calls.append(call)
        save_times.append(found)
        series.append((corpus.index_bytes(), corpus.segments()))
    index_dir = corpus.index_dir
    corpus.close()  # the new engine's maintenance thread finishes its merge first
    emit(edits=edit_times, edit_calls=edit_calls, unchanged=unchanged, segments=segments, edited_sizes=sizes,
         sweeps=sweep_times, notes=len(notes), initial_index=initial, series=series, save_times=save_times,
         save_calls=save_calls, final_index=folder_bytes(index_dir), note_bytes=note.stat().st_size,
         notes_bytes=notes_bytes(root))


def update_until_found(corpus: CorpusSearch, path: str, marker: str) -> tuple[float, float]:
    """Tell the index `path` changed, then search its new marker word until the search returns the note;
    (seconds the update call took, seconds until a search returned it). The new engine may leave the note
    pending while its maintenance thread holds the index (a merge); a search then indexes it first, or, when
    the merge outlasts its wait, answers without it and says so, and the next search is timed too. The old
    engine indexes in the call."""
    started = time.perf_counter()
    corpus.update([path])
    called = time.perf_counter() - started
    while True:
        found = [hit.path for hit in corpus.search(marker).hits]
        if path in found:
            return called, time.perf_counter() - started
        if time.perf_counter() - started > FOUND_WITHIN_SECONDS:
            raise RuntimeError(f"{marker} not found {FOUND_WITHIN_SECONDS:.0f} s after the update: {found}")
        time.sleep(0.05)


FOUND_WITHIN_SECONDS = 60.0


# --- the parent -------------------------------------------------------------------------------------------


@dataclass
class StackRun:
    stack: Stack
    root: Path
    builds: list[dict[str, Any]] = field(default_factory=list)
    in_process: QueryTimes | None = None
    serve_rss: float | None = None
    cold_engine: list[dict[str, Any]] = field(default_factory=list)
    cold_stdio: list[tuple[float, float]] = field(default_factory=list)
    stdio: QueryTimes | None = None
    stdio_ready_s: float = math.nan
    stdio_rss: float | None = None
    stdio_floor: list[float] = field(default_factory=list)  # searches of a word in no note
    stdio_checks: dict[str, list[float]] = field(default_factory=dict)  # the client's schema check, per call
    writes: dict[str, Any] = field(default_factory=dict)


GREP = "grep-any (pure Python, texts preloaded)"
RIPGREP = "ripgrep, a process per query (`rg -i -F -l`)"


def reset_index(run: StackRun) -> None:
    """No index for `run`'s stack: its cache emptied, and the old engine's folder in the notes removed."""
    shutil.rmtree(run.stack.cache, ignore_errors=True)
    run.stack.cache.mkdir(parents=True)
    shutil.rmtree(run.root / ".project-memory", ignore_errors=True)


def ripgrep(root: Path) -> Callable[[str], int] | None:
    """A ripgrep run per query: files containing any query word, case-insensitive, literal."""
    rg = shutil.which("rg")
    if rg is None:
        return None
    from grep_baselines import split_terms

    def search(query: str) -> int:
        patterns = [arg for term in split_terms(query) for arg in ("-e", term)]
        found = subprocess.run([rg, "-i", "-F", "-l", "--glob", "*.md", *patterns, str(root)], capture_output=True,
                               check=False)
        return len(found.stdout.splitlines())

    return search


def grep_any_counting(root: Path) -> Callable[[str], int]:
    from grep_baselines import grep_any, load_texts

    search = grep_any(load_texts(root))
    return lambda query: len(search(query))


async def stdio_queries(runs: list[StackRun], queries: list[str], rounds: int) -> dict[str, QueryTimes]:
    async with contextlib.AsyncExitStack() as exits:
        servers = [await exits.enter_async_context(StdioSearch(run.stack, run.root, LIMIT)) for run in runs]
        for run, server in zip(runs, servers, strict=True):
            run.stdio_ready_s = await server.wait_ready()
        for _ in range(FLOOR_CALLS):
            for run, server in zip(runs, servers, strict=True):
                run.stdio_floor.append(await server.round_trip())
        systems: dict[str, Callable[[str], Any]] = {f"{run.stack.name}, stdio": server.search
                                                     for run, server in zip(runs, servers, strict=True)}
        plain: dict[str, Callable[[str], int]] = {GREP: grep_any_counting(runs[0].root)}
        rg = ripgrep(runs[0].root)
        if rg is not None:
            plain[RIPGREP] = rg
        for name, call in plain.items():
            systems[name] = _awaitable(call)
        times = await time_queries_async(systems, queries, rounds)
        for run, server in zip(runs, servers, strict=True):
            run.stdio_rss = server.peak_rss_mb()
            run.stdio_checks = {query: server.checks[query] for query in queries}
    return times


def _awaitable(call: Callable[[str], int]) -> Callable[[str], Any]:
    async def run(query: str) -> int:
        return call(query)

    return run


def measure(
    args: argparse.Namespace, corpus: Path, work: Path, watch: CodeWatch
) -> tuple[list[StackRun], dict[str, QueryTimes], str]:
    import anyio

    runs: list[StackRun] = []
    chosen: list[str] | None = None
    if args.notes:
        every = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.md") if p.is_file())
        chosen = random.Random(336).sample(every, min(args.notes, len(every)))
    for stack in stacks(work, old_checkout(args.old)):
        root = work / f"notes-{stack.name}"
        copy_notes(corpus, root, chosen)
        make_memory(root)
        runs.append(StackRun(stack, root))
    notes = plain_note_paths(runs[0].root)

    for number in range(args.builds):
        for run in runs if number % 2 == 0 else runs[::-1]:
            if run.stack.name == "after":  # the old checkout does not change
                watch.step(f"build {number + 1} ({run.stack.name})")
            reset_index(run)
            (built,), _ = spawn_json(SCRIPT, run.stack, "--child", "build", str(run.root))
            run.builds.append(built)
            print(f"build {number + 1}/{args.builds} ({run.stack.name}): {built['wall']:.1f} s", flush=True)

    queries = [q.text for q in judged_queries()]
    for run in runs:
        if run.stack.name == "after":
            watch.step(f"the in-process queries ({run.stack.name})")
        lines, _ = spawn_json(SCRIPT, run.stack, "--child", "serve", str(run.root), "--rounds", str(args.rounds))
        run.in_process = QueryTimes.from_json(lines[-1]["times"])
        run.serve_rss = lines[-1]["rss"]
        print(f"queries in process ({run.stack.name}) measured", flush=True)
    if args.profile:
        (stats,), _ = spawn_json(SCRIPT, runs[0].stack, "--child", "profile", str(runs[0].root))
        profile = "\n".join(["# by own time", *profile_lines(stats["tottime"], 30), "", "# by cumulative time",
                             *profile_lines(stats["cumulative"], 40)])
        path = write_result(f"{args.name}-profile", profile)
        print(f"profile written to {path}", flush=True)

    for number in range(args.cold_starts):
        for run in runs if number % 2 == 0 else runs[::-1]:
            if run.stack.name == "after":
                watch.step(f"cold start {number + 1} ({run.stack.name})")
            (cold,), wall = spawn_json(SCRIPT, run.stack, "--child", "cold", str(run.root))
            run.cold_engine.append({**cold, "wall": wall})
            run.cold_stdio.append(anyio.run(stdio_cold_start, run.stack, run.root, FIRST_QUERY))
    print("cold starts measured", flush=True)

    watch.step("the queries over stdio")
    stdio = anyio.run(stdio_queries, runs, queries, args.rounds)
    for run in runs:
        run.stdio = stdio[f"{run.stack.name}, stdio"]
    print("queries over stdio measured", flush=True)

    growth_note = min(notes, key=lambda p: abs((runs[0].root / p).stat().st_size - GROWTH_NOTE_BYTES))
    for run in runs:
        if run.stack.name == "after":
            watch.step(f"the writes ({run.stack.name})")
        (run.writes,), _ = spawn_json(SCRIPT, run.stack, "--child", "writes", str(run.root), "--edits",
                                      str(args.edits), "--sweeps", str(args.sweeps), "--saves", str(args.saves),
                                      "--growth-note", growth_note)
        print(f"writes ({run.stack.name}) measured", flush=True)
    return runs, stdio, growth_note


# --- the report -------------------------------------------------------------------------------------------


def render(runs: list[StackRun], stdio: dict[str, QueryTimes], growth_note: str, args: argparse.Namespace,
           facts: str, code: str, old_code: str | None) -> str:
    after = runs[0]
    before = runs[1] if len(runs) > 1 else None
    queries = judged_queries()
    kinds: dict[str, int] = {}
    for q in queries:
        kinds[q.kind] = kinds.get(q.kind, 0) + 1
    build = {r.stack.name: spread([b["wall"] for b in r.builds]) for r in runs}
    build_cpu = {r.stack.name: spread([b["cpu"] for b in r.builds]) for r in runs}
    first = {name: spread(t.first_values()) for name, t in stdio.items()}
    a_first = first["after, stdio"]
    b_first = first.get("before, stdio")

    def b(spread_: Spread | None, key: str, fmt: Callable[[float], str]) -> str:
        return fmt(getattr(spread_, key)) if spread_ is not None else "–"

    notes_count = after.writes.get("notes", 0)
    out = [
        "## Search speed (real corpus)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {facts}; load average at the end {load_now()}  ",
        f"Code (after): {code}  ",
        f"Code (before): {old_code or 'not measured (no old checkout)'}",
        "",
        *load_note(args.start_load),
        f"Corpus: {notes_count} notes, {after.writes.get('notes_bytes', 0) / 2**20:.1f} MB"
        + (" (**a sample: --notes; not the whole corpus**)" if args.notes else "")
        + f". Queries: the {len(queries)} queries of `bench/queries.toml` "
        f"({', '.join(f'{k} {n}' for k, n in kinds.items())}), limit {LIMIT}; *first time*: each query sent once "
        f"to a process that has answered only a probe (`{PROBE_QUERY}`, a word in no note); *repeated*: "
        f"{args.rounds} more rounds of every query. Systems interleaved query by query in a rotating order. "
        "`after` is this code, `before` the old engine (the checkout before the search rewrite), each in its own "
        "processes on its own copy of the notes.",
        "",
        "### Targets",
        "",
        *table(
            ["measure", "target", "before", "after", "after / before", "result"],
            [
                [f"full index build, median of {build['after'].n} (s)", f"≤ {BUILD_S:.0f} s",
                 b(build.get("before"), "p50", lambda v: f"{v:.1f}"), f"{build['after'].p50:.1f}",
                 ratio(build["after"].p50, build["before"].p50 if before else None),
                 verdict(build["after"].p50, BUILD_S)],
                ["first-time query over stdio, p50 (ms)", "≤ 10 ms", b(b_first, "p50", ms), ms(a_first.p50),
                 ratio(a_first.p50, b_first.p50 if b_first else None), verdict(a_first.p50, FIRST_P50_S)],
                ["first-time query over stdio, p95 (ms)", "≤ 40 ms", b(b_first, "p95", ms), ms(a_first.p95),
                 ratio(a_first.p95, b_first.p95 if b_first else None), verdict(a_first.p95, FIRST_P95_S)],
            ],
        ),
    ]

    rows = []
    checks = {f"{r.stack.name}, stdio": r.stdio_checks for r in runs}
    for name, times in stdio.items():
        rows.append([name, *_query_cells(times, a_first.p50, checks.get(name))])
    for run in runs:
        assert run.in_process is not None
        rows.append([f"{run.stack.name}, in process", *_query_cells(run.in_process, a_first.p50, None)])
    net = {name: spread(_net_first(stdio[name], found)) for name, found in checks.items()}
    out += [
        "Without the Python SDK client's own check of each answer against the tool's output schema (see below), "
        "the first-time p50 / p95 over stdio are: "
        + "; ".join(f"{name.split(',')[0]} {ms(value.p50)} / {ms(value.p95)} ms" for name, value in net.items())
        + ".",
        "",
        "### Queries, side by side (ms)",
        "",
        "Over stdio: wall time of `call_tool('search_discussions')` in the client, from the request to the parsed "
        "result (JSON-RPC over a pipe, the tool's validation and rendering included, and the SDK client's check of "
        "the structured result against the tool's output schema with `jsonschema`, shown apart as \"client "
        "check\": Claude Code's client checks with its own validator). The server runs as it does for a person: "
        "its watcher on, and a stat sweep of the notes before a search when the watcher has been quiet for 30 s "
        "(so one search in each 30 s pays for a sweep). In process: `search()` alone, with the CPU time of the "
        "searching thread beside it.",
        "",
        *table(
            ["system", "first p50", "first p95", "first max", "repeated p50", "repeated p95", "repeated max",
             "CPU first p50", "CPU repeated p50", "client check p50", "first p50 less the check",
             "first p50 / after-stdio first p50"],
            rows,
        ),
        f"The floor of a call over stdio, a search for a word in no note (`{PROBE_QUERY}`: the tool's whole path "
        f"with nothing to rank; {FLOOR_CALLS} calls per server): "
        + "; ".join(f"{r.stack.name} p50 {ms(spread(r.stdio_floor).p50)} ms, p95 {ms(spread(r.stdio_floor).p95)} ms"
                    for r in runs)
        + ". Waiting for the index after spawn (probe until it answers from the index): "
        + "; ".join(f"{r.stack.name} {r.stdio_ready_s:.2f} s" for r in runs)
        + ".",
        "",
    ]
    kind_rows = []
    for kind, count in kinds.items():
        texts = [q.text for q in queries if q.kind == kind]
        cells = [kind, str(count)]
        for name in ("after, stdio", "before, stdio"):
            if name in stdio:
                values = spread([stdio[name].first[t] for t in texts])
                cells += [ms(values.p50), ms(values.p95)]
            else:
                cells += ["–", "–"]
        cells.append(ms(spread([stdio[GREP].first[t] for t in texts]).p50))
        kind_rows.append(cells)
    out += [
        "By query kind, first time over stdio (ms):",
        "",
        *table(["kind", "queries", "after p50", "after p95", "before p50", "before p95", "grep-any p50"], kind_rows),
        "Slowest first-time queries over stdio (after), with the same query elsewhere (ms):",
        "",
        *table(
            ["query", "kind", "after stdio", "before stdio", "after in process (CPU)", "after repeated in process",
             "hits"],
            [
                [
                    q.text,
                    q.kind,
                    ms(stdio["after, stdio"].first[q.text]),
                    ms(stdio["before, stdio"].first[q.text]) if "before, stdio" in stdio else "–",
                    f"{ms(_in(after).first[q.text])} ({ms(_in(after).first_cpu[q.text])})",
                    ms(statistics.median(_in(after).repeated[q.text])) if _in(after).repeated else "–",
                    str(stdio["after, stdio"].hits[q.text]),
                ]
                for q in sorted(queries, key=lambda q: -stdio["after, stdio"].first[q.text])[:10]
            ],
        ),
    ]

    out += [
        "### Index build",
        "",
        "A fresh process per build (the segmenter's dictionary loaded before the clock starts), the stacks "
        "alternating.",
        "",
        *table(
            ["stack", "builds", "wall p50 s", "wall p95 s", "wall max s", "CPU p50 s", "peak RSS MB", "index MB",
             "files", "sections"],
            [
                [r.stack.name, str(build[r.stack.name].n), f"{build[r.stack.name].p50:.2f}",
                 f"{build[r.stack.name].p95:.2f}", f"{build[r.stack.name].max:.2f}",
                 f"{build_cpu[r.stack.name].p50:.2f}",
                 f"{statistics.median(b_['rss'] or math.nan for b_ in r.builds):.0f}",
                 f"{r.builds[-1]['index_bytes'] / 2**20:.1f}", str(r.builds[-1]["files"]),
                 str(r.builds[-1]["sections"])]
                for r in runs
            ],
        ),
    ]
    if before is not None:
        out += [
            f"after / before: wall {ratio(build['after'].p50, build['before'].p50)}, CPU "
            f"{ratio(build_cpu['after'].p50, build_cpu['before'].p50)}, index size "
            f"{ratio(after.builds[-1]['index_bytes'], before.builds[-1]['index_bytes'])}.",
            "",
        ]

    cold_rows = []
    for r in runs:
        stdio_wall = spread([a for _, a in r.cold_stdio])
        shaken = spread([s for s, _ in r.cold_stdio])
        engine_wall = spread([c["wall"] for c in r.cold_engine])
        cold_rows.append([
            r.stack.name, str(stdio_wall.n), f"{stdio_wall.p50:.2f}", f"{stdio_wall.max:.2f}", f"{shaken.p50:.2f}",
            f"{engine_wall.p50:.2f}", f"{engine_wall.max:.2f}",
            f"{statistics.median(c['imports'] for c in r.cold_engine):.2f}",
            f"{statistics.median(c['open'] for c in r.cold_engine):.2f}",
            ms(statistics.median(c["first"] for c in r.cold_engine)),
            f"{r.stdio_rss or math.nan:.0f}", f"{r.serve_rss or math.nan:.0f}",
        ])
    out += [
        "### Cold start: the first search after a restart (s)",
        "",
        f"Server: spawn `python -m server --root COPY`, MCP handshake, one `search_discussions('{FIRST_QUERY}')` "
        "(the tool waits for the index to open); wall time in the client. Engine: a new Python process imports "
        "`server.search`, opens the index and answers the same query. The OS file cache is warm. Peak RSS: "
        "VmHWM of the stdio server after the query rounds, and of the in-process query child.",
        "",
        *table(
            ["stack", "runs", "server: spawn → answer p50", "max", "spawn → handshake p50", "engine: spawn → answer "
             "p50", "max", "import", "open", "first query ms", "server peak RSS MB", "engine peak RSS MB"],
            cold_rows,
        ),
    ]

    write_rows = []
    for r in runs:
        w = r.writes
        edit, unchanged, sweep = spread(w["edits"]), spread(w["unchanged"]), spread(w["sweeps"])
        write_rows.append([r.stack.name, str(edit.n), ms(edit.p50), ms(edit.p95), ms(edit.max),
                           ms(spread(w["edit_calls"]).p50), ms(unchanged.p50), ms(sweep.p50),
                           f"{1e6 * sweep.p50 / max(1, w['notes']):.0f}"])
    out += [
        "### Re-indexing one edited note, and the stat sweep (ms)",
        "",
        "A line appended to a random note, then `IndexService.update([note])` (before: `update_paths`) and a "
        "search for the new line's word: the time until that search returns the note (the new engine may leave "
        "the note pending while its maintenance thread holds the index; the search then indexes it first). "
        "Beside it, the update call alone; the same call again with the content unchanged (as when the watcher "
        "reports our own write); `sweep()` with nothing changed.",
        "",
        *table(["stack", "edits", "update → found p50", "p95", "max", "update call p50", "unchanged p50",
                "sweep p50", "sweep µs per note"], write_rows),
        "Each edit in order, update → found ms / Whoosh segments after it (a drop is a merge): "
        + "; ".join(f"{r.stack.name}: " + ", ".join(f"{1000 * t:.0f}/{n}" for t, n in
                                                     zip(r.writes["edits"], r.writes["segments"], strict=True))
                    for r in runs)
        + ".",
        "",
    ]

    growth_rows = []
    for r in runs:
        w = r.writes
        sizes = [size for size, _ in w["series"]]
        saves = spread(w["save_times"])
        notes_b = w["notes_bytes"]
        growth_rows.append([
            r.stack.name, str(len(sizes)), f"{w['initial_index'] / 2**20:.1f}", f"{min(sizes) / 2**20:.1f}",
            f"{max(sizes) / 2**20:.1f}", f"{w['final_index'] / 2**20:.1f}", f"{max(sizes) / notes_b:.1f}",
            f"{max(sizes) / w['initial_index']:.2f}", str(max(n for _, n in w["series"])), ms(saves.p50),
            ms(saves.p95), ms(saves.max), ms(spread(w["save_calls"]).p50),
        ])
    w0 = after.writes
    out += [
        "### Index size under a long run of saves",
        "",
        f"{args.saves} saves of `{growth_note}` ({w0['note_bytes'] / 1000:.0f} kB; the notes hold "
        f"{w0['notes_bytes'] / 2**20:.2f} MiB in all), back to back, each moving one marker line to a random line "
        "of the note (so one or two sections change), then the update and a search that must return the note "
        "(\"update → found\", as above); index bytes read after every save (the new engine's merges run in its "
        "maintenance thread, so a sample may fall before or after one). \"final\": after closing (pending "
        "merges done).",
        "",
        *table(["stack", "saves", "index MiB at start", "min", "max", "final", "max / notes", "max / start",
                "segments max", "update → found p50 ms", "p95 ms", "max ms", "update call p50 ms"], growth_rows),
        "Index MiB every 50 saves: "
        + "; ".join(f"{r.stack.name}: " + ", ".join(f"{size / 2**20:.1f}" for size, _ in r.writes["series"][49::50])
                    for r in runs)
        + ".",
        "",
    ]
    if before is not None:
        out += [
            "after / before: update → found p50 "
            f"{ratio(spread(after.writes['save_times']).p50, spread(before.writes['save_times']).p50)}, index max "
            f"{ratio(max(s for s, _ in after.writes['series']), max(s for s, _ in before.writes['series']))}.",
            "",
        ]
    return "\n".join(out)


def _in(run: StackRun) -> QueryTimes:
    assert run.in_process is not None
    return run.in_process


def _net_first(times: QueryTimes, checks: dict[str, list[float]]) -> list[float]:
    """Each first-time wall time less the client's schema check of that answer."""
    return [wall - checks[query][0] for query, wall in times.first.items()]


def _query_cells(times: QueryTimes, reference: float, checks: dict[str, list[float]] | None) -> list[str]:
    first, repeated = spread(times.first_values()), spread(times.repeated_values())
    cpu_first = spread(list(times.first_cpu.values()))
    cpu_repeated = spread([t for v in times.repeated_cpu.values() for t in v])
    check = spread([t for v in checks.values() for t in v]) if checks else None
    net = spread(_net_first(times, checks)) if checks else None
    return [ms(first.p50), ms(first.p95), ms(first.max), ms(repeated.p50), ms(repeated.p95), ms(repeated.max),
            ms(cpu_first.p50), ms(cpu_repeated.p50), ms(check.p50) if check else "–", ms(net.p50) if net else "–",
            ratio(first.p50, reference)]


def run(args: argparse.Namespace) -> int:
    corpus: Path = args.corpus.resolve()
    if corpus_missing(corpus):
        return 0
    facts, code, watch = machine_facts(), code_state(), CodeWatch()
    args.start_load = os.getloadavg()[0]
    old = old_checkout(args.old)
    old_code = code_state(old) if old is not None else None
    with tempfile.TemporaryDirectory(prefix="project-memory-speed-") as tmp:
        runs, stdio, growth_note = measure(args, corpus, Path(tmp), watch)
    text = render(runs, stdio, growth_note, args, facts, code, old_code)
    text = "\n".join([text, *watch.note()])
    print(text)
    print(f"written to {write_result(args.name, text)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Search speed on the CS336 corpus against the targets.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus root (default: ../shared/corpus)")
    parser.add_argument("--old", type=Path, default=DEFAULT_OLD,
                        help=f"checkout of the old engine, the 'before' baseline (default {DEFAULT_OLD})")
    parser.add_argument("--no-old", dest="old", action="store_const", const=None, help="skip the old engine")
    parser.add_argument("--quick", action="store_true",
                        help="120 sampled notes, one build, one round, fewer writes (checks the script only)")
    parser.add_argument("--notes", type=int, help="measure a random sample of this many notes (default all)")
    parser.add_argument("--rounds", type=int, help="repeated rounds after the first-time pass (default 5; quick 1)")
    parser.add_argument("--builds", type=int, help="full builds per stack (default 3; quick 1)")
    parser.add_argument("--edits", type=int, help="edited notes re-indexed one by one (default 20; quick 5)")
    parser.add_argument("--saves", type=int, help="saves of one large note, for index growth (default 500; quick 50)")
    parser.add_argument("--cold-starts", type=int, help="new processes timed per stack (default 5; quick 1)")
    parser.add_argument("--sweeps", type=int, help="sweeps timed (default 30; quick 5)")
    parser.add_argument("--profile", action="store_true", help="also profile the first-time pass (after)")
    parser.add_argument("--name", default="speed", help="result file name under bench/results (default: speed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--growth-note", help=argparse.SUPPRESS)
    parser.add_argument("child_root", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        use_code(args.code)
        root = args.child_root
        if args.child == "build":
            child_build(root)
        elif args.child == "serve":
            child_serve(root, args.rounds)
        elif args.child == "profile":
            child_profile(root)
        elif args.child == "cold":
            child_cold(root)
        elif args.child == "writes":
            child_writes(root, args.edits, args.sweeps, args.saves, args.growth_note)
        else:
            parser.error(f"unknown child {args.child}")
        return 0
    defaults = {"rounds": (5, 1), "builds": (3, 1), "edits": (20, 5), "saves": (500, 50), "cold_starts": (5, 1),
                "sweeps": (30, 5), "notes": (0, 120)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
