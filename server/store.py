"""The note files on disk: the only module that opens them.

`NoteStore` reads notes byte-exactly (a BOM, CRLF and a missing final newline survive a round trip),
gives each read a content version, and changes a note only under a cross-process lock, after checking
that the note still has the version the caller saw, through an atomic replace. Paths are confined to the
root by `server.paths`; the index's folder `.project-memory/` is used here only for lock files.
"""

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from memory_schema.errors import (
    DocumentChanged,
    DocumentNotFound,
    InvalidInput,
    ProjectMemoryError,
    UnreadableDocument,
)
from server.paths import INDEX_DIR, confine, is_ignored_name, normalize_relpath

__all__ = ["MAX_DOCUMENT_BYTES", "FileStat", "NoteStore", "Snapshot", "is_ignored_name"]

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
# Under a crowd of writers one note's lock is queued for, not held, for seconds at a time (eight processes
# appending to the working memory: a 0.2 s hold each, waits past 10 s in the tail), and a timeout in the
# second note of a two-note change leaves the first written. So wait long, and look often: each look that
# misses the moment a holder lets go adds to every waiter's queue.
LOCK_TIMEOUT_SECONDS = 30.0
LOCK_POLL_SECONDS = 0.005
_BINARY_PROBE_BYTES = 8192


@dataclass(frozen=True)
class Snapshot:
    path: str
    """Relative posix path, as the caller named it (normalized)."""
    text: str
    version: str


@dataclass(frozen=True)
class FileStat:
    mtime_ns: int
    size: int


class NoteStore:
    """The Markdown files under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    @staticmethod
    def version_of(text: str) -> str:
        """The version a note with this text has: the first 16 hex digits of the sha256 of its bytes."""
        return _version(text.encode("utf-8"))

    def resolve(self, relpath: str) -> Path:
        """The real path `relpath` names inside the root; raises PathOutsideMemory if it names none."""
        return confine(self.root, relpath)[1]

    def read(self, relpath: str) -> Snapshot:
        return _load(*confine(self.root, relpath))

    def exists(self, relpath: str) -> bool:
        return self.resolve(relpath).is_file()

    def stat(self, relpath: str) -> FileStat:
        rel, path = confine(self.root, relpath)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError) as err:
            raise DocumentNotFound(rel) from err
        return FileStat(mtime_ns=info.st_mtime_ns, size=info.st_size)

    def iter_markdown(self) -> Iterator[str]:
        """Every `*.md` note under the root as a relative posix path, sorted.

        Skips dot folders and dot files (so `.project-memory/` and `.git/`), editor temp and backup files,
        and symlinks that lead outside the root. Symlinked folders are not entered: what they hold inside
        the root is listed where it really lives.
        """
        for rel, _ in self.iter_markdown_stats():
            yield rel

    def iter_markdown_stats(self) -> Iterator[tuple[str, FileStat]]:
        """`iter_markdown` with each note's modified time and size, taken during the same walk."""
        found: list[tuple[str, FileStat]] = []
        pending = [self.root]
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:  # removed or unreadable since it was listed
                continue
            for entry in entries:
                if entry.name.startswith(".") or is_ignored_name(entry.name):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.name.endswith(".md"):
                    listed = self._listed_stat(entry)
                    if listed is not None:
                        found.append(listed)
        yield from sorted(found)

    def write(
        self, relpath: str, text: str, *, expected_version: str | None = None, create: bool = False
    ) -> Snapshot:
        """Replace the note's whole text; see `edit` for the version check and `create`."""
        return self.edit(relpath, lambda _current: text, expected_version=expected_version, create=create)

    def edit(
        self,
        relpath: str,
        change: Callable[[str], str],
        *,
        expected_version: str | None = None,
        create: bool = False,
    ) -> Snapshot:
        """Apply `change` to the note's current text and save the result atomically.

        Under the note's lock: re-read the note, raise DocumentChanged if `expected_version` is given and
        differs (a note that has vanished differs too), call `change(current_text)` and write its result
        unless the text is unchanged. `change` may raise to abort; nothing is written then. A missing note
        is DocumentNotFound, unless `create` is set: then it starts as "" and missing folders are made.
        """
        rel, path = confine(self.root, relpath)
        if not (rel.endswith(".md") and path.name.endswith(".md")):
            raise InvalidInput(f"{rel!r} is not a Markdown note; only '.md' files can be written.")
        with self._locked(rel, path):
            try:
                current: Snapshot | None = _load(rel, path)
            except DocumentNotFound:
                if not create:
                    raise
                current = None
            if expected_version is not None and (current is None or current.version != expected_version):
                raise DocumentChanged(rel)
            new_text = change(current.text if current is not None else "")
            if current is not None and new_text == current.text:
                return current
            data = _encode(rel, new_text)
            try:
                if current is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    mode = _new_file_mode()
                else:
                    mode = stat.S_IMODE(path.stat().st_mode)
                _write_atomic(path, data, mode)
            except OSError as err:
                raise ProjectMemoryError(
                    f"{rel} could not be written ({err.strerror or err}); the note on disk is unchanged. "
                    "Check the folder's permissions and free space, then retry."
                ) from err
        return Snapshot(rel, new_text, _version(data))

    def _listed_stat(self, entry: os.DirEntry[str]) -> tuple[str, FileStat] | None:
        """The note's relative path and stat if `read` would accept it, else None.

        The walk never enters a symlinked folder, so a regular file it meets lies inside the root and only
        its name needs checking; a symlink is resolved and confined like any path a caller gives.
        """
        rel = Path(entry.path).relative_to(self.root).as_posix()
        try:
            if entry.is_symlink():
                _rel, real = confine(self.root, rel)
                if not (real.name.endswith(".md") and real.is_file()):
                    return None
                stat = real.stat()
            else:
                normalize_relpath(rel)
                stat = entry.stat(follow_symlinks=False)
                if not entry.is_file(follow_symlinks=False):
                    return None
        except (InvalidInput, OSError):
            return None
        return rel, FileStat(mtime_ns=stat.st_mtime_ns, size=stat.st_size)

    @contextlib.contextmanager
    def _locked(self, rel: str, path: Path) -> Iterator[None]:
        """Hold the note's cross-process lock, keyed by its real path so two names of one file share it."""
        index_dir = self.root / INDEX_DIR
        ignore = index_dir / ".gitignore"
        try:
            (index_dir / "locks").mkdir(parents=True, exist_ok=True)
            # The index folder is a cache of this machine; keep it out of the person's git.
            with contextlib.suppress(FileExistsError), open(ignore, "x", encoding="utf-8") as f:
                f.write("*\n")
        except OSError as err:
            raise ProjectMemoryError(f"{rel} cannot be locked: {index_dir} is not writable ({err}).") from err
        key = hashlib.sha1(path.relative_to(self.root).as_posix().encode(), usedforsecurity=False).hexdigest()
        lock = FileLock(index_dir / "locks" / f"{key}.lock", timeout=LOCK_TIMEOUT_SECONDS)
        try:
            lock.acquire(poll_interval=LOCK_POLL_SECONDS)
        except Timeout as err:
            raise ProjectMemoryError(
                f"another process holds {rel} and has for {LOCK_TIMEOUT_SECONDS:g} s; retry in a moment."
            ) from err
        try:
            yield
        finally:
            lock.release()


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _load(rel: str, path: Path) -> Snapshot:
    data = _read_bytes(rel, path)
    return Snapshot(rel, _decode(rel, data), _version(data))


