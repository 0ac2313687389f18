"""The `status --html` page as a real browser renders it: headless Chromium's DOM, its layout and a screenshot.

The page is the bundled example's, written by the CLI, with Lecture 03 marked in progress so all three lecture
states show. The screenshot is kept in test-artifacts/status.png (git-ignored) so a person can look at it.
"""

import json
import shutil
import struct
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from e2e import CHROMIUM, client_env, find_client, run_client
from server.cli import main
from support import REPO, copy_example

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "test-artifacts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Without the networking switches Chromium keeps trying to reach Google's hosts from a closed network.
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WINDOW = "--window-size=1200,900"
NOT_STARTED = "| Lecture 03 | Transformer Architecture | 第1阶段 | ⬜ 未开始 |"
IN_PROGRESS = "| Lecture 03 | Transformer Architecture | 第1阶段 | 🔄 进行中 |"
# Only the layout test's copy of the page gets this: it writes each card's box into the DOM that --dump-dom prints.
MEASURE_CARDS = """<script>
addEventListener("load", () => {
  const box = (card) => { const r = card.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, overflows: card.scrollWidth > card.clientWidth}; };
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify({viewport: document.documentElement.clientWidth,
                                    cards: [...document.querySelectorAll(".cards > .card")].map(box)});
  document.body.append(out);
});
</script>"""


@dataclass
class StatusPage:
    page: Path
    report: dict[str, Any]  # the same run's `status --json`
    folder: Path


@pytest.fixture(scope="module")
def chromium() -> Path:
    return find_client(CHROMIUM)


@pytest.fixture(scope="module")
def status_page(tmp_path_factory: pytest.TempPathFactory) -> StatusPage:
    folder = tmp_path_factory.mktemp("status")
    root = copy_example(folder)
    progress = root / "学习进度.md"
    text = progress.read_text(encoding="utf-8")
    assert NOT_STARTED in text
    progress.write_text(text.replace(NOT_STARTED, IN_PROGRESS), encoding="utf-8")
    page = folder / "status.html"
    result = CliRunner().invoke(main, ["status", "--root", str(root), "--html", str(page), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return StatusPage(page, json.loads(result.stdout), folder)


def run_chromium(chromium: Path, folder: Path, page: Path, *args: str) -> str:
    profile = folder / "chromium-profile"
    finished = run_client([chromium, *HEADLESS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          env=client_env(folder), cwd=folder, timeout=60)
    assert finished.code == 0, finished.stderr[-3000:]
    return finished.stdout


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class RenderedPage(HTMLParser):
    """The dumped DOM as a flat list of elements in document order, each with its attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def find(self, tag: str, cls: str | None = None, element_id: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)
                and (element_id is None or e.attrs.get("id") == element_id)]


@pytest.fixture(scope="module")
def rendered(chromium: Path, status_page: StatusPage) -> RenderedPage:
    page = RenderedPage()
    page.feed(run_chromium(chromium, status_page.folder, status_page.page, WINDOW, "--dump-dom"))
    return page


def test_chromium_shows_the_course_name_in_the_title_and_the_heading(rendered: RenderedPage) -> None:
    course = "CS336 语言模型从零构建 自学（Stanford CS336: Language Modeling from Scratch, Spring 2025）"
    assert rendered.find("title")[0].text == f"{course} · study status"
    assert rendered.find("h1", element_id="course")[0].text == course


def test_chromium_shows_every_lecture_by_name_in_its_state_with_a_legend(rendered: RenderedPage) -> None:
    tiles = rendered.find("li", cls="lecture")
    shown = [({"done", "in_progress", "not_started"} & tile.classes).pop() for tile in tiles]
    assert shown == ["done", "done", "in_progress"] + ["not_started"] * 14
    topics = [tile.text for tile in tiles]
    assert "Overview & Tokenization" in topics[0] and "2025-11-05" in topics[0]
    assert "Transformer Architecture" in topics[2] and "in progress" in topics[2]
    assert "Alignment: RL (2)" in topics[16]
    states = ("done", "in_progress", "not_started")
    counts = {state: rendered.find("b", element_id=f"count-{state}")[0].text for state in states}
    assert counts == {"done": "2", "in_progress": "1", "not_started": "14"}
    assert "2/17" in rendered.find("div", element_id="lectures-done")[0].text


def test_chromium_draws_one_activity_column_per_week_from_the_first_event_to_today(
    rendered: RenderedPage, status_page: StatusPage
) -> None:
    today = date.fromisoformat(status_page.report["today"])
    first_monday, this_monday = date(2025, 11, 3), today - timedelta(days=today.weekday())
    expected = (this_monday - first_monday).days // 7 + 1
    assert len(rendered.find("svg", element_id="activity-chart")) == 1
    columns = rendered.find("g", cls="week")
    assert len(columns) == expected == len(status_page.report["weekly_activity"])
    assert (columns[0].attrs["data-week"], columns[-1].attrs["data-week"]) == ("2025-11-03", this_monday.isoformat())
    assert "6 discussions, 2 lectures done" in columns[0].text
    assert rendered.find("b", element_id="week-count")[0].text == str(expected)


def test_chromium_lays_the_four_cards_out_on_one_row_at_1200_px(chromium: Path, status_page: StatusPage) -> None:
    measured = status_page.folder / "status-measured.html"
    html = status_page.page.read_text(encoding="utf-8")
    measured.write_text(html.replace("</body>", MEASURE_CARDS + "</body>"), encoding="utf-8")
    dumped = RenderedPage()
    dumped.feed(run_chromium(chromium, status_page.folder, measured, WINDOW, "--virtual-time-budget=2000",
                             "--dump-dom"))
    layout = json.loads(dumped.find("pre", element_id="layout")[0].text)
    cards = layout["cards"]
    assert len(cards) == 4
    assert max(card["top"] for card in cards) - min(card["top"] for card in cards) < 1, cards
    assert all(left["right"] <= right["left"] for left, right in pairwise(cards)), cards
    assert cards[0]["left"] >= 0 and cards[-1]["right"] <= layout["viewport"], layout
    assert not any(card["overflows"] for card in cards), cards


def test_chromium_screenshots_the_page_into_test_artifacts(chromium: Path, status_page: StatusPage) -> None:
    shot = status_page.folder / "status.png"
    run_chromium(chromium, status_page.folder, status_page.page, f"--screenshot={shot}", WINDOW)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    # The IHDR chunk follows the signature: length, type, then width and height as big-endian integers.
    assert struct.unpack(">II", data[16:24]) == (1200, 900)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "status.png")
