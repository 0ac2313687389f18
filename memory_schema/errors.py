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
        self.path = path
        # A link or a folder on disk is the reason, not the path the caller wrote: say what to change on disk.
        on_disk = "symlink" in reason or "not a folder" in reason
        advice = ("the memory never follows a link out of its root or into a hidden name: put the file or folder "
                  "itself there (doctor lists such links)." if on_disk else
                  "use a path relative to the root, as list_discussions and search_discussions give them "
                  "(深度讨论/<topic>深度讨论.md).")
        super().__init__(f"{path!r} is not a path inside the memory root ({reason}); {advice}")


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
    """A file the memory cannot read as a note. Whoever reads many notes skips it and says so; a call naming it
    fails with this message."""

    def __init__(self, path: str, reason: str, advice: str = "") -> None:
        self.path = path
        super().__init__(f"{path} cannot be read as a Markdown note ({reason})." + (f" {advice}" if advice else ""))


class DocumentBusy(ProjectMemoryError):
    """The file kept changing under a write: someone (an editor, a sync client) is writing it right now."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} is being edited right now (it changed on disk while the write was prepared); nothing was "
            "written. Try again in a moment."
        )


class DocumentInFlux(ProjectMemoryError):
    """A role document reads as half-saved (empty, or without the structure it had)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"{path} looks half-saved ({reason}); nothing was written. If an editor is saving it, try again in a "
            "moment. If the file really lost its content, restore it (`project-memory undo`, your editor's "
            "history or a backup) before writing to it again."
        )


class ReadOnlyDocument(ProjectMemoryError):
    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} is read-only; nothing was written. Make it writable (e.g. chmod u+w) if the server may "
            "change it."
        )


class StorageError(ProjectMemoryError):
    """The file system refused an operation (permissions, a read-only or full disk, a folder in the way)."""


class CacheUnavailable(ProjectMemoryError):
    """The user's cache folder (index, locks, undo journal) cannot be used."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the cache folder for the search index, locks and undo journal cannot be used ({reason}). Set "
            "PROJECT_MEMORY_CACHE_DIR to a private folder you can write, outside the notes."
        )
        self.reason = reason


class InsightExists(InvalidInput):
    def __init__(self, title: str) -> None:
        super().__init__(
            f"an insight titled {title!r} is already recorded with a different text; nothing was added. To change "
            "it, read it with read_memory and call revise_insight with its title, the new body and the version; "
            "to keep both, give the new one another title."
        )
