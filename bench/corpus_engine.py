"""The product's search over any folder of Markdown files, every file a plain note: what the quality benchmark
scores. The index goes to the cache folder given (never into the corpus, which is read-only)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def open_corpus_engine(root: Path, cache_dir: Path) -> Callable[[str, int], list[str]]:
    """Build the index, then `search(query, limit)` -> the relative paths of the best files, best first."""
    from memory_schema.layout import PRESETS
    from server.cache import RootCache
    from server.search import MAX_LIMIT, IndexService, SearchEngine
    from server.search.request import search_request
    from server.store import NoteStore

    nowhere = "\0"  # no file is named so: every file is a plain note
    roles = ("working_memory", "progress", "plan", "research_todo", "discussions_dir")
    layout = PRESETS["default-en"].model_copy(update={**{role: nowhere for role in roles}, "notes_dir": "."})
    store = NoteStore(root, cache=RootCache(root=root.resolve(), home=cache_dir))
    index = IndexService(store, layout)
    engine = SearchEngine(store, layout, index)
    engine.prepare()
    index.ensure_ready()

    def search(query: str, limit: int) -> list[str]:
        return [hit.path for hit in engine.search(search_request(query, limit=min(limit, MAX_LIMIT))).hits]

    return search
