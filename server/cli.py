"""The `project-memory` command: a few lines per command over the same use cases the MCP tools call.

Data goes to stdout (JSON with --json); messages and progress go to stderr; colours only on a terminal.
Exit codes: 0 ok, 1 problems found (doctor), 2 usage or input error, 3 an error in the memory itself.
"""

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

from memory_schema.errors import InvalidInput, ProjectMemoryError
from server.memory import ProjectMemory

ROOT_HELP = "memory root (default: $PROJECT_MEMORY_ROOT, else $CLAUDE_PROJECT_DIR, else the current folder)"


def resolve_root(root: str | None) -> Path:
    for candidate in (root, os.environ.get("PROJECT_MEMORY_ROOT"), os.environ.get("CLAUDE_PROJECT_DIR")):
        if candidate:
            return Path(candidate).expanduser()
    return Path.cwd()


def open_memory(root: str | None) -> ProjectMemory:
    return ProjectMemory(_existing_folder(resolve_root(root)))


def _existing_folder(path: Path) -> Path:
    if not path.is_dir():
        raise click.ClickException(f"{path} is not a folder; pass --root or create it with 'project-memory init'.")
    return path


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
@click.version_option(package_name="project-memory")
def main() -> None:
    """project-memory: a searchable study memory in your own Markdown files, served over MCP.

    \b
    Examples:
      project-memory init ~/cs336 --preset cs336-zh
      project-memory serve --root ~/cs336
      project-memory search KV缓存 --root ~/cs336
    """
    logging.basicConfig(level=os.environ.get("PROJECT_MEMORY_LOG", "WARNING"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--preset", type=click.Choice(["cs336-zh", "default-en"]), default="cs336-zh", show_default=True)
def init(directory: str, preset: str) -> None:
    """Create an empty memory in DIRECTORY from a layout preset (never overwrites a file).

    \b
    Example:
      project-memory init ~/notes --preset default-en
    """
    from server.scaffold import init_memory

    created = init_memory(Path(directory), preset, date.today())
    click.echo(f"Created {len(created)} documents in {directory} ({preset}):", err=True)
    for path in created:
        click.echo(f"  {path}")


@main.command()
@root_option
@click.option("--sandbox", is_flag=True, help="serve a temporary copy of the root, leaving its files untouched")
@click.option("--no-watch", is_flag=True, help="do not watch the files for edits made outside the server")
def serve(root: str | None, sandbox: bool, no_watch: bool) -> None:
    """Run the MCP server over stdio (what Claude Code starts).

    \b
    Example:
      project-memory serve --root examples/cs336 --sandbox
    """
    from server.app import create_server

    source = _existing_folder(resolve_root(root))
    place = tempfile.TemporaryDirectory(prefix="project-memory-") if sandbox else contextlib.nullcontext(str(source))
    with place as folder:
        path = Path(folder)
        if sandbox:
            path = path / source.name
            shutil.copytree(source, path, ignore=shutil.ignore_patterns(".project-memory"))
            click.echo(f"project-memory: serving a copy of {source} at {path}", err=True)
        create_server(ProjectMemory(path), watch=not no_watch).run("stdio")


@main.command()
@click.argument("query")
@root_option
@click.option("--scope", type=click.Choice(["all", "discussions", "notes", "memory"]), default="all", show_default=True)
@click.option("--limit", type=click.IntRange(1, 50), default=10, show_default=True)
@click.option("--lecture", help="only this lecture, e.g. 3 or 'Lecture 03'")
@json_option
def search(query: str, root: str | None, scope: str, limit: int, lecture: str | None, as_json: bool) -> None:
    """Search the memory (Chinese, English or mixed); builds or updates the index when needed.

    \b
    Examples:
      project-memory search KV缓存 --root examples/cs336
      project-memory search "pin_memory" --scope discussions --json
    """
    from server.views import index_progress, print_search

    with open_memory(root) as memory, index_progress() as report:
        memory.warm_up(report)
        results = memory.search(query, scope=scope, limit=limit, lecture=lecture)
    if as_json:
        emit_json([hit.model_dump(include={"path", "heading", "score", "snippet", "kind", "lecture", "handle"})
                   for hit in results.hits])
    else:
        print_search(results)


@main.command()
@root_option
@click.option("--max-tokens", type=click.IntRange(200, 20000), default=2000, show_default=True)
@click.option("--focus", help="a topic or lecture to add matching notes for")
@json_option
def context(root: str | None, max_tokens: int, focus: str | None, as_json: bool) -> None:
    """Print the session briefing (the 回顾 step); use it as a Claude Code SessionStart hook.

    \b
    Example:
      project-memory context --root examples/cs336 --max-tokens 1500
    """
    from server.briefing import build_session_context

    with open_memory(root) as memory:
        if focus:
            memory.warm_up()
        briefing = build_session_context(memory, max_tokens, focus)
    if as_json:
        emit_json(briefing)
    else:
        click.echo(briefing.text)


@main.command()
@root_option
def reindex(root: str | None) -> None:
    """Rebuild the search index from the Markdown files (they stay the source of truth).

    \b
    Example:
      project-memory reindex --root ~/cs336
    """
    from server.views import index_progress

    with open_memory(root) as memory, index_progress(force=True) as report:
        memory.search_engine.rebuild(report)
        status = memory.index_status()
    click.echo(f"Indexed {status.files} files ({status.sections} sections).", err=True)


@main.command()
@root_option
@json_option
def doctor(root: str | None, as_json: bool) -> None:
    """Check the layout and every document; list problems with file and line (exit 1 if any error).

    \b
    Example:
      project-memory doctor --root examples/cs336
    """
    from server.doctor import run_doctor

    with open_memory(root) as memory:
        report = run_doctor(memory)
    if as_json:
        emit_json(report)
    else:
        click.echo(f"{report.root}: preset {report.preset}, {report.documents} documents, index {report.index_state}")
        for problem in report.problems:
            click.echo(f"  {problem}")
        click.echo("No problems found." if not report.problems else f"{len(report.problems)} problem(s).")
    if not report.ok:
        sys.exit(1)


@main.command()
@root_option
@json_option
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="also write a self-contained HTML page")
def status(root: str | None, as_json: bool, html_file: str | None) -> None:
    """Show progress, this week's insights and discussions, open TODOs, next steps and index freshness.

    \b
    Examples:
      project-memory status --root examples/cs336
      project-memory status --root examples/cs336 --html status.html
    """
    from server.status import build_status
    from server.views import print_status

    with open_memory(root) as memory:
        memory.search_engine.reconcile()
        report = build_status(memory)
    if html_file:
        from server.status_html import render_status_html

        Path(html_file).write_text(render_status_html(report), encoding="utf-8")
        click.echo(f"Wrote {html_file}", err=True)
    if as_json:
        emit_json(report)
    elif not html_file:
        print_status(report)
