"""The fixed cost of every session: the tool definitions and instructions a server sends before the first
message, as the model reads them (each tool's name, description and input schema as compact JSON), in tokens
by the project's estimator (`server/tokens.py`, calibrated against Claude's published tokenizer). This code
and the old checkout are each started as Claude Code starts them (`python -m server --root ROOT` over stdio,
on a copy of the bundled example) in the same run.

    .venv/bin/python bench/tool_list.py [--old /tmp/oldmain]

Writes the table to bench/results/tool_list.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_OLD, REPO_ROOT, RESULTS_DIR, Stack, machine_facts, stacks, table, use_repo

BUDGET = 1400  # the budget for tool definitions plus instructions


@dataclass(frozen=True)
class ToolList:
    stack: str
    tools: list[tuple[str, int, int]]  # name, characters, tokens
    instruction_chars: int
    instruction_tokens: int

    @property
    def tool_tokens(self) -> int:
        return sum(tokens for _, _, tokens in self.tools)

    @property
    def total(self) -> int:
        return self.tool_tokens + self.instruction_tokens


async def read_tool_list(stack: Stack, root: Path) -> ToolList:
    from mcp import Client, StdioServerParameters

    from server.tokens import estimate_tokens

    params = StdioServerParameters(command=sys.executable, args=["-m", "server", "--root", str(root)],
                                   cwd=str(stack.code), env=stack.env())
    async with Client(params) as client:
        listed = (await client.list_tools()).tools
        instructions = client.instructions or ""
    tools = []
    for tool in listed:
        text = json.dumps({"name": tool.name, "description": tool.description, "input_schema": tool.input_schema},
                          ensure_ascii=False, separators=(",", ":"))
        tools.append((tool.name, len(text), estimate_tokens(text)))
    return ToolList(stack.name, sorted(tools), len(instructions), estimate_tokens(instructions))


def render(lists: list[ToolList], facts: str) -> str:
    lines = ["## Tool list and instructions: the fixed cost of every session", "",
             "Command: `.venv/bin/python bench/tool_list.py`  ", f"Machine: {facts}", "",
             "Each tool as the model reads it (name, description, input schema; compact JSON), in tokens by the "
             f"project's estimator, on a copy of the bundled example. Target: tools + instructions ≤ {BUDGET}.", ""]
    lines += table(["stack", "tools", "tool tokens", "instruction tokens", "total", "target"],
                   [[t.stack, str(len(t.tools)), str(t.tool_tokens), str(t.instruction_tokens), str(t.total),
                     ("pass" if t.total <= BUDGET else "over") if t.stack == "after" else "–"] for t in lists])
    lines += ["", "Per tool (after): " + ", ".join(f"`{name}` {tokens}" for name, _, tokens in
                                                    next(t for t in lists if t.stack == "after").tools), ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tokens of the tool list and instructions, new and old.")
    parser.add_argument("--old", type=Path, default=DEFAULT_OLD, help="checkout of the old code (default /tmp/oldmain)")
    args = parser.parse_args(argv)
    use_repo()
    with tempfile.TemporaryDirectory(prefix="project-memory-tools-") as folder:
        work = Path(folder)
        root = work / "memory"
        shutil.copytree(REPO_ROOT / "examples" / "cs336", root, ignore=shutil.ignore_patterns(".project-memory"))
        old = args.old if (args.old / "server").is_dir() else None
        lists = [asyncio.run(read_tool_list(stack, root)) for stack in stacks(work, old)]
    text = render(lists, machine_facts())
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "tool_list.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if next(t for t in lists if t.stack == "after").total <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
