"""Search-quality benchmark: judged queries over the CS336 corpus, scored for any number of search systems.

Owns the scoring rules and the report; the judgments live in `queries.toml` beside this file, the grep
baselines in `grep_baselines.py` and the BM25 baseline in `bm25_baseline.py`. A system is
`Callable[[str], list[str]]` returning corpus-relative paths, best first, one per file. Only the first
K = 10 results count.

Per query, with `partial` paths (on topic, but not required) skipped wherever they appear in the top K:
- recall@10 = relevant paths in the top K / min(len(relevant), K - partial paths in the top K, at least 1)
- reciprocal rank = 1 / rank of the first relevant path, ranks counted without partial paths; 0 if none
- absent queries (nothing relevant exists) score "false hit" if the system returns anything at all.
Averages are macro: the mean over queries, per kind, over the keyword kinds (zh, mixed, en, phrase,
alias), over the questions and over the questions of each language.

Every query belongs to the dev or the held-out split (see queries.toml). The report puts the two side by
side, with a gap row (dev minus held-out); the targets are judged on the held-out half. Per-query lines
(`--details`, and the per-query part of `--json`) cover dev queries only: held-out queries are listed one
by one only when `--heldout-details` is given, so that whoever tunes the engine never sees which held-out
queries fail.

    python bench/search_quality.py [--corpus PATH] [--systems grep-literal,grep-any,bm25,project-memory]
                                   [--json FILE] [--details] [--heldout-details]
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
KEYWORD_KINDS = ("zh", "mixed", "en", "phrase", "alias")
KINDS = (*KEYWORD_KINDS, "question", "absent")
SCORED_KINDS = (*KEYWORD_KINDS, "question")
LANGS = ("zh", "mixed", "en")
SPLITS = ("dev", "heldout")
SPLIT_NAMES = {"dev": "dev", "heldout": "held-out"}
BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_QUERIES = BENCH_DIR / "queries.toml"
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
ALL_SYSTEMS = ("grep-literal", "grep-any", "bm25", "project-memory")
BASELINE = "bm25"  # the questions target: the product must beat this system

# What the product's search must reach, judged on the held-out half of the query set.
TARGET_SPLIT = "heldout"
TARGET_KEYWORD_RECALL = 0.88
TARGET_KEYWORD_MRR = 0.92
TARGET_KIND_FLOOR = 0.80  # every keyword kind, recall and MRR
TARGET_QUESTION_RECALL = 0.70
TARGET_QUESTION_MRR = 0.75  # and both ahead of the BM25 baseline


@dataclass(frozen=True)
class Query:
    id: str
    kind: str
    text: str
    relevant: tuple[str, ...]
    partial: frozenset[str] = frozenset()
    note: str = ""
    split: str = "dev"
    lang: str | None = None  # questions only


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
    split: str = "dev"
    lang: str | None = None

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

    def summary(self, split: str | None = None) -> dict[str, KindSummary]:
        """Per kind, "overall" (the keyword kinds) and "question:<lang>", macro-averaged over `split`
        (every query when None)."""
        scores = [s for s in self.scores if split is None or s.split == split]
        result: dict[str, KindSummary] = {}
        for kind in KINDS:
            of_kind = [s for s in scores if s.kind == kind]
            if kind == "absent":
                result[kind] = KindSummary(len(of_kind), false_hits=sum(s.false_hit for s in of_kind))
            else:
                result[kind] = _averaged(of_kind)
        result["overall"] = _averaged([s for s in scores if s.kind in KEYWORD_KINDS])
        for lang in LANGS:
            result[f"question:{lang}"] = _averaged([s for s in scores if s.kind == "question" and s.lang == lang])
        return result

    def meets_targets(self, baseline: SystemReport | None = None, split: str = TARGET_SPLIT) -> bool:
        """The targets on `split`. Questions must also beat `baseline` on recall and MRR when one is given
        and has questions in that split. A group with no queries passes, but a split with neither keyword
        queries nor questions meets nothing."""
        summary = self.summary(split)
        overall, questions = summary["overall"], summary["question"]
        if overall.queries == 0 and questions.queries == 0:
            return False
        kinds_ok = all(
            summary[kind].queries == 0
            or ((summary[kind].recall or 0.0) >= TARGET_KIND_FLOOR and (summary[kind].mrr or 0.0) >= TARGET_KIND_FLOOR)
            for kind in KEYWORD_KINDS
        )
        keyword_ok = overall.queries == 0 or (
            (overall.recall or 0.0) >= TARGET_KEYWORD_RECALL and (overall.mrr or 0.0) >= TARGET_KEYWORD_MRR
        )
        questions_ok = questions.queries == 0 or (
            (questions.recall or 0.0) >= TARGET_QUESTION_RECALL and (questions.mrr or 0.0) >= TARGET_QUESTION_MRR
        )
        if questions.queries and baseline is not None:
            reference = baseline.summary(split)["question"]
            if reference.queries:
                questions_ok = (
                    questions_ok
                    and (questions.recall or 0.0) > (reference.recall or 0.0)
                    and (questions.mrr or 0.0) > (reference.mrr or 0.0)
                )
        return keyword_ok and kinds_ok and questions_ok and not summary["absent"].false_hits


def _averaged(scores: Sequence[QueryScore]) -> KindSummary:
    if not scores:
        return KindSummary(0)
    recall = sum(s.recall or 0.0 for s in scores) / len(scores)
    mrr = sum(s.reciprocal_rank or 0.0 for s in scores) / len(scores)
    return KindSummary(len(scores), recall=recall, mrr=mrr)


class QuerySetError(ValueError):
    """queries.toml is malformed; the message names the query and the problem."""


def load_queries(path: Path = DEFAULT_QUERIES) -> list[Query]:
    """The judged queries. An entry without `split` is a dev query (the shipped set names every split)."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    queries: list[Query] = []
    seen: set[str] = set()
    for entry in raw.get("query", []):
        lang = entry.get("lang")
        query = Query(
            id=str(entry["id"]),
            kind=str(entry["kind"]),
            text=str(entry["text"]),
            relevant=tuple(str(p) for p in entry.get("relevant", [])),
            partial=frozenset(str(p) for p in entry.get("partial", [])),
            note=str(entry.get("note", "")),
            split=str(entry.get("split", "dev")),
            lang=None if lang is None else str(lang),
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
    if query.split not in SPLITS:
        raise QuerySetError(f"{query.id}: unknown split {query.split!r}; use one of {', '.join(SPLITS)}")
    if query.kind == "question" and query.lang not in LANGS:
        raise QuerySetError(f"{query.id}: a question needs lang, one of {', '.join(LANGS)}")
    if query.kind != "question" and query.lang is not None:
        raise QuerySetError(f"{query.id}: only questions have a lang")
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
        return QueryScore(
            query.id, query.kind, query.text, returned=len(unique), top=top, split=query.split, lang=query.lang
        )
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
        split=query.split,
        lang=query.lang,
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


def _gap_cell(dev: KindSummary, heldout: KindSummary) -> str:
    if dev.queries == 0 or heldout.queries == 0:
        return "–"
    if dev.false_hits is not None and heldout.false_hits is not None:
        return f"{dev.false_hits / dev.queries - heldout.false_hits / heldout.queries:+.2f}"
    return f"{(dev.recall or 0.0) - (heldout.recall or 0.0):+.2f} / {(dev.mrr or 0.0) - (heldout.mrr or 0.0):+.2f}"


COLUMNS = (*KEYWORD_KINDS, "overall", "question", *(f"question:{lang}" for lang in LANGS), "absent")
HEADINGS = (*KEYWORD_KINDS, "keyword", "questions", "q zh", "q mixed", "q en", "absent: with results")


def markdown_table(reports: Sequence[SystemReport], baseline: SystemReport | None = None) -> str:
    """Per system a dev row, a held-out row and a gap row (dev minus held-out): recall@10 / MRR per kind,
    over the keyword kinds, over the questions and per question language; absent: queries that returned
    anything / absent queries (gap: difference of those rates). `meets targets` is judged on held-out."""
    header = ["system", "split", *HEADINGS, "ms/query", "meets targets"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for report in reports:
        per_query_ms = 1000 * report.seconds / max(1, len(report.scores))
        summaries = {split: report.summary(split) for split in SPLITS}
        for split in SPLITS:
            verdict = ("yes" if report.meets_targets(baseline) else "no") if split == TARGET_SPLIT else "–"
            cells = [_cell(summaries[split][column]) for column in COLUMNS]
            lines.append(
                "| " + " | ".join([report.name, SPLIT_NAMES[split], *cells, f"{per_query_ms:.1f}", verdict]) + " |"
            )
        gaps = [_gap_cell(summaries["dev"][column], summaries["heldout"][column]) for column in COLUMNS]
        lines.append("| " + " | ".join([report.name, "gap (dev − held-out)", *gaps, "", ""]) + " |")
    return "\n".join(lines)


def details(report: SystemReport, split: str = "dev") -> str:
    """One line per query of `split` that the system did not get fully right."""
    lines = [f"### {report.name} ({SPLIT_NAMES[split]} queries)"]
    for score in report.scores:
        if score.split != split:
            continue
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


def report_json(
    corpus: Path, reports: Sequence[SystemReport], baseline: SystemReport | None = None, heldout_details: bool = False
) -> dict[str, Any]:
    """Summaries for every split; per-query results for dev queries, and for held-out ones only on request."""
    shown = set(SPLITS) if heldout_details else {"dev"}
    return {
        "corpus": str(corpus),
        "k": K,
        "target_split": TARGET_SPLIT,
        "systems": {
            report.name: {
                "seconds": report.seconds,
                "meets_targets": report.meets_targets(baseline),
                "summary": {kind: asdict(s) for kind, s in report.summary().items()},
                "splits": {split: {kind: asdict(s) for kind, s in report.summary(split).items()} for split in SPLITS},
                "queries": [asdict(score) for score in report.scores if score.split in shown],
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
        module = importlib.import_module("corpus_engine")
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


def _bm25(texts: dict[str, str]) -> System:
    from bm25_baseline import bm25  # rjieba is only needed when BM25 runs

    return bm25(texts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score search systems on the judged CS336 query set.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus root (default: ../shared/corpus)")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="query set (default: bench/queries.toml)")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS), help="comma-separated: " + ",".join(ALL_SYSTEMS))
    parser.add_argument("--json", type=Path, help="also write the summaries and the per-query results (dev only) here")
    parser.add_argument("--details", action="store_true", help="list the dev queries each system got wrong")
    parser.add_argument(
        "--heldout-details",
        action="store_true",
        help="also list held-out queries one by one (on screen and in --json); never while tuning the engine",
    )
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.systems.split(",") if name.strip()]
    if unknown := [name for name in names if name not in ALL_SYSTEMS]:
        parser.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(ALL_SYSTEMS)}")
    corpus: Path = args.corpus.resolve()
    if not corpus.is_dir():
        print(f"corpus not found at {corpus}; nothing to measure (pass --corpus).")
        return 0
    queries = load_queries(args.queries)
    texts = load_texts(corpus)  # a few MB; every baseline reads it, and the question target needs BM25

    reports: list[SystemReport] = []
    for name in names:
        if name == "grep-literal":
            reports.append(run_system(name, grep_literal(texts), queries))
        elif name == "grep-any":
            reports.append(run_system(name, grep_any(texts), queries))
        elif name == BASELINE:
            reports.append(run_system(name, _bm25(texts), queries))
        else:
            with project_memory_system(corpus) as system:
                if system is not None:
                    reports.append(run_system(name, system, queries))
    baseline = next((r for r in reports if r.name == BASELINE), None)
    if baseline is None and any(q.kind == "question" and q.split == TARGET_SPLIT for q in queries):
        baseline = run_system(BASELINE, _bm25(texts), queries)
        print(f"({BASELINE} run as the reference for the question target; add it to --systems to see its rows)")

    counts = {kind: sum(q.kind == kind for q in queries) for kind in KINDS}
    per_split = ", ".join(f"{SPLIT_NAMES[s]} {sum(q.split == s for q in queries)}" for s in SPLITS)
    print(f"{len(queries)} queries ({per_split}; {', '.join(f'{k} {n}' for k, n in counts.items())}) over {corpus}")
    print(
        f"cells: recall@{K} / MRR, macro over queries; keyword = {', '.join(KEYWORD_KINDS)}; "
        "absent: queries that returned anything"
    )
    print(
        f"targets ({SPLIT_NAMES[TARGET_SPLIT]} half): keyword recall ≥ {TARGET_KEYWORD_RECALL}, "
        f"MRR ≥ {TARGET_KEYWORD_MRR}, every keyword kind ≥ {TARGET_KIND_FLOOR}; "
        f"questions recall ≥ {TARGET_QUESTION_RECALL}, MRR ≥ {TARGET_QUESTION_MRR} and both ahead of {BASELINE}; "
        "no absent query with results\n"
    )
    print(markdown_table(reports, baseline))
    if args.details or args.heldout_details:
        for report in reports:
            if args.details:
                print("\n" + details(report, "dev"))
            if args.heldout_details:
                print("\n" + details(report, "heldout"))
    if args.json:
        payload = report_json(corpus, reports, baseline, heldout_details=args.heldout_details)
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
