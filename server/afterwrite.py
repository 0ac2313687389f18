"""Watching each write for a moment after it: an editor's save that raced it is merged, not lost.

A write replaces the note by swapping in a new file (`server.store`). Two things can still happen to the
person's bytes right after, and both are caught here for AFTER_WRITE_SECONDS:

- an editor that opened the old file before the swap writes into it after (an in-place save, an `>>`
  append): those bytes land in the old file, which no longer has a name. The store handed over its
  descriptor on that file; when the file changes, its new text is taken as the person's version, and kept in
  the undo journal. While it reads as a save under way (`_under_way`) and keeps changing, it is left for a
  later check, for up to SAVE_PATIENCE_SECONDS, and never merged torn. When the note holds what this store's
  writes still watched left since (the journal's lineage says), the write's `change` and each later one are
  replayed on the person's text; otherwise their change is merged three-way into the note as it is (see
  `_merge_orphan`); if neither can be done, a warning is logged.
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
import re
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memory_schema.errors import InvalidInput, ProjectMemoryError
from memory_schema.markdown import shape_of, shape_problem
from server.fs import Opened, read_all, same_stat
from server.journal import digest, write_group
from server.merging import merge_texts

if TYPE_CHECKING:
    from server.store import NoteStore

logger = logging.getLogger(__name__)

CHECK_AFTER = (0.01, 0.05, 0.2, 0.5, 1.0, 2.0)
MERGE_TOOL = "merge"  # how the journal names a write that brought an editor's bytes back (see `_descends_from`)
REAPPLY_TOOL = "reapply"  # how it names a write putting back what someone's save dropped: the model made none
EDITOR_SAVE = "editor-save"  # how it lists the editor's bytes a merge brought in, kept as they were
AFTER_WRITE_SECONDS = CHECK_AFTER[-1]
# A save seen under way (the text a write read stops mid-line; an editor's text in the old file still short of
# it) is watched this long, every SAVE_CHECK_SECONDS: a slow disk or a stalled editor finishes it late.
SAVE_PATIENCE_SECONDS = 30.0
SAVE_CHECK_SECONDS = 0.5
QUIET_SECONDS = 1.0  # an old file unchanged this long holds a finished save: the person's, even if it reads short
CLOSE_WAIT_SECONDS = 35.0  # how long closing waits for a check under way (a note's lock is waited for 30 s)
EXTENDED_AT_MOST = 16  # writes whose old file is watched past AFTER_WRITE_SECONDS at once: each holds a descriptor


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
    saving: bool = False  # its old file is watched up to SAVE_PATIENCE_SECONDS: a save into it may go on
    seen: tuple[int, int, int, int] | None = None  # the old file's state when last read
    changed_at: float = 0.0  # when the old file was last seen changing
    settled: bool = True  # the old file's last bytes seen are merged (or kept in the journal)
    short: bool = False  # a text that read as a save under way was merged once quiet: the save may go on


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
        with self._lock:
            if written.old is not None and written.old.data and not written.old.data.endswith((b"\n", b"\r")) \
                    and self._extended() < EXTENDED_AT_MOST:
                written.saving = True  # the write read a text cut mid-line: an editor's save may be under way
            if self._closing:
                self._finish(written)
                return
            heapq.heappush(self._queue, (written.at + CHECK_AFTER[0], next(self._order), written))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="project-memory-after-write", daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Run every pending check once, now, and release the old files; first let a check under way finish
        (the process may exit right after: a merge cut off would leave the person's bytes in no note)."""
        with self._lock:
            self._closing = True
            pending = [item[2] for item in self._queue]
            self._queue.clear()
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=CLOSE_WAIT_SECONDS)
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
        now = time.monotonic()
        if written.saving and written.old is not None and now < self._deadline(written) \
                and (not written.settled or now - written.changed_at < QUIET_SECONDS or not written.merged
                     or written.short):
            return now + SAVE_CHECK_SECONDS
        return None

    def _extended(self) -> int:
        """How many watched writes may outlast AFTER_WRITE_SECONDS (under `_lock`)."""
        return sum(1 for _, _, each in self._queue if each.saving)

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
            elif not written.handled and written.change is not None \
                    and time.monotonic() - written.at <= AFTER_WRITE_SECONDS + 0.5 and self._changed_since(written):
                self._reapply_if_lost(written)  # past the watch, the person's text wins, however long it lasts
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
        with write_group(REAPPLY_TOOL):
            result = store.edit(written.rel, again, guard=written.guard, redo=False, replay=change)
        with store.note_folder(written.inner) as folder:
            info = folder.stat(written.inner[-1])
        if info is not None:
            written.judged = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if reapplied:
            written.handled = True
            logger.info("re-applied a write to %s after an editor's save dropped it (version %s)", written.rel,
                        result.version)

    def _descends_from(self, written: Written, data: bytes, *, within: Collection[str] | None = None) -> bool:
        """Whether `data` is the write's output or came from it through server writes alone (a merge of
        someone's bytes does not count: it brought their text in). With `within`, only through the writes that
        left these versions, the merges of the bytes written into this write's old file among them (that file
        is where the text is taken from again): a write not among them (another process's, one no longer
        watched, an undo) stands between, and what it did is not known here."""
        lineage = self._store.journal.lineage()
        waiting = [digest(data)]
        seen: set[str] = set()
        while waiting:  # back through every server write that left these bytes (bytes recur: an undo)
            name = waiting.pop()
            if name.startswith(written.new_version):
                return True
            if name in seen or (within is not None and not any(name.startswith(v) for v in within)):
                continue
            seen.add(name)
            ours = within is not None and any(name.startswith(version) for version in written.merged)
            # Bytes no server wrote are someone's save; a merge brought someone's save in.
            waiting += [old for old, tool in lineage.get(name, ()) if old is not None and (tool != MERGE_TOOL or ours)]
        return False

    def _merge_orphan(self, written: Written) -> None:
        """Bytes were written into the file our write replaced: bring the editor's change into the note. Under
        the note's lock (no write of this store can land meanwhile):
        - while the editor's text reads as a save under way (`_under_way`) and the file changed less than
          QUIET_SECONDS ago, nothing is merged until a later check; a text that stays so that long is the
          person's own, and one still changing at the last check is kept in the undo journal, never merged;
        - the editor's bytes are kept in the journal first, whatever follows;
        - when the note's text came from our write through this store's writes still watched alone (the
          journal's lineage says, our own earlier merges of this file included) and each can be replayed, they
          are replayed on the editor's text, so each lands in the finished text and a save merged half-way is
          taken again whole; a replay that drops a line the editor added, or cannot be made, is not used;
        - otherwise the editor's change, from the text the note already holds of this file to what it left, is
          merged into the note as it is now, three-way by line, or kept in the journal if it cannot be."""
        old = written.old
        assert old is not None
        time.sleep(0.02)  # let a save in progress finish before taking its bytes
        base = old.data
        theirs = read_all(old.fd, 8 * 1024 * 1024 + 1)
        info = os.fstat(old.fd)
        now = time.monotonic()
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if key != written.seen:
            written.seen, written.changed_at = key, now
        written.saving = written.saving or self._extended_ok(written)
        written.settled = False
        quiet = now - written.changed_at >= QUIET_SECONDS
        last = self._closing or now + SAVE_CHECK_SECONDS >= self._deadline(written)
        under_way = _under_way(base, theirs)
        if under_way and not quiet and not last:
            return  # checked again later: the file still differs from what was judged
        written.short = under_way
        store = self._store
        store.journal.keep(theirs)  # raises before anything is taken as judged: retried at the next check
        written.handled = True

        def merged_into(current: str) -> str:
            if _under_way(base, theirs) and not quiet:
                raise ProjectMemoryError(f"an editor's save into {written.rel} did not finish")
            their_text = theirs.decode("utf-8")
            later = [each for each in self._later(written) if each.new_version not in written.merged]
            known = {written.new_version, *written.merged, *(each.new_version for each in later)}
            steps = (written, *later)
            replayable = all(each.replay is not None for each in steps) \
                and self._descends_from(written, current.encode("utf-8"), within=known)
            if replayable:
                replayed, skipped = _replayed(their_text, steps)
                if not skipped and _keeps_added_lines(base.decode("utf-8"), their_text, replayed):
                    return replayed
            merged_lines = merge_texts(base.decode("utf-8"), their_text, current)
            if merged_lines is not None:
                return merged_lines
            if replayable:
                # The save took away what a write acted on (it edited the item a tool ticked) and the two
                # cannot be merged: the person's text, with the writes that still apply to it.
                replayed, _ = _replayed(their_text, steps)
                if _keeps_added_lines(base.decode("utf-8"), their_text, replayed):
                    return replayed
            raise ProjectMemoryError(f"{written.rel} was changed by someone else as well")

        try:
            with write_group(MERGE_TOOL):
                result = store.edit(written.rel, merged_into, redo=False)
            written.merged.append(result.version)
            old.data = theirs
            # The save as the editor left it, listed beside the merge: whatever the merge made of it, the
            # person's bytes can be read back (`project-memory history`).
            store.journal.append(written.rel, None, theirs, kind=EDITOR_SAVE)
            logger.info("merged an editor's save into %s", written.rel)
        except (UnicodeDecodeError, ProjectMemoryError):
            store.journal.append(written.rel, None, theirs, kind="unmerged")
            logger.warning(
                "an editor wrote into %s while the server replaced it, and the two could not be merged; the "
                "editor's bytes are kept in the undo journal (project-memory history %s)", written.rel, written.rel,
            )
        old.info = info
        written.settled = True

    def _extended_ok(self, written: Written) -> bool:
        with self._lock:
            return self._extended() < EXTENDED_AT_MOST

    def _later(self, written: Written) -> list[Written]:
        """This store's writes to the same note after `written` that are still watched, oldest first. Only
        they may stand between our output and the note's text now; `edit`'s expected version checks it."""
        with self._lock:
            later = [item[2] for item in self._queue if item[2].rel == written.rel and item[2].at > written.at]
        return sorted(later, key=lambda item: item.at)


