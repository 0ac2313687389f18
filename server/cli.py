"""The `project-memory` command: a few lines per command over the same use cases the MCP tools call.

Data goes to stdout (JSON with --json); messages and progress go to stderr; colours only on a terminal.
Exit codes: 0 ok, 1 problems found (doctor), 2 usage or input error, 3 an error in the memory itself.
`--root` may come before or after the subcommand.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

from memory_schema.errors import InvalidInput, ProjectMemoryError
from server.roots import require_memory, resolve_root

ROOT_HELP = "memory root (default: $PROJECT_MEMORY_ROOT, else $CLAUDE_PROJECT_DIR, else the current folder)"


def _root(ctx: click.Context, root: str | None) -> tuple[Path, str]:
    """The root this command works on: its own --root, else the group's, else the environment."""
    chosen = root or (ctx.find_root().params.get("root") if ctx.find_root() else None)
    path, source = resolve_root(chosen)
    if not path.is_dir():
        raise click.ClickException(f"{path} ({source}) is not a folder; pass --root or create it with "
                                   "'project-memory init'.")
    return path, source


def open_memory(ctx: click.Context, root: str | None, *, require: bool = True) -> Any:
    from server.memory import ProjectMemory

    path, source = _root(ctx, root)
    if require:
        require_memory(path, source)
    return ProjectMemory(path)


def emit_json(value: Any) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


