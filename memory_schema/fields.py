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


def read_field(text: str, labels: Iterable[str]) -> str | None:
    match = _field_pattern(labels).search(text)
    return match.group("value").strip() if match else None


def replace_field(text: str, labels: Iterable[str], value: str) -> str | None:
    """`text` with the first matching field's value set to `value`, or None when no line has the field."""
    match = _field_pattern(labels).search(text)
    if match is None:
        return None
    return text[: match.start("value")] + value + text[match.end("value") :]


def list_items(text: str) -> list[str]:
    """The text of each top-level or nested list item, markup kept, checkboxes dropped."""
    return [m.group(1) for line in text.splitlines() if (m := _ITEM.match(line)) and m.group(1)]
