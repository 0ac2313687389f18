"""Every tool write can be taken back, and a server killed mid-write leaves nothing torn, lost or doubled.

`undo_last_write` (and `project-memory undo [ID]`) restores the bytes a write replaced, byte for byte, but only
while the files still hold exactly what that write left; otherwise it refuses and says how to compare
(`project-memory history --show ID`). A server process killed with SIGKILL at any moment of a write leaves every
note whole: every acknowledged write present once, the interrupted one present at most once (and exactly once
after the retry), and the journal still readable.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from mcp import Client

from memory_schema.discussion import DiscussionParts
from memory_schema.errors import ProjectMemoryError
from server.afterwrite import AFTER_WRITE_SECONDS
from server.app import create_server
from server.cache import RootCache
from server.cli import main
from server.journal import new_write_id
from server.memory import ProjectMemory
from support import copy_example, snapshot_tree

SEED = int(os.environ.get("PM_TEST_SEED", "20261202"))
print(f"test_safety_undo_and_crash: PM_TEST_SEED={SEED}")

WORKING_MEMORY = "AI助手工作记忆.md"
PARTS = {"question": "原始问题是什么", "thinking": "先想再算", "details": "公式与数值", "methodology": "先算账",
         "practice": "直接可用的建议"}
LECTURE_01 = "学习笔记/01-基础建立/01-Lecture01-IntroductionTokenization/01-理论概念.md"

Arguments = Callable[[ProjectMemory], dict[str, Any]]


def _version(path: str) -> Arguments:
    def arguments(memory: ProjectMemory) -> dict[str, Any]:
        return {"expected_version": memory.read_text(path).version}

    return arguments


WRITES: dict[str, tuple[str, dict[str, Any], Arguments | None]] = {
    "append_insight": ("append_insight", {"title": "FlashAttention的IO视角", "body": "- 瓶颈是HBM带宽"}, None),
    "revise_insight": ("revise_insight", {"title": "BPE算法：从字节自底向上合并", "body": "- 改写后的正文"},
                       _version(WORKING_MEMORY)),
    "record_discussion (new topic, two files)": ("record_discussion", {"topic": "FlashAttention", **PARTS}, None),
    "record_discussion (a new round)": ("record_discussion", {"topic": "KV缓存内存计算精确分析", **PARTS}, None),
    "update_progress (two files)": ("update_progress", {"lecture": "3", "status": "done", "note": "读完了"}, None),
    "add_research_todo": ("add_research_todo", {"item": "比较GQA与MQA的KV缓存", "topic": "内存与性能"}, None),
    "complete_research_todo": ("complete_research_todo", {"item": "实测一个125M模型的峰值显存"}, None),
    "save_lecture_note (new note, new folder)": (
        "save_lecture_note", {"lecture": "3", "part": "理论概念", "content": "# Transformer\n\n- pre-norm"}, None),
    "save_lecture_note (replace)": ("save_lecture_note", {"lecture": "1", "part": "理论概念", "content": "# 新\n"},
                                    _version(LECTURE_01)),
    "update_section": ("update_section", {"handle": f"{WORKING_MEMORY}#下一步计划", "content": "### 本周\n- 读论文"},
                       _version(WORKING_MEMORY)),
}


Call = tuple[str, dict[str, Any]] | Callable[[], None]


async def _session(root: Path, calls: list[Call]) -> list[tuple[bool, str, dict[str, Any]]]:
    outcomes = []
    async with Client(create_server(ProjectMemory(root), watch=False, warm_up=False)) as client:
        for call in calls:
            if callable(call):  # something the test does between two tool calls
                call()
                continue
            name, arguments = call
            result = await client.call_tool(name, arguments)
            text = result.content[0].text if result.content else ""
            outcomes.append((bool(result.is_error), text, result.structured_content or {}))
    return outcomes


def call_tools(root: Path, *calls: Call) -> list[tuple[bool, str, dict[str, Any]]]:
    """Tool calls through one in-process MCP session: (is_error, text, structured result) of each."""
    return anyio.run(_session, root, list(calls))


def _arguments(root: Path, case: str) -> tuple[str, dict[str, Any]]:
    tool, arguments, extra = WRITES[case]
    if extra is not None:
        with ProjectMemory(root) as memory:
            arguments = {**arguments, **extra(memory)}
    return tool, arguments


@pytest.mark.parametrize("case", list(WRITES))
def test_undo_last_write_after_each_write_tool_returns_every_file_byte_identical(tmp_path: Path, case: str) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    tool, arguments = _arguments(root, case)
    between: list[dict[str, bytes]] = []
    (write_error, write_text, written), (undo_error, undo_text, _) = call_tools(
        root, (tool, arguments), lambda: between.append(snapshot_tree(root)), ("undo_last_write", {}))
    assert not write_error, write_text
    assert written["changed"] and written["write_id"]
    assert between[0] != before, "the write changed nothing: the test tested nothing"
    assert not undo_error, undo_text
    assert written["write_id"] in undo_text
    assert snapshot_tree(root) == before


@pytest.mark.parametrize("case", ["append_insight", "record_discussion (new topic, two files)", "update_section"])
def test_project_memory_undo_with_the_write_id_returns_every_file_byte_identical(tmp_path: Path, case: str) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    tool, arguments = _arguments(root, case)
    [(is_error, text, written)] = call_tools(root, (tool, arguments))
    assert not is_error, text
    runner = CliRunner()
    listed = runner.invoke(main, ["history", "--root", str(root)])
    assert listed.exit_code == 0 and written["write_id"] in listed.output and tool in listed.output
    undone = runner.invoke(main, ["undo", written["write_id"], "--root", str(root)])
    assert undone.exit_code == 0, undone.output
    assert snapshot_tree(root) == before
    again = runner.invoke(main, ["undo", written["write_id"], "--root", str(root)])
    assert again.exit_code == 2 and "already undone" in again.output


def test_undo_restores_a_bom_and_crlf_note_byte_for_byte(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    note.write_bytes(b"\xef\xbb\xbf" + note.read_bytes().replace(b"\n", b"\r\n").rstrip(b"\r\n"))
    before = snapshot_tree(root)
    with ProjectMemory(root) as memory:
        memory.append_insight("CRLF里的洞察", "- 行尾是CRLF")
    assert note.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n### CRLF" in note.read_bytes()
    with ProjectMemory(root) as memory:
        memory.undo()
    assert snapshot_tree(root) == before


def test_history_lists_every_write_newest_first_and_show_prints_its_diff(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with ProjectMemory(root) as memory:
        first = memory.append_insight("第一条洞察", "- 甲")
        second = memory.add_research_todo("比较GQA与MQA")
    runner = CliRunner()
    listed = runner.invoke(main, ["history", "--root", str(root)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.index(str(second.write_id)) < listed.output.index(str(first.write_id))
    assert "append_insight" in listed.output and "add_research_todo" in listed.output
    only = runner.invoke(main, ["history", "深度探索TODO.md", "--root", str(root)])
    assert str(second.write_id) in only.output and str(first.write_id) not in only.output
    shown = runner.invoke(main, ["history", "--show", str(first.write_id), "--root", str(root)])
    assert "+### 第一条洞察" in shown.output


def test_undo_is_refused_when_the_person_edited_the_file_since_and_says_how_to_compare(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        written = memory.append_insight("FlashAttention的IO视角", "- 瓶颈是HBM带宽")
    edited = note.read_bytes() + "\n- 我自己加的一行\n".encode()
    note.write_bytes(edited)
    [(is_error, text, _)] = call_tools(root, ("undo_last_write", {"write_id": written.write_id}))
    assert is_error
    assert WORKING_MEMORY in text and "nothing was undone" in text
    assert f"project-memory history --show {written.write_id}" in text
    assert note.read_bytes() == edited
    # A new session has made no write: it names the newest, to be undone only by its id.
    [(is_error, text, _)] = call_tools(root, ("undo_last_write", {}))
    assert is_error and "this session has made no write to undo" in text and written.write_id in text, text
    assert note.read_bytes() == edited
    undone = CliRunner().invoke(main, ["undo", "--root", str(root)])
    assert undone.exit_code == 2 and "history --show" in undone.output
    assert note.read_bytes() == edited


def test_temp_files_a_killed_writer_left_are_removed_by_the_next_write_in_their_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 between writing a temp file and swapping it in leaves `.pm-….tmp` beside the note, a copy a
    sync client would carry everywhere. The next write in that folder removes those older than ten minutes
    (here a second: a test cannot age a file's ctime); a fresh one (another process's write under way, or a
    note just swapped out) and anything else stay."""
    import server.fs

    monkeypatch.setattr(server.fs, "STALE_TEMP_SECONDS", 1.0)
    root = copy_example(tmp_path)
    stale, fresh, other = root / ".pm-e5b7a4e8-0123abcd.tmp", root / ".pm-e5b7a4e8-4567ef01.tmp", root / ".pm-notes.tmp"
    for path in (stale, other):
        path.write_bytes(b"copy")
    time.sleep(1.5)
    fresh.write_bytes(b"copy")
    swapped = root / ".pm-e5b7a4e8-89abcdef.tmp"  # a note just swapped out: its old mtime, a fresh ctime
    swapped.write_bytes(b"the old note")
    os.utime(swapped, (time.time() - 3600, time.time() - 3600))
    with ProjectMemory(root) as memory:
        memory.append_insight("清理临时文件", "- 写一次")
    assert not stale.exists() and fresh.exists() and other.exists() and swapped.exists()


