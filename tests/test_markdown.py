"""Markdown structure: headings, sections by heading path, and section edits that keep every other byte."""

import pytest

from memory_schema.errors import SectionNotFound
from memory_schema.markdown import (
    append_to_section,
    insert_section,
    normalize_heading,
    parse_markdown,
    replace_section_body,
)

OUTLINE = """# Title
intro

## 🧠 Insights

### First
- one

### Second
- two

## Next
- step
"""


def paths(text: str) -> list[str]:
    return [section.path for section in parse_markdown(text).headings()]


# --- headings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("🧠 重要技术洞察记录", "重要技术洞察记录"),
        ("📋 项目概况", "项目概况"),
        ("Lecture 01: Introduction & Tokenization ✅", "Lecture 01: Introduction & Tokenization"),
        ("**Bold** and `code`", "Bold and code"),
        ("Title ##", "Title"),
        ("  spaced   out  ", "spaced out"),
        ("🎯 深度讨论目录说明", "深度讨论目录说明"),
        ("👩🏽‍💻 Dev", "Dev"),
    ],
)
def test_normalize_heading_drops_emoji_markup_and_closing_hashes(raw: str, normalized: str) -> None:
    assert normalize_heading(raw) == normalized


def test_a_hash_inside_a_word_stays_part_of_the_heading() -> None:
    assert normalize_heading("Learning C#") == "Learning C#"
    assert paths("## Learning C# ##\n") == ["Learning C#"]


def test_headings_are_found_without_their_emoji() -> None:
    document = parse_markdown(OUTLINE)
    section = document.find("Insights")
    assert section.raw_title == "🧠 Insights"
    assert section.title == "Insights"
    assert section.path == "Title/Insights"


def test_comment_lines_inside_code_fences_are_not_headings() -> None:
    text = "# Doc\n\n```bash\n# install\npip install x\n## not a heading\n```\n\n~~~\n# tilde\n~~~\n\n"
    text += "## Real\n"
    assert paths(text) == ["Doc", "Doc/Real"]


def test_indented_code_quotes_and_list_items_hold_no_sections() -> None:
    text = "# Doc\n\n    # indented code\n\n> # quoted\n\n- # in a list\n\n## Real\n"
    assert paths(text) == ["Doc", "Doc/Real"]


def test_sections_nest_by_level_and_carry_char_ranges() -> None:
    document = parse_markdown(OUTLINE)
    insights = document.find("Insights")
    first = document.find("Insights/First")
    nxt = document.find("Next")
    assert insights.level == 2
    assert insights.trail == ("Title", "Insights")
    assert OUTLINE[insights.start : insights.body_start] == "## 🧠 Insights\n"
    assert insights.body_end == first.start  # its own text stops at the first subsection
    assert insights.end == nxt.start  # its full text runs to the next heading of its level
    assert document.own_text(first) == "- one\n\n"
    assert document.full_text(insights).startswith("\n### First")
    assert nxt.end == len(OUTLINE)
    assert [c.title for c in document.children(insights)] == ["First", "Second"]


def test_sections_know_their_line_numbers() -> None:
    document = parse_markdown(OUTLINE)
    assert [(s.title, s.line) for s in document.headings()] == [
        ("Title", 1),
        ("Insights", 4),
        ("First", 6),
        ("Second", 9),
        ("Next", 12),
    ]


def test_the_preamble_is_the_text_before_the_first_heading() -> None:
    document = parse_markdown("Some words\n\n# Title\n")
    assert document.preamble.level == 0
    assert document.own_text(document.preamble) == "Some words\n\n"
    assert document.title == "Title"


def test_find_accepts_a_trailing_part_of_the_path() -> None:
    document = parse_markdown(OUTLINE)
    assert document.find("Second").path == "Title/Insights/Second"
    assert document.find("Insights/Second") == document.find("Title/Insights/Second")
    assert document.find("🧠 Insights/Second").path == "Title/Insights/Second"


def test_find_names_the_available_sections_when_nothing_matches() -> None:
    document = parse_markdown(OUTLINE)
    with pytest.raises(SectionNotFound, match="Title/Insights/First"):
        document.find("Missing", document="notes.md")
    assert document.find_optional("Missing") is None
    assert document.find_optional("") is None


def test_frontmatter_is_read_and_the_outline_starts_after_it() -> None:
    text = "---\ntopic: KV缓存\ntags: [内存, 推理]\n---\n# KV缓存\n\n## 原始问题\n问\n"
    document = parse_markdown(text)
    assert document.metadata == {"topic": "KV缓存", "tags": ["内存", "推理"]}
    assert text[document.body_offset :].startswith("# KV缓存")
    assert [(s.path, s.line) for s in document.headings()] == [("KV缓存", 5), ("KV缓存/原始问题", 7)]


def test_a_heading_on_the_first_line_after_a_bom_is_found() -> None:
    document = parse_markdown("\ufeff# Title\r\n\r\n## Part\r\ntext\r\n")
    assert [(s.path, s.line) for s in document.headings()] == [("Title", 1), ("Title/Part", 3)]
    assert document.newline == "\r\n"


# --- edits ----------------------------------------------------------------------------------------------


