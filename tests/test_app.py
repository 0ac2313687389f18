"""The MCP surface, driven in process with the SDK client in both protocol modes."""

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError

from server.app import create_server
from server.memory import ProjectMemory
from server.tokens import estimate_tokens
from server.uris import uri_for
from support import TODAY, copy_example, snapshot_tree

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]

# The tool contract: names and parameters are what Claude Code calls; changing them breaks users.
CONTRACT = {
    "get_session_context": {"max_tokens": "integer", "focus": "string"},
    "search_discussions": {"query": "string", "scope": "string", "limit": "integer", "lecture": "string|integer",
                           "tags": "array", "since": "string"},
    "list_discussions": {"offset": "integer", "limit": "integer", "lecture": "string|integer", "text": "string"},
    "read_memory": {"handle": "string", "offset": "integer"},
    "append_insight": {"title": "string", "body": "string", "tags": "array", "lecture": "string|integer"},
    "revise_insight": {"title": "string", "body": "string", "expected_version": "string"},
    "record_discussion": {"topic": "string", "question": "string", "thinking": "string", "details": "string",
                          "methodology": "string", "practice": "string", "tags": "array",
                          "lecture": "string|integer", "summary": "string"},
    "update_progress": {"lecture": "string|integer", "status": "string", "note": "string"},
    "add_research_todo": {"item": "string", "topic": "string"},
    "complete_research_todo": {"item": "string"},
    "save_lecture_note": {"lecture": "string|integer", "part": "string", "content": "string",
                          "expected_version": "string"},
    "update_section": {"handle": "string", "content": "string", "expected_version": "string"},
    "undo_last_write": {"write_id": "string"},
}
READ_ONLY_TOOLS = {"get_session_context", "search_discussions", "list_discussions", "read_memory"}


def schema_type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return "|".join(schema_type(option) for option in schema["anyOf"] if option.get("type") != "null")
    kind = schema.get("type")
    return "|".join(kind) if isinstance(kind, list) else str(kind)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_server(tmp_path: Path, *, warm_up: bool = False) -> Any:
    """A server over a copy of the example. Without `warm_up` the index is built by the first search, if any:
    a test of the protocol alone builds none."""
    return create_server(ProjectMemory(copy_example(tmp_path), today=lambda: TODAY), watch=False, warm_up=warm_up)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data = result.structured_content
    return data.get("result", data) if isinstance(data, dict) else data


