"""Handles: how the model names what to read next. `path` is a document, `path#a/b` one of its sections."""

from dataclasses import dataclass

from memory_schema.errors import InvalidInput


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
    path, _, section = text.partition("#")
    if not path:
        raise InvalidInput("the handle has no document path; use 'path' or 'path#heading/path'.")
    return Handle(path=path.strip(), section=section.strip("/ ") or None)


def section_handle(path: str, trail: tuple[str, ...]) -> str:
    """The shortest readable handle: a top-level title that covers the whole document is left out."""
    parts = trail[1:] if len(trail) > 1 else trail
    return f"{path}#{'/'.join(parts)}" if parts else path
