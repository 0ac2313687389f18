"""The status report's facts and the HTML page made from them, without a browser."""

import re
from datetime import date
from pathlib import Path
from typing import Any

from memory_schema.progress import LectureProgress, LectureStatus
from server.memory import ProjectMemory
from server.status import DatedEvent, StatusReport, WeekActivity, build_status, count_weekly_activity
from server.status_html import render_status_html
from support import TODAY, copy_example


def event(day: str, kind: str, title: str = "t") -> DatedEvent:
    return DatedEvent(day=date.fromisoformat(day), kind=kind, title=title)


def lecture(number: int, status: LectureStatus, topic: str = "", phase: str = "第1阶段") -> LectureProgress:
    return LectureProgress(number=number, label=f"Lecture {number:02d}", topic=topic or f"Topic {number}",
                           phase=phase, status=status, done_on="2025-11-05" if status is LectureStatus.DONE else None)


def report(**overrides: Any) -> StatusReport:
    values: dict[str, Any] = {
        "root": "/notes", "layout": "cs336-zh", "course": "CS336", "today": date(2025, 11, 20), "done": 0, "total": 0,
        "phase": None,
        "week": None, "lectures": [], "insights_total": 0, "insights_this_week": 0, "discussions_total": 0,
        "discussions_this_week": 0, "open_todos": [], "next_steps": [], "index_state": "fresh", "index_files": 0,
        "timeline": [], "weekly_activity": [],
    }
    return StatusReport(**{**values, **overrides})


def week(start: str, insights: int = 0, discussions: int = 0, lectures_done: int = 0) -> WeekActivity:
    return WeekActivity(week_start=date.fromisoformat(start), insights=insights, discussions=discussions,
                        lectures_done=lectures_done)


# --- weekly activity ---------------------------------------------------------------------------------------


def test_weekly_activity_has_one_week_per_monday_from_the_first_event_to_today_empty_weeks_included() -> None:
    timeline = [event("2025-11-05", "discussion"), event("2025-11-27", "insight")]
    weeks = count_weekly_activity(timeline, today=date(2025, 12, 1))
    assert [w.week_start.isoformat() for w in weeks] == [
        "2025-11-03", "2025-11-10", "2025-11-17", "2025-11-24", "2025-12-01"]
    assert weeks[1] == week("2025-11-10")


def test_weekly_activity_counts_each_kind_in_its_iso_week_sunday_closing_the_week() -> None:
    timeline = [event("2025-11-03", "insight"), event("2025-11-09", "discussion"), event("2025-11-09", "lecture"),
                event("2025-11-10", "discussion"), event("2025-11-12", "discussion")]
    weeks = count_weekly_activity(timeline, today=date(2025, 11, 12))
    assert weeks == [week("2025-11-03", insights=1, discussions=1, lectures_done=1),
                     week("2025-11-10", discussions=2)]


def test_weekly_activity_is_empty_without_dated_events() -> None:
    assert count_weekly_activity([], today=date(2025, 11, 12)) == []


def test_weekly_activity_leaves_out_events_dated_after_today() -> None:
    timeline = [event("2025-11-04", "insight"), event("2099-01-01", "discussion")]
    assert count_weekly_activity(timeline, today=date(2025, 11, 4)) == [week("2025-11-03", insights=1)]
    assert count_weekly_activity(timeline[1:], today=date(2025, 11, 4)) == []


def test_the_example_report_names_the_course_and_counts_its_weeks(tmp_path: Path) -> None:
    with ProjectMemory(copy_example(tmp_path), today=lambda: TODAY) as memory:
        status = build_status(memory)
    assert status.course.startswith("CS336 语言模型从零构建 自学")
    first_monday, this_monday = date(2025, 11, 3), date(2026, 11, 30)
    assert len(status.weekly_activity) == (this_monday - first_monday).days // 7 + 1 == 57
    assert status.weekly_activity[0] == week("2025-11-03", discussions=6, lectures_done=2)
    assert sum(w.discussions for w in status.weekly_activity) == status.discussions_total


def test_the_course_falls_back_to_the_root_folders_name_without_a_project_field(tmp_path: Path) -> None:
    root = copy_example(tmp_path, name="my-notes")
    working = root / "AI助手工作记忆.md"
    text = working.read_text(encoding="utf-8")
    working.write_text(re.sub(r"^\*\*项目名称\*\*.*\n", "", text, flags=re.M), encoding="utf-8")
    with ProjectMemory(root, today=lambda: TODAY) as memory:
        assert build_status(memory).course == "my-notes"


