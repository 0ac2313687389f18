"""What the end-to-end tests share: finding the real clients they drive and running them with a time limit.

The clients are the MCP Inspector CLI and Claude Code (npm packages that .ci/run installs under
~/.cache/project-memory-e2e) and Debian's Chromium. A missing client skips its tests on a workstation;
in CI (PROJECT_MEMORY_REQUIRE_E2E=1) it fails them, so the end-to-end checks cannot vanish unnoticed.
"""

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

E2E_NODE = Path.home() / ".cache" / "project-memory-e2e"
NPM_INSTALL = (
    "npm install --prefix ~/.cache/project-memory-e2e "
    "@modelcontextprotocol/inspector@2.12.0 @anthropic-ai/claude-code@2.1"
)


@dataclass(frozen=True)
class Client:
    label: str
    names: tuple[str, ...]  # executable names, best first
    installed_by: str  # how .ci/run installs it


INSPECTOR = Client("MCP Inspector", ("mcp-inspector", "inspector"), NPM_INSTALL)
CLAUDE = Client("Claude Code", ("claude",), NPM_INSTALL)
CHROMIUM = Client("Chromium", ("chromium", "chromium-browser"), "apt-get install chromium fonts-noto-cjk")


def find_client(client: Client) -> Path:
    """The client's executable from PATH or the npm folder .ci/run installs into; skip or fail when absent."""
    local_bin = E2E_NODE / "node_modules" / ".bin"
    for name in client.names:
        on_path = shutil.which(name)
        if on_path:
            return Path(on_path)
        if (local_bin / name).exists():
            return local_bin / name
    message = (
        f"{client.label} ({' or '.join(client.names)}) is neither on PATH nor in {local_bin}; "
        f".ci/run installs it with: {client.installed_by}"
    )
    if os.environ.get("PROJECT_MEMORY_REQUIRE_E2E") == "1":
        pytest.fail(f"PROJECT_MEMORY_REQUIRE_E2E=1 but {message}", pytrace=False)
    pytest.skip(message)


def venv_script() -> Path:
    """The installed `project-memory` script beside the running interpreter (the venv's bin folder)."""
    script = Path(sys.executable).parent / "project-memory"
    if not script.exists():
        pytest.skip(f"no project-memory script beside {sys.executable}; run pip install -e .")
    return script


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a client, with its own HOME and none of the outer session's settings.

    Variables starting with CLAUDE_ or ANTHROPIC_ are dropped because Claude Code honours them
    (CLAUDE_CONFIG_DIR would move its config away from HOME), and PROJECT_MEMORY_* because the
    server and claude_config.json read them.
    """
    dropped = ("CLAUDE_", "ANTHROPIC_", "PROJECT_MEMORY_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
    env["HOME"] = str(home)
    env.update(extra)
    return env


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str


def run_client(args: list[str | Path], *, env: dict[str, str], cwd: Path, timeout: float) -> Finished:
    """Run a client to completion; past `timeout` kill its whole process group and fail with what it printed.

    A process group because the clients start children (the MCP server, Chromium's renderers) that a
    plain kill of the client would leave running.
    """
    process = subprocess.Popen(
        [str(arg) for arg in args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{args[0]} did not finish in {timeout} s\n"
                    f"stdout:\n{stdout[-2000:]}\nstderr:\n{stderr[-2000:]}")
    return Finished(process.returncode, stdout, stderr)
