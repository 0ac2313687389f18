import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from memory_schema.errors import (
    DocumentChanged,
    DocumentNotFound,
    InvalidInput,
    PathOutsideMemory,
    ProjectMemoryError,
    StorageError,
    UnreadableDocument,
)
from server import store as store_module
from server.fs import Folder
from server.paths import is_ignored_name
from server.store import MAX_DOCUMENT_BYTES, NoteStore

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "memory"
    folder.mkdir()
    return folder


@pytest.fixture
def store(root: Path) -> NoteStore:
    return NoteStore(root)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.md").write_bytes(b"secret\n")
    return folder


def temp_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.startswith(".pm-")]


REFUSED_PATHS = [
    "",
    "   ",
    "/etc/passwd.md",
    "C:/x.md",
    "c:x.md",
    "~/notes.md",
    "~root.md",
    "../x.md",
    "notes/../../x.md",
    "notes/..",
    "a\x00.md",
    "a\\b.md",
    "..\\x.md",
    "%2e%2e/x.md",
    "notes%2fx.md",
    "x%00.md",
    "a\nb.md",
    "a\x7f.md",
    ".",
    "./",
    ".project-memory/x.md",
    "./.project-memory/x.md",
]


@pytest.mark.parametrize("relpath", REFUSED_PATHS)
def test_paths_that_could_leave_the_root_are_refused_for_reading_and_writing(
    store: NoteStore, root: Path, relpath: str
) -> None:
    with pytest.raises(PathOutsideMemory):
        store.resolve(relpath)
    with pytest.raises(PathOutsideMemory):
        store.read(relpath)
    with pytest.raises(PathOutsideMemory):
        store.write(relpath, "x", create=True)
    assert list(root.rglob("*.md")) == []


def test_the_refusal_says_why_in_words(store: NoteStore) -> None:
    with pytest.raises(PathOutsideMemory, match=r"'\.\.' segment"):
        store.read("../x.md")
    with pytest.raises(PathOutsideMemory, match="percent-escape"):
        store.read("%2e%2e/x.md")


@pytest.mark.parametrize("relpath", ["100%.md", "%zz.md", "a b/c d.md", "深度讨论/KV缓存.md", "x..y.md"])
def test_unusual_but_harmless_names_are_accepted(store: NoteStore, root: Path, relpath: str) -> None:
    store.write(relpath, "ok\n", create=True)
    assert store.read(relpath).text == "ok\n"
    assert (root / relpath).read_bytes() == b"ok\n"


def test_paths_are_normalized_to_clean_relative_posix(store: NoteStore, root: Path) -> None:
    snapshot = store.write("./notes//a.md", "x", create=True)
    assert snapshot.path == "notes/a.md"
    assert store.resolve("notes/./a.md") == root / "notes" / "a.md"


def test_a_symlink_to_a_file_outside_the_root_is_refused(store: NoteStore, root: Path, outside: Path) -> None:
    (root / "link.md").symlink_to(outside / "secret.md")
    with pytest.raises(PathOutsideMemory, match="outside"):
        store.read("link.md")
    with pytest.raises(PathOutsideMemory):
        store.write("link.md", "overwritten", create=True)
    assert (outside / "secret.md").read_bytes() == b"secret\n"


def test_a_symlinked_folder_leading_outside_the_root_is_refused(
    store: NoteStore, root: Path, outside: Path
) -> None:
    (root / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathOutsideMemory):
        store.read("linked/secret.md")
    with pytest.raises(PathOutsideMemory):
        store.write("linked/new.md", "x", create=True)
    assert sorted(path.name for path in outside.iterdir()) == ["secret.md"]


def test_a_symlink_into_the_index_folder_is_refused(store: NoteStore, root: Path) -> None:
    (root / ".project-memory").mkdir()
    (root / "index").symlink_to(root / ".project-memory", target_is_directory=True)
    with pytest.raises(PathOutsideMemory, match="index"):
        store.write("index/x.md", "x", create=True)


def test_a_symlink_inside_the_root_is_followed_and_kept(store: NoteStore, root: Path) -> None:
    (root / "real.md").write_text("real\n", encoding="utf-8")
    (root / "alias.md").symlink_to(root / "real.md")
    store.edit("alias.md", lambda text: text + "more\n")
    assert (root / "alias.md").is_symlink()
    assert (root / "real.md").read_text(encoding="utf-8") == "real\nmore\n"


