"""Terminal output for the CLI: the only module that imports rich. Colours only when stdout is a terminal."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from server.search import SearchResults
from server.status import StatusReport

_out = Console(soft_wrap=True)
_err = Console(stderr=True)


def print_search(results: SearchResults) -> None:
    if results.notice:
        _err.print(f"[yellow]{results.notice}[/yellow]")
    if results.aliases:
        _err.print(f"[dim]also searched: {', '.join(results.aliases)}[/dim]")
    if not results.hits:
        _out.print(f"No matches for {results.query!r}.")
        return
    for rank, hit in enumerate(results.hits, 1):
        heading = f" › {hit.heading}" if hit.heading else ""
        how = f", partial: lacks {' '.join(hit.missing)}" if hit.match == "partial" else ""
        _out.print(f"[bold]{rank}. {hit.path}[/bold]{heading}  [dim]({hit.kind}, {hit.score:.2f}{how})[/dim]",
                   highlight=False)
        _out.print("   " + hit.snippet.replace("**", ""), highlight=False)
        _out.print(f"   [dim]handle: {hit.handle}[/dim]")


def print_status(report: StatusReport) -> None:
    width = 34
    _out.print(f"[bold]Memory[/bold]    {report.root} [dim](layout {report.layout})[/dim]", highlight=False)
    filled = round(width * report.done / report.total) if report.total else 0
    percent = 100 * report.done / report.total if report.total else 0.0
    _out.print(f"[bold]Progress[/bold]  [green]{'█' * filled}[/green]{'░' * (width - filled)}  "
               f"{report.done}/{report.total} lectures ({percent:.1f}%)")
    if report.phase:
        _out.print(f"Phase     {report.phase}")
    if report.week:
        _out.print(f"Week      {report.week}")
    _out.print(f"This week {report.insights_this_week} insights, {report.discussions_this_week} discussions "
               f"[dim](all time: {report.insights_total} insights, {report.discussions_total} discussions)[/dim]")
    table = Table(title="Open research TODOs", show_header=False, box=None, title_justify="left")
    for item in report.open_todos:
        table.add_row("☐", item)
    if report.open_todos:
        _out.print(table)
    if report.next_steps:
        _out.print("[bold]Next steps[/bold]")
        for step in report.next_steps:
            _out.print(f"  • {step}", highlight=False)
    _out.print(f"Index     {report.index_state} ({report.index_files} files)")
    for reason in report.left_out:
        _out.print(f"[yellow]Left out[/yellow]  {reason}", highlight=False)


@contextmanager
def index_progress(force: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for index builds; silent when nothing needs building or not on a terminal."""
    if not _err.is_terminal:
        yield lambda done, total: None
        return
    with Progress(TextColumn("Indexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=_err, transient=not force) as bar:
        task = bar.add_task("index", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report
