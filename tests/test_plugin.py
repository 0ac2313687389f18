"""The Claude Code plugin (plugin/, listed by .claude-plugin/marketplace.json), installed and run by the real CLI.

Offline, with a scratch HOME. Installing takes `claude plugin marketplace add <repo>` and
`claude plugin install project-memory@project-memory-local`; plugin servers need no approval step.

The SessionStart hook is checked in a real session: `claude -p` runs the SessionStart hooks and reports the
session's set-up (`init`: plugins, MCP servers, slash commands) before it finds that nobody is logged in and
stops, about a second later, without a network. `--include-hook-events` puts each hook's stdout in the stream.
The briefing that hook printed must equal what the plugin's server answers to get_session_context for the same
settings, started here the way .mcp.json says, over the SDK's stdio client.

The memory root is set once, in the project's .claude/settings.json `env` block, which Claude Code passes to
hooks and MCP servers alike; the executable comes from PROJECT_MEMORY_BIN in the user's settings.
"""

import json
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

from e2e import CLAUDE, Finished, client_env, find_client, run_client, venv_script
from support import REPO, copy_example

pytestmark = pytest.mark.slow

PLUGIN = REPO / "plugin"
MARKETPLACE = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text(encoding="utf-8"))["name"]
SERVER = "plugin:project-memory:project-memory"
BRIEFING_TOKENS = 1500  # what plugin/scripts/session-start.sh asks for
COMMAND_PROMPTS = {  # plugin command -> the server's MCP prompt it stands for, with arguments
    "start-session": ("start_session", {}),
    "end-session": ("end_session", {}),
    "discuss": ("socratic_discussion", {"topic": "KV缓存"}),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def run_claude(claude: Path, project: Path, env: dict[str, str], *args: str) -> Finished:
    finished = run_client([claude, *args], env=env, cwd=project, timeout=90)
    output = finished.stdout + finished.stderr
    assert finished.code == 0, f"claude {' '.join(args)} exited {finished.code}:\n{output}"
    return finished


def merge_json(path: Path, **values: Any) -> None:
    """Add top-level keys to a JSON file, keeping what the CLI already wrote there."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def session_events(claude: Path, project: Path, env: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start a real session in `project`; return its SessionStart hook response and its init message."""
    finished = run_client(
        [claude, "-p", "hi", "--output-format", "stream-json", "--verbose", "--include-hook-events"],
        env=env, cwd=project, timeout=60,
    )
    events = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    hooks = [e for e in events if e.get("subtype") == "hook_response" and e.get("hook_event") == "SessionStart"]
    inits = [e for e in events if e.get("subtype") == "init"]
    assert len(hooks) == 1 and len(inits) == 1, f"exit {finished.code}\n{finished.stdout}\n{finished.stderr}"
    return hooks[0], inits[0]


def without_index_line(briefing: str) -> str:
    """The briefing without its "Index: <state>, <n> files" line, which only a running server can fill in.

    The hook's `project-memory context` has not loaded the index, so it leaves that line out; the server adds it
    when the token budget leaves room (with the example at 1500 tokens it does not).
    """
    return "\n".join(line for line in briefing.splitlines() if not line.startswith("Index: "))


def server_parameters(plugin_root: str, project: Path, env: dict[str, str]) -> StdioServerParameters:
    """The plugin's server as its .mcp.json describes it, ${CLAUDE_PLUGIN_ROOT} expanded as Claude Code does."""
    entry = json.loads((PLUGIN / ".mcp.json").read_text(encoding="utf-8"))["mcpServers"]["project-memory"]
    args = [arg.replace("${CLAUDE_PLUGIN_ROOT}", plugin_root) for arg in entry["args"]]
    assert "--root" not in args, "the server must find its root the way the hook does"
    return StdioServerParameters(command=entry["command"], args=args, cwd=str(project), env=env)


@pytest.mark.anyio
async def test_installed_plugin_connects_its_server_and_its_hook_briefs_like_the_server(tmp_path: Path) -> None:
    claude = find_client(CLAUDE)
    home, project, cache = tmp_path / "home", (tmp_path / "project").resolve(), tmp_path / "cache"
    home.mkdir()
    project.mkdir()
    root = copy_example(tmp_path)
    env = client_env(home, PROJECT_MEMORY_CACHE_DIR=str(cache), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")

    run_claude(claude, project, env, "plugin", "marketplace", "add", str(REPO))
    run_claude(claude, project, env, "plugin", "install", f"project-memory@{MARKETPLACE}")
    listing = run_claude(claude, project, env, "plugin", "list").stdout
    assert f"project-memory@{MARKETPLACE}" in listing and "enabled" in listing, listing

    # Configured once: the executable for the user, the memory root for the project.
    merge_json(home / ".claude" / "settings.json", env={"PROJECT_MEMORY_BIN": str(venv_script())})
    merge_json(project / ".claude" / "settings.json", env={"PROJECT_MEMORY_ROOT": str(root)})

    servers = run_claude(claude, project, env, "mcp", "list").stdout
    line = next((line for line in servers.splitlines() if line.startswith(f"{SERVER}:")), "")
    assert "✔ Connected" in line, servers

    hook, init = session_events(claude, project, env)
    assert hook["exit_code"] == 0, hook
    assert SERVER in {server["name"] for server in init["mcp_servers"]}, init["mcp_servers"]
    plugin_root = next(p["path"] for p in init["plugins"] if p["source"] == f"project-memory@{MARKETPLACE}")
    commands = {name.removeprefix("project-memory:") for name in init["slash_commands"]
                if name.startswith("project-memory:")}
    assert commands == set(COMMAND_PROMPTS), init["slash_commands"]

    # The server as Claude Code starts it: same environment, settings env applied, in the project folder.
    server_env = {**env, "PROJECT_MEMORY_BIN": str(venv_script()), "PROJECT_MEMORY_ROOT": str(root),
                  "CLAUDE_PROJECT_DIR": str(project), "CLAUDE_PLUGIN_ROOT": plugin_root}
    async with Client(server_parameters(plugin_root, project, server_env)) as client:
        briefing = await client.call_tool("get_session_context", {"max_tokens": BRIEFING_TOKENS})
        tools = {tool.name for tool in (await client.list_tools()).tools}
        prompts = {command: await client.get_prompt(name, args) for command, (name, args) in COMMAND_PROMPTS.items()}
    assert not briefing.is_error, briefing.content
    assert "2/17" in briefing.structured_content["text"]  # the example's progress, so not the empty project
    assert without_index_line(hook["stdout"]) == without_index_line(briefing.structured_content["text"])

    # Each slash command asks for every tool its MCP prompt asks for.
    for command, prompt in prompts.items():
        prompt_text = " ".join(m.content.text for m in prompt.messages if isinstance(m.content, TextContent))
        wanted = {tool for tool in tools if re.search(rf"\b{tool}\b", prompt_text)}
        body = (PLUGIN / "commands" / f"{command}.md").read_text(encoding="utf-8")
        missing = {tool for tool in wanted if not re.search(rf"\b{tool}\b", body)}
        assert wanted and not missing, f"{command}.md does not mention {sorted(missing)}"


# The launcher, without Claude Code: which executable it picks, and the one line it prints when there is none.

LAUNCHER = Path("scripts") / "project-memory.sh"
HOOK = Path("scripts") / "session-start.sh"


def fake_program(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def echoing(path: Path) -> Path:
    return fake_program(path, f'echo "{path.parent.parent.name} $*"')


def run_script(script: Path, env: dict[str, str], *args: str) -> Finished:
    """Run a plugin script as Claude Code does, with `sh`, and an otherwise empty environment."""
    return run_client(["/bin/sh", script, *args], env=env, cwd=script.parent, timeout=30)


@pytest.fixture
def copied_plugin(tmp_path: Path) -> Path:
    """The plugin folder as Claude Code's cache holds it for a git-hosted marketplace: no checkout around it."""
    return Path(shutil.copytree(PLUGIN, tmp_path / "cache" / "project-memory" / "0.1.0"))


@pytest.fixture
def checkout_plugin(tmp_path: Path) -> Path:
    """The plugin folder inside a clone whose .venv holds a (fake) project-memory."""
    echoing(tmp_path / "clone" / ".venv" / "bin" / "project-memory")
    return Path(shutil.copytree(PLUGIN, tmp_path / "clone" / "plugin"))


@pytest.fixture
def empty_path(tmp_path: Path) -> str:
    """A PATH with `sh` alone: the plugin files start their scripts with `sh`, and need nothing else."""
    folder = tmp_path / "bare-bin"
    folder.mkdir()
    (folder / "sh").symlink_to(shutil.which("sh") or "/bin/sh")
    return str(folder)


def test_launcher_prefers_project_memory_bin_then_path_then_the_checkout_venv(
    tmp_path: Path, checkout_plugin: Path, empty_path: str
) -> None:
    chosen = echoing(tmp_path / "chosen" / "bin" / "project-memory")
    on_path = echoing(tmp_path / "onpath" / "bin" / "project-memory")
    launcher = checkout_plugin / LAUNCHER
    cases = [
        ({"PROJECT_MEMORY_BIN": str(chosen), "PATH": str(on_path.parent)}, "chosen"),
        ({"PROJECT_MEMORY_BIN": "~/chosen/bin/project-memory", "HOME": str(tmp_path), "PATH": empty_path}, "chosen"),
        ({"PROJECT_MEMORY_BIN": "project-memory", "PATH": str(on_path.parent)}, "onpath"),
        ({"PATH": str(on_path.parent)}, "onpath"),
        ({"PATH": empty_path}, ".venv"),
    ]
    for env, expected in cases:
        finished = run_script(launcher, env, "context", "--max-tokens", "1500")
        assert (finished.code, finished.stdout, finished.stderr) == (0, f"{expected} context --max-tokens 1500\n", "")


def test_launcher_without_an_executable_prints_one_line_saying_how_to_set_project_memory_bin(
    copied_plugin: Path, empty_path: str
) -> None:
    finished = run_script(copied_plugin / LAUNCHER, {"PATH": empty_path}, "serve")
    assert finished.code == 1 and finished.stdout == ""
    assert finished.stderr.count("\n") == 1 and "PROJECT_MEMORY_BIN" in finished.stderr, finished.stderr

    missing = run_script(copied_plugin / LAUNCHER, {"PATH": empty_path, "PROJECT_MEMORY_BIN": "/no/such/file"}, "serve")
    assert missing.code == 1 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "PROJECT_MEMORY_BIN=/no/such/file" in missing.stderr


def test_hook_failure_is_one_line_and_never_exit_2(tmp_path: Path, copied_plugin: Path, empty_path: str) -> None:
    crashing = fake_program(tmp_path / "crash" / "project-memory",
                            'echo "Traceback (most recent call last):" >&2\necho "  File x" >&2\n'
                            'echo "ImportError: broken" >&2\nexit 2')
    crashed = run_script(copied_plugin / HOOK, {"PATH": empty_path, "PROJECT_MEMORY_BIN": str(crashing)})
    assert (crashed.code, crashed.stdout) == (1, "")
    assert crashed.stderr == "project-memory plugin: no briefing: ImportError: broken\n"

    absent = run_script(copied_plugin / HOOK, {"PATH": empty_path})
    assert (absent.code, absent.stdout) == (1, "")
    assert absent.stderr.count("project-memory plugin:") == 1 and "PROJECT_MEMORY_BIN" in absent.stderr


def test_hook_passes_the_briefing_through(tmp_path: Path, copied_plugin: Path, empty_path: str) -> None:
    briefing = fake_program(tmp_path / "ok" / "project-memory", 'echo "# briefing $*"; echo "a warning" >&2')
    finished = run_script(copied_plugin / HOOK, {"PATH": empty_path, "PROJECT_MEMORY_BIN": str(briefing)})
    assert (finished.code, finished.stdout) == (0, "# briefing context --max-tokens 1500\n")


def test_plugin_files_start_server_and_hook_through_the_same_launcher_without_root() -> None:
    server = json.loads((PLUGIN / ".mcp.json").read_text(encoding="utf-8"))["mcpServers"]["project-memory"]
    hooks = json.loads((PLUGIN / "hooks" / "hooks.json").read_text(encoding="utf-8"))["hooks"]["SessionStart"]
    hook_commands = [hook["command"] for group in hooks for hook in group["hooks"]]
    assert server["args"][0] == f"${{CLAUDE_PLUGIN_ROOT}}/{LAUNCHER}" and "env" not in server
    assert hook_commands == [f'sh "${{CLAUDE_PLUGIN_ROOT}}/{HOOK}"']
    hook_script = (PLUGIN / HOOK).read_text(encoding="utf-8")
    assert f'"$here/{LAUNCHER.name}" context --max-tokens {BRIEFING_TOKENS}' in hook_script
    for text in (json.dumps(server), *hook_commands, hook_script):
        assert "--root" not in text.replace("--root is never passed", "")
