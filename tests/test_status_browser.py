"""The `status --html` page as a real browser renders it: headless Chromium's DOM and a screenshot.

The screenshot is also kept in test-artifacts/status.png (git-ignored) so a person can look at it.
"""

import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

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


@pytest.fixture
def chromium() -> Path:
    return find_client(CHROMIUM)


@pytest.fixture
def status_page(tmp_path: Path) -> Path:
    page = tmp_path / "status.html"
    result = CliRunner().invoke(main, ["status", "--root", str(copy_example(tmp_path)), "--html", str(page)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return page


def run_chromium(chromium: Path, tmp_path: Path, page: Path, *args: str) -> str:
    profile = tmp_path / "chromium-profile"
    finished = run_client([chromium, *HEADLESS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          env=client_env(tmp_path), cwd=tmp_path, timeout=60)
    assert finished.code == 0, finished.stderr[-3000:]
    return finished.stdout


class RenderedPage(HTMLParser):
    """The parts of the dumped DOM the test looks at: each rect's classes and the text under each id."""

    def __init__(self) -> None:
        super().__init__()
        self.rect_classes: list[set[str]] = []
        self.text_by_id: dict[str, str] = {}
        self._open_ids: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "rect":
            self.rect_classes.append(set((attributes.get("class") or "").split()))
        element_id = attributes.get("id")
        self._open_ids.append((tag, element_id))
        if element_id:
            self.text_by_id[element_id] = ""

    def handle_endtag(self, tag: str) -> None:
        while self._open_ids:
            if self._open_ids.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, element_id in self._open_ids:
            if element_id:
                self.text_by_id[element_id] += data


def test_chromium_renders_a_bar_per_lecture_and_the_legend_counts(
    chromium: Path, status_page: Path, tmp_path: Path
) -> None:
    rendered = RenderedPage()
    rendered.feed(run_chromium(chromium, tmp_path, status_page, "--dump-dom"))
    lectures = [classes for classes in rendered.rect_classes if "lecture" in classes]
    assert len(lectures) == 17
    assert sum("done" in classes for classes in lectures) == 2
    states = ("done", "in_progress", "not_started")
    counts = {state: rendered.text_by_id[f"count-{state}"] for state in states}
    assert counts == {"done": "2", "in_progress": "0", "not_started": "15"}
    assert "lecture-chart" in rendered.text_by_id
    assert "2/17" in rendered.text_by_id["lectures-done"]


def test_chromium_screenshots_the_page_into_test_artifacts(
    chromium: Path, status_page: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "status.png"
    run_chromium(chromium, tmp_path, status_page, f"--screenshot={shot}", "--window-size=1200,900")
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    # The IHDR chunk follows the signature: length, type, then width and height as big-endian integers.
    assert struct.unpack(">II", data[16:24]) == (1200, 900)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "status.png")
