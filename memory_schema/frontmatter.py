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
    problem_line: int | None = None  # the file's line (1-based) the problem is on


def read_frontmatter(text: str) -> Frontmatter:
    match = _BLOCK.match(text)
    if match is None:
        return Frontmatter(end=0)
    try:
        # The handler, not `frontmatter.parse`: parse drops a value that is not a mapping without a word.
        metadata = YAMLHandler().load(match.group("yaml") or "")
    except Exception as err:  # yaml raises many types; any of them means "unreadable metadata"
        line = _error_line(err)
        return Frontmatter(end=match.end(), problem=f"frontmatter is not valid YAML: {_describe(err)}",
                           problem_line=line)
    if metadata is None:  # only comments, or nothing, between the fences
        return Frontmatter(end=match.end())
    if not isinstance(metadata, dict):
        return Frontmatter(end=match.end(), problem="frontmatter is not a mapping of keys to values")
    return Frontmatter(end=match.end(), metadata=dict(metadata))


def _error_line(err: Exception) -> int | None:
    """The file line of a YAML error: the YAML starts on line 2, after the opening `---`."""
    mark = getattr(err, "context_mark", None) or getattr(err, "problem_mark", None)
    return mark.line + 2 if mark is not None else None


def _describe(err: Exception) -> str:
    """The whole YAML error on one line, without the parser's own positions (the line is reported apart)."""
    if isinstance(err, yaml.MarkedYAMLError):
        parts = [part for part in (err.context, err.problem) if part]
        if parts:
            return "; ".join(parts)
    text = " ".join(line.strip() for line in str(err).splitlines() if not line.strip().startswith("in "))
    return text or type(err).__name__


def render_frontmatter(metadata: dict[str, Any]) -> str:
    """A `---` block for a file we create, in the style people write by hand: one `key: value` line each,
    lists on one line (`tags: [内存, GPU]`), CJK readable."""
    lines = []
    for key, value in metadata.items():
        flow = isinstance(value, list | tuple)
        rendered = yaml.safe_dump({key: list(value) if flow else value}, allow_unicode=True, sort_keys=False,
                                  default_flow_style=flow, width=10_000)
        lines.append(rendered.strip().removeprefix("{").removesuffix("}") if flow else rendered.strip())
    return "---\n" + "\n".join(lines) + "\n---\n"
