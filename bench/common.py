"""What the speed benchmarks share: paths, percentiles, peak memory, machine facts and the result files.

Importing this module must stay cheap and must not import the project (`server`): the cold-start
measurements time that import in child processes started from the same scripts.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import os
import platform
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.search import SearchEngine

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
RESULTS_DIR = BENCH_DIR / "results"
QUERIES_FILE = BENCH_DIR / "queries.toml"


def use_repo() -> None:
    """Make the project importable however the script was started."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


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


def query_texts(path: Path = QUERIES_FILE) -> list[str]:
    """The judged queries' texts: Chinese, English, mixed, phrases, aliases and absent topics."""
    with path.open("rb") as handle:
        return [str(entry["text"]) for entry in tomllib.load(handle).get("query", [])]


def corpus_engine(root: Path, index_dir: Path) -> SearchEngine:
    """A search engine over any folder of Markdown files, every file a plain note (as the quality benchmark's
    `open_corpus_engine`, but handing back the engine itself). Not warmed up."""
    use_repo()
    from memory_schema.layout import PRESETS
    from server.search import SearchEngine
    from server.store import NoteStore

    nowhere = "\0"  # no file is named so: no file plays a memory role
    roles = ("working_memory", "progress", "plan", "research_todo", "discussions_dir")
    layout = PRESETS["default-en"].model_copy(update={**{role: nowhere for role in roles}, "notes_dir": "."})
    return SearchEngine(NoteStore(root), layout, index_dir=index_dir)


class NotMeasurable(RuntimeError):
    """The engine is not answering from its index, so timing it would measure something else."""


def require_index(state: str, files: int | None = None, expected: int | None = None) -> None:
    """Stop unless the engine reports a usable index (holding `expected` files, when given): a search
    without one scans the notes, and its timings would be of the fallback."""
    if not (state == "fresh" or state.startswith("pending")):
        raise NotMeasurable(f"the search index is {state!r}; searches would scan the notes instead")
    if expected is not None and files != expected:
        raise NotMeasurable(f"the search index holds {files} files, not the {expected} notes")


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
    return Spread(len(values), percentile(values, 50), percentile(values, 95), max(values), min(values))


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far (VmHWM), in MiB; None where /proc is absent."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def ms(seconds: float) -> str:
    """Milliseconds with the precision the number deserves."""
    value = seconds * 1000
    if value < 1:
        return f"{value:.3f}"
    if value < 10:
        return f"{value:.2f}"
    return f"{value:.1f}"


def verdict(value: float, limit: float) -> str:
    return "pass" if value <= limit else "**FAIL**"


def machine_facts() -> str:
    """Date, cores, Python and load: what a reader needs to weigh the numbers."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"{now}; nproc {os.cpu_count()}; Python {platform.python_version()} ({platform.machine()}, "
        f"{platform.system()} {platform.release()}); load average at start {load}"
    )


CODE_FOLDERS = ("server", "memory_schema")


def code_fingerprint() -> str:
    """A hash of the measured code (every .py under server/ and memory_schema/), to tell runs apart."""
    digest = hashlib.sha256()
    for folder in CODE_FOLDERS:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def code_state() -> str:
    """Which code was measured: the commit, the files changed since, and the fingerprint."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        except OSError:
            return ""
        return done.stdout if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = [line[3:] for line in git("status", "--porcelain", "--", *CODE_FOLDERS).splitlines()]
    changed = f" + uncommitted changes to {', '.join(dirty)}" if dirty else ""
    return f"commit {head}{changed} (fingerprint {code_fingerprint()})"


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
