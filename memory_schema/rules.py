"""The person's working rules, digested: what the model must follow every session, in few tokens.

The rules are the working memory's own rule sections (苏格拉底式讨论记录要求, 核心工作流程, 工作习惯和偏好,
注意事项和限制, or their English names), found by heading text without emoji or trailing notes such as
`(CRITICAL)`. Each becomes one line: its title and its points, each point in its shortest form that keeps its
meaning — a `**label**: value` keeps both, a list of bold names under a label keeps the names, a long value is
cut at its first clause. Nothing is invented: every word comes from the person's text.
"""

import re

from pydantic import BaseModel

from memory_schema.markdown import MarkdownDocument, Section, normalize_heading

RULE_SECTIONS: dict[str, tuple[str, ...]] = {
    # In order of importance; the briefing shows them in this order and drops from the end.
    "discussion_rules": ("苏格拉底式讨论记录要求", "Discussion rules", "Recording rules"),
    "workflow": ("核心工作流程", "Workflow", "Core workflow"),
    "habits": ("工作习惯和偏好", "Habits and preferences", "Working habits"),
    "constraints": ("注意事项和限制", "Constraints", "Notes and limits"),
}
POINT_CHARS = 28
ITEM_CHARS = 18
_PLAIN_LABEL = re.compile(r"^(?P<label>[^:：*`]{1,8})[:：][ \t]*(?P<value>.+)$")
_PATH = re.compile(r"`?(?:[~/.\w-]*/)+(?P<last>[^/`\s]+)/?`?|`(?P<code>[^`]+)`")
_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+(?P<text>.+?)[ \t]*$")
_LABEL = re.compile(r"^\*\*(?P<label>[^*]+)\*\*[ \t]*[:：][ \t]*(?P<value>.*)$")
_MARKS = re.compile(r"[✅⚠️🔥🎯✔❗]")
_CLAUSE = re.compile(r"[，。；;,]|\.(?=\s|$)")


class Rule(BaseModel):
    role: str
    title: str
    points: list[str]

    def line(self) -> str:
        return f"{self.title}: " + "；".join(self.points)


def rule_sections(document: MarkdownDocument) -> list[tuple[str, Section]]:
    found: list[tuple[str, Section]] = []
    for role, names in RULE_SECTIONS.items():
        section = next((s for s in document.headings() if _names(s.title, names)), None)
        if section is not None and all(section is not other for _, other in found):
            found.append((role, section))
    return found


def digest_rules(document: MarkdownDocument) -> list[Rule]:
    rules = []
    for role, section in rule_sections(document):
        points = _points(document.full_text(section).splitlines())
        if points:
            rules.append(Rule(role=role, title=section.title, points=points))
    return rules


def _names(title: str, names: tuple[str, ...]) -> bool:
    plain = normalize_heading(title).lower()
    return any(plain == name.lower() or plain.startswith(name.lower() + " ") or plain.startswith(name.lower() + "(")
               or plain.startswith(name.lower() + "（") for name in names)


def _points(lines: list[str]) -> list[str]:
    """A point per `**label**: value` line, per label or subheading with its list (the items' bold names, or
    their first words), and per loose list item."""
    points: list[str] = []
    group: str | None = ""  # "": the section's own list, before any label or subheading
    items: list[str] = []

    def flush() -> None:
        nonlocal group, items
        if group is not None and items:
            joined = "/".join(dict.fromkeys(items))
            points.append(f"{group}: {joined}" if group else joined)
        group, items = None, []

    fenced = False
    for raw in lines:
        line = _MARKS.sub("", raw).strip()
        if line.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or not line or line.startswith("|"):
            continue
        if line.startswith("#"):
            flush()
            group = re.sub(r"\s*[(（].*$", "", normalize_heading(line.lstrip("#")))
            continue
        item = _ITEM.match(line)
        text = item.group("text").strip() if item else line
        labelled = _LABEL.match(text) or _PLAIN_LABEL.match(text)
        if item and group is not None:
            items.append(_item(labelled, text))
        elif item:
            points.append(_short(text))
        elif labelled and not labelled.group("value").strip():
            flush()
            group = labelled.group("label").strip()
        elif labelled:
            flush()
            points.append(f"{labelled.group('label').strip()}: {_short(labelled.group('value'))}")
    flush()
    return list(dict.fromkeys(point for point in points if point))


def _item(labelled: re.Match[str] | None, text: str) -> str:
    """A list item in a group: its label (and where a path points, the path's last part), else its first words."""
    if labelled is None:
        return _short(text, ITEM_CHARS)
    name = labelled.group("label").strip()
    path = _PATH.search(labelled.group("value"))
    if path is not None:
        return f"{name}→{(path.group('last') or path.group('code')).rstrip('/')}"
    return name if labelled.re is _LABEL else f"{name}: {_short(labelled.group('value'), ITEM_CHARS)}"


def _short(text: str, limit: int = POINT_CHARS) -> str:
    """The text up to its first clause break, or `limit` characters."""
    plain = _PATH.sub(lambda m: m.group("last") or m.group("code"), text.replace("**", "")).strip()
    cut = _CLAUSE.search(plain, 6)
    if cut is not None and cut.start() <= limit:
        return plain[: cut.start()]
    return plain if len(plain) <= limit else plain[:limit].rstrip() + "…"
