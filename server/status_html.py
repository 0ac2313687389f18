"""`status --html`: the dashboard as one self-contained page (inline CSS and SVG, no network, no script)."""

import re
from html import escape

from memory_schema.progress import LectureStatus
from server.status import StatusReport

_COLOURS = {LectureStatus.DONE: "#2e9d5b", LectureStatus.IN_PROGRESS: "#e0a100", LectureStatus.NOT_STARTED: "#d5d9e0"}
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Escape, then show Markdown `code` spans as <code> rather than raw backticks."""
    return _CODE.sub(r"<code>\1</code>", escape(text))


def render_status_html(report: StatusReport) -> str:
    percent = 100 * report.done / report.total if report.total else 0.0
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>project-memory status</title>
<style>
body{{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:2rem auto;max-width:56rem;color:#1d232b}}
h1{{font-size:1.4rem}} h2{{font-size:1.1rem;margin-top:2rem}} .muted{{color:#68707c}}
.cards{{display:flex;gap:1rem;flex-wrap:wrap}} .card{{border:1px solid #e2e5ea;border-radius:8px;padding:.8rem 1rem}}
.card b{{display:block;font-size:1.5rem}} ol.timeline{{list-style:none;padding:0}}
ol.timeline li{{border-left:3px solid #8a5cd1;padding:.2rem .8rem;margin:.3rem 0}}
ol.timeline li.discussion{{border-color:#3b6fd8}} ol.timeline li.lecture{{border-color:#2e9d5b}}
</style></head><body>
<h1>Study progress</h1>
<p class="muted">{escape(report.root)} · {report.today.isoformat()} · index {escape(report.index_state)}</p>
<div class="cards">
<div class="card" id="lectures-done"><b>{report.done}/{report.total}</b>lectures ({percent:.1f}%)</div>
<div class="card"><b>{escape(report.phase or "–")}</b>phase</div>
<div class="card"><b>{report.insights_this_week} / {report.discussions_this_week}</b>
insights / discussions this week<br>
<span class="muted">{report.insights_total} / {report.discussions_total} in all</span></div>
<div class="card"><b>{len(report.open_todos)}</b>open research TODOs</div>
</div>
<h2>Lectures</h2>
{_chart(report)}
<h2>Next steps</h2>
<ul>{"".join(f"<li>{_inline(step)}</li>" for step in report.next_steps) or "<li class='muted'>none recorded</li>"}</ul>
<h2>Timeline</h2>
<ol class="timeline">{_timeline(report)}</ol>
<h2>Open research TODOs</h2>
<ul>{"".join(f"<li>{_inline(item)}</li>" for item in report.open_todos) or "<li class='muted'>none</li>"}</ul>
</body></html>
"""


def _chart(report: StatusReport) -> str:
    """One bar per lecture, coloured by state, with the done/in progress/not started counts in the legend."""
    bar, gap, height = 26, 6, 120
    width = len(report.lectures) * (bar + gap) + gap
    bars = []
    for index, lecture in enumerate(report.lectures):
        x = gap + index * (bar + gap)
        filled = height if lecture.status is LectureStatus.DONE else height // 2 if (
            lecture.status is LectureStatus.IN_PROGRESS) else 12
        bars.append(
            f'<rect class="lecture {lecture.status.value}" x="{x}" y="{height - filled}" width="{bar}" '
            f'height="{filled}" fill="{_COLOURS[lecture.status]}"><title>{escape(lecture.label)} '
            f'{escape(lecture.topic)}: {lecture.status.value}</title></rect>'
            f'<text x="{x + bar / 2}" y="{height + 14}" font-size="10" text-anchor="middle">{lecture.number}</text>'
        )
    counts = {state: sum(1 for lec in report.lectures if lec.status is state) for state in LectureStatus}
    legend = " · ".join(
        f'<span style="color:{_COLOURS[state]}">■</span> <span id="count-{state.value}">{counts[state]}</span> '
        f"{state.value.replace('_', ' ')}"
        for state in LectureStatus
    )
    return (f'<svg id="lecture-chart" role="img" aria-label="lectures by state" width="{width}" '
            f'height="{height + 20}" xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg><p>{legend}</p>')


def _timeline(report: StatusReport) -> str:
    return "".join(
        f'<li class="{event.kind}"><span class="muted">{event.day.isoformat()} · {event.kind}</span> '
        f"{escape(event.title)}</li>"
        for event in reversed(report.timeline)
    ) or "<li class='muted'>nothing dated yet</li>"
