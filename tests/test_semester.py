"""Issue 11: a memory that stays useful for a whole course.

One test (or a few) per bullet of the issue's "Why": the briefing at semester scale and on an empty `init`
root, continuing the person's own discussions by their names, the discussion list's hygiene, unique and
revisable insights, progress conflicts, truthful `changed`, errors in words (in process, through the MCP
client), and one round trip over stdio. The semester-sized memory is grown once per module, through the use
cases themselves, from a copy of the bundled example.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client, StdioServerParameters

from memory_schema.discussion import DiscussionParts
from memory_schema.errors import DocumentChanged, InsightExists, InvalidInput, ProjectMemoryError
from memory_schema.markdown import parse_markdown
from memory_schema.progress import parse_progress
from memory_schema.rules import digest_rules
from memory_schema.working_memory import parse_working_memory
from server.app import create_server
from server.briefing import SessionContext, build_session_context
from server.memory import ProjectMemory
from server.scaffold import init_memory
from server.search import MAX_QUERY_CHARS
from server.search.request import search_request
from server.tokens import estimate_tokens
from support import EXAMPLE, REPO, TODAY, copy_example, snapshot_tree

BUDGETS = (300, 500, 800, 1500, 4000, 8000)
SUFFIX = "深度讨论"
STEMS = sorted(path.stem for path in (EXAMPLE / "深度讨论").glob("*.md"))
WM = "AI助手工作记忆.md"
PROGRESS = "学习进度.md"
TODO = "深度探索TODO.md"

# The semester the module grows: the example's 6 discussions, 3 insights, 6 open TODOs and 2 lectures done,
# brought up to these through the use cases.
DISCUSSIONS, INSIGHTS, OPEN_TODOS, LECTURES_DONE = 60, 120, 40, 9


def parts(tag: str) -> DiscussionParts:
    """Five parts no document holds yet (so a round is never taken for a retry)."""
    return DiscussionParts(
        question=f"{tag}：这一轮的引导问题是什么？",
        thinking=f"{tag}：先给出粗糙的答案，再逐步修正。",
        details=f"{tag}：公式与数值在这里核对。",
        methodology=f"{tag}：先算账，再下结论。",
        practice=f"{tag}：把结论写进代码里验证。",
    )


def fullwidth(text: str) -> str:
    """ASCII letters and digits as their full-width forms (ＫＶ, ７Ｂ), which NFKC folds back."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def frontmatter_lines(text: str) -> list[str]:
    assert text.startswith("---\n"), text[:80]
    return text[4 : text.index("\n---\n", 4)].splitlines()


def listed(memory: ProjectMemory, file_name: str) -> int:
    """How many times the working memory's 现有文档 list names `file_name`."""
    refs = parse_working_memory(memory.read_text(memory.layout.working_memory).text).discussions
    return sum(1 for ref in refs if ref.file == file_name)


def discussion_rounds(memory: ProjectMemory, path: str) -> int:
    return next(d.rounds for d in memory.discussions() if d.path == path)


def left_out_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Left out")]


def discussion_files(root: Path, folder: str = "深度讨论") -> list[str]:
    return sorted(path.name for path in (root / folder).glob("*.md"))


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[ProjectMemory]:
    with ProjectMemory(copy_example(tmp_path), today=lambda: TODAY) as memory:
        yield memory


# --- 1. the briefing at semester scale ----------------------------------------------------------------


