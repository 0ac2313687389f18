"""What each judged query costs in process (CPU), this code against an earlier checkout, side by side.

Each run builds the index of the corpus in a fresh child process on one code, sends every query of
`bench/queries.toml` once to warm the caches, then times each `--repeats` times with `time.process_time`; each
query's median is kept. Runs alternate between the two codes; a query's figure for a code is its lowest median
over that code's runs (the host's noise only ever adds). Reports the sums and the queries that changed most: what
a change of the query rules costs, which the speed bench (against v0.1) cannot isolate.

    .venv/bin/python bench/query_cpu.py --base /tmp/base   # git worktree add /tmp/base <commit>

A checkout without `IndexService` (before the search rewrite) cannot be measured; use a later commit.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_CORPUS, REPO_ROOT, Stack, corpus_missing, emit, spawn_json, use_code, write_result

QUERIES = Path(__file__).resolve().parent / "queries.toml"


def child(corpus: Path, repeats: int) -> None:
    """In a fresh process on one code: build, warm, then emit each query's median CPU seconds."""
    from common import CorpusSearch

    texts = [query["text"] for query in tomllib.loads(QUERIES.read_text(encoding="utf-8"))["query"]]
    corpus_search = CorpusSearch(corpus)
    corpus_search.open()
    for text in texts:
        corpus_search.search(text)
    for text in texts:
        times = []
        for _ in range(repeats):
            started = time.process_time()
            corpus_search.search(text)
            times.append(time.process_time() - started)
        emit(query=text, seconds=statistics.median(times))
    corpus_search.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="checkout of the earlier code (git worktree); required")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeats", type=int, default=3, help="timed searches per query and run")
    parser.add_argument("--runs", type=int, default=2, help="runs per code, alternating")
    parser.add_argument("--top", type=int, default=8, help="queries listed with the largest change")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        use_code(args.code)
        child(args.corpus, args.repeats)
        return 0
    if corpus_missing(args.corpus):
        return 0
    if args.base is None or not (args.base / "server" / "search" / "service.py").is_file():
        print(f"{args.base} has no server/search/service.py: not a checkout this script can measure.")
        return 2
    best: dict[str, dict[str, float]] = {"after": {}, "before": {}}
    totals: dict[str, list[float]] = {"after": [], "before": []}
    with tempfile.TemporaryDirectory(prefix="project-memory-query-cpu-") as tmp:
        work = Path(tmp)
        codes = [Stack("after", REPO_ROOT, work / "cache-after"),
                 Stack("before", args.base, work / "cache-before", pycache=work / "pycache-before")]
        for run in range(args.runs):
            for stack in codes if run % 2 == 0 else codes[::-1]:
                stack.cache.mkdir(parents=True, exist_ok=True)
                lines, _ = spawn_json(Path(__file__).resolve(), stack, "--child", "--corpus", str(args.corpus),
                                      "--repeats", str(args.repeats))
                shutil.rmtree(stack.cache, ignore_errors=True)
                seconds = {line["query"]: line["seconds"] for line in lines if "query" in line}
                totals[stack.name].append(sum(seconds.values()))
                for query, value in seconds.items():
                    best[stack.name][query] = min(value, best[stack.name].get(query, value))
    after, before = (sum(best[name].values()) * 1000 for name in ("after", "before"))
    changes = sorted(((best["after"][q] - best["before"][q]) * 1000, q) for q in best["after"] if q in best["before"])
    text = "\n".join([
        "## Query CPU in process, side by side",
        "",
        f"Command: `.venv/bin/python bench/query_cpu.py --base {args.base}`; {len(best['after'])} queries of "
        f"`bench/queries.toml`, {args.runs} runs per code, {args.repeats} timed searches per query and run.",
        "",
        "| code | sum of each query's lowest median, ms | each run's total, ms |",
        "|---|---:|---|",
        *(f"| {name} | {sum(best[name].values()) * 1000:.0f} | "
          f"{', '.join(f'{total * 1000:.0f}' for total in totals[name])} |" for name in ("after", "before")),
        "",
        f"after / before: {after / before:.3f}",
        "",
        "Largest changes (ms, after − before):",
        "",
        *(f"- {delta:+.1f} {query}" for delta, query in changes[::-1][: args.top]),
        *(f"- {delta:+.1f} {query}" for delta, query in changes[: min(3, args.top)]),
    ])
    print(text)
    print(f"written to {write_result('query_cpu', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
