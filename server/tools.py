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
from pydantic import BaseModel, Field

from memory_schema.discussion import DiscussionParts
from memory_schema.errors import ProjectMemoryError
from memory_schema.lectures import lecture_number
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
Tags = Annotated[list[str] | str | None, Field(description="short words")]
Version = Annotated[str, Field(description="from read_memory")]


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


def register(server: MCPServer[None], memory: ProjectMemory) -> None:  # noqa: C901 - one short block per tool
    @server.tool(annotations=READ_ONLY)
    @_acting
    def get_session_context(
        max_tokens: Annotated[int, Field(ge=200, le=20000)] = 2000,
        focus: Annotated[str | None, Field(max_length=MAX_QUERY_CHARS, description="topic to add notes on")] = None,
    ) -> Briefing:
        """Start here each session (回顾): progress, next lecture, the person's rules, recent insights and
        discussions, open TODOs; fitted to max_tokens, with what was left out named."""
        briefing = build_session_context(memory, max_tokens, focus)
        return _result(briefing, render_briefing(briefing))

    @server.tool(annotations=READ_ONLY)
    async def search_discussions(
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="words or a question")],
        scope: Scope = "all",
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        lecture: Lecture = None,
        tags: Tags = None,
        since: Annotated[str | None, Field(description="YYYY-MM-DD")] = None,
    ) -> Found:
        """Search notes and discussions (Chinese, English, mixed; keywords or a question) before explaining a
        topic. Full matches first, then partial ones (marked); each hit has a handle for read_memory."""
        try:
            request = search_request(query, scope=scope, limit=limit, lecture=lecture, tags=tags, since=since)
            results = await anyio.to_thread.run_sync(memory.search, request)
        except ProjectMemoryError as err:
            raise ToolError(str(err)) from err
        return _result(results, render_search(results))

    @server.tool(annotations=READ_ONLY)
    @_acting
    def list_discussions(
        offset: Annotated[int, Field(ge=0)] = 0,
        limit: Annotated[int, Field(ge=1, le=50)] = 20,
        lecture: Lecture = None,
        text: Annotated[str | None, Field(description="words in title or summary")] = None,
    ) -> Listed:
        """The deep discussions, newest first: title, file, last round's date, rounds, one-line summary."""
        listing = memory.list_discussions(offset=offset, limit=limit, text=text,
                                          lecture=_lecture(lecture))
        return _result(listing, render_discussions(listing))

    @server.tool(annotations=READ_ONLY)
    @_acting
    def read_memory(
        handle: Annotated[str, Field(description="'path' or 'path#heading/path'")],
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> PageResult:
        """Read a document or a section by handle, with the version to pass back when editing it."""
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
        """Record a technical insight (记录) in the working memory. A title already used is refused: revise_insight
        changes an insight."""
        return _written(memory.append_insight(title, body, _tags(tags), lecture))

    @server.tool(annotations=EDIT)
    @_acting
    def revise_insight(title: str, body: str, expected_version: Version) -> Written:
        """Replace the body of the insight with this title."""
        return _written(memory.revise_insight(title, body, expected_version))

    @server.tool(annotations=APPEND)
    @_acting
    def record_discussion(
        topic: Annotated[str, Field(description="≤80 CJK chars / 240 bytes; an existing topic gets a new round")],
        question: Annotated[str, Field(description="原始问题")],
        thinking: Annotated[str, Field(description="思维过程")],
        details: Annotated[str, Field(description="技术细节")],
        methodology: Annotated[str, Field(description="方法论提炼")],
        practice: Annotated[str, Field(description="实践指导")],
        tags: Tags = None,
        lecture: Lecture = None,
        summary: Annotated[str | None, Field(description="one line for the list")] = None,
    ) -> Written:
        """Archive a deep discussion with its five parts; continues an existing discussion of the topic."""
        parts = DiscussionParts(question=question, thinking=thinking, details=details, methodology=methodology,
                                practice=practice)
        return _written(memory.record_discussion(topic, parts, _tags(tags), lecture, summary))

    @server.tool(annotations=EDIT)
    @_acting
    def update_progress(
        lecture: Annotated[str | int, Field(description="3 or 'Lecture 03'")],
        status: Annotated[str | None, Field(description="done | in_progress | not_started")] = None,
        note: Annotated[str | None, Field(description="a line for the progress log")] = None,
    ) -> Written:
        """Set a lecture's state and/or log a note; keeps the progress table and the working memory agreeing."""
        return _written(memory.update_progress(lecture, status, note))

    @server.tool(annotations=APPEND)
    @_acting
    def add_research_todo(
        item: Annotated[str, Field(description="one line")],
        topic: Annotated[str | None, Field(description="heading to file it under")] = None,
    ) -> Written:
        """Add an open item to the research TODO list."""
        return _written(memory.add_research_todo(item, topic))

    @server.tool(annotations=EDIT)
    @_acting
    def complete_research_todo(item: Annotated[str, Field(description="enough of its text to pick one")]) -> Written:
        """Tick an open research TODO."""
        return _written(memory.complete_research_todo(item))

    @server.tool(annotations=EDIT)
    @_acting
    def save_lecture_note(
        lecture: Annotated[str | int, Field(description="3 or 'Lecture 03'")],
        part: Annotated[str, Field(description="理论概念 | 实践代码 | 深度问答 | README")],
        content: str,
        expected_version: Annotated[str | None, Field(description="to replace an existing note")] = None,
    ) -> Written:
        """Create a lecture note, or replace one whose version you read."""
        return _written(memory.save_lecture_note(lecture, part, content, expected_version))

    @server.tool(annotations=EDIT)
    @_acting
    def update_section(
        handle: Annotated[str, Field(description="e.g. 'AI助手工作记忆.md#下一步计划'")],
        content: str,
        expected_version: Version,
    ) -> Written:
        """Replace one section (e.g. 下一步计划 when ending a session: 准备)."""
        return _written(memory.update_section(handle, content, expected_version))

    @server.tool(annotations=UNDO)
    @_acting
    def undo_last_write(
        write_id: Annotated[str | None, Field(description="default: the last write")] = None,
    ) -> Written:
        """Take back a write (all its files), if nobody changed them since."""
        return _written(memory.undo(write_id))


def _written(result: WriteResult) -> CallToolResult:
    return _result(result, render_write(result))


def _lecture(value: str | int | None) -> int | None:
    return lecture_number(value) if value not in (None, "") else None
