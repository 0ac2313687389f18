"""The person's real working memory (../shared/seed): what it says, and that an edit changes nothing else."""

import difflib

import pytest

from memory_schema.insights import append_insight, find_insight, insight_body, render_insight
from memory_schema.markdown import parse_markdown
from memory_schema.markdown import parse_markdown as _parse
from memory_schema.working_memory import (
    WorkingMemory,
    add_discussion_ref,
    parse_working_memory,
    set_progress,
    set_updated,
)

INSIGHT_TITLES = ["7B模型内存计算精确方法", "BPE算法核心思想", "PyTorch系统思维"]
DISCUSSION_FILES = [
    "7B模型内存计算分析.md",
    "KV缓存内存计算精确分析.md",
    "数据加载器优化详解.md",
    "量化技术深度解析.md",
    "内存层次结构深度讨论.md",
    "内存墙与流式处理的哲学类比.md",
]
NEW_BODY = "- **公式**: 2 × 层数 × KV头数 × d_head × 序列长度 × 字节数"
NEW_META = "- **标签**: 内存 | **日期**: 2026-11-30"
NEW_ENTRY = render_insight("KV缓存大小公式", NEW_BODY, NEW_META)


@pytest.fixture
def memory(seed_text: str) -> WorkingMemory:
    return parse_working_memory(seed_text)


def test_seed_progress_is_two_of_seventeen_lectures(memory: WorkingMemory) -> None:
    assert memory.progress is not None
    assert (memory.progress.done, memory.progress.total, memory.progress.percent) == (2, 17, 11.8)
    assert memory.progress.phase == "第1阶段 - 基础建立 (进行中)"
    assert memory.progress.week == "第1周 (2025-11-04 至 2025-11-10)"


def test_seed_has_three_insights_under_the_insight_section(memory: WorkingMemory) -> None:
    assert [insight.title for insight in memory.insights] == INSIGHT_TITLES
    assert memory.insights[1].handle_path == "AI助手工作记忆文档/重要技术洞察记录/BPE算法核心思想"
    assert memory.insights[0].body.startswith("- **简化计算**: 56GB")
    assert "Adam状态56GB" in memory.insights[0].body


def test_seed_has_four_key_takeaways(memory: WorkingMemory) -> None:
    assert len(memory.takeaways) == 4
    assert memory.takeaways[0].startswith("**BPE算法深入理解**")
    assert "124-172GB" in memory.takeaways[2]


def test_seed_lists_the_six_discussion_documents(memory: WorkingMemory) -> None:
    assert [ref.file for ref in memory.discussions] == DISCUSSION_FILES
    assert memory.discussions[2].description == "pin_memory和persistent_workers技术详解"


def test_seed_next_steps_start_with_lecture_03(memory: WorkingMemory) -> None:
    groups = memory.next_steps
    assert [group.title for group in groups] == [
        "短期目标（本周）",
        "中期目标（本月）",
        "长期目标（课程结束）",
    ]
    assert "Lecture 03" in groups[0].items[0]
    assert all(len(group.items) == 3 for group in groups)  # the footer after `---` is no step


def test_seed_footer_gives_date_author_and_version(memory: WorkingMemory) -> None:
    assert (memory.updated, memory.updated_by, memory.version) == ("2025-11-07", "Claude Code", "v1.0")


def test_seed_overview_goals_and_completed_work(memory: WorkingMemory) -> None:
    assert memory.title == "AI助手工作记忆文档"
    assert memory.overview["学习者"] == "peixingxin"
    assert len(memory.goals) == 6
    assert memory.completed_work == [
        "Lecture 01: Introduction & Tokenization",
        "Lecture 02: PyTorch Building Blocks & Resource Accounting",
    ]


def test_seed_headings_are_found_without_their_emoji(seed_text: str) -> None:
    document = parse_markdown(seed_text)
    section = document.find("重要技术洞察记录")
    assert section.raw_title == "🧠 重要技术洞察记录"
    assert section.level == 2
    assert document.find("重要技术洞察记录/BPE算法核心思想").raw_title == "BPE算法核心思想"
    assert document.find("苏格拉底式讨论记录要求 (CRITICAL)").level == 4


