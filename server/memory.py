"""The use cases: everything a tool, a CLI command or a test asks of a memory root.

`ProjectMemory` reads through the store, writes through `store.edit` (locked, re-read, atomic), and tells the
search index about its own writes before returning, so a search right after a write finds it. The MCP
layer and the CLI are thin edges over this class.
"""

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel

from memory_schema.discussion import Discussion, DiscussionParts, parse_discussion, render_discussion, render_round
from memory_schema.errors import DocumentNotFound, InvalidInput, ProjectMemoryError
from memory_schema.layout import CONFIG_FILE, DocumentKind, Layout, detect_layout
from memory_schema.lectures import lecture_label, lecture_number, optional_lecture_label, parse_lecture
from memory_schema.markdown import parse_markdown, replace_section_body
from memory_schema.notes import lecture_folder, part_file, phase_folder
from memory_schema.plan import Plan, parse_plan
from memory_schema.progress import Progress, add_log_line, parse_progress, set_lecture_status, status_from_word
from memory_schema.research_todo import TodoItem, add_todo, complete_todo, parse_research_todo
from memory_schema.validation import MAX_NOTE_CHARS, check_body, check_tags, check_title
from memory_schema.vocabulary import OTHER, Language
from memory_schema.working_memory import (
    WorkingMemory,
    add_discussion_ref,
    append_insight,
    has_insight,
    insight_meta_line,
    parse_working_memory,
    render_insight,
    set_progress,
    set_updated,
)
from server.handles import parse_handle, section_handle
from server.search import IndexStatus, SearchEngine, SearchResults
from server.store import NoteStore, Snapshot

logger = logging.getLogger(__name__)

PAGE_CHARS = 4000  # about 4-5k tokens of Chinese: well under Claude Code's 25k-token result cap

class WriteResult(BaseModel):
    """What a write did: the file, its new version, and whether anything changed."""

    path: str
    version: str
    handle: str
    changed: bool
    message: str


class Page(BaseModel):
    handle: str
    path: str
    version: str
    text: str
    offset: int
    next_offset: int | None
    total_chars: int


