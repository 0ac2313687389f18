"""The use cases behind the tools, on a copy of the bundled example memory."""

import difflib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_schema.discussion import DiscussionParts, parse_discussion
from memory_schema.errors import DocumentChanged, InvalidInput, ProjectMemoryError, SectionNotFound
from memory_schema.progress import LectureStatus, parse_progress
from memory_schema.working_memory import parse_working_memory
from server.memory import ProjectMemory
from server.search import IndexService
from server.search.request import search_request
from support import SEED, TODAY, copy_example, find, snapshot_tree

WM = "AI助手工作记忆.md"


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[ProjectMemory]:
    with ProjectMemory(copy_example(tmp_path), today=lambda: TODAY) as memory:
        yield memory


def parts(**overrides: str) -> DiscussionParts:
    values = {
        "question": "为什么 FlashAttention 更快？",
        "thinking": "起初以为是 FLOPs 更少，后来意识到是 HBM 读写更少。",
        "details": "分块计算 softmax，online softmax 保持数值稳定。",
        "methodology": "先找瓶颈是算力还是带宽。",
        "practice": "长序列训练优先打开 FlashAttention。",
    }
    return DiscussionParts(**{**values, **overrides})


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_append_insight_adds_one_entry_and_bumps_the_update_date(memory: ProjectMemory) -> None:
    before = memory.read_text(WM).text
    body = "- 瓶颈在 HBM 带宽\n- 分块让数据留在 SRAM"
    result = memory.append_insight("FlashAttention的IO视角", body, tags=["注意力"], lecture="6")
    after = memory.read_text(WM).text
    assert result.changed
    working = parse_working_memory(after)
    assert [i.title for i in working.insights][-1] == "FlashAttention的IO视角"
    assert working.updated == "2026-11-30"
    removed = [line for line in changed_lines(before, after) if line.startswith("-")]
    assert len(removed) == 1 and "最后更新" in removed[0]


def test_append_insight_on_the_seed_changes_only_the_entry_and_the_date(tmp_path: Path) -> None:
    if not SEED.exists():
        pytest.skip("../shared is not present")
    root = tmp_path / "seed"
    root.mkdir()
    shutil.copyfile(SEED, root / WM)
    before = (root / WM).read_bytes().decode("utf-8")
    with ProjectMemory(root, today=lambda: TODAY) as memory:
        memory.append_insight("KV缓存估算", "- 每token每层 2 × hidden × 2 字节")
    after = (root / WM).read_bytes().decode("utf-8")
    diff = changed_lines(before, after)
    assert [line for line in diff if line.startswith("-")] == ["-**最后更新**: 2025-11-07"]
    added = [line[1:] for line in diff if line.startswith("+")]
    assert added[0] == "**最后更新**: 2026-11-30" or "### KV缓存估算" in added
    assert "### KV缓存估算" in added and "**最后更新**: 2026-11-30" in added
    insights_end = after.index("## 📝 工作习惯和偏好")
    assert after.index("### KV缓存估算") < insights_end
    assert after.index("### KV缓存估算") > after.index("### PyTorch系统思维")


def test_an_exact_retry_of_append_insight_adds_nothing(memory: ProjectMemory) -> None:
    memory.append_insight("重复测试", "- 内容")
    once = memory.read_text(WM).text
    result = memory.append_insight("重复测试", "- 内容")
    assert not result.changed
    assert memory.read_text(WM).text == once


@pytest.mark.parametrize(
    ("title", "body"),
    [("", "- x"), ("two\nlines", "- x"), ("## 伪标题", "- x"), ("ok", ""), ("ok", "## 不许的标题\n内容"),
     ("x" * 121, "- x"), ("ok", "y" * 20_001)],
)
def test_bad_insight_input_is_refused_and_nothing_is_written(memory: ProjectMemory, title: str, body: str) -> None:
    before = snapshot_tree(memory.root)
    with pytest.raises(InvalidInput):
        memory.append_insight(title, body)
    assert snapshot_tree(memory.root) == before


def test_a_new_insight_is_searchable_as_soon_as_the_tool_returns(memory: ProjectMemory) -> None:
    memory.ensure_index()
    memory.append_insight("投机解码的接受率", "- speculative decoding 用小模型起草")
    hits = find(memory, "投机解码").hits
    assert hits and hits[0].path == WM


