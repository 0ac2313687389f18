"""The user's cache: the one place besides the notes where the server keeps files, and the only trusted one.

Threat model: everything under a memory root can come from elsewhere (a synced folder, a cloned repository,
an unpacked archive), so nothing the server reads back as code or state lives there. The search index (Whoosh
unpickles parts of it), the lock files and the undo journal live here instead, one folder per root:

    $PROJECT_MEMORY_CACHE_DIR, else $XDG_CACHE_HOME/project-memory, else ~/.cache/project-memory
        roots/<first 20 hex digits of sha256(resolved root)>/
            root.txt   the root it belongs to, for people
            index/     the search index
            columns/   each index segment's columns as numpy arrays, to open a large index fast
            locks/     one lock file per note, and the index's writer lock
            journal/   the previous bytes of every tool write (see `server.journal`)

Every folder on that path that the server creates is created 0700, and before each use the per-root folder
and its parents up to the cache folder are checked to be real directories (not symlinks) owned by this user.
A cache folder inside the memory root is refused: it would put the index back where anyone can plant it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from memory_schema.errors import CacheUnavailable

ROOTS = "roots"
_PRIVATE = 0o700


def cache_home() -> Path:
    """The cache folder the environment names (not created)."""
    explicit = os.environ.get("PROJECT_MEMORY_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().absolute() / "project-memory"


def root_key(root: Path) -> str:
    return hashlib.sha256(os.fsencode(str(root))).hexdigest()[:20]


@dataclass(frozen=True)
class RootCache:
    """The cache folder of one memory root. `ensure()` before each use; it raises CacheUnavailable."""

    root: Path
    home: Path

    @classmethod
    def for_root(cls, root: Path) -> RootCache:
        return cls(root=root, home=cache_home())

    @property
    def folder(self) -> Path:
        return self.home / ROOTS / root_key(self.root)

    @property
    def index_dir(self) -> Path:
        return self.folder / "index"

    @property
    def columns_dir(self) -> Path:
        return self.folder / "columns"

    @property
    def locks_dir(self) -> Path:
        return self.folder / "locks"

    @property
    def journal_dir(self) -> Path:
        return self.folder / "journal"

    def ensure(self, *subfolders: str) -> Path:
        """Create (0700) and check the root's folder and `subfolders` of it; return the root's folder."""
        home = self.home
        if home == self.root or home.is_relative_to(self.root):
            raise CacheUnavailable(
                f"the cache folder {home} is inside the memory root {self.root}, where synced or unpacked files "
                "could replace the index"
            )
        try:
            _make_private(home, parents=True)
            _make_private(home / ROOTS)
            folder = self.folder
            created = _make_private(folder)
            for name in subfolders:
                _make_private(folder / name)
            if created:
                (folder / "root.txt").write_text(f"{self.root}\n", encoding="utf-8")
        except OSError as err:
            raise CacheUnavailable(f"{err.filename or home}: {err.strerror or err}") from err
        return folder

    def check(self, path: Path) -> None:
        """Raise CacheUnavailable unless `path` and each folder above it, up to the cache home, is ours."""
        try:
            for part in [path, *path.parents]:
                _check_private(part)
                if part == self.home:
                    return
        except OSError as err:
            raise CacheUnavailable(f"{err.filename or path}: {err.strerror or err}") from err
        raise CacheUnavailable(f"{path} is not inside the cache folder {self.home}")


def _make_private(folder: Path, *, parents: bool = False) -> bool:
    """Create `folder` 0700 unless it exists; check it either way. True if it was created."""
    try:
        os.mkdir(folder, _PRIVATE)
    except FileExistsError:
        _check_private(folder)
        return False
    except FileNotFoundError:
        if not parents:
            raise
        folder.parent.mkdir(parents=True, exist_ok=True)
        return _make_private(folder)
    _check_private(folder)
    return True


def _check_private(folder: Path) -> None:
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode):
        raise CacheUnavailable(f"{folder} is a symbolic link; the cache must be a real folder")
    if not stat.S_ISDIR(info.st_mode):
        raise CacheUnavailable(f"{folder} is not a folder")
    # POSIX only: Windows reports no owner here, and its per-user profile folder is private already.
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        raise CacheUnavailable(f"{folder} belongs to another user (uid {info.st_uid})")
