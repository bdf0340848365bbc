"""The `gkextract` command: thin wrappers over the library.

Exit codes: 0 success; 1 some input failed (the rest still landed); 2 bad usage
or bad input to a query (unknown report, unknown filter); 3 nothing to work on
(empty database).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .ingest import FileResult, ingest_paths
from .query import EmptyDatabaseError, NotFoundError, list_reports, report_detail, resolve_report_id
from .render import Format, console, dump_json, emit, err_console
from .store import open_db

app = typer.Typer(
    help="Build a SQLite database from Chinese government information-disclosure annual reports "
         "(政府信息公开工作年度报告): statistical tables by rule, narrative facts by an LLM, "
         "every fact grounded in a quote and scored.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_EMPTY = 3

DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file (created if missing).",
                                         envvar="GKEXTRACT_DB")]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format: table for people; "
                                              "json, jsonl or csv for scripts.")]


def _version(value: bool) -> None:
    if value:
        console.print(f"gkextract {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                         help="Print the version and exit.")] = None) -> None:
    pass


def fail(message: str, code: int) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[current]}"), TimeRemainingColumn(), console=err_console,
                    transient=False)


def run_ingest(db_path: Path, paths: list[Path], fmt: Format) -> list[FileResult]:
    db = open_db(db_path)
    with _progress() as progress:
        task = progress.add_task("ingest", total=None, current="")

        def on_file(res: FileResult) -> None:
            progress.update(task, advance=1, current=Path(res.path).name[-40:])

        results = ingest_paths(db, paths, on_file=on_file,
                               on_total=lambda n: progress.update(task, total=n))
    _summarise_ingest(results, fmt)
    return results


def _summarise_ingest(results: list[FileResult], fmt: Format) -> None:
    rows = [dict(file=r.path, status=r.status, report_id=r.report_id, report_status=r.report_status,
                 detail=r.error or "; ".join(r.problems)) for r in results]
    if fmt is not Format.table:
        emit(rows, fmt)
        return
    counts = Counter(r.status for r in results)
    partial = sum(1 for r in results if r.report_status == "partial")
    err_console.print(
        f"[bold]{len(results)} file(s):[/] {counts['ingested']} ingested "
        f"({partial} partial), {counts['duplicate']} duplicate, {counts['skipped']} unchanged since "
        f"last run, [red]{counts['failed']} failed[/]", soft_wrap=True
    )
    notable = [r for r in rows if r["status"] == "failed" or r["report_status"] == "partial"]
    if notable:
        t = Table("file", "status", "what went wrong / what is missing", header_style="bold")
        for r in notable:
            status = "[red]failed[/]" if r["status"] == "failed" else "[yellow]partial[/]"
            t.add_row(Path(r["file"]).name, status, r["detail"])
        err_console.print(t)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Report files (.txt .html .docx .pdf) or folders.")],
    db: DbOption = Path("gkextract.db"),
    fmt: FormatOption = Format.table,
) -> None:
    """Parse reports into the database: sections, metadata, the three tables and their checks.

    Each report is written in one transaction and identified by the hash of its
    text, so re-running over the same folder adds nothing twice and resumes a
    killed batch.  Files that fail are listed with the reason; the exit status
    is 1 if any failed, and the others still land.

    Example: gkextract ingest reports/ --db gk.db
    """
    results = run_ingest(db, paths, fmt)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(EXIT_FAILURES)


@app.command()
def reports(db: DbOption = Path("gkextract.db"), fmt: FormatOption = Format.table) -> None:
    """List the reports in the database, with region, year, template and failed checks.

    Example: gkextract reports --db gk.db --format csv
    """
    try:
        rows = list_reports(open_db(db))
    except EmptyDatabaseError as e:
        raise fail(str(e), EXIT_EMPTY)
    emit(rows, fmt, title=f"{len(rows)} report(s)")


@app.command()
def show(
    report: Annotated[str, typer.Argument(help="Report id, unique id prefix, or file name.")],
    db: DbOption = Path("gkextract.db"),
    fmt: FormatOption = Format.table,
) -> None:
    """Show one report: metadata, sections, the three tables and failed checks.

    Example: gkextract show 3f2a --db gk.db --format json
    """
    database = open_db(db)
    try:
        rid = resolve_report_id(database, report)
    except EmptyDatabaseError as e:
        raise fail(str(e), EXIT_EMPTY)
    except NotFoundError as e:
        raise fail(str(e), EXIT_USAGE)
    detail = report_detail(database, rid)
    if fmt is not Format.table:
        dump_json(detail)
        return
    _print_detail(detail)


def _print_detail(d: dict) -> None:
    r = d["report"]
    region = " ".join(x for x in (r["province"], r["city"], r["county"]) if x) or "—"
    console.print(f"[bold]{r['issuer'] or '(issuer unknown)'}[/] {r['year'] or ''}  [dim]{r['id']}[/]")
    console.print(f"region: {region}   level: {r['level'] or '—'}   template: {r['template'] or '—'}   "
                  f"published: {r['publication_date'] or '—'}   file: {r['file_name']}")
    status_colour = "green" if r["status"] == "complete" else "yellow"
    console.print(f"status: [{status_colour}]{r['status']}[/]" +
                  ("".join(f"\n  - {p}" for p in r["problems"])))
    emit([dict(part=s["kind"], status=s["status"], heading=s["heading"], span=(
        f"{s['span_start']}–{s['span_end']}" if s["span_start"] is not None else None), chars=s["n_chars"])
        for s in d["sections"]], Format.table, title="sections")
    for t in d["tables"]:
        cols: list[str] = []
        for row in t["rows"]:
            for c in row["cells"]:
                if c["col_label"] not in cols:
                    cols.append(c["col_label"])
        grid = Table(title=f"{t['table_key']} — {t['status']} ({t['layout'] or 'no layout'}, "
                     f"template {t['template'] or '—'})", header_style="bold")
        grid.add_column("row")
        for c in cols:
            grid.add_column(c, justify="right")
        grid.add_column("raw cells (misaligned rows)")
        for row in t["rows"]:
            values = {c["col_label"]: c for c in row["cells"]}
            cells = []
            for c in cols:
                cell = values.get(c)
                if cell is None:
                    cells.append("")
                elif cell["value"] is None:
                    cells.append(f"[dim]{cell['status']}[/]")
                else:
                    v = cell["value"]
                    cells.append(f"{v:g}" if isinstance(v, float) else str(v))
            raw = " | ".join(row["raw_cells"]) if row["status"] == "misaligned" else ""
            label = row["label"] or row["row_key"]
            style = {"misaligned": "[yellow]", "missing": "[dim]"}.get(row["status"], "")
            grid.add_row(f"{style}{label[:30]}", *cells, raw)
        console.print(grid)
    failed = [c for c in d["checks"] if c["status"] == "fail"]
    skipped = sum(1 for c in d["checks"] if c["status"] == "skipped")
    passed = sum(1 for c in d["checks"] if c["status"] == "pass")
    console.print(f"checks: [green]{passed} pass[/], [red]{len(failed)} fail[/], {skipped} skipped")
    if failed:
        emit([dict(check=c["check_id"], rule=c["rule"], expected=c["expected"], actual=c["actual"],
                   reason=c["reason"]) for c in failed], Format.table, title="failed checks")


if __name__ == "__main__":
    app()
