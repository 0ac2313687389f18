"""What the search package hands back: search results, the index's state and status, a reconcile's report.

Plain pydantic models, the shapes the MCP tools, the CLI and the status page show, plus `SectionHit`, the
one internal record both the index and the scan produce before results are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class IndexState(StrEnum):
    STARTING = "starting"  # this process has not opened the index yet
    FRESH = "fresh"  # open and current (up to the notes counted as pending)
    REBUILDING = "rebuilding"  # being built from the notes; searches scan meanwhile
    MISSING = "missing"  # none yet, or written by another version
    CORRUPT = "corrupt"  # damaged; rebuilt in the background
    UNAVAILABLE = "unavailable"  # the cache folder cannot be used; searches scan


@dataclass(frozen=True)
class SectionHit:
    """A section a search found, by the index or by the scan."""

    path: str
    section: str
    level: int
    score: float
    kind: str
    lecture: int | None
    text: str
    matched: frozenset[str]  # query terms found in this section, to mark in the snippet
    words: tuple[str, ...]  # the query words it holds
    partial: bool = False
    missing: tuple[str, ...] = ()  # the query's content words it lacks
    aliases: tuple[str, ...] = ()  # glossary aliases through which it holds a query word


class SearchHit(BaseModel):
    path: str
    heading: str
    snippet: str
    score: float
    kind: str
    lecture: str | None
    handle: str
    match: Literal["full", "partial"] = Field(
        default="full",
        description="full: holds every word the search requires (a question's lesser words may still be listed in "
                    "missing); partial: holds only some of the query, found after the full matches")
    matched: list[str] = Field(default_factory=list, description="the query words this section holds")
    missing: list[str] = Field(default_factory=list, description="the query's content words this section lacks")
    aliases: list[str] = Field(default_factory=list,
                               description="glossary aliases through which this section holds a query word")


class SearchResults(BaseModel):
    query: str
    hits: list[SearchHit]
    aliases: list[str]
    index_state: str
    notice: str | None = None
    absent: list[str] = Field(default_factory=list, description="query words that occur in no note")
    scanned: bool = False  # answered by reading the notes, not from the index
    corrected: dict[str, str] = Field(
        default_factory=dict,
        description="a typed word no note holds, and the word one slip of the keys from it searched instead")


class IndexStatus(BaseModel):
    state: str  # an IndexState, or "pending N" when fresh with N notes waiting
    files: int
    sections: int
    pending: int
    updated_at: datetime | None
    location: str | None = None  # the index folder
    reason: str | None = None  # why the index is not usable, and what to do


class ReconcileReport(BaseModel):
    indexed: list[str]  # notes (re)indexed
    removed: list[str]  # notes gone from disk, removed from the index
    unchanged: int
    touched: int = 0  # notes with a new mtime but the same content: only their stat was remembered
    seconds: float
