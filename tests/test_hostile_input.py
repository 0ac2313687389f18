"""Hostile and broken input through the MCP tools, the resources and the CLI: every case gets a clear error
or a documented graceful outcome, the server answers the next call, and nothing is written inside or outside
the root that was not meant to be.

One memory root is prepared for the module: the example plus files a person's folder may really hold (invalid
UTF-8, a binary file, broken YAML frontmatter, an empty note, a FIFO) and symlinks that lead out of the root
(a note, a folder, a lecture folder, a dangling discussion). The table cases run on an in-process server over
it, each checked against the root's files and the folder around it before and after. A 20 MB note and a
note with 30,000 headings get roots of their own; the security posture checks close the module.
"""

import ast
import os
import pickle
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from mcp import Client, MCPError, StdioServerParameters

from memory_schema.validation import MAX_BODY_CHARS, MAX_NOTE_CHARS, MAX_TITLE_CHARS
from server import editing
from server.app import create_server
from server.cli import main
from server.memory import ProjectMemory
from server.store import NoteStore
from support import REPO, TODAY, copy_example, find, snapshot_tree

pytestmark = pytest.mark.anyio

NOTES = "学习笔记"
OUTSIDE_MARKER = "outsidesecret"
HUGE_BYTES = 20 * 1024 * 1024
FOLLOW_UP = ("read_memory", {"handle": "学习进度.md"})
OUTSIDE_ROOT = r"not a path inside the memory root"


@dataclass
class Hostile:
    base: Path
    root: Path
    outside: Path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    base = tmp_path_factory.mktemp("hostile")
    root = copy_example(base)
    outside = base / "outside"
    (outside / "lecture03").mkdir(parents=True)
    (outside / "secret.md").write_text(f"# 机密\n\n根目录之外的文件 {OUTSIDE_MARKER}\n", encoding="utf-8")
    notes = root / NOTES
    (notes / "坏编码.md").write_bytes("# 坏编码\n\n半个字".encode()[:-2] + b"\xff\xfe badutf\n")
    (notes / "二进制.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 64)
    (notes / "坏前言.md").write_text(
        "---\ntitle: [未闭合\ntags: {a: \n---\n# 坏前言\n\n前言坏了但正文可读 frontbroken\n", encoding="utf-8"
    )
    (notes / "空文件.md").write_bytes(b"")
    os.mkfifo(notes / "管道.md")
    os.symlink(outside / "secret.md", notes / "外链.md")
    os.symlink(outside, notes / "外链目录")
    os.symlink(outside / "新讨论.md", root / "深度讨论" / "外链深度讨论.md")  # dangling, outside
    with ProjectMemory(root) as memory:
        lecture_dir = editing._lecture_dir(memory, 3)
        (root / lecture_dir).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(outside / "lecture03", root / lecture_dir)
        memory.ensure_index()
    return Hostile(base=base, root=root, outside=outside)


def around(hostile: Hostile) -> dict[str, bytes]:
    """Every file beside the root (the outside folder included), and the names in the home folder."""
    files = {
        str(path.relative_to(hostile.base)): path.read_bytes()
        for path in sorted(hostile.base.rglob("*"))
        if path.is_file() and hostile.root not in path.parents and path != hostile.root
    }
    files["~"] = "\n".join(sorted(os.listdir(Path.home()))).encode()
    return files


@pytest.fixture
def unchanged(hostile: Hostile) -> Iterator[Hostile]:
    """The case must leave the root's notes and everything around the root as they were."""
    inside, outside = snapshot_tree(hostile.root), around(hostile)
    yield hostile
    assert snapshot_tree(hostile.root) == inside
    assert around(hostile) == outside


def new_server(hostile: Hostile) -> Any:
    return create_server(ProjectMemory(hostile.root, today=lambda: TODAY), watch=False)


def text_of(result: Any) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)


@dataclass(frozen=True)
class Case:
    name: str
    tool: str
    args: dict[str, Any]
    error: str | None  # a regex the error message must match; None: the call must succeed


def case(name: str, tool: str, error: str | None = None, **args: Any) -> Case:
    return Case(name, tool, args, error)


INSIGHT = {"title": "标题", "body": "- 正文"}
PARTS = {"question": "问题", "thinking": "思考", "details": "细节", "methodology": "方法", "practice": "实践"}
LONG = "长" * (MAX_TITLE_CHARS + 1)