@pytest.fixture(scope="module")
def semester(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectMemory]:
    """The bundled example grown through the use cases to 60 discussions, 120 insights, 40 open TODOs and
    9 lectures done. Built once: it runs before the per-test cache fixture, so it brings its own cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROJECT_MEMORY_CACHE_DIR", str(tmp_path_factory.mktemp("semester-cache")))
        for name in ("PROJECT_MEMORY_ROOT", "CLAUDE_PROJECT_DIR"):
            patch.delenv(name, raising=False)
        root = copy_example(tmp_path_factory.mktemp("semester"))
        with ProjectMemory(root, today=lambda: TODAY) as memory:
            for n in range(DISCUSSIONS - len(STEMS)):
                memory.record_discussion(f"第{n:02d}号专题", parts(f"专题{n:02d}"), tags=["学期"],
                                         lecture=3 + n % 7, summary=f"第{n:02d}号专题的一句话总结")
            for n in range(INSIGHTS - 3):
                memory.append_insight(f"学期洞察{n:03d}", f"- 第{n:03d}条洞察：先量化，再取舍\n- 第二个要点",
                                      tags=["学期"], lecture=3 + n % 7)
            for n in range(OPEN_TODOS - 6):
                memory.add_research_todo(f"学期研究方向{n:02d}", topic="学期")
            for lecture in range(3, LECTURES_DONE + 1):
                memory.update_progress(lecture, "done")
            yield memory


def test_the_semester_memory_has_the_size_the_issue_describes(semester: ProjectMemory) -> None:
    working = semester.working_memory()
    progress = semester.progress()
    assert working is not None and progress is not None
    assert len(semester.discussions()) == DISCUSSIONS
    assert len(working.insights) == INSIGHTS
    assert sum(1 for todo in semester.research_todos() if not todo.done) == OPEN_TODOS
    assert (progress.done, progress.total) == (LECTURES_DONE, 17)
    assert working.progress is not None and working.progress.done == LECTURES_DONE
    assert len(working.discussions) == DISCUSSIONS  # every discussion listed once in 现有文档


def shown_and_total(memory: ProjectMemory, text: str) -> dict[str, tuple[int, int]]:
    """Per kind the briefing names in `omitted`: how many of the memory's items the text shows, of how many."""
    working = memory.working_memory()
    assert working is not None
    kinds: dict[str, list[str]] = {
        "insights": [f"- {insight.title}:" for insight in working.insights],
        "discussions": [discussion.path for discussion in memory.discussions()],
        "open TODOs": [f"- [ ] {todo.text}" for todo in memory.research_todos() if not todo.done],
        "goals": [f"- {goal}" for goal in working.goals],
        "takeaways": [f"- {takeaway}" for takeaway in working.takeaways],
        "next steps": [f"- {step}" if number == 0 else f"- {group.title}: {step}"  # a later horizon is named
                       for number, group in enumerate(working.next_steps) for step in group.items],
    }
    return {kind: (sum(1 for marker in markers if marker in text), len(markers)) for kind, markers in kinds.items()}


def check_briefing(memory: ProjectMemory, briefing: SessionContext, budget: int) -> None:
    """What every briefing must hold, whatever the memory: within budget, the lead first, the rules from 800,
    a short left-out summary last, and `omitted` naming exactly what was left out of each kind."""
    text = briefing.text
    assert estimate_tokens(text) <= budget, (budget, estimate_tokens(text))
    assert briefing.estimated_tokens == estimate_tokens(text)
    progress = memory.progress()
    assert progress is not None
    assert f"{progress.done}/{progress.total}" in text
    upcoming = next(lecture for lecture in progress.lectures if lecture.status.value != "done")
    assert upcoming.label in text, f"the next lecture ({upcoming.label}) is missing at {budget}"
    lead_end = max(text.index(f"{progress.done}/{progress.total}"), text.index(upcoming.label))
    for header in re.finditer(r"^## .*$", text, re.M):
        assert header.start() > lead_end, f"{header.group(0)!r} comes before the lead at {budget}"

    if budget >= 800:
        rules = "\n".join(line for line in text.splitlines() if not line.startswith("Left out"))
        for point in ("CRITICAL", "原始问题", "实践指导", "24小时", "命名规范", "交互方式", "代码风格", "注意事项"):
            assert point in rules, f"rule {point!r} is missing at {budget}"

    left = left_out_lines(text)
    assert len(left) <= 1
    if briefing.omitted:
        assert left and text.rstrip().endswith(left[0]), "the left-out summary must be last"
        assert estimate_tokens(left[0]) <= 120, "the left-out summary must stay short at any memory size"
        assert not re.search(r"深度讨论/[^ ;)]+\.md", left[0]), "discussions left out are counted, not listed"
        assert "洞察" not in left[0] and "研究方向" not in left[0], "items left out are counted, not listed"
        for item in briefing.omitted:
            assert f"{item.count} {item.kind}" in left[0]
            assert item.read_with.split("#")[0] in left[0]
    else:
        assert not left

    omitted = {item.kind: item.count for item in briefing.omitted}
    for kind, (shown, total) in shown_and_total(memory, text).items():
        assert omitted.get(kind, 0) == total - shown, (budget, kind, shown, total, omitted)
    if "rule points" not in omitted:
        snapshot = memory.read_text(memory.layout.working_memory)
        for rule in digest_rules(parse_markdown(snapshot.text)):
            for point in rule.points:
                assert point in text, f"rule point {point!r} missing though no rule point is omitted ({budget})"


