"""The search index versions before 0.2 kept inside the notes folder (`<root>/.project-memory/`).

Nothing reads it any more: `doctor` mentions it and `project-memory clean-legacy` removes it. Removal touches
only what that layout wrote — `.gitignore`, `index.lock`, Whoosh's files in `index/`, lock files in `locks/` —
walking through folder handles that refuse symlinks (POSIX: O_NOFOLLOW); a `.project-memory` that is a
symlink loses only the link, never what it points to. Anything else found there is reported and kept.
(Where the system has no folder handles, each entry is checked with lstat just before it is removed.)
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path

from server.paths import LEGACY_INDEX_DIR

_TOP_FILES = re.compile(r"^(?:\.gitignore|index\.lock)$")
_INDEX_FILE = re.compile(r"^_?MAIN_[A-Za-z0-9_]+(?:\.[a-z]+)?$|^MAIN_WRITELOCK$|^[a-z0-9]+\.(?:seg|trm|pst|col|toc)$")
_LOCK_FILE = re.compile(r"^[0-9a-f]+\.lock$")
_SUBFOLDERS = {"index": _INDEX_FILE, "locks": _LOCK_FILE}


def legacy_files(root: Path) -> tuple[list[str], list[str]]:
    """(the legacy index's own files, anything else found there), as paths relative to the root."""
    folder = root / LEGACY_INDEX_DIR
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return [], []
    if stat.S_ISLNK(info.st_mode):
        return [LEGACY_INDEX_DIR], []
    ours: list[str] = []
    others: list[str] = []
    for entry in _entries(folder):
        rel = f"{LEGACY_INDEX_DIR}/{entry.name}"
        if entry.is_dir(follow_symlinks=False) and entry.name in _SUBFOLDERS:
            for inner in _entries(folder / entry.name):
                name = f"{rel}/{inner.name}"
                plain = inner.is_file(follow_symlinks=False) and _SUBFOLDERS[entry.name].match(inner.name)
                (ours if plain else others).append(name)
        elif entry.is_file(follow_symlinks=False) and _TOP_FILES.match(entry.name):
            ours.append(rel)
        else:
            others.append(rel)
    return sorted(ours), sorted(others)


def clean_legacy_index(root: Path) -> int:
    """Remove the legacy index's own files (and its folders once empty); returns how many were removed."""
    ours, _others = legacy_files(root)
    removed = 0
    if ours == [LEGACY_INDEX_DIR]:  # a symlink: drop the link itself
        os.unlink(root / LEGACY_INDEX_DIR)
        return 1
    for rel in ours:
        parts = rel.split("/")
        if _unlink_regular(root, parts):
            removed += 1
    for sub in (*_SUBFOLDERS, ""):
        with contextlib.suppress(OSError):  # not empty, or gone: either way nothing more to do
            _rmdir_plain(root, [LEGACY_INDEX_DIR, sub] if sub else [LEGACY_INDEX_DIR])
    return removed


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as found:
            return list(found)
    except OSError:
        return []


def _unlink_regular(root: Path, parts: list[str]) -> bool:
    if os.name == "posix":
        fd = _open_folder(root, parts[:-1])
        try:
            info = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                return False
            os.unlink(parts[-1], dir_fd=fd)
            return True
        finally:
            os.close(fd)
    path = root.joinpath(*parts)  # pragma: no cover - Windows: checked by lstat right before
    if stat.S_ISREG(os.lstat(path).st_mode) and not any(os.path.islink(p) for p in path.parents if root in p.parents):
        os.unlink(path)
        return True
    return False


def _rmdir_plain(root: Path, parts: list[str]) -> None:
    if os.name == "posix":
        fd = _open_folder(root, parts[:-1])
        try:
            os.rmdir(parts[-1], dir_fd=fd)
        finally:
            os.close(fd)
    else:  # pragma: no cover - Windows
        path = root.joinpath(*parts)
        if not os.path.islink(path):
            os.rmdir(path)


def _open_folder(root: Path, parts: list[str]) -> int:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    for part in parts:
        try:
            child = os.open(part, flags, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd
