"""The note files on disk: the only module that reads or writes them.

`NoteStore` reads notes byte-exactly (a BOM, CRLF and a missing final newline survive a round trip) and gives
each read a content version. A write never replaces bytes it has not seen, whoever else is writing the file:

1. It takes the note's lock (`server.locks`, in the user's cache): other servers and threads wait.
2. It walks to the note's folder through folder handles (`server.fs`), so a folder swapped for a symlink
   cannot redirect it, and waits while the file was changed by someone else within the last QUIET_SECONDS
   (an editor's save in progress).
3. It reads the file (keeping a descriptor on it), lets the caller's `guard` refuse a half-saved role
   document, checks `expected_version`, refuses a read-only file, and computes the new text with `change`.
4. It writes the new bytes to a temp file beside the note, checks that the note on disk is still the file it
   read (same inode, size, mtime and bytes), saves the old and new bytes in the undo journal, and swaps the
   temp file in atomically (`fs.Folder.exchange`). What it swapped out must be the file it read; if an editor
   replaced the note in between, the swap is undone. A new note is only ever created where no file is.
5. Anything that changed meanwhile sends it back to step 2 (at most ATTEMPTS times: then DocumentBusy).
6. For AFTER_WRITE_SECONDS after a write, `server.afterwrite` watches the old file and the new one: bytes an
   editor wrote into the old file through a descriptor it opened before the swap, or an editor's save over
   the new file, are merged back by re-applying `change` (see that module).

Paths are confined to the root by `server.paths`; the cache folder is `server.cache`'s.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import random
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from memory_schema.errors import (
    DocumentBusy,
    DocumentChanged,
    DocumentInFlux,
    DocumentNotFound,
    InvalidInput,
    PathOutsideMemory,
    ProjectMemoryError,
    ReadOnlyDocument,
    StorageError,
    UnreadableDocument,
)
from server import locks
from server.afterwrite import AfterWrites, Written
from server.cache import RootCache
from server.fs import Folder, NotAFolder, NotRegularFile, Opened, read_all, same_stat
from server.ignore import NoteRules, TooManyNotes
from server.journal import Journal
from server.paths import confine, is_note_name, normalize_relpath

__all__ = ["MAX_DOCUMENT_BYTES", "FileStat", "Guard", "NoteStore", "Snapshot"]

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
# Under a crowd of writers one note's lock is queued for, not held, for seconds at a time; a timeout in the
# second note of a two-note change leaves the first written. So wait long.
LOCK_TIMEOUT_SECONDS = 30.0
QUIET_SECONDS = 0.1  # a file someone else changed more recently than this is still being saved
SETTLE_MAX_SECONDS = 2.0  # ... but a file that never goes quiet is written anyway, under the checks
ATTEMPTS = 8  # reads of a file that kept changing under the write before giving up
SWEEP_EVERY_SECONDS = 600.0  # how often a folder written to is swept of a killed writer's temp files
FLUX_WAIT_SECONDS = 1.5  # how long a half-saved role document is waited for
_BINARY_PROBE_BYTES = 8192
_VERSION = re.compile(r"^[0-9a-f]{16}$")

Guard = Callable[[str | None], str | None]
"""Given a document's text (None: missing), why it looks half-saved, or None when it can be edited."""


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


class _Retry(Exception):
    """The file changed while the write was being prepared: start over."""


