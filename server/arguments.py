"""Tool arguments at the MCP edge: what a rejected argument means in words, and the schema the model reads.

A pydantic error dump (types, URLs, input values) costs the model tokens and tells it little; each rejected
field becomes one sentence that says what to send instead. The input schemas lose what the model does not
need to read (per-property titles, `null` alternatives of optional parameters).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

HINTS: dict[str, str] = {
    "lecture": "a lecture number such as 3, or a name such as 'Lecture 03'",
    "tags": 'a list of short words, e.g. ["量化", "推理"]',
    "since": "a date such as 2026-03-01",
    "max_tokens": "a whole number from 200 to 20000",
    "limit": "a whole number from 1 to 50",
    "offset": "a whole number, 0 or more",
    "scope": "one of all, discussions, notes, memory",
    "status": "one of done, in_progress, not_started",
    "query": "text of 1 to 500 characters",
    "focus": "text of at most 500 characters",
    "expected_version": "the 16-hex-digit version that read_memory returned",
    "write_id": "a write id from `project-memory history`, or nothing for the last write",
}


def explain_invalid_arguments(tool: str, error: ValidationError) -> str:
    sentences = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "arguments"
        hint = HINTS.get(field)
        kind = item["type"]
        if kind == "missing":
            sentence = f"{field} is required" + (f": give {hint}" if hint else "")
        elif hint:
            sentence = f"{field} must be {hint}"
        elif kind in ("string_too_long", "string_too_short", "too_long", "too_short"):
            sentence = f"{field} {item['msg'].lower().removeprefix('string ')}"
        else:
            sentence = f"{field}: {item['msg']}"
        if sentence not in sentences:
            sentences.append(sentence)
    return f"{tool} was not run: " + "; ".join(sentences) + "."


def tidy_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema as the model should read it: no titles, an optional parameter's `anyOf [X, null]` as
    plain X, alternatives of plain types as one `type` list, no bounds (the server checks them and says so in
    words), one-line descriptions. Every tool's schema is in every session's context: each token counts."""
    tidy: dict[str, Any] = {key: value for key, value in schema.items() if key != "title"}
    properties = tidy.get("properties")
    if isinstance(properties, dict):
        tidy["properties"] = {name: _tidy_property(value) for name, value in properties.items()}
    return tidy


def tidy_description(text: str | None) -> str | None:
    """A docstring as one line: its indentation and line breaks are noise to the model."""
    return " ".join(text.split()) if text else text


# Bounds the server checks and explains in words when broken (a description says those that matter): in the
# schema they would cost every session tokens.
_DROPPED = {"title", "maxLength", "minLength", "minimum", "maximum"}


def _tidy_property(schema: dict[str, Any]) -> dict[str, Any]:
    tidy = {key: value for key, value in schema.items() if key not in _DROPPED}
    if "default" in tidy and tidy["default"] is None:
        del tidy["default"]
    options = tidy.get("anyOf")
    if isinstance(options, list):
        kept = [_tidy_property(option) for option in options if option.get("type") != "null"]
        if len(kept) < len(options) and tidy.get("default", "") is None:
            del tidy["default"]
        if len(kept) == 1:
            del tidy["anyOf"]
            tidy = {**kept[0], **tidy}
        elif all(set(option) <= {"type", "items"} and isinstance(option.get("type"), str) for option in kept):
            del tidy["anyOf"]
            items = [option["items"] for option in kept if "items" in option]
            tidy = {"type": [option["type"] for option in kept], **({"items": items[0]} if len(items) == 1 else {}),
                    **tidy}
        else:
            tidy["anyOf"] = kept
    if "description" in tidy:
        tidy["description"] = tidy_description(tidy["description"])
    if isinstance(tidy.get("items"), dict):
        tidy["items"] = _tidy_property(tidy["items"])
    return tidy