def test_a_note_ending_in_a_latin1_byte_is_waited_for_then_called_another_encoding(tmp_path: Path) -> None:
    """A text cut inside its last UTF-8 character is a save under way and is waited for; one that stays so is
    a file in another encoding (café in Latin-1), and the answer says to re-save it, changing nothing."""
    from memory_schema.errors import UnreadableDocument

    root = copy_example(tmp_path)
    note = root / "学习笔记" / "latin.md"
    note.write_bytes("# Notes\n\ncafé".encode("latin-1"))
    with ProjectMemory(root) as memory, pytest.raises(UnreadableDocument, match="Re-save it as UTF-8"):
        memory.store.edit("学习笔记/latin.md", lambda text: text + "x")
    assert note.read_bytes() == "# Notes\n\ncafé".encode("latin-1")


def test_a_session_undoes_its_own_last_write_never_another_servers(tmp_path: Path) -> None:
    """Two servers on one memory (two Claude sessions): each one's undo_last_write takes back its own newest
    write. One that wrote nothing names the others' writes, to be undone only by their id, and changes nothing."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as first, ProjectMemory(root) as second, ProjectMemory(root) as idle:
        first.append_insight("第一个会话的洞察", "- 甲")
        theirs = second.add_research_todo("第二个会话的研究方向")
        undone = first.undo(own=True)
        assert "### 第一个会话的洞察" not in note.read_text(encoding="utf-8"), undone.message
        assert "第二个会话的研究方向" in (root / "深度探索TODO.md").read_text(encoding="utf-8")
        before = note.read_bytes()
        with pytest.raises(ProjectMemoryError, match="this session has made no write to undo") as refused:
            idle.undo(own=True)
        assert theirs.write_id in str(refused.value) and note.read_bytes() == before


def test_an_undo_while_the_sessions_last_write_is_half_made_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client's calls run at once: an undo between a record's discussion file and its listing removed the
    file, and the listing came after it, naming a discussion that is not there."""
    import threading

    root = copy_example(tmp_path)
    with ProjectMemory(root) as memory:
        real_edit = memory.store.edit
        between, release = threading.Event(), threading.Event()

        def edit(path: str, *args: Any, **kwargs: Any) -> Any:
            if path == WORKING_MEMORY and not between.is_set():
                between.set()
                release.wait(10)  # the discussion file is written, its listing not yet
            return real_edit(path, *args, **kwargs)

        monkeypatch.setattr(memory.store, "edit", edit)
        recording = threading.Thread(target=memory.record_discussion, args=("半途", DiscussionParts(**PARTS)))
        recording.start()
        assert between.wait(10)
        with pytest.raises(ProjectMemoryError, match="still being made"):
            memory.undo(own=True)
        release.set()
        recording.join(10)
    assert (root / "深度讨论" / "半途深度讨论.md").exists()
    assert "半途深度讨论.md" in (root / WORKING_MEMORY).read_text(encoding="utf-8")