@pytest.mark.parametrize("budget", BUDGETS)
def test_the_semester_briefing_keeps_its_budget_and_its_lead(semester: ProjectMemory, budget: int) -> None:
    briefing = build_session_context(semester, budget, None)
    check_briefing(semester, briefing, budget)
    assert f"{LECTURES_DONE}/17" in briefing.text and "Lecture 10" in briefing.text
    assert briefing.omitted, f"a semester of notes cannot all fit in {budget} tokens"
    if budget >= 1500:
        assert "学期洞察116" in briefing.text, "the newest insight comes before older ones"


def test_a_large_budget_never_claims_completeness_falsely(semester: ProjectMemory) -> None:
    briefing = build_session_context(semester, 8000, None)
    counts = shown_and_total(semester, briefing.text)
    incomplete = {kind for kind, (shown, total) in counts.items() if shown < total}
    assert incomplete, "a semester does not fit in 8000 tokens"
    assert {item.kind for item in briefing.omitted} - {"rule points"} == incomplete
    assert "9/17" in briefing.text and "学期洞察116" in briefing.text


# --- 2. an empty init root ----------------------------------------------------------------------------


@pytest.mark.parametrize(("preset", "total", "rule"), [("cs336-zh", 17, "CRITICAL"), ("default-en", 12, "Review")])
def test_an_empty_init_root_gives_a_valid_briefing_at_every_budget(tmp_path: Path, preset: str, total: int,
                                                                   rule: str) -> None:
    root = tmp_path / "fresh"
    created, _ = init_memory(root, preset, TODAY)
    assert created
    with ProjectMemory(root, today=lambda: TODAY) as memory:
        assert memory.layout.preset == preset
        for budget in BUDGETS:
            briefing = build_session_context(memory, budget, None)
            text = briefing.text
            assert estimate_tokens(text) <= budget
            assert text.startswith("# ")
            assert f"0/{total}" in text and "Lecture 01" in text
            assert not any("conflict" in flag for flag in briefing.flags)
            assert "尚无记录" not in text and "nothing yet" not in text, "placeholders are not content"
            assert rule in text, f"the preset's rules are missing at {budget}"
            omitted = {item.kind: item.count for item in briefing.omitted}
            for kind, (shown, count) in shown_and_total(memory, text).items():
                assert omitted.get(kind, 0) == count - shown, (preset, budget, kind)


# --- 3. continuing the person's own discussions -------------------------------------------------------


def topic_variants(stem: str) -> list[str]:
    base = stem.removesuffix(SUFFIX)
    found = [stem, base, base + SUFFIX, fullwidth(base), base.swapcase(), fullwidth(base).lower() + SUFFIX,
             f" {base} "]
    return list(dict.fromkeys(found))


@pytest.mark.parametrize("stem", STEMS)
def test_each_example_discussion_is_continued_by_its_own_name(memory: ProjectMemory, stem: str) -> None:
    root = memory.root
    files = discussion_files(root)
    path = f"深度讨论/{stem}.md"
    original = (root / path).read_text(encoding="utf-8")
    assert listed(memory, f"{stem}.md") == 1
    rounds = discussion_rounds(memory, path)
    for n, topic in enumerate(topic_variants(stem)):
        result = memory.record_discussion(topic, parts(f"续谈{n}"))
        assert result.changed and result.path == path, (topic, result)
        assert "appended" in result.message, result.message
        assert discussion_files(root) == files, f"topic {topic!r} made a new file"
        text = (root / path).read_text(encoding="utf-8")
        assert text.startswith(original), "a new round is appended; the person's text is kept as it was"
        assert text.rstrip().endswith(parts(f"续谈{n}").practice)
        assert discussion_rounds(memory, path) == rounds + n + 1
        assert listed(memory, f"{stem}.md") == 1, "the working memory lists the discussion once"
    working = parse_working_memory(memory.read_text(WM).text)
    assert len(working.discussions) == len(STEMS)
    assert not any(SUFFIX * 2 in name for name in snapshot_tree(root))


