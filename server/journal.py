"""The undo journal: the bytes every tool write replaced, kept in the user's cache so any write can be taken back.

Layout (in the root's cache folder, `server.cache`):
    journal/objects/<sha256>   the bytes of a file before or after a write, stored once per content
    journal/log.jsonl          one line per file a write changed: write id, time, tool, path, old and new digests

A write is one use case (one tool call): `record_discussion` changing the discussion and the working memory is
one write with two files, and undoing it restores both. The objects are saved before the file is replaced and
the log line is appended right after, under the journal's lock (taken inside a note's lock, never the other
way round). The journal keeps `PROJECT_MEMORY_JOURNAL_DAYS` days (default 90) and at most
`PROJECT_MEMORY_JOURNAL_MB` megabytes of objects (default 200), dropping the oldest writes first.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from server import locks
from server.cache import RootCache

LOCK_NAME = "journal.lock"
LOCK_TIMEOUT_SECONDS = 30.0
PRUNE_EVERY = 50  # appends between size checks
LINEAGE_TAIL_BYTES = 256 * 1024  # how far back `lineage` reads: far more than the writes of a few seconds


class FileChange(BaseModel):
    path: str
    old: str | None  # sha256 of the bytes before (None: the file did not exist)
    new: str | None  # sha256 of the bytes after (None: the write removed the file)
    old_size: int | None
    new_size: int | None


class WriteRecord(BaseModel):
    id: str
    time: datetime
    tool: str
    files: list[FileChange]
    undoes: str | None = None
    undone_by: str | None = None
    kind: str = "write"  # else an editor's save kept ("editor-save": merged; "unmerged": it could not be); never undone
    writer: str | None = None  # which server process (journal) made it; None in logs older than this field


@dataclass(frozen=True)
class _Group:
    id: str
    tool: str
    undoes: str | None


_current: contextvars.ContextVar[_Group | None] = contextvars.ContextVar("project_memory_write", default=None)
_in_progress: set[str] = set()  # this process's writes not finished yet: an undo must not take back half of one
_in_progress_lock = threading.Lock()


def in_progress(write_id: str) -> bool:
    """Whether this process is still making the write `write_id` (a file of it may be written, another not)."""
    with _in_progress_lock:
        return write_id in _in_progress


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_write_id() -> str:
    """The second it was made, readable, and 32 random bits: ids of writes in one second (of several servers)
    collide about once in four billion pairs, never merging two writes into one record."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


@contextlib.contextmanager
def write_group(tool: str, undoes: str | None = None) -> Iterator[str]:
    """Every file written in this block (this thread) belongs to one write, named after `tool`."""
    group = _current.get()
    if group is not None:  # a use case calling another: the outer one names the write
        yield group.id
        return
    group = _Group(new_write_id(), tool, undoes)
    token = _current.set(group)
    with _in_progress_lock:
        _in_progress.add(group.id)
    try:
        yield group.id
    finally:
        with _in_progress_lock:
            _in_progress.discard(group.id)
        _current.reset(token)