def test_undo_never_takes_back_the_merge_of_the_persons_save_by_default(tmp_path: Path) -> None:
    """The newest write in the journal is the watch's merge of an editor's save: undoing it would remove the
    person's text. The model's own write before it is the one meant; its file changed since, so nothing is
    undone, and the person's line stays."""
    from server.afterwrite import MERGE_TOOL
    from server.journal import write_group

    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        written = memory.append_insight("模型的洞察", "- 甲")
        with write_group(MERGE_TOOL):
            memory.store.edit(WORKING_MEMORY, lambda text: text + "- 编辑器里的一行\n", redo=False)
        with pytest.raises(ProjectMemoryError, match=f"changed after write {written.write_id}"):
            memory.undo(own=True)
        with pytest.raises(ProjectMemoryError, match=f"changed after write {written.write_id}"):
            memory.undo()
    assert "- 编辑器里的一行\n" in note.read_text(encoding="utf-8")


def test_an_undo_interrupted_between_two_files_says_it_is_partial_and_can_be_taken_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_example(tmp_path)
    with ProjectMemory(root) as memory:
        recorded = memory.record_discussion("部分撤销", DiscussionParts(**PARTS))
        before = snapshot_tree(root)
        real_write, real_remove = memory.store.write, memory.store.remove
        calls: list[str] = []

        def changed_meanwhile(path: str, *args: Any, **kwargs: Any) -> Any:
            calls.append(path)
            if len(calls) == 2:
                raise ProjectMemoryError(f"{path} changed since you read it")
            return (real_write if args else real_remove)(path, *args, **kwargs)

        monkeypatch.setattr(memory.store, "write", changed_meanwhile)
        monkeypatch.setattr(memory.store, "remove", lambda path, version: changed_meanwhile(path, version=version))
        with pytest.raises(ProjectMemoryError, match="is partial") as partial:
            memory.undo(recorded.write_id)
        monkeypatch.undo()
        partial_id = re.search(r"write_id='([^']+)'", str(partial.value))
        assert partial_id is not None, partial.value
        memory.undo(partial_id.group(1))
        assert snapshot_tree(root) == before
        memory.undo(recorded.write_id)  # the partial undo taken back, the record can be undone whole
        assert not (root / "深度讨论" / "部分撤销深度讨论.md").exists()