def test_a_topic_ending_in_the_suffix_is_named_once_and_continued_by_any_spelling(memory: ProjectMemory) -> None:
    root = memory.root
    first = memory.record_discussion("RoPE深度讨论", parts("RoPE首轮"), tags=["位置编码"], lecture=3)
    assert first.path == "深度讨论/RoPE深度讨论.md" and "created" in first.message
    text = (root / first.path).read_text(encoding="utf-8")
    assert "# RoPE深度讨论\n" in text and SUFFIX * 2 not in text
    for n, topic in enumerate(["RoPE", "rope深度讨论", "ＲｏＰＥ", "RoPE深度讨论深度讨论", "RoPE 深度讨论"]):
        result = memory.record_discussion(topic, parts(f"RoPE续{n}"))
        assert result.path == first.path and result.changed, (topic, result)
    assert discussion_files(root) == sorted([*(f"{stem}.md" for stem in STEMS), "RoPE深度讨论.md"])
    assert listed(memory, "RoPE深度讨论.md") == 1
    assert not any(SUFFIX * 2 in name for name in snapshot_tree(root))
    assert SUFFIX * 2 not in memory.read_text(WM).text


def test_a_topic_that_is_only_the_suffix_never_doubles_it(memory: ProjectMemory) -> None:
    for topic in ("深度讨论", "深度讨论深度讨论"):
        try:
            result = memory.record_discussion(topic, parts(f"只有后缀{topic}"))
        except InvalidInput:
            continue
        assert SUFFIX * 2 not in result.path, result.path
    assert not any(SUFFIX * 2 in name for name in snapshot_tree(memory.root))


def test_a_new_round_made_of_words_the_file_already_holds_is_still_recorded(memory: ProjectMemory) -> None:
    path = "深度讨论/KV缓存内存计算精确分析.md"
    before = memory.read_text(path).text
    follow_up = DiscussionParts(question="GQA", thinking="MHA", details="KV缓存", methodology="容量规划",
                                practice="FP16")
    assert all(getattr(follow_up, name) in before for name in DiscussionParts.model_fields)
    result = memory.record_discussion("KV缓存内存计算精确分析", follow_up)
    assert result.changed, result.message
    assert discussion_rounds(memory, path) == 2


# --- 4. the discussion list's hygiene -----------------------------------------------------------------


def list_line(memory: ProjectMemory, file_name: str) -> str:
    refs = parse_working_memory(memory.read_text(memory.layout.working_memory).text).discussions
    matches = [ref.description for ref in refs if ref.file == file_name]
    assert len(matches) == 1, matches
    return matches[0]


def balanced(text: str) -> bool:
    return all(text.count(a) == text.count(b) for a, b in ("“”", "「」", "《》", "（）", "()")) \
        and text.count("`") % 2 == 0 and text.count('"') % 2 == 0


def test_a_given_summary_is_the_list_line(memory: ProjectMemory) -> None:
    memory.record_discussion("FlashAttention", parts("FA"), summary="IO感知：分块计算注意力，避免写回HBM")
    assert list_line(memory, "FlashAttention深度讨论.md") == "IO感知：分块计算注意力，避免写回HBM"


def test_without_a_summary_the_list_line_is_cut_at_a_sentence_end_not_inside_a_quote(memory: ProjectMemory) -> None:
    question = ("这一轮从KV缓存的显存占用说起。学习者接着问：“如果把上下文从4096扩到32768，再把batch从32提到64，"
                "KV缓存会不会直接把80GB的显存撑爆？”随后我们逐项算账。")
    memory.record_discussion("长上下文KV缓存", parts("长上下文").model_copy(update={"question": question}))
    line = list_line(memory, "长上下文KV缓存深度讨论.md")
    assert line == "这一轮从KV缓存的显存占用说起。"
    assert question.startswith(line) and balanced(line)


def test_a_question_in_the_persons_style_still_gives_a_list_line_that_says_something(memory: ProjectMemory) -> None:
    question = ("引导问题：“GPU利用率只有六成，profiler显示每步开头都有空档，DataLoader的 num_workers、pin_memory、"
                "persistent_workers 分别能解决什么？”")
    memory.record_discussion("DataLoader空档", parts("空档").model_copy(update={"question": question}))
    line = list_line(memory, "DataLoader空档深度讨论.md")
    assert balanced(line)
    assert len(line.removeprefix("引导问题：").strip("…“” ")) >= 10, line