def test_a_date_that_only_looks_like_one_is_left_out_of_the_timeline(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    progress = root / "学习进度.md"
    progress.write_text(progress.read_text(encoding="utf-8").replace("2025-11-05", "2025-13-45"), encoding="utf-8")
    with ProjectMemory(root, today=lambda: TODAY) as memory:
        status = build_status(memory)
    assert [e.title for e in status.timeline if e.kind == "lecture"] == ["Lecture 02 PyTorch & Resource Accounting"]


# --- the page ------------------------------------------------------------------------------------------------


def test_the_page_title_and_heading_carry_the_course_name() -> None:
    page = render_status_html(report(course="CS336 Deep Learning Systems 学习"))
    assert "<title>CS336 Deep Learning Systems 学习 · study status</title>" in page
    assert '<h1 id="course">CS336 Deep Learning Systems 学习</h1>' in page


def test_the_page_escapes_the_persons_text_and_shows_backticks_as_code() -> None:
    hostile = 'a < b & "c" `x<y>`'
    page = render_status_html(report(
        course=hostile, root="/n<o>tes&", phase=hostile, lectures=[lecture(1, LectureStatus.DONE, topic=hostile)],
        open_todos=[hostile], next_steps=[hostile], timeline=[event("2025-11-05", "insight", hostile)],
        weekly_activity=[week("2025-11-03", insights=1)],
    ))
    assert "<title>a &lt; b &amp; &quot;c&quot; `x&lt;y&gt;` · study status</title>" in page
    assert 'a &lt; b &amp; &quot;c&quot; <code>x&lt;y&gt;</code>' in page
    assert 'title="Lecture 01 a &lt; b &amp; &quot;c&quot; `x&lt;y&gt;`: done 2025-11-05"' in page
    assert "/n&lt;o&gt;tes&amp;" in page
    visible = re.sub(r'<title>.*?</title>|title="[^"]*"', "", page)
    assert "x<y>" not in page and "`" not in visible and '"c"' not in visible


def test_the_page_has_no_script_and_reaches_for_nothing_on_the_network() -> None:
    page = render_status_html(report(lectures=[lecture(1, LectureStatus.DONE)],
                                     timeline=[event("2025-11-05", "lecture")],
                                     weekly_activity=[week("2025-11-03", lectures_done=1)]))
    assert "<script" not in page and "url(" not in page and "@import" not in page
    assert re.findall(r"https?://[^\"']*", page) == ["http://www.w3.org/2000/svg"]


def test_the_page_shows_a_tile_per_lecture_with_its_name_state_and_a_legend() -> None:
    lectures = [lecture(1, LectureStatus.DONE, topic="Overview & Tokenization"),
                lecture(2, LectureStatus.IN_PROGRESS, topic="PyTorch"),
                lecture(3, LectureStatus.NOT_STARTED, topic="Transformer Architecture", phase="第2阶段")]
    page = render_status_html(report(lectures=lectures, done=1, total=3))
    tiles = re.findall(r'<li class="lecture (\w+)".*?<span class="topic">(.*?)</span></li>', page)
    assert tiles == [("done", "Overview &amp; Tokenization"), ("in_progress", "PyTorch"),
                     ("not_started", "Transformer Architecture")]
    assert re.findall(r'<div class="lane-name">(.*?)</div>', page) == ["第1阶段", "第2阶段"]
    legend = dict(re.findall(r'id="count-(\w+)">(\d+)<', page))
    assert legend == {"done": "1", "in_progress": "1", "not_started": "1"}


def test_the_page_draws_one_activity_column_per_week_and_marks_this_week() -> None:
    weeks = [week("2025-11-03", insights=2, discussions=1), week("2025-11-10"), week("2025-11-17", lectures_done=1)]
    page = render_status_html(report(weekly_activity=weeks, timeline=[event("2025-11-05", "insight")]))
    assert re.findall(r'<g class="week" data-week="([\d-]+)">', page) == ["2025-11-03", "2025-11-10", "2025-11-17"]
    assert page.count('class="insights"') == 1 and page.count('class="discussions"') == 1
    assert page.count('class="now"') == 1 and '<b id="week-count">3</b>' in page


def test_an_empty_memory_gets_a_page_that_says_there_is_nothing_yet() -> None:
    page = render_status_html(report(course="notes"))
    assert "<title>notes · study status</title>" in page
    assert 'class="lecture ' not in page and 'id="count-done"' not in page
    assert "No lecture table yet" in page and "Nothing dated yet" in page and 'class="week"' not in page
    assert "nothing dated yet" in page
