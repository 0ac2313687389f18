"""Single editor saves against tool writes, one at a time and deterministic, and several server processes.

Each scenario here is one of the races of `test_safety_editor_races`, arranged so it happens every run: the
editor's save dropped an insight and the next tool write was built on it; bytes appended through a descriptor
opened before a tool write; a truncate-then-write save that stalls midway while tool writes arrive; a tool write
while the note is deleted and not yet recreated. Then two more server processes (two Claude sessions on one
memory) write while this one does and the editor saves. The oracle is the same: every acknowledged insight once,
every line the editor saved once, nothing torn. The final check waits `AFTER_WRITE_SECONDS`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import BinaryIO

import pytest
from test_safety_editor_races import ANCHOR, SEED, SETTLE, WORKING_MEMORY, problems, race_in_process

from memory_schema.errors import ProjectMemoryError
from server.afterwrite import AFTER_WRITE_SECONDS
from server.memory import ProjectMemory
from support import copy_example


def _save_in_place(path: Path, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.write(data)
        handle.truncate()


def _with_editor_line(data: bytes, line: str) -> bytes:
    return data.replace(ANCHOR.encode(), (ANCHOR + line + "\n").encode(), 1)


@pytest.mark.slow
def test_an_overwritten_insight_comes_back_even_when_the_next_tool_write_was_built_on_the_editors_save(
    tmp_path: Path,
) -> None:
    """Insight A lands; the editor's save (checked just before A landed) drops it; tool write B is built on the
    editor's text before the after-write check of A runs. That check runs late here because the after-write
    thread is busy re-applying a TODO item under another note's autosaving editor (what any busy moment does)."""
    root = copy_example(tmp_path)
    note, todo = root / WORKING_MEMORY, root / "深度探索TODO.md"
    with ProjectMemory(root) as memory:
        todo_buffer = todo.read_bytes()
        memory.add_research_todo("比较GQA与MQA的KV缓存")
        stop = threading.Event()

        def autosave() -> None:  # another editor autosaves the TODO list it loaded before the item was added
            while not stop.is_set():
                _save_in_place(todo, todo_buffer)
                time.sleep(0.05)

        autosaver = threading.Thread(target=autosave, daemon=True)
        autosaver.start()
        try:
            time.sleep(0.1)
            buffer = note.read_bytes()
            memory.append_insight("洞察A", "- 甲")
            _save_in_place(note, _with_editor_line(buffer, "- 编辑器行 EDITOR-1"))
            time.sleep(0.15)  # past the server's QUIET_SECONDS: the next write does not wait for the editor
            memory.append_insight("洞察B", "- 乙")
            time.sleep(0.8)
        finally:
            stop.set()
            autosaver.join()
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    assert "- 编辑器行 EDITOR-1\n" in final
    assert "### 洞察B\n" in final
    assert "比较GQA与MQA的KV缓存" in todo.read_text(encoding="utf-8")
    assert final.count("### 洞察A\n") == 1, "acknowledged insight A is gone"