def _read_bytes(rel: str, path: Path) -> bytes:
    try:
        # O_NONBLOCK so that a FIFO named like a note is refused below instead of hanging the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UnreadableDocument(rel, "it is not a regular file")
            data = f.read(MAX_DOCUMENT_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise DocumentNotFound(rel) from err
    except OSError as err:
        raise UnreadableDocument(rel, err.strerror or str(err)) from err
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UnreadableDocument(rel, f"larger than {MAX_DOCUMENT_BYTES >> 20} MiB")
    return data


def _decode(rel: str, data: bytes) -> str:
    if b"\x00" in data[:_BINARY_PROBE_BYTES]:
        raise UnreadableDocument(rel, "it looks binary: it contains a NUL byte")
    try:
        # Plain "utf-8" keeps a BOM as U+FEFF and newlines as written, so encoding gives the same bytes.
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnreadableDocument(rel, f"it is not valid UTF-8 at byte {err.start}") from err


def _encode(rel: str, text: str) -> bytes:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidInput(f"the new text of {rel} has characters UTF-8 cannot hold ({err.reason}).") from err
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"the new text of {rel} is over {MAX_DOCUMENT_BYTES >> 20} MiB; split the note.")
    return data


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` so readers see the old file or the new one, never half of either."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".pm-tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; the write has happened either way, so failures are ignored."""
    if os.name != "posix":  # Windows cannot open a folder as a file
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _new_file_mode() -> int:
    """The bits `open()` would give a new file, rather than mkstemp's private 0o600."""
    # Linux reports the umask here; reading it, unlike os.umask, does not change it for other threads.
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
