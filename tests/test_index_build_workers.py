"""A full build's analysis in worker processes: the same documents as inline, in the same order, read ahead
by a bounded amount, and whatever the workers do (never start, die, garble their pipe, fall silent) the build
completes with the same index and leaves no process behind. A caller's own script, and whatever the current
folder holds, is never run by a worker."""

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_schema.layout import PRESETS
from server.search import build_workers
from server.search.build_workers import BATCH_NOTES, IN_FLIGHT_PER_WORKER, LoadedNote, analyze_batch, analyzed_notes
from server.store import FileStat, Snapshot

REPO = Path(__file__).resolve().parents[1]
LAYOUT = PRESETS["cs336-zh"]
NOTES_COUNT = 70  # several batches per worker


def note(number: int) -> LoadedNote:
    path = f"学习笔记/第{number}讲.md"
    text = (f"# 第{number}讲 注意力\n\n缩放点积注意力把 softmax 用在 QK^T 上。\n\n## 代码\n\n"
            f"```python\nscores = q @ k.T / {number}\n```\n\nFlashAttention 分块计算，第{number}次。\n")
    return path, FileStat(1_700_000_000_000_000_000 + number, len(text.encode())), Snapshot(path, text, f"v{number}")


NOTES = [note(number) for number in range(NOTES_COUNT)]
INLINE = analyze_batch(LAYOUT, NOTES)


@pytest.fixture
def two_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_workers, "POOL_FROM_NOTES", 1)
    monkeypatch.setattr(build_workers, "usable_cpus", lambda: 2)


@pytest.fixture
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """One worker, where what is tested is what a worker does, not how batches go round: each real worker
    costs the import of the analyzer and its dictionary."""
    monkeypatch.setattr(build_workers, "worker_count", lambda _notes: 1)


def test_a_small_build_or_one_cpu_analyzes_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_workers, "usable_cpus", lambda: 8)
    assert build_workers.worker_count(build_workers.POOL_FROM_NOTES - 1) == 0
    assert build_workers.worker_count(build_workers.POOL_FROM_NOTES) == build_workers.MAX_WORKERS
    monkeypatch.setattr(build_workers, "usable_cpus", lambda: 1)
    assert build_workers.worker_count(10_000) == 0


