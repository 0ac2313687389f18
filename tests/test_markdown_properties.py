"""Properties of the Markdown model over generated documents: sections tile the text, code fences hold no
headings, and each edit changes only the range it names, losing or inventing no heading."""

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory_schema.markdown import (
    MarkdownDocument,
    Section,
    append_to_section,
    insert_section,
    parse_markdown,
    replace_section_body,
)

# The same examples on every run (a suite must not pass or fail by chance): 100 in the README's test command, and
# `.ci/run` runs these again with PM_EXAMPLES=1000; PM_EXAMPLES=8000 explores further, PM_RANDOM=1 draws new ones.
PROPERTY = settings(max_examples=int(__import__("os").environ.get("PM_EXAMPLES", "100")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow],
                    derandomize=not __import__("os").environ.get("PM_RANDOM"), database=None)

WORDS = ("memory", "KV缓存", "内存墙", "BPE", "🧠", "✅", "🔥 重要", "Lecture 03", "C#", "**粗体**", "`code`")
CODE_LINES = ("# comment", "## not a heading", "x = 1", "", "#### 深度")


@dataclass(frozen=True)
class Doc:
    text: str
    heading_lines: list[int]  # 1-based lines that are headings
    fence_lines: list[int]  # 1-based lines inside code fences, the fences included
    has_frontmatter: bool


words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)


@st.composite
def heading(draw: st.DrawFn) -> tuple[str, list[str]]:
    level = draw(st.integers(1, 4))
    closing = draw(st.sampled_from(["", " #", " ####"]))
    return "heading", ["#" * level + " " + draw(words) + closing]


@st.composite
def paragraph(draw: st.DrawFn) -> tuple[str, list[str]]:
    return "text", draw(st.lists(words, min_size=1, max_size=3))


@st.composite
def bullet_list(draw: st.DrawFn) -> tuple[str, list[str]]:
    marker = draw(st.sampled_from(["- ", "* ", "1. ", "- [ ] ", "- [x] "]))
    return "text", [marker + item for item in draw(st.lists(words, min_size=1, max_size=3))]


@st.composite
def code_fence(draw: st.DrawFn) -> tuple[str, list[str]]:
    fence = draw(st.sampled_from(["```", "~~~", "````"]))
    info = draw(st.sampled_from(["", "python", "bash"]))
    body = draw(st.lists(st.sampled_from(CODE_LINES), max_size=4))
    return "fence", [fence + info, *body, fence]


blank = st.just(("text", [""]))
block = st.one_of(heading(), heading(), paragraph(), bullet_list(), code_fence(), blank)


@st.composite
def documents(draw: st.DrawFn) -> Doc:
    lines: list[str] = []
    kinds: list[str] = []
    frontmatter = draw(st.booleans())
    if frontmatter:
        lines += ["---", "topic: 内存", "tags: [a, b]", "---"]
        kinds += ["front"] * 4
    for kind, block_lines in draw(st.lists(block, max_size=12)):
        lines += block_lines
        kinds += [kind] * len(block_lines)
    spaced = draw(st.integers(0, (1 << len(lines)) - 1))  # bit i: line i ends in two spaces
    lines = [
        line + "  " if spaced >> i & 1 and kind != "front" else line
        for i, (line, kind) in enumerate(zip(lines, kinds, strict=True))
    ]
    style = draw(st.sampled_from(["\n", "\r\n", "mixed"]))
    breaks = [
        draw(st.sampled_from(["\n", "\r\n", "\r"])) if style == "mixed" else style for _ in range(len(lines))
    ]
    for i in range(len(breaks) - 1):  # a lone CR before a blank LF line would read as one CRLF break
        if breaks[i] == "\r" and lines[i + 1] == "" and breaks[i + 1].startswith("\n"):
            breaks[i] = "\r\n"
    if not draw(st.booleans()) and breaks:  # no final newline
        breaks[-1] = ""
    text = "".join(line + brk for line, brk in zip(lines, breaks, strict=True))
    if draw(st.booleans()):
        text = "\ufeff" + text
    return Doc(
        text=text,
        heading_lines=[i + 1 for i, kind in enumerate(kinds) if kind == "heading"],
        fence_lines=[i + 1 for i, kind in enumerate(kinds) if kind == "fence"],
        has_frontmatter=frontmatter,
    )


