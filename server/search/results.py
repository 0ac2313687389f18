"""What the search engine hands back: search results, the index's status and a reconcile's report.

Plain pydantic models, the shapes the MCP tools, the CLI and the status page show; `server.search` builds
them and re-exports them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SearchHit(BaseModel):
    path: str
    heading: str
    snippet: str
    score: float
    kind: str
    lecture: str | None
    handle: str


class SearchResults(BaseModel):
    query: str
    hits: list[SearchHit]
    aliases: list[str]
    index_state: str
    notice: str | None = None


class IndexStatus(BaseModel):
    state: str  # starting | fresh | pending N | rebuilding | missing | corrupt
    files: int
    sections: int
    pending: int
    updated_at: datetime | None


class ReconcileReport(BaseModel):
    indexed: list[str]  # notes (re)indexed
    removed: list[str]  # notes gone from disk, removed from the index
    unchanged: int
    touched: int = 0  # notes with a new mtime but the same content: only their stat was remembered
    seconds: float
