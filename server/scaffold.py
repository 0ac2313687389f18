"""`init`: lay out an empty memory root from a preset's templates, never touching an existing file."""

from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from memory_schema.errors import InvalidInput
from memory_schema.layout import PRESETS
from server.store import NoteStore


def init_memory(root: Path, preset: str, today: date) -> list[str]:
    """Create the preset's documents under `root`; returns the paths created."""
    if preset not in PRESETS:
        raise InvalidInput(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
    templates = resources.files("server") / "templates" / preset
    files = dict(_walk(templates, ""))
    root.mkdir(parents=True, exist_ok=True)
    store = NoteStore(root)
    existing = [path for path in files if store.exists(path)]
    if existing:
        raise InvalidInput(
            f"{root} already holds {', '.join(existing[:3])}; init never overwrites. Choose an empty folder."
        )
    for path, text in files.items():
        store.write(path, text.replace("{today}", today.isoformat()), create=True)
    return sorted(files)


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, str]]:
    found = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found += _walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".md"):
            found.append((prefix + entry.name, entry.read_text(encoding="utf-8")))
    return found