HANDLE_CASES = [  # handles that try to leave the root
    case("dotdot", "read_memory", OUTSIDE_ROOT, handle="../outside/secret.md"),
    case("dotdot-deep", "read_memory", OUTSIDE_ROOT, handle="../../../../etc/passwd"),
    case("dotdot-after-folder", "read_memory", OUTSIDE_ROOT, handle=f"{NOTES}/../../outside/secret.md"),
    case("dot-and-dotdot", "read_memory", OUTSIDE_ROOT, handle=f"{NOTES}/./.././../etc/passwd"),
    case("absolute", "read_memory", OUTSIDE_ROOT, handle="/etc/passwd"),
    case("absolute-with-section", "read_memory", OUTSIDE_ROOT, handle="/etc/passwd#root"),
    case("home", "read_memory", OUTSIDE_ROOT, handle="~/.bashrc"),
    case("home-user", "read_memory", OUTSIDE_ROOT, handle="~root/.bashrc"),
    case("percent-dotdot", "read_memory", OUTSIDE_ROOT, handle="%2e%2e/%2e%2e/etc/passwd"),
    case("percent-slash", "read_memory", OUTSIDE_ROOT, handle="..%2f..%2fetc%2fpasswd"),
    case("percent-nul", "read_memory", OUTSIDE_ROOT, handle="学习进度.md%00.txt"),
    case("backslashes", "read_memory", OUTSIDE_ROOT, handle="..\\..\\etc\\passwd"),
    case("windows-drive", "read_memory", OUTSIDE_ROOT, handle="C:/Windows/win.ini"),
    case("nul", "read_memory", OUTSIDE_ROOT, handle="学习进度.md\x00.txt"),
    case("control-character", "read_memory", OUTSIDE_ROOT, handle="\x1b[31m学习进度.md"),
    case("index-folder", "read_memory", OUTSIDE_ROOT, handle=".project-memory/index/MAIN_WRITELOCK"),
    case("index-folder-case", "read_memory", OUTSIDE_ROOT, handle=".PROJECT-MEMORY/../学习进度.md"),
    case("resource-uri-as-handle", "read_memory", r"resource URI", handle="memory://notes/../../etc/passwd"),
    case("empty-handle", "read_memory", r"no document path", handle="#学习日志"),
    case("root-itself", "read_memory", OUTSIDE_ROOT, handle="./"),
    case("section-traversal", "read_memory", r"has no section", handle="学习进度.md#../../etc/passwd"),
    case("very-long-handle", "read_memory", r"names are limited to 255 bytes", handle="长" * 5000 + ".md"),
    case("lone-surrogate", "read_memory", r"lone UTF-16 surrogate", handle="\ud800学习进度.md"),
    case("offset-negative", "read_memory", r"offset", handle="学习进度.md", offset=-1),
    case("offset-huge", "read_memory", r"offset .* is outside the text", handle="学习进度.md", offset=10**12),
]

SYMLINK_CASES = [  # symlinks that lead out of the root
    case("symlinked-note", "read_memory", r"symlink leads outside", handle=f"{NOTES}/外链.md"),
    case("symlinked-folder", "read_memory", r"symlink leads outside", handle=f"{NOTES}/外链目录/secret.md"),
    case("dangling-symlink", "read_memory", r"symlink leads outside", handle="深度讨论/外链深度讨论.md"),
    case("write-through-dangling-symlink", "record_discussion", r"symlink leads outside", topic="外链", **PARTS),
    case(
        "write-into-symlinked-lecture-folder",
        "save_lecture_note",
        r"symlink leads outside",
        lecture="3",
        part="理论概念",
        content="# 第三讲\n\n内容",
    ),
]

UNREADABLE_CASES = [  # files that are not readable notes
    case("invalid-utf8", "read_memory", r"not valid UTF-8 at byte", handle=f"{NOTES}/坏编码.md"),
    case("binary", "read_memory", r"looks binary", handle=f"{NOTES}/二进制.md"),
    case("fifo", "read_memory", r"not a regular file", handle=f"{NOTES}/管道.md"),
    case("missing", "read_memory", r"does not exist", handle=f"{NOTES}/没有这个文件.md"),
    case("folder-as-note", "read_memory", r"not a regular file|does not exist|Is a directory", handle=NOTES),
]

