"""What the model reads: each tool result as compact plain text.

The structured result still goes to the client as `structuredContent`; the text content is written for the
model, because a JSON copy of the structure (escaped newlines, repeated keys) costs it tokens for nothing.
"""

from server.briefing import SessionContext
from server.memory import Page, WriteResult
from server.search import SearchResults


def render_briefing(context: SessionContext) -> str:
    return context.text


def render_search(results: SearchResults) -> str:
    lines = []
    if results.notice:
        lines.append(f"Note: {results.notice}")
    also = f" (also searched: {', '.join(results.aliases)})" if results.aliases else ""
    if not results.hits:
        lines.append(f"No matches for {results.query!r}{also}.")
        return "\n".join(lines)
    lines.append(f"{len(results.hits)} matches for {results.query!r}{also}:")
    lines.append("(each line starts with the handle to pass to read_memory)")
    for rank, hit in enumerate(results.hits, 1):
        lecture = f", {hit.lecture}" if hit.lecture else ""
        lines.append(f"{rank}. {hit.handle} [{hit.kind}{lecture}]")
        lines.append(f"   {hit.snippet}")
    return "\n".join(lines)


def render_page(page: Page) -> str:
    more = f"; more from offset {page.next_offset} of {page.total_chars}" if page.next_offset is not None else ""
    return f"[{page.handle} · version {page.version}{more}]\n{page.text}"


def render_write(result: WriteResult) -> str:
    return f"{result.message} ({result.path}, version {result.version})"
