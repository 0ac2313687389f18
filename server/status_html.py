"""`status --html`: the dashboard as one self-contained page (inline CSS and SVG, no network, no script).

It owns the page's look: the course header, four summary cards on one row, the lecture map (one tile per
lecture, in phase lanes, done / in progress / not started), the weekly activity chart and the lists. Every piece
of the person's text goes through `escape` (attributes and SVG titles) or `_inline` (visible text).
"""

import re
from datetime import timedelta
from html import escape
from itertools import groupby

from memory_schema.progress import LectureProgress, LectureStatus
from server.status import StatusReport, WeekActivity

_CODE = re.compile(r"`([^`]+)`")
_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_STATE_WORDS = {LectureStatus.DONE: "done", LectureStatus.IN_PROGRESS: "in progress",
                LectureStatus.NOT_STARTED: "not started"}
_ICONS = {
    LectureStatus.DONE: '<circle cx="8" cy="8" r="7" fill="#2e9d5b"/>'
                        '<path d="M4.6 8.3l2.3 2.3 4.6-4.8" fill="none" stroke="#fff" stroke-width="2"/>',
    LectureStatus.IN_PROGRESS: '<circle cx="8" cy="8" r="6.2" fill="#fff" stroke="#d99a00" stroke-width="1.6"/>'
                               '<path d="M8 1.8a6.2 6.2 0 0 1 0 12.4z" fill="#d99a00"/>',
    LectureStatus.NOT_STARTED: '<circle cx="8" cy="8" r="6.2" fill="none" stroke="#9aa3ae" stroke-width="1.6" '
                               'stroke-dasharray="2.4 1.8"/>',
}
_RECENT_EVENTS = 12
# The activity chart's frame in SVG units: left margin for the axis labels, top, plot height and total width.
_LEFT, _TOP, _PLOT, _WIDTH = 30, 10, 90, 1030
_BASE = _TOP + _PLOT
_STYLE = """
:root{--ink:#1d232b;--muted:#67707c;--line:#e3e6eb;--done:#2e9d5b;--doing:#d99a00;--todo:#9aa3ae;
--insight:#8a5cd1;--discussion:#3b6fd8;--paper:#fff;--ground:#f5f6f8}
*{box-sizing:border-box}
body{margin:0;background:var(--ground);color:var(--ink);line-height:1.5;
font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif}
main{max-width:70rem;margin:0 auto;padding:1.5rem 1.5rem 3rem}
h1{font-size:1.65rem;line-height:1.3;margin:0 0 .3rem;overflow-wrap:anywhere}
h2{font-size:1.05rem;margin:0}
.muted{color:var(--muted)}
.meta{font-size:.85rem;margin:0 0 1rem;overflow-wrap:anywhere}
.date{white-space:nowrap}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.88em;background:#eef0f4;border-radius:4px;
padding:0 .25em}
.cards{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:1rem}
.card,section{background:var(--paper);border:1px solid var(--line);border-radius:12px}
.card{padding:.85rem 1rem;min-width:0;overflow-wrap:break-word}
.card .label{font-size:.78rem;letter-spacing:.04em;text-transform:uppercase;color:var(--muted)}
.card .value{display:block;font-size:1.75rem;font-weight:700;line-height:1.25;margin:.15rem 0}
.card .value.long{font-size:1.15rem;line-height:1.4;margin:.3rem 0}
.card .sub{display:block;font-weight:600;font-size:.95rem;margin-bottom:.1rem}
.card .note{font-size:.85rem;color:var(--muted)}
.bar{display:flex;height:.45rem;border-radius:99px;background:#e9ecf0;overflow:hidden;margin:.45rem 0 .3rem}
.bar span{display:block;height:100%}
section{margin-top:1rem;padding:.9rem 1.25rem 1rem}
.head{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:.3rem 1.5rem;
margin-bottom:.6rem}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1.1rem;font-size:.85rem;color:var(--muted);margin:0}
.legend span{display:inline-flex;align-items:center;gap:.35rem;white-space:nowrap}
.legend b{color:var(--ink)}
.swatch{width:.8rem;height:.8rem;border-radius:3px;display:inline-block}
.lane{display:grid;grid-template-columns:5.5rem minmax(0,1fr);gap:.75rem;align-items:start;padding:.35rem 0;
border-top:1px solid var(--line)}
.lane:first-of-type{border-top:0}
.lane-name{font-size:.85rem;font-weight:600;color:var(--muted);padding-top:.55rem;overflow-wrap:anywhere}
.tiles{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));
gap:.5rem}
.tiles .lecture{border:1px solid var(--line);border-left-width:4px;border-radius:8px;padding:.4rem .6rem .45rem;
min-width:0}
.tiles .top{display:flex;flex-wrap:wrap;align-items:center;gap:0 .4rem;font-size:.75rem;color:var(--muted)}
.tiles .top svg{flex:none}
.tiles .top span{white-space:nowrap}
.tiles .when{margin-left:auto;white-space:nowrap}
.tiles .topic{display:block;font-size:.92rem;font-weight:600;line-height:1.35;margin-top:.1rem;
overflow-wrap:anywhere}
.tiles .done{background:#eaf6ef;border-color:#c4e6d1;border-left-color:var(--done)}
.tiles .done .when{color:#22774a}
.tiles .in_progress{background:repeating-linear-gradient(135deg,#fff7e0 0 9px,#fdefc4 9px 18px);
border-color:#f1d789;border-left-color:var(--doing)}
.tiles .in_progress .when{color:#946800;font-weight:600}
.tiles .not_started{background:var(--paper);border-style:dashed;border-left-style:solid;
border-left-color:#d3d8df}
.tiles .not_started .topic{color:#4a525d;font-weight:500}
.scroll{overflow-x:auto}
.activity{display:block;width:100%;min-width:36rem;height:auto}
.activity text{font-size:11px;fill:var(--muted)} .activity .quiet{font-size:13px;fill:var(--todo)}
.activity .grid{stroke:var(--line);stroke-dasharray:3 3} .activity .axis{stroke:#c9ced6}
.activity .empty{fill:var(--line)} .activity .insights{fill:var(--insight)}
.activity .discussions{fill:var(--discussion)} .activity .lectures{fill:var(--done)}
.activity .now{fill:none;stroke:var(--todo);stroke-dasharray:2 2}
.columns{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:1rem}
.columns section{margin-top:1rem}
ul.plain{margin:.6rem 0 0;padding-left:1.2rem}
ul.plain li{margin:.25rem 0}
ol.timeline{list-style:none;margin:.6rem 0 0;padding:0}
ol.timeline li{border-left:3px solid var(--insight);padding:.15rem .8rem;margin:.35rem 0}
ol.timeline li.kind-discussion{border-color:var(--discussion)}
ol.timeline li.kind-lecture{border-color:var(--done)} ol.timeline li.more{border-color:transparent}
ol.timeline .when{font-size:.85rem;margin-right:.4rem}
@media (max-width:44rem){main{padding:1rem .75rem 2rem}.cards{grid-template-columns:repeat(2,minmax(0,1fr))}
.columns,.lane{grid-template-columns:minmax(0,1fr)}.lane{gap:.3rem}.lane-name{padding-top:0}
.tiles{grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr))}}
"""