WRITE_CASES = [  # titles, bodies and topics that would break the documents
    case("title-newline-heading", "append_insight", r"must be one line", title="正常\n## 注入的标题", body="- x"),
    case("title-carriage-return", "append_insight", r"must be one line", title="正常\r## 注入", body="- x"),
    case("title-line-separator", "append_insight", r"must be one line", title="正常\u2028## 注入", body="- x"),
    case("title-starts-with-hash", "append_insight", r"must not start with '#'", title="## 顶替", body="- x"),
    case("title-too-long", "append_insight", rf"keep it under {MAX_TITLE_CHARS}", title=LONG, body="- x"),
    case("title-empty", "append_insight", r"title is empty", title="   ", body="- x"),
    case(
        "body-too-long",
        "append_insight",
        rf"keep it under {MAX_BODY_CHARS}",
        title="超长正文",
        body="字" * (MAX_BODY_CHARS + 1),
    ),
    case("body-level-2-heading", "append_insight", r"level-2 heading", title="正文标题", body="- a\n## 顶层"),
    case(
        "body-setext-heading",
        "append_insight",
        r"level-1 heading|level-2 heading",
        title="正文标题",
        body="标题\n===\n",
    ),
    case("body-open-fence", "append_insight", r"code block", title="未闭合", body="```python\nx = 1"),
    case("body-nul", "append_insight", r"NUL", title="空字符", body="- a\x00b"),
    case("body-open-html-comment", "append_insight", r"HTML block", title="注释", body="- a\n<!-- 未闭合"),
    case("body-open-pre", "append_insight", r"HTML block", title="预格式", body="<pre>\n# 藏起来的标题"),
    case("title-lone-surrogate", "append_insight", r"UTF-8 cannot hold", title="半个\udcff字", body="- x"),
    case("too-many-tags", "append_insight", r"at most 12", **INSIGHT, tags=[f"t{n}" for n in range(13)]),
    case("tag-newline", "append_insight", r"must be one line", **INSIGHT, tags=["a\n## b"]),
    case("topic-slash", "record_discussion", r"must not start with '\.'", topic="../../etc/x", **PARTS),
    case("topic-backslash", "record_discussion", r"file names cannot hold", topic="a\\b", **PARTS),
    case("topic-newline", "record_discussion", r"must be one line", topic="a\n# b", **PARTS),
    case("topic-too-long", "record_discussion", rf"keep it under {MAX_TITLE_CHARS}", topic=LONG, **PARTS),
    case(
        "topic-too-long-for-a-file-name",
        "record_discussion",
        r"as a file name it may be at most 240 bytes \(about 80 Chinese characters",
        topic="长" * 90,
        **PARTS,
    ),
    case(
        "topic-emoji-too-long-for-a-file-name",
        "record_discussion",
        r"as a file name it may be at most 240 bytes",
        topic="😀" * MAX_TITLE_CHARS,
        **PARTS,
    ),
    case("topic-lone-surrogate", "record_discussion", r"lone UTF-16 surrogate", topic="\udcff", **PARTS),
    case("discussion-part-empty", "record_discussion", r"is empty", topic="空部分", **{**PARTS, "details": " "}),
    case("lecture-traversal", "update_progress", r"is not a lecture", lecture="../3", status="done"),
    case("lecture-zero", "update_progress", r"is not a lecture", lecture="0", status="done"),
    case("lecture-hundred", "update_progress", r"is not a lecture", lecture="100", status="done"),
    case("status-unknown", "update_progress", r"unknown status", lecture="3", status="rm -rf /"),
    case("todo-newline", "add_research_todo", r"must be one line", item="a\n- [x] 伪造"),
    case("todo-too-long", "add_research_todo", rf"keep it under {MAX_TITLE_CHARS}", item=LONG),
    case("complete-unknown", "complete_research_todo", r"no open research TODO matches", item="不存在的事项"),
    case(
        "note-too-long",
        "save_lecture_note",
        rf"keep it under {MAX_NOTE_CHARS}",
        lecture="5",
        part="理论概念",
        content="# 五\n\n" + "字" * MAX_NOTE_CHARS,
    ),
    case(
        "note-part-traversal",
        "save_lecture_note",
        r"unknown note part",
        lecture="5",
        part="../../../etc/passwd",
        content="# x",
    ),
    case(
        "note-exists-no-version",
        "save_lecture_note",
        r"already exists",
        lecture="1",
        part="理论概念",
        content="# 覆盖\n\n内容",
    ),
    case(
        "note-version-garbage",
        "save_lecture_note",
        r"expected_version .* is malformed",
        lecture="1",
        part="理论概念",
        content="# 覆盖\n\n内容",
        expected_version="'; DROP TABLE notes;--",
    ),
    case(
        "section-version-garbage",
        "update_section",
        r"changed since you read it",
        handle="AI助手工作记忆.md#下一步计划",
        content="- 新计划",
        expected_version="0" * 16,
    ),
    case(
        "section-version-empty",
        "update_section",
        r"expected_version is required",
        handle="AI助手工作记忆.md#下一步计划",
        content="- 新计划",
        expected_version="",
    ),
    case(
        "update-section-traversal",
        "update_section",
        OUTSIDE_ROOT,
        handle="../outside/secret.md#机密",
        content="- x",
        expected_version="0" * 16,
    ),
    case(
        "section-no-heading",
        "update_section",
        r"needs a section handle",
        handle="AI助手工作记忆.md",
        content="- x",
        expected_version="0" * 16,
    ),
    case(
        "section-content-heading",
        "update_section",
        r"changed since you read it|level-1 heading",
        handle="AI助手工作记忆.md#下一步计划",
        content="# 顶替整个文档",
        expected_version="0" * 16,
    ),
]

