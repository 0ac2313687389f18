"""The MCP Inspector CLI, a client we did not write, against the real server over stdio.

Each call starts the Inspector, which starts the server on a copy of the bundled example, makes one
request and prints the result as JSON (`--format json`: `{"result": ...}` on stdout; on a tool error
also `{"error": ...}` on stderr and exit code 5). Requests go over the 2025-11-25 handshake (the
Inspector's "legacy" era, its default for a command) except the session context and the config run,
which use the stateless 2026-07-28 protocol that Claude Code speaks. Each request costs a server start
(a few seconds, most of it importing the mcp SDK), so the tests make one request each.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from e2e import INSPECTOR, Finished, client_env, find_client, run_client, venv_script
from support import REPO, copy_example

pytestmark = pytest.mark.slow

TOOLS = {
    "get_session_context", "search_discussions", "list_discussions", "read_memory", "append_insight",
    "revise_insight", "record_discussion", "update_progress", "add_research_todo", "complete_research_todo",
    "save_lecture_note", "update_section", "undo_last_write",
}
TOOL_ERROR_EXIT = 5
Result = dict[str, Any]


@pytest.fixture
def inspector() -> Path:
    return find_client(INSPECTOR)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_example(tmp_path)


def inspect(inspector: Path, root: Path, *request: str, era: str = "legacy") -> tuple[int, Result, str]:
    """One Inspector request to `python -m server serve --root <root>`: exit code, the result, stderr."""
    home = root.parent / "home"
    home.mkdir(exist_ok=True)
    # PYTHONPATH lets `-m server` import from this checkout whichever interpreter runs the tests.
    env = client_env(home, PYTHONPATH=str(REPO), MCP_INSPECTOR_SECRET_STORE="memory")
    server = [sys.executable, "-m", "server", "serve", "--root", str(root)]
    args: list[str | Path] = [inspector, "--cli", "--format", "json", "--protocol-era", era, *request,
                              "--", *server]
    return parse(run_client(args, env=env, cwd=root.parent, timeout=60))


def parse(finished: Finished) -> tuple[int, Result, str]:
    assert finished.stdout.strip(), f"exit {finished.code}, no output; stderr:\n{finished.stderr}"
    result: Result = json.loads(finished.stdout)["result"]
    return finished.code, result, finished.stderr


def tool_payload(result: Result) -> Result:
    assert result["isError"] is False, result["content"]
    payload: Result = result["structuredContent"]
    return payload


def test_inspector_lists_every_tool(inspector: Path, root: Path) -> None:
    code, result, stderr = inspect(inspector, root, "--method", "tools/list")
    assert code == 0, stderr
    assert {tool["name"] for tool in result["tools"]} == TOOLS


def test_the_session_context_reports_progress_over_the_current_protocol(inspector: Path, root: Path) -> None:
    request = ("--method", "tools/call", "--tool-name", "get_session_context")
    code, result, stderr = inspect(inspector, root, *request, "--tool-arg", "max_tokens=1500", era="modern")
    assert code == 0, stderr
    briefing = tool_payload(result)
    assert "2/17" in briefing["text"]
    assert briefing["estimated_tokens"] <= 1500
    assert "2/17" in result["content"][0]["text"]


def test_a_chinese_search_finds_the_kv_cache_discussion(inspector: Path, root: Path) -> None:
    request = ("--method", "tools/call", "--tool-name", "search_discussions", "--tool-arg", "query=KV缓存")
    code, result, stderr = inspect(inspector, root, *request)
    assert code == 0, stderr
    paths = [hit["path"] for hit in tool_payload(result)["hits"]]
    assert "深度讨论/KV缓存内存计算精确分析.md" in paths


def test_append_insight_writes_the_entry_into_the_working_memory(inspector: Path, root: Path) -> None:
    request = ("--method", "tools/call", "--tool-name", "append_insight",
               "--tool-arg", "title=检查器写入", "--tool-arg", "body=- 来自Inspector的洞察")
    code, result, stderr = inspect(inspector, root, *request)
    assert code == 0, stderr
    assert tool_payload(result)["changed"] is True
    text = (root / "AI助手工作记忆.md").read_text(encoding="utf-8")
    assert "### 检查器写入\n- 来自Inspector的洞察" in text


def test_the_progress_resource_reads_as_markdown(inspector: Path, root: Path) -> None:
    request = ("--method", "resources/read", "--uri", "memory://progress")
    code, result, stderr = inspect(inspector, root, *request)
    assert code == 0, stderr
    [content] = result["contents"]
    assert content["mimeType"] == "text/markdown"
    assert content["text"] == (root / "学习进度.md").read_text(encoding="utf-8")


def test_the_start_session_prompt_asks_for_the_session_context(inspector: Path, root: Path) -> None:
    request = ("--method", "prompts/get", "--prompt-name", "start_session")
    code, result, stderr = inspect(inspector, root, *request)
    assert code == 0, stderr
    texts = [message["content"]["text"] for message in result["messages"]]
    assert texts and "get_session_context" in texts[0]


def test_a_path_outside_the_root_is_a_tool_error_that_says_what_to_do(inspector: Path, root: Path) -> None:
    request = ("--method", "tools/call", "--tool-name", "read_memory", "--tool-arg", "handle=../x.md")
    code, result, stderr = inspect(inspector, root, *request)
    assert code == TOOL_ERROR_EXIT, stderr
    assert result["isError"] is True
    message = result["content"][0]["text"]
    assert "../x.md" in message and "relative to the root" in message
    assert '"tool_is_error"' in stderr


def expand_like_claude_code(text: str, env: dict[str, str]) -> str:
    """`${VAR}` and `${VAR:-default}` as Claude Code expands them in .mcp.json.

    The default replaces an unset or empty variable; an unset one without a default stays as written.
    """
    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        if default is None:
            return env.get(name, match.group(0))
        return env.get(name) or default

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", value, text)


def test_the_inspector_runs_claude_config_with_its_variables_expanded(
    inspector: Path, root: Path, tmp_path: Path
) -> None:
    # The Inspector reads the Claude Code file format but passes `${...}` through literally
    # ("spawn ${PROJECT_MEMORY_BIN:-project-memory} ENOENT"), so expand them first as Claude Code would.
    variables = {"PROJECT_MEMORY_BIN": str(venv_script()), "PROJECT_MEMORY_ROOT": str(root)}
    config = tmp_path / "claude_config.json"
    original = (REPO / "claude_config.json").read_text(encoding="utf-8")
    config.write_text(expand_like_claude_code(original, variables), encoding="utf-8")
    server = json.loads(config.read_text(encoding="utf-8"))["mcpServers"]["project-memory"]
    assert server["command"] == variables["PROJECT_MEMORY_BIN"]
    assert server["env"] == {"PROJECT_MEMORY_ROOT": str(root)}
    home = tmp_path / "home"
    home.mkdir()
    # No PYTHONPATH and a cwd outside the repo: the installed script must find its package on its own.
    env = client_env(home, MCP_INSPECTOR_SECRET_STORE="memory")
    env.pop("PYTHONPATH", None)
    args: list[str | Path] = [inspector, "--cli", "--format", "json", "--protocol-era", "modern",
                              "--config", config, "--server", "project-memory", "--method", "tools/call",
                              "--tool-name", "get_session_context"]
    code, result, stderr = parse(run_client(args, env=env, cwd=tmp_path, timeout=60))
    assert code == 0, stderr
    assert "2/17" in tool_payload(result)["text"]
