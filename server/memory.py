"""The use cases: everything a tool, a CLI command or a test asks of a memory root.

`ProjectMemory` reads through the store, writes through `store.edit` (see `server.store` for what a write
guarantees), records each write in the undo journal as one unit (`journal.write_group`), and queues its own
writes for the search index before returning; a search indexes anything still queued before it reads, so a
search right after a write finds it, while the write does not wait for an index commit. The writes themselves
live in `server.recording` (insights, discussions), `server.tracking` (progress, research TODOs) and
`server.editing` (lecture notes, sections, undo); the MCP layer and the CLI are thin edges over this class.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from memory_schema.discussion import Discussion, DiscussionParts, parse_discussion
from memory_schema.errors import (
    DocumentNotFound,
    InvalidInput,
    PathOutsideMemory,
    ProjectMemoryError,
    UnreadableDocument,
)
from memory_schema.layout import CONFIG_FILE, PRESETS, DocumentKind, Layout, detect_layout, read_walk_settings
from memory_schema.markdown import Shape, parse_markdown, shape_of, shape_problem
from memory_schema.plan import Plan, parse_plan
from memory_schema.progress import Progress, parse_progress
from memory_schema.research_todo import TodoItem, parse_research_todo
from memory_schema.vocabulary import Language
from memory_schema.working_memory import WorkingMemory, parse_working_memory
from server import editing, recording, tracking
from server.freshness import Freshness
from server.handles import parse_handle
from server.ignore import NoteRules
from server.journal import WriteRecord
from server.outcomes import DiscussionList, Page, WriteResult
from server.search import IndexService, IndexStatus, ReconcileReport, SearchEngine, SearchRequest, SearchResults
from server.store import Guard, NoteStore, Snapshot

logger = logging.getLogger(__name__)

PAGE_CHARS = 4000  # about 4-5k tokens of Chinese: well under Claude Code's 25k-token result cap
GUARD_PATIENCE_SECONDS = 1.0  # a role document short of its last good shape this long is the person's own edit
Progressing = Callable[[int, int], None]


T = TypeVar("T")


def readable(read: Callable[[], T], path: str, skipped: dict[str, str] | None) -> T | None:
    """`read()`, or None when its document cannot be read as a note (saved as GBK, binary, behind a folder swapped
    for a symlink), its reason kept in `skipped` under `path`: whoever reads many documents (the briefing, the
    status, the discussion list) is made of the others, and says what it left out."""
    try:
        return read()
    except (UnreadableDocument, PathOutsideMemory) as err:
        if skipped is not None:
            skipped[path] = str(err)
        return None


class ProjectMemory:
    def __init__(
        self,
        root: Path,
        *,
        freshness: Freshness | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        config = Path(root).resolve() / CONFIG_FILE
        config_text = config.read_text(encoding="utf-8") if config.is_file() else None
        self.store = NoteStore(root, rules=NoteRules(read_walk_settings(config_text)))
        self.root = self.store.root
        self.layout = self._detect_layout(config_text)
        self.language: Language = "zh" if self.layout.language == "zh" else "en"
        self.index = IndexService(self.store, self.layout)
        self.engine = SearchEngine(self.store, self.layout, self.index)
        self.freshness = freshness if freshness is not None else Freshness.none()
        self._today = today
        # role document -> (level-2 sections, has a footer, length) at its last good read; and a text short of
        # that, with when it was first seen, while it may still be a save under way
        self._shapes: dict[str, Shape] = {}
        self._suspect: dict[str, tuple[int, float]] = {}
        self._role_paths = frozenset(self.layout.role_paths().values())

    def _detect_layout(self, config_text: str | None) -> Layout:
        """The layout from the documents at the top of the root (no walk: a wrong root costs nothing)."""
        present = []
        for layout in PRESETS.values():
            present += [path for path in layout.role_paths().values() if (self.root / path).is_file()]
            present += [f"{folder}/" for folder in (layout.discussions_dir, layout.notes_dir)
                        if (self.root / folder).is_dir()]
        return detect_layout(present, config_text)

    def today(self) -> date:
        return self._today()

    # --- the index --------------------------------------------------------------------------------------

    def ensure_index(self, progress: Progressing | None = None) -> None:
        """Open the search index and bring it up to date (building it if there is none). The index is claimed
        before the dictionary loads: a search arriving meanwhile then finds a build under way and scans, where
        finding the index unclaimed it would build it itself and wait the whole build."""
        self.index.ensure_ready(progress)
        self.engine.prepare()

    def rebuild_index(self, progress: Progressing | None = None) -> None:
        self.engine.prepare()
        self.index.rebuild(progress)

    def reconcile_index(self, progress: Progressing | None = None) -> ReconcileReport:
        self.engine.prepare()
        return self.index.reconcile(progress)

    def index_status(self) -> IndexStatus:
        return self.index.status()

    def notes_changed(self, changed: list[str], deleted: list[str], *, rescan: bool = False) -> None:
        """Files changed on disk outside the server (the watcher): index them, reload what they configure."""
        if recording.GLOSSARY_NOTE in changed or recording.GLOSSARY_NOTE in deleted:
            self.engine.reload_glossary()
        if rescan:
            self.index.reconcile()
        else:
            self.index.update(changed, deleted)

    def close(self) -> None:
        self.store.close()
        self.index.close()

    def __enter__(self) -> ProjectMemory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def indexed(self, *paths: str) -> None:
        """Queue our own writes for the index; the next search indexes them first if they are still queued,
        so it reads them, while the tool answers without waiting for an index commit."""
        try:
            self.index.queue(paths)
        except ProjectMemoryError:
            logger.warning("index update after a write failed; the next search reconciles", exc_info=True)

    # --- reads ------------------------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResults:
        if self.freshness.needs_sweep():
            self.index.sweep()
            self.freshness.swept()
        return self.engine.search(request)

    def read_text(self, relpath: str) -> Snapshot:
        return self._observed(self.store.read(relpath))

    def read_optional(self, relpath: str) -> Snapshot | None:
        try:
            return self._observed(self.store.read(relpath))
        except DocumentNotFound:
            return None

    def _observed(self, snapshot: Snapshot) -> Snapshot:
        """`snapshot`, its shape remembered for `role_guard` when it is a role document read whole: the first
        write of a session then knows the document it expects, and waits for a save caught half-way."""
        if snapshot.path in self._role_paths:
            shape = shape_of(snapshot.text)
            known = self._shapes.get(snapshot.path)
            if known is None or shape_problem(shape, known) is None:
                self._shapes[snapshot.path] = shape
        return snapshot

    def read_page(self, handle: str, offset: int = 0, page_chars: int = PAGE_CHARS) -> Page:
        """A document or one section, `page_chars` at a time, cut at a line break."""
        parsed = parse_handle(handle)
        snapshot = self._observed(self.store.read(parsed.path))
        text = snapshot.text
        if parsed.section:
            document = parse_markdown(text)
            section = document.find(parsed.section, document=parsed.path)
            text = text[section.start : section.end]
        if offset < 0 or (offset > 0 and offset >= len(text)):
            raise InvalidInput(f"offset {offset} is outside the text (0..{max(len(text) - 1, 0)}).")
        end = min(len(text), offset + page_chars)
        if end < len(text):
            cut = text.rfind("\n", offset, end)
            end = cut + 1 if cut > offset else end
        return Page(
            handle=str(parsed),
            path=parsed.path,
            version=snapshot.version,
            text=text[offset:end],
            offset=offset,
            next_offset=end if end < len(text) else None,
            total_chars=len(text),
        )

    def working_memory(self) -> WorkingMemory | None:
        snapshot = self.read_optional(self.layout.working_memory)
        return parse_working_memory(snapshot.text) if snapshot else None

    def progress(self) -> Progress | None:
        snapshot = self.read_optional(self.layout.progress)
        return parse_progress(snapshot.text) if snapshot else None

    def plan(self) -> Plan | None:
        snapshot = self.read_optional(self.layout.plan)
        return parse_plan(snapshot.text) if snapshot else None

    def research_todos(self) -> list[TodoItem]:
        snapshot = self.read_optional(self.layout.research_todo)
        return parse_research_todo(snapshot.text) if snapshot else []

    def discussions(self, skipped: dict[str, str] | None = None) -> list[Discussion]:
        """Every discussion the memory can read. One it cannot (saved as GBK, binary, or behind a folder a sync
        client just swapped for a symlink) is left out, its path and reason added to `skipped`: one bad file must
        not hide all the others, nor fail a write that only looks for its topic among them."""
        found = []
        for path in self.store.iter_markdown():
            if self.layout.kind_of(path) is DocumentKind.DISCUSSION:
                snapshot = readable(functools.partial(self.read_optional, path), path, skipped)
                if snapshot is not None:
                    found.append(parse_discussion(path, snapshot.text))
        return found

    def list_discussions(self, *, offset: int = 0, limit: int = 20, lecture: int | None = None,
                         text: str | None = None, skipped: dict[str, str] | None = None) -> DiscussionList:
        return recording.list_discussions(self, offset=offset, limit=limit, lecture=lecture, text=text,
                                          skipped=skipped)

    def documents(self) -> list[str]:
        return list(self.store.iter_markdown())

    # --- writes -----------------------------------------------------------------------------------------

    def role_guard(self, path: str) -> Guard:
        """Wait while a role document reads as half-saved: missing, empty, or shorter than at the last good read
        and with fewer `##` sections or without the footer it had then (an editor's truncate-then-write caught
        in the middle, or stalled on a slow disk). A shape that stays the same for GUARD_PATIENCE_SECONDS is the
        person's own (they removed a section): it is accepted, and remembered as the new good shape."""

        def guard(text: str | None) -> str | None:
            if text is None:
                return "it is missing"
            if not text.strip():
                return "it is empty"
            shape = shape_of(text)
            problem = shape_problem(shape, self._shapes.get(path, (0, False, 0)))
            if problem is not None:
                seen = self._suspect.setdefault(path, (hash(text), time.monotonic()))
                if seen[0] != hash(text):
                    self._suspect[path] = (hash(text), time.monotonic())
                    return problem
                if time.monotonic() - seen[1] < GUARD_PATIENCE_SECONDS:
                    return problem
            self._suspect.pop(path, None)
            self._shapes[path] = shape
            return None

        return guard

    def append_insight(self, title: str, body: str, tags: list[str] | None = None,
                       lecture: str | int | None = None) -> WriteResult:
        return recording.append_insight(self, title, body, tags, lecture)

    def revise_insight(self, title: str, body: str, expected_version: str) -> WriteResult:
        return recording.revise_insight(self, title, body, expected_version)

    def record_discussion(self, topic: str, parts: DiscussionParts, tags: list[str] | None = None,
                          lecture: str | int | None = None, summary: str | None = None) -> WriteResult:
        return recording.record_discussion(self, topic, parts, tags, lecture, summary)

    def update_progress(self, lecture: str | int, status: str | None = None, note: str | None = None) -> WriteResult:
        return tracking.update_progress(self, lecture, status, note)

    def add_research_todo(self, item: str, topic: str | None = None) -> WriteResult:
        return tracking.add_research_todo(self, item, topic)

    def complete_research_todo(self, item: str) -> WriteResult:
        return tracking.complete_research_todo(self, item)

    def save_lecture_note(self, lecture: str | int, part: str, content: str,
                          expected_version: str | None = None) -> WriteResult:
        return editing.save_lecture_note(self, lecture, part, content, expected_version)

    def update_section(self, handle: str, content: str, expected_version: str) -> WriteResult:
        return editing.update_section(self, handle, content, expected_version)

    def history(self, path: str | None = None, limit: int = 20) -> list[WriteRecord]:
        return editing.history(self, path, limit)

    def undo(self, write_id: str | None = None, *, own: bool = False) -> WriteResult:
        return editing.undo(self, write_id, own=own)


__all__ = ["DiscussionList", "Page", "ProjectMemory", "WriteResult"]
