"""`doctor`: check a memory root's layout and every document, and say what is wrong, with file and line."""

import re

from pydantic import BaseModel

from memory_schema.discussion import PART_ORDER, parse_discussion
from memory_schema.errors import DocumentNotFound, ProjectMemoryError
from memory_schema.layout import DocumentKind
from memory_schema.markdown import parse_markdown
from memory_schema.progress import parse_progress
from memory_schema.vocabulary import DISCUSSION_PARTS
from memory_schema.working_memory import parse_working_memory
from server.legacy import legacy_files
from server.memory import ProjectMemory
from server.paths import LEGACY_INDEX_DIR
from server.roots import NotAMemory, is_memory


class Problem(BaseModel):
    path: str
    line: int | None
    severity: str  # "error" (something the server cannot use) or "warning" (worth fixing)
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


class DoctorReport(BaseModel):
    root: str
    preset: str
    documents: int
    index_state: str
    index_location: str | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def run_doctor(memory: ProjectMemory) -> DoctorReport:
    layout = memory.layout
    problems: list[Problem] = []
    if not is_memory(memory.root):
        problems.append(Problem(path=".", line=None, severity="error", message=str(NotAMemory(memory.root, "--root"))))
        return DoctorReport(root=str(memory.root), preset=layout.preset, documents=0, index_state="not opened",
                            index_location=None, problems=problems)
    paths = memory.documents()
    for kind, path in layout.role_paths().items():
        if path not in paths:
            problems.append(Problem(path=path, line=None, severity="warning",
                                    message=f"the {kind.value.replace('_', ' ')} document is missing"))
    texts: dict[str, str] = {}
    for path in paths:
        try:
            texts[path] = memory.read_text(path).text
        except DocumentNotFound:
            continue  # deleted by the person's editor since it was listed: nothing to check
        except ProjectMemoryError as err:
            problems.append(Problem(path=path, line=None, severity="error", message=_without_path(str(err), path)))
            continue
        document = parse_markdown(texts[path])
        if document.frontmatter_problem:
            problems.append(Problem(path=path, line=document.frontmatter_line or 1, severity="warning",
                                    message=document.frontmatter_problem))
        if layout.kind_of(path) is DocumentKind.DISCUSSION:
            problems += _check_discussion(path, texts[path])
    problems += [Problem(path=path, line=None, severity="warning", message=CONFLICT_COPY_ADVICE)
                 for path in paths if _CONFLICT_COPY.search(path.rsplit("/", 1)[-1])]
    problems += _check_consistency(memory, texts)
    problems += [Problem(path=link, line=None, severity="warning",
                         message=_unfollowed(link, target, (memory.root / link).exists()))
                 for link, target in memory.store.unfollowed_links()]
    memory.ensure_index()
    status = memory.index_status()
    where = status.location or "the search index"
    if status.state in ("missing", "corrupt"):
        problems.append(Problem(path=where, line=None, severity="error",
                                message=f"the search index is {status.state}; run 'project-memory reindex'"))
    elif status.state == "unavailable":
        problems.append(Problem(path=where, line=None, severity="error",
                                message=f"{status.reason} Searches scan the notes until then."))
    legacy, _others = legacy_files(memory.root)
    if legacy:
        problems.append(Problem(path=LEGACY_INDEX_DIR, line=None, severity="warning",
                                message="an index left by an older version (the index now lives in your cache "
                                        "folder); remove it with 'project-memory clean-legacy --yes'"))
    return DoctorReport(root=str(memory.root), preset=layout.preset, documents=len(paths),
                        index_state=status.state, index_location=status.location, problems=problems)


# Dropbox and Nextcloud name a conflict copy "… (… conflicted copy …).md", Syncthing "….sync-conflict-….md".
_CONFLICT_COPY = re.compile(r"conflicted copy|\.sync-conflict-", re.IGNORECASE)
CONFLICT_COPY_ADVICE = ("a sync client's conflict copy: compare it with the note it copies, bring what it adds into "
                        "that note by hand, then delete it (meanwhile it is searched and listed as a note of its own)")


def _unfollowed(link: str, target: str, leads_somewhere: bool) -> str:
    """Why the notes behind a symlink are not read, and what to do: links are not followed, so that a link
    planted in a synced folder cannot make the server read or write elsewhere."""
    if not leads_somewhere:
        return f"a symbolic link to {target}, which does not exist"
    if link.endswith(".md"):
        return (f"a symbolic link to {target}, outside the memory root or not a note, so it is not read; "
                "copy the note into the root instead")
    return (f"a symbolic link to the folder {target}; links to folders are not followed, so no note in it is "
            "read or searched; move the folder into the memory root instead")


def _without_path(message: str, path: str) -> str:
    """An error message that starts with the path it is listed under, without the path repeated."""
    return message.removeprefix(path).lstrip(" :") if message.startswith(path) else message


def _check_discussion(path: str, text: str) -> list[Problem]:
    discussion = parse_discussion(path, text)
    missing = [DISCUSSION_PARTS[part]["zh"][0] for part in PART_ORDER if part not in discussion.parts_present]
    if not missing:
        return []
    return [Problem(path=path, line=None, severity="warning",
                    message=f"discussion lacks the part(s) {', '.join(missing)}")]


def _check_consistency(memory: ProjectMemory, texts: dict[str, str]) -> list[Problem]:
    layout = memory.layout
    problems: list[Problem] = []
    working = parse_working_memory(texts[layout.working_memory]) if layout.working_memory in texts else None
    progress = parse_progress(texts[layout.progress]) if layout.progress in texts else None
    if progress is not None and layout.progress in texts:
        if not progress.lectures:
            problems.append(Problem(path=layout.progress, line=None, severity="warning",
                                    message="no lecture table found (columns 讲座 and 状态, or Lecture and Status)"))
        elif progress.summary and progress.summary.done != progress.done:
            problems.append(Problem(
                path=layout.progress, line=_line_of(texts[layout.progress], str(progress.summary.done) + "/"),
                severity="warning",
                message=f"summary says {progress.summary.done} lectures done, the table marks {progress.done}",
            ))
    if working and working.progress and progress and progress.lectures and working.progress.done != progress.done:
        problems.append(Problem(
            path=layout.working_memory,
            line=_line_of(texts[layout.working_memory], f"{working.progress.done}/{working.progress.total}"),
            severity="warning",
            message=f"says {working.progress.done} lectures done; {layout.progress} marks {progress.done}",
        ))
    if working:
        on_disk = {p.removeprefix(layout.discussions_dir + "/") for p in texts
                   if layout.kind_of(p) is DocumentKind.DISCUSSION}
        for ref in working.discussions:
            if ref.file not in on_disk:
                line = _line_of(texts[layout.working_memory], ref.file)
                problems.append(Problem(path=layout.working_memory, line=line, severity="warning",
                                        message=f"lists {ref.file}, which is not in {layout.discussions_dir}/"))
    return problems


def _line_of(text: str, needle: str) -> int | None:
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else None
