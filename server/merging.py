"""Three-way merge of a note's lines: the one module that uses `merge3` (Breezy's implementation).

Used when an editor's bytes landed in the file a write replaced (`server.afterwrite`): the editor's change
from the text we read (`base`) to its own (`theirs`) is applied to the note as it is now (`ours`: our writes,
perhaps others' since). Where both sides only inserted lines at the same place, both insertions are kept
(ours first), as a person appending a line while a tool appends an entry would expect; any other overlap is a
conflict and nothing is merged.
"""

from __future__ import annotations

from merge3 import Merge3


def merge_texts(base: str, theirs: str, ours: str) -> str | None:
    """`ours` with the change from `base` to `theirs` applied, or None where the two changes overlap."""
    base_lines = base.splitlines(keepends=True)
    our_lines = ours.splitlines(keepends=True)
    their_lines = theirs.splitlines(keepends=True)
    merged: list[str] = []
    for region in Merge3(base_lines, our_lines, their_lines).merge_regions():
        kind = region[0]
        if kind == "unchanged":
            merged += base_lines[region[1] : region[2]]
        elif kind in ("a", "same"):
            merged += our_lines[region[1] : region[2]]
        elif kind == "b":
            merged += their_lines[region[1] : region[2]]
        else:  # conflict: (z1, z2, a1, a2, b1, b2)
            z1, z2, a1, a2, b1, b2 = region[1:]  # type: ignore[misc]  # merge3 types regions loosely
            resolved = _both(base_lines[z1:z2], our_lines[a1:a2], their_lines[b1:b2])
            if resolved is None:
                return None
            merged += resolved
    return _ended_like(merged, base, ours)


def _both(base: list[str], ours: list[str], theirs: list[str]) -> list[str] | None:
    """Both changes, where one side only added lines before or after the base lines (a line appended after a
    footer whose date the other side changed; both inserting at one place); None when they truly overlap."""
    for keeps, other in ((theirs, ours), (ours, theirs)):  # theirs first: with no base lines, ours go first
        if keeps[: len(base)] == base:  # this side appended after the base lines
            return other + keeps[len(base) :]
        if base and keeps[len(keeps) - len(base) :] == base:  # this side inserted before them
            return keeps[: len(keeps) - len(base)] + other
    return None


def _ended_like(lines: list[str], base: str, ours: str) -> str:
    """Join the lines; a last line that lost its line break only by being moved up gets it back."""
    text = "".join(lines)
    if text and not text.endswith(("\n", "\r")) and (ours.endswith("\n") or base.endswith("\n")):
        last_break = "\r\n" if "\r\n" in ours else "\n"
        for index, line in enumerate(lines[:-1]):
            if not line.endswith(("\n", "\r")):
                lines[index] = line + last_break
        text = "".join(lines)
    return text