def test_a_search_while_the_warm_up_builds_the_index_scans_rather_than_building_it_too(
    memory: ProjectMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's warm-up starts as it does, and its first slow step is held until the first search is over.
    # The warm-up must have claimed the index first: the search then waits a moment and scans, saying so. Had
    # the search found the index unclaimed, it would build it itself, its caller waiting the whole build
    # (held here, so the search would not end).
    from server.search import SearchEngine

    searched, build_released = threading.Event(), threading.Event()
    prepare, build = SearchEngine.prepare, IndexService._build

    def slow_prepare(engine: SearchEngine) -> None:
        searched.wait(30)
        prepare(engine)

    def held_build(service: IndexService, *args: object, **kwargs: object) -> None:
        build_released.wait(30)
        build(service, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SearchEngine, "prepare", slow_prepare)
    monkeypatch.setattr(IndexService, "_build", held_build)
    warm_up = threading.Thread(target=memory.ensure_index)
    warm_up.start()
    answers: list[object] = []
    search = threading.Thread(target=lambda: answers.append(find(memory, "注意力")))
    search.start()
    search.join(20)
    searched.set()
    build_released.set()
    warm_up.join(30)
    search.join(30)
    (results,) = answers
    assert results.scanned and results.notice and "still being built" in results.notice, results  # type: ignore[attr-defined]


def test_a_write_answers_before_the_index_commits_and_a_search_after_it_still_finds_it(
    memory: ProjectMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The maintenance thread, which indexes our writes, is held until the search starts: the write must have
    # answered without it, and the search must wait for it (or index the queued note itself) before reading.
    memory.ensure_index()
    release = threading.Event()
    apply_pending = IndexService._apply_pending

    def held(service: IndexService) -> None:
        if threading.current_thread().name == "search-index-maintenance":
            release.wait(30)
        apply_pending(service)

    monkeypatch.setattr(IndexService, "_apply_pending", held)
    memory.append_insight("投机解码的接受率", "- speculative decoding 用小模型起草")
    assert memory.index.pending == 1
    release.set()
    hits = find(memory, "投机解码").hits
    assert hits and hits[0].path == WM
    assert memory.index.pending == 0


def test_record_discussion_creates_the_five_part_record_and_lists_it(memory: ProjectMemory) -> None:
    result = memory.record_discussion("FlashAttention", parts(), tags=["注意力"], lecture="Lecture 06")
    assert result.path == "深度讨论/FlashAttention深度讨论.md"
    discussion = parse_discussion(result.path, memory.read_text(result.path).text)
    assert discussion.parts_present == ["question", "thinking", "details", "methodology", "practice"]
    assert discussion.lecture == 6 and discussion.tags == ["注意力"]
    listed = [ref.file for ref in parse_working_memory(memory.read_text(WM).text).discussions]
    assert listed[-1] == "FlashAttention深度讨论.md" and len(listed) == 7


def test_the_summary_given_is_what_list_discussions_shows(memory: ProjectMemory) -> None:
    """Kept in the new record's front matter; without one, the question's first line stands in."""
    memory.record_discussion("FlashAttention", parts(), summary="分块+在线softmax为何省显存")
    memory.record_discussion("RoPE", parts(question="旋转位置编码为什么能外推？\n后面还有"))
    shown = {entry.path: entry.summary for entry in memory.list_discussions().discussions}
    assert shown["深度讨论/FlashAttention深度讨论.md"] == "分块+在线softmax为何省显存"
    assert shown["深度讨论/RoPE深度讨论.md"] == "旋转位置编码为什么能外推？"
    assert "summary: 分块+在线softmax为何省显存" in memory.read_text("深度讨论/FlashAttention深度讨论.md").text


def test_two_sessions_recording_one_topic_at_once_make_one_file(tmp_path: Path) -> None:
    """RoPE and rope, recorded at the same moment by two servers: each found no file and made its own."""
    import threading

    root = copy_example(tmp_path / "race")
    for attempt in range(5):
        spellings = (f"Topic{attempt}", f"topic{attempt}")
        with ProjectMemory(root, today=lambda: TODAY) as first, ProjectMemory(root, today=lambda: TODAY) as second:
            start = threading.Barrier(2)

            def record(memory: ProjectMemory, topic: str, start: threading.Barrier = start) -> None:
                start.wait()
                memory.record_discussion(topic, parts(question=f"{topic} 的问题"))

            threads = [threading.Thread(target=record, args=pair)
                       for pair in zip((first, second), spellings, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        made = [path.name for path in (root / "深度讨论").iterdir() if path.name.lower().startswith(f"topic{attempt}")]
        assert len(made) == 1, made


def test_recording_an_existing_topic_appends_a_dated_round(memory: ProjectMemory) -> None:
    first = memory.record_discussion("FlashAttention", parts())
    original = memory.read_text(first.path).text
    memory.record_discussion("FlashAttention", parts(question="第二轮的问题"))
    text = memory.read_text(first.path).text
    assert text.startswith(original)
    assert "## 第2轮讨论 (2026-11-30)" in text and "第二轮的问题" in text
    listed = [ref.file for ref in parse_working_memory(memory.read_text(WM).text).discussions]
    assert listed.count("FlashAttention深度讨论.md") == 1


def test_a_topic_named_in_a_discussions_front_matter_continues_it_and_a_new_one_names_its_relatives(
    memory: ProjectMemory,
) -> None:
    """7B模型内存计算分析.md says topic: 7B模型训练内存计算; recording that topic adds a round there, not a new file.
    A new topic held in an existing one (KV缓存 in KV缓存内存计算精确分析) is a new file, and the answer names it."""
    before = sorted(path.name for path in (memory.root / "深度讨论").iterdir())
    result = memory.record_discussion("7B模型训练内存计算", parts(question="第二轮：ZeRO 之后还要多少显存"))
    assert result.path == "深度讨论/7B模型内存计算分析.md" and result.message.startswith("round 2 appended")
    assert sorted(path.name for path in (memory.root / "深度讨论").iterdir()) == before
    created = memory.record_discussion("KV缓存", parts())
    assert created.message.startswith("created 深度讨论/KV缓存深度讨论.md")
    assert "related: 深度讨论/KV缓存内存计算精确分析.md" in created.message, created.message


def test_a_discussion_missing_a_part_is_refused(memory: ProjectMemory) -> None:
    before = snapshot_tree(memory.root)
    with pytest.raises(InvalidInput, match="methodology"):
        memory.record_discussion("空缺", parts(methodology="  "))
    assert snapshot_tree(memory.root) == before


def test_update_progress_keeps_the_table_the_summary_and_the_working_memory_consistent(memory: ProjectMemory) -> None:
    memory.update_progress("Lecture 03", "done", note="读完 Transformer 架构")
    progress_text = memory.read_text("学习进度.md").text
    progress = parse_progress(progress_text)
    assert progress.done == 3
    assert next(lec for lec in progress.lectures if lec.number == 3).status is LectureStatus.DONE
    assert "**已完成讲座**: 3/17 (17.6%)" in progress_text
    assert "读完 Transformer 架构" in progress_text
    working = parse_working_memory(memory.read_text(WM).text)
    assert working.progress is not None and (working.progress.done, working.progress.percent) == (3, 17.6)


def test_a_progress_note_of_several_lines_is_refused_and_can_inject_no_table_row(memory: ProjectMemory) -> None:
    """A second line of a note stood on its own: a table row there became Lecture 09, done, of 19 lectures."""
    before = snapshot_tree(memory.root)
    injected = "读完\n| Lecture 09 | Scaling Laws | ✅ 已完成 | 2025-11-10 |"
    with pytest.raises(InvalidInput, match="note must be one line"):
        memory.update_progress("Lecture 03", "done", note=injected)
    assert snapshot_tree(memory.root) == before
    memory.update_progress("Lecture 03", note="读完 | 还剩作业")  # one line, a bar in it: a log item, no row
    progress = parse_progress(memory.read_text("学习进度.md").text)
    assert len(progress.lectures) == 17 and progress.done == 2


def test_update_progress_refuses_an_unknown_status_or_lecture(memory: ProjectMemory) -> None:
    with pytest.raises(InvalidInput, match="status"):
        memory.update_progress("3", "finished-ish")
    with pytest.raises(InvalidInput):
        memory.update_progress("Lecture 42", "done")


def test_research_todos_are_added_once_and_completed(memory: ProjectMemory) -> None:
    memory.add_research_todo("比较 GQA 与 MQA 的 KV 缓存", topic="内存与性能")
    memory.add_research_todo("比较 GQA 与 MQA 的 KV 缓存", topic="内存与性能")
    items = [t for t in memory.research_todos() if "MQA" in t.text]
    assert len(items) == 1 and not items[0].done
    done = memory.complete_research_todo("GQA 与 MQA")
    assert [t.done for t in memory.research_todos() if "MQA" in t.text] == [True]
    assert done.message == "done: 比较 GQA 与 MQA 的 KV 缓存", done.message  # the item, not the words typed


def test_save_lecture_note_files_a_new_lecture_under_its_phase(memory: ProjectMemory) -> None:
    result = memory.save_lecture_note("3", "理论概念", "# Transformer\n\n自注意力与前馈层。")
    assert result.path == "学习笔记/01-基础建立/03-Lecture03-TransformerArchitecture/01-理论概念.md"


def test_an_insight_title_differing_only_in_unicode_composition_is_the_same_insight(memory: ProjectMemory) -> None:
    """Café written composed and decomposed looks the same: it is one insight, not two identical headings."""
    import unicodedata

    composed, decomposed = "Café式的缓存", unicodedata.normalize("NFD", "Café式的缓存")
    memory.append_insight(composed, "- 一")
    again = memory.append_insight(decomposed, "- 一")
    assert not again.changed, again.message
    with pytest.raises(ProjectMemoryError, match="already"):
        memory.append_insight(decomposed, "- 另一个正文")
    text = memory.read_text(WM).text
    assert text.count("### Café式的缓存") + text.count(f"### {decomposed}") == 1


def test_save_lecture_note_refuses_a_lecture_neither_the_plan_nor_the_progress_table_has(
    memory: ProjectMemory,
) -> None:
    """update_progress refused Lecture 99 while save_lecture_note made 学习笔记/00-未分阶段/99-Lecture99/."""
    before = snapshot_tree(memory.root)
    with pytest.raises(InvalidInput, match="Lecture 01 to Lecture 17"):
        memory.save_lecture_note(99, "理论概念", "# 笔误\n\n本想写第9讲。")
    assert snapshot_tree(memory.root) == before


def test_a_section_update_that_takes_away_what_the_tools_read_says_so_and_can_be_undone(
    memory: ProjectMemory,
) -> None:
    version = memory.read_text("学习进度.md").version
    result = memory.update_section("学习进度.md#讲座进度", "表格暂时删掉，回头再补", version)
    assert "now lists 0 of its 17 lectures" in result.message and "undo_last_write" in result.message, result.message
    memory.undo(result.write_id)
    assert len(parse_progress(memory.read_text("学习进度.md").text).lectures) == 17
    wm = memory.read_text(WM)
    quiet = memory.update_section(f"{WM}#学习目标", "- 读懂每一讲", wm.version)
    assert "note:" not in quiet.message, quiet.message


def test_replacing_a_note_needs_the_version_the_model_read(memory: ProjectMemory) -> None:
    path = "学习笔记/01-基础建立/01-Lecture01-IntroductionTokenization/01-理论概念.md"
    with pytest.raises(InvalidInput, match="expected_version"):
        memory.save_lecture_note("1", "理论概念", "新内容")
    version = memory.read_text(path).version
    (memory.root / path).write_text("有人在编辑器里改了它\n", encoding="utf-8")
    with pytest.raises(DocumentChanged):
        memory.save_lecture_note("1", "理论概念", "新内容", expected_version=version)
    fresh = memory.read_text(path).version
    memory.save_lecture_note("1", "理论概念", "新内容", expected_version=fresh)
    assert memory.read_text(path).text == "新内容\n"


def test_update_section_replaces_one_section_and_refuses_a_stale_version(memory: ProjectMemory) -> None:
    page = memory.read_page(f"{WM}#下一步计划/短期目标（本周）")
    before = memory.read_text(WM).text
    memory.update_section(f"{WM}#下一步计划/短期目标（本周）", "1. 开始Lecture 04: MoE", page.version)
    after = memory.read_text(WM).text
    assert "1. 开始Lecture 04: MoE" in after
    assert after.split("### 短期目标（本周）")[0] == before.split("### 短期目标（本周）")[0]
    with pytest.raises(DocumentChanged):
        memory.update_section(f"{WM}#下一步计划/短期目标（本周）", "x", page.version)


def test_a_note_whose_name_holds_a_hash_is_read_by_the_handle_search_gives(memory: ProjectMemory) -> None:
    note = memory.root / "深度讨论" / "C#并发深度讨论.md"
    note.write_text("# C#并发深度讨论\n\n## 原始问题\n\nasync await 的线程模型\n\n## 思维过程\n\n细节\n",
                    encoding="utf-8")
    hits = memory.search(search_request("async await 线程模型")).hits
    assert hits and hits[0].path == "深度讨论/C#并发深度讨论.md", hits
    assert "async await" in memory.read_page(hits[0].handle).text
    assert memory.read_page("深度讨论/C#并发深度讨论.md").text.startswith("# C#并发深度讨论")
    assert memory.read_page("深度讨论/C#并发深度讨论.md#原始问题").text.lstrip().startswith("## 原始问题")


def test_read_page_serves_sections_by_handle_and_long_documents_in_pages(memory: ProjectMemory) -> None:
    page = memory.read_page(f"{WM}#重要技术洞察记录")
    assert page.text.lstrip().startswith("## ") and page.next_offset is None
    whole = memory.read_page(WM, page_chars=1000)
    assert whole.next_offset is not None and whole.total_chars > len(whole.text)
    rest = memory.read_page(WM, whole.next_offset, page_chars=1000)
    assert whole.text + rest.text == memory.read_text(WM).text[: len(whole.text) + len(rest.text)]
    with pytest.raises(SectionNotFound):
        memory.read_page(f"{WM}#没有这一节")
