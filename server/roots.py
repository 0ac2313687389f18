"""Which folder is the memory, and whether it is one.

Every entry point — the MCP server, the CLI, the Claude Code hook and plugin — resolves the root the same way:
`--root`, else `$PROJECT_MEMORY_ROOT`, else `$CLAUDE_PROJECT_DIR` (Claude Code sets it for servers and hooks
alike), else the current folder. A folder is a memory when it holds `project-memory.toml` or one of a layout
preset's documents at its top; anything else (a home folder, a code repository, `node_modules`) is refused
before a single file under it is read, so a wrong root costs nothing and says how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path

from memory_schema.errors import ProjectMemoryError
from memory_schema.layout import CONFIG_FILE, PRESETS

ROOT_SOURCES = ("PROJECT_MEMORY_ROOT", "CLAUDE_PROJECT_DIR")


class NotAMemory(ProjectMemoryError):
    """The folder holds none of a memory's documents."""

    def __init__(self, root: Path, source: str) -> None:
        names = ", ".join(sorted({PRESETS[p].working_memory for p in PRESETS} | {CONFIG_FILE}))
        super().__init__(
            f"{root} ({source}) is not a project memory: it holds none of {names}. Point the server at your "
            "notes with --root or PROJECT_MEMORY_ROOT, or make this folder one with `project-memory init "
            f"{root}`."
        )
        self.root = root


def resolve_root(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The memory folder and where the choice came from (for messages and logs)."""
    if explicit:
        return Path(explicit).expanduser(), "--root"
    for name in ROOT_SOURCES:
        value = os.environ.get(name)
        if value:
            return Path(value).expanduser(), f"${name}"
    return Path.cwd(), "the current folder"


def is_memory(root: Path) -> bool:
    """Whether `root` holds a memory's configuration or any preset's role document (top-level checks only)."""
    if (root / CONFIG_FILE).is_file():
        return True
    return any((root / path).is_file() for layout in PRESETS.values() for path in layout.role_paths().values())


def require_memory(root: Path, source: str) -> None:
    if not is_memory(root):
        raise NotAMemory(root, source)
