"""What a note becomes for search: a FileRecord holding its title, kind, lecture, tags and stat, and one
SectionRecord per heading section (plus one for the text before the first heading).

Owns the reading of a note's structure for search (its title, front matter, sections, fenced code); it
knows nothing of Whoosh (`server.index` turns records into index documents) and reads no files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from memory_schema.lectures import parse_lecture
from memory_schema.markdown import MarkdownDocument, Section, parse_markdown

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# HTML a note's Markdown carries for layout (<div align="center">, <img src=…>, <br/>, comments): markup, not
# prose. Only these tag names: prose writes vector<float>, a < b > c and the tokens <s> and </s> too.
_HTML_TAG = re.compile(
    r"<!--.*?-->|</?(?:a|abbr|b|br|center|code|del|details|div|em|figcaption|figure|font|h[1-6]|hr|i|iframe|img|ins"
    r"|kbd|li|mark|ol|p|picture|pre|small|source|span|strong|sub|summary|sup|table|tbody|td|th|thead|tr|u|ul"
    r"|video)(?:\s[^<>]*)?/?>",
    re.IGNORECASE | re.DOTALL,
)
# A section headed as a list of references (参考资料, 延伸阅读, References): its link titles name papers and pages
# (FlashAttention原理 as a link) and are indexed as weakly as code, so the short list does not outrank the prose
# that explains its topic. Numbering and emoji before the heading's words are ignored (## 6. 参考资料, 📚 参考).
_REFERENCES_HEADING = re.compile(
    r"[\W\d_一二三四五六七八九十]*(?:参考|参考资料|参考文献|参考链接|相关链接|延伸阅读|扩展阅读|补充资料|references"
    r"|further reading|bibliography|resources|reading list|links)[\W_]*",
    re.IGNORECASE,
)
# An image's target (![张量内存](../images/3-9-tensor-memory.png), a hashed IPvCcUZ.png): a file's path, not prose;
# its words (and a hash's letters, pv of IPv…) would match queries they say nothing about. Its alt text stays.
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_SNIPPET_SOURCE_CHARS = 800  # a heading-only section shows the start of its subsections instead


@dataclass(frozen=True)
class SectionRecord:
    ordinal: int
    level: int  # 0 for the text before the first heading
    heading: str  # the heading path "a/b/c" that addresses the section ("" before the first heading)
    headings: str  # heading text to index: the trail without the document's title, a paragraph per heading
    body: str  # the section's own prose, fenced code removed
    code: str  # the fenced code
    text: str  # what snippets are cut from


@dataclass(frozen=True)
class FileRecord:
    path: str
    kind: str
    title: str  # title text to index: the title and the file name's words
    lecture: int | None
    tags: tuple[str, ...]
    mtime_ns: int
    size: int
    version: str
    sections: tuple[SectionRecord, ...]


def split_code(text: str) -> tuple[str, str]:
    """(prose, code): the fenced code blocks moved out of the prose, a blank line left where each was (the prose
    on either side is not one sentence). Code lines stay as written: a call's arguments run over several."""
    if "```" not in text and "~~~" not in text:
        return text, ""
    prose: list[str] = []
    code: list[str] = []
    fence = ""
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if not fence:
            if match:
                fence = match.group(1)
                prose.append("\n")
            else:
                prose.append(line)
        elif (
            match
            and match.group(1)[0] == fence[0]
            and len(match.group(1)) >= len(fence)
            and (line.strip() == match.group(1))
        ):
            fence = ""
        else:
            code.append(line)
    return "".join(prose), "".join(code)


def file_words(path: str) -> str:
    """`notes/lecture-05_gpus.zh.md` -> "lecture 05 gpus zh"."""
    name = PurePosixPath(path).name
    stem = name[:-3] if name.lower().endswith(".md") else name
    return " ".join(re.sub(r"[-_.]+", " ", stem).split())


def _title(doc: MarkdownDocument, path: str) -> str:
    declared = doc.metadata.get("title")
    if isinstance(declared, str) and declared.strip():
        return declared.strip()
    return doc.title or file_words(path)


def _lecture(doc: MarkdownDocument, path: str, title: str) -> int | None:
    declared = doc.metadata.get("lecture")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared > 0:
        return declared
    if isinstance(declared, str):
        text = declared.strip()
        found = int(text) if text.isdigit() else parse_lecture(text)
        if found:
            return found
    return parse_lecture(path) or parse_lecture(title)


def _tags(doc: MarkdownDocument) -> tuple[str, ...]:
    declared = doc.metadata.get("tags")
    if isinstance(declared, str):
        items: list[object] = list(declared.split(","))
    elif isinstance(declared, list):
        items = list(declared)
    else:
        return ()
    tags = (str(item).strip().lstrip("#").strip().lower() for item in items if item is not None)
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _opening(doc: MarkdownDocument, section: Section) -> str:
    """What a section with no text of its own shows: the start of its subsections, or of the document."""
    start = doc.body_offset if section.level == 0 else section.body_start
    return doc.text[start : start + _SNIPPET_SOURCE_CHARS]


def file_record(path: str, text: str, *, kind: str, mtime_ns: int, size: int, version: str) -> FileRecord:
    """The documents one note becomes: a title and, per section, its headings, prose and code."""
    doc = parse_markdown(text)
    title = _title(doc, path)
    words = file_words(path)
    title_text = title if words.lower() in title.lower() else f"{title}\n\n{words}"  # not one clause
    sections: list[SectionRecord] = []
    for ordinal, section in enumerate(doc.sections):
        own = doc.own_text(section)
        prose, code = split_code(own)
        prose = _IMAGE.sub(r"\1", _HTML_TAG.sub(" ", prose))
        if section.level and _REFERENCES_HEADING.fullmatch(section.title):
            prose, code = "", f"{prose}\n\n{code}"
        trail = section.trail[1:] if section.trail and section.trail[0] == doc.title else section.trail
        shown = _IMAGE.sub(r"![\1]", _HTML_TAG.sub(" ", own if own.strip() else _opening(doc, section)))
        # Each heading of the trail its own paragraph: a parent's and a child's words are not written together.
        sections.append(SectionRecord(ordinal, section.level, section.path, "\n\n".join(trail), prose, code, shown))
    return FileRecord(
        path=path,
        kind=kind,
        title=title_text,
        lecture=_lecture(doc, path, title),
        tags=_tags(doc),
        mtime_ns=mtime_ns,
        size=size,
        version=version,
        sections=tuple(sections),
    )