def test_the_briefings_discussion_lines_do_not_cut_inside_a_quote(memory: ProjectMemory) -> None:
    briefing = build_session_context(memory, 8000, None)
    lines = [line for line in briefing.text.splitlines() if "→ 深度讨论/" in line]
    assert len(lines) == len(STEMS)
    for line in lines:
        assert balanced(line.split("): ", 1)[1]), line


@pytest.mark.parametrize(("preset", "label", "placeholder"), [
    ("cs336-zh", "**现有文档**", "（尚无记录）"),
    ("default-en", "**Existing documents**", "(none yet)"),
])
def test_an_init_root_keeps_one_list_label_and_replaces_its_placeholder(tmp_path: Path, preset: str, label: str,
                                                                        placeholder: str) -> None:
    root = tmp_path / "fresh"
    init_memory(root, preset, TODAY)
    with ProjectMemory(root, today=lambda: TODAY) as memory:
        memory.record_discussion("RoPE深度讨论", parts("RoPE"), summary="旋转位置编码为何能表达相对位置")
        memory.record_discussion("FlashAttention", parts("FA"))
        text = memory.read_text(memory.layout.working_memory).text
        folder = memory.layout.discussions_dir
        names = [Path(memory.layout.discussion_path(topic)).name for topic in ("RoPE", "FlashAttention")]
    assert text.count(label) == 1
    after = text[text.index(label):].splitlines()[1:3]
    assert after == [f"1. `{names[0]}` - 旋转位置编码为何能表达相对位置",
                     f"2. `{names[1]}` - FA：这一轮的引导问题是什么？"]
    assert placeholder not in text[text.index(label):text.index(label) + 200]
    assert discussion_files(root, folder) == sorted(["README.md", *names])
    assert not any(SUFFIX * 2 in name for name in snapshot_tree(root))


@pytest.mark.parametrize(("tags", "lecture"), [(None, None), (None, 10), (["量化", "推理"], 10)])
def test_new_discussions_get_block_style_frontmatter_like_the_persons_files(
    memory: ProjectMemory, tags: list[str] | None, lecture: int | None
) -> None:
    result = memory.record_discussion("投机解码", parts("投机"), tags=tags, lecture=lecture)
    lines = frontmatter_lines(memory.read_text(result.path).text)
    person = frontmatter_lines((EXAMPLE / "深度讨论" / "KV缓存内存计算精确分析.md").read_text(encoding="utf-8"))
    key_value = re.compile(r"^[a-z_]+: \S")
    assert all(key_value.match(line) for line in person)  # the style we compare with
    assert all(key_value.match(line) for line in lines), lines
    assert not any(line.lstrip().startswith("{") for line in lines)
    meta = yaml.safe_load("\n".join(lines))
    assert lines[0] == "topic: 投机解码" and lines[-1] == "created: 2026-11-30"
    assert meta.get("lecture") == ("Lecture 10" if lecture else None)
    if tags:
        assert meta["tags"] == tags and "tags: [量化, 推理]" in lines  # as the person writes tags
    else:
        assert "tags" not in meta


# --- 5. insights are unique and revisable -------------------------------------------------------------

EXISTING = "BPE算法：从字节自底向上合并"


@pytest.mark.parametrize("body", ["- 完全不同的正文", "- **起点是字节**: 初始词表就是0–255"])
def test_a_title_already_used_is_refused_with_how_to_revise(memory: ProjectMemory, body: str) -> None:
    before = snapshot_tree(memory.root)
    with pytest.raises(InsightExists) as raised:
        memory.append_insight(EXISTING, body)
    message = str(raised.value)
    assert "revise_insight" in message and "read_memory" in message and "nothing was added" in message
    assert snapshot_tree(memory.root) == before
    assert memory.read_text(WM).text.count(f"### {EXISTING}\n") == 1


def test_an_exact_retry_of_an_insight_adds_nothing(memory: ProjectMemory) -> None:
    first = memory.append_insight("GQA的KV缓存", "- 分组共享K/V\n- 缓存按组数缩小", lecture=10)
    before = snapshot_tree(memory.root)
    again = memory.append_insight("GQA的KV缓存", "- 分组共享K/V\n- 缓存按组数缩小", lecture=10)
    assert first.changed and not again.changed and again.write_id is None
    assert snapshot_tree(memory.root) == before