def _inline(text: str) -> str:
    """Escape, then show Markdown `code` spans as <code> rather than raw backticks, and keep dates on one line."""
    return _DAY.sub(r'<span class="date">\g<0></span>', _CODE.sub(r"<code>\1</code>", escape(text)))


def render_status_html(report: StatusReport) -> str:
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(report.course)} · study status</title>
<style>{_STYLE}</style></head><body><main>
<h1 id="course">{_inline(report.course)}</h1>
<p class="meta muted">Status on {report.today.isoformat()} · {escape(report.root)} · index {escape(report.index_state)}
({report.index_files} files)</p>
{_cards(report)}
<section id="lectures"><div class="head"><h2>Lectures</h2>{_lecture_legend(report)}</div>
{_lecture_chart(report)}</section>
<section id="activity"><div class="head"><h2>Activity by week</h2>{_activity_legend(report)}</div>
<div class="scroll">{_activity_chart(report)}</div></section>
<div class="columns">
<section id="next-steps"><h2>Next steps</h2>{_list(report.next_steps, "none recorded")}</section>
<section id="todos"><h2>Open research TODOs</h2>{_list(report.open_todos, "none")}</section>
</div>
<section id="recent"><h2>Recent activity</h2>{_timeline(report)}</section>
</main></body></html>
"""


def _cards(report: StatusReport) -> str:
    percent = 100 * report.done / report.total if report.total else 0.0
    doing = sum(lecture.status is LectureStatus.IN_PROGRESS for lecture in report.lectures)
    doing_percent = min(100 * doing / report.total if report.total else 0.0, max(0.0, 100 - percent))
    doing_note = f" · {doing} in progress" if doing else ""
    phase_head, _, phase_rest = (report.phase or "–").partition(" - ")
    phase_size = " long" if len(phase_head) > 10 else ""
    return f"""<div class="cards">
