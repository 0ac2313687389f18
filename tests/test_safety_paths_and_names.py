"""Where a write may land, what is never trusted, and what the file system may refuse.

Anything under the memory root can come from elsewhere (a synced folder, a clone, an archive): a folder of it
swapped for a symlink must never lead a write outside the root, index files or pickles planted in it must never
be loaded, and `<root>/.project-memory` pointing elsewhere must leave elsewhere alone. A read-only note is refused,
not overwritten. Permission errors, a lock path that is a folder, a read-only file system and a full disk come back
as a tool error that names the file and says what to do, with nothing changed. Bad names are refused clearly.

When the tests run as root (a container), permission bits do not stop root: the permission tests drop
CAP_DAC_OVERRIDE for the calling thread while they run. The read-only file system and full disk tests mount a
small tmpfs in a private mount namespace (`unshare -m`) and skip where that is not allowed.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from mcp import Client

from memory_schema.discussion import DiscussionParts
from memory_schema.errors import PathOutsideMemory, ProjectMemoryError
from server.app import create_server
from server.cache import RootCache
from server.cli import main
from server.memory import ProjectMemory
from support import copy_example, snapshot_tree

SEED = int(os.environ.get("PM_TEST_SEED", "20261202"))
print(f"test_safety_paths_and_names: PM_TEST_SEED={SEED}")

WORKING_MEMORY = "AI助手工作记忆.md"
PARTS = {"question": "原始问题", "thinking": "思维过程", "details": "技术细节", "methodology": "方法论",
         "practice": "实践"}


def _parts(tag: str = "") -> DiscussionParts:
    return DiscussionParts(**{name: f"{text}{tag}" for name, text in PARTS.items()})


def call_tool(root: Path, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """One tool call through the MCP server in process: (is_error, text the model reads)."""

    async def run() -> tuple[bool, str]:
        async with Client(create_server(ProjectMemory(root), watch=False, warm_up=False)) as client:
            result = await client.call_tool(name, arguments)
        return bool(result.is_error), result.content[0].text if result.content else ""

    return anyio.run(run)


def tree_state(folder: Path) -> dict[str, tuple[str, int, bytes | str]]:
    """Every entry under `folder`, symlinks not followed: kind, mode and bytes (or link target)."""
    state: dict[str, tuple[str, int, bytes | str]] = {}
    for path in sorted(folder.rglob("*")):
        info = os.lstat(path)
        rel = str(path.relative_to(folder))
        if stat.S_ISLNK(info.st_mode):
            state[rel] = ("link", 0, os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            state[rel] = ("dir", stat.S_IMODE(info.st_mode), "")
        else:
            state[rel] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return state


# --- folders swapped for symlinks ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_discussion_folder_swapped_for_a_symlink_while_discussions_are_recorded_never_leads_a_write_outside(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    outside = tmp_path / "outside"
    (outside / "深度讨论").mkdir(parents=True)
    folder, parked = root / "深度讨论", root / "深度讨论-parked"
    rng = random.Random(f"{SEED}-symlink-swap")
    stop = threading.Event()
    seen_outside: list[list[str]] = []
    swaps = 0

    def swap() -> None:
        nonlocal swaps
        while not stop.is_set():
            try:
                os.rename(folder, parked)
                os.symlink(outside / "深度讨论" if rng.random() < 0.5 else outside, folder)
                time.sleep(rng.uniform(0, 0.003))
                os.unlink(folder)
                os.rename(parked, folder)
                swaps += 1
            except OSError:  # the server made the folder again while it was parked: put the real one back
                if folder.is_symlink():
                    os.unlink(folder)
                if parked.exists():
                    if folder.exists():
                        for entry in parked.iterdir():
                            os.replace(entry, folder / entry.name)
                        parked.rmdir()
                    else:
                        os.rename(parked, folder)
            found = [str(p) for p in outside.rglob("*") if not p.is_dir()]
            if found:
                seen_outside.append(found)
            time.sleep(rng.uniform(0, 0.003))

    swapper = threading.Thread(target=swap, daemon=True)
    recorded, refused = [], []
    with ProjectMemory(root) as memory:
        swapper.start()
        try:
            for number in range(150):
                try:
                    result = memory.record_discussion(f"主题{number % 7}", _parts(str(number)))
                    recorded.append(result.path)
                except ProjectMemoryError as err:
                    refused.append(str(err))
        finally:
            stop.set()
            swapper.join(timeout=30)
        time.sleep(2.3)  # the after-write checks of the last writes, which also walk that folder
    print(f"{len(recorded)} recorded, {len(refused)} refused, {swaps} swaps; PM_TEST_SEED={SEED}")
    assert swaps > 20, "the folder was hardly ever swapped: the race tested nothing"
    assert seen_outside == []
    assert [p for p in outside.rglob("*") if not p.is_dir()] == []
    for message in refused:  # refused while the folder was a symlink or parked away: each says which note
        assert "深度讨论/主题" in message, message
    assert all((root / path).is_file() for path in set(recorded))


@pytest.mark.slow
def test_a_note_swapped_for_a_symlink_to_elsewhere_while_insights_are_appended_is_never_written_through(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    decoy = tmp_path / "outside" / WORKING_MEMORY
    decoy.parent.mkdir()
    decoy.write_bytes(note.read_bytes())
    decoy_before = decoy.read_bytes()
    parked = root / "parked.md.keep"
    rng = random.Random(f"{SEED}-file-swap")
    stop = threading.Event()
    swaps = 0

    surprises: list[str] = []

    def swap() -> None:
        nonlocal swaps
        while not stop.is_set():
            try:
                os.rename(note, parked)
            except FileNotFoundError:
                surprises.append("the note was missing when the swap began")
                continue
            try:
                os.symlink(decoy, note)
                time.sleep(rng.uniform(0, 0.003))
                os.unlink(note)
            except OSError as err:  # something else stood at the note's name: record it, put the note back
                surprises.append(f"{err!r} while the note was parked")
                if note.is_symlink():
                    os.unlink(note)
            os.rename(parked, note)
            swaps += 1
            time.sleep(rng.uniform(0, 0.005))

    swapper = threading.Thread(target=swap, daemon=True)
    acknowledged, refused = [], []
    with ProjectMemory(root) as memory:
        swapper.start()
        try:
            for number in range(100):
                title = f"洞察{number:03d}"
                try:
                    memory.append_insight(title, "- 正文")
                    acknowledged.append(title)
                except ProjectMemoryError as err:
                    refused.append(str(err))
        finally:
            stop.set()
            swapper.join(timeout=30)
        time.sleep(2.3)
    print(f"{len(acknowledged)} acknowledged, {len(refused)} refused, {swaps} swaps; PM_TEST_SEED={SEED}")
    assert surprises == []
    assert swaps > 20
    assert decoy.read_bytes() == decoy_before, "a write went through the symlink to the file outside the root"
    assert not note.is_symlink()
    text = note.read_text(encoding="utf-8")
    assert [title for title in acknowledged if text.count(f"### {title}\n") != 1] == []


def test_a_discussion_folder_that_is_a_symlink_to_elsewhere_is_refused_and_elsewhere_stays_empty(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(root / "深度讨论")
    (root / "深度讨论").symlink_to(outside)
    is_error, text = call_tool(root, "record_discussion", {"topic": "FlashAttention", **PARTS})
    assert is_error
    assert "not a path inside the memory root" in text and "FlashAttention" in text
    assert "never follows a link" in text and "use a path relative" not in text, "the model gave no path"
    assert list(outside.iterdir()) == []


def test_a_note_that_is_a_symlink_to_a_file_elsewhere_is_never_written_through(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    target = tmp_path / "elsewhere.md"
    target.write_bytes((root / "深度探索TODO.md").read_bytes())
    before = target.read_bytes()
    (root / "深度探索TODO.md").unlink()
    (root / "深度探索TODO.md").symlink_to(target)
    is_error, text = call_tool(root, "add_research_todo", {"item": "比较GQA与MQA"})
    assert is_error and "memory root" in text and "never follows a link" in text, text
    assert target.read_bytes() == before


# --- nothing under the root is trusted ---------------------------------------------------------------------


def plant_pickle_trap(folder: Path, marker: Path) -> None:
    """A genuine Whoosh index whose schema, when unpickled, makes the folder `marker` (any code could run)."""
    from whoosh import fields, index

    class Trap:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.mkdir, (str(marker),))

    body = fields.TEXT(stored=True)
    body.trap = Trap()  # pickled with the schema into the table of contents
    folder.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(folder), fields.Schema(path=fields.ID(stored=True, unique=True), body=body))
    writer = ix.writer()
    writer.add_document(path="AI助手工作记忆.md", body="KV缓存")
    writer.commit()
    ix.close()
    assert not marker.exists()


def test_the_planted_pickle_trap_does_fire_when_whoosh_opens_it(tmp_path: Path) -> None:
    """The probe itself: a planted index that is opened runs the attacker's code."""
    from whoosh import index

    marker = tmp_path / "PWNED"
    plant_pickle_trap(tmp_path / "index", marker)
    index.open_dir(str(tmp_path / "index")).close()
    assert marker.exists()