@pytest.mark.parametrize("mode", MODES)
async def test_the_tool_contract_is_pinned(tmp_path: Path, mode: str) -> None:
    async with Client(make_server(tmp_path), mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert {name: {param: schema_type(spec) for param, spec in tool.input_schema["properties"].items()}
            for name, tool in tools.items()} == CONTRACT
    assert tools["search_discussions"].input_schema["properties"]["scope"]["enum"] == ["all", "discussions", "notes",
                                                                                        "memory"]
    for name, tool in tools.items():
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (name in READ_ONLY_TOOLS)
        assert tool.description


@pytest.mark.parametrize("mode", MODES)
async def test_get_session_context_returns_text_and_structure(tmp_path: Path, mode: str) -> None:
    async with Client(make_server(tmp_path), mode=mode) as client:
        result = await client.call_tool("get_session_context", {"max_tokens": 1500})
    data = structured(result)
    assert "2/17" in data["text"] and data["estimated_tokens"] <= 1500


@pytest.mark.parametrize("mode", MODES)
async def test_search_then_read_the_hit_by_its_handle(tmp_path: Path, mode: str) -> None:
    async with Client(make_server(tmp_path), mode=mode) as client:
        hits = structured(await client.call_tool("search_discussions", {"query": "KV缓存", "limit": 5}))["hits"]
        assert hits and {"path", "heading", "snippet", "score", "kind", "lecture", "handle"} <= set(hits[0])
        page = structured(await client.call_tool("read_memory", {"handle": hits[0]["handle"]}))
    assert page["version"] and page["text"]


@pytest.mark.parametrize("mode", MODES)
async def test_every_writing_tool_works_through_the_protocol(tmp_path: Path, mode: str) -> None:
    async with Client(make_server(tmp_path, warm_up=True), mode=mode) as client:  # writes while the index builds
        structured(await client.call_tool("append_insight", {"title": "协议测试", "body": "- 一条洞察"}))
        structured(await client.call_tool("record_discussion", {
            "topic": "协议", "question": "问", "thinking": "想", "details": "细节", "methodology": "方法",
            "practice": "实践"}))
        structured(await client.call_tool("update_progress", {"lecture": "3", "status": "in_progress"}))
        structured(await client.call_tool("add_research_todo", {"item": "研究 MoE 路由", "topic": "架构"}))
        structured(await client.call_tool("complete_research_todo", {"item": "研究 MoE 路由"}))
        structured(await client.call_tool("save_lecture_note", {"lecture": "3", "part": "README", "content": "概览"}))
        page = structured(await client.call_tool("read_memory", {"handle": "AI助手工作记忆.md#下一步计划"}))
        written = structured(await client.call_tool("update_section", {
            "handle": "AI助手工作记忆.md#下一步计划", "content": "### 短期目标（本周）\n1. 学习 Lecture 04",
            "expected_version": page["version"]}))
    assert written["changed"]


@pytest.mark.parametrize("mode", MODES)
async def test_errors_come_back_as_actionable_tool_errors_and_change_nothing(tmp_path: Path, mode: str) -> None:
    server = make_server(tmp_path)
    root = tmp_path / "memory"
    before = snapshot_tree(root)
    async with Client(server, mode=mode) as client:
        cases = [
            ("append_insight", {"title": "a\n## b", "body": "x"}, "one line"),
            ("read_memory", {"handle": "../etc/passwd"}, "inside the memory root"),
            ("read_memory", {"handle": "不存在.md"}, "does not exist"),
            ("update_section", {"handle": "AI助手工作记忆.md#下一步计划", "content": "x", "expected_version": "0" * 16},
             "read it again"),
            ("search_discussions", {"query": "x", "scope": "everything"}, "scope"),
        ]
        for tool, args, expected in cases:
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args)
            assert expected in result.content[0].text, result.content[0].text
    assert snapshot_tree(root) == before


@pytest.mark.parametrize("mode", MODES)
async def test_resources_list_and_read(tmp_path: Path, mode: str) -> None:
    async with Client(make_server(tmp_path), mode=mode) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"memory://working-memory", "memory://progress", "memory://plan", "memory://research-todo"} <= uris
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert {"memory://discussions/{name}", "memory://notes/{+path}"} <= templates
        progress = await client.read_resource("memory://progress")
        assert "2/17" in progress.contents[0].text
        discussion = await client.read_resource("memory://discussions/KV缓存内存计算精确分析")
        assert "原始问题" in discussion.contents[0].text
        note = await client.read_resource(
            "memory://notes/学习笔记/01-基础建立/01-Lecture01-IntroductionTokenization/README.md")
        assert note.contents[0].text


async def test_a_changed_notes_uri_reads_it_back_whatever_its_name_holds(tmp_path: Path) -> None:
    """The URI a change notification gives is what a client reads next: a # (a fragment to a client), a %, a
    space or a ? in a note's name is percent-encoded, so the URI names that note and no other."""
    root = copy_example(tmp_path)
    source = (root / "深度讨论" / "KV缓存内存计算精确分析.md").read_text(encoding="utf-8")
    names = ["C#并发", "50% 显存", "为什么?"]  # a name with an escape (50%25.md) is no note: never listed
    for number, name in enumerate(names):
        (root / "深度讨论" / f"{name}.md").write_text(source.replace("KV缓存", f"第{number}号"), encoding="utf-8")
    (root / "学习笔记" / "F# 笔记.md").write_text("# F#\n\n函数式\n", encoding="utf-8")
    memory = ProjectMemory(root, today=lambda: TODAY)
    async with Client(create_server(memory, watch=False)) as client:
        for number, name in enumerate(names):
            uri = uri_for(memory.layout, f"深度讨论/{name}.md")
            assert "#" not in uri and " " not in uri and "?" not in uri, uri
            read = await client.read_resource(uri)
            assert f"第{number}号" in read.contents[0].text, (uri, read.contents[0].text[:60])
        note = await client.read_resource(uri_for(memory.layout, "学习笔记/F# 笔记.md"))
        assert "函数式" in note.contents[0].text


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_guide_the_workflow(tmp_path: Path, mode: str) -> None:
    async with Client(make_server(tmp_path), mode=mode) as client:
        names = {p.name for p in (await client.list_prompts()).prompts}
        assert names == {"start_session", "end_session", "socratic_discussion"}
        start = await client.get_prompt("start_session", {})
        assert "get_session_context" in start.messages[0].content.text
        socratic = await client.get_prompt("socratic_discussion", {"topic": "KV缓存"})
        assert "record_discussion" in socratic.messages[0].content.text


