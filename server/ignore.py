"""Which folders the walk never enters and which notes it never lists: the one module that uses `pathspec`.

Never entered, whatever the settings: hidden folders (`.git/`, `.venv/`; see `server.paths`), folders of
installed code by name (`node_modules/`, `site-packages/`, `__pycache__/`) and, during a walk, any folder that
is a Python virtual environment (it holds `pyvenv.cfg`) or a conda environment (`conda-meta/`). On top of
those, the person's `ignore` patterns from `project-memory.toml`, in .gitignore syntax.

Files of an installed package live under `site-packages/` or `node_modules/`, so the name rules alone keep
the watcher and the index to the same notes the walk lists; the environment markers only spare the walk a
virtual environment's other folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import pathspec

from memory_schema.errors import ProjectMemoryError
from memory_schema.layout import CONFIG_FILE, WalkSettings
from server.paths import is_note_path

SKIPPED_FOLDER_NAMES = frozenset({"node_modules", "site-packages", "__pycache__", "bower_components"})
ENVIRONMENT_MARKERS = ("pyvenv.cfg", "conda-meta")


class TooManyNotes(ProjectMemoryError):
    """The root holds more notes than the configured limit: most likely not the notes folder."""

    def __init__(self, root: Path, limit: int) -> None:
        super().__init__(
            f"{root} holds more than {limit:,} notes, the limit for one memory: is it really your notes folder? "
            f"Point --root or PROJECT_MEMORY_ROOT at the notes, list folders to skip under `ignore` in "
            f"{CONFIG_FILE}, or raise `max_notes` there."
        )


class NoteRules:
    """The walk's rules for one root."""

    def __init__(self, settings: WalkSettings | None = None) -> None:
        self.settings = settings if settings is not None else WalkSettings()
        self._spec = pathspec.GitIgnoreSpec.from_lines(self.settings.ignore)

    @property
    def max_notes(self) -> int:
        return self.settings.max_notes

    def is_note(self, relpath: str, *, folder: bool = False) -> bool:
        """Whether a relative posix path names a note (with `folder`, a folder that may hold notes)."""
        if not is_note_path(relpath, folder=folder):
            return False
        parts = relpath.strip("/").split("/")
        if any(part in SKIPPED_FOLDER_NAMES for part in (parts if folder else parts[:-1])):
            return False
        return not self._spec.match_file(relpath.strip("/") + ("/" if folder else ""))

    def enters(self, folder: Path, relpath: str) -> bool:
        """Whether the walk goes into this folder (`relpath` from the root): `is_note(folder=True)`, and not an
        installed environment."""
        if not self.is_note(relpath, folder=True):
            return False
        return not any(os.path.lexists(folder / marker) for marker in ENVIRONMENT_MARKERS)
