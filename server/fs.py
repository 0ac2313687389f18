"""File operations inside one folder of the memory root, through a handle on that folder.

`Folder.open(root, parts)` walks from the root to the folder one component at a time, refusing symlinks
(POSIX: `os.open(..., dir_fd=..., O_NOFOLLOW | O_DIRECTORY)`), and every later operation names files relative
to that handle, so swapping a folder for a symlink while a write is under way cannot redirect it. Temp files
are created in the same folder with O_EXCL | O_NOFOLLOW.

`exchange(a, b)` swaps two names atomically where the system can (Linux `renameat2(RENAME_EXCHANGE)`, macOS
`renameatx_np(RENAME_SWAP)`): the caller then holds, under the temp name, exactly what was at the note's name
at the instant of the swap, and can check it is what it read. `link_new` creates a name only if it is free.

Portable fallback (Windows, or a system without `dir_fd`): the folder is found by path with each component
checked by `lstat` not to be a link, and the same checks are repeated right before a replace; `exchange`
reports it cannot swap and the caller replaces after its own check, which leaves a window of microseconds
instead of none. Windows cannot replace a file another program holds open, so an editor mid-save there makes
the replace fail rather than lose bytes. This module is used by `server.store` only.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DIR_FD = os.name == "posix" and os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
TEMP_PREFIX = ".pm-"
TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"\.pm-[0-9a-f]{1,8}-[0-9a-f]{8}\.tmp")  # as `write_temp` names them
STALE_TEMP_SECONDS = 600  # a write keeps its temp file for a moment: one this old was left by a killed process


class NotAFolder(OSError):
    """A path component is a symlink or not a folder (it may have been swapped while we walked)."""


class NotRegularFile(OSError):
    """The name is a FIFO, a device, a folder: nothing the server reads or writes as a note."""


@dataclass
class Opened:
    """A file as read: a read-only descriptor on its inode (kept open by the caller), its stat, its bytes."""

    fd: int
    info: os.stat_result
    data: bytes

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def same_stat(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (b.st_dev, b.st_ino, b.st_size, b.st_mtime_ns)


def read_all(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes from the start of the file behind `fd`, without moving any shared offset."""
    chunks: list[bytes] = []
    offset = 0
    while offset < limit:
        chunk = os.pread(fd, min(1 << 20, limit - offset), offset) if hasattr(os, "pread") else _read_at(fd, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _read_at(fd: int, offset: int) -> bytes:  # pragma: no cover - Windows has no pread
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, 1 << 20)


