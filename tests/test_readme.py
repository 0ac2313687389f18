"""The README is a promise: its commands run as written, CI runs its test command, its tool table is true."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from server.app import create_server
from server.memory import ProjectMemory
from support import REPO, copy_example

README = (REPO / "README.md").read_text(encoding="utf-8")
BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
RUN_COMMAND, TEST_COMMAND = BASH_BLOCKS[0].strip(), BASH_BLOCKS[1].strip()
SKIP_COPY = {".venv", ".git", ".project-memory", "test-artifacts", "node_modules", ".pytest_cache", ".mypy_cache",
             ".ruff_cache", ".hypothesis", "__pycache__"}


def test_the_first_screen_gives_the_run_and_test_commands() -> None:
    first_screen = README[: README.index("## See it work")]
    assert RUN_COMMAND in first_screen and TEST_COMMAND in first_screen
    assert "serve --root examples/cs336 --sandbox" in RUN_COMMAND
    assert TEST_COMMAND.endswith('.venv/bin/pytest -m "not slow"')


def test_ci_also_runs_the_slow_tests_lint_and_types() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in (".venv/bin/pytest -m slow", ".venv/bin/ruff check .", ".venv/bin/mypy"):
        assert command in ci


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in ci.splitlines()


@pytest.mark.anyio
async def test_the_readme_tool_table_matches_list_tools(tmp_path: Path) -> None:
    documented = re.findall(r"^\| `([a-z_]+)` \|", README[README.index("## Tools") : README.index("**Resources:**")],
                            re.MULTILINE)
    server = create_server(ProjectMemory(copy_example(tmp_path)), watch=False)
    async with Client(server) as client:
        listed = [tool.name for tool in (await client.list_tools()).tools]
    assert sorted(documented) == sorted(listed)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _fresh_checkout(target: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if name in SKIP_COPY or name.endswith(".egg-info")}

    shutil.copytree(REPO, target, ignore=ignore)
    return target


@pytest.mark.slow
def test_walking_the_readme_runs_each_command_block_as_written(tmp_path: Path) -> None:
    """Run every bash block in a fresh copy of the repository, in order, as a newcomer would.

    The test command is not run here (it would run this suite inside itself); CI runs it, verbatim.
    Blocks needing Claude Code run when its CLI is installed, with HOME in a temporary folder.
    """
    checkout = _fresh_checkout(tmp_path / "project-memory")
    home = tmp_path / "home"
    home.mkdir()
    e2e_bin = Path.home() / ".cache" / "project-memory-e2e" / "node_modules" / ".bin"
    env = {**os.environ, "HOME": str(home), "PATH": f"{e2e_bin}{os.pathsep}{os.environ['PATH']}",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    for block in BASH_BLOCKS:
        command = block.strip().replace("/abs/path/to/project-memory", str(checkout))
        if command == TEST_COMMAND:
            continue
        if command.startswith("claude ") and shutil.which("claude", path=env["PATH"]) is None:
            if os.environ.get("PROJECT_MEMORY_REQUIRE_E2E"):
                pytest.fail("the claude CLI is not installed; .ci/run installs @anthropic-ai/claude-code")
            continue
        result = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"README block failed:\n{command}\n{result.stdout}\n{result.stderr}"
        if "--sandbox" in command:
            assert "serving a copy" in result.stderr
        if " context " in command:
            assert "2/17" in result.stdout
    assert (checkout / "examples" / "cs336" / "AI助手工作记忆.md").read_bytes() == (
        REPO / "examples" / "cs336" / "AI助手工作记忆.md").read_bytes()
    assert sys.executable  # the walk used its own venv, never this interpreter's packages


def test_the_readme_inspector_command_pins_the_version_the_tests_drive() -> None:
    """An unpinned `npx` on Node 20 resolves Inspector 0.15.0, whose CLI rejects the call; the README pins the
    release .ci/run installs, which tests/test_inspector.py drives on this machine's Node."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    pinned = re.findall(r"@modelcontextprotocol/inspector@([0-9][0-9.]*)", README)
    assert pinned and set(pinned) == set(re.findall(r"@modelcontextprotocol/inspector@([0-9][0-9.]*)", ci))
    assert "npx @modelcontextprotocol/inspector " not in README
