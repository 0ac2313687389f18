"""How long the merge that folds saves' small segments holds the index, this code against an earlier checkout.

Each run copies the corpus, builds its index, then saves the corpus's largest note over and over (a marker line
moved to a random line, as `search_speed.py`'s long run of saves does), indexing each save; every merge the
maintenance thread runs is timed around `WhooshIndex.merge_small`. Runs alternate between the two codes, each in
a fresh child process; medians over all merges of all runs.

    .venv/bin/python bench/merge_speed.py --base /tmp/base   # git worktree add /tmp/base <commit>

A checkout without `merge_small` (before the search rewrite) cannot be measured; use a later commit.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    DEFAULT_CORPUS,
    REPO_ROOT,
    Stack,
    corpus_missing,
    emit,
    spawn_json,
    use_code,
    write_result,
)

GROWTH_NOTE = ("SingularGuyLeBorn__Awesome-CS336-NoteForEveryone/CS336_Lecture/TxtFile(CN)/"
               "CS336_7_详解大模型并行化策略.md")  # the largest note, as in search_speed.py


def child(corpus: Path, saves: int, seed: int) -> None:
    """In a fresh process on one code: build, save `saves` times, emit each merge's seconds."""
    from common import CorpusSearch

    with tempfile.TemporaryDirectory(prefix="project-memory-merge-") as tmp:
        root = Path(tmp) / "notes"
        shutil.copytree(corpus, root)
        corpus_search = CorpusSearch(root)
        corpus_search.open()
        index = corpus_search.index._index
        merge_small = index.merge_small

        def timed() -> bool:
            started = time.perf_counter()
            merged = merge_small()
            if merged:
                emit(merge=time.perf_counter() - started)
            return bool(merged)

        index.merge_small = timed
        note = root / GROWTH_NOTE
        lines = note.read_text(encoding="utf-8").split("\n")
        rng = random.Random(seed)
        for number in range(saves):
            at = rng.randrange(len(lines) + 1)
            note.write_text("\n".join([*lines[:at], f"benchmerge{number:04d} 保存 save", *lines[at:]]),
                            encoding="utf-8")
            corpus_search.update([GROWTH_NOTE])
            time.sleep(0.3)  # a pause between saves, so the maintenance thread merges
        corpus_search.close()
        emit(done=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="checkout of the earlier code (git worktree); required")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--saves", type=int, default=40, help="saves per run (a merge about every eighth)")
    parser.add_argument("--runs", type=int, default=3, help="runs per code, alternating")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=337, help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        use_code(args.code)
        child(args.corpus, args.saves, args.seed)
        return 0
    if corpus_missing(args.corpus):
        return 0
    if args.base is None or not (args.base / "server" / "search" / "whoosh_index.py").is_file():
        print(f"{args.base} has no server/search/whoosh_index.py: not a checkout this script can measure.")
        return 2
    merges: dict[str, list[float]] = {"after": [], "before": []}
    with tempfile.TemporaryDirectory(prefix="project-memory-merge-bench-") as tmp:
        work = Path(tmp)
        codes = [Stack("after", REPO_ROOT, work / "cache-after"),
                 Stack("before", args.base, work / "cache-before", pycache=work / "pycache-before")]
        for stack in codes:
            stack.cache.mkdir(parents=True, exist_ok=True)
        for run in range(args.runs):
            for stack in codes if run % 2 == 0 else codes[::-1]:
                lines, _ = spawn_json(Path(__file__).resolve(), stack, "--child", "--corpus", str(args.corpus),
                                      "--saves", str(args.saves), "--seed", str(337 + run))
                merges[stack.name].extend(line["merge"] for line in lines if "merge" in line)
                shutil.rmtree(stack.cache, ignore_errors=True)
                stack.cache.mkdir(parents=True)
    after, before = (statistics.median(merges[name]) if merges[name] else float("nan") for name in ("after", "before"))
    text = "\n".join([
        "## Merge of saves' small segments",
        "",
        f"Command: `.venv/bin/python bench/merge_speed.py --base {args.base}`; {args.runs} runs per code, "
        f"{args.saves} saves of `{GROWTH_NOTE}` each.",
        "",
        "| code | merges | median s | max s |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {len(times)} | {statistics.median(times):.2f} | {max(times):.2f} |"
          for name, times in merges.items() if times),
        "",
        f"after / before: {after / before:.2f}",
    ])
    print(text)
    print(f"written to {write_result('merge', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
