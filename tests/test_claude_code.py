"""Claude Code's own CLI configuring and health-checking the server, offline, with a temporary HOME.

What Claude Code needs here beyond HOME: nothing. Its native binary runs its configuration commands
without a network or a login. CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 only stops it from trying to
send telemetry (otherwise it leaves failed-event files under $HOME/.claude/telemetry).

A project's .mcp.json servers are not started until the project is approved. Without the interactive
dialog that takes two things, each useless alone: the project trusted in $HOME/.claude.json
(`projects[<dir>].hasTrustDialogAccepted`) and the servers enabled, either by
`enableAllProjectMcpServers` in the project's .claude/settings.json or by name in
`projects[<dir>].enabledMcpjsonServers`.
"""

import json
import os
from pathlib import Path
from typing import Any

import pytest

from e2e import CLAUDE, Finished, client_env, find_client, run_client, venv_script
from support import REPO, copy_example

pytestmark = pytest.mark.slow


@pytest.fixture
def claude() -> Path:
    return find_client(CLAUDE)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    # Resolved because Claude Code keys projects in ~/.claude.json by the real path of the launch folder.
    folder = tmp_path / "project"
    folder.mkdir()
    return folder.resolve()


def run_claude(claude: Path, project: Path, env: dict[str, str], *args: str) -> Finished:
    # `mcp list` starts the server and waits for its handshake (up to 30 s per server by its own limit).
    finished = run_client([claude, *args], env=env, cwd=project, timeout=90)
    output = finished.stdout + finished.stderr
    assert finished.code == 0, f"claude {' '.join(args)} exited {finished.code}:\n{output}"
    return finished


def server_line(listing: str) -> str:
    lines = [line for line in listing.splitlines() if line.startswith("project-memory:")]
    assert len(lines) == 1, listing
    return lines[0]


def trust_project(home: Path, project: Path, **entry: Any) -> None:
    """Mark the project trusted in $HOME/.claude.json, keeping what the CLI already wrote there."""
    config_file = home / ".claude.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.exists() else {}
    projects = config.setdefault("projects", {})
    projects.setdefault(str(project), {}).update(hasTrustDialogAccepted=True, **entry)
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")


def test_claude_code_connects_to_the_server_from_claude_config_once_the_project_is_approved(
    claude: Path, home: Path, project: Path, tmp_path: Path
) -> None:
    servers = json.loads((REPO / "claude_config.json").read_text(encoding="utf-8"))["mcpServers"]
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": servers}, indent=2), encoding="utf-8")
    # claude_config.json runs `${PROJECT_MEMORY_BIN:-project-memory}`: with it unset, the name on PATH.
    path = f"{venv_script().parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = client_env(home, PATH=path, PROJECT_MEMORY_ROOT=str(copy_example(tmp_path)),
                     CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")

    pending = server_line(run_claude(claude, project, env, "mcp", "list").stdout)
    assert "Pending approval" in pending

    trust_project(home, project)
    (project / ".claude").mkdir()
    settings = {"enableAllProjectMcpServers": True}
    (project / ".claude" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    connected = server_line(run_claude(claude, project, env, "mcp", "list").stdout)
    assert "Connected" in connected and "Failed" not in connected, connected


def test_claude_mcp_add_writes_the_project_server_into_mcp_json(
    claude: Path, home: Path, project: Path, tmp_path: Path
) -> None:
    root = copy_example(tmp_path)
    script = venv_script()
    env = client_env(home, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    run_claude(claude, project, env, "mcp", "add", "project-memory", "--scope", "project",
               "-e", f"PROJECT_MEMORY_ROOT={root}", "--", str(script), "serve")
    written = json.loads((project / ".mcp.json").read_text(encoding="utf-8"))
    assert written == {"mcpServers": {"project-memory": {
        "type": "stdio", "command": str(script), "args": ["serve"], "env": {"PROJECT_MEMORY_ROOT": str(root)},
    }}}

    trust_project(home, project, enabledMcpjsonServers=["project-memory"])
    connected = server_line(run_claude(claude, project, env, "mcp", "list").stdout)
    assert "Connected" in connected and "Failed" not in connected, connected