def test_revise_insight_replaces_exactly_that_insights_body(memory: ProjectMemory) -> None:
    old = memory.read_text(WM)
    working = parse_working_memory(old.text)
    others = {insight.title: insight.body for insight in working.insights if insight.title != EXISTING}
    result = memory.revise_insight(EXISTING, "- BPE从256个字节出发\n- 合并规则按学到的顺序应用", old.version)
    assert result.changed and "revised" in result.message
    new = memory.read_text(WM).text
    page = memory.read_page(result.handle)
    assert page.text.startswith(f"### {EXISTING}\n- BPE从256个字节出发\n- 合并规则按学到的顺序应用\n")
    assert "压缩率看重复" not in new and "中文吃亏" not in new
    revised = parse_working_memory(new)
    assert {i.title: i.body for i in revised.insights if i.title != EXISTING} == others
    assert [i.title for i in revised.insights] == [i.title for i in working.insights]
    # Outside that insight only the document's 最后更新 line changed.
    section = parse_markdown(old.text).find(f"重要技术洞察记录/{EXISTING}")
    first_line, last_line = old.text.count("\n", 0, section.start), old.text.count("\n", 0, section.end)
    changed_old = [i for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old.text.splitlines(),
                                                                        new.splitlines()).get_opcodes()
                   if tag != "equal" for i in range(i1, max(i2, i1 + 1))]
    outside = [old.text.splitlines()[i] for i in changed_old if not first_line <= i < last_line]
    assert all(line.startswith("**最后更新**") for line in outside), outside


def test_revise_insight_with_a_stale_version_changes_nothing(memory: ProjectMemory) -> None:
    stale = memory.read_text(WM).version
    memory.append_insight("新洞察", "- 让版本前进")
    before = snapshot_tree(memory.root)
    with pytest.raises(DocumentChanged):
        memory.revise_insight(EXISTING, "- 过期版本上的修订", stale)
    assert snapshot_tree(memory.root) == before


def test_an_insight_titled_with_a_slash_has_a_handle_that_reads_and_revises(memory: ProjectMemory) -> None:
    title = "RoPE/ALiBi：位置编码对比"
    added = memory.append_insight(title, "- RoPE旋转查询与键\n- ALiBi给注意力分数加线性偏置")
    page = memory.read_page(added.handle)
    assert page.text.startswith(f"### {title}\n- RoPE旋转查询与键")
    assert "ALiBi给注意力分数加线性偏置" in page.text and "### " not in page.text[4:]
    revised = memory.revise_insight(title, "- RoPE：旋转；ALiBi：偏置", page.version)
    assert revised.handle == added.handle
    assert memory.read_page(revised.handle).text.startswith(f"### {title}\n- RoPE：旋转；ALiBi：偏置")


# --- 6. progress conflicts are resolved from the progress document, and said -------------------------


def test_update_progress_resolves_a_conflict_from_the_progress_document_and_says_so(memory: ProjectMemory) -> None:
    path = memory.root / PROGRESS
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\| ✅ 已完成 \| 2025-11-0\d \|", "| ⬜ 未开始 |  |", text).replace("2/17 (11.8%)", "0/17 (0.0%)")
    path.write_text(text, encoding="utf-8")
    working = parse_working_memory(memory.read_text(WM).text)
    assert parse_progress(text).done == 0 and working.progress is not None and working.progress.done == 2
    assert any("conflict" in flag for flag in build_session_context(memory, 2000).flags)

    result = memory.update_progress(3, "done")

    progress = parse_progress(memory.read_text(PROGRESS).text)
    working = parse_working_memory(memory.read_text(WM).text)
    assert [lecture.number for lecture in progress.lectures if lecture.status.value == "done"] == [3]
    assert working.progress is not None and (working.progress.done, working.progress.total) == (1, 17)
    assert progress.summary is not None and (progress.summary.done, progress.summary.total) == (1, 17)
    assert result.changed
    assert "corrected" in result.message and "2/17" in result.message and "1/17" in result.message, result.message
    assert WM in result.message
    assert not any("conflict" in flag for flag in build_session_context(memory, 2000).flags)