@pytest.mark.slow
def test_a_line_appended_through_a_descriptor_opened_before_a_tool_write_survives_the_next_tool_write(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        fd = os.open(note, os.O_WRONLY | os.O_APPEND)  # `some-command >> AI助手工作记忆.md`: the shell opens it ...
        try:
            memory.append_insight("洞察A", "- 甲")  # ... a tool write lands ...
            os.write(fd, "- 追加的一行 APPENDED\n".encode())  # ... then the command writes its line
        finally:
            os.close(fd)
        memory.append_insight("洞察B", "- 乙")  # and the model's next call comes right after
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    assert final.count("### 洞察A\n") == 1 and final.count("### 洞察B\n") == 1
    assert final.count("- 追加的一行 APPENDED\n") == 1, "the appended line is only in the journal, not in the note"


@pytest.mark.slow
def test_every_line_an_appender_that_keeps_its_descriptor_writes_within_the_watch_is_merged(tmp_path: Path) -> None:
    """`tee -a AI助手工作记忆.md`, a logger: the file is opened once and appended to twice, 0.4 s apart, after a
    tool write replaced it. Both lines come within the AFTER_WRITE_SECONDS the server watches the old file."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        fd = os.open(note, os.O_WRONLY | os.O_APPEND)
        try:
            memory.append_insight("洞察A", "- 甲")
            os.write(fd, "- 日志行一 LOG-1\n".encode())
            time.sleep(0.4)
            os.write(fd, "- 日志行二 LOG-2\n".encode())
        finally:
            os.close(fd)
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    assert final.count("### 洞察A\n") == 1
    assert final.count("- 日志行一 LOG-1\n") == 1
    assert final.count("- 日志行二 LOG-2\n") == 1, "the second appended line was lost"


STALL_CUTS = {
    "before the last four sections": "## 📝 工作习惯和偏好",
    "before the insights section": "## 🧠 重要技术洞察记录",
    "in the middle of a line": "**追问到底**: 用引导",
}


LATE_MERGE = (
    "server bug: the tool writes land on the half file ({}); when the editor finishes, well within "
    "AFTER_WRITE_SECONDS, the merge of its bytes from the replaced file {}"
)
PAST_PATIENCE = "the save stalled longer than memory.GUARD_PATIENCE_SECONDS, 1 s"
UNSEEN = ("this server never read the note, so the role guard has no shape to compare: a just-started server or a "
          "second session")
TORN = ("conflicts on the cut line and gives up ('unmerged' in the journal): the note keeps 5 of its 9 sections, no "
        "footer, and not the editor's line")
DOUBLED = ("keeps the insights section append_insight created in the half file beside the real one: ten '##' "
           "sections where there were nine")
STALLS = [  # (cut, seconds, whether the server read the whole note before, why it fails today)
    ("before the last four sections", 0.45, True, None),
    ("before the insights section", 0.45, True, None),
    ("in the middle of a line", 0.45, True, None),
    ("in the middle of a line", 1.3, True, None),
    ("before the insights section", 1.3, True, None),
    ("before the insights section", 0.45, False, None),
]


@pytest.mark.slow
@pytest.mark.parametrize(("cut", "stall", "seen"), [
    pytest.param(cut, stall, seen, id=f"{cut}, {stall} s" + ("" if seen else ", a server new to the note"),
                 marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else [])
    for cut, stall, seen, bug in STALLS
])
def test_a_save_that_stalls_midway_never_leaves_the_note_torn(
    tmp_path: Path, cut: str, stall: float, seen: bool
) -> None:
    """vim (`backupcopy=yes`) on a slow disk: truncate, write the first part, stall, write the rest. Two tool
    writes arrive during the stall. They may wait, be refused, or land on the half file and be merged with the
    editor's finished bytes afterwards (the editor finishes well within AFTER_WRITE_SECONDS of them); but the
    note must end whole, with one insights section holding every acknowledged insight, the editor's line, and
    no refused insight."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        if seen:
            memory.append_insight("洞察0", "- 零")  # the server has read the whole note once
            time.sleep(0.3)
        data = _with_editor_line(note.read_bytes(), "- 编辑器行 EDITOR-STALL")
        at = data.index(STALL_CUTS[cut].encode())
        acknowledged, refused = [], []

        def write() -> None:
            for title in ("洞察A", "洞察B"):
                try:
                    memory.append_insight(title, "- 写于保存途中")
                    acknowledged.append(title)
                except ProjectMemoryError:
                    refused.append(title)

        writer = threading.Thread(target=write)
        fd = os.open(note, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, data[:at])
            time.sleep(0.15)  # the disk stalls; the tool calls arrive
            writer.start()
            time.sleep(stall - 0.15)
            os.write(fd, data[at:])
        finally:
            os.close(fd)
        writer.join(timeout=30)
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    original = data.decode("utf-8")
    headings = [line for line in original.splitlines() if line.startswith("## ")]
    assert [line for line in final.splitlines() if line.startswith("## ")] == headings, "sections torn or doubled"
    assert final.count("**最后更新**") == 1
    assert "- 编辑器行 EDITOR-STALL\n" in final
    insights = final.index("## 🧠 重要技术洞察记录")
    after = final.index("\n## ", insights + 1)
    for title in acknowledged:
        assert final.count(f"### {title}\n") == 1
        assert insights < final.index(f"### {title}\n") < after, f"{title} is outside the insights section"
    for title in refused:
        assert f"### {title}\n" not in final


def _rewrite(handle: BinaryIO, data: bytes) -> None:
    """Save through a descriptor already open (an editor's in-place save): from the start, then cut the rest."""
    handle.seek(0)
    handle.write(data)
    handle.truncate()


def _orphaned(handle: int) -> bool:
    return os.fstat(handle).st_nlink == 0


def _sections(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("## ")]


@pytest.mark.slow
def test_a_save_merged_back_stays_when_the_editor_saves_again_over_the_text_it_reopened(tmp_path: Path) -> None:
    """The editor saves LINE_A into the file a tool write replaced and reopens the note at once, before the
    watch merged LINE_A back (it reads the tool's text, without LINE_A); then it saves LINE_B over that, into
    the file the merge replaced. The merge of that second save must not take the editor's text whole: LINE_A,
    which the person never removed from anything they saw, stays. (If the reopen comes after the merge, the
    editor's text holds LINE_A already: the oracle is the same.)"""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        with open(note, "r+b") as first:
            before = first.read()
            memory.append_insight("洞察A", "- 甲")
            _rewrite(first, _with_editor_line(before, "- 先保存的一行 LINE-A"))
        with open(note, "r+b") as second:
            reopened = second.read()
            deadline = time.monotonic() + AFTER_WRITE_SECONDS
            while not _orphaned(second.fileno()) and time.monotonic() < deadline:
                time.sleep(0.01)  # the watch merges LINE_A into the note, replacing the file `second` holds
            _rewrite(second, _with_editor_line(reopened, "- 后保存的一行 LINE-B"))
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    assert final.count("- 先保存的一行 LINE-A\n") == 1, "the first save, merged back, was lost"
    assert final.count("- 后保存的一行 LINE-B\n") == 1 and final.count("### 洞察A\n") == 1


@pytest.mark.slow
def test_a_late_in_place_save_merged_keeps_what_the_person_appended_between_two_tool_writes(tmp_path: Path) -> None:
    """An editor holding the note saves into the file the first tool write replaced; meanwhile the person
    appended a line to the note (`echo >>`) and a second tool write landed on it. Replaying the tool writes on
    the editor's text would drop the appended line: the note came not from the tool writes alone."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        with open(note, "r+b") as editor:
            before = editor.read()
            memory.append_insight("洞察1", "- 一")
            with open(note, "ab") as shell:
                shell.write("- 追加的一行 LINE-B\n".encode())
            memory.append_insight("洞察2", "- 二")
            _rewrite(editor, _with_editor_line(before, "- 编辑器的一行 LINE-A"))
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    for line in ("- 编辑器的一行 LINE-A\n", "- 追加的一行 LINE-B\n", "### 洞察1\n", "### 洞察2\n"):
        assert final.count(line) == 1, (line, final[-400:])


@pytest.mark.slow
@pytest.mark.parametrize(("parts", "pause"), [(3, 0.3), (5, 0.6)], ids=["within the watch", "past the watch"])
def test_a_slow_save_into_the_replaced_file_is_merged_whole_never_half(
    tmp_path: Path, parts: int, pause: float
) -> None:
    """The editor read the note, a tool write replaced it, and the editor's save into the old file comes in
    parts with pauses, within the two-second watch or past it. No half of it is ever merged into the note (its
    sections torn away), and when it is done it is merged whole: every section, the footer, the editor's line
    and the insight."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    torn: list[int] = []
    stop = threading.Event()
    with ProjectMemory(root) as memory:
        headings = _sections(note.read_text(encoding="utf-8"))

        def watch_the_note() -> None:
            while not stop.is_set():
                try:
                    text = note.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if text and _sections(text) != headings:
                    torn.append(len(text))
                time.sleep(0.01)

        poller = threading.Thread(target=watch_the_note)
        with open(note, "r+b") as editor:
            data = _with_editor_line(editor.read(), "- 慢速保存的一行 SLOW-LINE")
            memory.append_insight("洞察S", "- 慢")
            poller.start()
            editor.seek(0)
            editor.truncate()
            part = -(-len(data) // parts)
            for start in range(0, len(data), part):
                editor.write(data[start : start + part])
                editor.flush()
                time.sleep(pause)
        time.sleep(SETTLE)
        stop.set()
        poller.join()
    final = note.read_text(encoding="utf-8")
    assert torn == [], "a half-saved text was merged into the note"
    assert _sections(final) == headings and final.count("**最后更新**") == 1
    assert final.count("- 慢速保存的一行 SLOW-LINE\n") == 1 and final.count("### 洞察S\n") == 1


@pytest.mark.slow
def test_a_save_stalled_past_the_watch_while_a_first_write_waits_ends_whole(tmp_path: Path) -> None:
    """The model read the note; then the editor truncates it, writes half and stalls 2.5 s while the first
    tool write of the session arrives. The write waits on the half text (its shape is known from the read),
    then lands on it; the rest of the save goes into the file it replaced, after the usual two-second watch,
    and is merged whole."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    acknowledged: list[str] = []
    with ProjectMemory(root) as memory:
        memory.read_text(WORKING_MEMORY)
        data = _with_editor_line(note.read_bytes(), "- 停顿后保存的一行 STALLED")
        at = data.index(STALL_CUTS["in the middle of a line"].encode()) + 2  # after the line's "**"

        def write() -> None:
            try:
                memory.append_insight("洞察T", "- 停顿时写入")
                acknowledged.append("洞察T")
            except ProjectMemoryError:
                pass  # refused while the note reads half-saved: nothing to find

        writer = threading.Thread(target=write)
        fd = os.open(note, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, data[:at])
            writer.start()
            time.sleep(2.5)
            os.write(fd, data[at:])
        finally:
            os.close(fd)
        writer.join(timeout=30)
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    assert _sections(final) == _sections(data.decode("utf-8")) and final.count("**最后更新**") == 1
    assert final.count("- 停顿后保存的一行 STALLED\n") == 1
    assert final.count("### 洞察T\n") == len(acknowledged) == 1, acknowledged  # it waited, then landed


@pytest.mark.slow
def test_a_save_stalled_past_a_later_writes_watch_keeps_that_write(tmp_path: Path) -> None:
    """Two tool writes land while an editor holds the note; its in-place save into the file the first
    replaced stalls 3 s, past the second's watch. Replaying the first write alone on the editor's text would
    drop the second: the note is merged three-way instead, and keeps both and the editor's line."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        with open(note, "r+b") as editor:
            data = _with_editor_line(editor.read(), "- 编辑器的一行 EDITOR")
            memory.append_insight("洞察A", "- 甲")
            memory.append_insight("洞察B", "- 乙")
            editor.seek(0)
            editor.truncate()
            editor.write(data[: len(data) // 2])
            editor.flush()
            time.sleep(3.0)
            editor.write(data[len(data) // 2 :])
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    assert final.count("### 洞察A\n") == final.count("### 洞察B\n") == final.count("- 编辑器的一行 EDITOR\n") == 1


@pytest.mark.slow
def test_closing_with_a_merge_pending_never_brings_back_an_undone_write(tmp_path: Path) -> None:
    """An appender's line lands in the file a write replaced after that write was undone; the server closes
    with the merge pending. The merge must not replay the undone write."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    memory = ProjectMemory(root)
    fd = os.open(note, os.O_WRONLY | os.O_APPEND)
    try:
        memory.append_insight("洞察A", "- 甲")
        memory.undo(own=True)
        os.write(fd, "- 追加的一行 APPENDED\n".encode())
    finally:
        os.close(fd)
    memory.close()
    final = note.read_text(encoding="utf-8")
    assert "### 洞察A\n" not in final and final.count("- 追加的一行 APPENDED\n") == 1


@pytest.mark.slow
def test_a_save_stalled_inside_the_last_item_of_a_note_without_a_footer_ends_whole(tmp_path: Path) -> None:
    """The TODO list has no footer and no section after its last: a save cut inside its last item read as
    whole and was merged half; the rest, 3 s later, was never merged."""
    root = copy_example(tmp_path)
    note = root / "深度探索TODO.md"
    with ProjectMemory(root) as memory:
        with open(note, "r+b") as editor:
            data = editor.read() + "- [ ] 编辑器加的一条 EDITOR-ITEM 很长很长的一行\n".encode()
            memory.add_research_todo("比较GQA与MQA的KV缓存")
            editor.seek(0)
            editor.truncate()
            editor.write(data[:-30])
            editor.flush()
            time.sleep(3.0)
            editor.write(data[-30:])
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    assert final.count("- [ ] 编辑器加的一条 EDITOR-ITEM 很长很长的一行\n") == 1
    assert final.count("比较GQA与MQA的KV缓存") == 1


@pytest.mark.slow
def test_a_section_rewrite_never_replays_over_what_the_person_added_to_it(tmp_path: Path) -> None:
    """update_section replaces a section while the person adds a paragraph to it in their editor, whose save
    lands in the replaced file. Replaying the rewrite on their text would drop the paragraph: it is kept, and
    their bytes are in the journal whatever the merge made of them."""
    root = copy_example(tmp_path)
    rel = "学习笔记/01-基础建立/01-Lecture01-IntroductionTokenization/02-实践代码.md"
    note = root / rel
    mine = "人在编辑器里补的一段 PERSON-PARAGRAPH"
    with ProjectMemory(root) as memory:
        version = memory.read_text(rel).version
        with open(note, "r+b") as editor:
            before = editor.read().decode("utf-8")
            end = before.index("\n", before.index("## 运行心得"))
            memory.update_section(f"{rel}#运行心得", "模型重写的运行心得。", version)
            _rewrite(editor, (before[: end + 1] + "\n" + mine + "\n" + before[end + 1 :]).encode())
        time.sleep(SETTLE)
        history = [record for record in memory.store.journal.writes() if record.tool == "editor-save"]
    final = note.read_text(encoding="utf-8")
    assert mine in final
    assert history and any(mine.encode() in memory.store.journal.object(change.new or "")
                           for record in history for change in record.files)


@pytest.mark.slow
def test_a_save_editing_the_item_a_tool_ticked_keeps_the_persons_text(tmp_path: Path) -> None:
    """The tool ticked a TODO item the person was rewording in their editor: the tick cannot be replayed on
    their words, and the two changes overlap. The person's text wins, with the line they added."""
    root = copy_example(tmp_path)
    todo = root / "深度探索TODO.md"
    item = "推导GQA下单卡80GB能容纳的最大batch与上下文长度"
    with ProjectMemory(root) as memory:
        with open(todo, "r+b") as editor:
            before = editor.read()
            memory.complete_research_todo(item)
            reworded = before.replace(item.encode(), "推导MQA下单卡能容纳的最大batch".encode())
            _rewrite(editor, reworded + "- [ ] 编辑器新加的一条 EDITOR\n".encode())
        time.sleep(SETTLE)
    final = todo.read_text(encoding="utf-8")
    assert "推导MQA下单卡能容纳的最大batch" in final and "编辑器新加的一条 EDITOR" in final


@pytest.mark.slow
def test_past_the_watch_a_note_without_a_final_newline_is_the_persons_again(tmp_path: Path) -> None:
    """A note saved without a final newline (an editor's default) keeps its old file watched longer for a save
    under way, but a tool write's effect is put back only within the two-second watch: the person deletes the
    insight 3 s later, and it stays deleted."""
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    note.write_bytes(note.read_bytes().rstrip(b"\n"))
    with ProjectMemory(root) as memory:
        memory.append_insight("洞察X", "- 叉")
        time.sleep(3.0)
        text = note.read_text(encoding="utf-8")
        start = text.index("### 洞察X")
        end = text.find("\n### ", start + 1)
        end = text.find("\n## ", start + 1) if end < 0 else end
        note.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
        time.sleep(SETTLE)
    assert "### 洞察X" not in note.read_text(encoding="utf-8")


def test_writes_watched_past_the_two_seconds_are_capped(tmp_path: Path) -> None:
    """A note without a final newline keeps each write's old file open longer (a save may be under way):
    at most EXTENDED_AT_MOST at once, so a burst of writes cannot run out of descriptors."""
    from server.afterwrite import EXTENDED_AT_MOST

    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    note.write_bytes(note.read_bytes().rstrip(b"\n"))
    with ProjectMemory(root) as memory:
        for number in range(EXTENDED_AT_MOST + 8):
            memory.append_insight(f"洞察{number}", "- 一条")
            note.write_bytes(note.read_bytes().rstrip(b"\n"))  # the editor strips the newline again
        watch = memory.store.after_writes
        with watch._lock:
            extended = watch._extended()
        assert extended == EXTENDED_AT_MOST, extended  # the burst reaches the cap, and stops there


@pytest.mark.slow
def test_a_tool_write_during_a_delete_and_recreate_save_lands_on_the_recreated_note(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    with ProjectMemory(root) as memory:
        data = _with_editor_line(note.read_bytes(), "- 编辑器行 EDITOR-RECREATE")
        outcome: list[str] = []
        note.unlink()

        def write() -> None:
            try:
                memory.append_insight("洞察A", "- 甲")
                outcome.append("acknowledged")
            except ProjectMemoryError as err:
                outcome.append(f"refused: {err}")

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)  # well within the server's wait for a half-saved role document
        fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
        writer.join(timeout=30)
        time.sleep(SETTLE)
    final = note.read_text(encoding="utf-8")
    assert outcome == ["acknowledged"]
    assert "- 编辑器行 EDITOR-RECREATE\n" in final
    assert final.count("### 洞察A\n") == 1


_WORKER = """
import sys
from pathlib import Path
from memory_schema.errors import ProjectMemoryError
from server.memory import ProjectMemory
root, prefix, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with ProjectMemory(root) as memory:
    for number in range(count):
        title = f"{prefix}-{number:03d}"
        try:
            memory.append_insight(title, "- 另一个服务器进程写入")
            print("ok", title, flush=True)
        except ProjectMemoryError as err:
            print("refused", title, str(err).replace("\\n", " "), flush=True)
"""


@pytest.mark.slow
def test_three_server_processes_and_a_truncating_editor_lose_nothing(tmp_path: Path) -> None:
    """Two more server processes append while this one does and the person saves with truncate-then-write;
    with three writers each editor save races more writes."""
    root = copy_example(tmp_path)
    path = root / WORKING_MEMORY
    original = path.read_text(encoding="utf-8")
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(root), f"进程{name}", "30"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PROJECT_MEMORY_LOG": "ERROR"})
        for name in ("甲", "乙")
    ]
    try:
        with ProjectMemory(root) as memory:
            race = race_in_process(memory, path, "truncate", SEED, writes=60)
    finally:
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    for output in outputs:
        for line in output.splitlines():
            status, title, *reason = line.split(" ", 2)
            if status == "ok":
                race.acknowledged.append(title)
            else:
                race.refused[title] = " ".join(reason)
    final = path.read_text(encoding="utf-8")
    assert race.editor is not None
    print(f"PM_TEST_SEED={SEED}: {len(race.acknowledged)} acknowledged, {len(race.refused)} refused, "
          f"{len(race.editor.saved)} editor saves")
    assert len(race.acknowledged) >= 60
    assert problems(race, original, final) == []
