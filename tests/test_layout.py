"""Which file plays which role: the presets, `project-memory.toml` overrides, and the kind of each path."""

from pathlib import Path

import pytest

from memory_schema.errors import InvalidInput
from memory_schema.layout import PRESETS, DocumentKind, Layout, detect_layout

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cs336"
EXAMPLE_FILES = sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*.md"))
ENGLISH_FILES = ["working-memory.md", "progress.md", "plan.md", "discussions/kv-cache.md", "notes/l01/a.md"]


def test_the_bundled_example_is_detected_as_cs336_zh() -> None:
    layout = detect_layout(EXAMPLE_FILES)
    assert layout.preset == "cs336-zh"
    assert layout.working_memory == "AI助手工作记忆.md"
    assert layout.language == "zh"
    for path in layout.role_paths().values():
        assert path in EXAMPLE_FILES


def test_english_file_names_pick_default_en() -> None:
    layout = detect_layout(ENGLISH_FILES)
    assert layout.preset == "default-en"
    assert layout.discussion_path("KV cache") == "discussions/KV cache.md"


def test_a_root_without_role_files_falls_back_on_the_language_of_its_names() -> None:
    assert detect_layout([]).preset == "cs336-zh"
    assert detect_layout(["笔记.md"]).preset == "cs336-zh"
    assert detect_layout(["notes.md"]).preset == "default-en"


def test_project_memory_toml_overrides_a_path() -> None:
    layout = detect_layout(EXAMPLE_FILES, '[layout]\nworking_memory = "记忆/工作记忆.md"\n')
    assert layout.preset == "cs336-zh"
    assert layout.working_memory == "记忆/工作记忆.md"
    assert layout.progress == PRESETS["cs336-zh"].progress
    assert layout.kind_of("记忆/工作记忆.md") is DocumentKind.WORKING_MEMORY


def test_project_memory_toml_may_name_the_preset_without_a_table() -> None:
    layout = detect_layout(EXAMPLE_FILES, 'preset = "default-en"\nnotes_dir = "lectures"\n')
    assert (layout.preset, layout.notes_dir, layout.language) == ("default-en", "lectures", "en")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[layout\nworking_memory = 1", "project-memory.toml is not valid TOML"),
        ('[layout]\nworkng_memory = "x.md"\n', r"unknown keys \['workng_memory'\]"),
        ('[layout]\npreset = "cs336-jp"\n', "unknown preset 'cs336-jp'"),
        ('[layout]\nprogress = "/etc/progress.md"\n', "progress must be a path inside the memory root"),
        ('[layout]\nplan = "~/plan.md"\n', "plan must be a path inside the memory root"),
        ('[layout]\nnotes_dir = "../notes"\n', "notes_dir must be a path inside the memory root"),
        ('[layout]\nnotes_dir = "a/../../notes"\n', "notes_dir must be a path inside the memory root"),
        ('[layout]\nnotes_dir = "..\\\\notes"\n', "notes_dir must be a path inside the memory root"),
        ('[layout]\nnotes_dir = "C:/notes"\n', "notes_dir must be a path inside the memory root"),
        ("[layout]\nprogress = 3\n", "project-memory.toml: .*progress"),
        ('layout = "x"\n', r"\[layout\] must be a table"),
    ],
)
def test_a_bad_project_memory_toml_is_refused_with_a_clear_message(config: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        detect_layout(EXAMPLE_FILES, config)


@pytest.fixture
def layout() -> Layout:
    return PRESETS["cs336-zh"]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("AI助手工作记忆.md", DocumentKind.WORKING_MEMORY),
        ("学习进度.md", DocumentKind.PROGRESS),
        ("学习计划.md", DocumentKind.PLAN),
        ("深度探索TODO.md", DocumentKind.RESEARCH_TODO),
        ("深度讨论/KV缓存内存计算精确分析.md", DocumentKind.DISCUSSION),
        ("深度讨论/README.md", DocumentKind.NOTE),
        ("学习笔记/01-基础建立/01-Lecture01-IntroductionTokenization/01-理论概念.md", DocumentKind.NOTE),
        ("深度讨论备份.md", DocumentKind.NOTE),
        ("其他/AI助手工作记忆.md", DocumentKind.NOTE),
    ],
)
def test_kind_of_each_path(layout: Layout, path: str, kind: DocumentKind) -> None:
    assert layout.kind_of(path) is kind


def test_english_discussions_readme_is_a_note() -> None:
    english = PRESETS["default-en"]
    assert english.kind_of("discussions/README.md") is DocumentKind.NOTE
    assert english.kind_of("discussions/kv-cache.md") is DocumentKind.DISCUSSION
    assert english.kind_of("working-memory.md") is DocumentKind.WORKING_MEMORY
