"""get_session_context on the bundled example: what it carries at each budget."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_schema.working_memory import parse_working_memory
from server.briefing import build_session_context
from server.memory import ProjectMemory
from server.tokens import estimate_tokens
from support import TODAY, copy_example


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[ProjectMemory]:
    with ProjectMemory(copy_example(tmp_path), today=lambda: TODAY) as memory:
        yield memory


def test_at_1500_tokens_the_briefing_carries_the_rules_and_every_insight(memory: ProjectMemory) -> None:
    briefing = build_session_context(memory, 1500)
    text = briefing.text
    assert "2/17" in text and "Lecture 03" in text and "CRITICAL" in text
    working = parse_working_memory(memory.read_text("AI助手工作记忆.md").text)
    assert all(insight.title in text for insight in working.insights)
    assert "原始问题/思维过程/技术细节/方法论提炼/实践指导" in text
    assert briefing.estimated_tokens <= 1500


def test_at_3000_tokens_the_briefing_carries_the_whole_review(memory: ProjectMemory) -> None:
    briefing = build_session_context(memory, 3000)
    text = briefing.text
    assert "2/17" in text and "第1阶段" in text and "Lecture 03" in text
    working = parse_working_memory(memory.read_text("AI助手工作记忆.md").text)
    for insight in working.insights:
        assert insight.title in text
    for discussion in memory.discussions():
        assert discussion.path in text
    for todo in memory.research_todos():
        if not todo.done:
            assert todo.text in text
    assert briefing.estimated_tokens <= 3000 and briefing.omitted == []


def test_at_500_tokens_it_keeps_progress_phase_and_next_step_and_lists_what_it_left_out(
    memory: ProjectMemory,
) -> None:
    briefing = build_session_context(memory, 500)
    assert "2/17" in briefing.text and "第1阶段" in briefing.text and "Lecture 03" in briefing.text
    assert briefing.omitted, "something must be left out at 500 tokens"
    assert all(f"{item.count} {item.kind}" in briefing.text for item in briefing.omitted)
    assert estimate_tokens(briefing.text) <= 500


def test_later_plan_horizons_are_named_not_merged_into_the_next_steps(memory: ProjectMemory) -> None:
    """The plan's 短期目标（本周） are the next steps; its 中期/长期 goals say which they are."""
    text = build_session_context(memory, 4000).text
    steps = text.split("## Next steps\n", 1)[1].split("\n## ", 1)[0].splitlines()
    assert steps[0] == "- 开始Lecture 03: Transformer Architecture，重点看pre-norm、RoPE与SwiGLU"
    later = [step for step in steps if "第2阶段" in step or "复现一个小型语言模型" in step]
    assert later and all(step.startswith(("- 中期目标（本月）: ", "- 长期目标（课程结束）: ")) for step in later), later
    assert not any(step.startswith("- 短期目标") for step in steps)


def test_the_briefing_flags_a_working_memory_that_disagrees_with_progress(memory: ProjectMemory) -> None:
    path = memory.root / "学习进度.md"
    path.write_text(path.read_text(encoding="utf-8").replace("| ⬜ 未开始 |", "| ✅ 已完成 |", 1), encoding="utf-8")
    briefing = build_session_context(memory, 2000)
    assert any("3/17" in flag and "2/17" in flag for flag in briefing.flags)


def test_the_briefing_flags_a_working_memory_not_updated_for_weeks(memory: ProjectMemory) -> None:
    briefing = build_session_context(memory, 2000)
    assert any("not updated for" in flag for flag in briefing.flags)


def test_a_focus_adds_matching_notes(memory: ProjectMemory) -> None:
    memory.ensure_index()
    briefing = build_session_context(memory, 3000, focus="pin_memory")
    assert "focus" in briefing.included
    assert "数据加载器优化详解" in briefing.text


def test_a_document_saved_in_another_encoding_is_left_out_and_named_not_fatal(memory: ProjectMemory) -> None:
    """A Chinese editor on Windows may save a note as GBK: the briefing and the discussion list are made of every
    other document, and say which one they left out and how to mend it."""
    gbk = "# 量化技术深度讨论\n\n## 原始问题\n\nINT8\n".encode("gbk")
    (memory.root / "深度讨论" / "量化技术深度讨论.md").write_bytes(gbk)
    todo = memory.root / "深度探索TODO.md"
    todo.write_bytes(todo.read_text(encoding="utf-8").encode("gbk"))
    briefing = build_session_context(memory, 3000)
    assert "2/17" in briefing.text and "Lecture 03" in briefing.text
    for name in ("深度讨论/量化技术深度讨论.md", "深度探索TODO.md"):
        assert any(name in flag and "not valid UTF-8" in flag and "Re-save it as UTF-8" in flag
                   for flag in briefing.flags), briefing.flags
        assert name in briefing.text
    listing = memory.list_discussions()
    assert listing.discussions and "深度讨论/量化技术深度讨论.md" not in [entry.path for entry in listing.discussions]
    assert [reason.split(" ")[0] for reason in listing.skipped] == ["深度讨论/量化技术深度讨论.md"]
    from server.status import build_status

    left_out = [reason.split(" ")[0] for reason in build_status(memory).left_out]
    assert sorted(left_out) == ["深度探索TODO.md", "深度讨论/量化技术深度讨论.md"], left_out


@pytest.mark.parametrize("budget", [200, 500, 2000])
def test_many_unreadable_files_make_one_line_and_the_briefing_stays_in_budget(
    memory: ProjectMemory, budget: int
) -> None:
    gbk = "# 旧\n\n## 原始问题\n\n内容\n".encode("gbk")
    for number in range(120):
        (memory.root / "深度讨论" / f"旧 讨论{number:03d}.md").write_bytes(gbk)
    briefing = build_session_context(memory, budget)
    assert briefing.estimated_tokens <= budget and "2/17" in briefing.text
    left_out = [flag for flag in briefing.flags if flag.startswith("left out")]
    assert len(left_out) == 1 and left_out[0].startswith("left out 120 files"), left_out
    assert "深度讨论/旧 讨论" in left_out[0], left_out  # named by path, spaces and all
