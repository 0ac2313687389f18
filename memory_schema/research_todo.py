"""The research TODO (`深度探索TODO.md`): checklist items grouped under topic headings."""

import re

from pydantic import BaseModel

from memory_schema.errors import InvalidInput
from memory_schema.markdown import append_list_item, insert_section, parse_markdown

# The lookahead ends an item at its line break without taking a CRLF file's `\r` into the item text.
_CHECK = re.compile(
    r"^(?P<lead>[ \t]*[-*+][ \t]+\[)(?P<mark>[ xX])(?P<rest>\][ \t]+(?P<text>[^\r\n]*?))"
    r"[ \t]*(?=\r?\n|\r|\Z)",
    re.M,
)
_ADDED_ON = re.compile(r"\s*\(\d{4}-\d{2}-\d{2}\)$")
_DONE_ON = re.compile(r"\s*✅\s*\d{4}-\d{2}-\d{2}$")


class TodoItem(BaseModel):
    text: str
    done: bool
    topic: str | None
    line: int


def parse_research_todo(text: str) -> list[TodoItem]:
    document = parse_markdown(text)
    items = []
    for match in _CHECK.finditer(text):
        owner = next((s for s in reversed(document.sections) if s.start <= match.start()), None)
        items.append(
            TodoItem(
                text=match.group("text"),
                done=match.group("mark") != " ",
                topic=owner.title or None if owner else None,
                line=text.count("\n", 0, match.start()) + 1,
            )
        )
    return items


def add_todo(text: str, item: str, topic: str, today: str) -> str:
    """Add an open item under `## topic` (created at the end when missing); an item with this text, open or
    already done, is kept once."""
    if any(_plain(t.text) == item for t in parse_research_todo(text)):
        return text
    document = parse_markdown(text)
    line = f"- [ ] {item} ({today})"
    section = document.find_optional(topic)
    if section is not None:
        return append_list_item(document, section, line)
    top = next((s for s in document.headings() if s.level == 1), None)
    return insert_section(document, top, 2, topic, line)


def _plain(text: str) -> str:
    """An item's words without the date it was added or done on."""
    return _DONE_ON.sub("", _ADDED_ON.sub("", text))


def has_todo(text: str, item: str, *, done: bool) -> bool:
    return any(t.done is done and _plain(t.text) == item for t in parse_research_todo(text))


def has_open_todo(text: str, item: str) -> bool:
    return has_todo(text, item, done=False)


def has_done_todo(text: str, item: str) -> bool:
    return any(t.done and item in t.text for t in parse_research_todo(text))


def complete_todo(text: str, item: str, today: str) -> str:
    """Tick the one open item whose text contains `item`, dated by its completion (the date it was added is
    dropped: one date per item). An item already ticked, with no open one matching, is left as it is."""
    matches = [m for m in _CHECK.finditer(text) if m.group("mark") == " " and item in m.group("text")]
    if not matches and has_done_todo(text, item):
        return text
    if not matches:
        open_items = [t.text for t in parse_research_todo(text) if not t.done]
        shown = "; ".join(open_items[:10]) or "none"
        raise InvalidInput(f"no open research TODO matches {item!r}; open items: {shown}.")
    if len(matches) > 1:
        raise InvalidInput(
            f"{len(matches)} open items match {item!r}; give more of the item's text to pick one."
        )
    match = matches[0]
    words = _ADDED_ON.sub("", match.group("text"))
    rest = match.group("rest")[: len(match.group("rest")) - len(match.group("text"))] + words
    done = f"{match.group('lead')}x{rest} ✅ {today}"
    return text[: match.start()] + done + text[match.end() :]
