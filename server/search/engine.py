"""The search engine the server and the CLI call: queries, filters, glossary aliases, warm-up.

`SearchEngine` answers a query from the Whoosh index (`server.index`) when it can, and by scanning the
notes with the same analyzer when it cannot (no index yet, a damaged one, one being rebuilt,
`server.scan`): the results say which (`index_state`, `notice`). When nothing matches and some query word
occurs in no note, the notice names it. Which sections match and how they rank are the rules of
`server.ranking`; keeping the index current with the notes (passes over the manifest, rebuilds, pending
notes) is `server.upkeep`'s.

Cold start: the constructor only records its arguments; `warm_up` loads the dictionary, opens the index,
reconciles it (or builds it) and may run in a background thread; `search` waits for the index to be opened
(not for a build: meanwhile it scans).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path, PurePosixPath

from memory_schema.errors import InvalidInput, ProjectMemoryError
from memory_schema.layout import Layout
from memory_schema.lectures import lecture_label
from server.analyzer import Alternative, QueryPlan, load_segmenter, plan_query
from server.filters import parse_filters
from server.glossary import Glossary, parse_glossary_markdown
from server.index import IndexUnavailable, SearchIndex
from server.manifest import Progress
from server.ranking import MIN_COVERAGE, IndexHit
from server.results import IndexStatus, ReconcileReport, SearchHit, SearchResults
from server.scan import Scanner
from server.snippets import make_snippet
from server.store import NoteStore
from server.upkeep import IndexUpkeep

__all__ = [
    "IndexStatus",
    "ReconcileReport",
    "SearchEngine",
    "SearchHit",
    "SearchResults",
    "default_index_dir",
    "open_corpus_engine",
]

logger = logging.getLogger(__name__)

MAX_LIMIT = 50
GLOSSARY_NOTE = "glossary.md"


def default_index_dir(root: Path) -> Path:
    return root / ".project-memory" / "index"


class SearchEngine:
    def __init__(
        self,
        store: NoteStore,
        layout: Layout,
        *,
        index_dir: Path | None = None,
        glossary: Glossary | None = None,
    ) -> None:
        self._store = store
        self._layout = layout
        self._index_dir = index_dir if index_dir is not None else default_index_dir(store.root)
        self._index = SearchIndex(self._index_dir)
        self._scanner = Scanner(store)
        self._upkeep = IndexUpkeep(store, layout, self._index, on_rebuilt=self._scanner.clear)
        self._fixed_glossary = glossary
        self._glossary = glossary
        self._state_lock = threading.Lock()
        self._ready = threading.Event()  # the index was opened, or found unusable: searches may run
        self._done = threading.Event()  # warm-up finished
        self._started = False
        self._listeners: list[Progress] = []

    @property
    def last_reconcile(self) -> ReconcileReport | None:
        return self._upkeep.last_reconcile

    # --- lifecycle ----------------------------------------------------------------------------------

    def warm_up(self, progress: Progress | None = None) -> None:
        """Load the dictionary, open the index and bring it up to date (building it if needed).

        Thread-safe and idempotent: a later caller waits for the first one to finish, hearing its progress.
        """
        with self._state_lock:
            if progress is not None:
                self._listeners.append(progress)
            first, self._started = not self._started, True
        if not first:
            self._done.wait()
            return
        upkeep = self._upkeep
        try:
            load_segmenter()
            self._load_glossary()
            self._prepare_home()
            upkeep.open()
            self._ready.set()
            if upkeep.state == "fresh":
                upkeep.reconcile(self._report, reread=False)  # open() has just read the manifest
            else:
                upkeep.rebuild(self._report, force=False)
        except Exception:
            logger.exception("search index warm-up failed; searches scan the notes")
            if upkeep.state in ("starting", "rebuilding"):
                upkeep.set_state("corrupt")
        finally:
            self._ready.set()
            self._done.set()
            with self._state_lock:
                self._listeners.clear()

    def _report(self, done: int, total: int) -> None:
        for listener in list(self._listeners):
            try:
                listener(done, total)
            except Exception:  # a progress reader that went away must not stop the build
                logger.debug("progress listener failed", exc_info=True)

    def _wait_until_ready(self) -> None:
        if self._ready.is_set():
            return
        with self._state_lock:
            started = self._started
        if not started:
            self.warm_up()
        self._ready.wait()

    def close(self) -> None:
        self._upkeep.close()

    def _prepare_home(self) -> None:
        """The index is a cache: keep it out of version control."""
        home = self._index_dir.parent
        try:
            home.mkdir(parents=True, exist_ok=True)
            ignore = home / ".gitignore"
            if home == self._store.root / ".project-memory" and not ignore.exists():
                ignore.write_text("*\n", encoding="utf-8")
        except OSError:
            logger.warning("cannot prepare %s for the search index", home, exc_info=True)

    def _load_glossary(self) -> None:
        if self._fixed_glossary is not None:
            return
        glossary = Glossary.builtin()
        try:
            own = self._store.read(GLOSSARY_NOTE).text
        except ProjectMemoryError:
            own = ""
        self._glossary = glossary.extended(parse_glossary_markdown(own)) if own else glossary

    def status(self) -> IndexStatus:
        return self._upkeep.status()

    # --- searching ----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        scope: str = "all",
        limit: int = 10,
        lecture: int | str | None = None,
        tags: list[str] | None = None,
        since: date | datetime | None = None,
        all_sections: bool = False,
    ) -> SearchResults:
        filters = parse_filters(scope, lecture, tags, since)
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("the query is empty; give a few words to search for, such as 'KV缓存'.")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit!r}.")
        self._wait_until_ready()
        plan = self._plan(query)
        aliases = list(dict.fromkeys(alt.text for alt in plan.alternatives))
        state = self._upkeep.state
        if not plan.units:
            common = "the query holds only very common words; add a topic word."
            return SearchResults(query=query, hits=[], aliases=[], index_state=state, notice=common)
        found: list[IndexHit] | None = None
        notice: str | None = None
        if self._index.is_open and state not in ("missing", "corrupt"):
            try:
                found = self._index.search(
                    plan, filters, limit=limit, min_coverage=MIN_COVERAGE, per_file=not all_sections
                )
            except IndexUnavailable as err:
                self._upkeep.failed(err)
        if found is None:
            state = self._upkeep.state if self._upkeep.state != "fresh" else "corrupt"
            found = self._scanner.search(plan, filters, self._layout, limit=limit, per_file=not all_sections)
            notice = f"search index {state}: these results come from scanning the notes; ranking is simpler."
        elif waiting := self._upkeep.pending:
            state = f"pending {waiting}" if state == "fresh" else state
            notice = f"{waiting} changed notes are not indexed yet; results may miss their latest text."
        elif not found:
            notice = self._nothing_found(plan)
        hits = [_hit(item, plan) for item in found]
        return SearchResults(query=query, hits=hits, aliases=aliases, index_state=state, notice=notice)

    def _nothing_found(self, plan: QueryPlan) -> str | None:
        """Why a query found nothing, when some of its words occur in no note at all."""
        try:
            absent = self._index.absent_words(plan)
        except IndexUnavailable:
            return None
        if not absent:
            return None
        words = "、".join(absent)
        return f"no note contains {words}; the notes may not cover this, or try other words for it."

    def _plan(self, query: str) -> QueryPlan:
        plan = plan_query(query)
        glossary = self._glossary if self._glossary is not None else Glossary.builtin()
        for expansion in glossary.expand(query):
            covers = tuple(
                i for i, unit in enumerate(plan.units) if expansion.start <= unit.start and unit.end <= expansion.end
            )
            if not covers:
                continue
            for alias in expansion.aliases:
                units = tuple(plan_query(alias).units)
                if units:
                    plan.alternatives.append(Alternative(alias, units, covers))
        return plan

    # --- keeping the index current ------------------------------------------------------------------

    def update_paths(self, changed: Iterable[str], deleted: Iterable[str] = ()) -> None:
        """Index these notes now (our own writes, the watcher's events). A note whose content version equals
        the manifest's is left alone, so a write is not indexed twice when the watcher reports it too.
        Never blocks on a rebuild: the notes then wait, and status() counts them as pending."""
        changed = [p for p in changed if _is_note(p)]
        deleted = [p for p in deleted if _is_note(p, folder=True)]
        if GLOSSARY_NOTE in changed or GLOSSARY_NOTE in deleted:
            self._load_glossary()
        self._upkeep.update_paths(changed, deleted)

    def tidy(self) -> None:
        """Merge the small segments that saves leave behind; call it after a batch is searchable."""
        self._upkeep.tidy()

    def reconcile(self, progress: Progress | None = None) -> ReconcileReport:
        """Compare every note with the index's manifest (re-read from the index) and index what changed,
        in one commit; builds the index when there is none."""
        self._wait_until_ready()
        return self._upkeep.reconcile(progress)

    def sweep(self) -> ReconcileReport:
        """A stat-only pass over every note against the manifest held in memory, for file events the
        watcher may have missed; returns what it re-indexed."""
        self._wait_until_ready()
        return self._upkeep.sweep()

    def rebuild(self, progress: Progress | None = None) -> None:
        """Build the index afresh from every note, synchronously. Searches meanwhile read the old index
        if it is usable, else scan."""
        self._wait_until_ready()
        self._upkeep.rebuild(progress, force=True)


def _hit(item: IndexHit, plan: QueryPlan) -> SearchHit:
    return SearchHit(
        path=item.path,
        heading=item.section,
        snippet=make_snippet(item.text, item.matched or plan.terms),
        score=round(item.score, 4),
        kind=item.kind,
        lecture=lecture_label(item.lecture) if item.lecture else None,
        handle=f"{item.path}#{item.section}" if item.section else item.path,
    )


def _is_note(path: str, *, folder: bool = False) -> bool:
    """Paths the watcher may report that are not notes: dot folders, editor files, other extensions."""
    parts = PurePosixPath(path).parts
    if not parts or any(part.startswith(".") for part in parts):
        return False
    return folder or path.endswith(".md")


def open_corpus_engine(root: Path, index_dir: Path) -> Callable[[str, int], list[str]]:
    """An engine over any folder of Markdown files (every file a note), for the search-quality benchmark:
    returns `search(query, limit)` -> the relative paths of the best files, best first."""
    from memory_schema.layout import PRESETS

    nowhere = "\0"  # no file is named so: every file is a plain note
    roles = ("working_memory", "progress", "plan", "research_todo", "discussions_dir")
    layout = PRESETS["default-en"].model_copy(update={**{r: nowhere for r in roles}, "notes_dir": "."})
    engine = SearchEngine(NoteStore(root), layout, index_dir=index_dir)
    engine.warm_up()

    def search(query: str, limit: int) -> list[str]:
        return [hit.path for hit in engine.search(query, limit=min(limit, MAX_LIMIT)).hits]

    return search