APPENDED_LINES = ("added words", "- [ ] 新的一项", "1. step", "> quote", "**粗体**: 值")
appended = st.lists(st.sampled_from(APPENDED_LINES), min_size=1, max_size=3).map("\n".join)


def converted(block_text: str, document: MarkdownDocument) -> str:
    return block_text.replace("\n", document.newline)


def outside_unchanged(before: str, after: str, start: int, end: int) -> str:
    """Assert `after` differs from `before` only in [start, end); return the new text of that range."""
    assert after[:start] == before[:start]
    tail = before[end:]
    assert after.endswith(tail)
    return after[start : len(after) - len(tail)]


def heading_paths(text: str) -> list[str]:
    return [section.path for section in parse_markdown(text).headings()]


def pick(document: MarkdownDocument, index: int) -> Section:
    return document.sections[index % len(document.sections)]


@PROPERTY
@given(documents())
def test_sections_tile_the_text_in_order_and_nest_by_level(doc: Doc) -> None:
    text = doc.text
    document = parse_markdown(text)
    sections = document.sections
    assert document.text == text
    assert sections[0].level == 0 and sections[0].start == 0
    assert (document.body_offset > 0) == doc.has_frontmatter
    for current, following in zip(sections, [*sections[1:], None], strict=True):
        assert current.start <= current.body_start <= current.body_end <= current.end <= len(text)
        assert current.body_end == (following.start if following else len(text))
        if current.level:
            heading_line = text[current.start : current.body_start]
            assert heading_line.lstrip(" ").startswith("#")
            assert heading_line.rstrip("\r\n").count("\n") + heading_line.rstrip("\r\n").count("\r") == 0
    headings = sections[1:]
    for i, section in enumerate(headings):
        later = [s for s in headings[i + 1 :] if s.level <= section.level]
        assert section.end == (later[0].start if later else len(text))
        parents = [s for s in headings[:i] if s.level < section.level]
        parent_trail = parents[-1].trail if parents else ()
        assert section.trail == (*parent_trail, section.title)
        if parents:
            assert parents[-1].start < section.start and section.end <= parents[-1].end


@PROPERTY
@given(documents())
def test_headings_are_exactly_the_heading_lines_and_never_inside_a_code_fence(doc: Doc) -> None:
    lines = [section.line for section in parse_markdown(doc.text).headings()]
    assert lines == doc.heading_lines
    assert not set(lines) & set(doc.fence_lines)


@PROPERTY
@given(documents(), st.integers(0, 50), appended)
def test_append_to_section_changes_only_that_section_and_keeps_every_heading(
    doc: Doc, index: int, block_text: str
) -> None:
    document = parse_markdown(doc.text)
    section = pick(document, index)
    updated = append_to_section(document, section, block_text)
    inside = outside_unchanged(doc.text, updated, section.start, section.end)
    assert converted(block_text, document) in inside
    assert inside.startswith(doc.text[section.start : section.body_start])
    assert heading_paths(updated) == heading_paths(doc.text)
    assert updated.startswith("\ufeff") == doc.text.startswith("\ufeff")


@PROPERTY
@given(documents(), st.integers(0, 50), appended)
def test_replace_section_body_changes_only_the_body_and_drops_only_its_subsections(
    doc: Doc, index: int, block_text: str
) -> None:
    document = parse_markdown(doc.text)
    section = pick(document, index)
    updated = replace_section_body(document, section, block_text)
    inside = outside_unchanged(doc.text, updated, section.body_start, section.end)
    assert converted(block_text, document) in inside
    replaced = {s.start for s in document.headings() if section.body_start <= s.start < section.end}
    kept = [s.path for s in document.headings() if s.start not in replaced]
    assert heading_paths(updated) == kept