@pytest.mark.parametrize("relpath", ["notes.txt", "script.py", "notes.md.bak", "folder/README"])
def test_only_markdown_files_can_be_written(store: NoteStore, root: Path, relpath: str) -> None:
    with pytest.raises(InvalidInput, match=r"\.md"):
        store.write(relpath, "x", create=True)
    assert not (root / relpath).exists()


def test_a_markdown_name_linked_to_another_kind_of_file_cannot_be_written(
    store: NoteStore, root: Path
) -> None:
    (root / "script.py").write_text("print()\n", encoding="utf-8")
    (root / "looks-like-a-note.md").symlink_to(root / "script.py")
    with pytest.raises(InvalidInput):
        store.write("looks-like-a-note.md", "x")
    assert (root / "script.py").read_text(encoding="utf-8") == "print()\n"


def test_bom_crlf_trailing_spaces_and_no_final_newline_survive_a_round_trip(
    store: NoteStore, root: Path
) -> None:
    original = "\ufeff# 标题\r\ntrailing spaces   \r\n\r\nno final newline".encode()
    (root / "note.md").write_bytes(original)
    snapshot = store.read("note.md")
    assert snapshot.text.startswith("\ufeff# 标题\r\n")
    assert snapshot.text.encode("utf-8") == original
    store.edit("note.md", lambda text: text + "!")
    assert (root / "note.md").read_bytes() == original + b"!"


def test_the_version_is_a_short_sha256_of_the_bytes_and_changes_with_the_content(
    store: NoteStore, root: Path
) -> None:
    (root / "note.md").write_bytes(b"one\r\n")
    first = store.read("note.md")
    assert first.version == hashlib.sha256(b"one\r\n").hexdigest()[:16]
    assert NoteStore.version_of(first.text) == first.version
    second = store.write("note.md", "two\r\n")
    assert second.version != first.version
    assert store.read("note.md") == second


def test_a_stale_expected_version_raises_and_leaves_the_file_byte_identical(
    store: NoteStore, root: Path
) -> None:
    seen = store.write("note.md", "first\n", create=True)
    (root / "note.md").write_bytes(b"someone else\r\n")
    with pytest.raises(DocumentChanged):
        store.write("note.md", "mine\n", expected_version=seen.version)
    with pytest.raises(DocumentChanged):
        store.write("note.md", "mine\n", expected_version=seen.version, create=True)
    assert (root / "note.md").read_bytes() == b"someone else\r\n"


def test_a_matching_expected_version_lets_the_write_through(store: NoteStore) -> None:
    seen = store.write("note.md", "first\n", create=True)
    assert store.write("note.md", "second\n", expected_version=seen.version).text == "second\n"


def test_a_note_that_vanished_does_not_match_an_expected_version(store: NoteStore, root: Path) -> None:
    seen = store.write("note.md", "first\n", create=True)
    (root / "note.md").unlink()
    with pytest.raises(DocumentChanged):
        store.write("note.md", "again\n", expected_version=seen.version, create=True)
    assert not (root / "note.md").exists()


def test_a_missing_note_is_not_found_unless_create_is_set(store: NoteStore, root: Path) -> None:
    with pytest.raises(DocumentNotFound):
        store.write("new/folder/note.md", "x")
    assert not (root / "new").exists()
    created = store.write("new/folder/note.md", "x", create=True)
    assert created.path == "new/folder/note.md"
    assert (root / "new" / "folder" / "note.md").read_bytes() == b"x"


def test_create_on_an_existing_note_edits_it(store: NoteStore) -> None:
    store.write("note.md", "one\n", create=True)
    assert store.edit("note.md", lambda text: text + "two\n", create=True).text == "one\ntwo\n"


def test_an_unchanged_text_is_not_written_again(store: NoteStore, root: Path) -> None:
    seen = store.write("note.md", "same\n", create=True)
    inode = (root / "note.md").stat().st_ino
    assert store.write("note.md", "same\n") == seen
    assert (root / "note.md").stat().st_ino == inode


def test_change_raising_leaves_the_file_untouched_and_no_temp_file(store: NoteStore, root: Path) -> None:
    store.write("note.md", "keep\n", create=True)

    def refuse(text: str) -> str:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        store.edit("note.md", refuse)
    assert (root / "note.md").read_bytes() == b"keep\n"
    assert temp_files(root) == []


