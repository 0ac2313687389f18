"""The real server over stdio, as Claude Code runs it: a subprocess driven by the SDK client."""

import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from support import REPO, copy_example

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def server_params(root: Path, *extra: str) -> StdioServerParameters:
    env = {**os.environ, "PROJECT_MEMORY_ROOT": str(root), "PYTHONPATH": str(REPO)}
    return StdioServerParameters(command=sys.executable, args=["-m", "server", "serve", *extra], cwd=str(REPO), env=env)


def hit_paths(result: Any) -> list[str]:
    assert not result.is_error, result.content
    return [hit["path"] for hit in result.structured_content["hits"]]


async def test_the_stdio_server_answers_tools_over_a_real_pipe(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    async with Client(server_params(root)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"get_session_context", "search_discussions", "append_insight"} <= names
        briefing = await client.call_tool("get_session_context", {"max_tokens": 1000})
        assert "2/17" in briefing.structured_content["text"]
        await client.call_tool("append_insight", {"title": "stdio写入", "body": "- 通过管道写入"})
        assert "AI助手工作记忆.md" in hit_paths(await client.call_tool("search_discussions", {"query": "stdio写入"}))
    assert "### stdio写入" in (root / "AI助手工作记忆.md").read_text(encoding="utf-8")


async def test_an_edit_made_in_the_editor_shows_up_in_search_within_a_bounded_wait(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    async with Client(server_params(root)) as client:
        assert hit_paths(await client.call_tool("search_discussions", {"query": "编辑器外部修改"})) == []
        note = root / "学习笔记" / "外部笔记.md"
        note.write_text("# 外部笔记\n\n这是在编辑器外部修改的内容。\n", encoding="utf-8")
        deadline = time.monotonic() + 10
        paths: list[str] = []
        while time.monotonic() < deadline:
            paths = hit_paths(await client.call_tool("search_discussions", {"query": "编辑器外部修改"}))
            if paths:
                break
            await anyio.sleep(0.1)
        assert paths == ["学习笔记/外部笔记.md"]
        note.unlink()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and paths:
            paths = hit_paths(await client.call_tool("search_discussions", {"query": "编辑器外部修改"}))
            await anyio.sleep(0.1)
        assert paths == []


async def test_sandbox_serves_a_copy_and_leaves_the_root_untouched(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    before = (root / "AI助手工作记忆.md").read_bytes()
    async with Client(server_params(root, "--sandbox")) as client:
        result = await client.call_tool("append_insight", {"title": "沙盒", "body": "- 只写到副本"})
        assert not result.is_error
    assert (root / "AI助手工作记忆.md").read_bytes() == before
    assert not (root / ".project-memory").exists()


async def test_a_sandbox_leaves_out_a_symlink_out_of_the_root_and_keeps_one_inside_it(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    outside = tmp_path / "outside.md"
    outside.write_text("# 外部\n\nOUTSIDESECRET 不属于这份记忆。\n", encoding="utf-8")
    (root / "深度讨论" / "外链.md").symlink_to(outside)
    inside = root / "学习笔记" / "真身.md"
    inside.write_text("# 真身\n\nINSIDEWORD 在根里。\n", encoding="utf-8")
    (root / "深度讨论" / "内链.md").symlink_to(inside.resolve())  # an absolute link to a note inside the root
    (root / ".git").mkdir()
    (root / ".git" / "notes.md").write_text("# git\n\nGITONLYWORD\n", encoding="utf-8")
    async with Client(server_params(root, "--sandbox")) as client:
        for word in ("OUTSIDESECRET", "GITONLYWORD"):
            result = await client.call_tool("search_discussions", {"query": word})
            assert not result.is_error and hit_paths(result) == [], (word, result)
        known = await client.call_tool("search_discussions", {"query": "KV缓存"})
        assert hit_paths(known)
        inside_hits = hit_paths(await client.call_tool("search_discussions", {"query": "INSIDEWORD"}))
        assert "深度讨论/内链.md" in inside_hits, inside_hits