@PROPERTY
@given(documents(), st.integers(0, 50), appended)
def test_insert_section_adds_exactly_one_heading_where_asked(doc: Doc, index: int, block_text: str) -> None:
    document = parse_markdown(doc.text)
    headings = list(document.headings())
    parent = headings[index % len(headings)] if headings and index % 5 else None
    level = parent.level + 1 if parent else 1
    updated = insert_section(document, parent, level, "新增 Inserted", block_text)
    before = [s.path for s in headings]
    if parent is None:
        expected = [*before, "新增 Inserted"]
    else:
        outside_unchanged(doc.text, updated, parent.start, parent.end)
        at = sum(1 for s in headings if s.start < parent.end)
        expected = [*before[:at], f"{parent.path}/新增 Inserted", *before[at:]]
    assert heading_paths(updated) == expected


EDITS = ("新的一行", "## 新标题", "```\n# 代码里的井号\n```", "```\n未闭合的代码", "- 列表项", "", "===", "---",
         "\r\n", "\r", "> 引用 # 不是标题", "    缩进代码", "<!--\n# 注释里", "-->", "  - 缩进项\n# 标题",
         "\n\n# 新一级\n")


def outline_fields(text: str) -> tuple[object, ...]:
    document = parse_markdown(text)
    return (
        [(s.level, s.title, s.trail, s.line, s.start, s.body_start, s.body_end, s.end) for s in document.sections],
        document.footer,
        sorted(document.code_spans),
    )


@PROPERTY
@given(doc=documents(), at=st.integers(0, 10_000), removed=st.integers(0, 40), added=st.sampled_from(EDITS))
def test_a_text_reparsed_around_an_edit_has_the_outline_of_a_full_parse(
    doc: Doc, at: int, removed: int, added: str
) -> None:
    """Parses of edited texts reuse the previous parse (`memory_schema.outline`); the outline must be exactly
    what parsing the edited text from scratch gives, wherever the edit falls and whatever it leaves open."""
    from memory_schema import markdown, outline

    def forget() -> None:
        with outline._recent_lock, markdown._documents_lock:
            outline._recent.clear()
            markdown._documents.clear()

    forget()
    parse_markdown(doc.text)  # the previous text is known
    cut = at % (len(doc.text) + 1)
    edited = doc.text[:cut] + added + doc.text[cut + removed :]
    incremental = outline_fields(edited)
    forget()
    assert incremental == outline_fields(edited)


ITEM_CONTENT = ("新的一项", "[ ] 新的 TODO", "`新主题深度讨论.md` - 摘要", "```代码", "<b>粗</b>", "# 井号", "- 嵌套",
                "2. 嵌套", "KV缓存  ")
MARKER = __import__("re").compile(r"[ \t]*(?:\d{1,9}[.)]|[-*+])[ \t]+")


@PROPERTY
@given(doc=documents(), at=st.integers(0, 10_000), contents=st.lists(st.sampled_from(ITEM_CONTENT), min_size=1,
       max_size=3), own_marker=st.booleans(), marker=st.sampled_from(["- ", "1. ", "10. ", "    - ", "-     "]),
       brk=st.sampled_from(["\n", "\r\n", "\r"]))