def test_a_failed_replace_leaves_the_old_file_and_no_temp_file(
    store: NoteStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write("note.md", "keep\n", create=True)

    def fail(*_args: object) -> bool:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Folder, "exchange", fail)
    monkeypatch.setattr(Folder, "replace", fail)
    with pytest.raises(StorageError,
                       match=r"note.md could not be written: No space left.*nothing was changed.*disk is full"):
        store.write("note.md", "lost\n")
    assert (root / "note.md").read_bytes() == b"keep\n"
    assert temp_files(root) == []


def test_text_that_utf8_cannot_hold_is_refused_before_writing(store: NoteStore, root: Path) -> None:
    store.write("note.md", "keep\n", create=True)
    with pytest.raises(InvalidInput):
        store.write("note.md", "lone surrogate \ud800")
    assert (root / "note.md").read_bytes() == b"keep\n"
    assert temp_files(root) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"caf\xe9\n", "UTF-8"), (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"), (b"\xff\xfe#\x00 \x00", "binary")],
)
def test_invalid_utf8_and_binary_files_are_unreadable_and_never_overwritten(
    store: NoteStore, root: Path, content: bytes, reason: str
) -> None:
    (root / "odd.md").write_bytes(content)
    with pytest.raises(UnreadableDocument, match=reason):
        store.read("odd.md")
    with pytest.raises(UnreadableDocument):
        store.write("odd.md", "replacement", create=True)
    assert (root / "odd.md").read_bytes() == content


def test_documents_over_the_size_limit_are_refused(store: NoteStore, root: Path) -> None:
    (root / "huge.md").write_bytes(b"a" * (MAX_DOCUMENT_BYTES + 1))
    with pytest.raises(UnreadableDocument, match="larger than 8 MiB"):
        store.read("huge.md")
    with pytest.raises(InvalidInput, match="8 MiB"):
        store.write("big.md", "a" * (MAX_DOCUMENT_BYTES + 1), create=True)
    assert not (root / "big.md").exists()


def test_a_folder_or_a_fifo_named_like_a_note_is_unreadable(store: NoteStore, root: Path) -> None:
    (root / "folder.md").mkdir()
    with pytest.raises(UnreadableDocument):
        store.read("folder.md")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "pipe.md")
        with pytest.raises(UnreadableDocument, match="regular file"):
            store.read("pipe.md")


def test_a_note_deleted_after_listing_is_not_found(store: NoteStore, root: Path) -> None:
    store.write("gone.md", "x", create=True)
    assert list(store.iter_markdown()) == ["gone.md"]
    (root / "gone.md").unlink()
    with pytest.raises(DocumentNotFound):
        store.read("gone.md")
    with pytest.raises(DocumentNotFound):
        store.stat("gone.md")
    assert not store.exists("gone.md")


def test_stat_reports_size_and_modification_time(store: NoteStore, root: Path) -> None:
    store.write("note.md", "12345", create=True)
    info = store.stat("note.md")
    assert info.size == 5
    assert info.mtime_ns == (root / "note.md").stat().st_mtime_ns
    assert store.exists("note.md")


def test_iter_markdown_lists_notes_sorted_and_skips_temp_backup_dot_and_index_files(
    store: NoteStore, root: Path, outside: Path
) -> None:
    notes = ["b.md", "notes/a.md", "notes/sub/c.md", "深度讨论/KV缓存.md"]
    skipped = [
        ".project-memory/x.md", ".git/y.md", ".hidden.md", "notes/.draft/z.md", "notes/a.md~",
        "notes/.a.md.swp", "notes/.a.md.swx", "a.md___jb_tmp___", "a.md___jb_old___",
        ".a.md.k2j3.pm-tmp", ".#a.md", "notes/4913", "x.txt", "README",
    ]
    for relpath in notes + skipped:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text("x", encoding="utf-8")
    (root / "alias.md").symlink_to(root / "b.md")
    (root / "leak.md").symlink_to(outside / "secret.md")
    (root / "outside-folder").symlink_to(outside, target_is_directory=True)
    (root / "inside-folder").symlink_to(root / "notes", target_is_directory=True)
    (root / "dangling.md").symlink_to(root / "missing.md")
    assert list(store.iter_markdown()) == sorted([*notes, "alias.md"])


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("note.md~", True), (".note.md.swp", True), (".note.md.swx", True), ("note.md___jb_tmp___", True),
        ("note.md___jb_old___", True), (".note.md.abc.pm-tmp", True), (".#note.md", True), ("4913", True),
        ("note.md", False), ("4913.md", False), ("swp.md", False),
    ],
)
def test_editor_temp_and_backup_names_are_recognized(name: str, ignored: bool) -> None:
    assert is_ignored_name(name) is ignored


