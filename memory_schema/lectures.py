"""Lecture numbers as people write them: `Lecture5`, `Lecture 05`, `lecture-05`, `第5讲`.

A bare `L5` is deliberately not a lecture: "L2缓存" is the L2 cache.
"""

import re

_PATTERNS = (
    re.compile(r"(?<![A-Za-z])lecture[\s_\-]*0*(\d{1,2})(?!\d)", re.IGNORECASE),
    re.compile(r"第\s*0*(\d{1,2})\s*[讲课]"),
)


def parse_lecture(text: str) -> int | None:
    """The first lecture number named in `text`, or None."""
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match and int(match.group(1)) > 0:
            return int(match.group(1))
    return None


def lecture_label(number: int) -> str:
    return f"Lecture {number:02d}"
