"""Small helpers the tests share: copies of the bundled example, the repo and shared/ locations, and the search
package driven directly."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.search import SearchResults

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "cs336"
SHARED = REPO.parent / "shared"
SEED = SHARED / "seed" / "AI助手工作记忆.md"
TODAY = date(2026, 11, 30)


def copy_example(tmp_path: Path, name: str = "memory") -> Path:
    """A copy of the bundled example's notes (never anything git ignores, such as a legacy index folder)."""
    target = tmp_path / name
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".*"))
    return target


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file's bytes, keyed by relative path, skipping the index folder."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


class Searcher:
    """The search package as the tests drive it: one IndexService and its SearchEngine over a store."""

    def __init__(self, root: Path, layout: object | None = None) -> None:
        from memory_schema.layout import PRESETS, Layout
        from server.search import IndexService, SearchEngine
        from server.store import NoteStore

        chosen = layout if isinstance(layout, Layout) else PRESETS["cs336-zh"]
        self.store = NoteStore(root)
        self.index = IndexService(self.store, chosen)
        self.engine = SearchEngine(self.store, chosen, self.index)

    def warm_up(self) -> None:
        self.engine.prepare()
        self.index.ensure_ready()

    def search(self, query: str, **options: object) -> SearchResults:
        from server.search.request import search_request

        return self.engine.search(search_request(query, **options))  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:  # status, reconcile, sweep, rebuild, update, close, ...
        return getattr(self.index, name)


def find(memory: object, query: str, **options: object) -> SearchResults:
    """`memory.search` with a request built from keyword options, as an edge would."""
    from server.search.request import search_request

    return memory.search(search_request(query, **options))  # type: ignore[attr-defined, arg-type]