def test_workers_return_what_an_inline_build_writes_in_the_same_order_reading_a_bounded_amount_ahead(
    two_workers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_inline(*_args: object) -> list[object]:
        raise AssertionError("a batch was analyzed inline: the workers did not answer")

    monkeypatch.setattr(build_workers, "analyze_batch", no_inline)  # this process only; the workers import theirs
    read = 0

    def counted() -> Iterator[LoadedNote]:
        nonlocal read
        for loaded in NOTES:
            read += 1
            yield loaded

    written, ahead = [], []
    for documents in analyzed_notes(LAYOUT, counted(), len(NOTES)):
        written.append(documents)
        ahead.append(read - len(written))
    assert written == INLINE
    assert max(ahead) <= 2 * IN_FLIGHT_PER_WORKER * BATCH_NOTES


BATCHES = -(-NOTES_COUNT // BATCH_NOTES)


@pytest.mark.parametrize(
    ("worker", "answered"),
    [
        ("import sys; sys.exit(3)", 0),  # dies at once
        ("import sys; sys.stdin.buffer.read(1); sys.stdout.buffer.write(b'garbage'); sys.stdout.flush()", 0),
        ("import os; from server.search import build_workers as w; first, done = w.analyze_batch, []; "
         "w.analyze_batch = lambda *a: os._exit(9) if done else done.append(1) or first(*a); w.serve()",
         1),  # dies in the middle of the build, after answering its first batch
        ("import sys; sys.stdout.buffer.write(b'B'); sys.stdout.flush(); "  # a stray byte before the first result
         "from server.search.build_workers import serve; serve()", 0),
        ("import time; time.sleep(600)", 0),  # alive, silent: stopped or stuck
    ],
    ids=["exits", "garbles", "dies-midway", "stray-byte", "silent"],
)
def test_workers_that_fail_cost_nothing_but_speed(one_worker: None, monkeypatch: pytest.MonkeyPatch,
                                                   worker: str, answered: int) -> None:
    monkeypatch.setattr(build_workers, "_WORKER_MAIN", worker)
    if "sleep" in worker:
        # Only a silent worker is found out by the wait; the others end or garble their output, which is seen at
        # once. Their wait stays long, so a worker that answers does so however loaded the machine (a worker that
        # had not started within a short wait would have its batch analyzed here, and the count below be off).
        monkeypatch.setattr(build_workers, "RESULT_WAIT_SECONDS", 2.0)
    monkeypatch.setattr(build_workers, "EXIT_WAIT_SECONDS", 0.5)
    inline = []
    analyze = build_workers.analyze_batch

    def counted(*args: object) -> list[object]:
        inline.append(1)
        return analyze(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(build_workers, "analyze_batch", counted)  # this process only
    assert list(analyzed_notes(LAYOUT, NOTES, len(NOTES))) == INLINE
    assert len(inline) == BATCHES - answered


def test_no_interpreter_to_start_means_an_inline_build(two_workers: None, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    assert list(analyzed_notes(LAYOUT, NOTES, len(NOTES))) == INLINE


def test_an_analysis_error_is_raised_as_an_inline_build_raises_it(two_workers: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> list[object]:
        raise ValueError("analysis bug")

    monkeypatch.setattr(build_workers, "_WORKER_MAIN", "import sys; sys.exit(1)")
    monkeypatch.setattr(build_workers, "analyze_batch", broken)
    with pytest.raises(ValueError, match="analysis bug"):
        list(analyzed_notes(LAYOUT, NOTES, len(NOTES)))


@pytest.mark.slow  # a script in a subprocess, then its workers: `.ci/run` runs it after the README command
def test_a_callers_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    # A spawned multiprocessing worker re-runs the parent's main script: a script with no __main__ guard then
    # ran its side effects (here: writing a line, building an index) once more in every worker.
    root = tmp_path / "memory"
    for number in range(build_workers.POOL_FROM_NOTES + 10):
        page = root / "学习笔记" / f"n{number}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"# 笔记 {number}\n\n注意力与缓存，第 {number} 篇。\n", encoding="utf-8")
    runs = tmp_path / "runs.txt"
    script = tmp_path / "caller.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO / "tests")!r})
        from support import Searcher
        with open({str(runs)!r}, "a") as runs:
            runs.write("ran\\n")
        searcher = Searcher(Path({str(root)!r}))
        searcher.warm_up()
        print(searcher.status().state, searcher.status().files)
        searcher.close()
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fresh", str(build_workers.POOL_FROM_NOTES + 10)]
    assert runs.read_text() == "ran\n"


def test_a_server_package_planted_in_the_current_folder_is_never_run_by_a_worker(
    one_worker: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `python -c` puts the current folder first on the path: a folder named server/ there (the notes folder can
    # be the current one) would have been imported by every worker in place of this package.
    marker = tmp_path / "ran.txt"
    planted = tmp_path / "notes" / "server" / "search"
    planted.mkdir(parents=True)
    payload = f"open({str(marker)!r}, 'a').write('ran\\n')\n"
    for module in (planted.parent / "__init__.py", planted / "__init__.py", planted / "build_workers.py"):
        module.write_text(payload, encoding="utf-8")
    for name in ("sitecustomize.py", "queue.py", "struct.py"):  # modules a worker imports before and after ours
        (tmp_path / "notes" / name).write_text(payload, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "notes")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "notes"))
    monkeypatch.setattr(sys, "path", [".", *sys.path])  # a caller that put its own folder on the path, as "."

    def no_inline(*_args: object) -> list[object]:
        raise AssertionError("a batch was analyzed inline: the workers did not answer")

    monkeypatch.setattr(build_workers, "analyze_batch", no_inline)
    assert list(analyzed_notes(LAYOUT, NOTES, len(NOTES))) == INLINE
    assert not marker.exists()
