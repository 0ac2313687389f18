"""The working memory's footer, `最后更新` outside it, and expected versions that are not versions.

`update_section` on the last section (下一步计划) keeps the footer (`---`, `**最后更新**`, `**更新人**`,
`**版本**`), once, after the section; `最后更新` is only ever changed in that footer, never inside a code block, an
insight or the section's own text. An `expected_version` that is not the 16 hex digits `read_memory` returns is
refused as malformed (nothing is read against it, nothing written), not reported as a change.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from memory_schema.errors import ProjectMemoryError
from server.memory import ProjectMemory
from support import copy_example, snapshot_tree

WORKING_MEMORY = "AI助手工作记忆.md"
NEXT_STEPS = f"{WORKING_MEMORY}#下一步计划"
TODAY = date(2026, 11, 30)
FOOTER = re.compile(r"\n---\n\n\*\*最后更新\*\*: (?P<date>[0-9-]+)\n"
                    r"\*\*更新人\*\*: Claude Code\n\*\*版本\*\*: v1\.0\n\Z")


def _memory(root: Path) -> ProjectMemory:
    return ProjectMemory(root, today=lambda: TODAY)


def _text(root: Path) -> str:
    return (root / WORKING_MEMORY).read_text(encoding="utf-8")


def test_replacing_the_last_section_keeps_the_footer_once_at_the_end_with_todays_date(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with _memory(root) as memory:
        memory.update_section(NEXT_STEPS, "### 本周\n- 读FlashAttention论文", memory.read_page(NEXT_STEPS).version)
    text = _text(root)
    match = FOOTER.search(text)
    assert match is not None and match.group("date") == TODAY.isoformat()
    assert text.count("**最后更新**") == text.count("**更新人**") == text.count("**版本**") == 1
    assert text.index("- 读FlashAttention论文") < match.start()
    assert "### 短期目标（本周）" not in text, "the old section body was replaced"


def test_sending_back_the_section_as_read_memory_showed_it_keeps_one_footer(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with _memory(root) as memory:
        page = memory.read_page(NEXT_STEPS)
        memory.update_section(NEXT_STEPS, page.text + "\n- 新增一条计划\n", page.version)
    text = _text(root)
    assert FOOTER.search(text) is not None
    assert text.count("## 📅 下一步计划") == 1, "the section's own heading is not doubled"
    assert text.count("**最后更新**") == 1


def test_a_footer_shown_inside_a_code_block_of_the_last_section_is_never_touched(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    block = "```markdown\n---\n\n**最后更新**: 1999-01-01\n**更新人**: 模板\n**版本**: v0\n```"
    with _memory(root) as memory:
        memory.update_section(NEXT_STEPS, f"### 文档模板\n{block}\n", memory.read_page(NEXT_STEPS).version)
        memory.append_insight("页脚模板", "- 页脚由服务器维护")
    text = _text(root)
    footer = FOOTER.search(text)
    assert block in text
    assert footer is not None and footer.group("date") == TODAY.isoformat()


def test_a_last_updated_line_in_an_insight_or_its_code_block_is_never_changed(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    body = "- 注意：**最后更新**: 1999-02-02 只是正文\n\n```yaml\n**最后更新**: 1999-03-03\n```"
    with _memory(root) as memory:
        memory.append_insight("元数据的陷阱", body)
        memory.append_insight("第二条洞察", "- 再写一次，页脚再更新一次")
    text = _text(root)
    assert "**最后更新**: 1999-02-02 只是正文" in text and "**最后更新**: 1999-03-03\n```" in text
    assert FOOTER.search(text) is not None


def test_a_footer_like_block_in_the_sections_own_text_stays_as_written_and_the_real_footer_stays_last(
    tmp_path: Path,
) -> None:
    root = copy_example(tmp_path)
    content = "### 计划\n- 甲\n\n---\n\n**最后更新**: 1998-01-01\n**版本**: v0\n"
    with _memory(root) as memory:
        memory.update_section(NEXT_STEPS, content, memory.read_page(NEXT_STEPS).version)
        memory.append_insight("又一条洞察", "- 页脚照常更新")
    text = _text(root)
    assert "**最后更新**: 1998-01-01\n**版本**: v0" in text
    assert FOOTER.search(text) is not None


def test_lines_appended_below_the_footer_survive_an_update_of_the_last_section(tmp_path: Path) -> None:
    """`echo 备注 >> AI助手工作记忆.md` puts a line below the footer. The footer then no longer ended the file,
    the last section ran to the end, and updating it took away the footer and the person's line."""
    root = copy_example(tmp_path)
    with open(root / WORKING_MEMORY, "a", encoding="utf-8") as shell:
        shell.write("我在文件末尾追加的备注 APPENDED\n")
    with _memory(root) as memory:
        page = memory.read_page(NEXT_STEPS)
        assert "APPENDED" not in page.text and "**最后更新**" not in page.text, "the section stops at the footer"
        memory.update_section(NEXT_STEPS, "### 本周\n- 读FlashAttention论文", page.version)
    text = _text(root)
    assert text.endswith("**版本**: v1.0\n我在文件末尾追加的备注 APPENDED\n"), text[-200:]
    assert text.count("**最后更新**") == 1 and f"**最后更新**: {TODAY.isoformat()}" in text
    assert text.index("- 读FlashAttention论文") < text.index("\n---\n")