@pytest.mark.parametrize(("name", "arguments", "says"), [
    ("socratic_discussion", {}, "topic is required"),
    ("socratic_discussion", {"topic": "KV缓存", "depth": "3"}, "depth is not one of its arguments"),
    ("end_session", {"when": "now"}, "it takes no arguments"),
    ("start_sesion", {}, "the prompts are end_session, socratic_discussion, start_session"),
])
async def test_a_wrong_prompt_call_says_what_is_wrong(tmp_path: Path, name: str, arguments: dict[str, str],
                                                      says: str) -> None:
    async with Client(make_server(tmp_path)) as client:
        with pytest.raises(MCPError) as raised:
            await client.get_prompt(name, arguments)
    assert says in str(raised.value) and "Internal" not in str(raised.value)


async def test_the_end_session_prompt_names_every_recording_tool_and_the_layouts_heading(tmp_path: Path) -> None:
    async with Client(make_server(tmp_path)) as client:
        text = (await client.get_prompt("end_session", {})).messages[0].content.text
        prompts = (await client.list_prompts()).prompts
    for tool in ("append_insight", "revise_insight", "record_discussion", "update_progress", "update_section",
                 "undo_last_write", "AI助手工作记忆.md#下一步计划"):
        assert tool in text
    assert all(argument.description for prompt in prompts for argument in prompt.arguments or [])


@pytest.mark.parametrize("mode", MODES)
async def test_instructions_reach_the_client_at_connect_time(tmp_path: Path, mode: str) -> None:
    async with Client(make_server(tmp_path), mode=mode) as client:
        instructions = client.instructions or ""
    assert "get_session_context" in instructions and "search_discussions" in instructions


TOOL_LIST_BUDGET = 1400  # tokens every session pays before the first message: tool definitions + instructions


async def test_the_tool_list_and_instructions_fit_their_token_budget(tmp_path: Path) -> None:
    """What the model reads of each tool (name, description, input schema, as compact JSON) and the
    instructions stay within the budget; every parameter is described and none carries indentation noise."""
    async with Client(make_server(tmp_path)) as client:
        tools = (await client.list_tools()).tools
        instructions = client.instructions or ""
    definitions = [json.dumps({"name": tool.name, "description": tool.description, "input_schema": tool.input_schema},
                              ensure_ascii=False, separators=(",", ":")) for tool in tools]
    assert sum(estimate_tokens(text) for text in definitions) + estimate_tokens(instructions) <= TOOL_LIST_BUDGET
    for tool in tools:
        assert tool.description and "  " not in tool.description and "\n" not in tool.description, tool.name
        for name, spec in tool.input_schema["properties"].items():
            assert spec.get("description") or spec.get("enum"), f"{tool.name}.{name} is not described"
            assert "title" not in spec and "anyOf" not in spec, f"{tool.name}.{name}"
    status = next(tool for tool in tools if tool.name == "update_progress").input_schema["properties"]["status"]
    assert status["enum"] == ["done", "in_progress", "not_started"]


@pytest.mark.parametrize("budget", [500, 1500])
async def test_what_the_model_reads_of_the_briefing_fits_its_budget(tmp_path: Path, budget: int) -> None:
    async with Client(make_server(tmp_path)) as client:
        result = await client.call_tool("get_session_context", {"max_tokens": budget})
    text = result.content[0].text
    assert text == result.structured_content["text"]  # plain text, not a JSON copy of the structure
    assert estimate_tokens(text) <= budget


async def test_search_results_reach_the_model_as_compact_text_with_handles(tmp_path: Path) -> None:
    async with Client(make_server(tmp_path)) as client:
        result = await client.call_tool("search_discussions", {"query": "pin_memory", "limit": 3})
    text = result.content[0].text
    assert not text.lstrip().startswith("{")
    for hit in result.structured_content["hits"]:
        assert hit["handle"] in text
