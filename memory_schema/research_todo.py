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
    """Add an open item under `## topic` (created at the end when missing); an identical open item is kept once."""
    if any(not t.done and _ADDED_ON.sub("", t.text) == item for t in parse_research_todo(text)):
        return text
    document = parse_markdown(text)
    line = f"- [ ] {item} ({today})"
    section = document.find_optional(topic)
    if section is not None:
        return append_list_item(document, section, line)
    top = next((s for s in document.headings() if s.level == 1), None)
    return insert_section(document, top, 2, topic, line)


def complete_todo(text: str, item: str, today: str) -> str:
    """Tick the one open item whose text contains `item`."""
    matches = [m for m in _CHECK.finditer(text) if m.group("mark") == " " and item in m.group("text")]
    if not matches:
        open_items = [t.text for t in parse_research_todo(text) if not t.done]
        shown = "; ".join(open_items[:10]) or "none"
        raise InvalidInput(f"no open research TODO matches {item!r}; open items: {shown}.")
    if len(matches) > 1:
        raise InvalidInput(
            f"{len(matches)} open items match {item!r}; give more of the item's text to pick one."
        )
    match = matches[0]
    done = f"{match.group('lead')}x{match.group('rest')} ✅ {today}"
    return text[: match.start()] + done + text[match.end() :]