class ProjectMemory:
    def __init__(
        self,
        root: Path,
        *,
        index_dir: Path | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.store = NoteStore(root)
        self.root = self.store.root
        self.layout = self._detect_layout()
        self.language: Language = "zh" if self.layout.language == "zh" else "en"
        self.search_engine = SearchEngine(self.store, self.layout, index_dir=index_dir)
        self._today = today
        # Set by live sync: called before each search so a missed file event cannot leave results stale.
        self.freshness_check: Callable[[], None] | None = None

    def _detect_layout(self) -> Layout:
        config = self.root / CONFIG_FILE
        text = config.read_text(encoding="utf-8") if config.is_file() else None
        return detect_layout(self.store.iter_markdown(), text)

    def today(self) -> date:
        return self._today()

    # --- index lifecycle ------------------------------------------------------------------------------

    def warm_up(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Load the dictionary and bring the index up to date; safe to call from a background thread."""
        self.search_engine.warm_up(progress)

    def index_status(self) -> IndexStatus:
        return self.search_engine.status()

    def close(self) -> None:
        self.search_engine.close()

    def __enter__(self) -> "ProjectMemory":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _indexed(self, *paths: str) -> None:
        """Read our own writes: the index learns about a write before the tool returns."""
        try:
            self.search_engine.update_paths(paths)
        except ProjectMemoryError:
            logger.warning("index update after a write failed; the next search reconciles", exc_info=True)

    # --- reads ----------------------------------------------------------------------------------------

    def read_text(self, relpath: str) -> Snapshot:
        return self.store.read(relpath)

    def read_optional(self, relpath: str) -> Snapshot | None:
        try:
            return self.store.read(relpath)
        except DocumentNotFound:
            return None

    def read_page(self, handle: str, offset: int = 0, page_chars: int = PAGE_CHARS) -> Page:
        """A document or one section, `page_chars` at a time, cut at a line break."""
        parsed = parse_handle(handle)
        snapshot = self.store.read(parsed.path)
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

    def discussions(self) -> list[Discussion]:
        found = []
        for path in self.store.iter_markdown():
            if self.layout.kind_of(path) is DocumentKind.DISCUSSION:
                snapshot = self.read_optional(path)
                if snapshot is not None:
                    found.append(parse_discussion(path, snapshot.text))
        return found

    def documents(self) -> list[str]:
        return list(self.store.iter_markdown())

    def search(
        self,
        query: str,
        *,
        scope: str = "all",
        limit: int = 10,
        lecture: int | str | None = None,
        tags: list[str] | None = None,
        since: date | datetime | None = None,
        all_sections: bool = False,
    ) -> SearchResults:
        if self.freshness_check is not None:
            self.freshness_check()
        return self.search_engine.search(
            query, scope=scope, limit=limit, lecture=lecture, tags=tags, since=since, all_sections=all_sections
        )

    # --- writes ---------------------------------------------------------------------------------------

    def append_insight(
        self, title: str, body: str, tags: list[str] | None = None, lecture: str | int | None = None
    ) -> WriteResult:
        title = check_title(title)
        body = check_body(body)
        tag_list = check_tags(tags)
        label = optional_lecture_label(lecture)
        today = self.today().isoformat()
        meta = insight_meta_line(self.language, tag_list, label, today)
        entry = render_insight(title, body, meta)
        path = self.layout.working_memory
        duplicate = False

        def change(text: str) -> str:
            nonlocal duplicate
            if has_insight(text, title, body):
                duplicate = True
                return text
            return set_updated(append_insight(text, entry, self.language), today)

        snapshot = self.store.edit(path, change)
        self._indexed(path)
        return WriteResult(
            path=path,
            version=snapshot.version,
            handle=section_handle(path, ("", "重要技术洞察记录" if self.language == "zh" else "Key insights", title)),
            changed=not duplicate,
            message="already recorded; nothing added" if duplicate else f"insight '{title}' added",
        )

    def record_discussion(
        self,
        topic: str,
        parts: DiscussionParts,
        tags: list[str] | None = None,
        lecture: str | int | None = None,
    ) -> WriteResult:
        topic = check_title(topic, "topic")
        checked = DiscussionParts(
            **{name: check_body(getattr(parts, name), name) for name in DiscussionParts.model_fields}
        )
        tag_list = check_tags(tags)
        label = optional_lecture_label(lecture)
        today = self.today()
        path = self.layout.discussion_path(topic)
        existed = self.store.exists(path)

        def change(text: str) -> str:
            if not text.strip():
                return render_discussion(
                    topic, checked, lecture=label, tags=tag_list, today=today, language=self.language
                )
            rounds = parse_discussion(path, text).rounds
            separator = "" if text.endswith(("\n", "\r")) else "\n"
            return text + separator + "\n" + render_round(rounds + 1, checked, today, self.language) + "\n"

        snapshot = self.store.edit(path, change, create=True)
        file_name = path.rsplit("/", 1)[-1]
        summary = checked.question.strip().splitlines()[0][:60]
        lagging = self._follow_up(
            lambda text: set_updated(add_discussion_ref(text, file_name, summary, self.language), today.isoformat())
        )
        self._indexed(path, self.layout.working_memory)
        what = "new round appended to" if existed else "created"
        return WriteResult(path=path, version=snapshot.version, handle=path, changed=True,
                           message=f"{what} {path}{lagging}")

    def _follow_up(self, change: Callable[[str], str]) -> str:
        """Apply a secondary edit to the working memory after the primary write landed.

        The primary write (the record, the progress table) is already saved, so a failure here must not turn
        into an error: the model would retry and save the record twice. It is reported in the message instead;
        the next write or `doctor` brings the working memory back in line.
        """
        if not self.store.exists(self.layout.working_memory):
            return ""
        try:
            self.store.edit(self.layout.working_memory, change)
        except ProjectMemoryError as err:
            logger.warning("working memory not updated after a saved write: %s", err)
            return f"; saved, but {self.layout.working_memory} was not updated ({err})"
        return ""

    def update_progress(self, lecture: str | int, status: str, note: str | None = None) -> WriteResult:
        number = lecture_number(lecture)
        state = status_from_word(status)
        note_text = check_body(note, "note") if note else None
        today = self.today().isoformat()
        path = self.layout.progress
        if not self.store.exists(path):
            raise DocumentNotFound(path)
        after: Progress | None = None

        def change(text: str) -> str:
            nonlocal after
            updated = set_lecture_status(text, number, state, today, self.language)
            after = parse_progress(updated)
            updated = set_progress(updated, after.done, after.total, self._phase_line(after))
            if note_text:
                updated = add_log_line(updated, today, f"{lecture_label(number)}: {note_text}", self.language)
            return updated

        snapshot = self.store.edit(path, change)
        assert after is not None
        done, total = after.done, after.total

        def mirror_progress(text: str) -> str:
            # Read the table again under the working memory's lock: another process may have updated it since
            # our edit, and the last writer here must leave both documents agreeing.
            current = parse_progress(self.store.read(path).text)
            return set_updated(set_progress(text, current.done, current.total, self._phase_line(current)), today)

        lagging = self._follow_up(mirror_progress)
        self._indexed(path, self.layout.working_memory)
        return WriteResult(
            path=path,
            version=snapshot.version,
            handle=path,
            changed=True,
            message=f"{lecture_label(number)} marked {state.value}; {done}/{total} ({100 * done / total:.1f}%) done"
            + lagging,
        )

    def _phase_line(self, progress: Progress) -> str | None:
        current = progress.current()
        plan = self.plan()
        if current is None:
            return None
        phase = plan.phase_of(current.number) if plan else None
        heading = phase.heading if phase else current.phase
        return f"{heading} ({OTHER['in_progress_suffix'][self.language]})" if heading else None

    def add_research_todo(self, item: str, topic: str | None = None) -> WriteResult:
        item = check_title(item, "item")
        heading = check_title(topic, "topic") if topic else OTHER["uncategorized"][self.language]
        today = self.today().isoformat()
        path = self.layout.research_todo
        snapshot = self.store.edit(path, lambda text: add_todo(text, item, heading, today), create=True)
        self._indexed(path)
        return WriteResult(path=path, version=snapshot.version, handle=path, changed=True, message=f"added: {item}")

    def complete_research_todo(self, item: str) -> WriteResult:
        item = check_title(item, "item")
        today = self.today().isoformat()
        path = self.layout.research_todo
        snapshot = self.store.edit(path, lambda text: complete_todo(text, item, today))
        self._indexed(path)
        return WriteResult(path=path, version=snapshot.version, handle=path, changed=True, message=f"done: {item}")

    def save_lecture_note(
        self, lecture: str | int, part: str, content: str, expected_version: str | None = None
    ) -> WriteResult:
        number = lecture_number(lecture)
        file_name = part_file(part)
        body = check_body(content, "content", limit=MAX_NOTE_CHARS, min_heading=1)
        path = f"{self._lecture_dir(number)}/{file_name}"
        exists = self.store.exists(path)
        if exists and expected_version is None:
            current = self.store.read(path)
            raise InvalidInput(
                f"{path} already exists (version {current.version}); read it with read_memory and pass "
                "expected_version to replace it."
            )
        text = body + "\n"
        snapshot = self.store.write(path, text, expected_version=expected_version, create=not exists)
        self._indexed(path)
        return WriteResult(
            path=path, version=snapshot.version, handle=path, changed=True, message=f"saved {path}"
        )

    def _lecture_dir(self, number: int) -> str:
        notes = self.layout.notes_dir
        for path in self.store.iter_markdown():
            if not path.startswith(notes + "/"):
                continue
            folder = path.rsplit("/", 1)[0]
            if folder != notes and parse_lecture(folder.rsplit("/", 1)[-1]) == number:
                return folder
        plan = self.plan()
        phase = plan.phase_of(number) if plan else None
        planned = plan.lecture(number) if plan else None
        phase_dir = phase_folder(phase.number, phase.name) if phase else "00-未分阶段"
        return f"{notes}/{phase_dir}/{lecture_folder(number, planned.title if planned else '')}"

    def update_section(self, handle: str, content: str, expected_version: str) -> WriteResult:
        parsed = parse_handle(handle)
        if not parsed.section:
            raise InvalidInput("update_section needs a section handle such as 'AI助手工作记忆.md#下一步计划'.")
        if not expected_version:
            raise InvalidInput("expected_version is required; read the section with read_memory first.")
        section_path = parsed.section

        def change(text: str) -> str:
            document = parse_markdown(text)
            section = document.find(section_path, document=parsed.path)
            body = check_body(content, "content", limit=MAX_NOTE_CHARS, min_heading=section.level + 1)
            return replace_section_body(document, section, body)

        snapshot = self.store.edit(parsed.path, change, expected_version=expected_version)
        self._indexed(parsed.path)
        return WriteResult(
            path=parsed.path, version=snapshot.version, handle=str(parsed), changed=True, message=f"replaced {parsed}"
        )
