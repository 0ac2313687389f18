"""The index's manifest: what it remembers of each note (mtime, size, content version), and which notes on
disk differ from it.

Owns the comparison that keeps the index current: stat first (mtime and size), the content version only
when those differ, so a note that was touched but not changed costs a read, not a re-index. It reads notes
through the store and builds their records; writing them to the index is `server.search`'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from memory_schema.errors import ProjectMemoryError
from memory_schema.layout import Layout
from server.search.documents import FileRecord, file_record
from server.store import FileStat, NoteStore, Snapshot

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ManifestEntry:
    mtime_ns: int
    size: int
    version: str


@dataclass
class Changes:
    """What one pass found: notes to (re)index, notes only touched, notes gone."""

    records: list[FileRecord] = field(default_factory=list)  # new content
    touched: dict[str, ManifestEntry] = field(default_factory=dict)  # new stat, same content
    removed: list[str] = field(default_factory=list)  # in the manifest, gone from disk
    compared: int = 0  # notes read and compared

    def apply_to(self, manifest: dict[str, ManifestEntry]) -> None:
        """Record in `manifest` what the index now holds."""
        for record in self.records:
            manifest[record.path] = ManifestEntry(record.mtime_ns, record.size, record.version)
        for path in self.removed:
            manifest.pop(path, None)
        manifest.update(self.touched)


def stat_changed(on_disk: Iterable[tuple[str, FileStat]], manifest: dict[str, ManifestEntry]) -> set[str]:
    """The notes whose mtime or size differ from the manifest (new notes included)."""
    suspects: set[str] = set()
    for path, stat in on_disk:
        entry = manifest.get(path)
        if entry is None or (entry.mtime_ns, entry.size) != (stat.mtime_ns, stat.size):
            suspects.add(path)
    return suspects


def compare(
    store: NoteStore,
    layout: Layout,
    manifest: dict[str, ManifestEntry],
    changed: Iterable[str],
    deleted: Iterable[str],
    progress: Progress | None = None,
) -> Changes:
    """Read the changed notes and compare each with the manifest; a deleted path (a note or a folder) removes
    what the manifest holds under it, unless the note exists again (an editor's save deletes and re-creates)."""
    changes = Changes()
    gone: set[str] = set()
    deleted = list(deleted)
    back = {p for p in deleted if p.endswith(".md") and _exists(store, p)}
    for path in deleted:
        if path not in back:
            gone.add(path)
            gone.update(p for p in manifest if p.startswith(path.rstrip("/") + "/"))
    todo = sorted(set(changed) | back)
    for done, path in enumerate(todo, 1):
        loaded = load_note(store, path)
        if loaded is None:
            gone.add(path)
        else:
            stat, snapshot = loaded
            entry = manifest.get(path)
            if entry is None or entry.version != snapshot.version:
                changes.records.append(note_record(layout, path, stat, snapshot))
            elif (entry.mtime_ns, entry.size) != (stat.mtime_ns, stat.size):
                changes.touched[path] = ManifestEntry(stat.mtime_ns, stat.size, snapshot.version)
        if progress is not None:
            progress(done, len(todo))
    changes.removed = sorted(gone & set(manifest))
    changes.compared = len(todo)
    return changes


def load_note(store: NoteStore, path: str) -> tuple[FileStat, Snapshot] | None:
    """A note's stat and text; None when it is gone or unreadable. Stat before read: a change racing the
    read then shows as a newer mtime at the next sweep, never as a missed one."""
    try:
        stat = store.stat(path)
        return stat, store.read(path)
    except ProjectMemoryError:
        return None


def note_record(layout: Layout, path: str, stat: FileStat, snapshot: Snapshot) -> FileRecord:
    kind = layout.kind_of(path).value
    return file_record(path, snapshot.text, kind=kind, mtime_ns=stat.mtime_ns, size=stat.size, version=snapshot.version)


def _exists(store: NoteStore, path: str) -> bool:
    try:
        return store.exists(path)
    except ProjectMemoryError:
        return False
