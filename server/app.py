"""The MCP server: `create_server(memory)` builds it; tools (`server.tools`), resources and prompts are each a
few lines over `ProjectMemory`.

`MemoryServer` adjusts two things of the SDK's `MCPServer`, through its public methods: arguments that fail
the input schema come back as one sentence per field that says what to send (not a pydantic dump), and the
tool list the model pays for every session carries no schema noise (per-property titles). The lifespan
starts the index warm-up in the background (the handshake never waits for it) and the file watcher, and stops
both.
"""

from __future__ import annotations

import difflib
import functools
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from mcp import MCPError
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourcesListChanged, ResourceUpdated
from mcp.types import INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult, TextContent
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from memory_schema.errors import ProjectMemoryError
from server import prompts, tools
from server.arguments import explain_invalid_arguments, tidy_description, tidy_schema
from server.memory import ProjectMemory
from server.sync import LiveSync
from server.uris import ROLE_URIS

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
The memory of this study project, in the person's own Markdown files (they edit them too). Rhythm 回顾 → 计划 → \
执行 → 记录 → 准备: get_session_context first; search_discussions before explaining a topic again; record as you \
go; at the end, update 下一步计划. Edits take the version read_memory gave."""


class MemoryServer(MCPServer[None]):
    refusal: ProjectMemoryError | None = None  # set when the root is not a memory: every tool says so
    _parameter_names: dict[str, frozenset[str]] | None = None  # per tool, read once from the registered tools

    async def _parameters(self, tool: str) -> frozenset[str] | None:
        """The argument names `tool` takes, or None for a tool that does not exist (the SDK says so itself)."""
        if self._parameter_names is None:
            self._parameter_names = {listed.name: frozenset(listed.input_schema.get("properties", {}))
                                     for listed in await super().list_tools()}
        return self._parameter_names.get(tool)

    async def list_tools(self) -> list[MCPTool]:
        return [tool.model_copy(update={"input_schema": tidy_schema(tool.input_schema),
                                        "description": tidy_description(tool.description)})
                for tool in await super().list_tools()]

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[None, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """The SDK answers a wrong prompt name or argument with "Internal server error"; say what is wrong."""
        known = {prompt.name: prompt for prompt in await self.list_prompts()}
        prompt = known.get(name)
        if prompt is None:
            raise MCPError(INVALID_PARAMS, f"no prompt named {name!r}; the prompts are {', '.join(sorted(known))}.")
        accepted = {argument.name: argument.required for argument in prompt.arguments or []}
        given = set(arguments or {})
        problems = [f"{arg} is required" for arg, required in accepted.items() if required and arg not in given]
        problems += [f"{arg} is not one of its arguments" for arg in sorted(given - set(accepted))]
        if problems:
            takes = f" (it takes {', '.join(accepted)})" if accepted else " (it takes no arguments)"
            raise MCPError(INVALID_PARAMS, f"prompt {name}: {'; '.join(problems)}{takes}.")
        return await super().get_prompt(name, arguments, context)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[None, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if self.refusal is not None:
            if name == "get_session_context":
                return CallToolResult(content=[TextContent(type="text", text=str(self.refusal))])
            raise ToolError(str(self.refusal))
        accepted = await self._parameters(name)
        if accepted is not None and (misspelt := _misspelt(set(arguments or {}) - accepted, accepted)):
            # Ignored, a misspelt argument (max_token) would run the tool on its default, and the model never know.
            # Other keys pass, as the SDK lets them: some clients add their own (n8n's toolCallId).
            takes = ", ".join(sorted(accepted)) or "no arguments"
            raise ToolError(f"{name} was not run: {', '.join(misspelt)} is not one of its arguments "
                            f"(it takes {takes}).")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as err:
            if isinstance(err.__cause__, ValidationError):
                raise ToolError(explain_invalid_arguments(name, err.__cause__)) from err.__cause__
            raise


def _misspelt(unknown: set[str], accepted: frozenset[str]) -> list[str]:
    """The unknown argument names that look like one the tool takes (max_token, Query, lectures): a slip, not a
    key a client adds for itself."""
    def key(name: str) -> str:
        return name.lower().replace("_", "").replace("-", "").rstrip("s")
    return sorted(name for name in unknown
                  if any(key(name) == key(known) or difflib.SequenceMatcher(None, key(name), key(known)).ratio() >= 0.8
                         for known in accepted))


def create_server(
    memory: ProjectMemory, *, watch: bool = True, warm_up: bool = True, refusal: ProjectMemoryError | None = None
) -> MemoryServer:
    """The server for `memory`. With `refusal` (the root is not a memory) it starts without touching the folder,
    and every tool answers with the refusal's message."""
    bus = InMemorySubscriptionBus()
    if refusal is not None:
        watch = warm_up = False

    @asynccontextmanager
    async def lifespan(_: MCPServer[None]) -> AsyncIterator[None]:
        portal_token = anyio.lowlevel.current_token()

        def publish(uris: list[str], listing_changed: bool) -> None:
            events: list[ResourceUpdated | ResourcesListChanged] = [ResourceUpdated(uri=uri) for uri in uris]
            if listing_changed:
                events.append(ResourcesListChanged())
            for event in events:
                anyio.from_thread.run(bus.publish, event, token=portal_token)

        sync = LiveSync(memory, publish) if watch else None
        warming = threading.Thread(target=memory.ensure_index, name="project-memory-warm-up", daemon=True)
        if warm_up:
            warming.start()
        if sync is not None:
            await anyio.to_thread.run_sync(sync.start)
        try:
            yield None
        finally:
            if sync is not None:
                await anyio.to_thread.run_sync(sync.stop)
            # Closing while the warm-up still opens the index would leave its files open.
            if warming.is_alive():
                await anyio.to_thread.run_sync(warming.join)
            await anyio.to_thread.run_sync(memory.close)

    server = MemoryServer(
        "project-memory",
        version=_version(),
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        subscriptions=bus,
    )
    server.refusal = refusal
    tools.register(server, memory)
    _add_resources(server, memory)
    prompts.register(server, memory)
    logger.info("serving the memory at %s (layout %s)", memory.root, memory.layout.preset)
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("project-memory")
    except PackageNotFoundError:
        return "0.0.0"


def _add_resources(server: MCPServer[None], memory: ProjectMemory) -> None:
    for kind, uri in ROLE_URIS.items():
        path = memory.layout.role_paths()[kind]
        server.resource(uri, name=kind.value, title=path, mime_type="text/markdown",
                        description=f"{path} ({kind.value.replace('_', ' ')})")(
                            functools.partial(_read_resource, memory, path))

    @server.resource("memory://discussions", mime_type="application/json", title="Discussions, newest first")
    def discussion_list() -> str:
        """Every deep discussion: title, file, date of its last round, lecture, rounds and a one-line summary."""
        return memory.list_discussions(limit=1000).model_dump_json()

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