class _Flux(Exception):
    def __init__(self, reason: str, missing: bool, unreadable: UnreadableDocument | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing
        self.unreadable = unreadable  # what the note is, if it still reads so when the wait is over


class NoteStore:
    """The Markdown files under one root folder."""

    def __init__(self, root: Path, cache: RootCache | None = None, rules: NoteRules | None = None) -> None:
        self.root = Path(root).resolve()
        self.rules = rules if rules is not None else NoteRules()
        self.cache = cache if cache is not None else RootCache.for_root(self.root)
        self.journal = Journal(self.cache)
        self._written: dict[str, tuple[int, int, int, int]] = {}  # real relpath -> stat key of our last write
        self._written_lock = threading.Lock()
        self._swept: dict[tuple[str, ...], float] = {}  # folder -> when its stale temp files were last removed
        self.after_writes = AfterWrites(self)

    @staticmethod
    def version_of(text: str) -> str:
        """The version a note with this text has: the first 16 hex digits of the sha256 of its bytes."""
        return _version(text.encode("utf-8"))

    def close(self) -> None:
        """Finish the after-write checks now (a process about to exit cannot wait for them)."""
        self.after_writes.close()

    # --- reading --------------------------------------------------------------------------------------

    def resolve(self, relpath: str) -> Path:
        """The real path `relpath` names inside the root; raises PathOutsideMemory if it names none."""
        return confine(self.root, relpath)[1]

    def read(self, relpath: str) -> Snapshot:
        """The note's text and version. Read through handles on its real folders (no component may be a
        symlink by then), so a folder swapped for a symlink after the path was checked cannot lead outside."""
        rel, real = confine(self.root, relpath)
        inner = real.relative_to(self.root).parts
        if not inner:
            raise UnreadableDocument(rel, "it is the memory's folder, not a note")
        try:
            with Folder.open(self.root, inner[:-1]) as folder:
                opened = folder.read(inner[-1], MAX_DOCUMENT_BYTES + 1)
        except (FileNotFoundError, NotADirectoryError) as err:
            raise DocumentNotFound(rel) from err
        except NotAFolder as err:
            raise PathOutsideMemory(rel, f"the folder {err.filename} is a symlink or not a folder") from err
        except NotRegularFile as err:
            raise UnreadableDocument(rel, "it is not a regular file") from err
        except OSError as err:
            raise UnreadableDocument(rel, err.strerror or str(err)) from err
        if opened is None:
            raise DocumentNotFound(rel)
        try:
            data = _limited(rel, opened.data)
        finally:
            opened.close()
        return Snapshot(rel, _decode(rel, data), _version(data))

    def exists(self, relpath: str) -> bool:
        return self.resolve(relpath).is_file()

    def stat(self, relpath: str) -> FileStat:
        rel, path = confine(self.root, relpath)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError) as err:
            raise DocumentNotFound(rel) from err
        return FileStat(mtime_ns=info.st_mtime_ns, size=info.st_size)

    def iter_markdown(self, under: str = "", named: Callable[[str], bool] | None = None) -> Iterator[str]:
        """Every `*.md` note under the root (or its folder `under`; with `named`, only those whose file name it
        accepts, the others never checked further) as a relative posix path, sorted.

        Skips dot folders and dot files (`.git/`), editor temp and backup files, symlinks that lead outside
        the root, and what `self.rules` excludes (installed code, the person's `ignore` patterns); raises
        TooManyNotes past the rules' limit. Symlinked folders are not entered: what they hold inside the root
        is listed where it really lives.
        """
        for rel, _ in self.iter_markdown_stats(under, named):
            yield rel

    def iter_markdown_stats(
        self, under: str = "", named: Callable[[str], bool] | None = None
    ) -> Iterator[tuple[str, FileStat]]:
        """`iter_markdown` with each note's modified time and size, taken during the same walk."""
        found: list[tuple[str, FileStat]] = []
        rules = self.rules
        for entry, rel in self._walk(under):
            if is_note_name(entry.name) and (named is None or named(entry.name)) and rules.is_note(rel):
                listed = self._listed_stat(entry, rel)
                if listed is not None:
                    found.append(listed)
                    if len(found) > rules.max_notes:
                        raise TooManyNotes(self.root, rules.max_notes)
        yield from sorted(found)

    def unfollowed_links(self) -> list[tuple[str, str]]:
        """The symlinks the walk meets and does not read through, each with where it leads (its target as the
        link writes it): a link to a folder (never entered) and a link to a note outside the root (never read).
        Sorted by path. For `doctor`, which names them: otherwise their notes are simply not there."""
        links: list[tuple[str, str]] = []
        for entry, rel in self._walk(""):
            if not entry.is_symlink():
                continue
            try:
                target = os.readlink(entry.path)
            except OSError:
                continue
            if Path(entry.path).is_dir():
                unread = self.rules.is_note(rel, folder=True)
            else:
                unread = is_note_name(entry.name) and self.rules.is_note(rel) and self._listed_stat(entry, rel) is None
            if unread:
                links.append((rel, target))
        return sorted(links)

    def _walk(self, under: str) -> Iterator[tuple[os.DirEntry[str], str]]:
        """Every entry of the folders the walk of `under` enters (the rules' folders, never a symlinked one),
        with its relative path; folders are entered after they are yielded."""
        rules = self.rules
        start = self._walk_start(under)
        pending = [start] if start is not None else []
        while pending:
            folder, prefix = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:  # removed or unreadable since it was listed
                continue
            for entry in entries:
                rel = prefix + entry.name
                yield entry, rel
                if entry.is_dir(follow_symlinks=False) and rules.enters(Path(entry.path), rel):
                    pending.append((Path(entry.path), rel + "/"))

    def _walk_start(self, under: str) -> tuple[Path, str] | None:
        """Where a walk of the folder `under` starts, or None when the walk of the whole root would not enter
        it (a symlink, ignored) or it is not a folder: a part of the walk lists what the whole walk lists there."""
        folder, prefix = self.root, ""
        for part in (p for p in under.split("/") if p and p != "."):
            folder, prefix = folder / part, prefix + part
            if folder.is_symlink() or not folder.is_dir() or not self.rules.enters(folder, prefix):
                return None
            prefix += "/"
        return folder, prefix

    def _listed_stat(self, entry: os.DirEntry[str], rel: str) -> tuple[str, FileStat] | None:
        """The note's relative path (`rel`, as the walk built it) and stat if `read` would accept it, else None.

        The walk never enters a symlinked folder, so a regular file it meets lies inside the root and only
        its name needs checking; a symlink is resolved and confined like any path a caller gives.
        """
        try:
            if entry.is_symlink():
                _rel, real = confine(self.root, rel)
                if not (real.name.endswith(".md") and real.is_file()):
                    return None
                info = real.stat()
            else:
                normalize_relpath(rel)
                info = entry.stat(follow_symlinks=False)
                if not entry.is_file(follow_symlinks=False):
                    return None
        except (InvalidInput, OSError):
            return None
        return rel, FileStat(mtime_ns=info.st_mtime_ns, size=info.st_size)

    # --- writing --------------------------------------------------------------------------------------

    def write(
        self, relpath: str, text: str, *, expected_version: str | None = None, create: bool = False
    ) -> Snapshot:
        """Replace the note's whole text; see `edit` for the checks. Never re-applied after an editor's save."""
        return self.edit(relpath, lambda _current: text, expected_version=expected_version, create=create)

    def edit(
        self,
        relpath: str,
        change: Callable[[str], str],
        *,
        expected_version: str | None = None,
        create: bool = False,
        guard: Guard | None = None,
        redo: bool = False,
        new_only: bool = False,
        replay: Callable[[str], str] | None = None,
    ) -> Snapshot:
        """Apply `change` to the note's current text and save the result (see the module docstring).

        `change` may raise to abort; nothing is written then. With `redo`, `change` must be idempotent (a text
        that already has its effect comes back unchanged): it is re-applied if someone's save overwrites the
        write within AFTER_WRITE_SECONDS (re-applying to a text that kept the effect writes nothing), and replayed
        on an editor's text the after-write watch merges in; `replay` gives what to replay for a write made
        without `redo` (a re-application). A missing note is DocumentNotFound unless `create` is set: then it
        starts as "" and missing folders are made; with `new_only` an existing note is InvalidInput and stays as
        it is. `guard` is asked first about every text read.
        """
        rel, real = confine(self.root, relpath)
        if not (rel.endswith(".md") and real.name.endswith(".md")):
            raise InvalidInput(f"{rel!r} is not a Markdown note; only '.md' files can be written.")
        if expected_version is not None:
            expected_version = check_version(expected_version)
        inner = real.relative_to(self.root).parts
        try:
            self.cache.ensure("locks", "journal")
            with locks.hold(self.cache.locks_dir, _lock_name(inner), LOCK_TIMEOUT_SECONDS):
                return self._edit_locked(rel, inner, change, expected_version, create or new_only, guard, redo,
                                         new_only, replay)
        except locks.LockTimeout as err:
            raise ProjectMemoryError(
                f"another process has held {rel} for {LOCK_TIMEOUT_SECONDS:g} s; nothing was written, retry in a "
                "moment."
            ) from err
        except locks.LockUnusable as err:
            raise StorageError(f"{rel} could not be written: {err}; nothing was changed.") from err
        except NotAFolder as err:
            raise PathOutsideMemory(
                rel, f"the folder {err.filename} became a symlink or a file during the write"
            ) from err
        except NotRegularFile as err:
            raise UnreadableDocument(rel, str(err.strerror)) from err
        except OSError as err:
            raise storage_error(rel, err) from err

    def remove(self, relpath: str, expected_version: str) -> None:
        """Delete a note that still has `expected_version` (an undo of the write that created it)."""
        rel, real = confine(self.root, relpath)
        inner = real.relative_to(self.root).parts
        try:
            self.cache.ensure("locks", "journal")
            with locks.hold(self.cache.locks_dir, _lock_name(inner), LOCK_TIMEOUT_SECONDS), \
                    Folder.open(self.root, inner[:-1]) as folder:
                current = folder.read(inner[-1], MAX_DOCUMENT_BYTES + 1)
                if current is None:
                    raise DocumentNotFound(rel)
                try:
                    if _version(current.data) != expected_version or not _unchanged(folder, inner[-1], current):
                        raise DocumentChanged(rel)
                    self.journal.keep(current.data)
                    folder.unlink(inner[-1])
                    folder.sync()
                    self.journal.append(rel, current.data, None)
                finally:
                    current.close()
        except locks.LockTimeout as err:
            raise ProjectMemoryError(f"another process holds {rel}; retry in a moment.") from err
        except OSError as err:
            raise storage_error(rel, err) from err

    def _edit_locked(
        self,
        rel: str,
        inner: tuple[str, ...],
        change: Callable[[str], str],
        expected_version: str | None,
        create: bool,
        guard: Guard | None,
        redo: bool,
        new_only: bool,
        replay: Callable[[str], str] | None = None,
    ) -> Snapshot:
        flux_since: float | None = None
        attempts = 0
        while True:
            try:
                with Folder.open(self.root, inner[:-1], create=create) as folder:
                    return self._attempt(folder, rel, inner, change, expected_version, create, guard, redo, new_only,
                                         replay)
            except _Retry:
                attempts += 1
                if attempts >= ATTEMPTS:
                    raise DocumentBusy(rel) from None
                time.sleep(random.uniform(0.005, 0.02) * attempts)
            except _Flux as flux:
                now = time.monotonic()
                flux_since = flux_since if flux_since is not None else now
                if now - flux_since >= FLUX_WAIT_SECONDS:
                    if flux.missing:
                        raise DocumentNotFound(rel) from None
                    if flux.unreadable is not None:  # no save finished it: a file in another encoding
                        raise flux.unreadable from None
                    raise DocumentInFlux(rel, flux.reason) from None
                time.sleep(0.05)
            except FileNotFoundError:
                if create:
                    raise
                raise DocumentNotFound(rel) from None

    def _attempt(
        self,
        folder: Folder,
        rel: str,
        inner: tuple[str, ...],
        change: Callable[[str], str],
        expected_version: str | None,
        create: bool,
        guard: Guard | None,
        redo: bool,
        new_only: bool = False,
        replay: Callable[[str], str] | None = None,
    ) -> Snapshot:
        name = inner[-1]
        self._settle(folder, inner)
        current = folder.read(name, MAX_DOCUMENT_BYTES + 1)
        keep_open = False
        try:
            try:
                text = _decode(rel, _limited(rel, current.data)) if current is not None else None
            except UnreadableDocument as err:
                if current is not None and _ends_inside_a_character(current.data):
                    raise _Flux("it ends inside a character: a save is under way", False, err) from None
                raise
            if guard is not None and (reason := guard(text)):
                raise _Flux(reason, missing=current is None)
            if current is None and not create:
                raise DocumentNotFound(rel)
            if current is not None and new_only:
                raise InvalidInput(f"{rel} already exists; it was left as it is.")
            if expected_version is not None and (current is None or _version(current.data) != expected_version):
                raise DocumentChanged(rel)
            if current is not None and not current.info.st_mode & stat.S_IWUSR:
                raise ReadOnlyDocument(rel)
            new_text = change(text or "")
            if current is not None and text is not None and new_text == text:
                return Snapshot(rel, text, _version(current.data))
            data = _encode(rel, new_text)
            mode = stat.S_IMODE(current.info.st_mode) if current is not None else _new_file_mode()
            with self.journal.holding():  # a journal that cannot record the write stops it before the swap
                self.journal.keep(current.data if current is not None else None)
                self.journal.keep(data)
                temp = folder.write_temp(name, data, mode)
                try:
                    new_info = self._swap_in(folder, name, temp, current)
                finally:
                    folder.unlink(temp)  # what the temp name holds now: the old bytes, ours after a give-back, or none
                folder.sync()
                self.journal.append(rel, current.data if current is not None else None, data)
            self._sweep(folder, inner[:-1])
            key = _stat_key(new_info)
            with self._written_lock:
                self._written["/".join(inner)] = key
            self.after_writes.watch(
                Written(rel=rel, inner=inner, old=current, new_key=key, new_version=_version(data),
                        change=change if redo else None, guard=guard,
                        replay=change if redo else replay)
            )
            keep_open = True
            return Snapshot(rel, new_text, _version(data))
        finally:
            if current is not None and not keep_open:
                current.close()

    def _swap_in(self, folder: Folder, name: str, temp: str, current: Opened | None) -> os.stat_result:
        """Put the temp file at `name` if `name` still holds `current` (or nothing, for a new note)."""
        if current is None:
            if not folder.link_new(temp, name):
                raise _Retry  # someone created the note meanwhile: start over from their text
        else:
            if not _unchanged(folder, name, current):
                raise _Retry
            if folder.exchange(temp, name):
                swapped = folder.stat(temp)
                if swapped is None or (swapped.st_dev, swapped.st_ino) != (current.info.st_dev, current.info.st_ino) \
                        or not _same_bytes(current):
                    folder.exchange(temp, name)  # an editor's save got in first: give it back its place
                    raise _Retry
            else:
                folder.replace(temp, name)
        info = folder.stat(name)
        if info is None:
            raise _Retry
        return info

    def _settle(self, folder: Folder, inner: tuple[str, ...]) -> None:
        """Wait while someone else's save of the file may still be under way (a recent mtime not ours)."""
        deadline = time.monotonic() + SETTLE_MAX_SECONDS
        while True:
            info = folder.stat(inner[-1])
            if info is None or self.written_by_us(inner, info):
                return
            age = time.time() - info.st_mtime_ns / 1e9
            if not 0 <= age < QUIET_SECONDS or time.monotonic() >= deadline:
                return
            time.sleep(max(QUIET_SECONDS - age, 0.005))

    def written_by_us(self, inner: tuple[str, ...], info: os.stat_result) -> bool:
        with self._written_lock:
            return self._written.get("/".join(inner)) == _stat_key(info)

    def _sweep(self, folder: Folder, where: tuple[str, ...]) -> None:
        """Remove a killed writer's temp files from `folder`, at most once per SWEEP_EVERY_SECONDS: a write is
        not the place to list a large folder each time."""
        now = time.time()
        with self._written_lock:
            if now - self._swept.get(where, 0.0) < SWEEP_EVERY_SECONDS:
                return
            self._swept[where] = now
        folder.remove_stale_temps(now)

    def note_folder(self, inner: tuple[str, ...]) -> contextlib.AbstractContextManager[Folder]:
        return Folder.open(self.root, inner[:-1])

    def note_lock(self, inner: tuple[str, ...]) -> contextlib.AbstractContextManager[None]:
        return locks.hold(self.cache.locks_dir, _lock_name(inner), LOCK_TIMEOUT_SECONDS)

    def name_lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A lock for a name that is not yet a note (a topic whose file is to be found or made), shared by every
        process on this root. Taken before any note's lock, never while holding one."""
        self.cache.ensure("locks", "journal")
        key = hashlib.sha1(name.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()
        return locks.hold(self.cache.locks_dir, f"name-{key}.lock", LOCK_TIMEOUT_SECONDS)


def check_version(version: str) -> str:
    """The version as the store compares it (spaces around it dropped, as a copy-paste adds them); a version
    that is not 16 lowercase hex digits is InvalidInput saying so."""
    if not isinstance(version, str) or not _VERSION.match(version.strip()):
        raise InvalidInput(
            f"expected_version {str(version)[:40]!r} is malformed: a version is the 16 hex digits read_memory "
            "returns (e.g. '3f2a9c0d1e4b5a67'); read the document again and pass its version."
        )
    return version.strip()


def storage_error(rel: str, err: OSError) -> StorageError:
    """An OSError as a message that names the file and says what to do."""
    advice = {
        errno.EACCES: "check the file's and folder's permissions",
        errno.EPERM: "check the file's and folder's permissions",
        errno.EROFS: "the file system is read-only; make it writable or move the notes",
        errno.ENOSPC: "the disk is full; free some space",
        errno.EDQUOT: "the disk quota is used up; free some space",
        errno.EISDIR: "a folder has the note's name; rename it",
        errno.ENOTDIR: "a file stands where a folder of the path should be; rename it",
        errno.ENAMETOOLONG: "the name is too long for the file system; shorten it",
        errno.EMFILE: "the server has too many files open; restart it",
    }.get(err.errno or 0, "check the folder and retry")
    where = f" ({err.filename})" if err.filename and str(err.filename) not in (rel, Path(rel).name) else ""
    return StorageError(
        f"{rel} could not be written: {err.strerror or err}{where}; nothing was changed. Fix: {advice}."
    )


def _lock_name(inner: tuple[str, ...]) -> str:
    key = hashlib.sha1("/".join(inner).encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()
    return f"note-{key}.lock"


def _stat_key(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _unchanged(folder: Folder, name: str, current: Opened) -> bool:
    """Whether `name` still is the file `current` read, with the same bytes."""
    info = folder.stat(name)
    return info is not None and same_stat(info, os.fstat(current.fd)) and _same_bytes(current)


def _same_bytes(current: Opened) -> bool:
    now = os.fstat(current.fd)
    return same_stat(now, current.info) and read_all(current.fd, MAX_DOCUMENT_BYTES + 1) == current.data


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _limited(rel: str, data: bytes) -> bytes:
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
        raise UnreadableDocument(rel, f"it is not valid UTF-8 at byte {err.start}",
                                 "Re-save it as UTF-8 (an editor's encoding menu, or iconv -f GBK -t UTF-8).") from err


def _ends_inside_a_character(data: bytes) -> bool:
    """Whether `data` is UTF-8 cut inside its last character, as an editor's save under way leaves it (a file
    saved in another encoding fails earlier)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.reason == "unexpected end of data" and err.end == len(data)
    return False


def _encode(rel: str, text: str) -> bytes:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidInput(f"the new text of {rel} has characters UTF-8 cannot hold ({err.reason}).") from err
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"the new text of {rel} is over {MAX_DOCUMENT_BYTES >> 20} MiB; split the note.")
    return data


def _new_file_mode() -> int:
    """The bits `open()` would give a new file, rather than a temp file's private 0o600."""
    # Linux reports the umask here; reading it, unlike os.umask, does not change it for other threads.
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
