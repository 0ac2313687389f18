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
    """The input schema without titles, and an optional parameter's `anyOf [X, null]` as plain X."""
    tidy: dict[str, Any] = {key: value for key, value in schema.items() if key != "title"}
    properties = tidy.get("properties")
    if isinstance(properties, dict):
        tidy["properties"] = {name: _tidy_property(value) for name, value in properties.items()}
    return tidy


def _tidy_property(schema: dict[str, Any]) -> dict[str, Any]:
    tidy = {key: value for key, value in schema.items() if key != "title"}
    options = tidy.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1 and len(kept) < len(options):
            del tidy["anyOf"]
            tidy = {**_tidy_property(kept[0]), **tidy}
            if tidy.get("default", "") is None:
                del tidy["default"]
    if isinstance(tidy.get("items"), dict):
        tidy["items"] = _tidy_property(tidy["items"])
    return tidy
