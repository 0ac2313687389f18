"""The MCP tools: each a few lines over one `ProjectMemory` use case.

The docstrings and parameter descriptions are what the model reads on every session: short, saying when to
use the tool and what comes back. Our own errors become `ToolError` here (`_acting`) and nowhere else; an
OSError that escaped the store still reaches the model as a sentence naming what failed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from memory_schema.discussion import DiscussionParts
from memory_schema.errors import ProjectMemoryError
from memory_schema.lectures import lecture_number
from memory_schema.progress import LectureStatus
from server.briefing import SessionContext, build_session_context
from server.memory import ProjectMemory
from server.outcomes import DiscussionList, Page, WriteResult
from server.render import render_briefing, render_discussions, render_page, render_search, render_write
from server.search import MAX_QUERY_CHARS, Scope, SearchResults
from server.search.request import search_request

P = ParamSpec("P")
R = TypeVar("R")

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
APPEND = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
EDIT = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
UNDO = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)

Briefing = Annotated[CallToolResult, SessionContext]
Found = Annotated[CallToolResult, SearchResults]
Listed = Annotated[CallToolResult, DiscussionList]
PageResult = Annotated[CallToolResult, Page]
Written = Annotated[CallToolResult, WriteResult]

Lecture = Annotated[str | int | None, Field(description="3 or 'Lecture 03'")]
# Advertised as a list; "a, b" is accepted too.
Tags = Annotated[list[str] | str | None,
                 WithJsonSchema({"type": "array", "items": {"type": "string"}, "description": "short words"})]
Version = Annotated[str, Field(description="from read_memory")]
Content = Annotated[str, Field(description="Markdown")]
# Advertised to the model; other spellings the progress doc uses (进行中, ✅) are accepted too.
STATUS_VALUES = tuple(status.value for status in LectureStatus)
Limit = Annotated[int, Field(ge=1, le=50, description="1-50")]
Offset = Annotated[int, Field(ge=0, description="to page on")]


def _acting(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn our own errors into ToolError so the model sees what to do next; anything else stays hidden."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ProjectMemoryError as err:
            raise ToolError(str(err)) from err
        except OSError as err:  # the store translates these; this is the last line of defence
            raise ToolError(f"{err.filename or 'a file'} could not be used ({err.strerror or err}); nothing "
                            "was changed. Check its permissions and free space, then retry.") from err

    return wrapper


def _result(structured: BaseModel, text: str) -> CallToolResult:
    """Plain text for the model, the full structure for the client."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=structured.model_dump(mode="json"))


def _tags(tags: list[str] | str | None) -> list[str] | None:
    if isinstance(tags, str):
        return [tag.strip() for tag in tags.replace("，", ",").split(",") if tag.strip()]
    return tags