class Journal:
    def __init__(self, cache: RootCache) -> None:
        self._cache = cache
        self._appends = 0
        self._lineage_lock = threading.Lock()
        self._holding = threading.local()
        self._lineage: tuple[int, dict[str, list[tuple[str | None, str]]]] = (-1, {})
        # Names this process's writes, so a session undoes its own last write, never another server's.
        self.writer = f"{os.getpid()}-{secrets.token_hex(4)}"

    @property
    def _folder(self) -> Path:
        return self._cache.journal_dir

    def _ready(self) -> Path:
        self._cache.ensure("journal", "locks")
        (self._folder / "objects").mkdir(mode=0o700, exist_ok=True)
        return self._folder

    def keep(self, data: bytes | None) -> str | None:
        """Store `data` (before the replace that needs it) and return its digest."""
        if data is None:
            return None
        name = digest(data)
        target = self._ready() / "objects" / name
        if not target.exists():
            temp = target.with_name(f".{name}.{secrets.token_hex(4)}.tmp")
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        return name

    def append(self, path: str, old: bytes | None, new: bytes | None, *, kind: str = "write") -> str:
        """Log that `path` went from `old` to `new` (both kept already); returns the write id."""
        group = _current.get() or _Group(new_write_id(), "write", None)
        if kind != "write":
            group = _Group(new_write_id(), kind, None)
        line = {
            "write": group.id,
            "time": datetime.now(UTC).isoformat(),
            "tool": group.tool,
            "path": path,
            "old": digest(old) if old is not None else None,
            "new": digest(new) if new is not None else None,
            "old_size": len(old) if old is not None else None,
            "new_size": len(new) if new is not None else None,
            "writer": self.writer,
        }
        if group.undoes:
            line["undoes"] = group.undoes
        if kind != "write":
            line["kind"] = kind
        folder = self._ready()
        held = getattr(self._holding, "held", False)
        with contextlib.nullcontext() if held else locks.hold(self._cache.locks_dir, LOCK_NAME, LOCK_TIMEOUT_SECONDS):
            with open(folder / "log.jsonl", "a", encoding="utf-8") as log:
                log.write(json.dumps(line, ensure_ascii=False) + "\n")
                log.flush()
                os.fsync(log.fileno())
            self._appends += 1
            if self._appends % PRUNE_EVERY == 0:
                self._prune()
        return group.id

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the journal's lock for the block (this thread's `append` then takes it as held): a writer takes
        it before it replaces a note, so a journal that cannot record the write stops it before any change."""
        self._ready()
        with locks.hold(self._cache.locks_dir, LOCK_NAME, LOCK_TIMEOUT_SECONDS):
            self._holding.held = True
            try:
                yield
            finally:
                self._holding.held = False

    def wrote(self, data: bytes) -> bool:
        """Whether some recent write (of any process) left exactly these bytes in a file."""
        return digest(data) in self.lineage()

    def lineage(self) -> dict[str, list[tuple[str | None, str]]]:
        """For the recent writes of every process: the digest of the bytes a write left -> for each write that
        left them (an undo leaves bytes an earlier write left too), the digest of the bytes it replaced (None:
        it created the file) and the tool. Read from the log's tail, again only when the log grew."""
        try:
            with open(self._folder / "log.jsonl", "rb") as log:
                size = log.seek(0, os.SEEK_END)
                with self._lineage_lock:
                    if self._lineage[0] == size:
                        return self._lineage[1]
                log.seek(max(0, size - LINEAGE_TAIL_BYTES))
                tail = log.read()
        except FileNotFoundError:
            return {}
        found: dict[str, list[tuple[str | None, str]]] = {}
        for line in tail.splitlines()[1:] if size > LINEAGE_TAIL_BYTES else tail.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut by the tail, or torn by a crash
                continue
            if isinstance(entry, dict) and entry.get("new"):
                found.setdefault(entry["new"], []).append((entry.get("old"), str(entry.get("tool", ""))))
        with self._lineage_lock:
            self._lineage = (size, found)
        return found

    def object(self, name: str) -> bytes:
        return (self._folder / "objects" / name).read_bytes()

    def writes(self) -> list[WriteRecord]:
        """Every write still in the journal, oldest first, with which were undone by which."""
        log = self._folder / "log.jsonl"
        try:
            lines = log.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records: dict[str, WriteRecord] = {}
        for line in lines:
            try:
                entry = json.loads(line)
                change = FileChange(path=entry["path"], old=entry["old"], new=entry["new"],
                                    old_size=entry.get("old_size"), new_size=entry.get("new_size"))
                record = records.get(entry["write"])
                if record is None:
                    record = records[entry["write"]] = WriteRecord(
                        id=entry["write"], time=datetime.fromisoformat(entry["time"]), tool=entry["tool"], files=[],
                        undoes=entry.get("undoes"), kind=entry.get("kind", "write"), writer=entry.get("writer"),
                    )
                record.files.append(change)
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash: the write it described is not offered for undo
        for record in records.values():  # oldest first
            target = records.get(record.undoes or "")
            if target is None:
                continue
            target.undone_by = record.id
            undone = records.get(target.undoes or "")
            if undone is not None and undone.undone_by == target.id:
                undone.undone_by = None  # the undo of it was taken back: its effect is there again, to undo again
        return list(records.values())

    def _prune(self) -> None:
        """Drop writes past the age limit, then the oldest until the objects fit the size limit."""
        days = _setting("PROJECT_MEMORY_JOURNAL_DAYS", 90)
        limit = _setting("PROJECT_MEMORY_JOURNAL_MB", 200) * 1024 * 1024
        log = self._folder / "log.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines()
        cutoff = datetime.now(UTC) - timedelta(days=days)
        kept: list[tuple[dict[str, object], str]] = []
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                if datetime.fromisoformat(entry["time"]) >= cutoff:
                    kept.append((entry, line))
        objects = self._folder / "objects"
        sizes = {p.name: p.stat().st_size for p in objects.iterdir() if not p.name.startswith(".")}
        used = sum(sizes.values())
        while kept and used > limit:
            oldest = kept[0][0]["write"]
            dropped = [entry for entry, _ in kept if entry["write"] == oldest]
            kept = [(entry, line) for entry, line in kept if entry["write"] != oldest]
            referenced = {entry.get(key) for entry, _ in kept for key in ("old", "new")}
            for entry in dropped:
                for key in ("old", "new"):
                    name = entry.get(key)
                    if isinstance(name, str) and name not in referenced and name in sizes:
                        used -= sizes.pop(name)
        temp = log.with_name(f".log.{secrets.token_hex(4)}.tmp")
        temp.write_text("".join(line + "\n" for _, line in kept), encoding="utf-8")
        os.replace(temp, log)
        referenced = {entry.get(key) for entry, _ in kept for key in ("old", "new")}
        settled = datetime.now().timestamp() - 600  # a newer object may belong to a write not logged yet
        for name in list(sizes):
            path = objects / name
            with contextlib.suppress(FileNotFoundError):
                if name not in referenced and path.stat().st_mtime < settled:
                    path.unlink()


def _setting(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default