def test_seed_sections_nobody_parses_are_kept_and_listed(memory: WorkingMemory) -> None:
    for path in (
        "AI助手工作记忆文档/工作习惯和偏好/代码风格",
        "AI助手工作记忆文档/技术栈和工具/开发环境",
        "AI助手工作记忆文档/注意事项和限制/Token限制",
    ):
        assert path in memory.sections
    assert len(memory.sections) == 36


def test_seed_comment_lines_in_the_folder_tree_fence_are_not_headings(seed_text: str) -> None:
    document = parse_markdown(seed_text)
    organisation = document.find("工作方法论/文档组织")
    fence = document.own_text(organisation)
    assert fence.lstrip().startswith("```") and "# 🔥 重要" in fence
    assert document.children(organisation) == []
    following = next(s for s in document.headings() if s.start > organisation.start)
    assert following.title == "深度讨论目录说明"


def test_parsing_the_seed_leaves_it_byte_for_byte(seed_text: str) -> None:
    assert parse_markdown(seed_text).text == seed_text
    assert not seed_text.endswith("\n")  # the seed has no final newline; the edits below must keep it so
    assert set_updated(seed_text, "2025-11-07") == seed_text
    assert set_progress(seed_text, 2, 17, None) == seed_text
    assert add_discussion_ref(seed_text, "量化技术深度解析.md", "again", "zh") == seed_text


def test_appending_an_insight_to_the_seed_changes_only_the_new_entry_and_the_date(seed_text: str) -> None:
    updated = set_updated(append_insight(seed_text, "KV缓存大小公式", NEW_BODY, NEW_META, "zh"), "2026-11-30")
    before, after = seed_text.splitlines(keepends=True), updated.splitlines(keepends=True)
    opcodes = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    changes = [op for op in opcodes if op[0] != "equal"]
    assert [op[0] for op in changes] == ["insert", "replace"]

    _, at, _, j1, j2 = changes[0]
    document = parse_markdown(seed_text)
    insights, following = document.find("重要技术洞察记录"), document.find("工作习惯和偏好")
    assert insights.line < at + 1 <= following.line  # the new lines sit inside 重要技术洞察记录
    assert "".join(after[j1:j2]).strip() == NEW_ENTRY.strip()

    _, i1, i2, k1, k2 = changes[1]
    assert before[i1:i2] == ["**最后更新**: 2025-11-07\n"]
    assert after[k1:k2] == ["**最后更新**: 2026-11-30\n"]
    assert updated.endswith("**版本**: v1.0")

    reread = parse_working_memory(updated)
    assert [insight.title for insight in reread.insights] == [*INSIGHT_TITLES, "KV缓存大小公式"]
    new_path = "AI助手工作记忆文档/重要技术洞察记录/KV缓存大小公式"
    assert [path for path in reread.sections if path != new_path] == parse_working_memory(seed_text).sections
    found = find_insight(_parse(updated), "KV缓存大小公式")
    assert found is not None and insight_body(_parse(updated), found) == NEW_BODY.strip()
    assert find_insight(_parse(seed_text), "KV缓存大小公式") is None


def test_the_seed_saved_with_a_bom_and_crlf_reads_the_same_and_edits_keep_both(seed_text: str) -> None:
    windows = "\ufeff" + seed_text.replace("\n", "\r\n")
    read = parse_working_memory(windows)
    for insight in read.insights:  # bodies are the text as written, CRLF included
        insight.body = insight.body.replace("\r\n", "\n")
    assert read == parse_working_memory(seed_text)

    def edit(text: str) -> str:
        added = append_insight(text, "KV缓存大小公式", NEW_BODY, NEW_META, "zh")
        return set_updated(add_discussion_ref(added, "新.md", "新讨论", "zh"), "x")

    updated = edit(windows)
    assert updated.startswith("\ufeff# AI助手工作记忆文档\r\n")
    assert updated.count("\n") == updated.count("\r\n")
    assert updated.replace("\r\n", "\n").lstrip("\ufeff") == edit(seed_text)
