"""`init`: lay out an empty memory root from a preset's templates, never touching an existing file."""

from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from memory_schema.errors import InvalidInput
from memory_schema.layout import PRESETS
from server.journal import write_group
from server.store import NoteStore

DEFAULT_LECTURES = 12


def init_memory(
    root: Path, preset: str, today: date, *, title: str | None = None, lectures: int = DEFAULT_LECTURES
) -> tuple[list[str], list[str]]:
    """Create the preset's documents that `root` lacks; returns (created, left as they were). A file that
    exists is never touched; when every document exists already, that is InvalidInput.

    The generic presets' templates take the course or project `title` (default: the folder's name) and its
    number of `lectures`; a course preset (cs336-zh) has both written in."""
    if preset not in PRESETS:
        raise InvalidInput(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
    if not 1 <= lectures <= 200:
        raise InvalidInput(f"--lectures must be from 1 to 200, not {lectures}.")
    values = {
        "{today}": today.isoformat(),
        "{title}": " ".join((title or root.name or "My course").split()),
        "{total}": str(lectures),
        "{lecture_list}": "\n".join(f"- Lecture {n:02d}" for n in range(1, lectures + 1)),
        "{lecture_rows}": "\n".join(f"| Lecture {n:02d} |  | Part 1 | ⬜ not started |  |"
                                    for n in range(1, lectures + 1)),
    }
    templates = resources.files("server") / "templates" / preset
    files = dict(_walk(templates, ""))
    root.mkdir(parents=True, exist_ok=True)
    store = NoteStore(root)
    existing = sorted(path for path in files if store.exists(path))
    if len(existing) == len(files):
        raise InvalidInput(f"{root} already holds every {preset} document; init never overwrites a file.")
    created = []
    with write_group("init"):
        for path, text in sorted(files.items()):
            if path in existing:
                continue
            content = text
            for placeholder, value in values.items():
                content = content.replace(placeholder, value)
            store.edit(path, lambda _current, content=content: content, new_only=True)  # type: ignore[misc]
            created.append(path)
    return created, existing


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, str]]:
    found = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found += _walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".md"):
            found.append((prefix + entry.name, entry.read_text(encoding="utf-8")))
    return found