SEARCH_CASES = [  # search arguments
    case("query-quote", "search_discussions", None, query='"'),
    case("query-unbalanced-quote", "search_discussions", None, query='"KV缓存'),
    case("query-parenthesis", "search_discussions", None, query="(KV缓存"),
    case("query-boolean-words", "search_discussions", None, query="KV AND 缓存 OR NOT (量化)"),
    case("query-star", "search_discussions", None, query="*"),
    case("query-wildcards", "search_discussions", None, query="KV* ?缓存 ~2 ^3"),
    case("query-field-syntax", "search_discussions", None, query="path:/etc/passwd title:secret"),
    case("query-colon", "search_discussions", None, query=":"),
    case("query-backslash", "search_discussions", None, query="\\"),
    case("query-regex", "search_discussions", None, query=".*(a+)+$"),
    case("query-nul", "search_discussions", None, query="KV\x00缓存"),
    case("query-outside-content", "search_discussions", None, query=OUTSIDE_MARKER),
    case("query-too-long", "search_discussions", r"query must be text of 1 to 500 characters", query="字" * 501),
    case("query-empty", "search_discussions", r"query must be text of 1 to 500 characters", query=""),
    case("query-blank", "search_discussions", r"query is empty", query="   "),
    case("scope-unknown", "search_discussions", r"scope must be one of all, discussions, notes, memory", query="KV缓存",
         scope="../../etc"),
    case("limit-zero", "search_discussions", r"limit must be a whole number from 1 to 50", query="KV缓存", limit=0),
    case("limit-too-big", "search_discussions", r"limit must be a whole number from 1 to 50", query="KV缓存", limit=51),
    case("limit-not-a-number", "search_discussions", r"limit must be a whole number", query="KV缓存", limit="ten"),
    case("lecture-filter-garbage", "search_discussions", r"is not a lecture", query="KV缓存", lecture="abc"),
    case("since-garbage", "search_discussions", r"since must be a date such as 2026-03-01", query="KV缓存",
         since="yesterday"),
    case("since-far-future", "search_discussions", None, query="KV缓存", since="9999-12-31"),
    case("tags-as-one-string", "search_discussions", None, query="KV缓存", tags="a,b"),
    case("max-tokens-too-small", "get_session_context", r"max_tokens must be a whole number from 200 to 20000",
         max_tokens=10),
    case("max-tokens-too-big", "get_session_context", r"max_tokens must be a whole number from 200 to 20000",
         max_tokens=10**9),
    case("argument-misspelt", "get_session_context", r"max_token is not one of its arguments \(it takes focus, "
         r"max_tokens\)", max_token=500),
    case("argument-misspelt-case", "search_discussions", r"Query is not one of its arguments", Query="KV缓存"),
    case("argument-a-client-adds", "read_memory", None, handle="学习进度.md", toolCallId="call_1"),
]
QUERY_RESULTS_FREE_OF_OUTSIDE = {"query-outside-content", "query-field-syntax"}


async def run_cases(hostile: Hostile, cases: list[Case]) -> list[str]:
    """Each case on one server: the answer it must get, a follow-up call that must work, and no change to the
    root's notes or to anything around the root. Returns what went wrong, case by case."""
    problems: list[str] = []
    async with Client(new_server(hostile)) as client:
        for case in cases:
            inside, outside = snapshot_tree(hostile.root), around(hostile)
            result = await client.call_tool(case.tool, case.args)
            message = text_of(result)
            if case.error is None and result.is_error:
                problems.append(f"{case.name}: refused: {message[:300]}")
            elif case.error is None and case.name in QUERY_RESULTS_FREE_OF_OUTSIDE:
                if result.structured_content["hits"]:
                    problems.append(f"{case.name}: found {result.structured_content['hits']}")
            elif case.error is not None and not result.is_error:
                problems.append(f"{case.name}: accepted: {message[:300]}")
            elif case.error is not None and (not re.search(case.error, message) or "Traceback" in message):
                problems.append(f"{case.name}: unclear error: {message[:300]}")
            follow_up = await client.call_tool(*FOLLOW_UP)
            if follow_up.is_error:
                problems.append(f"{case.name}: the follow-up call failed: {text_of(follow_up)[:300]}")
            if snapshot_tree(hostile.root) != inside:
                problems.append(f"{case.name}: changed the notes")
            if around(hostile) != outside:
                problems.append(f"{case.name}: changed something outside the root")
    return problems


async def test_handles_that_try_to_leave_the_root_are_refused(unchanged: Hostile) -> None:
    assert await run_cases(unchanged, HANDLE_CASES) == []


async def test_symlinks_out_of_the_root_are_neither_read_nor_written_through(unchanged: Hostile) -> None:
    assert await run_cases(unchanged, SYMLINK_CASES) == []
    assert list(unchanged.outside.joinpath("lecture03").iterdir()) == []
    assert not unchanged.outside.joinpath("新讨论.md").exists()


async def test_files_that_are_not_readable_notes_are_refused_with_the_reason(unchanged: Hostile) -> None:
    assert await run_cases(unchanged, UNREADABLE_CASES) == []


async def test_titles_bodies_topics_and_arguments_that_would_break_a_document_are_refused(
    unchanged: Hostile,
) -> None:
    assert await run_cases(unchanged, WRITE_CASES) == []


async def test_query_syntax_is_searched_as_words_and_bad_search_arguments_are_refused(unchanged: Hostile) -> None:
    assert await run_cases(unchanged, SEARCH_CASES) == []