class Folder:
    """A folder of the memory root, held open (POSIX) or checked by path (fallback)."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    @contextlib.contextmanager
    def open(cls, root: Path, parts: Sequence[str], *, create: bool = False) -> Iterator[Folder]:
        folder = cls._walk(root, parts, create) if DIR_FD else cls._by_path(root, parts, create)
        try:
            yield folder
        finally:
            folder.close()

    @classmethod
    def _walk(cls, root: Path, parts: Sequence[str], create: bool) -> Folder:
        fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        try:
            for part in parts:
                try:
                    child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fd)
                    child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
                except OSError as err:
                    if err.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise NotAFolder(err.errno, f"{part} is a symlink or not a folder", part) from err
                    raise
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return cls(root.joinpath(*parts), fd)

    @classmethod
    def _by_path(cls, root: Path, parts: Sequence[str], create: bool) -> Folder:
        path = root
        for part in parts:
            path = path / part
            if create and not os.path.lexists(path):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(path)
            _check_folder(path)
        return cls(path, None)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # --- reading --------------------------------------------------------------------------------------

    def read(self, name: str, limit: int) -> Opened | None:
        """The file `name` opened and read (at most `limit` bytes), or None if there is none."""
        try:
            fd = self._open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise NotRegularFile(err.errno, f"{name} became a symbolic link", name) from err
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotRegularFile(errno.EINVAL, f"{name} is not a regular file", name)
            return Opened(fd, info, read_all(fd, limit))
        except BaseException:
            os.close(fd)
            raise

    def stat(self, name: str) -> os.stat_result | None:
        """The name's own stat (a symlink is not followed), or None if there is none."""
        try:
            if self._fd is not None:
                return os.stat(name, dir_fd=self._fd, follow_symlinks=False)
            return os.lstat(self.path / name)
        except FileNotFoundError:
            return None

    # --- writing --------------------------------------------------------------------------------------

    def write_temp(self, name: str, data: bytes, mode: int) -> str:
        """A new hidden temp file beside `name` holding `data`, flushed to disk; returns its name."""
        stem = name.encode("utf-8", "surrogateescape").hex()[:8]
        for _ in range(100):
            temp = f"{TEMP_PREFIX}{stem}-{secrets.token_hex(4)}{TEMP_SUFFIX}"
            try:
                fd = self._open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY, 0o600)
            except FileExistsError:
                continue
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, mode)
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                self.unlink(temp)
                raise
            os.close(fd)
            if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
                os.chmod(self.path / temp, mode)
            return temp
        raise FileExistsError(errno.EEXIST, "no free temp file name", name)

    def exchange(self, first: str, second: str) -> bool:
        """Swap the two names atomically; False (nothing done) when this system or file system cannot."""
        if self._fd is None or _EXCHANGE.unsupported:
            return False
        return _EXCHANGE(self._fd, first, second)

    def replace(self, source: str, target: str) -> None:
        if self._fd is not None:
            os.replace(source, target, src_dir_fd=self._fd, dst_dir_fd=self._fd)
            return
        _check_folder(self.path)
        os.replace(self.path / source, self.path / target)

    def link_new(self, source: str, target: str) -> bool:
        """Give the file `source` the name `target` too, only if `target` is free; False if it is taken."""
        try:
            if self._fd is not None:
                os.link(source, target, src_dir_fd=self._fd, dst_dir_fd=self._fd, follow_symlinks=False)
            elif os.name == "nt":  # pragma: no cover - Windows: rename never replaces there
                _check_folder(self.path)
                os.rename(self.path / source, self.path / target)
                return True
            else:
                _check_folder(self.path)
                os.link(self.path / source, self.path / target, follow_symlinks=False)
        except FileExistsError:
            return False
        self.unlink(source)
        return True

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self._fd is not None:
                os.unlink(name, dir_fd=self._fd)
            else:
                os.unlink(self.path / name)

    def remove_stale_temps(self, now: float) -> None:
        """Remove the temp files a killed process left here (`write_temp`'s names, regular files older than
        STALE_TEMP_SECONDS): a sync client would carry them everywhere. Nothing else is touched; a failure is
        ignored (a temp left is a copy of a note, never the note)."""
        with contextlib.suppress(OSError):
            names = os.listdir(self._fd) if self._fd is not None else os.listdir(self.path)
            for name in names:
                if not _TEMP_NAME.fullmatch(name):
                    continue
                info = self.stat(name)
                # ctime too: a temp swapped with a note a moment ago holds the old note, with its old mtime
                if info is not None and stat.S_ISREG(info.st_mode) \
                        and now - max(info.st_mtime, info.st_ctime) > STALE_TEMP_SECONDS:
                    self.unlink(name)

    def sync(self) -> None:
        """Make renames in this folder durable; a failure is ignored (the rename happened either way)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)

    def _open(self, name: str, flags: int, mode: int = 0o777) -> int:
        if self._fd is not None:
            return os.open(name, flags, mode, dir_fd=self._fd)
        _check_folder(self.path)
        return os.open(self.path / name, flags, mode)


def _check_folder(path: Path) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or _is_junction(info):
        raise NotAFolder(errno.ENOTDIR, f"{path.name} is a symlink or not a folder", str(path))


def _is_junction(info: os.stat_result) -> bool:
    tag = getattr(info, "st_reparse_tag", 0)  # Windows: a junction is a reparse point, not a symlink
    return bool(tag)


class _Exchange:
    """renameat2(RENAME_EXCHANGE) on Linux, renameatx_np(RENAME_SWAP) on macOS, through ctypes."""

    def __init__(self) -> None:
        self.unsupported = True
        self._call = None
        if not DIR_FD:
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
        except OSError:  # pragma: no cover
            return
        if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
            self._call, self._flag = libc.renameat2, 2  # RENAME_EXCHANGE
        elif sys.platform == "darwin" and hasattr(libc, "renameatx_np"):  # pragma: no cover - macOS
            self._call, self._flag = libc.renameatx_np, 2  # RENAME_SWAP
        else:  # pragma: no cover
            return
        self._call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        self._call.restype = ctypes.c_int
        self.unsupported = False

    def __call__(self, fd: int, first: str, second: str) -> bool:
        assert self._call is not None
        if self._call(fd, os.fsencode(first), fd, os.fsencode(second), self._flag) == 0:
            return True
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            return False  # this file system cannot swap; the caller replaces instead
        raise OSError(code, os.strerror(code), second)


_EXCHANGE = _Exchange()
