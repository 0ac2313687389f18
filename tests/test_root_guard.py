"""A root that cannot be wrong: a folder that is not a memory is refused before anything under it is read, the
walk skips installed code and the person's ignore patterns, and a root holding too many notes is refused."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from memory_schema.layout import WalkSettings
from server.cli import main
from server.ignore import NoteRules, TooManyNotes
from server.memory import ProjectMemory
from server.store import NoteStore
from support import snapshot_tree


def not_a_memory(folder: Path, files: int = 2000) -> Path:
    """A folder of many files, none of a memory's documents (a code checkout, a downloads folder)."""
    for i in range(files):
        sub = folder / f"pkg{i // 100}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file{i}.md" if i % 2 else sub / f"file{i}.py").write_text(f"# file {i}\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return not_a_memory(tmp_path_factory.mktemp("guard") / "checkout")


@pytest.mark.parametrize("command", [["search", "file"], ["context"], ["status"], ["reindex"]])
def test_a_folder_that_is_not_a_memory_is_refused_at_once_and_left_alone(
    checkout: Path, private_cache: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = checkout
    before = snapshot_tree(folder)
    CliRunner().invoke(main, ["--root", str(folder.parent), *command])  # imports done before the clock starts
    walked: list[str] = []
    real_scandir = __import__("os").scandir
    monkeypatch.setattr("os.scandir", lambda path=".": walked.append(str(path)) or real_scandir(path))
    result = CliRunner().invoke(main, ["--root", str(folder), *command])
    assert result.exit_code != 0
    assert str(folder) in result.output and "project-memory init" in result.output
    assert walked == []  # refused from the folder's top level, at once: nothing under it is listed
    assert snapshot_tree(folder) == before
    assert not (private_cache / "roots").exists() or not any((private_cache / "roots").iterdir())


def memory_with_clutter(root: Path) -> Path:
    (root / "notes").mkdir(parents=True)
    (root / "working-memory.md").write_text("# Working memory\n", encoding="utf-8")
    (root / "notes" / "kept.md").write_text("# kept\n", encoding="utf-8")
    clutter = {
        "node_modules/pkg/README.md", "tools/node_modules/x/README.md", "lib/site-packages/mod/README.md",
        "venv/lib/notes.md", ".git/info.md", "drafts/idea.md", "notes/old.bak.md", "__pycache__/x.md",
    }
    for rel in clutter:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("# clutter\n", encoding="utf-8")
    (root / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (root / "project-memory.toml").write_text('ignore = ["drafts/", "*.bak.md"]\n', encoding="utf-8")
    return root


def test_the_walk_skips_installed_code_hidden_folders_and_ignored_patterns(tmp_path: Path) -> None:
    memory = ProjectMemory(memory_with_clutter(tmp_path / "memory"))
    assert list(memory.store.iter_markdown()) == ["notes/kept.md", "working-memory.md"]


def test_the_watcher_and_the_index_skip_what_the_walk_skips() -> None:
    rules = NoteRules(WalkSettings(ignore=("drafts/", "*.bak.md")))
    assert rules.is_note("notes/kept.md") and rules.is_note("notes", folder=True)
    for path in ("node_modules/pkg/README.md", "a/site-packages/m/README.md", "drafts/idea.md", "notes/old.bak.md",
                 ".git/x.md"):
        assert not rules.is_note(path), path
    assert not rules.is_note("drafts", folder=True) and not rules.is_note("x/node_modules", folder=True)


def test_past_the_note_limit_the_walk_stops_with_what_to_do(tmp_path: Path) -> None:
    root = tmp_path / "memory"
    root.mkdir()
    for i in range(6):
        (root / f"n{i}.md").write_text("# n\n", encoding="utf-8")
    store = NoteStore(root, rules=NoteRules(WalkSettings(max_notes=5)))
    with pytest.raises(TooManyNotes, match="max_notes"):
        list(store.iter_markdown())


def test_the_note_limit_and_ignore_patterns_come_from_the_config_and_bad_values_are_named(tmp_path: Path) -> None:
    root = tmp_path / "memory"
    root.mkdir()
    (root / "working-memory.md").write_text("# WM\n", encoding="utf-8")
    (root / "project-memory.toml").write_text("max_notes = 1\n", encoding="utf-8")
    (root / "extra.md").write_text("# extra\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--root", str(root), "search", "extra"])
    assert result.exit_code != 0 and "max_notes" in result.output
    (root / "project-memory.toml").write_text("max_notes = 0\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--root", str(root), "search", "extra"])
    assert result.exit_code != 0 and "max_notes" in result.output and "project-memory.toml" in result.output