def test_update_progress_with_only_a_note_logs_it_and_changes_no_status(memory: ProjectMemory) -> None:
    before = parse_progress(memory.read_text(PROGRESS).text)
    working_before = memory.read_text(WM).text
    result = memory.update_progress("Lecture 03", note="读完RoPE论文，下次推导旋转矩阵")
    after_text = memory.read_text(PROGRESS).text
    after = parse_progress(after_text)
    assert result.changed and "note logged" in result.message
    assert [(lec.number, lec.status) for lec in after.lectures] == [(lec.number, lec.status) for lec in before.lectures]
    assert after.done == before.done == 2
    log = after_text[after_text.index("## 学习日志"):]
    assert "### 2026-11-30\n- Lecture 03: 读完RoPE论文，下次推导旋转矩阵" in log
    assert memory.read_text(WM).text == working_before
    again = memory.update_progress(3, note="读完RoPE论文，下次推导旋转矩阵")
    assert not again.changed and memory.read_text(PROGRESS).text == after_text


# --- 7. truthful `changed` ----------------------------------------------------------------------------


@pytest.mark.parametrize("item", ["用 torch.cuda.max_memory_allocated 实测一个125M模型的峰值显存，和理论估算对账",
                                  "比较GQA与MQA的KV缓存"])
def test_adding_an_already_open_todo_changes_nothing_and_says_already_open(memory: ProjectMemory, item: str) -> None:
    memory.add_research_todo("比较GQA与MQA的KV缓存", topic="推理与量化")
    before = snapshot_tree(memory.root)
    for topic in ("推理与量化", None, "另一个主题"):
        result = memory.add_research_todo(item, topic=topic)
        assert not result.changed and result.write_id is None, result
        assert "already open" in result.message and "added" not in result.message
    assert snapshot_tree(memory.root) == before


def test_marking_a_done_lecture_done_again_changes_nothing_and_says_already_done(memory: ProjectMemory) -> None:
    before = snapshot_tree(memory.root)
    for lecture in (2, "Lecture 02", "2"):
        result = memory.update_progress(lecture, "done")
        assert not result.changed and result.write_id is None, result
        assert "already done" in result.message
    assert snapshot_tree(memory.root) == before


@pytest.mark.parametrize("added_here", [True, False])
def test_a_completed_todo_carries_one_completion_date(memory: ProjectMemory, added_here: bool) -> None:
    item = "比较GQA与MQA的KV缓存" if added_here else "研究预分词（pre-tokenization）正则对中文和代码的切分影响"
    if added_here:
        memory.add_research_todo(item, topic="推理与量化")
    done = memory.complete_research_todo(item[2:12])
    assert done.changed
    lines = [line for line in memory.read_text(TODO).text.splitlines() if item in line]
    assert lines == [f"- [x] {item} ✅ 2026-11-30"]
    assert len(re.findall(r"\d{4}-\d{2}-\d{2}", lines[0])) == 1
    before = snapshot_tree(memory.root)
    again = memory.complete_research_todo(item[2:12])
    assert not again.changed and "already done" in again.message
    assert snapshot_tree(memory.root) == before


# --- 8. errors in words, through the MCP client in process --------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


def one_sentence_error(result: Any, field: str) -> str:
    assert result.is_error
    text: str = result.content[0].text
    assert field in text, text
    assert "pydantic" not in text.lower() and "http" not in text and "\n" not in text, text
    assert "Internal" not in text and len(text) < 300, text
    return text


