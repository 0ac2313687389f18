"""Which file plays which role in a memory root: the layout presets and `project-memory.toml` overrides.

Pure: the caller lists the files and reads the optional TOML text; this module only decides.
"""

import re
import tomllib
from collections.abc import Iterable
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memory_schema.errors import InvalidInput

CONFIG_FILE = "project-memory.toml"


class DocumentKind(StrEnum):
    WORKING_MEMORY = "working_memory"
    PROGRESS = "progress"
    PLAN = "plan"
    RESEARCH_TODO = "research_todo"
    DISCUSSION = "discussion"
    NOTE = "note"


MEMORY_KINDS = frozenset(
    {DocumentKind.WORKING_MEMORY, DocumentKind.PROGRESS, DocumentKind.PLAN, DocumentKind.RESEARCH_TODO}
)


class Layout(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str
    working_memory: str
    progress: str
    plan: str
    research_todo: str
    discussions_dir: str
    notes_dir: str
    discussion_name: str  # how a new discussion file is named; `{topic}` is replaced
    language: str  # "zh" or "en": the language of headings the server writes
    total_lectures: int = 17

    def kind_of(self, relpath: str) -> DocumentKind:
        roles = {
            self.working_memory: DocumentKind.WORKING_MEMORY,
            self.progress: DocumentKind.PROGRESS,
            self.plan: DocumentKind.PLAN,
            self.research_todo: DocumentKind.RESEARCH_TODO,
        }
        if relpath in roles:
            return roles[relpath]
        if PurePosixPath(relpath).is_relative_to(self.discussions_dir) and not relpath.endswith("README.md"):
            return DocumentKind.DISCUSSION
        return DocumentKind.NOTE

    def role_paths(self) -> dict[DocumentKind, str]:
        return {
            DocumentKind.WORKING_MEMORY: self.working_memory,
            DocumentKind.PROGRESS: self.progress,
            DocumentKind.PLAN: self.plan,
            DocumentKind.RESEARCH_TODO: self.research_todo,
        }

    def discussion_path(self, topic: str) -> str:
        return f"{self.discussions_dir}/{self.discussion_name.format(topic=topic)}"


PRESETS: dict[str, Layout] = {
    "cs336-zh": Layout(
        preset="cs336-zh",
        working_memory="AI助手工作记忆.md",
        progress="学习进度.md",
        plan="学习计划.md",
        research_todo="深度探索TODO.md",
        discussions_dir="深度讨论",
        notes_dir="学习笔记",
        discussion_name="{topic}深度讨论.md",
        language="zh",
    ),
    "default-en": Layout(
        preset="default-en",
        working_memory="working-memory.md",
        progress="progress.md",
        plan="plan.md",
        research_todo="research-todo.md",
        discussions_dir="discussions",
        notes_dir="notes",
        discussion_name="{topic}.md",
        language="en",
    ),
}


def detect_layout(files: Iterable[str], config_text: str | None = None) -> Layout:
    """The preset whose role files are present (most matches wins; cs336-zh on a tie), then the overrides.

    `project-memory.toml` may name a `preset` and override any path, e.g. `working_memory = "memory.md"`.
    """
    present = set(files)
    overrides = _read_config(config_text) if config_text is not None else {}
    name = overrides.pop("preset", None)
    if name is None:
        name = max(PRESETS, key=lambda key: _score(PRESETS[key], present))
        if _score(PRESETS[name], present) == 0:
            name = "cs336-zh" if any(_has_cjk(f) for f in present) or not present else "default-en"
    if name not in PRESETS:
        raise InvalidInput(f"{CONFIG_FILE}: unknown preset {name!r}; use one of {', '.join(PRESETS)}.")
    try:
        return Layout(**{**PRESETS[name].model_dump(), **overrides})
    except ValidationError as err:
        raise InvalidInput(f"{CONFIG_FILE}: {err.errors()[0]['msg']} ({err.errors()[0]['loc']}).") from err


def _score(layout: Layout, present: set[str]) -> int:
    roles = [layout.working_memory, layout.progress, layout.plan, layout.research_todo]
    dirs = (layout.discussions_dir + "/", layout.notes_dir + "/")
    return sum(role in present for role in roles) + sum(any(f.startswith(d) for f in present) for d in dirs)


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


DEFAULT_MAX_NOTES = 50_000


class WalkSettings(BaseModel):
    """Which folders under the root are never read, and how many notes a root may hold (`project-memory.toml`:
    `ignore = ["drafts/", "*.bak.md"]` in .gitignore syntax, `max_notes = 50000`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ignore: tuple[str, ...] = ()
    max_notes: int = Field(default=DEFAULT_MAX_NOTES, ge=1)


def read_walk_settings(config_text: str | None) -> WalkSettings:
    if config_text is None:
        return WalkSettings()
    data = _load_toml(config_text)
    values = {key: data[key] for key in WalkSettings.model_fields if key in data}
    try:
        return WalkSettings(**values)
    except ValidationError as err:
        first = err.errors()[0]
        raise InvalidInput(f"{CONFIG_FILE}: {'.'.join(map(str, first['loc']))}: {first['msg']}.") from err


def _load_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"{CONFIG_FILE} is not valid TOML ({err}); fix it or remove it.") from err


def _read_config(text: str) -> dict[str, object]:
    data = _load_toml(text)
    section = data.get("layout", {key: value for key, value in data.items() if key not in WalkSettings.model_fields})
    if not isinstance(section, dict):
        raise InvalidInput(f"{CONFIG_FILE}: [layout] must be a table of paths.")
    allowed = set(Layout.model_fields)
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise InvalidInput(f"{CONFIG_FILE}: unknown keys {unknown}; allowed: {sorted(allowed)}.")
    for key, value in section.items():
        if isinstance(value, str) and _leaves_root(value):
            raise InvalidInput(f"{CONFIG_FILE}: {key} must be a path inside the memory root, not {value!r}.")
    return dict(section)


def _leaves_root(value: str) -> bool:
    """An absolute path, a home path, a Windows drive or a `..` step (with either slash)."""
    path = value.replace("\\", "/")
    return path.startswith(("/", "~")) or re.match(r"[A-Za-z]:", path) is not None or ".." in path.split("/")
