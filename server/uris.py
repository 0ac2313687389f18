"""The `memory://` resource URIs a document is served at."""

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
        return "memory://discussions/" + path.removeprefix(layout.discussions_dir + "/").removesuffix(".md")
    return "memory://notes/" + path
