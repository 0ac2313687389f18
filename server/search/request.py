"""`SearchRequest`: what a search asks, validated once at each edge (the MCP tool, the CLI, the briefing)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memory_schema.errors import InvalidInput
from memory_schema.lectures import lecture_number

Scope = Literal["all", "discussions", "notes", "memory"]
MAX_QUERY_CHARS = 500
MAX_LIMIT = 50


class SearchRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    scope: Scope = "all"
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)
    lecture: int | None = Field(default=None, ge=1, le=99)
    tags: tuple[str, ...] = ()
    since: date | None = None
    all_sections: bool = False  # every matching section, not only the best one per file


def search_request(
    query: str,
    *,
    scope: str = "all",
    limit: int = 10,
    lecture: int | str | None = None,
    tags: list[str] | str | None = None,
    since: date | datetime | str | None = None,
    all_sections: bool = False,
) -> SearchRequest:
    """A request from what a person or a model typed: a lecture as 3 or 'Lecture 03', tags as a list or one
    comma-separated string, a date as 2026-03-01. Anything else is InvalidInput saying what to give."""
    number = lecture_number(lecture) if lecture not in (None, "") else None
    if isinstance(tags, str):
        tags = [tag for tag in re.split(r"[,，、]", tags) if tag.strip()]
    when: date | None
    if isinstance(since, str) and since.strip():
        try:
            when = date.fromisoformat(since.strip())
        except ValueError:
            raise InvalidInput(f"since must be a date such as 2026-03-01, not {since!r}.") from None
    elif isinstance(since, datetime):
        when = since.date()
    else:
        when = since if isinstance(since, date) else None
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("the query is empty; give a few words to search for, such as 'KV缓存'.")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the query is {len(query)} characters; keep it under {MAX_QUERY_CHARS}.")
    try:
        return SearchRequest.model_validate({"query": query, "scope": scope, "limit": limit, "lecture": number,
                                             "tags": tuple(tags or ()), "since": when, "all_sections": all_sections})
    except ValidationError as err:
        field = str(err.errors()[0]["loc"][0])
        allowed = {"scope": "one of all, discussions, notes, memory", "limit": f"a whole number from 1 to {MAX_LIMIT}"}
        raise InvalidInput(f"{field} must be {allowed.get(field, 'valid')}, not {locals().get(field)!r}.") from None