def test_a_date_field_in_code_appended_below_the_footer_is_never_rewritten() -> None:
    from memory_schema.working_memory import set_updated

    text = ("# WM\n\n## 下一步计划\n- a\n\n---\n\n**版本**: v1.0\n\n模板：\n\n```\n**最后更新**: YYYY-MM-DD\n```\n")
    assert set_updated(text, "2026-01-01") == text


def test_a_working_memory_without_a_footer_gets_no_date_written_anywhere(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    note = root / WORKING_MEMORY
    text = note.read_text(encoding="utf-8")
    footer = FOOTER.search(text)
    assert footer is not None
    note.write_text(text[: footer.start()] + "\n", encoding="utf-8")
    with _memory(root) as memory:
        memory.append_insight("无页脚", "- 正文里写着 **最后更新**: 1997-01-01")
        memory.update_section(NEXT_STEPS, "### 计划\n- 乙", memory.read_page(NEXT_STEPS).version)
    final = _text(root)
    assert TODAY.isoformat() not in final.replace("**日期**: " + TODAY.isoformat(), "")
    assert "**最后更新**: 1997-01-01" in final


# --- malformed versions -------------------------------------------------------------------------------------

MALFORMED = ["abc", "3f2a", "3F2A9C0D1E4B5A67", "3f2a9c0d1e4b5a6", "3f2a9c0d1e4b5a678", "3f2a9c0d1e4b5a6g",
             "version 3f2a9c0d1e4b5a67", "null", "0x3f2a9c0d1e4b5a", "３f2a9c0d1e4b5a67", "3f2a9c0d-1e4b5a67"]
TOOLS = {
    "update_section": lambda memory, version: memory.update_section(NEXT_STEPS, "### 计划\n- 丙", version),
    "revise_insight": lambda memory, version: memory.revise_insight("BPE算法：从字节自底向上合并", "- 新", version),
    "save_lecture_note": lambda memory, version: memory.save_lecture_note("1", "理论概念", "# 新\n", version),
}


@pytest.mark.parametrize("version", MALFORMED)
@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_a_malformed_expected_version_is_refused_as_malformed_and_writes_nothing(
    tmp_path: Path, tool: str, version: str
) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    with _memory(root) as memory, pytest.raises(ProjectMemoryError) as caught:
        TOOLS[tool](memory, version)
    assert "malformed" in str(caught.value) and "16 hex digits" in str(caught.value)
    assert snapshot_tree(root) == before


def test_an_empty_expected_version_says_it_is_required(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with _memory(root) as memory, pytest.raises(ProjectMemoryError, match=r"required|malformed"):
        memory.update_section(NEXT_STEPS, "### 计划\n- 丁", "")


@pytest.mark.parametrize("padding", [" {} ", "{}\n", "\t{}"])
def test_a_version_with_whitespace_around_it_is_either_accepted_or_called_malformed(
    tmp_path: Path, padding: str
) -> None:
    root = copy_example(tmp_path)
    with _memory(root) as memory:
        version = padding.format(memory.read_page(NEXT_STEPS).version)
        try:
            memory.update_section(NEXT_STEPS, "### 计划\n- 戊", version)
        except ProjectMemoryError as err:
            assert "malformed" in str(err), f"a version the file has was refused as: {err}"


def test_a_well_formed_but_stale_version_says_the_file_changed_and_writes_nothing(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with _memory(root) as memory:
        stale = memory.read_page(NEXT_STEPS).version
        memory.append_insight("先写一条", "- 版本变了")
        before = snapshot_tree(root)
        with pytest.raises(ProjectMemoryError, match="changed since you read it"):
            memory.update_section(NEXT_STEPS, "### 计划\n- 己", stale)
    assert snapshot_tree(root) == before
