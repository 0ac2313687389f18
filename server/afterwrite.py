"""Watching each write for a moment after it: an editor's save that raced it is merged, not lost.

A write replaces the note by swapping in a new file (`server.store`). Two things can still happen to the
person's bytes right after, and both are caught here for AFTER_WRITE_SECONDS:

- an editor that opened the old file before the swap writes into it after (an in-place save, an `>>`
  append): those bytes land in the old file, which no longer has a name. The store handed over its
  descriptor on that file; when the file changes, its new text is taken as the person's version. While it
  reads as a save under way (`_under_way`) it is left for a later check, for up to SAVE_PATIENCE_SECONDS,
  and never merged torn. When the note holds what this store's writes left since (the journal's lineage says),
  the write's `change` and each later one are replayed on the person's text; otherwise their change is merged
  three-way into the note as it is (see `_merge_orphan`); if neither can be done, their bytes are kept in the
  undo journal and a warning is logged.
- an editor saves over the new file (its save checked the file just before ours landed), or a later tool
  write is built on such a save: the note's text did not come from ours through server writes alone (the
  journal's lineage says), and `change` is re-applied to what is there. `change` is idempotent by contract,
  so this adds the write's effect back only if the save dropped it. A later tool write that removed the
  effect from a text that had it (update_section, revise_insight, undo) is left alone: it meant to.

A write made with `redo=False` (a whole-file replace, an undo, a merge) is never re-applied over a save on the
new file: the person's later save wins; their bytes written into its old file are merged three-way.

Threads: one daemon thread, started with the first watched write, sleeps until the next check is due; checks
run at CHECK_AFTER seconds after each write. It takes the note's lock (through the store) only to re-apply
a change; nothing else shares its state but `_lock`, which guards the queue.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memory_schema.errors import InvalidInput, ProjectMemoryError
from memory_schema.markdown import parse_markdown
from server.fs import Opened, read_all, same_stat
from server.journal import digest, write_group
from server.merging import merge_texts

if TYPE_CHECKING:
    from server.store import NoteStore

logger = logging.getLogger(__name__)

CHECK_AFTER = (0.01, 0.05, 0.2, 0.5, 1.0, 2.0)
MERGE_TOOL = "merge"  # how the journal names a write that brought an editor's bytes back (see `_descends_from`)
AFTER_WRITE_SECONDS = CHECK_AFTER[-1]
# A save seen under way (the text a write read stops mid-line; an editor's text in the old file still short of
# it) is watched this long, every SAVE_CHECK_SECONDS: a slow disk or a stalled editor finishes it late.
SAVE_PATIENCE_SECONDS = 30.0
SAVE_CHECK_SECONDS = 0.5


@dataclass
class Written:
    """One write as the store made it."""

    rel: str
    inner: tuple[str, ...]  # the note's real path inside the root, by component
    old: Opened | None  # the file the write replaced, still open (None: the note was new)
    new_key: tuple[int, int, int, int]  # (dev, ino, size, mtime_ns) of the file the write left
    new_version: str
    change: Callable[[str], str] | None  # re-applied after an editor's save; None: never
    guard: Callable[[str | None], str | None] | None = None  # the write's own check of a half-saved text
    replay: Callable[[str], str] | None = None  # what to do again on an editor's text (a merge); None: nothing
    at: float = field(default_factory=time.monotonic)
    step: int = 0
    handled: bool = False
    judged: tuple[int, int, int, int] | None = None  # the last note state `_overwritten` looked at
    merged: list[str] = field(default_factory=list)  # the versions the merges of its old file's bytes left
    saving: bool = False  # a save into its old file was seen under way: watched up to SAVE_PATIENCE_SECONDS


class AfterWrites:
    def __init__(self, store: NoteStore) -> None:
        self._store = store
        self._queue: list[tuple[float, int, Written]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closing = False

    def watch(self, written: Written) -> None:
        if written.old is not None and written.old.data and not written.old.data.endswith((b"\n", b"\r")):
            written.saving = True  # the write read a text cut mid-line: an editor's save may be under way
        with self._lock:
            if self._closing:
                self._finish(written)
                return
            heapq.heappush(self._queue, (written.at + CHECK_AFTER[0], next(self._order), written))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="project-memory-after-write", daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Run every pending check once, now, and release the old files."""
        with self._lock:
            self._closing = True
            pending = [item[2] for item in self._queue]
            self._queue.clear()
            self._wake.notify()
        for written in pending:
            self._check(written)
            self._finish(written)

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._closing and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._wake.wait(timeout)
                if self._closing:
                    return
                _, _, written = heapq.heappop(self._queue)
            self._check(written)
            written.step += 1
            due = self._next_check(written)
            if due is not None:
                with self._lock:
                    if not self._closing:
                        heapq.heappush(self._queue, (due, next(self._order), written))
                        continue
            self._finish(written)

    def _next_check(self, written: Written) -> float | None:
        """When to look at the write again, or None when its watch is over. A merged orphan stays watched: an
        appender that kept its descriptor may write into it again; one holding a save under way, until the
        save is done or SAVE_PATIENCE_SECONDS have passed."""
        if written.step < len(CHECK_AFTER) and (not written.handled or written.old is not None):
            return written.at + CHECK_AFTER[written.step]
        if written.saving and written.old is not None and time.monotonic() < self._deadline(written):
            return time.monotonic() + SAVE_CHECK_SECONDS
        return None

    def _deadline(self, written: Written) -> float:
        return written.at + (SAVE_PATIENCE_SECONDS if written.saving else AFTER_WRITE_SECONDS)

    def _finish(self, written: Written) -> None:
        if written.old is not None:
            written.old.close()
            written.old = None

    def _check(self, written: Written) -> None:
        try:
            if written.old is not None and not same_stat(os.fstat(written.old.fd), written.old.info):
                self._merge_orphan(written)
            elif not written.handled and written.change is not None and self._changed_since(written):
                self._reapply_if_lost(written)
        except InvalidInput as err:
            # The save took away what the write acted on (a completed TODO's item, say): it stays the person's.
            written.handled = True
            logger.info("a write to %s was not re-applied after someone's save: %s", written.rel, err)
        except (ProjectMemoryError, OSError) as err:
            logger.warning("checking %s after a write failed: %s", written.rel, err)

    def _changed_since(self, written: Written) -> bool:
        """Whether the note may have lost the write's effect to someone's save: it has a state not yet judged
        and, read without the note's lock, its bytes did not come from ours through server writes alone (when
        they did, the state is judged here; a write whose journal line is not written yet looks foreign, and
        is judged again under the lock)."""
        with self._store.note_folder(written.inner) as folder:
            info = folder.stat(written.inner[-1])
            if info is None:
                return False  # deleted: the person's choice, or a delete-and-recreate save under way
            key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            if key in (written.new_key, written.judged):
                return False
            current = folder.read(written.inner[-1], 8 * 1024 * 1024 + 1)
        if current is None:
            return False
        key = (current.info.st_dev, current.info.st_ino, current.info.st_size, current.info.st_mtime_ns)
        try:
            if self._descends_from(written, current.data):
                written.judged = key
                return False
        finally:
            current.close()
        return True

    def _reapply_if_lost(self, written: Written) -> None:
        """Re-apply the write if its effect is missing from the note because someone else's save dropped it.

        Judged under the note's lock (a write holds it until its journal line is written, so the lineage is
        complete): if the note's text came from the write's own output through server writes alone, nothing is
        re-applied, since a later tool call that took the effect out meant to (update_section, revise_insight,
        undo). Otherwise someone saved in between, and the write's `change` is applied to what is there; it is
        idempotent, so a text that kept the effect comes back unchanged."""
        change = written.change
        assert change is not None
        store = self._store
        # An editor still writing into a file a later write replaced holds the rest of its save there: bring
        # that in first, or this write would be judged (and re-applied) against half of it.
        for other in self._later(written):
            if other.old is not None and not same_stat(os.fstat(other.old.fd), other.old.info):
                self._merge_orphan(other)

        reapplied = False

        def again(current: str) -> str:
            nonlocal reapplied
            if self._descends_from(written, current.encode("utf-8")):
                return current
            changed = change(current)
            reapplied = changed != current
            return changed

        # The write's guard again: a change is never re-applied to a document caught half-saved.
        result = store.edit(written.rel, again, guard=written.guard, redo=False, replay=change)
        with store.note_folder(written.inner) as folder:
            info = folder.stat(written.inner[-1])
        if info is not None:
            written.judged = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if reapplied:
            written.handled = True
            logger.info("re-applied a write to %s after an editor's save dropped it (version %s)", written.rel,
                        result.version)

    def _descends_from(self, written: Written, data: bytes, *, own_merges: bool = False) -> bool:
        """Whether `data` is the write's output or came from it through server writes alone (a merge of
        someone's bytes does not count: it brought their text in; with `own_merges`, the merges of the bytes
        written into this write's old file do: that file is where the text is taken from again)."""
        lineage = self._store.journal.lineage()
        waiting = [digest(data)]
        seen: set[str] = set()
        while waiting:  # back through every server write that left these bytes (bytes recur: an undo)
            name = waiting.pop()
            if name.startswith(written.new_version):
                return True
            if name in seen:
                continue
            seen.add(name)
            ours = own_merges and any(name.startswith(version) for version in written.merged)
            # Bytes no server wrote are someone's save; a merge brought someone's save in.
            waiting += [old for old, tool in lineage.get(name, ()) if old is not None and (tool != MERGE_TOOL or ours)]
        return False

    def _merge_orphan(self, written: Written) -> None:
        """Bytes were written into the file our write replaced: bring the editor's change into the note. Under
        the note's lock (no write of this store can land meanwhile):
        - while the editor's text reads as a save under way (shorter than what our write read, with fewer `##`
          sections or without its footer), nothing is merged until a later check, and at the last one its bytes
          are kept in the undo journal: a torn text is never merged;
        - when the note's text came from our write through this store's writes alone (the journal's lineage
          says, through our earlier merges of this same file too) and each of them can be replayed, they are
          replayed on the editor's text: each lands where it belongs in the finished text, even if our write
          had read a half-saved file, and a save merged half-way is taken again whole;
        - otherwise (someone saved in between; a write that cannot be replayed, such as a merge, whose bytes
          would go with it) the editor's change, from what we read to what it left, is merged into the note as
          it is now, three-way by line."""
        old = written.old
        assert old is not None
        time.sleep(0.02)  # let a save in progress finish before taking its bytes
        base = old.data
        theirs = read_all(old.fd, 8 * 1024 * 1024 + 1)
        if _under_way(base, theirs):
            written.saving = True
            if not self._closing and time.monotonic() + SAVE_CHECK_SECONDS < self._deadline(written):
                return  # checked again later: the file still differs from what was judged
        old.info = os.fstat(old.fd)
        old.data = theirs
        written.handled = True
        store = self._store

        def merged_into(current: str) -> str:
            if _under_way(base, theirs):
                raise ProjectMemoryError(f"an editor's save into {written.rel} did not finish")
            their_text = theirs.decode("utf-8")
            later = [each for each in self._later(written) if each.new_version not in written.merged]
            if all(each.replay is not None for each in (written, *later)) \
                    and self._descends_from(written, current.encode("utf-8"), own_merges=True):
                merged = their_text
                for each in (written, *later):
                    assert each.replay is not None
                    merged = each.replay(merged)
                return merged
            merged_lines = merge_texts(base.decode("utf-8"), their_text, current)
            if merged_lines is None:
                raise ProjectMemoryError(f"{written.rel} was changed by someone else as well")
            return merged_lines

        try:
            with write_group(MERGE_TOOL):
                result = store.edit(written.rel, merged_into, redo=False)
            written.merged.append(result.version)
            logger.info("merged an editor's save into %s", written.rel)
        except (UnicodeDecodeError, ProjectMemoryError):
            store.journal.keep(theirs)
            store.journal.append(written.rel, None, theirs, kind="unmerged")
            logger.warning(
                "an editor wrote into %s while the server replaced it, and the two could not be merged; the "
                "editor's bytes are kept in the undo journal (project-memory history %s)", written.rel, written.rel,
            )

    def _later(self, written: Written) -> list[Written]:
        """This store's writes to the same note after `written` that are still watched, oldest first. Only
        they may stand between our output and the note's text now; `edit`'s expected version checks it."""
        with self._lock:
            later = [item[2] for item in self._queue if item[2].rel == written.rel and item[2].at > written.at]
        return sorted(later, key=lambda item: item.at)


def _under_way(before: bytes, after: bytes) -> bool:
    """Whether `after`, written over `before` in place, reads as a save still under way: shorter, with fewer
    `##` sections or without the footer `before` had (an editor writes its text from the start)."""
    if len(after) >= len(before):
        return False
    try:
        was, now = parse_markdown(before.decode("utf-8")), parse_markdown(after.decode("utf-8"))
    except UnicodeDecodeError:
        return True  # cut inside a character
    sections = sum(1 for section in now.headings() if section.level == 2)
    return sections < sum(1 for section in was.headings() if section.level == 2) \
        or (was.footer is not None and now.footer is None)
