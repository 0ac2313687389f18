"""`serve --sandbox`: the copy of a memory that is served is dated as if the person studied up to today.

Every ISO date (YYYY-MM-DD) in the copy's notes moves by the same number of days, so that the newest date
found becomes today: week ranges, log headings, insight dates and 最后更新 keep their spacing, and a first
look at the bundled example does not open on "not updated for 390 days". Only the temporary copy changes.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def shift_dates(root: Path, today: date) -> int:
    """Move every date in the copy's Markdown files so the newest is `today`; returns the days moved."""
    files = [path for path in root.rglob("*.md") if path.is_file() and not path.is_symlink()]
    texts = {path: path.read_text(encoding="utf-8", errors="surrogateescape") for path in files}
    found = [_parse(m) for text in texts.values() for m in _DATE.finditer(text)]
    newest = max((d for d in found if d is not None and d <= today), default=None)
    if newest is None:
        return 0
    shift = today - newest

    def moved(match: re.Match[str]) -> str:
        day = _parse(match)
        return (day + shift).isoformat() if day is not None else match.group(0)

    for path, text in texts.items():
        changed = _DATE.sub(moved, text)
        if changed != text:
            path.write_text(changed, encoding="utf-8", errors="surrogateescape")
    return shift.days


def _parse(match: re.Match[str]) -> date | None:
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


__all__ = ["shift_dates"]
