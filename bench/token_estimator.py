"""Token-estimator benchmark: `server.tokens.estimate_tokens` against real tokenizers on the notes' own text.

Samples are every `*.md` under `examples/cs336`, the seed working memory in `../shared/seed` and 200 files
of `../shared/corpus` (evenly spaced in sorted order), each taken whole and cut into paragraph-sized chunks
of 100-800 characters, which is what a briefing item looks like. Per sample kind the report gives the median
and p95 of estimate / real tokens, the lowest ratio, and the share of samples the estimate under-counts by
more than 5% (a briefing fitted to such an estimate could overrun its budget).

The real tokenizers run in subprocesses, so the project's venv needs nothing extra; a tokenizer that is not
installed is reported as skipped. They come from package registries and bundle their vocabularies, so
nothing is downloaded at run time:

    python3 -m venv /tmp/tokvenv
    /tmp/tokvenv/bin/pip install anthropic==0.38.0        # the last release that bundles tokenizer.json
    npm install --prefix /tmp/toknode gpt-tokenizer@4.0.0  # OpenAI's o200k_base, for perspective

    python bench/token_estimator.py --claude-python /tmp/tokvenv/bin/python \\
        --node-modules /tmp/toknode/node_modules [--json FILE]

The Claude tokenizer in those releases is the one Anthropic published for its earlier models; Claude 3 and
later tokenize differently and their tokenizer is not public, so these figures are a calibration, not a bound.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SHARED = REPO_ROOT.parent / "shared"
DEFAULT_EXAMPLES = REPO_ROOT / "examples" / "cs336"
DEFAULT_SEED = SHARED / "seed" / "AI助手工作记忆.md"
DEFAULT_CORPUS = SHARED / "corpus"
CORPUS_FILES = 200
CHUNK_MIN = 100
CHUNK_MAX = 800
UNDER_TOLERANCE = 0.95  # an estimate below 95% of the real count is an under-count

sys.path.insert(0, str(REPO_ROOT))  # so any interpreter (the tokenizer venv's too) finds the project
from server.tokens import estimate_tokens  # noqa: E402

CLAUDE_COUNTER = """
import json, sys
import anthropic
from anthropic._tokenizers import sync_get_tokenizer
tokenizer = sync_get_tokenizer()
texts = json.load(sys.stdin)
counts = [len(encoding.ids) for encoding in tokenizer.encode_batch(texts)]
name = f"Claude tokenizer.json from anthropic {anthropic.__version__}"
json.dump({"name": name, "counts": counts}, sys.stdout)
"""

O200K_COUNTER = """
const { encode } = require("gpt-tokenizer/cjs/encoding/o200k_base");
const version = require("gpt-tokenizer/package.json").version;
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (part) => { input += part; });
process.stdin.on("end", () => {
  // Special-token text such as <|endoftext|> in the notes is ordinary text here.
  const counts = JSON.parse(input).map((text) => encode(text, { disallowedSpecial: new Set() }).length);
  process.stdout.write(JSON.stringify({ name: `o200k_base from gpt-tokenizer ${version}`, counts }));
});
"""


@dataclass(frozen=True)
class Sample:
    kind: str  # e.g. "examples chunk"
    source: str  # file the text came from, relative to its sample root
    text: str


@dataclass(frozen=True)
class Row:
    kind: str
    samples: int
    median: float
    p95: float
    lowest: float
    under_share: float  # share of samples with estimate < 95% of real


@dataclass(frozen=True)
class TokenizerReport:
    name: str
    rows: list[Row]


def split_chunks(text: str, low: int = CHUNK_MIN, high: int = CHUNK_MAX) -> list[str]:
    """Paragraph-sized pieces of `text`: blank-line paragraphs packed together up to `high` characters.

    A paragraph longer than `high` is split at line ends (its lines stay joined by single newlines), and a
    single line longer than that is cut hard.
    Pieces shorter than `low` (a lone heading, a stray list item) are dropped: they are not what a briefing
    item looks like.
    """
    units: list[tuple[str, str]] = []  # (text, what joins it to the text before)
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip("\n")
        if not paragraph.strip():
            continue
        if len(paragraph) <= high:
            units.append((paragraph, "\n\n"))
            continue
        for number, line in enumerate(paragraph.split("\n")):
            for start in range(0, max(len(line), 1), high):
                units.append((line[start : start + high], "\n\n" if number == 0 and start == 0 else "\n"))
    pieces: list[str] = []
    current = ""
    for unit, joint in units:
        joined = f"{current}{joint}{unit}" if current else unit
        if len(joined) <= high:
            current = joined
            continue
        pieces.append(current)
        current = unit
    pieces.append(current)
    return [piece for piece in pieces if low <= len(piece) <= high]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _markdown_files(root: Path) -> list[Path]:
    return [
        path
        for path in sorted(root.rglob("*.md"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    ]


def _spread(paths: list[Path], count: int) -> list[Path]:
    if len(paths) <= count:
        return paths
    return [paths[index * len(paths) // count] for index in range(count)]


def collect_samples(
    examples: Path, seed: Path, corpus: Path, corpus_files: int = CORPUS_FILES
) -> list[Sample]:
    groups: list[tuple[str, Path, list[Path]]] = []
    if examples.is_dir():
        groups.append(("examples", examples, _markdown_files(examples)))
    else:
        print(f"skipping examples: {examples} is absent", file=sys.stderr)
    if seed.is_file():
        groups.append(("seed", seed.parent, [seed]))
    else:
        print(f"skipping the seed: {seed} is absent (../shared is not beside this clone)", file=sys.stderr)
    if corpus.is_dir():
        groups.append(("corpus", corpus, _spread(_markdown_files(corpus), corpus_files)))
    else:
        print(
            f"skipping the corpus: {corpus} is absent (../shared is not beside this clone)", file=sys.stderr
        )
    samples: list[Sample] = []
    for label, root, paths in groups:
        for path in paths:
            text = _read(path)
            source = path.relative_to(root).as_posix()
            if text.strip():
                samples.append(Sample(f"{label} file", source, text))
            samples.extend(Sample(f"{label} chunk", source, chunk) for chunk in split_chunks(text))
    return samples


def run_counter(
    command: list[str], texts: Sequence[str], env: dict[str, str] | None = None
) -> tuple[str, list[int]]:
    """Token counts for `texts` from a counter subprocess speaking JSON on stdin/stdout."""
    completed = subprocess.run(
        command,
        input=json.dumps(list(texts)),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(last)
    answer = json.loads(completed.stdout)
    counts = [int(count) for count in answer["counts"]]
    if len(counts) != len(texts):
        raise RuntimeError(f"counter returned {len(counts)} counts for {len(texts)} texts")
    return str(answer["name"]), counts


def claude_counts(python: str, texts: Sequence[str]) -> tuple[str, list[int]]:
    return run_counter([python, "-c", CLAUDE_COUNTER], texts)


def o200k_counts(node_modules: str, texts: Sequence[str]) -> tuple[str, list[int]]:
    env = {**os.environ, "NODE_PATH": node_modules}
    return run_counter(["node", "-e", O200K_COUNTER], texts, env=env)


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summarize(kind: str, estimates: Sequence[int], reals: Sequence[int]) -> Row:
    ratios = sorted(estimate / real for estimate, real in zip(estimates, reals, strict=True) if real > 0)
    under = sum(1 for ratio in ratios if ratio < UNDER_TOLERANCE)
    return Row(
        kind=kind,
        samples=len(ratios),
        median=statistics.median(ratios),
        p95=_percentile(ratios, 0.95),
        lowest=ratios[0],
        under_share=under / len(ratios),
    )


def _kinds(samples: Sequence[Sample]) -> list[str]:
    kinds = list(dict.fromkeys(sample.kind for sample in samples))
    files = [kind for kind in kinds if kind.endswith(" file")]
    chunks = [kind for kind in kinds if kind.endswith(" chunk")]
    return [*files, *chunks, "all chunks"]


def report(
    name: str, samples: Sequence[Sample], estimates: Sequence[int], reals: Sequence[int]
) -> TokenizerReport:
    rows: list[Row] = []
    for kind in _kinds(samples):
        chosen = [
            index
            for index, sample in enumerate(samples)
            if sample.kind == kind or (kind == "all chunks" and sample.kind.endswith(" chunk"))
        ]
        if chosen:
            rows.append(summarize(kind, [estimates[i] for i in chosen], [reals[i] for i in chosen]))
    return TokenizerReport(name, rows)


def markdown_table(reports: Sequence[TokenizerReport]) -> str:
    lines = [
        "| tokenizer | sample kind | samples | median est/real | p95 est/real | lowest | under-count >5% |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for tokenizer in reports:
        for row in tokenizer.rows:
            lines.append(
                f"| {tokenizer.name} | {row.kind} | {row.samples} | {row.median:.2f} | {row.p95:.2f} "
                f"| {row.lowest:.2f} | {row.under_share:.1%} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--claude-python",
        default=sys.executable,
        help="an interpreter with anthropic==0.38.0 installed (default: this one)",
    )
    parser.add_argument(
        "--node-modules",
        default=None,
        help="a node_modules folder holding gpt-tokenizer (default: skip o200k_base)",
    )
    parser.add_argument("--examples", type=Path, default=DEFAULT_EXAMPLES)
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--corpus-files", type=int, default=CORPUS_FILES)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    samples = collect_samples(args.examples, args.seed, args.corpus, args.corpus_files)
    if not samples:
        print("no samples found", file=sys.stderr)
        return 1
    texts = [sample.text for sample in samples]
    estimates = [estimate_tokens(text) for text in texts]
    print(f"{len(samples)} samples, {sum(len(text) for text in texts)} characters", file=sys.stderr)

    reports: list[TokenizerReport] = []
    counters: list[tuple[str, Callable[[], tuple[str, list[int]]]]] = [
        ("Claude", lambda: claude_counts(args.claude_python, texts))
    ]
    if args.node_modules:
        counters.append(("o200k_base", lambda: o200k_counts(args.node_modules, texts)))
    else:
        print("skipping o200k_base: pass --node-modules (see this script's docstring)", file=sys.stderr)
    for label, count in counters:
        try:
            name, reals = count()
        except (OSError, RuntimeError, ValueError) as err:
            print(f"skipping {label}: {err}", file=sys.stderr)
            continue
        reports.append(report(name, samples, estimates, reals))
    if not reports:
        install = "\n".join(line for line in (__doc__ or "").splitlines() if line.startswith("    "))
        print(f"no real tokenizer ran, nothing to compare; install them with:\n{install}", file=sys.stderr)
        return 1
    print(markdown_table(reports))
    if args.json:
        args.json.write_text(
            json.dumps([asdict(r) for r in reports], ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