def test_list_items_inserted_after_a_line_keep_the_outline_of_a_full_parse(
    doc: Doc, at: int, contents: list[str], own_marker: bool, marker: str, brk: str
) -> None:
    """Items put after an item of the same list are outlined without a parse (`outline._items_inserted`); the
    outline must be what a full parse gives, also where the line before is no item or another kind of one."""
    import re

    from memory_schema import markdown, outline

    def forget() -> None:
        with outline._recent_lock, markdown._documents_lock:
            outline._recent.clear()
            markdown._documents.clear()

    forget()
    parse_markdown(doc.text)
    starts = [0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", doc.text))]
    after_items = [cut for cut in starts if cut and MARKER.match(re.split(r"\r\n|\r|\n", doc.text[:cut])[-2])]
    places = after_items if own_marker and after_items else starts
    cut = places[at % len(places)]
    previous = re.split(r"\r\n|\r|\n", doc.text[:cut])[-2] if cut else ""
    found = MARKER.match(previous)
    prefix = found.group(0) if own_marker and found else marker
    edited = doc.text[:cut] + brk.join(prefix + content for content in contents) + brk + doc.text[cut:]
    incremental = outline_fields(edited)
    forget()
    assert incremental == outline_fields(edited)


def test_an_item_added_to_a_long_list_is_outlined_without_parsing_the_list_again() -> None:
    from unittest import mock

    from memory_schema import outline

    items = "".join(f"{n}. `主题{n}深度讨论.md` - 摘要\n" for n in range(1, 301))
    text = f"# 记忆\n\n## 深度讨论索引\n\n{items}\n## 下一步\n\n- 读论文\n\n---\n**最后更新**: 2026-12-01\n"
    parse_markdown(text)
    added = text.replace("300. `主题300深度讨论.md` - 摘要\n", "300. `主题300深度讨论.md` - 摘要\n301. `新.md` - 新\n")
    with mock.patch.object(outline, "_scan", side_effect=AssertionError("parsed again")):
        incremental = outline_fields(added)
    with outline._recent_lock:
        outline._recent.clear()
        outline._recent_large.clear()
    assert incremental == outline_fields(added)


INSERTIONS_THAT_CHANGE_MORE_THAN_THEY_ADD = [  # found by an attack on the list-item fast path
    ("# T\n- a\nfoo\n---\n", "# T\n- a\n- # b\nfoo\n---\n"),  # the next line stops being a lazy continuation
    ("# T\n- a\nfoo\n---\n", "# T\n- a\n- ***\nfoo\n---\n"),
    ("# T\n- a\nfoo\n---\n", "# T\n- a\n- [r]: /url\nfoo\n---\n"),
    ("# T\n- a\n**最后更新**: 2026-12-01\n", "# T\n- a\n- ---\n**最后更新**: 2026-12-01\n"),
    ("# T\n- a\n<span>\n## H\n", "# T\n- a\n- ***\n<span>\n## H\n"),
    ("# T\n<!--\n- a\n-->\n## H\n", "# T\n<!--\n- a\n- b --> c\n-->\n## H\n"),  # an HTML block ends early
    ("# T\n<pre>\n- a\n</pre>\n## H\n", "# T\n<pre>\n- a\n- b </pre>\n</pre>\n## H\n"),
    ("# T\n```yaml\n- name: a\n", "# T\n```yaml\n- name: a\n- name: b\n"),  # a fence left open at the end
    ("# T\n- x\n  ```\n  - a\n- y\n", "# T\n- x\n  ```\n  - a\n  - b\n- y\n"),
    ("# T\npara\n2. a\n   # H\n", "# T\npara\n2. a\n1. x\n   # H\n"),  # only `1.` interrupts a paragraph
    ("# T\n-    a\n    code\n", "# T\n-    a\n-    # b\n    code\n"),
]


@pytest.mark.parametrize(("before", "after"), INSERTIONS_THAT_CHANGE_MORE_THAN_THEY_ADD)
def test_an_inserted_line_that_changes_the_lines_around_it_is_parsed_again(before: str, after: str) -> None:
    from memory_schema import markdown, outline

    def forget() -> None:
        with outline._recent_lock, markdown._documents_lock:
            outline._recent.clear()
            outline._recent_large.clear()
            markdown._documents.clear()

    forget()
    parse_markdown(before)
    incremental = outline_fields(after)
    forget()
    assert incremental == outline_fields(after)
