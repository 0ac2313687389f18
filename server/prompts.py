"""The workflow prompts: start_session (回顾 + 计划), end_session (记录 + 准备), socratic_discussion."""

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from memory_schema.vocabulary import SECTIONS
from server.memory import ProjectMemory


def register(server: MCPServer[Any], memory: ProjectMemory) -> None:
    layout = memory.layout
    next_steps = SECTIONS["next_steps"][memory.language][0]

    @server.prompt(title="Start a study session (回顾 + 计划)")
    def start_session(focus: Annotated[str | None, Field(description="a topic to look at first")] = None) -> str:
        """Review the memory and plan today's work."""
        topic = f" with focus={focus!r}" if focus else ""
        return (
            f"We are starting a study session. 回顾: call get_session_context{topic} and read the briefing. "
            "If it flags stale sections or a progress mismatch, tell me and propose the fix. Read with "
            "read_memory only the left-out handles you need. 计划: propose today's plan in 3-5 steps, based on "
            "the next steps, the current lecture and open research TODOs, and ask me to confirm before we begin. "
            "Before explaining any topic, search_discussions for what we already recorded about it."
        )

    @server.prompt(title="End a study session (记录 + 准备)")
    def end_session() -> str:
        """Record what the session produced and leave context for the next one."""
        return (
            "We are ending the session. 记录: for each new technical insight from this session call "
            "append_insight (short title, 2-5 bullets, tags, lecture); where it corrects an earlier insight, "
            "revise_insight that one instead. For each deep discussion we had, call record_discussion with all "
            "five parts (原始问题, 思维过程, 技术细节, 方法论提炼, 实践指导); the same topic continues its document. "
            "If a lecture was finished or started, call update_progress. Add research ideas with add_research_todo "
            "and tick finished ones with complete_research_todo. 准备: read the next-steps section with "
            f"read_memory('{layout.working_memory}#{next_steps}') and replace it with update_section so the next "
            "session knows where to start. If a write went wrong, undo_last_write takes it back. Then summarise in "
            "three lines what was recorded."
        )

    @server.prompt(title="Socratic discussion of a topic")
    def socratic_discussion(topic: Annotated[str, Field(description="what to discuss")]) -> str:
        """Guide a question-led discussion of `topic`, then record it."""
        return (
            f"Lead a Socratic discussion about {topic!r}. First search_discussions for {topic!r} and build on "
            "what we already recorded instead of repeating it. Ask one guiding question at a time and let me "
            "answer; correct misconceptions with numbers, code or a concrete example; move from intuition to "
            "precise technical detail and to engineering trade-offs. When we reach a clear understanding, "
            f"call record_discussion(topic={topic!r}, ...) with the five parts: 原始问题 (the guiding questions "
            "and my first answers), 思维过程 (how my understanding changed), 技术细节 (code, calculations), "
            "方法论提炼 (the reusable way of thinking), 实践指导 (what to apply). Add one append_insight for the "
            "single most important takeaway."
        )
