"""The `memory://` resource URIs a document is served at."""

import re

from memory_schema.layout import DocumentKind, Layout

ROLE_URIS = {
    DocumentKind.WORKING_MEMORY: "memory://working-memory",
    DocumentKind.PROGRESS: "memory://progress",
    DocumentKind.PLAN: "memory://plan",
    DocumentKind.RESEARCH_TODO: "memory://research-todo",
}


def uri_for(layout: Layout, path: str) -> str:
    kind = layout.kind_of(path)
    if kind in ROLE_URIS and layout.role_paths()[kind] == path:
        return ROLE_URIS[kind]
    if kind is DocumentKind.DISCUSSION:
        return "memory://discussions/" + _escaped(path.removeprefix(layout.discussions_dir + "/").removesuffix(".md"))
    return "memory://notes/" + _escaped(path)


# What cannot stand for itself in a URI's path: % (it starts an escape), # (a fragment: clients drop what follows),
# ? (a query), space and control characters. Other characters, Chinese included, stay as written, readable; the
# server decodes escapes when it is asked for a resource.
_UNSAFE = re.compile(r"[%#?\s\x00-\x1f\x7f]")


def _escaped(path: str) -> str:
    """`path` with the characters a URI cannot carry as they are percent-encoded (C#并发 -> C%23并发)."""
    return _UNSAFE.sub(lambda found: "".join(f"%{byte:02X}" for byte in found.group().encode("utf-8")), path)