def test_permission_bits_of_an_existing_note_are_kept(store: NoteStore, root: Path) -> None:
    store.write("note.md", "one\n", create=True)
    (root / "note.md").chmod(0o640)
    store.write("note.md", "two\n")
    assert stat.S_IMODE((root / "note.md").stat().st_mode) == 0o640


def test_a_new_note_gets_the_umask_permissions_not_private_temp_ones(store: NoteStore, root: Path) -> None:
    previous = os.umask(0o022)
    try:
        store.write("note.md", "x", create=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((root / "note.md").stat().st_mode) == 0o644


def test_locks_live_in_the_users_cache_and_nothing_but_the_note_is_added_to_the_root(
    store: NoteStore, root: Path, private_cache: Path
) -> None:
    store.write("note.md", "x", create=True)
    assert sorted(p.name for p in root.iterdir()) == ["note.md"]
    locks = list(store.cache.locks_dir.glob("note-*.lock"))
    assert len(locks) == 1 and private_cache in locks[0].parents
    assert stat.S_IMODE(store.cache.folder.stat().st_mode) == 0o700


def test_an_edit_while_another_holder_has_the_lock_times_out_asking_to_retry(
    store: NoteStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "LOCK_TIMEOUT_SECONDS", 0.05)
    store.write("note.md", "x", create=True)
    (root / "alias.md").symlink_to(root / "note.md")

    def edit_again(text: str) -> str:
        # A second store stands in for another process: its lock is a separate open of the lock file.
        NoteStore(root).edit("alias.md", lambda inner: inner + "nested")
        return text + "outer"

    with pytest.raises(ProjectMemoryError, match=r"another process has held alias\.md.*retry"):
        store.edit("note.md", edit_again)
    assert (root / "note.md").read_bytes() == b"x"


APPEND_SCRIPT = """
import sys, time
from pathlib import Path
from server.store import NoteStore

root, worker, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
deadline = time.monotonic() + 10
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
store = NoteStore(root)
for n in range(25):
    line = f"worker {worker} line {n:02d}\\n"
    store.edit("shared.md", lambda text, line=line: text + line, create=True)
"""


@pytest.mark.slow
def test_four_processes_appending_at_once_lose_no_line(root: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", APPEND_SCRIPT, str(root), str(worker), str(go)],
            cwd=REPO, env=env, stderr=subprocess.PIPE, encoding="utf-8",
        )
        for worker in range(4)
    ]
    go.touch()  # start them together so their edits overlap
    for process in workers:
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors
    lines = (root / "shared.md").read_text(encoding="utf-8").splitlines()
    expected = [f"worker {worker} line {n:02d}" for worker in range(4) for n in range(25)]
    assert sorted(lines) == expected
    for worker in range(4):  # the lock also keeps each process's own lines in order
        own = [line for line in lines if line.startswith(f"worker {worker} ")]
        assert own == expected[25 * worker : 25 * (worker + 1)]
    assert temp_files(root) == []