def test_there_are_at_least_fifty_hostile_inputs() -> None:
    cases = [*HANDLE_CASES, *SYMLINK_CASES, *UNREADABLE_CASES, *WRITE_CASES, *SEARCH_CASES]
    assert len({c.name for c in cases}) == len(cases)
    assert len(cases) + len(RESOURCE_CASES) + len(CLI_CASES) >= 50


RESOURCE_CASES = [
    "memory://notes/../../etc/passwd",
    "memory://notes/..%2f..%2fetc%2fpasswd",
    "memory://notes/%2e%2e/%2e%2e/etc/passwd",
    "memory://notes//etc/passwd",
    "memory://notes/~/.bashrc",
    "memory://notes/学习笔记/外链.md",
    "memory://notes/学习笔记/外链目录/secret.md",
    "memory://notes/学习笔记/坏编码.md",
    "memory://notes/.project-memory/index.lock",
    "memory://discussions/..%2f..%2fx",
    "memory://discussions/../../etc/passwd",
    "memory://discussions/..%2f..%2foutside%2fsecret",
    "memory://discussions/外链",
]


async def test_resource_uris_with_traversal_or_symlinks_out_are_refused(unchanged: Hostile) -> None:
    problems: list[str] = []
    async with Client(new_server(unchanged)) as client:
        for uri in RESOURCE_CASES:
            inside = snapshot_tree(unchanged.root)
            try:
                result = await client.read_resource(uri)
            except MCPError as err:
                if OUTSIDE_MARKER in str(err) or "root:" in str(err):  # root: is /etc/passwd's first line
                    problems.append(f"{uri}: the error shows outside content: {err}")
            else:
                problems.append(f"{uri}: served {str(result)[:200]}")
            if (await client.call_tool(*FOLLOW_UP)).is_error:
                problems.append(f"{uri}: the follow-up call failed")
            if snapshot_tree(unchanged.root) != inside:
                problems.append(f"{uri}: changed the notes")
    assert problems == []


async def test_broken_yaml_frontmatter_and_an_empty_note_are_read_as_they_are(unchanged: Hostile) -> None:
    async with Client(new_server(unchanged)) as client:
        broken = await client.call_tool("read_memory", {"handle": f"{NOTES}/坏前言.md#坏前言"})
        assert not broken.is_error, text_of(broken)
        assert "frontbroken" in broken.structured_content["text"]
        empty = await client.call_tool("read_memory", {"handle": f"{NOTES}/空文件.md"})
        assert not empty.is_error, text_of(empty)
        assert empty.structured_content["text"] == ""


async def test_search_answers_from_the_readable_notes_and_skips_the_rest(unchanged: Hostile) -> None:
    async with Client(new_server(unchanged)) as client:
        for query, wanted in (("frontbroken", [f"{NOTES}/坏前言.md"]), ("badutf", [])):
            result = await client.call_tool("search_discussions", {"query": query})
            assert not result.is_error, text_of(result)
            assert [hit["path"] for hit in result.structured_content["hits"]] == wanted, query
        known = await client.call_tool("search_discussions", {"query": "KV缓存"})
        assert known.structured_content["hits"]