@pytest.mark.anyio
async def test_loose_but_clear_arguments_are_accepted_through_the_protocol(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    server = create_server(ProjectMemory(root, today=lambda: TODAY), watch=False)
    async with Client(server) as client:
        insight = structured(await client.call_tool("append_insight", {
            "title": "整数讲座号", "body": "- lecture 传整数", "lecture": 3, "tags": "量化"}))
        discussion = structured(await client.call_tool("record_discussion", {
            "topic": "量化误差", "question": "int4误差从哪来？", "thinking": "先看缩放因子", "details": "逐组量化",
            "methodology": "先测再调", "practice": "用分组量化", "lecture": 10, "tags": "量化, 推理"}))
        progress = structured(await client.call_tool("update_progress", {"lecture": 3, "status": "in_progress"}))
        hits = structured(await client.call_tool("search_discussions", {"query": "量化", "tags": "量化", "lecture": 2}))
        listing = structured(await client.call_tool("list_discussions", {"lecture": 2}))
    assert insight["changed"] and progress["changed"] and discussion["changed"]
    text = (root / WM).read_text(encoding="utf-8")
    assert "### 整数讲座号\n- lecture 传整数\n- **标签**: 量化 | **讲座**: Lecture 03 | **日期**: 2026-11-30" in text
    meta = yaml.safe_load("\n".join(frontmatter_lines((root / discussion["path"]).read_text(encoding="utf-8"))))
    assert meta["lecture"] == "Lecture 10" and meta["tags"] == ["量化", "推理"]
    assert "Lecture 03 marked in_progress" in progress["message"]
    assert "深度讨论/量化技术深度解析.md" in [hit["path"] for hit in hits["hits"]]
    assert listing["total"] == len(STEMS)


@pytest.mark.anyio
async def test_an_unreadable_since_is_one_sentence_naming_since(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    async with Client(create_server(ProjectMemory(root, today=lambda: TODAY), watch=False)) as client:
        result = await client.call_tool("search_discussions", {"query": "量化", "since": "last week"})
        wrong_lecture = await client.call_tool("update_progress", {"lecture": 3.5, "status": "done"})
    text = one_sentence_error(result, "since")
    assert "last week" in text and re.search(r"\d{4}-\d{2}-\d{2}|YYYY-MM-DD", text), text
    one_sentence_error(wrong_lecture, "lecture")
    assert snapshot_tree(root) == before


@pytest.mark.anyio
async def test_a_huge_focus_is_refused_with_a_message_like_a_huge_query(tmp_path: Path) -> None:
    focus = "注意力" * (3_500_000 // len("注意力".encode()))
    assert len(focus.encode()) > 3_400_000
    async with Client(create_server(ProjectMemory(copy_example(tmp_path), today=lambda: TODAY),
                                    watch=False)) as client:
        result = await client.call_tool("get_session_context", {"max_tokens": 1000, "focus": focus})
        query = await client.call_tool("search_discussions", {"query": focus[: MAX_QUERY_CHARS + 1]})
        at_cap = await client.call_tool("get_session_context", {"max_tokens": 1000, "focus": focus[:MAX_QUERY_CHARS]})
    text = one_sentence_error(result, "focus")
    assert str(MAX_QUERY_CHARS) in text
    one_sentence_error(query, "query")
    assert "2/17" in structured(at_cap)["text"]


def test_focus_and_query_share_one_cap_in_process(memory: ProjectMemory) -> None:
    too_long = "注意力" * (MAX_QUERY_CHARS // 3 + 1)
    assert len(too_long) > MAX_QUERY_CHARS
    with pytest.raises(ProjectMemoryError, match="focus"):
        build_session_context(memory, 1000, too_long)
    with pytest.raises(ProjectMemoryError):
        search_request(too_long)
    assert "2/17" in build_session_context(memory, 1000, too_long[:MAX_QUERY_CHARS]).text


# --- 9. over stdio: continue the person's discussion by its name, then read a small briefing -----------


@pytest.mark.slow
@pytest.mark.anyio
async def test_over_stdio_a_seed_discussion_is_continued_and_the_briefing_fits_500(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    files = discussion_files(root)
    env = {**os.environ, "PROJECT_MEMORY_ROOT": str(root), "PYTHONPATH": str(REPO)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "server", "serve"], cwd=str(REPO), env=env)
    stem = "KV缓存内存计算精确分析"
    async with Client(params) as client:
        written = structured(await client.call_tool("record_discussion", {
            "topic": stem, **parts("stdio续谈").model_dump(), "lecture": 2}))
        again = structured(await client.call_tool("record_discussion", {
            "topic": fullwidth(stem) + SUFFIX, **parts("stdio再谈").model_dump()}))
        briefing = structured(await client.call_tool("get_session_context", {"max_tokens": 500}))
    assert written["path"] == again["path"] == f"深度讨论/{stem}.md"
    assert written["changed"] and again["changed"] and "round 3" in again["message"]
    assert discussion_files(root) == files
    text = (root / written["path"]).read_text(encoding="utf-8")
    assert "stdio续谈" in text and "stdio再谈" in text
    refs = parse_working_memory((root / WM).read_text(encoding="utf-8")).discussions
    assert [ref.file for ref in refs].count(f"{stem}.md") == 1 and len(refs) == len(STEMS)
    assert estimate_tokens(briefing["text"]) <= 500 and briefing["estimated_tokens"] <= 500
    assert "2/17" in briefing["text"] and "Lecture 03" in briefing["text"]
    assert briefing["omitted"] and len(left_out_lines(briefing["text"])) == 1