def _under_way(before: bytes, after: bytes) -> bool:
    """Whether `after`, written over `before` in place, reads as a save still under way: empty, cut inside a
    character or mid-line where `before` ended a line, or shorter with fewer `##` sections or without the
    footer `before` had (an editor writes its text from the start)."""
    if not after:
        return bool(before)
    if before.endswith((b"\n", b"\r")) and not after.endswith((b"\n", b"\r")):
        return True
    try:
        text = after.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return shape_problem(shape_of(text), shape_of(before.decode("utf-8", "replace"))) is not None


def _replayed(text: str, steps: Sequence[Written]) -> tuple[str, int]:
    """`text` with each write's change replayed in order, and how many could not be (InvalidInput: the text no
    longer holds what it acted on)."""
    skipped = 0
    for each in steps:
        assert each.replay is not None
        try:
            text = each.replay(text)
        except InvalidInput:
            skipped += 1
    return text, skipped


def _keeps_added_lines(base: str, theirs: str, result: str) -> bool:
    """Whether every line the editor added to `base` is still in `result` (a replayed section rewrite would
    take the person's new paragraph away with the section's old text). A `**key**: value` line is the
    server's to update (the footer's date, the progress summary): its new value is no loss."""
    before, kept = set(base.splitlines()), set(result.splitlines())
    return all(line in kept for line in theirs.splitlines()
               if line.strip() and line not in before and not _KEY_VALUE_LINE.match(line))


_KEY_VALUE_LINE = re.compile(r"\s*\*\*[^*\n]+\*\*\s*[:：]")
