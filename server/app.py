"""The MCP server: tools, resources and prompts, each a few lines over `ProjectMemory`.

Errors the model can act on become `ToolError` here and nowhere else. The lifespan starts the index warm-up
in the background (the handshake never waits for it) and the file watcher, and stops both.
"""

import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, ParamSpec, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourcesListChanged, ResourceUpdated
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from memory_schema.discussion import DiscussionParts
from memory_schema.errors import ProjectMemoryError
from server import prompts
from server.briefing import SessionContext, build_session_context
from server.memory import Page, ProjectMemory, WriteResult
from server.render import render_briefing, render_page, render_search, render_write
from server.search import SearchResults
from server.sync import LiveSync
from server.uris import ROLE_URIS

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
APPEND = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
EDIT = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
ADD = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)

INSTRUCTIONS = """\
project-memory keeps this project's study memory in the person's own Markdown files.
Work in the rhythm 回顾 → 计划 → 执行 → 记录 → 准备:
- At the start of a session call get_session_context once (it is token-budgeted), then read_memory for any
  handle it lists as left out that you need. Use search_discussions before re-explaining a topic: it may have
  been discussed already (Chinese and English queries both work).
- Record as you go: append_insight for a short technical insight; record_discussion for a deep Socratic
  discussion (all five parts); update_progress when a lecture's state changes; add_research_todo /
  complete_research_todo for research ideas; save_lecture_note for lecture notes.
- To change a section (e.g. 下一步计划) read it with read_memory, then update_section with its version.
- The person edits these files too: if a tool says a file changed since you read it, read it again.
"""


