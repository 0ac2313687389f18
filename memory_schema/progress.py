"""The progress document (`学习进度.md`): a summary and one table row per lecture.

The table is found by its header (讲座 / 状态, or Lecture / Status); a lecture's status is read from the
markers people use (✅ 已完成, 🔄 进行中, ⬜ 未开始, done, in progress). Editing a lecture rewrites that one row.
"""

import re
from enum import StrEnum

from pydantic import BaseModel

from memory_schema.errors import InvalidInput
from memory_schema.lectures import lecture_label, parse_lecture
from memory_schema.markdown import append_list_item, append_to_section, insert_section, parse_markdown
from memory_schema.vocabulary import COLUMNS, STATUS_MARKERS, STATUS_WORDS, Language
from memory_schema.working_memory import ProgressSummary, parse_progress_summary

# A row ends before its line break; a CRLF file's `\r` stays out of the match so rewriting a row keeps it.
_ROW = re.compile(r"^[ \t]*\|[^\r\n]*\|[ \t]*(?=\r?\n|\r|\Z)", re.M)


class LectureStatus(StrEnum):
    DONE = "done"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"


_STATUS_WORDS = {
    LectureStatus.DONE: ("done", "completed", "complete", "finished", "已完成", "完成", "✅"),
    LectureStatus.IN_PROGRESS: ("in_progress", "in progress", "doing", "started", "进行中", "🔄"),
    LectureStatus.NOT_STARTED: ("not_started", "not started", "todo", "未开始", "⬜"),
}


def status_from_word(word: str) -> LectureStatus:
    """The status a caller asks for, in either language, or InvalidInput."""
    wanted = word.strip().lower()
    for state, words in _STATUS_WORDS.items():
        if wanted in words:
            return state
    raise InvalidInput(f"unknown status {word!r}; use done, in_progress or not_started.")


class LectureProgress(BaseModel):
    number: int
    label: str
    topic: str
    phase: str
    status: LectureStatus
    done_on: str | None


class Progress(BaseModel):
    summary: ProgressSummary | None
    lectures: list[LectureProgress]

    @property
    def done(self) -> int:
        return sum(lecture.status is LectureStatus.DONE for lecture in self.lectures)

    @property
    def total(self) -> int:
        return len(self.lectures) or (self.summary.total if self.summary else 0)

    def current(self) -> LectureProgress | None:
        """The lecture in progress, else the first one not done."""
        doing = [lec for lec in self.lectures if lec.status is LectureStatus.IN_PROGRESS]
        todo = [lec for lec in self.lectures if lec.status is LectureStatus.NOT_STARTED]
        pending = doing or todo
        return pending[0] if pending else None


def parse_status(cell: str) -> LectureStatus:
    lowered = cell.lower()
    # "未完成", "待完成" and "not done" contain a done word; a not-done marker wins over it.
    not_done = any(marker in lowered for marker in STATUS_MARKERS["not_done"])
    if not not_done and any(marker in lowered for marker in STATUS_MARKERS["done"]):
        return LectureStatus.DONE
    if any(marker in lowered for marker in STATUS_MARKERS["in_progress"]):
        return LectureStatus.IN_PROGRESS
    return LectureStatus.NOT_STARTED


class _Table:
    """The lecture table: its rows as (match, cells) and the index of each known column."""

    def __init__(self, text: str) -> None:
        self.rows: list[tuple[re.Match[str], list[str]]] = []
        self.columns: dict[str, int] = {}
        for match in _ROW.finditer(text):
            cells = _cells(match.group(0))
            if not self.columns:
                found = {
                    role: i for i, cell in enumerate(cells) for role, words in COLUMNS.items() if cell in words
                }
                if "lecture" in found and "status" in found:
                    self.columns = found
                continue
            if all(set(cell) <= set("-: ") for cell in cells):
                continue
            if parse_lecture(self.cell(cells, "lecture")) is not None:
                self.rows.append((match, cells))

    def cell(self, cells: list[str], role: str) -> str:
        index = self.columns.get(role)
        return cells[index] if index is not None and index < len(cells) else ""


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def parse_progress(text: str) -> Progress:
    table = _Table(text)
    lectures = []
    for _, cells in table.rows:
        number = parse_lecture(table.cell(cells, "lecture")) or 0
        lectures.append(
            LectureProgress(
                number=number,
                label=lecture_label(number),
                topic=table.cell(cells, "topic"),
                phase=table.cell(cells, "phase"),
                status=parse_status(table.cell(cells, "status")),
                done_on=table.cell(cells, "done_on") or None,
            )
        )
    return Progress(summary=parse_progress_summary(text), lectures=lectures)


def set_lecture_status(
    text: str, number: int, status: LectureStatus, today: str, language: Language
) -> str:
    """Rewrite the row of lecture `number` with `status` (and today's date when it becomes done)."""
    table = _Table(text)
    for match, cells in table.rows:
        if parse_lecture(table.cell(cells, "lecture")) != number:
            continue
        if parse_status(table.cell(cells, "status")) is status:
            return text  # already so: its row, and the date it was done on, stay as they are
        width = max(len(cells), max(table.columns.values()) + 1)
        cells = cells + [""] * (width - len(cells))  # a short row gets the header's columns
        cells[table.columns["status"]] = STATUS_WORDS[status.value][language]
        if "done_on" in table.columns:
            cells[table.columns["done_on"]] = today if status is LectureStatus.DONE else ""
        indent = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
        row = indent + "| " + " | ".join(cells) + " |"
        return text[: match.start()] + row + text[match.end() :]
    known = ", ".join(lecture_label(parse_lecture(table.cell(c, "lecture")) or 0) for _, c in table.rows)
    raise InvalidInput(f"the progress table has no row for {lecture_label(number)}; known lectures: {known or 'none'}.")


def add_log_line(text: str, today: str, line: str, language: Language) -> str:
    """Add `- line` under `## 学习日志` / `### today`; the log is newest first, so a new day goes on top."""
    document = parse_markdown(text)
    log_title = "学习日志" if language == "zh" else "Log"
    log = document.find_optional(log_title)
    if log is None:
        top = next((s for s in document.headings() if s.level == 1), None)
        return insert_section(document, top, 2, log_title, f"### {today}\n- {line}")
    days = document.children(log)
    today_section = next((s for s in days if s.title == today), None)
    if today_section is not None:
        return append_list_item(document, today_section, f"- {line}")
    if not days:
        return append_to_section(document, log, f"### {today}\n- {line}")
    newline = document.newline
    block = f"### {today}{newline}- {line}{newline}{newline}"
    return text[: days[0].start] + block + text[days[0].start :]