class _Group(click.Group):
    """Turns the project's own errors into one-line messages with exit code 2 or 3."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as err:
            raise _BadInput(str(err)) from err
        except ProjectMemoryError as err:
            raise _MemoryFailure(str(err)) from err


class _BadInput(click.ClickException):
    exit_code = 2


class _MemoryFailure(click.ClickException):
    exit_code = 3


root_option = click.option("--root", type=click.Path(file_okay=False), help=ROOT_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@root_option
@click.version_option(package_name="project-memory")
def main(root: str | None) -> None:
    """project-memory: a searchable study memory in your own Markdown files, served over MCP.

    \b
    Examples:
      project-memory init ~/cs336 --preset cs336-zh
      project-memory serve --root ~/cs336
      project-memory --root ~/cs336 search KV缓存
    """
    logging.basicConfig(level=os.environ.get("PROJECT_MEMORY_LOG", "WARNING"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--preset", type=click.Choice(["cs336-zh", "default-en"]), default="cs336-zh", show_default=True)
@click.option("--title", help="the course or project's name (default-en; default: the folder's name)")
@click.option("--lectures", type=click.IntRange(1, 200), default=12, show_default=True,
              help="how many lectures or units the progress table lists (default-en)")
def init(directory: str, preset: str, title: str | None, lectures: int) -> None:
    """Create the documents of a memory in DIRECTORY from a layout preset; existing files are left alone.

    \b
    Examples:
      project-memory init ~/cs336 --preset cs336-zh
      project-memory init ~/compilers --preset default-en --title "Compilers" --lectures 20
    """
    from server.scaffold import init_memory

    created, kept = init_memory(Path(directory), preset, date.today(), title=title, lectures=lectures)
    click.echo(f"Created {len(created)} documents in {directory} ({preset}):", err=True)
    for path in created:
        click.echo(f"  {path}")
    if kept:
        click.echo(f"Left {len(kept)} existing documents as they were: {', '.join(kept)}", err=True)


@main.command()
@root_option
@click.option("--sandbox", is_flag=True, help="serve a temporary copy of the root, leaving its files untouched")
@click.option("--no-watch", is_flag=True, help="do not watch the files for edits made outside the server")
@click.pass_context
def serve(ctx: click.Context, root: str | None, sandbox: bool, no_watch: bool) -> None:
    """Run the MCP server over stdio (what Claude Code starts).

    On a folder that is not a memory the server still starts (so the client shows it connected), but every
    tool answers with what to do about the root.

    \b
    Example:
      project-memory serve --root examples/cs336 --sandbox
    """
    from server.app import create_server
    from server.freshness import Freshness
    from server.memory import ProjectMemory
    from server.roots import NotAMemory, is_memory

    source, where = _root(ctx, root)
    if not is_memory(source):
        refusal = NotAMemory(source, where)
        click.echo(f"project-memory: {refusal}", err=True)
        create_server(ProjectMemory(source), refusal=refusal).run("stdio")
        return
    place = tempfile.TemporaryDirectory(prefix="project-memory-") if sandbox else contextlib.nullcontext(str(source))
    with place as folder:
        path = Path(folder)
        if sandbox:
            path = path / source.name
            shutil.copytree(source, path, ignore=_sandbox_leaves_out(source))
            _refresh_example_dates(path)
            click.echo(f"project-memory: serving a copy of {source} at {path}", err=True)
        memory = ProjectMemory(path, freshness=Freshness())
        click.echo(f"project-memory: serving {memory.root} ({where}), layout {memory.layout.preset}", err=True)
        create_server(memory, watch=not no_watch).run("stdio")


SANDBOX_LEAVES_OUT = frozenset([".project-memory", ".git", ".venv", "node_modules", "__pycache__"])


def _sandbox_leaves_out(source: Path) -> Callable[[str, list[str]], set[str]]:
    """What a sandbox copy leaves out: tool folders, which are no part of a memory, and symlinks leading out of
    the root, which the server refuses in the root and which a copy would otherwise bring inside. A symlink to a
    note inside the root is copied as the note it points to: no symlink is made (Windows needs a privilege)."""
    root = source.resolve()

    def leaves_out(folder: str, names: list[str]) -> set[str]:
        left = {name for name in names if name in SANDBOX_LEAVES_OUT}
        for name in names:
            entry = Path(folder) / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                left.add(name)
        return left

    return leaves_out


def _refresh_example_dates(root: Path) -> None:
    """A sandbox copy of the bundled example is dated as if the person studied this week."""
    from server.sandbox import shift_dates

    shift_dates(root, date.today())


@main.command()
@click.argument("query")
@root_option
@click.option("--scope", type=click.Choice(["all", "discussions", "notes", "memory"]), default="all", show_default=True)
@click.option("--limit", type=click.IntRange(1, 50), default=10, show_default=True)
@click.option("--lecture", help="only this lecture, e.g. 3 or 'Lecture 03'")
@json_option
@click.pass_context
def search(ctx: click.Context, query: str, root: str | None, scope: str, limit: int, lecture: str | None,
           as_json: bool) -> None:
    """Search the memory (Chinese, English or mixed; words or a question); builds or updates the index.

    \b
    Examples:
      project-memory search KV缓存 --root examples/cs336
      project-memory search "为什么 pin_memory 能加速" --scope discussions --json
    """
    from server.search.request import search_request
    from server.views import index_progress, print_search

    request = search_request(query, scope=scope, limit=limit, lecture=lecture)
    with open_memory(ctx, root) as memory, index_progress() as report:
        memory.ensure_index(report)
        results = memory.search(request)
    if as_json:
        emit_json([hit.model_dump(include={"path", "heading", "score", "snippet", "kind", "lecture", "handle",
                                           "match", "matched", "missing", "aliases"}) for hit in results.hits])
    else:
        print_search(results)


@main.command()
@root_option
@click.option("--max-tokens", type=click.IntRange(200, 20000), default=2000, show_default=True)
@click.option("--focus", help="a topic or lecture to add matching notes for")
@json_option
@click.pass_context
def context(ctx: click.Context, root: str | None, max_tokens: int, focus: str | None, as_json: bool) -> None:
    """Print the session briefing (the 回顾 step); use it as a Claude Code SessionStart hook.

    \b
    Example:
      project-memory context --root examples/cs336 --max-tokens 1500
    """
    from server.briefing import build_session_context

    with open_memory(ctx, root) as memory:
        if focus:
            memory.ensure_index()
        briefing = build_session_context(memory, max_tokens, focus)
    if as_json:
        emit_json(briefing)
    else:
        click.echo(briefing.text)


@main.command()
@root_option
@click.pass_context
def reindex(ctx: click.Context, root: str | None) -> None:
    """Rebuild the search index from the Markdown files (they stay the source of truth).

    \b
    Example:
      project-memory reindex --root ~/cs336
    """
    from server.views import index_progress

    with open_memory(ctx, root) as memory, index_progress(force=True) as report:
        memory.rebuild_index(report)
        status = memory.index_status()
    if status.reason:
        raise _MemoryFailure(status.reason)
    click.echo(f"Indexed {status.files} files ({status.sections} sections) into {status.location}.", err=True)


@main.command()
@root_option
@json_option
@click.pass_context
def doctor(ctx: click.Context, root: str | None, as_json: bool) -> None:
    """Check the layout, every document and the index; list problems with file and line (exit 1 if any).

    \b
    Example:
      project-memory doctor --root examples/cs336
    """
    from server.doctor import run_doctor

    with open_memory(ctx, root, require=False) as memory:
        report = run_doctor(memory)
    if as_json:
        emit_json(report)
    else:
        click.echo(f"{report.root}: preset {report.preset}, {report.documents} documents, index {report.index_state}"
                   f" ({report.index_location})")
        for problem in report.problems:
            click.echo(f"  {problem}")
        count = len(report.problems)
        click.echo("No problems found." if not count else f"{count} problem{'s' if count > 1 else ''} found.")
    if report.problems:
        sys.exit(1)


@main.command()
@root_option
@json_option
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="also write a self-contained HTML page")
@click.pass_context
def status(ctx: click.Context, root: str | None, as_json: bool, html_file: str | None) -> None:
    """Show progress, this week's insights and discussions, open TODOs, next steps and index freshness.

    \b
    Examples:
      project-memory status --root examples/cs336
      project-memory status --root examples/cs336 --html status.html
    """
    from server.status import build_status
    from server.views import print_status

    with open_memory(ctx, root) as memory:
        memory.reconcile_index()
        report = build_status(memory)
    if html_file:
        from server.status_html import render_status_html

        Path(html_file).write_text(render_status_html(report), encoding="utf-8")
        click.echo(f"Wrote {html_file}", err=True)
    if as_json:
        emit_json(report)
    else:
        print_status(report)


@main.command()
@click.argument("path", required=False)
@root_option
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--show", "show_id", metavar="WRITE_ID", help="print what that write changed, as a diff")
@json_option
@click.pass_context
def history(ctx: click.Context, path: str | None, root: str | None, limit: int, show_id: str | None,
            as_json: bool) -> None:
    """List the server's writes, newest first (optionally only those to PATH); --show ID prints one as a diff.

    \b
    Examples:
      project-memory history --root ~/cs336
      project-memory history AI助手工作记忆.md --root ~/cs336
      project-memory history --show 20261202-141503-ab12cd34 --root ~/cs336
    """
    from server.editing import write_diff

    with open_memory(ctx, root) as memory:
        if show_id:
            click.echo(write_diff(memory, show_id), nl=False)
            return
        records = memory.history(path, limit)
    if as_json:
        emit_json([record.model_dump(mode="json") for record in records])
        return
    if not records:
        click.echo("No writes recorded.", err=True)
    for record in records:
        state = f"  (undone by {record.undone_by})" if record.undone_by else ""
        state = "  (an editor's save kept for reference)" if record.kind != "write" else state
        files = ", ".join(f"{c.path} {c.old_size or 0}→{c.new_size if c.new_size is not None else 'deleted'} B"
                          for c in record.files)
        click.echo(f"{record.id}  {record.time.astimezone():%Y-%m-%d %H:%M:%S}  {record.tool}: {files}{state}")


@main.command()
@click.argument("write_id", required=False)
@root_option
@click.pass_context
def undo(ctx: click.Context, write_id: str | None, root: str | None) -> None:
    """Take back a write (default: the newest not yet undone), if its files still hold what it wrote.

    \b
    Examples:
      project-memory undo --root ~/cs336
      project-memory undo 20261202-141503-ab12cd34 --root ~/cs336
    """
    with open_memory(ctx, root) as memory:
        result = memory.undo(write_id)
    click.echo(f"{result.message} (undo this with: project-memory undo {result.write_id})")


@main.command("clean-legacy")
@root_option
@click.option("--yes", is_flag=True, help="remove it; without --yes, only say what would be removed")
@click.pass_context
def clean_legacy(ctx: click.Context, root: str | None, yes: bool) -> None:
    """Remove the search index that versions before 0.2 kept in the notes folder (`.project-memory/`).

    Only that folder's own index and lock files are removed, never through a symlink; anything else in it
    is listed and left.
    """
    from server.legacy import clean_legacy_index, legacy_files

    path, _source = _root(ctx, root)
    found, others = legacy_files(path)
    if not found and not others:
        click.echo(f"{path} has no legacy index folder.", err=True)
        return
    if not yes:
        click.echo(f"Would remove {len(found)} files from {path / '.project-memory'}; run again with --yes.", err=True)
    else:
        removed = clean_legacy_index(path)
        click.echo(f"Removed {removed} files.", err=True)
    for name in others:
        click.echo(f"  left in place (not an index file): {name}", err=True)
