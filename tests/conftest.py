"""Fixtures any test may use: the shared folder beside the clone, and the person's real working memory in it.

Both skip the test when the folder is absent, so the suite runs in a bare clone too.
"""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEED_FILE = Path("seed") / "AI助手工作记忆.md"


def find_shared_dir() -> Path | None:
    """`../shared` beside the repository, where CI keeps the seed and the reference notes; None if absent."""
    folder = REPO.parent / "shared"
    return folder if folder.is_dir() else None


@pytest.fixture
def shared_dir() -> Path:
    folder = find_shared_dir()
    if folder is None:
        pytest.skip("../shared is not beside the repository")
    return folder


@pytest.fixture
def seed_text(shared_dir: Path) -> str:
    """The seed working memory exactly as stored: BOM, line breaks and a missing final newline kept."""
    path = shared_dir / SEED_FILE
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path.read_bytes().decode("utf-8")


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own cache folder (index, locks, undo journal) and no root from the environment."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("PROJECT_MEMORY_CACHE_DIR", str(folder))
    for name in ("PROJECT_MEMORY_ROOT", "CLAUDE_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """A failing test of a module that draws from a seed says which seed, so the run can be replayed."""
    report = yield
    seed = getattr(getattr(item, "module", None), "SEED", None)
    if report.failed and seed is not None:
        report.sections.append(("seed", f"replay with PM_TEST_SEED={seed}"))
    return report
