"""The folder watcher against a real watchdog observer on a temporary folder: editor save patterns, folder
moves, bursts, reads, ignored files, stopping and failing callbacks."""

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.paths import is_note_path
from server.watcher import ChangeBatch, FolderWatcher

DEBOUNCE = 0.1

Watch = Callable[[Path, Callable[[ChangeBatch], None]], FolderWatcher]


class Recorder:
    """Collects the batches a watcher delivers, from its worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: list[ChangeBatch] = []

    def __call__(self, batch: ChangeBatch) -> None:
        with self._lock:
            self._batches.append(batch)

    @property
    def batches(self) -> list[ChangeBatch]:
        with self._lock:
            return list(self._batches)

    def touched(self) -> set[str]:
        return {path for batch in self.batches for path in batch.changed | batch.deleted}

    def changed(self) -> set[str]:
        return {path for batch in self.batches for path in batch.changed}

    def verdict(self, path: str) -> str | None:
        """The latest report about `path`: "changed", "deleted", or None if it was never reported."""
        latest = None
        for batch in self.batches:
            assert not batch.changed & batch.deleted, "a batch reported a path both changed and deleted"
            if path in batch.changed:
                latest = "changed"
            elif path in batch.deleted:
                latest = "deleted"
        return latest

    def rescan_requested(self) -> bool:
        return any(batch.rescan for batch in self.batches)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def settles(recorder: Recorder, expected: dict[str, str]) -> bool:
    return wait_for(lambda: all(recorder.verdict(path) == want for path, want in expected.items()))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    return folder


@pytest.fixture
def watch() -> Iterator[Watch]:
    """Start watchers that are stopped at the end of the test."""
    started: list[FolderWatcher] = []

    def start(root: Path, on_change: Callable[[ChangeBatch], None]) -> FolderWatcher:
        watcher = FolderWatcher(root, on_change, is_note=is_note_path, debounce=DEBOUNCE)
        watcher.start()
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        watcher.stop()


def write(path: Path, text: str = "# note\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def only_sentinel_arrives(root: Path, recorder: Recorder) -> bool:
    """Write a note after the actions under test and wait for it: events are delivered in order, so
    anything the earlier actions produced has been reported by the time the sentinel is."""
    write(root / "sentinel.md")
    assert settles(recorder, {"sentinel.md": "changed"})
    return recorder.touched() == {"sentinel.md"} and not recorder.rescan_requested()


def test_writing_a_note_in_place_reports_it_changed(root: Path, watch: Watch) -> None:
    write(root / "note.md")
    recorder = Recorder()
    watcher = watch(root, recorder)
    assert watcher.healthy
    assert watcher.last_event_at is None

    with (root / "note.md").open("a", encoding="utf-8") as f:
        f.write("more\n")

    assert settles(recorder, {"note.md": "changed"})
    assert recorder.touched() == {"note.md"}
    assert watcher.last_event_at is not None


def test_an_atomic_save_through_a_temp_file_reports_only_the_note(root: Path, watch: Watch) -> None:
    write(root / "note.md")
    recorder = Recorder()
    watch(root, recorder)

    write(root / ".note.md.1234.tmp", "# new\n")
    os.replace(root / ".note.md.1234.tmp", root / "note.md")
    write(root / "sentinel.md")

    assert settles(recorder, {"note.md": "changed", "sentinel.md": "changed"})
    assert recorder.touched() == {"note.md", "sentinel.md"}


def test_vims_backup_rename_and_rewrite_reports_the_note_changed_not_deleted(root: Path, watch: Watch) -> None:
    write(root / "note.md")
    recorder = Recorder()
    watch(root, recorder)

    write(root / ".note.md.swp", "swap")
    write(root / "4913", "")
    (root / "4913").unlink()
    os.rename(root / "note.md", root / "note.md~")
    write(root / "note.md", "# rewritten\n")
    (root / "note.md~").unlink()
    (root / ".note.md.swp").unlink()
    write(root / "sentinel.md")

    assert settles(recorder, {"note.md": "changed", "sentinel.md": "changed"})
    assert recorder.touched() == {"note.md", "sentinel.md"}


def test_jetbrains_safe_write_reports_the_note_changed(root: Path, watch: Watch) -> None:
    write(root / "note.md")
    recorder = Recorder()
    watch(root, recorder)

    write(root / "note.md___jb_tmp___", "# rewritten\n")
    os.rename(root / "note.md", root / "note.md___jb_old___")
    os.rename(root / "note.md___jb_tmp___", root / "note.md")
    (root / "note.md___jb_old___").unlink()
    write(root / "sentinel.md")

    assert settles(recorder, {"note.md": "changed", "sentinel.md": "changed"})
    assert recorder.touched() == {"note.md", "sentinel.md"}


def test_deleting_a_note_reports_it_deleted(root: Path, watch: Watch) -> None:
    write(root / "sub" / "note.md")
    recorder = Recorder()
    watch(root, recorder)

    (root / "sub" / "note.md").unlink()

    assert settles(recorder, {"sub/note.md": "deleted"})


def test_deleting_and_recreating_a_note_reports_it_changed(root: Path, watch: Watch) -> None:
    write(root / "note.md")
    recorder = Recorder()
    watch(root, recorder)

    (root / "note.md").unlink()
    write(root / "note.md", "# again\n")

    assert settles(recorder, {"note.md": "changed"})


def test_renaming_a_folder_deletes_the_old_paths_and_changes_the_new_ones(root: Path, watch: Watch) -> None:
    write(root / "lectures" / "a.md")
    write(root / "lectures" / "deep" / "b.md")
    write(root / "lectures" / "image.png")
    recorder = Recorder()
    watch(root, recorder)

    os.rename(root / "lectures", root / "archive")

    expected = {
        "lectures/a.md": "deleted",
        "lectures/deep/b.md": "deleted",
        "archive/a.md": "changed",
        "archive/deep/b.md": "changed",
    }
    assert settles(recorder, expected)
    assert recorder.touched() == set(expected)


def test_deleting_a_folder_reports_its_notes_deleted_and_asks_for_a_rescan(root: Path, watch: Watch) -> None:
    write(root / "lectures" / "a.md")
    write(root / "lectures" / "deep" / "b.md")
    recorder = Recorder()
    watch(root, recorder)

    shutil.rmtree(root / "lectures")

    assert settles(recorder, {"lectures/a.md": "deleted", "lectures/deep/b.md": "deleted"})
    assert wait_for(recorder.rescan_requested)


def test_moving_a_folder_out_of_the_root_asks_for_a_rescan(root: Path, tmp_path: Path, watch: Watch) -> None:
    write(root / "lectures" / "a.md")
    recorder = Recorder()
    watch(root, recorder)

    os.rename(root / "lectures", tmp_path / "trash")

    assert wait_for(recorder.rescan_requested)
    assert "lectures/a.md" not in recorder.changed()


def test_a_burst_of_500_writes_arrives_complete_in_a_few_batches(root: Path, watch: Watch) -> None:
    recorder = Recorder()
    watch(root, recorder)
    names = {f"burst/note-{i:03}.md" for i in range(500)}

    (root / "burst").mkdir()
    for name in sorted(names):
        (root / name).write_text(f"# {name}\n", encoding="utf-8")

    assert wait_for(lambda: recorder.changed() >= names)
    assert recorder.changed() == names
    assert len(recorder.batches) <= 10


def test_reading_a_note_reports_nothing(root: Path, watch: Watch) -> None:
    write(root / "note.md")
    recorder = Recorder()
    watch(root, recorder)

    for _ in range(3):
        with (root / "note.md").open(encoding="utf-8") as f:
            f.read()
    (root / "note.md").stat()

    assert only_sentinel_arrives(root, recorder)


def test_index_files_swap_files_and_other_files_report_nothing(root: Path, watch: Watch) -> None:
    recorder = Recorder()
    watch(root, recorder)

    write(root / ".project-memory" / "index" / "segment.md")
    write(root / ".project-memory" / "lock")
    write(root / ".note.md.swp")
    write(root / "note.md.swp")
    write(root / ".git" / "notes.md")
    write(root / "picture.png")
    write(root / "note.md.pm-tmp")
    (root / ".project-memory").rename(root / ".project-memory-old")
    shutil.rmtree(root / ".project-memory-old")

    assert only_sentinel_arrives(root, recorder)


def test_stop_returns_promptly_during_a_burst(root: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    watcher = FolderWatcher(root, recorder, is_note=is_note_path, debounce=DEBOUNCE)
    watcher.start()
    writing = threading.Event()
    done = threading.Event()

    def keep_writing() -> None:
        i = 0
        while not done.is_set():
            (root / f"note-{i % 200}.md").write_text(f"{i}\n", encoding="utf-8")
            writing.set()
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert writing.wait(5)
        assert wait_for(lambda: watcher.last_event_at is not None)
        began = time.monotonic()
        watcher.stop(timeout=2.0)
        assert time.monotonic() - began < 2.0 + 3.0  # its own bound, and room for a loaded machine's scheduling
        assert not watcher.healthy
        delivered = len(recorder.batches)
    finally:
        done.set()
        writer.join()
    assert len(recorder.batches) == delivered
    watcher.stop()  # a second stop is harmless


def test_a_failing_callback_is_logged_and_later_batches_still_arrive(
    root: Path, watch: Watch, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    calls = 0

    def fail_first(batch: ChangeBatch) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("index is busy")
        recorder(batch)

    watcher = watch(root, fail_first)
    write(root / "first.md")
    assert wait_for(lambda: calls >= 1)
    write(root / "second.md")

    assert settles(recorder, {"second.md": "changed"})
    assert watcher.healthy
    assert any(record.levelno == logging.ERROR and record.exc_info for record in caplog.records)


def test_a_folder_that_cannot_be_watched_leaves_the_watcher_unhealthy_instead_of_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = FolderWatcher(tmp_path / "missing", Recorder(), is_note=is_note_path, debounce=DEBOUNCE)

    watcher.start()

    assert not watcher.healthy
    assert any(record.levelno == logging.WARNING for record in caplog.records)
    watcher.stop()


def test_deleting_the_watched_folder_makes_the_watcher_unhealthy(root: Path, watch: Watch) -> None:
    watcher = watch(root, Recorder())
    assert watcher.healthy

    shutil.rmtree(root)

    assert wait_for(lambda: not watcher.healthy)


def test_stopping_a_watcher_that_never_started_is_harmless(root: Path) -> None:
    watcher = FolderWatcher(root, Recorder(), is_note=is_note_path)
    watcher.stop()
    assert not watcher.healthy


def test_a_steady_stream_of_writes_is_still_flushed_within_max_wait(root: Path) -> None:
    recorder = Recorder()
    # The debounce alone would hold the batch until long after the test gave up.
    watcher = FolderWatcher(root, recorder, is_note=is_note_path, debounce=30.0, max_wait=0.3)
    watcher.start()
    done = threading.Event()

    def keep_writing() -> None:
        deadline = time.monotonic() + 4.0
        i = 0
        while not recorder.batches and time.monotonic() < deadline:
            (root / f"note-{i % 20}.md").write_text(f"{i}\n", encoding="utf-8")
            i += 1
            time.sleep(0.02)
        done.set()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert wait_for(lambda: bool(recorder.batches) or done.is_set())
        assert recorder.batches, "no batch arrived while writes kept coming"
    finally:
        done.set()
        writer.join()
        watcher.stop()
