"""Search-quality benchmark: judged queries over the CS336 corpus, scored for any number of search systems.

Owns the scoring rules and the report; the judgments live in `queries.toml` beside this file and the
grep baselines in `grep_baselines.py`. A system is `Callable[[str], list[str]]` returning corpus-relative
paths, best first, one per file. Only the first K = 10 results count.

Per query, with `partial` paths (on topic, but not required) skipped wherever they appear in the top K:
- recall@10 = relevant paths in the top K / min(len(relevant), K - partial paths in the top K, at least 1)
- reciprocal rank = 1 / rank of the first relevant path, ranks counted without partial paths; 0 if none
- absent queries (nothing relevant exists) score "false hit" if the system returns anything at all.
Averages are macro: the mean over queries, per kind and overall.

    python bench/search_quality.py [--corpus PATH] [--systems grep-literal,grep-any,project-memory]
                                   [--json FILE] [--details]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from grep_baselines import System, grep_any, grep_literal, load_texts

K = 10
KINDS = ("zh", "mixed", "en", "phrase", "alias", "absent")
SCORED_KINDS = KINDS[:-1]
BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_QUERIES = BENCH_DIR / "queries.toml"
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
ALL_SYSTEMS = ("grep-literal", "grep-any", "project-memory")

# What the product's search must reach on this query set.
TARGET_RECALL = 0.85
TARGET_MRR = 0.9
TARGET_KIND_FLOOR = 0.75


@dataclass(frozen=True)
class Query:
    id: str
    kind: str
    text: str
    relevant: tuple[str, ...]
    partial: frozenset[str] = frozenset()
    note: str = ""


@dataclass(frozen=True)
class QueryScore:
    query_id: str
    kind: str
    text: str
    returned: int
    top: tuple[str, ...]
    recall: float | None = None  # None for absent queries
    reciprocal_rank: float | None = None
    missed: tuple[str, ...] = ()

    @property
    def false_hit(self) -> bool:
        return self.kind == "absent" and self.returned > 0


@dataclass(frozen=True)
class KindSummary:
    queries: int
    recall: float | None = None
    mrr: float | None = None
    false_hits: int | None = None  # absent only: queries that returned anything


@dataclass
class SystemReport:
    name: str
    scores: list[QueryScore] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, KindSummary]:
        """Per kind, plus "overall" (every non-absent query), macro-averaged."""
        result: dict[str, KindSummary] = {}
        for kind in KINDS:
            scores = [s for s in self.scores if s.kind == kind]
            if kind == "absent":
                result[kind] = KindSummary(len(scores), false_hits=sum(s.false_hit for s in scores))
            else:
                result[kind] = _averaged(scores)
        result["overall"] = _averaged([s for s in self.scores if s.kind != "absent"])
        return result

    def meets_targets(self) -> bool:
        summary = self.summary()
        overall = summary["overall"]
        kinds_ok = all(
            s.queries == 0 or ((s.recall or 0.0) >= TARGET_KIND_FLOOR and (s.mrr or 0.0) >= TARGET_KIND_FLOOR)
            for kind, s in summary.items()
            if kind in SCORED_KINDS
        )
        return (
            (overall.recall or 0.0) >= TARGET_RECALL
            and (overall.mrr or 0.0) >= TARGET_MRR
            and kinds_ok
            and not summary["absent"].false_hits
        )


def _averaged(scores: Sequence[QueryScore]) -> KindSummary:
    if not scores:
        return KindSummary(0)
    recall = sum(s.recall or 0.0 for s in scores) / len(scores)
    mrr = sum(s.reciprocal_rank or 0.0 for s in scores) / len(scores)
    return KindSummary(len(scores), recall=recall, mrr=mrr)


class QuerySetError(ValueError):
    """queries.toml is malformed; the message names the query and the problem."""


def load_queries(path: Path = DEFAULT_QUERIES) -> list[Query]:
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    queries: list[Query] = []
    seen: set[str] = set()
    for entry in raw.get("query", []):
        query = Query(
            id=str(entry["id"]),
            kind=str(entry["kind"]),
            text=str(entry["text"]),
            relevant=tuple(str(p) for p in entry.get("relevant", [])),
            partial=frozenset(str(p) for p in entry.get("partial", [])),
            note=str(entry.get("note", "")),
        )
        _check(query, seen)
        seen.add(query.id)
        queries.append(query)
    return queries


def _check(query: Query, seen: set[str]) -> None:
    if query.id in seen:
        raise QuerySetError(f"{query.id}: duplicate id")
    if query.kind not in KINDS:
        raise QuerySetError(f"{query.id}: unknown kind {query.kind!r}; use one of {', '.join(KINDS)}")
    if not query.text.strip():
        raise QuerySetError(f"{query.id}: empty text")
    if query.kind == "absent" and (query.relevant or query.partial):
        raise QuerySetError(f"{query.id}: an absent query lists files")
    if query.kind != "absent" and not query.relevant:
        raise QuerySetError(f"{query.id}: no relevant files")
    if len(set(query.relevant)) != len(query.relevant):
        raise QuerySetError(f"{query.id}: a relevant file is listed twice")
    if overlap := query.partial.intersection(query.relevant):
        raise QuerySetError(f"{query.id}: both relevant and partial: {sorted(overlap)}")


def score_query(query: Query, ranking: Sequence[str], k: int = K) -> QueryScore:
    unique = list(dict.fromkeys(ranking))  # a system listing a file twice gains nothing
    top = tuple(unique[:k])
    if query.kind == "absent":
        return QueryScore(query.id, query.kind, query.text, returned=len(unique), top=top)
    relevant = set(query.relevant)
    judged = [path for path in top if path not in query.partial]
    slots = max(1, min(len(relevant), k - (len(top) - len(judged))))
    found = [path for path in judged if path in relevant]
    first = next((rank for rank, path in enumerate(judged, start=1) if path in relevant), None)
    return QueryScore(
        query.id,
        query.kind,
        query.text,
        returned=len(unique),
        top=top,
        recall=len(found) / slots,
        reciprocal_rank=1.0 / first if first else 0.0,
        missed=tuple(path for path in query.relevant if path not in found),
    )


def run_system(name: str, system: System, queries: Sequence[Query]) -> SystemReport:
    report = SystemReport(name)
    started = time.perf_counter()
    for query in queries:
        report.scores.append(score_query(query, system(query.text)))
    report.seconds = time.perf_counter() - started
    return report


def _cell(summary: KindSummary) -> str:
    if summary.queries == 0:
        return "–"
    if summary.false_hits is not None:
        return f"{summary.false_hits}/{summary.queries}"
    return f"{summary.recall or 0.0:.2f} / {summary.mrr or 0.0:.2f}"


def markdown_table(reports: Sequence[SystemReport]) -> str:
    """System × kind: recall@10 / MRR; absent: queries that returned anything / absent queries."""
    header = ["system", *SCORED_KINDS, "overall", "absent: with results", "ms/query", "meets targets"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for report in reports:
        summary = report.summary()
        per_query_ms = 1000 * report.seconds / max(1, len(report.scores))
        cells = [
            report.name,
            *(_cell(summary[kind]) for kind in SCORED_KINDS),
            _cell(summary["overall"]),
            _cell(summary["absent"]),
            f"{per_query_ms:.1f}",
            "yes" if report.meets_targets() else "no",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details(report: SystemReport) -> str:
    """One line per query the system did not get fully right."""
    lines = [f"### {report.name}"]
    for score in report.scores:
        if score.kind == "absent":
            if score.false_hit:
                lines.append(f"- {score.query_id} {score.text!r}: {score.returned} results, first {score.top[0]}")
        elif (score.recall or 0.0) < 1.0 or (score.reciprocal_rank or 0.0) < 1.0:
            missed = ", ".join(score.missed) or "-"
            lines.append(
                f"- {score.query_id} {score.text!r}: recall {score.recall or 0.0:.2f}, "
                f"RR {score.reciprocal_rank or 0.0:.2f}; missed: {missed}"
            )
    return "\n".join(lines)


def report_json(corpus: Path, reports: Sequence[SystemReport]) -> dict[str, Any]:
    return {
        "corpus": str(corpus),
        "k": K,
        "systems": {
            report.name: {
                "seconds": report.seconds,
                "meets_targets": report.meets_targets(),
                "summary": {kind: asdict(s) for kind, s in report.summary().items()},
                "queries": [asdict(score) for score in report.scores],
            }
            for report in reports
        },
    }


@contextlib.contextmanager
def project_memory_system(corpus: Path) -> Iterator[System | None]:
    """The product's search over `corpus`, indexed into a temporary folder (the corpus is read-only).

    Yields None, after saying why, when the engine cannot be imported.
    """
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    try:
        module = importlib.import_module("server.search")
        open_corpus_engine = module.open_corpus_engine
    except (ImportError, AttributeError) as err:
        print(f"project-memory engine not available: {err}")
        yield None
        return
    opener = cast(Callable[[Path, Path], Callable[[str, int], list[str]]], open_corpus_engine)
    with tempfile.TemporaryDirectory(prefix="project-memory-bench-") as index_dir:
        started = time.perf_counter()
        engine = opener(corpus, Path(index_dir))
        print(f"project-memory: index built in {time.perf_counter() - started:.1f} s")
        yield lambda query: engine(query, K)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score search systems on the judged CS336 query set.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus root (default: ../shared/corpus)")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="query set (default: bench/queries.toml)")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS), help="comma-separated: " + ",".join(ALL_SYSTEMS))
    parser.add_argument("--json", type=Path, help="also write the full results (per query) to this file")
    parser.add_argument("--details", action="store_true", help="list the queries each system got wrong")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.systems.split(",") if name.strip()]
    if unknown := [name for name in names if name not in ALL_SYSTEMS]:
        parser.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(ALL_SYSTEMS)}")
    corpus: Path = args.corpus.resolve()
    if not corpus.is_dir():
        print(f"corpus not found at {corpus}; nothing to measure (pass --corpus).")
        return 0
    queries = load_queries(args.queries)

    reports: list[SystemReport] = []
    texts = load_texts(corpus) if {"grep-literal", "grep-any"} & set(names) else {}
    for name in names:
        if name == "grep-literal":
            reports.append(run_system(name, grep_literal(texts), queries))
        elif name == "grep-any":
            reports.append(run_system(name, grep_any(texts), queries))
        else:
            with project_memory_system(corpus) as system:
                if system is not None:
                    reports.append(run_system(name, system, queries))

    counts = {kind: sum(q.kind == kind for q in queries) for kind in KINDS}
    print(f"{len(queries)} queries ({', '.join(f'{k} {n}' for k, n in counts.items())}) over {corpus}")
    print(f"cells: recall@{K} / MRR, macro over queries; absent: queries that returned anything")
    print(
        f"targets: overall recall ≥ {TARGET_RECALL}, MRR ≥ {TARGET_MRR}, every kind ≥ {TARGET_KIND_FLOOR}, "
        "no absent query with results\n"
    )
    print(markdown_table(reports))
    if args.details:
        for report in reports:
            print("\n" + details(report))
    if args.json:
        args.json.write_text(json.dumps(report_json(corpus, reports), ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