LEGACY_PLACES = (".project-memory/index", ".project-memory", "index", "深度讨论/.project-memory/index")


def test_an_index_planted_under_the_root_is_never_unpickled_by_the_server_or_any_command(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    marker = tmp_path / "PWNED"
    for place in LEGACY_PLACES:
        plant_pickle_trap(root / place, marker)
    (root / ".project-memory" / "index.lock").write_text("", encoding="utf-8")
    from server.search.request import search_request

    with ProjectMemory(root) as memory:
        memory.ensure_index()
        memory.search(search_request("KV缓存"))
        memory.append_insight("KV缓存的分页", "- vLLM按块分配")
        memory.search(search_request("分页"))
    runner = CliRunner()
    commands = [["reindex"], ["doctor"], ["status"], ["search", "KV缓存"], ["context", "--focus", "KV缓存"],
                ["history"], ["clean-legacy"]]
    for command in commands:
        result = runner.invoke(main, [*command, "--root", str(root)])
        assert result.exit_code in (0, 1), (command, result.output)
        assert not marker.exists(), f"`project-memory {' '.join(command)}` unpickled a planted index"
    result = runner.invoke(main, ["doctor", "--root", str(root)])
    assert "clean-legacy" in result.output  # doctor points at the legacy folder without opening it


def test_a_cache_folder_inside_the_root_is_refused_so_an_index_planted_there_is_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_example(tmp_path)
    marker = tmp_path / "PWNED"
    cache = root / "cache"
    monkeypatch.setenv("PROJECT_MEMORY_CACHE_DIR", str(cache))
    plant_pickle_trap(RootCache.for_root(root.resolve()).index_dir, marker)
    from server.search.request import search_request

    with ProjectMemory(root) as memory:
        memory.ensure_index()
        hits = memory.search(search_request("KV缓存")).hits
        status = memory.index_status()
        with pytest.raises(ProjectMemoryError, match="inside the memory root"):
            memory.append_insight("洞察", "- 内容")
    assert not marker.exists()
    assert hits, "searches still work, by scanning the notes"
    assert status.state == "unavailable" and "PROJECT_MEMORY_CACHE_DIR" in (status.reason or "")


def _elsewhere(tmp_path: Path, marker: Path) -> Path:
    """A folder outside the root that looks like a legacy index folder (and holds a person's file)."""
    elsewhere = tmp_path / "elsewhere"
    plant_pickle_trap(elsewhere / "index", marker)
    (elsewhere / "locks").mkdir()
    (elsewhere / "locks" / "0123abcd.lock").write_text("", encoding="utf-8")
    (elsewhere / "index.lock").write_text("", encoding="utf-8")
    (elsewhere / ".gitignore").write_text("*\n", encoding="utf-8")
    (elsewhere / "我的笔记.md").write_text("# 别处的笔记\n", encoding="utf-8")
    return elsewhere


def test_a_project_memory_folder_that_is_a_symlink_to_elsewhere_leaves_elsewhere_unchanged(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    marker = tmp_path / "PWNED"
    elsewhere = _elsewhere(tmp_path, marker)
    before = tree_state(elsewhere)
    (root / ".project-memory").symlink_to(elsewhere)
    with ProjectMemory(root) as memory:
        memory.ensure_index()
        memory.append_insight("KV缓存的分页", "- vLLM按块分配")
        memory.record_discussion("分页注意力", _parts())
    runner = CliRunner()
    for command in (["reindex"], ["doctor"], ["status"], ["search", "KV"], ["clean-legacy"], ["clean-legacy", "--yes"]):
        result = runner.invoke(main, [*command, "--root", str(root)])
        assert result.exit_code in (0, 1), (command, result.output)
        assert tree_state(elsewhere) == before, f"`project-memory {' '.join(command)}` changed {elsewhere}"
    assert not marker.exists()
    assert not (root / ".project-memory").is_symlink(), "clean-legacy --yes removes the link itself"


def test_clean_legacy_never_follows_symlinks_inside_a_real_legacy_folder(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    marker = tmp_path / "PWNED"
    elsewhere = _elsewhere(tmp_path, marker)
    before = tree_state(elsewhere)
    legacy = root / ".project-memory"
    legacy.mkdir()
    (legacy / "index").symlink_to(elsewhere / "index")
    (legacy / "locks").symlink_to(elsewhere / "locks")
    (legacy / "index.lock").symlink_to(elsewhere / "index.lock")
    result = CliRunner().invoke(main, ["clean-legacy", "--yes", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert tree_state(elsewhere) == before
    assert not marker.exists()


# --- read-only notes and permissions -------------------------------------------------------------------------

WRITE_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "append_insight": (WORKING_MEMORY, {"title": "新洞察", "body": "- 内容"}),
    "record_discussion": ("深度讨论/KV缓存内存计算精确分析.md", {"topic": "KV缓存内存计算精确分析", **PARTS}),
    "update_progress": ("学习进度.md", {"lecture": "3", "status": "done"}),
    "add_research_todo": ("深度探索TODO.md", {"item": "比较GQA与MQA"}),
    "complete_research_todo": ("深度探索TODO.md", {"item": "实测一个125M模型的峰值显存"}),
    "save_lecture_note": ("学习笔记/01-基础建立/01-Lecture01-IntroductionTokenization/01-理论概念.md",
                          {"lecture": "1", "part": "理论概念", "content": "# 新的理论笔记\n\n正文"}),
    "update_section": (WORKING_MEMORY, {"handle": f"{WORKING_MEMORY}#下一步计划", "content": "### 计划\n- 新计划"}),
    "revise_insight": (WORKING_MEMORY, {"title": "BPE算法：从字节自底向上合并", "body": "- 新的正文"}),
}
NEEDS_VERSION = {"save_lecture_note", "update_section", "revise_insight"}


@pytest.mark.parametrize("tool", sorted(WRITE_CALLS))
def test_a_read_only_note_is_refused_by_every_write_tool_and_left_as_it_was(tmp_path: Path, tool: str) -> None:
    root = copy_example(tmp_path)
    target, arguments = WRITE_CALLS[tool]
    if tool in NEEDS_VERSION:
        arguments = {**arguments, "expected_version": ProjectMemory(root).read_text(target).version}
    os.chmod(root / target, 0o444)
    before = snapshot_tree(root)
    is_error, text = call_tool(root, tool, arguments)
    assert is_error, text
    assert "read-only" in text and target in text and "chmod" in text
    assert snapshot_tree(root) == before
    assert stat.S_IMODE(os.stat(root / target).st_mode) == 0o444


def test_a_read_only_working_memory_is_not_overwritten_when_a_new_discussion_lists_itself_there(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    os.chmod(root / WORKING_MEMORY, 0o444)
    before = (root / WORKING_MEMORY).read_bytes()
    is_error, text = call_tool(root, "record_discussion", {"topic": "分页注意力", **PARTS})
    assert (root / WORKING_MEMORY).read_bytes() == before
    assert "read-only" in text and WORKING_MEMORY in text, "the result says the list was not updated, and why"
    assert is_error or (root / "深度讨论" / "分页注意力深度讨论.md").is_file()


_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def permissions_enforced() -> Iterator[None]:
    """Make permission bits bind this thread even as root (drop CAP_DAC_OVERRIDE / _READ_SEARCH meanwhile)."""
    if os.geteuid() != 0:
        yield
        return
    if not sys.platform.startswith("linux"):
        pytest.skip("running as root, and only Linux lets a thread drop its override capabilities")
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        pytest.skip("capget failed")
    saved = data[0].effective
    data[0].effective &= ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH))
    if libc.capset(ctypes.byref(header), data) != 0:
        pytest.skip("capset failed")
    try:
        yield
    finally:
        data[0].effective = saved
        assert libc.capset(ctypes.byref(header), data) == 0


def test_a_discussion_folder_without_write_permission_gives_an_error_naming_the_file_and_the_fix(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    folder = root / "深度讨论"
    before = snapshot_tree(root)
    os.chmod(folder, 0o555)
    try:
        with permissions_enforced(), ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError) as caught:
            memory.record_discussion("分页注意力", _parts())
    finally:
        os.chmod(folder, 0o755)
    message = str(caught.value)
    assert "深度讨论/分页注意力深度讨论.md" in message
    assert "ermission" in message and "nothing was changed" in message
    assert snapshot_tree(root) == before


def test_a_root_folder_without_write_permission_refuses_an_insight_and_says_to_check_permissions(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    os.chmod(root, 0o555)
    try:
        with permissions_enforced(), ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError) as caught:
            memory.append_insight("新洞察", "- 内容")
    finally:
        os.chmod(root, 0o755)
    message = str(caught.value)
    assert WORKING_MEMORY in message and "permission" in message.lower()
    assert snapshot_tree(root) == before
    assert not [p for p in root.iterdir() if p.name.startswith(".pm-")], "a temp file was left behind"


def test_an_unreadable_note_is_refused_with_its_name(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    os.chmod(root / "深度探索TODO.md", 0)
    try:
        with permissions_enforced(), ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError) as caught:
            memory.add_research_todo("比较GQA与MQA")
    finally:
        os.chmod(root / "深度探索TODO.md", 0o644)
    assert "深度探索TODO.md" in str(caught.value) and "ermission" in str(caught.value)


def _note_lock(root: Path, relpath: str) -> Path:
    locks = RootCache.for_root(root.resolve()).ensure("locks") / "locks"
    return locks / f"note-{hashlib.sha1(relpath.encode('utf-8')).hexdigest()}.lock"


def test_a_lock_path_that_is_a_folder_gives_an_error_that_names_the_note_and_where_the_lock_is(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    lock = _note_lock(root, WORKING_MEMORY)
    lock.mkdir()
    before = snapshot_tree(root)
    is_error, text = call_tool(root, "append_insight", {"title": "新洞察", "body": "- 内容"})
    assert is_error
    assert snapshot_tree(root) == before
    assert WORKING_MEMORY in text
    assert str(lock) in text, "the message says where the lock is, so the person can remove it"
    assert "a folder has the note's name" not in text


def test_when_the_journal_cannot_record_a_write_the_note_is_left_unchanged(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    (RootCache.for_root(root.resolve()).ensure("locks") / "locks" / "journal.lock").mkdir()
    before = snapshot_tree(root)
    is_error, text = call_tool(root, "append_insight", {"title": "新洞察", "body": "- 内容"})
    assert is_error, "a write that cannot be journaled cannot be undone: it must be refused"
    assert "nothing was changed" in text
    assert snapshot_tree(root) == before, "the error says nothing was changed, so nothing may have changed"


def test_a_locks_folder_that_is_a_file_refuses_writes_with_the_cache_fix(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    folder = RootCache.for_root(root.resolve()).ensure()
    (folder / "locks").write_text("not a folder", encoding="utf-8")
    before = snapshot_tree(root)
    is_error, text = call_tool(root, "append_insight", {"title": "新洞察", "body": "- 内容"})
    assert is_error
    assert "locks" in text and "PROJECT_MEMORY_CACHE_DIR" in text
    assert snapshot_tree(root) == before


def test_a_cache_folder_that_is_a_symlink_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_example(tmp_path)
    real = tmp_path / "real-cache"
    real.mkdir(mode=0o700)
    (tmp_path / "linked-cache").symlink_to(real)
    monkeypatch.setenv("PROJECT_MEMORY_CACHE_DIR", str(tmp_path / "linked-cache"))
    before = snapshot_tree(root)
    with ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError, match="symbolic link"):
        memory.append_insight("新洞察", "- 内容")
    assert snapshot_tree(root) == before


# --- a read-only file system and a full disk (real ones, in a private mount namespace) -----------------------

_IN_NAMESPACE = textwrap.dedent("""
    import json, os, shutil, subprocess, sys
    from pathlib import Path
    mount, example, scenario = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    root = mount / "memory"
    shutil.copytree(example, root, ignore=shutil.ignore_patterns(".*"))
    if scenario == "full-cache":  # the undo journal shares the full disk: its first write happened before
        os.environ["PROJECT_MEMORY_CACHE_DIR"] = str(mount / "cache")
        from server.memory import ProjectMemory
        with ProjectMemory(root) as memory:
            memory.append_insight("第一条洞察", "- 写在磁盘满之前")
    if scenario == "read-only":
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    elif scenario in ("full", "full-cache"):
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        os.close(fd)
    from memory_schema.errors import ProjectMemoryError
    from server.memory import ProjectMemory
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    try:
        with ProjectMemory(root) as memory:
            memory.append_insight("新洞察", "- 内容")
        outcome = {"error": None}
    except ProjectMemoryError as err:
        outcome = {"error": str(err)}
    after = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    outcome["unchanged"] = before == after
    outcome["leftovers"] = sorted(p.name for p in root.iterdir() if p.name.startswith(".pm-"))
    print(json.dumps(outcome, ensure_ascii=False))
""")


def run_on_small_file_system(tmp_path: Path, scenario: str, cache: Path) -> dict[str, Any]:
    if os.geteuid() != 0 or not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a private tmpfs")
    mount = tmp_path / "mnt"
    mount.mkdir()
    example = Path(__file__).resolve().parents[1] / "examples" / "cs336"
    script = 'mount -t tmpfs -o size=512k tmpfs "$0" && exec "$1" -c "$2" "$0" "$3" "$4"'
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(mount), sys.executable, _IN_NAMESPACE,
         str(example), scenario],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PROJECT_MEMORY_CACHE_DIR": str(cache), "PROJECT_MEMORY_LOG": "ERROR"},
    )
    if done.returncode != 0 and "mount" in done.stderr and not done.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def test_a_read_only_file_system_gives_an_error_that_names_the_note_and_says_so(
    tmp_path: Path, private_cache: Path
) -> None:
    outcome = run_on_small_file_system(tmp_path, "read-only", private_cache)
    assert outcome["error"] is not None
    assert WORKING_MEMORY in outcome["error"] and "read-only" in outcome["error"]
    assert outcome["unchanged"] and outcome["leftovers"] == []


@pytest.mark.parametrize("scenario", ["full", "full-cache"])
def test_a_full_disk_gives_an_error_that_names_the_note_and_says_to_free_space(
    tmp_path: Path, private_cache: Path, scenario: str
) -> None:
    outcome = run_on_small_file_system(tmp_path, scenario, private_cache)
    assert outcome["error"] is not None
    assert WORKING_MEMORY in outcome["error"] and "free some space" in outcome["error"]
    assert outcome["unchanged"] and outcome["leftovers"] == []


# --- names --------------------------------------------------------------------------------------------------

BAD_TOPICS = {
    "leading dot": (".隐藏主题", "'.'"),
    "slash": ("KV/缓存", "/"),
    "backslash": ("KV\\缓存", "\\"),
    "question mark": ("为什么?", "?"),
    "star": ("KV*缓存", "*"),
    "pipe": ("KV|缓存", "|"),
    "colon": ("KV:缓存", ":"),
    "less than": ("KV<缓存", "<"),
    "greater than": ("KV>缓存", ">"),
    "double quote": ('KV"缓存', '"'),
    "control character": ("KV\x07缓存", "control character"),
    "line break": ("KV\n缓存", "one line"),
    "right-to-left override": ("KV\u202e缓存", "U+202E"),
    "zero-width space": ("KV\u200b缓存", "U+200B"),
    "zero-width joiner": ("KV\u200d缓存", "U+200D"),
    "byte order mark": ("KV\ufeff缓存", "U+FEFF"),
    "too long for a file name": ("缓" * 81, "bytes"),
    "trailing dot": ("KV缓存.", "Windows"),
    "reserved on Windows": ("CON", "Windows"),
    "empty": ("   ", "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOPICS))
def test_a_discussion_topic_that_cannot_be_a_file_name_is_refused_clearly_and_writes_nothing(
    tmp_path: Path, case: str
) -> None:
    root = copy_example(tmp_path)
    topic, says = BAD_TOPICS[case]
    before = snapshot_tree(root)
    is_error, text = call_tool(root, "record_discussion", {"topic": topic, **PARTS})
    assert is_error, text
    assert "topic" in text and says in text, text
    assert snapshot_tree(root) == before


def test_the_longest_topic_a_file_name_can_hold_is_accepted(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    topic = "缓" * 80  # 240 bytes + "深度讨论.md" (15 bytes) = 255, the longest name ext4 and APFS store
    is_error, text = call_tool(root, "record_discussion", {"topic": topic, **PARTS})
    assert not is_error, text
    assert (root / "深度讨论" / f"{topic}深度讨论.md").is_file()


BAD_TITLES = {
    "control character": ("标题\x1b[31m", "control character"),
    "right-to-left override": ("标题\u202e", "U+202E"),
    "left-to-right isolate": ("标题\u2066", "U+2066"),
    "zero-width space": ("标\u200b题", "U+200B"),
    "line separator": ("标题\u2028第二行", "one line"),
    "heading marks": ("# 标题", "'#'"),
    "lone surrogate": ("标题\ud800", "surrogate"),
    "too long": ("长" * 121, "121 characters"),
}


@pytest.mark.parametrize("case", sorted(BAD_TITLES))
def test_an_insight_title_with_hidden_or_breaking_characters_is_refused_clearly(case: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    title, says = BAD_TITLES[case]
    before = snapshot_tree(root)
    with ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError) as caught:
        memory.append_insight(title, "- 内容")
    assert "title" in str(caught.value) and says in str(caught.value)
    assert snapshot_tree(root) == before


BAD_PATHS = ["../AI助手工作记忆.md", "/etc/passwd", "~/notes.md", "深度讨论/../../x.md", "%2e%2e/x.md",
             "深度讨论%2fx.md", ".project-memory/index.md", "深度讨论/.secret.md", "a\\b.md", "C:/x.md", "x\x00.md",
             "x\u0085.md", ""]


@pytest.mark.parametrize("path", BAD_PATHS)
@pytest.mark.parametrize("tool", ["read_memory", "update_section"])
def test_a_handle_outside_the_root_or_hidden_is_refused_and_says_why(tmp_path: Path, tool: str, path: str) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    arguments: dict[str, Any] = {"handle": f"{path}#下一步计划" if tool == "update_section" else path}
    if tool == "update_section":
        arguments |= {"content": "- x", "expected_version": "0123456789abcdef"}
    is_error, text = call_tool(root, tool, arguments)
    assert is_error, text
    assert "not a path inside the memory root" in text or "handle" in text, text
    assert snapshot_tree(root) == before


def test_a_path_segment_too_long_for_a_file_name_is_refused_as_such(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError, match="255 bytes"):
        memory.store.write("笔" * 90 + ".md", "# 笔记\n", create=True)
    assert not any(p.name.startswith("笔") for p in root.iterdir())


@pytest.mark.parametrize("part", ["../../../evil", ".hidden", "理论概念/../../x", "04-其他"])
def test_a_lecture_note_part_that_is_not_one_of_the_four_is_refused(tmp_path: Path, part: str) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    with ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError) as caught:
        memory.save_lecture_note("3", part, "# 笔记\n\n正文")
    assert "理论概念" in str(caught.value), "the message lists the parts that exist"
    assert snapshot_tree(root) == before


def test_store_writes_refuse_paths_outside_the_root_before_touching_anything(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with ProjectMemory(root) as memory:
        for path in ("../escape.md", "深度讨论/../../escape.md"):
            with pytest.raises(PathOutsideMemory):
                memory.store.write(path, "# x\n", create=True)
    assert not (tmp_path / "escape.md").exists()


@pytest.mark.slow  # every code point: `.ci/run` runs it after the README command
def test_the_control_and_surrogate_checks_are_unicodes_categories_exactly() -> None:
    import unicodedata

    from server import paths

    for code in range(0x110000):
        char, category = chr(code), unicodedata.category(chr(code))
        assert bool(paths._CONTROL.match(char)) == (category == "Cc"), hex(code)
        assert bool(paths._SURROGATE.match(char)) == (category == "Cs"), hex(code)