def test_append_to_section_goes_after_its_subsections_with_a_blank_line() -> None:
    document = parse_markdown(OUTLINE)
    updated = append_to_section(document, document.find("Insights"), "### Third\n- three")
    assert "- two\n\n### Third\n- three\n\n## Next" in updated
    assert paths(updated) == [*paths(OUTLINE)[:4], "Title/Insights/Third", "Title/Next"]


def test_append_to_an_empty_section_starts_under_its_heading() -> None:
    text = "## A\n## B\n"
    document = parse_markdown(text)
    assert append_to_section(document, document.find("A"), "x") == "## A\n\nx\n\n## B\n"


def test_append_keeps_a_following_setext_heading_a_heading() -> None:
    text = "## A\n```\ncode\n```\nLater\n-----\n"
    document = parse_markdown(text)
    updated = append_to_section(document, document.find("A"), "added")
    assert paths(updated) == ["A", "Later"]


def test_replace_section_body_swaps_the_text_under_the_heading() -> None:
    document = parse_markdown(OUTLINE)
    updated = replace_section_body(document, document.find("Insights"), "only this")
    assert updated == "# Title\nintro\n\n## 🧠 Insights\n\nonly this\n\n## Next\n- step\n"


def test_replace_the_body_of_an_empty_last_section() -> None:
    document = parse_markdown("## A\n")
    assert replace_section_body(document, document.find("A"), "x") == "## A\n\nx\n"


def test_insert_section_adds_a_heading_at_the_end_of_its_parent() -> None:
    document = parse_markdown(OUTLINE)
    updated = insert_section(document, document.find("Insights"), 3, "Third", "- three")
    assert paths(updated) == [*paths(OUTLINE)[:4], "Title/Insights/Third", "Title/Next"]


def test_text_put_before_a_first_line_heading_goes_after_the_bom() -> None:
    document = parse_markdown("\ufeff# Title\n")
    assert append_to_section(document, document.preamble, "lead") == "\ufefflead\n\n# Title\n"
    assert replace_section_body(document, document.preamble, "lead") == "\ufefflead\n\n# Title\n"


def test_insert_section_into_an_empty_document() -> None:
    assert insert_section(parse_markdown(""), None, 2, "待分类", "- [ ] x") == "## 待分类\n\n- [ ] x\n"


# --- byte-exact -----------------------------------------------------------------------------------------

VARIANTS = {
    "plain": "# Title\n\n## A\ntext\n\n## B\nmore\n",
    "bom": "\ufeff# Title\n\n## A\ntext\n\n## B\nmore\n",
    "crlf": "# Title\r\n\r\n## A\r\ntext\r\n\r\n## B\r\nmore\r\n",
    "trailing spaces": "# Title  \n\n## A  \ntext  \n\n## B\nmore  \n",
    "no final newline": "# Title\n\n## A\ntext\n\n## B\nmore",
    "all of them": "\ufeff# Title  \r\n\r\n## A\r\ntext  \r\n\r\n## B\r\nmore  ",
}


@pytest.mark.parametrize("text", VARIANTS.values(), ids=VARIANTS.keys())
def test_parsing_never_changes_the_text(text: str) -> None:
    assert parse_markdown(text).text == text


def _edits(text: str) -> dict[str, str]:
    document = parse_markdown(text)
    a, b = document.find("A"), document.find("B")
    return {
        "append A": append_to_section(document, a, "new line\nsecond"),
        "append B": append_to_section(document, b, "new line\nsecond"),
        "replace A": replace_section_body(document, a, "new line\nsecond"),
        "replace B": replace_section_body(document, b, "new line\nsecond"),
        "insert": insert_section(document, document.find("Title"), 2, "C", "new line\nsecond"),
    }


@pytest.mark.parametrize("text", VARIANTS.values(), ids=VARIANTS.keys())
def test_edits_keep_bom_line_breaks_trailing_spaces_and_the_final_newline(text: str) -> None:
    crlf = "\r\n" in text
    for name, updated in _edits(text).items():
        assert updated.startswith("\ufeff") == text.startswith("\ufeff"), name
        assert updated.count("\ufeff") == text.count("\ufeff"), name
        assert updated.endswith("\n") == text.endswith("\n"), name
        if crlf:
            assert updated.count("\n") == updated.count("\r\n"), f"{name}: a bare LF was inserted"
        assert "new line" in updated and "second" in updated, name
        # every untouched line is still there with its trailing spaces
        kept = [line for line in text.splitlines() if line.endswith("  ")]
        if name.startswith("replace A"):
            kept = [line for line in kept if line != "text  "]
        if name.startswith("replace B"):
            kept = [line for line in kept if line != "more  "]
        for line in kept:
            assert line in updated.splitlines(), f"{name}: {line!r} lost its trailing spaces"


@pytest.mark.parametrize("text", VARIANTS.values(), ids=VARIANTS.keys())
def test_edits_change_only_the_edited_section(text: str) -> None:
    document = parse_markdown(text)
    a = document.find("A")
    for updated in (
        append_to_section(document, a, "x"),
        replace_section_body(document, a, "x"),
    ):
        assert updated[: a.start] == text[: a.start]
        assert updated.endswith(text[a.end :])