@pytest.mark.slow  # seconds of waiting or a whole corpus: `.ci/run` runs it after the README command
def test_undone_writes_stay_undone_when_the_bytes_they_restore_were_written_before(tmp_path: Path) -> None:
    """An undo restores bytes an earlier write left, so the journal holds the same bytes twice: the after-write
    watch of the earlier writes must still see the note as written by servers alone. Nothing undone comes back
    and no later section update is replaced by an earlier one."""
    import time

    from server.afterwrite import AFTER_WRITE_SECONDS
    from server.memory import ProjectMemory
    from support import copy_example

    root = copy_example(tmp_path)
    memory = ProjectMemory(root)
    handle = "AI助手工作记忆.md#下一步计划"
    try:
        for round_ in range(2):
            memory.append_insight(f"洞察{round_}", f"- 内容{round_}")
            page = memory.read_page(handle, 0)
            memory.update_section(handle, f"- 第{round_}轮", page.version)
            page = memory.read_page("AI助手工作记忆.md", 0)
            memory.revise_insight(f"洞察{round_}", f"- 修订{round_}", page.version)
            undone = memory.append_insight(f"撤销{round_}", "- x")
            assert undone.write_id
            memory.undo(undone.write_id)
        time.sleep(AFTER_WRITE_SECONDS + 0.5)
    finally:
        memory.store.close()
    text = (root / "AI助手工作记忆.md").read_text(encoding="utf-8")
    assert "撤销0" not in text and "撤销1" not in text
    assert "- 第1轮" in text and "- 第0轮" not in text


def test_a_folder_swapped_for_a_symlink_after_the_path_check_is_never_read_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "memory"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "a.md").write_text("# mine\n", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.md").write_text("# SECRET\n", encoding="utf-8")
    store = NoteStore(root)
    checked = store_module.confine

    def confine_then_swap(base: Path, relpath: str) -> tuple[str, Path]:
        found = checked(base, relpath)
        (root / "notes").rename(root / "notes-away")
        (root / "notes").symlink_to(outside, target_is_directory=True)
        return found

    monkeypatch.setattr(store_module, "confine", confine_then_swap)
    with pytest.raises(ProjectMemoryError) as caught:
        store.read("notes/a.md")
    assert "SECRET" not in str(caught.value)


@pytest.mark.slow  # seconds of waiting or a whole corpus: `.ci/run` runs it after the README command
def test_a_completion_whose_item_a_later_save_removed_stays_the_persons_choice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone puts back an older research TODO without the item a tool just completed (added long before):
    the after-write watch cannot re-apply the completion, leaves the person's text alone and says so in one
    line."""
    import logging
    import time

    from server.afterwrite import AFTER_WRITE_SECONDS
    from server.memory import ProjectMemory
    from support import copy_example

    root = copy_example(tmp_path)
    todo = root / "深度探索TODO.md"
    older = todo.read_bytes()
    memory = ProjectMemory(root)
    try:
        memory.add_research_todo("实测新的想法")
        time.sleep(AFTER_WRITE_SECONDS + 0.5)  # long settled: no longer watched
        memory.complete_research_todo("实测新的想法")
        with caplog.at_level(logging.INFO, logger="server.afterwrite"):
            todo.write_bytes(older)  # the person restores the older version
            time.sleep(AFTER_WRITE_SECONDS + 0.5)
    finally:
        memory.store.close()
    assert todo.read_bytes() == older
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert any("was not re-applied" in r.getMessage() for r in caplog.records), caplog.text


def test_a_write_makes_its_bytes_and_its_rename_durable(
    store: NoteStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fsync calls that make a write survive a power cut, which no test can cause: the note's new file (the
    temp file, by its inode) before the rename, and the note's folder after it."""
    if sys.platform == "win32":
        pytest.skip("a folder cannot be opened to sync it on Windows")
    synced: list[tuple[bool, int]] = []

    def fsync(fd: int) -> None:
        status = os.fstat(fd)
        synced.append((stat.S_ISDIR(status.st_mode), status.st_ino))

    monkeypatch.setattr(os, "fsync", fsync)
    for creating in (True, False):
        synced.clear()
        if creating:
            store.write("notes.md", "# 笔记\n", create=True)
        else:
            store.write("notes.md", "# 笔记\n\n第二版\n", expected_version=store.read("notes.md").version)
        note, folder = (False, (root / "notes.md").stat().st_ino), (True, root.stat().st_ino)
        assert note in synced and folder in synced, synced
        assert synced.index(note) < synced.index(folder), synced


def test_a_folder_named_with_a_dot_segment_lists_clean_paths(tmp_path: Path) -> None:
    from server.store import NoteStore

    (tmp_path / "讨论").mkdir()
    (tmp_path / "讨论" / "a.md").write_text("# a\n", encoding="utf-8")
    store = NoteStore(tmp_path)
    assert list(store.iter_markdown("讨论/.")) == list(store.iter_markdown("讨论")) == ["讨论/a.md"]
