"""`**label**: value` lines and list items, the two shapes every memory document is made of.

Labels are matched in either language (`已完成讲座` or `Lectures done`) and with either colon (`:` `：`).
Edits return new text in which only the value on that one line differs.
"""

import re
from collections.abc import Iterable

_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.*?)\s*$")


def _field_pattern(labels: Iterable[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(label) for label in labels)
    lead = rf"[ \t]*(?:[-*+][ \t]+)?\*\*(?:{names})\*\*[ \t]*[:：][ \t]*"
    return re.compile(rf"^(?P<lead>{lead})(?P<value>[^\r\n]*)", re.M)


Span = tuple[int, int]


def _find(text: str, labels: Iterable[str], within: Span | None, skip: Iterable[Span]) -> re.Match[str] | None:
    """The first field line in `within` (default: all of `text`) that lies in none of the `skip` spans."""
    start, end = within if within is not None else (0, len(text))
    skipped = list(skip)
    for match in _field_pattern(labels).finditer(text, start, end):
        if not any(a <= match.start() < b for a, b in skipped):
            return match
    return None


def read_field(
    text: str, labels: Iterable[str], *, within: Span | None = None, skip: Iterable[Span] = ()
) -> str | None:
    match = _find(text, labels, within, skip)
    return match.group("value").strip() if match else None


def replace_field(
    text: str, labels: Iterable[str], value: str, *, within: Span | None = None, skip: Iterable[Span] = ()
) -> str | None:
    """`text` with the first matching field's value (in `within`, outside `skip`) set to `value`, or None
    when no such line has the field."""
    match = _find(text, labels, within, skip)
    if match is None:
        return None
    return text[: match.start("value")] + value + text[match.end("value") :]


def list_items(text: str) -> list[str]:
    """The text of each top-level or nested list item, markup kept, checkboxes dropped."""
    return [m.group(1) for line in text.splitlines() if (m := _ITEM.match(line)) and m.group(1)]
