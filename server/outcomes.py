"""What the use cases hand back: the shapes the MCP tools, the CLI and the tests read."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WriteResult(BaseModel):
    """What a write did: the file, its new version, and whether any byte changed."""

    path: str
    version: str
    handle: str
    changed: bool
    message: str
    write_id: str | None = Field(default=None, description="pass to undo to take this write back")


class Page(BaseModel):
    handle: str
    path: str
    version: str
    text: str
    offset: int
    next_offset: int | None
    total_chars: int


class DiscussionEntry(BaseModel):
    title: str
    path: str
    last_round: str | None  # the date of the newest round (or of the record)
    lecture: str | None
    rounds: int
    summary: str


class DiscussionList(BaseModel):
    total: int  # discussions matching the filters
    offset: int
    next_offset: int | None
    discussions: list[DiscussionEntry]
    skipped: list[str] = Field(default_factory=list, description="discussion files that cannot be read, and why")
