"""The status dashboard's facts: the course, progress, dated activity week by week, open TODOs, next steps and
index freshness. Plain data for the terminal view and the HTML page; it reads the memory and renders nothing."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from memory_schema.progress import LectureProgress
from server.memory import readable

if TYPE_CHECKING:  # only for the annotation: the report and the page need none of the memory's machinery
    from server.memory import ProjectMemory

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COURSE_FIELDS = ("项目名称", "Project")


class DatedEvent(BaseModel):
    day: date
    kind: str  # "insight" | "discussion" | "lecture"
    title: str


class WeekActivity(BaseModel):
    week_start: date  # the Monday of an ISO week
    insights: int
    discussions: int
    lectures_done: int


class StatusReport(BaseModel):
    root: str
    layout: str
    course: str
    today: date
    done: int
    total: int
    phase: str | None
    week: str | None
    lectures: list[LectureProgress]
    insights_total: int
    insights_this_week: int
    discussions_total: int
    discussions_this_week: int
    open_todos: list[str]
    next_steps: list[str]
    index_state: str
    left_out: list[str] = []  # files the status could not read, and why: its figures leave them out
    index_files: int
    timeline: list[DatedEvent]
    weekly_activity: list[WeekActivity]


def build_status(memory: ProjectMemory) -> StatusReport:
    today = memory.today()
    week_start = today - timedelta(days=6)
    unreadable: dict[str, str] = {}  # the status shows what the memory can read; the briefing says the rest
    working = readable(memory.working_memory, memory.layout.working_memory, unreadable)
    progress = readable(memory.progress, memory.layout.progress, unreadable)
    todos = readable(memory.research_todos, memory.layout.research_todo, unreadable) or []
    discussions = memory.discussions(unreadable)
    timeline: list[DatedEvent] = []
    for insight in working.insights if working else []:
        found = _DATE.findall(insight.body)
        if found and (day := _parse_day(found[-1])):
            timeline.append(DatedEvent(day=day, kind="insight", title=insight.title))
    for discussion in discussions:
        if discussion.created and (day := _parse_day(discussion.created[:10])):
            timeline.append(DatedEvent(day=day, kind="discussion", title=discussion.title))
    for lecture in progress.lectures if progress else []:
        if lecture.done_on and (day := _parse_day(lecture.done_on)):
            timeline.append(DatedEvent(day=day, kind="lecture", title=f"{lecture.label} {lecture.topic}"))
    timeline.sort(key=lambda event: event.day)
    summary = working.progress if working and working.progress else progress.summary if progress else None
    done = progress.done if progress and progress.lectures else summary.done if summary else 0
    total = progress.total if progress and progress.lectures else summary.total if summary else 0
    status = memory.index_status()
    first_steps = working.next_steps[0].items if working and working.next_steps else []
    overview = working.overview if working else {}
    course = next((overview[field] for field in _COURSE_FIELDS if overview.get(field, "").strip()), None)
    return StatusReport(
        root=str(memory.root),
        layout=memory.layout.preset,
        course=(course or memory.root.name).strip(),
        today=today,
        done=done,
        total=total,
        phase=summary.phase if summary else None,
        week=summary.week if summary else None,
        lectures=progress.lectures if progress else [],
        insights_total=len(working.insights) if working else 0,
        insights_this_week=sum(1 for e in timeline if e.kind == "insight" and e.day >= week_start),
        discussions_total=len(discussions),
        discussions_this_week=sum(1 for e in timeline if e.kind == "discussion" and e.day >= week_start),
        open_todos=[item.text for item in todos if not item.done],
        next_steps=first_steps,
        index_state=status.state,
        index_files=status.files,
        timeline=timeline,
        weekly_activity=count_weekly_activity(timeline, today),
        left_out=list(unreadable.values()),
    )


def count_weekly_activity(timeline: list[DatedEvent], today: date) -> list[WeekActivity]:
    """One entry per ISO week (Monday first) from the week of the earliest event to the week of `today`, empty
    weeks included; events dated after `today` are left out. No events, no weeks."""
    past = [event for event in timeline if event.day <= today]
    if not past:
        return []
    first = _monday(min(event.day for event in past))
    weeks = [
        WeekActivity(week_start=first + timedelta(weeks=n), insights=0, discussions=0, lectures_done=0)
        for n in range((_monday(today) - first).days // 7 + 1)
    ]
    for event in past:
        week = weeks[(_monday(event.day) - first).days // 7]
        if event.kind == "insight":
            week.insights += 1
        elif event.kind == "discussion":
            week.discussions += 1
        elif event.kind == "lecture":
            week.lectures_done += 1
    return weeks


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _parse_day(text: str) -> date | None:
    """A YYYY-MM-DD date, or None for text that only looks like one (2025-13-40)."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