def test_undo_of_a_two_file_write_restores_neither_file_when_one_changed_since(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    discussion = root / "深度讨论" / "FlashAttention深度讨论.md"
    with ProjectMemory(root) as memory:
        memory.record_discussion("FlashAttention", DiscussionParts(**PARTS))
        listed = (root / WORKING_MEMORY).read_bytes()
        discussion.write_bytes(discussion.read_bytes() + "\n我的补充\n".encode())
        with pytest.raises(ProjectMemoryError, match="history --show"):
            memory.undo()
    assert (root / WORKING_MEMORY).read_bytes() == listed
    assert "我的补充" in discussion.read_text(encoding="utf-8")


def test_an_older_write_cannot_be_undone_over_a_newer_one_but_undoing_in_order_restores_the_original(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    with ProjectMemory(root) as memory:
        first = memory.append_insight("第一条", "- 甲")
        memory.append_insight("第二条", "- 乙")
    with ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError, match="changed after write"):
        memory.undo(first.write_id)
    for _ in range(2):
        with ProjectMemory(root) as memory:
            memory.undo()
    with ProjectMemory(root) as memory, pytest.raises(ProjectMemoryError, match="no write to undo"):
        memory.undo()
    assert snapshot_tree(root) == before


def test_an_undo_is_itself_listed_and_can_be_taken_back(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with ProjectMemory(root) as memory:
        memory.append_insight("第一条", "- 甲")
    after = snapshot_tree(root)
    with ProjectMemory(root) as memory:
        undo = memory.undo()
        assert any(record.tool == "undo" for record in memory.history())
    with ProjectMemory(root) as memory:
        memory.undo(undo.write_id)
    assert snapshot_tree(root) == after


def test_undoing_a_write_that_created_a_note_says_it_removed_the_note(tmp_path: Path) -> None:
    from server.render import render_write

    root = copy_example(tmp_path)
    with ProjectMemory(root) as memory:
        created = memory.record_discussion("撤销测试", DiscussionParts(**PARTS))  # and lists it in the memory
        both = render_write(memory.undo(created.write_id))
        note = memory.save_lecture_note("3", "理论概念", "# 第三讲\n\n内容")  # a new file, and nothing else
        alone = render_write(memory.undo(note.write_id))
    assert not (root / created.path).exists() and not (root / note.path).exists()
    assert f"restored AI助手工作记忆.md; removed {created.path}, which it had created" in both, both
    assert f"removed {note.path}, which it had created ({note.path} no longer exists;" in alone, alone
    assert "version ;" not in both + alone, (both, alone)


_HOLD_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextlib.contextmanager
def journal_held_by_another_process(root: Path, seconds: float) -> Iterator[None]:
    """Another server process holds the undo journal's lock (it is appending, or pruning the log) for a while."""
    if sys.platform == "win32":
        pytest.skip("flock")
    lock = RootCache.for_root(root.resolve()).ensure("locks") / "locks" / "journal.lock"
    with subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(lock), str(seconds)], stdout=subprocess.PIPE,
                          text=True) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield


