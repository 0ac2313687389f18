"""Which relative paths name a note inside the memory root, and which file names are not notes.

This module owns root confinement: every path a person or a model hands us is checked here before any
file is touched. It does no reading or writing itself; `server.store` is the only module that opens notes.
"""

import re
import unicodedata
from pathlib import Path

from memory_schema.errors import InvalidInput, PathOutsideMemory

INDEX_DIR = ".project-memory"
"""The folder under the root that belongs to the index and the locks, never to notes."""
NAME_MAX_BYTES = 255
"""The longest file or folder name that ext4 and APFS store, in UTF-8 bytes (NTFS: 255 UTF-16 units)."""

_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# vim (.swp/.swo/.swx and its "4913" write probe), Emacs (~ backups, .# lock links), JetBrains safe-write
# files, and our own atomic-write temp files.
_EDITOR_SUFFIXES = ("~", ".swp", ".swo", ".swx", "___jb_tmp___", "___jb_old___", ".pm-tmp")


def is_ignored_name(name: str) -> bool:
    """Whether a file name is an editor's temp or backup file, or our own temp file, rather than a note."""
    return name.endswith(_EDITOR_SUFFIXES) or name.startswith(".#") or name == "4913"


def normalize_relpath(relpath: str) -> str:
    """Return `relpath` as clean relative posix segments, or raise PathOutsideMemory saying why not.

    Refused: empty paths, NUL and other control characters, lone surrogates (no file name can hold one),
    backslashes, absolute paths (POSIX or a Windows drive such as `C:/x`), a leading `~`, any `..` segment,
    paths into `.project-memory/`, and any `%` followed by two hex digits: percent-encoded escapes (`%2e%2e`,
    `%2f`, `%00`) are never decoded, so a name that contains one is refused rather than guessed at. A name
    longer than NAME_MAX_BYTES is InvalidInput: the path stays inside the root, the file system refuses it.
    """
    if not relpath.strip():
        raise PathOutsideMemory(relpath, "it is empty")
    if "\x00" in relpath:
        raise PathOutsideMemory(relpath, "it contains a NUL character")
    if any(unicodedata.category(char) == "Cc" for char in relpath):
        raise PathOutsideMemory(relpath, "it contains a control character")
    if any(unicodedata.category(char) == "Cs" for char in relpath):
        raise PathOutsideMemory(relpath, "it contains a lone UTF-16 surrogate, which no file name can hold")
    if "\\" in relpath:
        raise PathOutsideMemory(relpath, "it contains a backslash; separate folders with '/'")
    if _PERCENT_ESCAPE.search(relpath):
        raise PathOutsideMemory(relpath, "it contains a percent-escape such as %2f; write the characters")
    if relpath.startswith("/") or _WINDOWS_DRIVE.match(relpath):
        raise PathOutsideMemory(relpath, "it is absolute")
    if relpath.startswith("~"):
        raise PathOutsideMemory(relpath, "it starts with '~'")
    segments = [segment for segment in relpath.split("/") if segment not in ("", ".")]
    if ".." in segments:
        raise PathOutsideMemory(relpath, "it contains a '..' segment")
    if not segments:
        raise PathOutsideMemory(relpath, "it names the root folder itself")
    if segments[0].casefold() == INDEX_DIR:
        raise PathOutsideMemory(relpath, f"{INDEX_DIR}/ holds the index, not notes")
    for segment in segments:
        size = len(segment.encode("utf-8"))
        if size > NAME_MAX_BYTES:
            raise InvalidInput(
                f"the name {segment[:24]}… is {size} bytes in UTF-8; file and folder names are limited to "
                f"{NAME_MAX_BYTES} bytes (about 80 Chinese characters), so shorten it."
            )
    return "/".join(segments)


def confine(root: Path, relpath: str) -> tuple[str, Path]:
    """Return the normalized relative path and the real path it names under the resolved `root`.

    Symlinks are followed, including symlinked parent folders, and the real path must still lie inside
    the root, outside `.project-memory/`.
    """
    rel = normalize_relpath(relpath)
    try:
        real = (root / rel).resolve()
    except (OSError, RuntimeError) as err:  # RuntimeError: a symlink loop, before Python 3.13
        raise PathOutsideMemory(relpath, "its symlinks cannot be followed") from err
    if not real.is_relative_to(root):
        raise PathOutsideMemory(relpath, "a symlink leads outside the memory root")
    inner = real.relative_to(root).parts
    if not inner:
        raise PathOutsideMemory(relpath, "it names the root folder itself")
    if inner[0].casefold() == INDEX_DIR:
        raise PathOutsideMemory(relpath, f"a symlink leads into {INDEX_DIR}/, which holds the index")
    return rel, real
