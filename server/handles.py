"""Handles: how the model names what to read next. `path` is a document, `path#a/b` one of its sections."""

import re
from dataclasses import dataclass

from memory_schema.errors import InvalidInput

# The document is the shortest leading part ending in .md followed by # or the end: a note's own name may hold
# a # (C#并发.md), and a handle built on it must still name it.
_DOCUMENT_THEN_SECTION = re.compile(r"(.+?\.md)(?:#(.*))?", re.DOTALL)


@dataclass(frozen=True)
class Handle:
    path: str
    section: str | None = None

    def __str__(self) -> str:
        return f"{self.path}#{self.section}" if self.section else self.path


def parse_handle(handle: str) -> Handle:
    text = handle.strip()
    if text.startswith("memory://"):
        raise InvalidInput(
            f"{handle!r} is a resource URI; pass a handle such as 'AI助手工作记忆.md#重要技术洞察记录'."
        )
    named = _DOCUMENT_THEN_SECTION.fullmatch(text)
    path, section = (named.group(1), named.group(2) or "") if named else text.partition("#")[::2]
    if not path:
        raise InvalidInput("the handle has no document path; use 'path' or 'path#heading/path'.")
    return Handle(path=path.strip(), section=section.strip("/ ") or None)


def section_handle(path: str, trail: tuple[str, ...]) -> str:
    """The shortest readable handle: a top-level title that covers the whole document is left out."""
    parts = trail[1:] if len(trail) > 1 else trail
    return f"{path}#{'/'.join(parts)}" if parts else path
