"""The errors a person or a model can act on.

Every message says what happened and what to do next. The MCP layer turns these into `ToolError`,
the CLI into a one-line message and an exit code; nothing else is shown to the model.
"""


class ProjectMemoryError(Exception):
    """Base for errors a person or a model can act on."""


class InvalidInput(ProjectMemoryError):
    """An argument was refused before anything was read or written."""


class PathOutsideMemory(InvalidInput):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"{path!r} is not a path inside the memory root ({reason}); "
            "use a path relative to the root, such as '深度讨论/KV缓存深度讨论.md'."
        )


class DocumentNotFound(ProjectMemoryError):
    def __init__(self, path: str) -> None:
        super().__init__(f"{path} does not exist in the memory; list resources or search to find a handle.")


class SectionNotFound(ProjectMemoryError):
    def __init__(self, path: str, heading: str, available: list[str]) -> None:
        shown = ", ".join(available[:12]) or "none"
        super().__init__(f"{path} has no section {heading!r}; its sections are: {shown}.")


class DocumentChanged(ProjectMemoryError):
    def __init__(self, path: str) -> None:
        super().__init__(f"{path} changed since you read it; read it again and retry with the new version.")


class UnreadableDocument(ProjectMemoryError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} cannot be read as a Markdown note ({reason}); it is skipped.")