<div class="card" id="lectures-done"><span class="label">Lectures done</span>
<b class="value">{report.done}/{report.total}</b>
<div class="bar"><span style="width:{percent:.1f}%;background:var(--done)"></span>
<span style="width:{doing_percent:.1f}%;background:var(--doing)"></span></div>
<span class="note">{percent:.1f}%{doing_note}</span></div>
<div class="card" id="phase"><span class="label">Phase</span>
<b class="value{phase_size}">{_inline(phase_head)}</b><span class="sub">{_inline(phase_rest)}</span>
<span class="note">{_inline(report.week or "")}</span></div>
<div class="card" id="this-week"><span class="label">Last 7 days</span>
<b class="value">{report.insights_this_week} / {report.discussions_this_week}</b>
<span class="note">insights / discussions<br>{report.insights_total} / {report.discussions_total} in all</span></div>
<div class="card" id="open-todos"><span class="label">Research TODOs</span>
<b class="value">{len(report.open_todos)}</b><span class="note">open</span></div>
</div>"""


def _icon(state: LectureStatus) -> str:
    return f'<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">{_ICONS[state]}</svg>'


def _lecture_legend(report: StatusReport) -> str:
    if not report.lectures:
        return ""
    counts = {state: sum(lecture.status is state for lecture in report.lectures) for state in LectureStatus}
    keys = "".join(
        f'<span class="key-{state.value}">{_icon(state)}<b id="count-{state.value}">{counts[state]}</b> '
        f"{_STATE_WORDS[state]}</span>"
        for state in LectureStatus
    )
    return f'<p class="legend" id="lecture-legend">{keys}</p>'


def _lecture_chart(report: StatusReport) -> str:
    """One tile per lecture with its name, in lanes by phase (consecutive rows of the progress table)."""
    if not report.lectures:
        return ('<p id="lecture-chart" class="muted">No lecture table yet: the progress document\'s table of '
                "lectures (讲座 | 主题 | 阶段 | 状态) appears here, one tile per lecture.</p>")
    lanes = []
    for phase, lectures in groupby(report.lectures, key=lambda lecture: lecture.phase):
        tiles = "".join(_lecture_tile(lecture) for lecture in lectures)
        lanes.append(f'<div class="lane"><div class="lane-name">{_inline(phase) or "–"}</div>'
                     f'<ol class="tiles">{tiles}</ol></div>')
    return f'<div id="lecture-chart" aria-label="lectures by state">{"".join(lanes)}</div>'


def _lecture_tile(lecture: LectureProgress) -> str:
    state = lecture.status
    when = {LectureStatus.DONE: lecture.done_on or "done", LectureStatus.IN_PROGRESS: "in progress"}.get(state, "")
    title = f"{lecture.label} {lecture.topic}: {_STATE_WORDS[state]}" + (
        f" {lecture.done_on}" if lecture.done_on else "")
    return (f'<li class="lecture {state.value}" title="{escape(title)}">'
            f'<span class="top">{_icon(state)}<span>{_inline(lecture.label)}</span>'
            f'<span class="when">{escape(when)}</span></span>'
            f'<span class="topic">{_inline(lecture.topic or lecture.label)}</span></li>')


def _activity_legend(report: StatusReport) -> str:
    weeks = report.weekly_activity
    if not weeks:
        return ""
    active = sum(1 for week in weeks if _busy(week))
    last = max((event.day for event in report.timeline if event.day <= report.today), default=None)
    return (f'<p class="legend"><span><i class="swatch" style="background:var(--insight)"></i>insights</span>'
            f'<span><i class="swatch" style="background:var(--discussion)"></i>discussions</span>'
            f'<span><i class="swatch" style="background:var(--done);border-radius:50%"></i>lecture done</span>'
            f'<span>active in <b>{active}</b> of <b id="week-count">{len(weeks)}</b> weeks · last '
            f"<b>{last.isoformat() if last else '–'}</b></span></p>")


def _activity_chart(report: StatusReport) -> str:
    """Stacked insight and discussion bars, one column per ISO week, a green dot under weeks a lecture was done,
    and the month along the bottom. The SVG scales down with the page; columns narrow as the weeks pile up."""
    weeks = report.weekly_activity
    if not weeks:
        return ('<p id="activity-chart" class="muted">Nothing dated yet: insights with a date, discussions and '
                "finished lectures appear here week by week.</p>")
    pitch = (_WIDTH - _LEFT) / max(len(weeks), 26)
    bar = max(1.0, pitch * 0.72)
    peak = max(1, *(week.insights + week.discussions for week in weeks))
    parts = [
        f'<line class="grid" x1="{_LEFT}" y1="{_TOP}" x2="{_WIDTH}" y2="{_TOP}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{_BASE}" x2="{_WIDTH}" y2="{_BASE}"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{_LEFT - 6}" y="{_BASE + 4}" text-anchor="end">0</text>',
    ]
    last_label = -1e9
    for index, week in enumerate(weeks):
        x = _LEFT + index * pitch
        this_week = index == len(weeks) - 1
        parts.append(_week_column(week, x + (pitch - bar) / 2, bar, _PLOT / peak, this_week=this_week))
        month = (week.week_start + timedelta(days=6)).strftime("%Y-%m")
        previous = (weeks[index - 1].week_start + timedelta(days=6)).strftime("%Y-%m") if index else ""
        if month != previous and x - last_label >= 56 and x + 46 <= _WIDTH:
            parts.append(f'<text x="{x:.1f}" y="{_BASE + 34}">{month}</text>')
            last_label = x
    parts.append(_quiet_stretch(weeks, _LEFT + pitch * len(weeks), pitch))
    height = _BASE + 40
    return (f'<svg id="activity-chart" class="activity" role="img" aria-label="insights and discussions per week" '
            f'viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')


def _busy(week: WeekActivity) -> bool:
    return bool(week.insights or week.discussions or week.lectures_done)


def _quiet_stretch(weeks: list[WeekActivity], end: float, pitch: float) -> str:
    """A note across the trailing weeks with nothing in them, when there are enough to look like a gap."""
    quiet = 0
    for week in reversed(weeks):
        if _busy(week):
            break
        quiet += 1
    if quiet < 3 or quiet * pitch < 180:
        return ""
    return (f'<text class="quiet" x="{end - quiet * pitch / 2:.1f}" y="{_TOP + _PLOT / 2:.1f}" '
            f'text-anchor="middle">nothing dated in the last {quiet} weeks</text>')


def _week_column(week: WeekActivity, x: float, bar: float, unit: float, this_week: bool) -> str:
    insights, discussions = week.insights * unit, week.discussions * unit
    shapes = [f'<rect class="empty" x="{x:.1f}" y="{_BASE - 2}" width="{bar:.1f}" height="2"/>']
    if insights:
        shapes.append(f'<rect class="insights" x="{x:.1f}" y="{_BASE - insights:.1f}" width="{bar:.1f}" '
                      f'height="{insights:.1f}"/>')
    if discussions:
        shapes.append(f'<rect class="discussions" x="{x:.1f}" y="{_BASE - insights - discussions:.1f}" '
                      f'width="{bar:.1f}" height="{discussions:.1f}"/>')
    if week.lectures_done:
        shapes.append(f'<circle class="lectures" cx="{x + bar / 2:.1f}" cy="{_BASE + 10}" '
                      f'r="{min(4.5, max(2.0, bar / 2)):.1f}"/>')
    if this_week:
        shapes.append(f'<rect class="now" x="{x - 1:.1f}" y="{_TOP - 2}" width="{bar + 2:.1f}" '
                      f'height="{_PLOT + 2}"/>')
    title = (f"week of {week.week_start.isoformat()}{' (this week)' if this_week else ''}: "
             f"{week.insights} insights, {week.discussions} discussions, {week.lectures_done} lectures done")
    return (f'<g class="week" data-week="{week.week_start.isoformat()}"><title>{title}</title>'
            f'{"".join(shapes)}</g>')


def _list(items: list[str], empty: str) -> str:
    if not items:
        return f'<p class="muted">{empty}</p>'
    return '<ul class="plain">' + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>"


def _timeline(report: StatusReport) -> str:
    recent = list(reversed(report.timeline))[:_RECENT_EVENTS]
    items = "".join(
        f'<li class="kind-{event.kind}"><span class="when muted">{event.day.isoformat()} · {event.kind}</span>'
        f"{_inline(event.title)}</li>"
        for event in recent
    )
    earlier = len(report.timeline) - len(recent)
    if earlier:
        items += f'<li class="more muted">and {earlier} earlier</li>'
    return f'<ol class="timeline">{items}</ol>' if items else '<p class="muted">nothing dated yet</p>'
