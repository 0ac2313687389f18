"""Which relative paths name a note inside the memory root, and which file names are not notes.

This module owns root confinement and the one rule for "is this a note": every path a person or a model
hands us is checked here before any file is touched, and the walker, the watcher and the index all ask
`is_note_path`. It does no reading or writing itself; `server.store` is the only module that opens notes.
Hidden files and folders (a leading dot) are never notes: `.git/`, editor swap files, our own temp files and
a legacy `.project-memory/` index folder.
"""

import re
from pathlib import Path

from memory_schema.errors import InvalidInput, PathOutsideMemory

LEGACY_INDEX_DIR = ".project-memory"
"""Where versions before 0.2 kept the index inside the root; now only reported by `doctor`."""
NAME_MAX_BYTES = 255
"""The longest file or folder name that ext4 and APFS store, in UTF-8 bytes (NTFS: 255 UTF-16 units)."""

_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode's category Cc, exactly
_SURROGATE = re.compile("[\ud800-\udfff]")  # category Cs, exactly
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# vim (.swp/.swo/.swx and its "4913" write probe), Emacs (~ backups, .# lock links), JetBrains safe-write
# files, and our own atomic-write temp files.
_EDITOR_SUFFIXES = ("~", ".swp", ".swo", ".swx", "___jb_tmp___", "___jb_old___", ".pm-tmp")


def is_ignored_name(name: str) -> bool:
    """Whether a file or folder name is hidden, an editor's temp or backup file, or our own temp file."""
    return name.startswith(".") or name.endswith(_EDITOR_SUFFIXES) or name == "4913"


def is_note_name(name: str) -> bool:
    return name.endswith(".md") and not is_ignored_name(name)


def is_note_path(relpath: str, *, folder: bool = False) -> bool:
    """Whether a relative posix path names a note (or, with `folder`, a place notes can be in)."""
    parts = [part for part in relpath.split("/") if part not in ("", ".")]
    if not parts or any(is_ignored_name(part) for part in parts):
        return False
    return folder or parts[-1].endswith(".md")


def normalize_relpath(relpath: str) -> str:
    """Return `relpath` as clean relative posix segments, or raise PathOutsideMemory saying why not.

    Refused: empty paths, NUL and other control characters, lone surrogates (no file name can hold one),
    backslashes, absolute paths (POSIX or a Windows drive such as `C:/x`), a leading `~`, any `..` segment,
    hidden segments (a leading dot: nothing lists them), and any `%` followed by two hex digits:
    percent-encoded escapes (`%2e%2e`, `%2f`, `%00`) are never decoded, so a name that contains one is
    refused rather than guessed at. A name longer than NAME_MAX_BYTES is InvalidInput: the path stays inside
    the root, the file system refuses it.
    """
    if not relpath.strip():
        raise PathOutsideMemory(relpath, "it is empty")
    if "\x00" in relpath:
        raise PathOutsideMemory(relpath, "it contains a NUL character")
    if _CONTROL.search(relpath):
        raise PathOutsideMemory(relpath, "it contains a control character")
    if _SURROGATE.search(relpath):
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
    if any(segment.startswith(".") for segment in segments):
        raise PathOutsideMemory(relpath, "a hidden name (starting with '.') is never a note")
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
    the root and must not be hidden.
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
    if any(part.startswith(".") for part in inner):
        raise PathOutsideMemory(relpath, "a symlink leads to a hidden file or folder")
    return rel, real
