"""YAML frontmatter: where it ends, what it says, and how we write it. The only module importing YAML.

A document without frontmatter has none added by anyone; a document whose frontmatter is broken keeps it
byte for byte, reads as having no metadata, and reports the problem so `doctor` can show it.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

# Frontmatter is only recognised at the very top of a file (after an optional BOM), between two `---` lines.
_BLOCK = re.compile(
    r"\A\ufeff?---[ \t]*(?:\r\n|\r|\n)(?P<yaml>.*?(?:\r\n|\r|\n))?---[ \t]*(?:\r\n|\r|\n|\Z)", re.DOTALL
)


@dataclass(frozen=True)
class Frontmatter:
    end: int  # char offset where the Markdown body begins; 0 without frontmatter
    metadata: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def read_frontmatter(text: str) -> Frontmatter:
    match = _BLOCK.match(text)
    if match is None:
        return Frontmatter(end=0)
    try:
        # The handler, not `frontmatter.parse`: parse drops a value that is not a mapping without a word.
        metadata = YAMLHandler().load(match.group("yaml") or "")
    except Exception as err:  # yaml raises many types; any of them means "unreadable metadata"
        return Frontmatter(end=match.end(), problem=f"frontmatter is not valid YAML: {_first_line(err)}")
    if metadata is None:  # only comments, or nothing, between the fences
        return Frontmatter(end=match.end())
    if not isinstance(metadata, dict):
        return Frontmatter(end=match.end(), problem="frontmatter is not a mapping of keys to values")
    return Frontmatter(end=match.end(), metadata=dict(metadata))


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def render_frontmatter(metadata: dict[str, Any]) -> str:
    """A `---` block for a file we create; lists stay on one line, CJK stays readable."""
    body = yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False, default_flow_style=None).strip()
    return f"---\n{body}\n---\n"