def _acting(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn our own errors into ToolError so the model sees what to do next; anything else stays hidden."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ProjectMemoryError as err:
            raise ToolError(str(err)) from err

    return wrapper


def _result(structured: BaseModel, text: str) -> CallToolResult:
    """Plain text for the model, the full structure for the client."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=structured.model_dump(mode="json"))


Briefing = Annotated[CallToolResult, SessionContext]
Found = Annotated[CallToolResult, SearchResults]
PageResult = Annotated[CallToolResult, Page]
Written = Annotated[CallToolResult, WriteResult]


@dataclass
class ServerState:
    memory: ProjectMemory
    sync: LiveSync | None


def create_server(
    memory: ProjectMemory, *, watch: bool = True, warm_in_background: bool = True
) -> MCPServer[ServerState]:
    bus = InMemorySubscriptionBus()

    @asynccontextmanager
    async def lifespan(_: MCPServer[ServerState]) -> AsyncIterator[ServerState]:
        portal_token = anyio.lowlevel.current_token()

        def publish(uris: list[str], listing_changed: bool) -> None:
            events: list[ResourceUpdated | ResourcesListChanged] = [ResourceUpdated(uri=uri) for uri in uris]
            if listing_changed:
                events.append(ResourcesListChanged())
            for event in events:
                anyio.from_thread.run(bus.publish, event, token=portal_token)

        sync = LiveSync(memory, publish) if watch else None
        warm = threading.Thread(target=memory.warm_up, name="project-memory-warm-up", daemon=True)
        if warm_in_background:
            warm.start()
        if sync is not None:
            await anyio.to_thread.run_sync(sync.start)
        try:
            yield ServerState(memory=memory, sync=sync)
        finally:
            if sync is not None:
                await anyio.to_thread.run_sync(sync.stop)
            # Closing while the warm-up still opens the index would leave its files open.
            if warm.is_alive():
                await anyio.to_thread.run_sync(warm.join)
            await anyio.to_thread.run_sync(memory.close)

    server: MCPServer[ServerState] = MCPServer(
        "project-memory",
        version=_version(),
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        subscriptions=bus,
    )
    _add_tools(server, memory)
    _add_resources(server, memory)
    prompts.register(server, memory)
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("project-memory")
    except PackageNotFoundError:
        return "0.0.0"


def _add_tools(server: MCPServer[ServerState], memory: ProjectMemory) -> None:
    @server.tool(annotations=READ_ONLY)
    @_acting
    def get_session_context(
        max_tokens: Annotated[int, Field(ge=200, le=20000, description="token budget for the briefing")] = 2000,
        focus: Annotated[str | None, Field(description="a topic or lecture to add matching notes for")] = None,
    ) -> Briefing:
        """Start here each session (回顾): progress, next steps, recent insights, discussions, open TODOs and
        staleness flags, fitted to max_tokens. Items left out are listed as handles for read_memory."""
        briefing = build_session_context(memory, max_tokens, focus)
        return _result(briefing, render_briefing(briefing))

    @server.tool(annotations=READ_ONLY)
    async def search_discussions(
        query: Annotated[str, Field(min_length=1, max_length=500)],
        ctx: Context,
        scope: Annotated[str, Field(description="all | discussions | notes | memory")] = "all",
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        lecture: Annotated[str | None, Field(description="e.g. 'Lecture 03' or '3'")] = None,
        tags: list[str] | None = None,
        since: Annotated[date | None, Field(description="only documents modified on or after this date")] = None,
    ) -> Found:
        """Full-text search over discussions, notes and memory documents (Chinese, English or mixed, e.g.
        'KV缓存', 'pin_memory', '注意力机制'). Best section per file first, each with a snippet and a handle
        for read_memory. Check here before re-explaining a topic."""
        # Not loaded yet: load it (or build the first index) here, telling the client how far it is. A rebuild
        # after damage is not waited for: the engine answers by scanning the files meanwhile and says so.
        if memory.index_status().state == "starting":

            def report(done: int, total: int) -> None:
                anyio.from_thread.run(ctx.report_progress, done, total, "building the search index")

            await anyio.to_thread.run_sync(functools.partial(memory.warm_up, report))
        try:
            results = await anyio.to_thread.run_sync(
                functools.partial(
                    memory.search, query, scope=scope, limit=limit, lecture=lecture, tags=tags, since=since
                )
            )
        except ProjectMemoryError as err:
            raise ToolError(str(err)) from err
        return _result(results, render_search(results))

    @server.tool(annotations=READ_ONLY)
    @_acting
    def read_memory(
        handle: Annotated[str, Field(description="'path' or 'path#heading/path', as search results give")],
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> PageResult:
        """Read a document or one section by handle, with its version (pass it back to edit). Long texts
        come in pages: call again with next_offset."""
        page = memory.read_page(handle, offset)
        return _result(page, render_page(page))

    @server.tool(annotations=APPEND)
    @_acting
    def append_insight(
        title: Annotated[str, Field(description="one line, no '#'")],
        body: Annotated[str, Field(description="Markdown, usually 2-5 bullet points")],
        tags: list[str] | None = None,
        lecture: str | None = None,
    ) -> Written:
        """Record a short technical insight under 重要技术洞察记录 in the working memory (记录). Retrying the
        same title and body adds nothing."""
        written = memory.append_insight(title, body, tags, lecture)
        return _result(written, render_write(written))

    @server.tool(annotations=ADD)
    @_acting
    def record_discussion(
        topic: Annotated[str, Field(description="short topic; the file becomes 深度讨论/<topic>深度讨论.md")],
        question: Annotated[str, Field(description="原始问题: the guiding question and the learner's thinking")],
        thinking: Annotated[str, Field(description="思维过程: how understanding moved from wrong to right")],
        details: Annotated[str, Field(description="技术细节: code, numbers, architecture")],
        methodology: Annotated[str, Field(description="方法论提炼: the reusable way of thinking")],
        practice: Annotated[str, Field(description="实践指导: what to apply and how")],
        tags: list[str] | None = None,
        lecture: str | None = None,
    ) -> Written:
        """Archive a deep discussion with all five required parts. An existing topic gets a dated new round
        appended (nothing is overwritten); the working memory's list of discussion documents is updated."""
        parts = DiscussionParts(
            question=question, thinking=thinking, details=details, methodology=methodology, practice=practice
        )
        written = memory.record_discussion(topic, parts, tags, lecture)
        return _result(written, render_write(written))

    @server.tool(annotations=EDIT)
    @_acting
    def update_progress(
        lecture: Annotated[str, Field(description="'Lecture 03' or '3'")],
        status: Annotated[str, Field(description="done | in_progress | not_started")],
        note: Annotated[str | None, Field(description="optional line for the progress log")] = None,
    ) -> Written:
        """Mark a lecture's state; keeps the progress table, its summary and the working memory's 当前进度状态
        consistent (e.g. 已完成讲座 3/17 (17.6%))."""
        written = memory.update_progress(lecture, status, note)
        return _result(written, render_write(written))

    @server.tool(annotations=APPEND)
    @_acting
    def add_research_todo(item: str, topic: str | None = None) -> Written:
        """Add an open item to the research TODO (深度探索TODO.md), under `topic` when given."""
        written = memory.add_research_todo(item, topic)
        return _result(written, render_write(written))

    @server.tool(annotations=EDIT)
    @_acting
    def complete_research_todo(
        item: Annotated[str, Field(description="the item's text, or enough of it to pick one open item")],
    ) -> Written:
        """Tick an open research TODO item."""
        written = memory.complete_research_todo(item)
        return _result(written, render_write(written))

    @server.tool(annotations=EDIT)
    @_acting
    def save_lecture_note(
        lecture: Annotated[str, Field(description="'Lecture 03' or '3'")],
        part: Annotated[str, Field(description="理论概念 | 实践代码 | 深度问答 | README")],
        content: str,
        expected_version: Annotated[str | None, Field(description="required to replace an existing note")] = None,
    ) -> Written:
        """Create or replace one part of a lecture's notes in the notes tree (folder chosen from the plan).
        Replacing needs the version from read_memory, so the person's edits are never lost."""
        written = memory.save_lecture_note(lecture, part, content, expected_version)
        return _result(written, render_write(written))

    @server.tool(annotations=EDIT)
    @_acting
    def update_section(
        handle: Annotated[str, Field(description="'path#heading/path', e.g. 'AI助手工作记忆.md#下一步计划'")],
        content: str,
        expected_version: Annotated[str, Field(description="the version read_memory returned")],
    ) -> Written:
        """Replace one section's content (e.g. 下一步计划 at the end of a session, 准备). Refused if the file
        changed since that version was read."""
        written = memory.update_section(handle, content, expected_version)
        return _result(written, render_write(written))


def _add_resources(server: MCPServer[ServerState], memory: ProjectMemory) -> None:
    for kind, uri in ROLE_URIS.items():
        path = memory.layout.role_paths()[kind]
        server.resource(uri, name=kind.value, title=path, mime_type="text/markdown",
                        description=f"{path} ({kind.value.replace('_', ' ')})")(
                            functools.partial(_read_resource, memory, path))

    @server.resource("memory://discussions/{name}", mime_type="text/markdown", title="A deep discussion")
    def discussion(name: str) -> str:
        """A discussion record by its file name without .md."""
        return _read_resource(memory, f"{memory.layout.discussions_dir}/{name}.md")

    @server.resource("memory://notes/{+path}", mime_type="text/markdown", title="A note")
    def note(path: str) -> str:
        """Any other Markdown document in the memory, by its path relative to the root."""
        return _read_resource(memory, path)


def _read_resource(memory: ProjectMemory, path: str) -> str:
    try:
        return memory.read_text(path).text
    except ProjectMemoryError as err:
        raise ResourceNotFoundError(str(err)) from err
