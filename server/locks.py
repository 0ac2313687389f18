"""Named locks shared by every thread and process of this user: one lock file per name in a private folder.

POSIX: the lock file is opened through the folder's handle with O_NOFOLLOW and locked with `flock`, which
excludes other open descriptions of the file, so threads of one process exclude each other as processes do.
Elsewhere (Windows) the `filelock` package locks the same file with `msvcrt`; the folder was checked to be a
real, private folder just before (`server.cache`), which is the guarantee O_NOFOLLOW gives on POSIX.
Threads of this process first queue on an in-process lock per file, so they do not poll each other.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from memory_schema.errors import ProjectMemoryError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

POLL_SECONDS = 0.005

_local_locks: dict[str, threading.Lock] = {}
_registry = threading.Lock()


class LockTimeout(Exception):
    """The lock stayed held by someone else for longer than the caller waits."""


class LockUnusable(ProjectMemoryError):
    """The lock file cannot be opened (a folder or a symlink where it should be, no permission)."""

    def __init__(self, path: Path, err: OSError) -> None:
        super().__init__(f"its lock file {path} cannot be used ({err.strerror or err}); remove {path}: lock files "
                         "belong to project-memory's cache and are made again when needed")
        self.path = path


def _local(path: Path) -> threading.Lock:
    key = os.fspath(path)
    with _registry:
        lock = _local_locks.get(key)
        if lock is None:
            lock = _local_locks[key] = threading.Lock()
        return lock


@contextlib.contextmanager
def hold(folder: Path, name: str, timeout: float) -> Iterator[None]:
    """Hold the lock `name` (a file in `folder`) for the block; raise LockTimeout after `timeout` seconds."""
    path = folder / name
    deadline = time.monotonic() + timeout
    local = _local(path)
    if not local.acquire(timeout=max(timeout, 0.0)):
        raise LockTimeout(str(path))
    try:
        with _file_lock(folder, name, deadline):
            yield
    finally:
        local.release()


@contextlib.contextmanager
def _file_lock(folder: Path, name: str, deadline: float) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover - Windows
        from filelock import FileLock, Timeout

        lock = FileLock(str(folder / name))
        try:
            lock.acquire(timeout=max(0.0, deadline - time.monotonic()), poll_interval=POLL_SECONDS)
        except Timeout as err:
            raise LockTimeout(str(folder / name)) from err
        except OSError as err:
            raise LockUnusable(folder / name, err) from err
        try:
            yield
        finally:
            lock.release()
        return
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as err:
        raise LockUnusable(folder / name, err) from err
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(str(folder / name)) from None
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