def register(server: MCPServer[None], memory: ProjectMemory) -> None:
    @server.tool(annotations=READ_ONLY)
    @_acting
    def get_session_context(
        max_tokens: Annotated[int, Field(ge=200, le=20000, description="200-20000")] = 2000,
        focus: Annotated[str | None, Field(max_length=MAX_QUERY_CHARS, description="a topic to add notes on")] = None,
    ) -> Briefing:
        """Start each session here (回顾): progress, next step, rules, recent insights, discussions, TODOs."""
        briefing = build_session_context(memory, max_tokens, focus)
        return _result(briefing, render_briefing(briefing))

    @server.tool(annotations=READ_ONLY)
    async def search_discussions(
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="words or a question")],
        scope: Annotated[Scope, Field(description="where")] = "all",
        limit: Limit = 10,
        lecture: Lecture = None,
        tags: Tags = None,
        since: Annotated[str | None, Field(description="YYYY-MM-DD")] = None,
    ) -> Found:
        """Search notes and discussions (keywords or a question, any language) before explaining a topic."""
        try:
            request = search_request(query, scope=scope, limit=limit, lecture=lecture, tags=tags, since=since)
            results = await anyio.to_thread.run_sync(memory.search, request)
        except ProjectMemoryError as err:
            raise ToolError(str(err)) from err
        return _result(results, render_search(results))

    @server.tool(annotations=READ_ONLY)
    @_acting
    def list_discussions(
        offset: Offset = 0,
        limit: Limit = 20,
        lecture: Lecture = None,
        text: Annotated[str | None, Field(description="words in title or summary")] = None,
    ) -> Listed:
        """The deep discussions, newest first, with one-line summaries."""
        listing = memory.list_discussions(offset=offset, limit=limit, text=text,
                                          lecture=_lecture(lecture))
        return _result(listing, render_discussions(listing))

    @server.tool(annotations=READ_ONLY)
    @_acting
    def read_memory(
        handle: Annotated[str, Field(description="'path' or 'path#heading/path'")],
        offset: Offset = 0,
    ) -> PageResult:
        """Read a document or section, with the version an edit needs."""
        page = memory.read_page(handle, offset)
        return _result(page, render_page(page))

    @server.tool(annotations=APPEND)
    @_acting
    def append_insight(
        title: Annotated[str, Field(description="unique, one line")],
        body: Annotated[str, Field(description="Markdown, 2-5 bullets")],
        tags: Tags = None,
        lecture: Lecture = None,
    ) -> Written:
        """Record an insight (记录) in the working memory."""
        return _written(memory.append_insight(title, body, _tags(tags), lecture))

    @server.tool(annotations=EDIT)
    @_acting
    def revise_insight(
        title: Annotated[str, Field(description="an insight's title")],
        body: Annotated[str, Field(description="its new body")],
        expected_version: Version,
    ) -> Written:
        """Replace an insight's body."""
        return _written(memory.revise_insight(title, body, expected_version))

    @server.tool(annotations=APPEND)
    @_acting
    def record_discussion(
        topic: Annotated[str, Field(description="≤240 bytes (80 CJK chars); an existing topic continues")],
        question: Annotated[str, Field(description="原始问题")],
        thinking: Annotated[str, Field(description="思维过程")],
        details: Annotated[str, Field(description="技术细节")],
        methodology: Annotated[str, Field(description="方法论提炼")],
        practice: Annotated[str, Field(description="实践指导")],
        tags: Tags = None,
        lecture: Lecture = None,
        summary: Annotated[str | None, Field(description="one line for listings")] = None,
    ) -> Written:
        """Archive a deep discussion (深度讨论)."""
        parts = DiscussionParts(question=question, thinking=thinking, details=details, methodology=methodology,
                                practice=practice)
        return _written(memory.record_discussion(topic, parts, _tags(tags), lecture, summary))

    @server.tool(annotations=EDIT)
    @_acting
    def update_progress(
        lecture: Annotated[str | int, Field(description="3 or 'Lecture 03'")],
        status: Annotated[str | None,
                          Field(description="new state", json_schema_extra={"enum": list(STATUS_VALUES)})] = None,
        note: Annotated[str | None, Field(description="a line for the log")] = None,
    ) -> Written:
        """Set a lecture's status and/or log a note."""
        return _written(memory.update_progress(lecture, status, note))

    @server.tool(annotations=APPEND)
    @_acting
    def add_research_todo(
        item: Annotated[str, Field(description="one line")],
        topic: Annotated[str | None, Field(description="heading to file it under")] = None,
    ) -> Written:
        """Add a research TODO."""
        return _written(memory.add_research_todo(item, topic))

    @server.tool(annotations=EDIT)
    @_acting
    def complete_research_todo(item: Annotated[str, Field(description="enough of its text")]) -> Written:
        """Tick a research TODO."""
        return _written(memory.complete_research_todo(item))

    @server.tool(annotations=EDIT)
    @_acting
    def save_lecture_note(
        lecture: Annotated[str | int, Field(description="3 or 'Lecture 03'")],
        part: Annotated[str, Field(description="理论概念 | 实践代码 | 深度问答 | README")],
        content: Content,
        expected_version: Annotated[str | None, Field(description="to replace a note")] = None,
    ) -> Written:
        """Create or replace a lecture note."""
        return _written(memory.save_lecture_note(lecture, part, content, expected_version))

    @server.tool(annotations=EDIT)
    @_acting
    def update_section(
        handle: Annotated[str, Field(description="'path#heading'")],
        content: Content,
        expected_version: Version,
    ) -> Written:
        """Replace one section (e.g. 下一步计划 at session end: 准备)."""
        return _written(memory.update_section(handle, content, expected_version))

    @server.tool(annotations=UNDO)
    @_acting
    def undo_last_write(
        write_id: Annotated[str | None, Field(description="default: the last")] = None,
    ) -> Written:
        """Take back a write, if its files are unchanged since (default: this session's last)."""
        return _written(memory.undo(write_id, own=not write_id))


def _written(result: WriteResult) -> CallToolResult:
    return _result(result, render_write(result))


def _lecture(value: str | int | None) -> int | None:
    return lecture_number(value) if value not in (None, "") else None