def test_doctor_reports_each_unreadable_file_by_name_and_what_is_wrong(unchanged: Hostile) -> None:
    result = CliRunner().invoke(main, ["doctor", "--root", str(unchanged.root)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    for name, reason in (("坏编码.md", "not valid UTF-8"), ("二进制.md", "looks binary")):
        assert any(name in line and reason in line and "error" in line for line in lines), (name, result.stdout)
    assert any("坏前言.md" in line and "warning" in line for line in lines), result.stdout
    links = [line for line in lines if "外链" in line]  # named as links not read, never read nor an error
    assert links and all("warning" in line and "symbolic link" in line and "error" not in line for line in links), links
    assert OUTSIDE_MARKER not in result.stdout, "what a link leads to is never read"


CLI_CASES = [
    pytest.param(["search", '"', "--json"], 0, None, id="cli-query-quote"),
    pytest.param(["search", "(KV AND 缓存", "--json"], 0, None, id="cli-query-syntax"),
    pytest.param(["search", "*", "--json"], 0, None, id="cli-query-star"),
    pytest.param(["search", "title:x path:/etc", "--json"], 0, None, id="cli-query-fields"),
    pytest.param(["search", "KV缓存", "--limit", "0"], 2, r"--limit", id="cli-limit-zero"),
    pytest.param(["search", "KV缓存", "--limit", "51"], 2, r"--limit", id="cli-limit-too-big"),
    pytest.param(["search", "KV缓存", "--scope", "../etc"], 2, r"--scope", id="cli-scope-unknown"),
    pytest.param(["search", "KV缓存", "--lecture", "abc"], 2, r"is not a lecture", id="cli-lecture-garbage"),
    pytest.param(["search", "   "], 2, r"query is empty", id="cli-query-blank"),
    pytest.param(["context", "--max-tokens", "10"], 2, r"--max-tokens", id="cli-max-tokens"),
    pytest.param(["reindex"], 0, None, id="cli-reindex-skips-unreadable"),
    pytest.param(["status", "--json"], 0, None, id="cli-status"),
]


@pytest.mark.parametrize(("args", "exit_code", "error"), CLI_CASES)
def test_a_hostile_cli_call_gets_a_clear_answer_and_changes_nothing(
    args: list[str], exit_code: int, error: str | None, unchanged: Hostile
) -> None:
    result = CliRunner().invoke(main, [*args, "--root", str(unchanged.root)])
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if error is not None:
        assert re.search(error, result.output), result.output
    assert "Traceback" not in result.output


def test_the_cli_refuses_a_root_that_is_a_file_or_missing(tmp_path: Path) -> None:
    note = tmp_path / "a.md"
    note.write_text("# a\n", encoding="utf-8")
    for root in (note, tmp_path / "missing"):
        result = CliRunner().invoke(main, ["search", "x", "--root", str(root)])
        assert result.exit_code != 0
        assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


async def test_a_note_deleted_between_listing_and_reading_is_skipped(
    unchanged: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = NoteStore.iter_markdown

    def with_a_vanished_note(self: NoteStore) -> Iterator[str]:
        yield from listed(self)
        yield f"{NOTES}/刚刚删除.md"  # listed, then deleted before it is read

    monkeypatch.setattr(NoteStore, "iter_markdown", with_a_vanished_note)
    async with Client(new_server(unchanged)) as client:
        for tool, args in (
            ("get_session_context", {"max_tokens": 1000}),
            ("search_discussions", {"query": "KV缓存"}),
            ("read_memory", {"handle": f"{NOTES}/刚刚删除.md"}),
        ):
            result = await client.call_tool(tool, args)
            if tool == "read_memory":
                assert result.is_error and "does not exist" in text_of(result)
            else:
                assert not result.is_error, text_of(result)
    result = CliRunner().invoke(main, ["reindex", "--root", str(unchanged.root)])
    assert result.exit_code == 0, result.output


async def test_a_twenty_megabyte_note_is_refused_with_a_clear_message_and_skipped_by_search(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    with open(root / NOTES / "巨大.md", "wb") as huge:
        huge.write("# 巨大\n\n".encode())
        huge.write(("巨大的笔记 hugemarker\n" * (HUGE_BYTES // 30)).encode())
    before = snapshot_tree(root)
    memory = ProjectMemory(root, today=lambda: TODAY)
    async with Client(create_server(memory, watch=False)) as client:
        read = await client.call_tool("read_memory", {"handle": f"{NOTES}/巨大.md"})
        assert read.is_error and re.search(r"巨大.md cannot be read .*larger than 8 MiB", text_of(read)), text_of(read)
        with pytest.raises(MCPError, match="larger than 8 MiB"):
            await client.read_resource(f"memory://notes/{NOTES}/巨大.md")
        search = await client.call_tool("search_discussions", {"query": "hugemarker"})
        assert not search.is_error and search.structured_content["hits"] == []
        assert (await client.call_tool("search_discussions", {"query": "KV缓存"})).structured_content["hits"]
        assert not (await client.call_tool(*FOLLOW_UP)).is_error
    doctor = CliRunner().invoke(main, ["doctor", "--root", str(root)])
    assert doctor.exit_code == 1
    assert any("巨大.md" in line and "larger than 8 MiB" in line for line in doctor.stdout.splitlines())
    assert snapshot_tree(root) == before


@pytest.mark.slow  # seconds of waiting or a whole corpus: `.ci/run` runs it after the README command
async def test_a_note_with_thirty_thousand_headings_is_served_while_other_calls_still_answer(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    memory = ProjectMemory(root, today=lambda: TODAY)
    async with Client(create_server(memory, watch=False)) as client:
        await client.call_tool("search_discussions", {"query": "KV缓存"})  # the index is built and open
        deep = root / NOTES / "深层标题.md"
        deep.write_text(
            "".join(f"{'#' * level} 标题{n}-{level}\n正文{n}\n" for n in range(5000) for level in range(1, 7)),
            encoding="utf-8",
        )
        before = snapshot_tree(root)
        slow: dict[str, Any] = {}

        async def read_deep_section() -> None:
            slow["result"] = await client.call_tool("read_memory", {"handle": f"{NOTES}/深层标题.md#标题4999-6"})
            slow["done_at"] = time.monotonic()

        async with anyio.create_task_group() as group:
            group.start_soon(read_deep_section)
            await anyio.sleep(0.2)  # let the slow read start: this orders the calls, it asserts nothing
            follow_up = await client.call_tool(*FOLLOW_UP)
            answered_at = time.monotonic()
            assert not follow_up.is_error
        assert not slow["result"].is_error, text_of(slow["result"])
        assert slow["result"].structured_content["text"].startswith("###### 标题4999-6")
        assert answered_at < slow["done_at"], "the server answered nothing while one note was being parsed"
    assert snapshot_tree(root) == before


async def test_a_section_edit_with_the_right_version_still_cannot_break_the_outline(unchanged: Hostile) -> None:
    handle = "AI助手工作记忆.md#下一步计划"
    async with Client(new_server(unchanged)) as client:
        version = (await client.call_tool("read_memory", {"handle": handle})).structured_content["version"]
        for content, error in (
            ("# 顶替整个文档", r"level-1 heading"),
            ("- 计划\n## 新的二级标题", r"level-2 heading"),
            ("```\n未闭合的代码块", r"code block"),
            ("<!-- 吞掉后面的标题", r"HTML block"),
            ("- a\x00b", r"NUL"),
            ("字" * (MAX_NOTE_CHARS + 1), rf"keep it under {MAX_NOTE_CHARS}"),
        ):
            result = await client.call_tool(
                "update_section", {"handle": handle, "content": content, "expected_version": version}
            )
            assert result.is_error and re.search(error, text_of(result)), (content[:20], text_of(result))


def test_a_note_whose_file_name_is_not_utf8_is_skipped_and_the_index_still_builds(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    os.close(os.open(bytes(root / NOTES) + b"/bad\xffname.md", os.O_WRONLY | os.O_CREAT, 0o644))
    with ProjectMemory(root) as memory:
        memory.ensure_index()
        assert memory.index_status().state == "fresh"
        assert not any("\udcff" in path for path in memory.documents())
        assert find(memory, "KV缓存").index_state == "fresh"


# --- bugs elsewhere, pinned ---------------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["🔥 KV缓存要点", "**粗体**洞察", "`pin_memory` 洞察", "结尾井号 ##"])
def test_an_exact_retry_of_an_insight_with_markup_in_its_title_adds_nothing(tmp_path: Path, title: str) -> None:
    root = copy_example(tmp_path)
    memory = ProjectMemory(root, today=lambda: TODAY)
    memory.append_insight(title, "- 重试前后同一条")
    retry = memory.append_insight(title, "- 重试前后同一条")
    assert not retry.changed
    assert (root / "AI助手工作记忆.md").read_text(encoding="utf-8").count("重试前后同一条") == 1


async def test_a_since_date_in_year_one_gets_an_answer_or_a_clear_error(unchanged: Hostile) -> None:
    async with Client(new_server(unchanged)) as client:
        result = await client.call_tool("search_discussions", {"query": "KV缓存", "since": "0001-01-01"})
    assert not result.is_error or "since" in text_of(result), text_of(result)


def test_doctor_skips_a_note_deleted_while_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_example(tmp_path)
    listed = NoteStore.iter_markdown

    def with_a_vanished_note(self: NoteStore) -> Iterator[str]:
        yield from listed(self)
        yield f"{NOTES}/刚刚删除.md"

    monkeypatch.setattr(NoteStore, "iter_markdown", with_a_vanished_note)
    result = CliRunner().invoke(main, ["doctor", "--root", str(root)])
    assert result.exit_code == 0, result.output


# --- security posture ---------------------------------------------------------------------------------------

CODE_FOLDERS = ("server", "memory_schema")
FORBIDDEN_MODULES = {"subprocess", "pickle", "marshal", "shelve", "pty", "socket", "http", "socketserver"}
# Whoosh stores posting blocks as pickles (its own format). whoosh_private reads them as Whoosh itself does, and
# only from the index in the user's private cache folder, never from the notes folder: the planted-pickle tests
# below pin that nothing under the root is ever unpickled.
# A full build's workers (build_workers) are this interpreter running one fixed line of our own code, started
# with an argument list (no shell, no text from the notes); the pickles cross only between the server and
# those children, over their pipes.
ALLOWED_USES = {
    "server/search/whoosh_private.py": ["import pickle"],
    "server/search/build_workers.py": ["import pickle", "import subprocess"],
}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_OS_CALLS = {"system", "popen", "fork", "forkpty", "kill"} | {
    name for name in dir(os) if name.startswith(("exec", "spawn", "posix_spawn"))
}


def forbidden_uses(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"from {node.module} import")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"from os import {a.name}" for a in node.names if a.name in FORBIDDEN_OS_CALLS]
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_BUILTINS:
                found.append(f"{node.func.id}()")
            if (
                isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "os"
                and node.func.attr in FORBIDDEN_OS_CALLS
            ):
                found.append(f"os.{node.func.attr}()")
            found += ["shell=True" for k in node.keywords if k.arg == "shell"]
    return found


def test_the_server_code_never_runs_commands_or_evaluates_text() -> None:
    problems = {}
    files = [path for folder in CODE_FOLDERS for path in sorted((REPO / folder).rglob("*.py"))]
    assert len(files) > 20
    for path in files:
        found = forbidden_uses(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found = [use for use in found if use not in ALLOWED_USES.get(path.relative_to(REPO).as_posix(), [])]
        if found:
            problems[str(path.relative_to(REPO))] = found
    assert problems == {}


def test_the_forbidden_use_scan_catches_what_it_looks_for() -> None:
    planted = "import subprocess\nfrom os import system\nos.popen('x')\neval(t)\nrun(cmd, shell=True)\n"
    assert forbidden_uses(ast.parse(planted)) == [
        "import subprocess",
        "from os import system",
        "os.popen()",
        "eval()",
        "shell=True",
    ]


def test_serve_offers_stdio_only_with_no_host_or_port_option() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    options = set(re.findall(r"--[a-z-]+", result.output))
    assert options == {"--root", "--sandbox", "--no-watch", "--help"}
    assert not re.search(r"\b(host|port|http|sse|transport)\b", result.output, re.IGNORECASE)


def listening_inodes(pid: int) -> dict[str, set[str]]:
    """Socket inodes in a LISTEN (TCP) or bound (UDP) state, per table, as the process's network namespace
    sees them."""
    found: dict[str, set[str]] = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        rows = [line.split() for line in path.read_text().splitlines()[1:]]
        found[table] = {row[9] for row in rows if table.startswith("udp") or row[3] == "0A"}
    return found


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc")
async def test_a_running_stdio_server_holds_no_listening_socket(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    env = {**os.environ, "PROJECT_MEMORY_ROOT": str(root), "PYTHONPATH": str(REPO)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "server", "serve"], cwd=str(REPO), env=env)
    before = set(children_of(os.getpid()))  # earlier tests may have left children of their own
    async with Client(params) as client:
        result = await client.call_tool("search_discussions", {"query": "KV缓存"})  # warmed up, watcher running
        assert not result.is_error
        servers = [pid for pid in children_of(os.getpid()) if pid not in before]
        assert len(servers) == 1, servers
        pid = servers[0]
        sockets = {
            link.split("[")[1].rstrip("]")
            for link in (os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir())
            if link.startswith("socket:[")
        }
        listening = {table: inodes & sockets for table, inodes in listening_inodes(pid).items()}
        assert all(not inodes for inodes in listening.values()), listening


def plant_index(folder: Path, marker: Path) -> None:
    """An index folder as an older version kept it, whose table of contents runs code when unpickled."""
    from whoosh import index as whoosh_index
    from whoosh.filedb.filestore import FileStorage

    folder.mkdir(parents=True, exist_ok=True)
    toc = FileStorage(str(folder)).create_file("_MAIN_7.toc")
    for size in (whoosh_index._INT_SIZE, whoosh_index._LONG_SIZE, whoosh_index._FLOAT_SIZE):
        toc.write_varint(size)
    toc.write_int(-12345)
    toc.write_int(whoosh_index._CURRENT_TOC_VERSION)
    for number in (2, 7, 5):
        toc.write_varint(number)
    toc.write_string(pickle_calling(Path.touch, marker))  # the "schema": any callable with any arguments
    toc.write_int(7)
    toc.write_int(0)
    toc.write_pickle([])
    toc.close()
    (folder / "MAIN_abc.seg").write_bytes(pickle_calling(Path.touch, marker))


def test_a_pickle_planted_under_the_root_never_runs_and_nothing_outside_the_root_changes(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    ran = tmp_path / "planted-code-ran"
    outside = tmp_path / "elsewhere"
    (outside / "index").mkdir(parents=True)
    (outside / "keep.txt").write_text("keep", encoding="utf-8")
    plant_index(root / ".project-memory" / "index", ran)
    (root / ".project-memory" / "other").symlink_to(outside, target_is_directory=True)
    before = {p.relative_to(outside): p.read_bytes() for p in outside.rglob("*") if p.is_file()}
    with ProjectMemory(root) as memory:
        memory.ensure_index()
        assert find(memory, "KV缓存").hits
        memory.rebuild_index()
        memory.append_insight("一条洞察", "- 要点")
    assert CliRunner().invoke(main, ["reindex", "--root", str(root)]).exit_code == 0
    assert not ran.exists()
    assert {p.relative_to(outside): p.read_bytes() for p in outside.rglob("*") if p.is_file()} == before


def test_a_symlink_named_like_the_old_index_folder_leads_nowhere(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    outside = tmp_path / "elsewhere"
    (outside / "index").mkdir(parents=True)
    (outside / "index" / "precious.txt").write_text("keep", encoding="utf-8")
    (root / ".project-memory").symlink_to(outside, target_is_directory=True)
    ran = tmp_path / "planted-code-ran"
    plant_index(outside / "index", ran)
    with ProjectMemory(root) as memory:
        memory.rebuild_index()
        assert find(memory, "KV缓存").hits
    assert (outside / "index" / "precious.txt").read_text(encoding="utf-8") == "keep"
    assert not ran.exists() and not list(outside.glob("*.lock")) and not (outside / "locks").exists()


class Call:
    """Pickles as "call `function(*args)`": what unpickling an attacker's file does."""

    def __init__(self, function: Any, *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.args


def pickle_calling(function: Any, *args: Any) -> bytes:
    return pickle.dumps(Call(function, *args), protocol=2)
