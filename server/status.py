"""The status dashboard's facts: progress, this week's activity, open TODOs, next steps, index freshness."""

import re
from datetime import date, timedelta

from pydantic import BaseModel

from memory_schema.progress import LectureProgress
from server.memory import ProjectMemory

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class DatedEvent(BaseModel):
    day: date
    kind: str  # "insight" | "discussion" | "lecture"
    title: str


class StatusReport(BaseModel):
    root: str
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
    index_files: int
    timeline: list[DatedEvent]


def build_status(memory: ProjectMemory) -> StatusReport:
    today = memory.today()
    week_start = today - timedelta(days=6)
    working = memory.working_memory()
    progress = memory.progress()
    discussions = memory.discussions()
    timeline: list[DatedEvent] = []
    for insight in working.insights if working else []:
        found = _DATE.findall(insight.body)
        if found:
            timeline.append(DatedEvent(day=date.fromisoformat(found[-1]), kind="insight", title=insight.title))
    for discussion in discussions:
        if discussion.created and _DATE.fullmatch(discussion.created[:10]):
            timeline.append(DatedEvent(day=date.fromisoformat(discussion.created[:10]), kind="discussion",
                                       title=discussion.title))
    for lecture in progress.lectures if progress else []:
        if lecture.done_on and _DATE.fullmatch(lecture.done_on):
            timeline.append(DatedEvent(day=date.fromisoformat(lecture.done_on), kind="lecture",
                                       title=f"{lecture.label} {lecture.topic}"))
    timeline.sort(key=lambda event: event.day)
    summary = working.progress if working and working.progress else progress.summary if progress else None
    done = progress.done if progress and progress.lectures else summary.done if summary else 0
    total = progress.total if progress and progress.lectures else summary.total if summary else 0
    status = memory.index_status()
    first_steps = working.next_steps[0].items if working and working.next_steps else []
    return StatusReport(
        root=str(memory.root),
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
        open_todos=[item.text for item in memory.research_todos() if not item.done],
        next_steps=first_steps,
        index_state=status.state,
        index_files=status.files,
        timeline=timeline,
    )