@pytest.fixture
def slow_folder_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that takes 0.3 s to sync a folder (a busy disk, a network file system); files sync as usual."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            time.sleep(0.3)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.slow
def test_an_undo_made_while_another_process_appends_to_the_journal_stays_undone(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    with ProjectMemory(root) as memory:
        memory.append_insight("FlashAttention的IO视角", "- 瓶颈是HBM带宽")
        with journal_held_by_another_process(root, 0.4):
            memory.undo()
        assert snapshot_tree(root) == before
        time.sleep(AFTER_WRITE_SECONDS + 0.3)
    assert snapshot_tree(root) == before, "the undone insight came back"


@pytest.mark.slow
def test_a_second_section_update_made_while_the_journal_is_busy_is_not_replaced_by_the_first(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    handle = f"{WORKING_MEMORY}#下一步计划"
    with ProjectMemory(root) as memory:
        memory.update_section(handle, "### 计划甲\n- 甲", memory.read_page(handle).version)
        with journal_held_by_another_process(root, 0.4):
            second = memory.update_section(handle, "### 计划乙\n- 乙", memory.read_page(handle).version)
        assert second.changed
        time.sleep(AFTER_WRITE_SECONDS + 0.3)
    text = (root / WORKING_MEMORY).read_text(encoding="utf-8")
    assert "### 计划乙" in text and "### 计划甲" not in text, "the acknowledged second update was reverted"


@pytest.mark.slow
def test_an_undo_stays_undone_when_the_disk_is_slow_to_sync_folders(tmp_path: Path, slow_folder_sync: None) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    with ProjectMemory(root) as memory:
        memory.append_insight("FlashAttention的IO视角", "- 瓶颈是HBM带宽")
        memory.undo()
        time.sleep(AFTER_WRITE_SECONDS + 0.3)
    assert snapshot_tree(root) == before, "the undone insight came back"


@pytest.mark.slow
def test_a_second_section_update_is_not_replaced_by_the_first_when_the_disk_is_slow_to_sync_folders(
    tmp_path: Path, slow_folder_sync: None
) -> None:
    root = copy_example(tmp_path)
    handle = f"{WORKING_MEMORY}#下一步计划"
    with ProjectMemory(root) as memory:
        memory.update_section(handle, "### 计划甲\n- 甲", memory.read_page(handle).version)
        second = memory.update_section(handle, "### 计划乙\n- 乙", memory.read_page(handle).version)
        assert second.changed
        time.sleep(AFTER_WRITE_SECONDS + 0.3)
    text = (root / WORKING_MEMORY).read_text(encoding="utf-8")
    assert "### 计划乙" in text and "### 计划甲" not in text, "the acknowledged second update was reverted"


@pytest.mark.slow
def test_a_section_update_after_a_burst_of_writes_is_not_replaced_by_the_first_one(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    handle = f"{WORKING_MEMORY}#下一步计划"
    with ProjectMemory(root) as memory:
        started = time.monotonic()
        memory.update_section(handle, "### 计划甲\n- 甲", memory.read_page(handle).version)
        for number in range(70):  # a model importing a batch of insights, or three sessions at work
            memory.append_insight(f"批量洞察{number:02d}", "- 正文")
        second = memory.update_section(handle, "### 计划乙\n- 乙", memory.read_page(handle).version)
        if time.monotonic() - started > AFTER_WRITE_SECONDS - 0.3:
            pytest.skip("the burst took longer than the after-write checks of the first write: nothing to judge")
        assert second.changed
        time.sleep(AFTER_WRITE_SECONDS + 0.3)
    text = (root / WORKING_MEMORY).read_text(encoding="utf-8")
    assert "### 计划乙" in text and "### 计划甲" not in text, "the acknowledged second update was reverted"


def test_write_ids_stay_unique_across_a_thousand_writes_in_the_same_second() -> None:
    """Two writes with one id would be one record: undo would take back both. (With 32 random bits a thousand
    ids collide about once in 10,000 runs.)"""
    ids = [new_write_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)


def test_a_retried_discussion_whose_listing_failed_is_listed_in_the_working_memory(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        os.chmod(note, 0o444)  # the second file of the write fails, as a kill between the two would leave it
        first = memory.record_discussion("分页注意力", DiscussionParts(**PARTS))
        os.chmod(note, 0o644)
        assert "was not updated" in first.message
        memory.record_discussion("分页注意力", DiscussionParts(**PARTS))  # the model retries
    assert "分页注意力深度讨论.md" in note.read_text(encoding="utf-8")


# --- kill -9 ------------------------------------------------------------------------------------------------

_WORKER = """
import os, sys
from pathlib import Path
from memory_schema.discussion import DiscussionParts
from server.memory import ProjectMemory
root, log = Path(sys.argv[1]), open(sys.argv[2], "a", encoding="utf-8")
memory = ProjectMemory(root)
def note(line):
    log.write(line + "\\n"); log.flush(); os.fsync(log.fileno())
note("ready")
for line in sys.stdin:
    kind, name = line.split()
    note(f"begin {kind} {name}")
    if kind == "insight":
        memory.append_insight(name, f"- 正文 {name}")
    else:
        memory.record_discussion(name, DiscussionParts(question=f"问 {name}", thinking="想", details="细",
                                                       methodology="法", practice="用"))
    note(f"ok {kind} {name}")
"""


def _read_log(path: Path) -> tuple[set[tuple[str, str]], tuple[str, str] | None]:
    """(acknowledged writes, the write begun but not acknowledged) from the worker's log."""
    acknowledged: set[tuple[str, str]] = set()
    begun: tuple[str, str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[0] == "begin":
            begun = (words[1], words[2])
        elif words[0] == "ok":
            acknowledged.add((words[1], words[2]))
            begun = None
    return acknowledged, begun


def _check_whole(root: Path, headings: list[str], acknowledged: set[tuple[str, str]],
                 interrupted: tuple[str, str] | None) -> list[str]:
    problems = []
    text = (root / WORKING_MEMORY).read_bytes().decode("utf-8")  # torn bytes would not decode
    lines = text.splitlines()
    if [line for line in lines if line.startswith("## ")] != headings:
        problems.append("the working memory's sections changed")
    if not re.search(r"\*\*最后更新\*\*: \d{4}-\d{2}-\d{2}\n\*\*更新人\*\*", text):
        problems.append("the working memory lost its footer")
    for kind, name in sorted(acknowledged | ({interrupted} if interrupted else set())):
        if kind == "insight":
            count = text.count(f"### {name}\n")
        else:
            path = root / "深度讨论" / f"{name}深度讨论.md"
            count = 1 if path.exists() else 0
            if count and not all(part in path.read_text(encoding="utf-8") for part in ("原始问题", "实践指导")):
                problems.append(f"discussion {name} is torn")
        if (kind, name) in acknowledged and count != 1:
            problems.append(f"acknowledged {kind} {name} is present {count} times")
        if count > 1:
            problems.append(f"{kind} {name} is doubled")
    stray = [p.name for p in root.rglob("*.md") if p.name.startswith(".")]
    if stray:
        problems.append(f"hidden .md files left: {stray}")
    return problems


@pytest.mark.slow
def test_a_server_killed_at_random_moments_leaves_nothing_torn_lost_or_doubled(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    headings = [line for line in (root / WORKING_MEMORY).read_text(encoding="utf-8").splitlines()
                if line.startswith("## ")]
    rng = random.Random(f"{SEED}-kill")
    acknowledged: set[tuple[str, str]] = set()
    pending: list[tuple[str, str]] = [("insight" if rng.random() < 0.8 else "discussion", f"写{number:03d}")
                                      for number in range(400)]
    for kills, round_number in enumerate(range(8), start=1):
        log = tmp_path / f"log-{round_number}.txt"
        worker = subprocess.Popen([sys.executable, "-c", _WORKER, str(root), str(log)], stdin=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True,
                                  env={**os.environ, "PROJECT_MEMORY_LOG": "CRITICAL"})
        assert worker.stdin is not None
        deadline = time.monotonic() + 30
        while not (log.exists() and "ready" in log.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline and worker.poll() is None, "the worker did not start"
            time.sleep(0.02)
        for kind, name in pending:
            worker.stdin.write(f"{kind} {name}\n")
        worker.stdin.flush()
        time.sleep(rng.uniform(0.05, 0.6))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        worker.stdin.close()
        done, interrupted = _read_log(log)
        acknowledged |= done
        problems = _check_whole(root, headings, acknowledged, interrupted)
        assert problems == [], f"after kill {kills} (PM_TEST_SEED={SEED}): {problems}"
        # the next server retries the interrupted write first, then goes on
        pending = ([interrupted] if interrupted else []) + [w for w in pending if w not in done and w != interrupted]
    assert len(acknowledged) > 20, "hardly any write was acknowledged between kills: the test tested little"
    with ProjectMemory(root) as memory:
        for kind, name in pending[:1]:  # the last interrupted write, retried: exactly once now
            if kind == "insight":
                memory.append_insight(name, f"- 正文 {name}")
            else:
                memory.record_discussion(name, DiscussionParts(question=f"问 {name}", thinking="想", details="细",
                                                               methodology="法", practice="用"))
            acknowledged.add((kind, name))
        assert _check_whole(root, headings, acknowledged, None) == []
        records = memory.history(limit=1000)
        assert records, "the journal survived the kills"
        before_undo = snapshot_tree(root)
        unlogged = not memory.store.journal.wrote((root / WORKING_MEMORY).read_bytes())
        try:
            memory.undo()
        except ProjectMemoryError as refused:
            # A kill between a note's replacement and its journal line leaves that write in the note but not in
            # the log, and its retry finds it recorded already and changes nothing: the newest logged write is then
            # not what the note holds, and undo must refuse and change nothing. Any other refusal is a bug.
            assert unlogged, f"undo refused though every write was logged: {refused}"
            assert "nothing was undone" in str(refused) and snapshot_tree(root) == before_undo
        else:
            assert snapshot_tree(root) != before_undo
    history = CliRunner().invoke(main, ["history", "--root", str(root), "--limit", "5"])
    assert history.exit_code == 0, history.output



def test_a_write_cut_between_its_note_and_its_journal_line_leaves_undo_refusing_and_changing_nothing(
    tmp_path: Path,
) -> None:
    """A kill after a note is replaced and before its journal line is written: the write is in the note, not in the
    log, and its retry finds it recorded and changes nothing. The newest logged write is then not what the note
    holds, so undo refuses with a clear message and changes nothing (the random-kill test meets this rarely)."""
    root = copy_example(tmp_path)
    with ProjectMemory(root) as memory:
        memory.append_insight("写001", "- 正文 写001")
        memory.append_insight("写002", "- 正文 写002")
        log = memory.store.cache.journal_dir / "log.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
        log.write_text("".join(lines[:-1]), encoding="utf-8")  # 写002's line, never written
        assert not memory.append_insight("写002", "- 正文 写002").changed
        assert not memory.store.journal.wrote((root / WORKING_MEMORY).read_bytes())
        before = snapshot_tree(root)
        with pytest.raises(ProjectMemoryError, match="nothing was undone"):
            memory.undo()
        assert snapshot_tree(root) == before

def test_the_undo_journal_makes_its_kept_texts_and_its_log_line_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's fsync calls, which make an undo survive a power cut (no test can cause one): the note's old
    and new texts it keeps for undo, and the log line naming them, each synced before the write answers."""
    root = copy_example(tmp_path)
    synced: set[int] = set()
    monkeypatch.setattr(os, "fsync", lambda fd: synced.add(os.fstat(fd).st_ino))
    with ProjectMemory(root) as memory:
        memory.append_insight("日志落盘 kq0003", "- 撤销日志要先写到盘上")
        journal = memory.store.cache.folder
    logs = list(journal.rglob("log.jsonl"))
    kept = [path for path in journal.rglob("objects/*") if path.is_file()]
    assert len(logs) == 1 and logs[0].stat().st_ino in synced
    assert len(kept) >= 2 and all(path.stat().st_ino in synced for path in kept), kept
