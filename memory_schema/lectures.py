"""Lecture numbers as people write them: `Lecture5`, `Lecture 05`, `lecture-05`, `第5讲`.

A bare `L5` is deliberately not a lecture: "L2缓存" is the L2 cache.
"""

import re

from memory_schema.errors import InvalidInput

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


def lecture_number(value: str | int) -> int:
    """A lecture given by a person or a model (3, "3", "Lecture 03", "第3讲"), or InvalidInput."""
    text = str(value).strip()
    number = value if isinstance(value, int) else parse_lecture(text) or (int(text) if text.isdigit() else None)
    if number is None or not 1 <= number <= 99:
        raise InvalidInput(f"{value!r} is not a lecture; use a number such as 3 or a label such as 'Lecture 03'.")
    return number


def optional_lecture_label(value: str | int | None) -> str | None:
    return lecture_label(lecture_number(value)) if value not in (None, "") else None
