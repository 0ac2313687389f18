"""Search filters: which notes a search may return (scope, lecture, tags, modified since).

Owns turning a request into `Filters` and testing a note's record against them, for the index-less scan. How the
index applies them is `whoosh_index.build_filter`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from memory_schema.errors import InvalidInput
from memory_schema.layout import MEMORY_KINDS, DocumentKind
from server.search.documents import FileRecord
from server.search.request import SearchRequest

SCOPES: dict[str, frozenset[str] | None] = {
    "all": None,
    "discussions": frozenset({DocumentKind.DISCUSSION.value}),
    "notes": frozenset({DocumentKind.NOTE.value}),
    "memory": frozenset(kind.value for kind in MEMORY_KINDS),
}


@dataclass(frozen=True)
class Filters:
    kinds: frozenset[str] | None = None
    lecture: int | None = None
    tags: tuple[str, ...] = ()
    since: int | None = None  # epoch seconds


def filters_for(request: SearchRequest) -> Filters:
    """The filters a (validated) request asks for."""
    wanted = tuple(dict.fromkeys(t.strip().lstrip("#").strip().lower() for t in request.tags if t.strip()))
    return Filters(kinds=SCOPES[request.scope], lecture=request.lecture, tags=wanted, since=_epoch(request.since))


def _epoch(since: date | datetime | None) -> int | None:
    if since is None:
        return None
    if not isinstance(since, date):  # datetime is a date too
        raise InvalidInput(f"since must be a date such as 2026-03-01, not {since!r}.")
    moment = since if isinstance(since, datetime) else datetime(since.year, since.month, since.day)
    try:
        return int(moment.timestamp())
    except (ValueError, OverflowError, OSError):
        # Far before the epoch (year 1, say): every note was modified since then.
        return 0


def passes(record: FileRecord, filters: Filters) -> bool:
    """Whether a note is one the filters let through."""
    if filters.kinds is not None and record.kind not in filters.kinds:
        return False
    if filters.lecture is not None and record.lecture != filters.lecture:
        return False
    if filters.tags and not set(filters.tags) & set(record.tags):
        return False
    return filters.since is None or record.mtime_ns // 1_000_000_000 >= filters.since
