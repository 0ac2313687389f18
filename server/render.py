"""What the model reads: each tool result as compact plain text.

The structured result still goes to the client as `structuredContent`; the text content is written for the
model, because a JSON copy of the structure (escaped newlines, repeated keys) costs it tokens for nothing.
"""

from server.briefing import SessionContext
from server.outcomes import DiscussionList, Page, WriteResult
from server.search import SearchHit, SearchResults


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
    full = sum(1 for hit in results.hits if hit.match == "full")
    partial = len(results.hits) - full
    counts = _count(full, "match") + (f" and {_count(partial, 'partial match')} (only some query words)"
                                       if partial else "")
    lines.append(f"{counts} for {results.query!r}{also}:")
    lines.append("(each line starts with the handle to pass to read_memory)")
    for rank, hit in enumerate(results.hits, 1):
        lecture = f", {hit.lecture}" if hit.lecture else ""
        lines.append(f"{rank}. {hit.handle} [{hit.kind}{lecture}{_how_matched(hit)}]")
        lines.append(f"   {hit.snippet}")
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "es")


def _how_matched(hit: SearchHit) -> str:
    """What of the query a hit holds, where that is not simply all of it."""
    parts = []
    if hit.match == "partial":
        parts.append(f"partial: has {' '.join(hit.matched)}")
    if hit.missing:
        parts.append(f"lacks {' '.join(hit.missing)}")
    if hit.aliases:
        parts.append(f"via {', '.join(hit.aliases)}")
    return "".join(f", {part}" for part in parts)


def render_discussions(listing: DiscussionList) -> str:
    left_out = [f"Left out: {reason}" for reason in listing.skipped]
    if not listing.discussions:
        return "\n".join(["No discussions match." if listing.total else "No discussions recorded yet.", *left_out])
    lines = [f"{listing.total} discussions, newest first (handles for read_memory):"]
    for entry in listing.discussions:
        when = f" {entry.last_round}" if entry.last_round else ""
        lecture = f" {entry.lecture}" if entry.lecture else ""
        rounds = f", {entry.rounds} rounds" if entry.rounds > 1 else ""
        lines.append(f"- {entry.path} [{when.strip()}{lecture}{rounds}] {entry.summary}")
    if listing.next_offset is not None:
        lines.append(f"(more from offset {listing.next_offset})")
    return "\n".join([*lines, *left_out])


def render_page(page: Page) -> str:
    more = f"; more from offset {page.next_offset} of {page.total_chars}" if page.next_offset is not None else ""
    return f"[{page.handle} · version {page.version}{more}]\n{page.text}"


def render_write(result: WriteResult) -> str:
    undo = f"; undo: {result.write_id}" if result.write_id else ""
    if not result.version:  # an undo removed the file its write had created
        return f"{result.message} ({result.path} no longer exists{undo})"
    return f"{result.message} ({result.path}, version {result.version}{undo})"
