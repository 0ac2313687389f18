"""Each memory document kind: what is read from it, and edits that rewrite only what they must.

The last part checks the bundled example memory (examples/cs336) for the facts the server relies on.
"""

from datetime import date
from pathlib import Path

import pytest

from memory_schema.discussion import (
    PART_ORDER,
    DiscussionParts,
    parse_discussion,
    render_discussion,
    render_round,
)
from memory_schema.errors import InvalidInput
from memory_schema.frontmatter import read_frontmatter, render_frontmatter
from memory_schema.insights import append_insight
from memory_schema.lectures import lecture_label, parse_lecture
from memory_schema.markdown import parse_markdown
from memory_schema.notes import lecture_folder, part_file, phase_folder
from memory_schema.plan import parse_plan
from memory_schema.progress import LectureStatus, parse_progress, parse_status, set_lecture_status
from memory_schema.research_todo import add_todo, complete_todo, parse_research_todo
from memory_schema.validation import (
    MAX_BODY_CHARS,
    MAX_TITLE_CHARS,
    check_body,
    check_file_name,
    check_tags,
    check_title,
)
from memory_schema.working_memory import (
    add_discussion_ref,
    parse_working_memory,
    set_progress,
    set_updated,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cs336"


def read(relpath: str) -> str:
    return (EXAMPLE / relpath).read_bytes().decode("utf-8")


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """The (old, new) pairs of lines that differ, for edits that keep the line count."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


# --- progress -----------------------------------------------------------------------------------------------

PROGRESS = """# 学习进度

## 总体进度
- **已完成讲座**: 1/3 (33.3%)

| 讲座 | 主题 | 阶段 | 状态 | 完成日期 |
|---|---|---|---|---|
| Lecture 01 | Tokenization | 第1阶段 | ✅ 已完成 | 2025-11-05 |
| Lecture 02 | PyTorch | 第1阶段 | 🔄 进行中 |  |
| Lecture 03 | Transformer | 第1阶段 | ⬜ 未开始 |  |
"""


def test_progress_table_rows_become_lectures() -> None:
    progress = parse_progress(PROGRESS)
    assert [(lec.number, lec.label, lec.status) for lec in progress.lectures] == [
        (1, "Lecture 01", LectureStatus.DONE),
        (2, "Lecture 02", LectureStatus.IN_PROGRESS),
        (3, "Lecture 03", LectureStatus.NOT_STARTED),
    ]
    first = progress.lectures[0]
    assert (first.topic, first.phase, first.done_on) == ("Tokenization", "第1阶段", "2025-11-05")
    assert progress.lectures[1].done_on is None
    assert (progress.done, progress.total) == (1, 3)
    assert progress.summary is not None and progress.summary.done == 1
    current = progress.current()
    assert current is not None and current.number == 2


def test_set_lecture_status_rewrites_only_that_row() -> None:
    updated = set_lecture_status(PROGRESS, 3, LectureStatus.DONE, "2026-11-30", "zh")
    assert changed_lines(PROGRESS, updated) == [
        (
            "| Lecture 03 | Transformer | 第1阶段 | ⬜ 未开始 |  |\n",
            "| Lecture 03 | Transformer | 第1阶段 | ✅ 已完成 | 2026-11-30 |\n",
        )
    ]
    assert parse_progress(updated).done == 2


def test_set_lecture_status_back_to_in_progress_clears_the_date() -> None:
    updated = set_lecture_status(PROGRESS, 1, LectureStatus.IN_PROGRESS, "2026-11-30", "en")
    assert "| Lecture 01 | Tokenization | 第1阶段 | 🔄 in progress |  |\n" in updated


def test_set_lecture_status_of_an_unknown_lecture_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"no row for Lecture 09; known lectures: Lecture 01, Lecture 02"):
        set_lecture_status(PROGRESS, 9, LectureStatus.DONE, "2026-11-30", "zh")


def test_set_lecture_status_keeps_crlf_and_fills_a_short_row() -> None:
    rows = ["| 讲座 | 主题 | 状态 | 完成日期 |", "|---|---|---|---|", "| Lecture 01 | A |"]
    rows.append("| Lecture 02 | B | ⬜ |  |")
    text = "".join(row + "\r\n" for row in rows)
    assert len(parse_progress(text).lectures) == 2
    updated = set_lecture_status(text, 1, LectureStatus.DONE, "2026-11-30", "zh")
    assert "| Lecture 01 | A | ✅ 已完成 | 2026-11-30 |\r\n" in updated
    assert updated.count("\n") == updated.count("\r\n")


@pytest.mark.parametrize(
    ("cell", "status"),
    [
        ("✅ 已完成", LectureStatus.DONE),
        ("已完成", LectureStatus.DONE),
        ("done", LectureStatus.DONE),
        ("[x]", LectureStatus.DONE),
        ("🔄 进行中", LectureStatus.IN_PROGRESS),
        ("In progress", LectureStatus.IN_PROGRESS),
        ("⏳", LectureStatus.IN_PROGRESS),
        ("⬜ 未开始", LectureStatus.NOT_STARTED),
        ("未完成", LectureStatus.NOT_STARTED),
        ("待完成", LectureStatus.NOT_STARTED),
        ("not done", LectureStatus.NOT_STARTED),
        ("进行中（未完成）", LectureStatus.IN_PROGRESS),
        ("", LectureStatus.NOT_STARTED),
    ],
)
def test_parse_status_reads_the_markers_people_use(cell: str, status: LectureStatus) -> None:
    assert parse_status(cell) is status


# --- plan ---------------------------------------------------------------------------------------------------


def test_plan_phases_hold_their_lectures() -> None:
    plan = parse_plan(
        "# Plan\n\n## Phase 1: Basics (weeks 1-2)\n- Lecture 01: Tokenization\n- Lecture 02: PyTorch\n\n"
        "## Phase 2 - Systems\n- Lecture 03: GPUs\n- reading list, no lecture\n"
    )
    assert [(p.number, p.name, p.heading) for p in plan.phases] == [
        (1, "Basics", "Phase 1: Basics"),
        (2, "Systems", "Phase 2 - Systems"),
    ]
    assert [lec.title for lec in plan.phases[0].lectures] == ["Tokenization", "PyTorch"]
    phase = plan.phase_of(3)
    assert phase is not None and phase.number == 2
    assert plan.phase_of(4) is None
    assert plan.total == 3


# --- research TODO ------------------------------------------------------------------------------------------

TODO = """# 深度探索TODO

## 内存与性能
- [x] 算清7B模型内存
- [ ] 实测峰值显存

## 分词与数据
- [ ] 统计中文bytes/token
"""


def test_research_todo_items_know_their_topic_state_and_line() -> None:
    items = parse_research_todo(TODO)
    assert [(i.text, i.done, i.topic, i.line) for i in items] == [
        ("算清7B模型内存", True, "内存与性能", 4),
        ("实测峰值显存", False, "内存与性能", 5),
        ("统计中文bytes/token", False, "分词与数据", 8),
    ]


def test_add_todo_under_an_existing_topic_continues_its_checklist() -> None:
    updated = add_todo(TODO, "比较activation checkpointing", "内存与性能", "2026-11-30")
    assert "- [ ] 实测峰值显存\n- [ ] 比较activation checkpointing (2026-11-30)\n\n## 分词与数据" in updated
    assert updated.replace("- [ ] 比较activation checkpointing (2026-11-30)\n", "") == TODO


def test_add_todo_with_a_new_topic_creates_its_heading_under_the_title() -> None:
    updated = add_todo(TODO, "推导GQA下的最大batch", "推理与量化", "2026-11-30")
    assert updated == TODO + "\n## 推理与量化\n\n- [ ] 推导GQA下的最大batch (2026-11-30)\n"
    assert parse_research_todo(updated)[-1].topic == "推理与量化"


def test_add_todo_keeps_an_item_once_whether_it_is_open_or_done() -> None:
    once = add_todo(TODO, "比较 (A) 与 (B)", "内存与性能", "2026-11-30")
    assert add_todo(once, "比较 (A) 与 (B)", "内存与性能", "2026-12-01") == once
    assert add_todo(TODO, "实测峰值显存", "分词与数据", "2026-11-30") == TODO
    # Done already: adding it again is a retry (or a re-applied write after an editor's save), not a new item.
    assert add_todo(TODO, "算清7B模型内存", "内存与性能", "2026-11-30") == TODO


def test_a_new_item_after_one_with_trailing_spaces_leaves_those_spaces_alone() -> None:
    text = "## 主题\n- [ ] 旧的一项  \n"
    updated = add_todo(text, "新的一项", "主题", "2026-11-30")
    assert updated == "## 主题\n- [ ] 旧的一项  \n- [ ] 新的一项 (2026-11-30)\n"


def test_complete_todo_ticks_the_one_matching_item() -> None:
    updated = complete_todo(TODO, "峰值显存", "2026-11-30")
    assert changed_lines(TODO, updated) == [("- [ ] 实测峰值显存\n", "- [x] 实测峰值显存 ✅ 2026-11-30\n")]


def test_complete_todo_refuses_an_ambiguous_item() -> None:
    with pytest.raises(InvalidInput, match="2 open items match '实测'"):
        complete_todo(TODO + "- [ ] 实测带宽\n", "实测", "2026-11-30")


def test_completing_an_item_already_done_changes_nothing() -> None:
    assert complete_todo(TODO, "算清7B模型内存", "2026-11-30") == TODO


def test_complete_todo_without_a_match_lists_the_open_items() -> None:
    with pytest.raises(InvalidInput, match="open items: 实测峰值显存; 统计中文bytes/token"):
        complete_todo(TODO, "从未记下的条目", "2026-11-30")


def test_research_todo_edits_keep_crlf() -> None:
    text = TODO.replace("\n", "\r\n")
    assert parse_research_todo(text) == parse_research_todo(TODO)
    for updated in (
        complete_todo(text, "峰值显存", "2026-11-30"),
        add_todo(text, "新方向", "内存与性能", "2026-11-30"),
        add_todo(text, "新方向", "新主题", "2026-11-30"),
    ):
        assert updated.count("\n") == updated.count("\r\n")


# --- discussions --------------------------------------------------------------------------------------------

PARTS = DiscussionParts(
    question="7B模型用混合精度和AdamW训练，至少需要多少显存？",
    thinking="1. 只数了份数，没数字节数",
    details="```python\n# 每个参数16字节\nprint(7e9 * 16 / 1e9)\n```",
    methodology="- 先列账本再求和",
    practice="- 训练前先估算内存",
)


def test_a_rendered_discussion_parses_back_to_what_was_recorded() -> None:
    text = render_discussion(
        "KV缓存", PARTS, lecture="Lecture 02", tags=["内存", "推理"], today=date(2026, 11, 30), language="zh"
    )
    assert text.startswith("---\ntopic: KV缓存\n")
    discussion = parse_discussion("深度讨论/KV缓存深度讨论.md", text)
    assert discussion.title == "KV缓存深度讨论"
    assert discussion.topic == "KV缓存"
    assert discussion.lecture == 2
    assert discussion.tags == ["内存", "推理"]
    assert discussion.created == "2026-11-30"
    assert discussion.parts_present == list(PART_ORDER)
    assert discussion.summary == "7B模型用混合精度和AdamW训练，至少需要多少显存？"
    assert discussion.rounds == 1
    assert [s.path for s in parse_markdown(text).headings()][1:] == [
        "KV缓存深度讨论/原始问题",
        "KV缓存深度讨论/思维过程",
        "KV缓存深度讨论/技术细节",
        "KV缓存深度讨论/方法论提炼",
        "KV缓存深度讨论/实践指导",
    ]


def test_each_appended_round_is_counted() -> None:
    text = render_discussion("KV缓存", PARTS, lecture=None, tags=[], today=date(2026, 11, 30), language="zh")
    for number in (2, 3):
        text += "\n" + render_round(number, PARTS, date(2026, 12, number), "zh") + "\n"
    discussion = parse_discussion("深度讨论/KV缓存深度讨论.md", text)
    assert discussion.rounds == 3
    assert "## 第3轮讨论 (2026-12-03)\n\n### 原始问题" in text
    assert discussion.parts_present == list(PART_ORDER)


def test_an_english_discussion_round_trips_too() -> None:
    text = render_discussion("KV cache", PARTS, lecture="Lecture 10", tags=[], today=date(2026, 1, 2), language="en")
    text += "\n" + render_round(2, PARTS, date(2026, 1, 3), "en")
    discussion = parse_discussion("discussions/KV cache.md", text)
    assert (discussion.title, discussion.lecture, discussion.rounds) == ("KV cache", 10, 2)
    assert discussion.parts_present == list(PART_ORDER)


def test_a_discussion_without_frontmatter_takes_topic_and_lecture_from_its_name() -> None:
    text = "# Lecture 05 GPU内存深度讨论\n\n## 原始问题\n\n- 2025年的H100有多少SM？\n"
    discussion = parse_discussion("深度讨论/GPU内存深度讨论.md", text)
    assert (discussion.topic, discussion.lecture, discussion.tags) == ("GPU内存", 5, [])
    assert discussion.parts_present == ["question"]
    assert discussion.summary == "2025年的H100有多少SM？"  # list marker gone, leading digits kept


def test_comma_separated_tags_in_frontmatter_are_split() -> None:
    discussion = parse_discussion("深度讨论/x.md", "---\ntags: 内存，推理, GQA\n---\n# x\n")
    assert discussion.tags == ["内存", "推理", "GQA"]


# --- working memory edits -----------------------------------------------------------------------------------

WORKING_MEMORY = """# AI助手工作记忆文档

## 📊 当前进度状态
- **已完成讲座**: 2/17 (11.8%)
- **当前阶段**: 第1阶段 - 基础建立 (进行中)

## 🛠️ 工作方法论

### 🎯 深度讨论目录说明
**现有文档**:
1. `a.md` - 甲
2. `b.md` - 乙

**生成规则**: 都放这里

---

**最后更新**: 2025-11-07
"""


def test_add_discussion_ref_numbers_the_new_entry_after_the_last() -> None:
    updated = add_discussion_ref(WORKING_MEMORY, "c.md", "丙", "zh")
    assert "2. `b.md` - 乙\n3. `c.md` - 丙\n\n**生成规则**" in updated
    assert [ref.file for ref in parse_working_memory(updated).discussions] == ["a.md", "b.md", "c.md"]
    assert add_discussion_ref(updated, "c.md", "again", "zh") == updated


def test_add_discussion_ref_on_the_seed_is_the_seventh_entry(seed_text: str) -> None:
    updated = add_discussion_ref(seed_text, "KV缓存深度讨论.md", "KV缓存公式", "zh")
    assert (
        "6. `内存墙与流式处理的哲学类比.md` - 跨领域技术哲学的深度洞察\n7. `KV缓存深度讨论.md` - KV缓存公式\n"
        in updated
    )
    assert len(parse_working_memory(updated).discussions) == 7
    assert add_discussion_ref(updated, "KV缓存深度讨论.md", "KV缓存公式", "zh") == updated


def test_an_entry_without_description_does_not_take_the_next_line() -> None:
    text = "## Discussions\n\n1. `a.md`\n\n---\n\n**Last updated**: 2026-01-01\n"
    assert [(r.file, r.description) for r in parse_working_memory(text).discussions] == [("a.md", "")]
    updated = add_discussion_ref(text, "b.md", "", "en")
    assert updated.startswith("## Discussions\n\n1. `a.md`\n2. `b.md`\n\n---")


def test_add_discussion_ref_starts_a_list_when_there_is_none() -> None:
    text = "# Memory\n\n## Discussions\nSee below.\n"
    assert add_discussion_ref(text, "a.md", "first", "en") == (
        "# Memory\n\n## Discussions\nSee below.\n\n**Existing documents**:\n1. `a.md` - first\n"
    )


def test_set_progress_rewrites_the_count_and_the_phase_in_place() -> None:
    updated = set_progress(WORKING_MEMORY, 3, 17, "第1阶段 - 基础建立 (收尾)")
    assert changed_lines(WORKING_MEMORY, updated) == [
        ("- **已完成讲座**: 2/17 (11.8%)\n", "- **已完成讲座**: 3/17 (17.6%)\n"),
        ("- **当前阶段**: 第1阶段 - 基础建立 (进行中)\n", "- **当前阶段**: 第1阶段 - 基础建立 (收尾)\n"),
    ]
    assert "当前阶段**: 第1阶段 - 基础建立 (进行中)" in set_progress(WORKING_MEMORY, 3, 17, None)


def test_set_updated_leaves_a_document_without_the_field_alone() -> None:
    assert set_updated("# Notes\n", "2026-11-30") == "# Notes\n"


def test_append_insight_creates_the_section_after_the_method_section() -> None:
    updated = append_insight(WORKING_MEMORY, "新洞察", "- 要点", "", "zh")
    assert "**生成规则**: 都放这里\n\n## 🧠 重要技术洞察记录\n\n### 新洞察\n- 要点\n\n---" in updated
    assert [i.title for i in parse_working_memory(updated).insights] == ["新洞察"]


def test_a_new_insight_section_gets_a_blank_line_on_either_side() -> None:
    text = "# Memory\n## Method\n- work\n## Next steps\n- more\n"
    updated = append_insight(text, "Insight", "- point", "", "en")
    assert updated == (
        "# Memory\n## Method\n- work\n\n## Key insights\n\n### Insight\n- point\n\n## Next steps\n- more\n"
    )


def test_append_insight_in_an_english_memory_with_frontmatter_goes_before_the_footer() -> None:
    text = "---\nowner: me\n---\n# Memory\n\nSome notes.\n\n---\n\n**Last updated**: 2026-01-01\n"
    updated = append_insight(text, "Insight", "- point", "", "en")
    assert updated.startswith("---\nowner: me\n---\n# Memory\n\nSome notes.\n\n## Key insights\n\n### Insight")
    assert updated.endswith("\n---\n\n**Last updated**: 2026-01-01\n")


# --- lectures, notes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Lecture5", 5),
        ("Lecture 05", 5),
        ("lecture-05", 5),
        ("L05", None),
        ("L2缓存的命中率", None),
        ("第5讲", 5),
        ("第 12 课", 12),
        ("01-Lecture01-IntroductionTokenization", 1),
        ("Lecture 17: Alignment", 17),
        ("HTML5", None),
        ("Lecture 0", None),
        ("no lecture here", None),
    ],
)
def test_parse_lecture_reads_the_ways_people_write_a_lecture(text: str, number: int | None) -> None:
    assert parse_lecture(text) == number


def test_lecture_label_pads_to_two_digits() -> None:
    assert lecture_label(5) == "Lecture 05"


def test_note_parts_names_and_folders() -> None:
    assert part_file("theory") == "01-理论概念.md"
    assert part_file("实践代码") == "02-实践代码.md"
    assert part_file("03-深度问答.md") == "03-深度问答.md"
    assert part_file("readme") == "README.md"
    with pytest.raises(InvalidInput, match="use one of: 理论概念, 实践代码, 深度问答, README"):
        part_file("summary")
    assert phase_folder(1, "基础建立") == "01-基础建立"
    assert phase_folder(2, "硬件/系统") == "02-硬件系统"
    assert lecture_folder(2, "PyTorch & Resource Accounting") == "02-Lecture02-PyTorchResourceAccounting"
    assert lecture_folder(3, "") == "03-Lecture03"


# --- validation ---------------------------------------------------------------------------------------------


def test_check_title_returns_the_stripped_title() -> None:
    assert check_title("  KV缓存  ") == "KV缓存"


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "title is empty"),
        ("two\nlines", "must be one line"),
        ("# heading", "must not start with '#'"),
        ("x" * (MAX_TITLE_CHARS + 1), f"keep it under {MAX_TITLE_CHARS}"),
    ],
)
def test_check_title_refuses_what_would_break_a_heading(title: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_title(title)


@pytest.mark.parametrize("topic", ["a/b", "a\\b", "a:b", "a?b", "a*b", "a|b", "a<b", 'a"b', ".hidden", "CON", "x."])
def test_a_topic_is_a_file_name_every_system_can_hold(topic: str) -> None:
    with pytest.raises(InvalidInput):
        check_file_name(topic, "topic", "{topic}深度讨论.md")


def test_a_topic_of_80_chinese_characters_fits_and_81_is_refused_with_its_size() -> None:
    assert check_file_name("中" * 80, "topic", "{topic}深度讨论.md") == "中" * 80
    with pytest.raises(InvalidInput, match=r"243 bytes.*at most 240 bytes"):
        check_file_name("中" * 81, "topic", "{topic}深度讨论.md")


def test_check_body_accepts_deep_headings_and_strips_outer_blank_lines() -> None:
    assert check_body("\n- point\n\n#### detail\n") == "- point\n\n#### detail"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("text\n\n## heading", "line 3 is a level-2 heading"),
        ("Title\n=====", "line 1 is a level-1 heading"),
        ("---\n## hidden\n---", "line 2 is a level-2 heading"),
        ("```python\nx = 1", "leaves a code block or HTML block open"),
        ("<!-- note", "leaves a code block or HTML block open"),
        ("   ", "body is empty"),
        ("a\x00b", "NUL"),
    ],
)
def test_check_body_refuses_text_that_would_break_the_outline(body: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_body(body)


def test_an_oversize_body_is_refused_with_the_limit_in_the_message() -> None:
    with pytest.raises(InvalidInput, match=f"keep it under {MAX_BODY_CHARS}"):
        check_body("x" * (MAX_BODY_CHARS + 1))
    with pytest.raises(InvalidInput, match="keep it under 10 "):
        check_body("x" * 11, limit=10)


def test_a_whole_note_may_have_any_heading() -> None:
    assert check_body("# Title\n\n## Part", min_heading=1) == "# Title\n\n## Part"


def test_check_tags_drops_duplicates_and_refuses_too_many() -> None:
    assert check_tags(["内存", " 内存 ", "GQA"]) == ["内存", "GQA"]
    assert check_tags(None) == []
    with pytest.raises(InvalidInput, match="at most 12"):
        check_tags([f"t{i}" for i in range(13)])


# --- frontmatter --------------------------------------------------------------------------------------------


def test_broken_frontmatter_keeps_the_text_and_reports_the_problem() -> None:
    text = "---\ntags: [内存\n---\n# Title\n"
    document = parse_markdown(text)
    assert document.text == text
    assert document.metadata == {}
    assert document.frontmatter_problem is not None and "not valid YAML" in document.frontmatter_problem
    assert [s.path for s in document.headings()] == ["Title"]


def test_frontmatter_that_is_not_a_mapping_is_reported() -> None:
    problem = read_frontmatter("---\n- a\n- b\n---\n").problem
    assert problem == "frontmatter is not a mapping of keys to values"


def test_a_document_without_frontmatter_starts_at_offset_zero() -> None:
    document = parse_markdown("# Title\n---\n")
    assert (document.body_offset, document.metadata, document.frontmatter_problem) == (0, {}, None)


def test_rendered_frontmatter_reads_back() -> None:
    meta = {"topic": "KV缓存", "tags": ["内存", "推理"], "created": date(2026, 11, 30)}
    rendered = render_frontmatter(meta)
    assert "tags: [内存, 推理]" in rendered
    assert read_frontmatter(rendered + "# x\n").metadata == meta


# --- the bundled example memory -----------------------------------------------------------------------------


def test_the_example_working_memory_has_the_facts_the_briefing_shows() -> None:
    memory = parse_working_memory(read("AI助手工作记忆.md"))
    assert memory.progress is not None and (memory.progress.done, memory.progress.total) == (2, 17)
    assert len(memory.insights) == 3
    assert len(memory.takeaways) == 4
    assert len(memory.discussions) == 6
    for ref in memory.discussions:
        assert (EXAMPLE / "深度讨论" / ref.file).is_file(), ref.file
    assert memory.next_steps and "Lecture 03" in memory.next_steps[0].items[0]
    assert memory.updated is not None


def test_the_example_progress_table_has_seventeen_lectures_two_done() -> None:
    progress = parse_progress(read("学习进度.md"))
    assert [lec.number for lec in progress.lectures] == list(range(1, 18))
    assert progress.done == 2
    current = progress.current()
    assert current is not None and current.number == 3


def test_the_example_plan_has_five_phases_and_seventeen_lectures() -> None:
    plan = parse_plan(read("学习计划.md"))
    assert [phase.number for phase in plan.phases] == [1, 2, 3, 4, 5]
    assert plan.phases[0].name == "基础建立"
    assert plan.total == 17
    phase = plan.phase_of(5)
    assert phase is not None and phase.heading == "第2阶段 - 硬件与系统"


def test_the_example_research_todo_has_open_and_done_items() -> None:
    items = parse_research_todo(read("深度探索TODO.md"))
    assert any(not item.done for item in items) and any(item.done for item in items)
    assert all(item.topic for item in items)


def test_every_example_discussion_has_all_five_parts() -> None:
    paths = sorted((EXAMPLE / "深度讨论").glob("*.md"))
    assert len(paths) == 6
    for path in paths:
        discussion = parse_discussion(f"深度讨论/{path.name}", path.read_bytes().decode("utf-8"))
        assert discussion.parts_present == list(PART_ORDER), path.name
        assert discussion.lecture == 2 and discussion.tags and discussion.created
        assert discussion.rounds == 1
        assert discussion.summary


def test_the_example_lecture_folders_name_their_lectures() -> None:
    folders = sorted(p.name for p in (EXAMPLE / "学习笔记" / "01-基础建立").iterdir())
    assert [parse_lecture(name) for name in folders] == [1, 2]


def test_a_new_day_in_the_progress_log_goes_on_top_of_the_newest_first_log() -> None:
    from memory_schema.progress import add_log_line

    text = "# 进度\n\n## 学习日志\n### 2025-11-07\n- 旧的一天\n\n### 2025-11-06\n- 更早\n"
    updated = add_log_line(text, "2026-11-30", "新的一行", "zh")
    expected = (
        "# 进度\n\n## 学习日志\n### 2026-11-30\n- 新的一行\n\n"
        "### 2025-11-07\n- 旧的一天\n\n### 2025-11-06\n- 更早\n"
    )
    assert updated == expected
    again = add_log_line(updated, "2026-11-30", "第二行", "zh")
    assert "- 新的一行\n- 第二行\n\n### 2025-11-07" in again


@pytest.mark.parametrize(("word", "expected"), [("done", "done"), ("已完成", "done"), ("进行中", "in_progress"),
                                                 ("not started", "not_started")])
def test_status_words_are_understood_in_both_languages(word: str, expected: str) -> None:
    from memory_schema.progress import status_from_word

    assert status_from_word(word).value == expected


def test_lecture_numbers_from_people_and_models() -> None:
    from memory_schema.errors import InvalidInput
    from memory_schema.lectures import lecture_number

    assert [lecture_number(v) for v in (3, "3", "Lecture 03", "第3讲")] == [3, 3, 3, 3]
    with pytest.raises(InvalidInput):
        lecture_number("soon")
