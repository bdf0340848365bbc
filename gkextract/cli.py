"""The `gkextract` command: thin wrappers over the library.

Exit codes: 0 success; 1 some input failed (the rest still landed); 2 bad usage
or bad input to a query (unknown report, unknown filter); 3 nothing to work on
(empty database).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import sqlite_utils
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .explore import (CATEGORY_LABELS, Filters, FilterError, fact_stats, group_counts, left_out, list_items,
                      parse_by, report_summary, resolve_filters)
from .export import ExportFormat, export_db
from .ingest import FileResult, ingest_paths
from .llm import CallResult, LLMSettings, Mode, ResponseFormat, load_settings
from .narrative import ExtractSummary, extract_reports
from .query import (EmptyDatabaseError, NotFoundError, ensure_reports, list_reports, report_detail,
                    resolve_report_id)
from .render import Format, console, dump_json, emit, err_console
from .review import ReviewError, export_queue, import_csv, queue, reviewer_name, run_session
from .store import open_db, review_threshold, set_review_threshold

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
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def existing_db(path: Path) -> sqlite_utils.Database:
    """Query commands never create a database: a mistyped --db is an error, not an empty file."""
    if not path.exists():
        raise fail(f"no database at {path}: run `gkextract ingest PATH... --db FILE` "
                   "(or `gkextract run PATH... --db FILE`) first", EXIT_EMPTY)
    return open_db(path)


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
        rows = list_reports(existing_db(db))
    except EmptyDatabaseError as e:
        raise fail(str(e), EXIT_EMPTY)
    if fmt is Format.table:  # people get a compact view; scripts get every column
        rows = [dict(id=r["id"][:10], issuer=r["issuer"], year=r["year"], level=r["level"],
                     region=" ".join(x for x in (r["province"], r["city"], r["county"]) if x),
                     template=r["template"], status=r["status"], failed_checks=r["failed_checks"]) for r in rows]
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
    database = existing_db(db)
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


def _llm_settings(model: Optional[str], concurrency: Optional[int], mode: Mode, cache: Optional[Path],
                  response_format: Optional[ResponseFormat], base_url: Optional[str],
                  config: Optional[Path]) -> LLMSettings:
    cache = cache or Path(os.environ.get("GKEXTRACT_CACHE", Path.home() / ".cache" / "gkextract" / "llm"))
    try:
        return load_settings(config, model=model, concurrency=concurrency, mode=mode, cache_dir=cache,
                             response_format=response_format, base_url=base_url)
    except (ValueError, FileNotFoundError) as e:
        raise fail(str(e), EXIT_USAGE)


def run_extract(database: sqlite_utils.Database, settings: LLMSettings, threshold: Optional[float], fmt: Format,
                report_ids: Optional[list[str]] = None) -> ExtractSummary:
    if threshold is not None:
        set_review_threshold(database, threshold)
    threshold = review_threshold(database)
    with _progress() as progress:
        task = progress.add_task(f"extract ({settings.mode.value})", total=None, current="")

        def on_done(rid: str, section: str, res: CallResult) -> None:
            progress.update(task, advance=1, current=f"{rid[:8]} {section} {res.status}")

        try:
            summary = extract_reports(database, settings, report_ids=report_ids, threshold=threshold,
                                      on_total=lambda n: progress.update(task, total=n), on_done=on_done)
        except RuntimeError as e:  # no API key
            raise fail(str(e), EXIT_USAGE)
    _summarise_extract(summary, fmt)
    return summary


def _summarise_extract(s: ExtractSummary, fmt: Format) -> None:
    numbers = dict(reports=s.reports, sections=s.sections, already_done=s.already_done, calls=s.calls,
                   cache_hits=s.cache_hits, retries=s.retries, reasks=s.reasks, prompt_tokens=s.prompt_tokens,
                   completion_tokens=s.completion_tokens, facts=s.facts, problems=s.problems,
                   improvements=s.improvements, flagged=s.flagged, failures=len(s.failures))
    if fmt is not Format.table:
        emit([dict(numbers, failed=s.failures)], fmt)
        return
    t = Table("extract", "", header_style="bold", title="narrative extraction")
    for k, v in numbers.items():
        t.add_row(k.replace("_", " "), f"[red]{v}[/]" if k == "failures" and v else str(v))
    err_console.print(t)
    if s.failures:
        ft = Table("report", "section", "status", "what went wrong", header_style="bold")
        for f in s.failures:
            ft.add_row(f["report_id"], f["section"], f["status"], escape(f["error"]))
        err_console.print(ft)


ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Model name [env GKEXTRACT_MODEL; default gpt-4o-mini].")]
ConcurrencyOpt = Annotated[Optional[int], typer.Option("--concurrency", "-j", min=1,
                                                        help="Requests in flight [env GKEXTRACT_CONCURRENCY; default 8].")]
ModeOpt = Annotated[Mode, typer.Option("--mode", help="live: call the API (saved replies are a cache); record: call "
                                       "and save every reply; replay: saved replies only, no network.")]
CacheOpt = Annotated[Optional[Path], typer.Option("--fixtures", "--cache", help="Folder of saved replies "
                                                  "[env GKEXTRACT_CACHE; default ~/.cache/gkextract/llm].")]
FormatOptLLM = Annotated[Optional[ResponseFormat], typer.Option(
    "--response-format", help="json_schema (strict structured outputs) or json_object for servers without it, "
                              "e.g. DeepSeek [env GKEXTRACT_RESPONSE_FORMAT].")]
BaseUrlOpt = Annotated[Optional[str], typer.Option("--base-url", help="OpenAI-compatible endpoint "
                                                   "[env OPENAI_BASE_URL]. The API key is read only from "
                                                   "OPENAI_API_KEY or the config file.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="TOML config file "
                                                   "[default ~/.config/gkextract/config.toml].")]
ThresholdOpt = Annotated[Optional[float], typer.Option(
    "--review-threshold", min=0.0, max=1.0,
    help="Store this as the database's review threshold (items scoring below it wait for review); "
         "it applies when reading, so it can be changed later with `gkextract threshold` [default: keep "
         "the database's, 0.7 for a new one].")]


@app.command()
def extract(
    db: DbOption = Path("gkextract.db"),
    model: ModelOpt = None,
    concurrency: ConcurrencyOpt = None,
    mode: ModeOpt = Mode.live,
    fixtures: CacheOpt = None,
    response_format: FormatOptLLM = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    review_threshold: ThresholdOpt = None,
    report: Annotated[Optional[list[str]], typer.Option("--report", help="Only these report ids (repeatable).")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Extract facts, problems and improvements from the narrative sections with an LLM.

    One call per section (一、总体情况 and 五、存在的主要问题及改进情况). Every fact is
    grounded in a verbatim quote and scored; weak ones are flagged for `gkextract review`.
    Sections already extracted with the same model and prompt version are skipped, and
    saved replies are reused, so a re-run never pays twice.  Exit status 1 if any call failed.

    Example: OPENAI_API_KEY=... gkextract extract --db gk.db --model gpt-4o-mini -j 16
    """
    settings = _llm_settings(model, concurrency, mode, fixtures, response_format, base_url, config)
    database = existing_db(db)
    try:
        ensure_reports(database)
        ids = [resolve_report_id(database, r) for r in report] if report else None
    except EmptyDatabaseError as e:
        raise fail(str(e), EXIT_EMPTY)
    except NotFoundError as e:
        raise fail(str(e), EXIT_USAGE)
    summary = run_extract(database, settings, review_threshold, fmt, ids)
    if summary.failures:
        raise typer.Exit(EXIT_FAILURES)


@app.command()
def run(
    paths: Annotated[list[Path], typer.Argument(help="Report files (.txt .html .docx .pdf) or folders.")],
    db: DbOption = Path("gkextract.db"),
    model: ModelOpt = None,
    concurrency: ConcurrencyOpt = None,
    mode: ModeOpt = Mode.live,
    fixtures: CacheOpt = None,
    response_format: FormatOptLLM = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    review_threshold: ThresholdOpt = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The main job: ingest reports, then extract their narrative.

    Resumable: a killed run picks up where it stopped, without duplicates and
    without paying again for calls already made.  Exit status 1 if any file or
    call failed; everything else still lands.

    Example: gkextract run fixtures/reports --db gk.db --mode replay --fixtures fixtures/llm
    """
    settings = _llm_settings(model, concurrency, mode, fixtures, response_format, base_url, config)
    results = run_ingest(db, paths, fmt)
    database = open_db(db)
    if not database.execute("SELECT 1 FROM reports LIMIT 1").fetchone():
        raise fail("no report could be ingested, so there is nothing to extract", EXIT_FAILURES)
    summary = run_extract(database, settings, review_threshold, fmt)
    if summary.failures or any(r.status == "failed" for r in results):
        raise typer.Exit(EXIT_FAILURES)


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


# --- the narrative, as reviewed: problems, improvements, facts, summary, review, export ----

ProvinceOpt = Annotated[Optional[str], typer.Option("--province", help="Province: 山西, 山西省, 宁夏 …")]
CityOpt = Annotated[Optional[str], typer.Option("--city", help="City (地级市): 忻州 or 忻州市.")]
CountyOpt = Annotated[Optional[str], typer.Option("--county", help="County or district: 关岭自治县, 竞秀区 …")]
LevelOpt = Annotated[Optional[str], typer.Option("--level",
                                                 help="province, city, county, township or department.")]
YearOpt = Annotated[Optional[int], typer.Option("--year", help="Statistical year of the report.")]
IssuerOpt = Annotated[Optional[str], typer.Option("--issuer", help="Part of the issuing body's name.")]
CategoryOpt = Annotated[Optional[str], typer.Option(
    "--category", help="Taxonomy key or its Chinese name: " +
    ", ".join(f"{k} ({v})" for k, v in CATEGORY_LABELS.items()) + ".")]
KindOpt = Annotated[Optional[str], typer.Option(
    "--kind", help="platform, training, disclosure, application or supervision.")]
MetricOpt = Annotated[Optional[str], typer.Option("--metric", help="accounts, items, sessions, participants, "
                                                                   "received, handled …")]
SearchOpt = Annotated[Optional[str], typer.Option(
    "--search", "-s", help="Words that must all occur in the summary or evidence; 3+ characters use the "
                           "trigram index, 1–2 characters a slower LIKE.")]
ByOpt = Annotated[Optional[str], typer.Option(
    "--by", help="Count reports per group instead of listing: province, city, county, level, year and "
                 "category (kind, metric for facts), comma-separated.")]
IncludeRejectedOpt = Annotated[bool, typer.Option("--include-rejected",
                                                  help="Also show items a reviewer rejected.")]
BelowOpt = Annotated[Optional[float], typer.Option(
    "--below", min=0.0, max=1.0, help="Review threshold for this command: undecided items scoring below it "
                                      "count as flagged [default: the database's, see `gkextract threshold`].")]
IncludeFlaggedOpt = Annotated[bool, typer.Option(
    "--include-flagged", help="Counts and statistics (--by, --stats) also count items still waiting for "
                              "review; by default they are left out, and the output says how many.")]


@contextmanager
def _query_errors() -> Iterator[None]:
    """Nothing to work on exits 3; a bad filter, id or decision exits 2."""
    try:
        yield
    except EmptyDatabaseError as e:
        raise fail(str(e), EXIT_EMPTY)
    except (FilterError, NotFoundError, ReviewError) as e:
        raise fail(str(e), EXIT_USAGE)


def _for_people(rows: list[dict]) -> list[dict]:
    """A compact view for the terminal; scripts get every column apart (--format csv/json)."""
    out = []
    for r in rows:
        row = {"id": r["id"], "issuer": r["issuer"],
               "region": " ".join(x for x in (r["province"], r["county"] or r["city"]) if x), "year": r["year"]}
        if "kind" in r:  # a fact
            value = r["value"]
            shown = None if value is None else f"{'≈' if r.get('approximate') else ''}{value:g} {r.get('unit') or ''}"
            row.update(kind=r["kind"], metric=r["metric"], label=r["label"], value=shown)
        else:
            row.update(category=r["category"], summary=r["summary"])
        row.update(score=r["score"], review=r["review_status"], evidence=r["evidence"])
        out.append(row)
    return out


def _emit_items(rows: list[dict], fmt: Format, what: str) -> None:
    if fmt is Format.table and not rows:
        err_console.print(f"no {what} match these filters")
    else:
        emit(_for_people(rows) if fmt is Format.table else rows, fmt, title=f"{len(rows)} {what}")


def _note_left_out(database: sqlite_utils.Database, table: str, f: Filters) -> None:
    """Aggregates say what they left out (on stderr, so scripts still get one document)."""
    n = left_out(database, table, f)
    if n:
        err_console.print(f"[dim]left out: {n} {table} scoring below the review threshold {f.below:g} and "
                          f"not yet reviewed; --include-flagged counts them[/]")


def _narrative(table: str, db: Path, fmt: Format, f: Filters, by: Optional[str]) -> None:
    database = existing_db(db)
    with _query_errors():
        f = resolve_filters(database, f)
        if by:
            emit(group_counts(database, table, f, parse_by(table, by)), fmt,
                 title=f"reports citing {table}, by {by} (share = of the group's extracted reports)")
            _note_left_out(database, table, f)
        else:
            _emit_items(list_items(database, table, f), fmt, table)


@app.command()
def problems(
    province: ProvinceOpt = None, city: CityOpt = None, county: CountyOpt = None, level: LevelOpt = None,
    year: YearOpt = None, issuer: IssuerOpt = None, category: CategoryOpt = None, search: SearchOpt = None,
    by: ByOpt = None, include_rejected: IncludeRejectedOpt = False, below: BelowOpt = None,
    include_flagged: IncludeFlaggedOpt = False,
    db: DbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
) -> None:
    """Problems the reports state (存在的主要问题), as reviewed, with their evidence.

    With --by, count instead: how many reports in each group cite each
    category, and their share of the group's reports.

    Examples:
      gkextract problems --province 山西 --year 2019 --category policy_interpretation
      gkextract problems --search 政策解读 --format csv
      gkextract problems --level county --year 2020 --category 政策解读 --by province
    """
    _narrative("problems", db, fmt, Filters(province=province, city=city, county=county, level=level, year=year,
                                            issuer=issuer, category=category, search=search,
                                            include_rejected=include_rejected, below=below,
                                            include_flagged=include_flagged), by)


@app.command()
def improvements(
    province: ProvinceOpt = None, city: CityOpt = None, county: CountyOpt = None, level: LevelOpt = None,
    year: YearOpt = None, issuer: IssuerOpt = None, category: CategoryOpt = None, search: SearchOpt = None,
    by: ByOpt = None, include_rejected: IncludeRejectedOpt = False, below: BelowOpt = None,
    include_flagged: IncludeFlaggedOpt = False,
    db: DbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
) -> None:
    """Improvement measures the reports plan (改进情况), as reviewed; --by counts like `problems`.

    Example: gkextract improvements --category staffing_capacity --by year
    """
    _narrative("improvements", db, fmt, Filters(province=province, city=city, county=county, level=level,
                                                year=year, issuer=issuer, category=category, search=search,
                                                include_rejected=include_rejected, below=below,
                                                include_flagged=include_flagged), by)


@app.command()
def facts(
    province: ProvinceOpt = None, city: CityOpt = None, county: CountyOpt = None, level: LevelOpt = None,
    year: YearOpt = None, issuer: IssuerOpt = None, kind: KindOpt = None, metric: MetricOpt = None,
    platform_type: Annotated[Optional[str], typer.Option(
        "--platform-type", help="Platforms of one type: portal, weibo, wechat, new_media, app, gazette, "
                                "hotline_mailbox, other.")] = None,
    training_status: Annotated[Optional[str], typer.Option(
        "--training-status", help="Trainings held or planned.")] = None,
    search: SearchOpt = None, by: ByOpt = None,
    stats: Annotated[bool, typer.Option("--stats", help="count/min/median/max of the values per group "
                                                        "(and per kind, metric and unit).")] = False,
    include_rejected: IncludeRejectedOpt = False, below: BelowOpt = None,
    include_flagged: IncludeFlaggedOpt = False,
    db: DbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
) -> None:
    """Numbers from the narrative (platforms, training, disclosure, applications, supervision), as reviewed.

    Examples:
      gkextract facts --kind training --province 山西 --year 2019 --level county
      gkextract facts --platform-type new_media --metric accounts --level county --stats
      gkextract facts --training-status held --year 2019 --province 宁夏
    """
    database = existing_db(db)
    f = Filters(province=province, city=city, county=county, level=level, year=year, issuer=issuer, kind=kind,
                metric=metric, platform_type=platform_type, training_status=training_status, search=search,
                include_rejected=include_rejected, below=below, include_flagged=include_flagged)
    with _query_errors():
        f = resolve_filters(database, f)
        keys = parse_by("facts", by) if by else []
        if stats:
            emit(fact_stats(database, f, keys), fmt, title="fact values" + (f" by {by}" if by else ""))
            _note_left_out(database, "facts", f)
        elif keys:
            emit(group_counts(database, "facts", f, keys), fmt, title=f"reports stating facts, by {by}")
            _note_left_out(database, "facts", f)
        else:
            _emit_items(list_items(database, "facts", f), fmt, "facts")


@app.command()
def summary(
    report: Annotated[str, typer.Argument(help="Report id, unique id prefix, or file name prefix.")],
    include_rejected: IncludeRejectedOpt = False, below: BelowOpt = None,
    db: DbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
) -> None:
    """One report on one screen: metadata, table numbers, failed checks, narrative, flags.

    Shows the key table numbers (applications, 规范性文件, 复议/诉讼), failed
    checks, the facts with their scores, problems, improvements, and what is
    still flagged for review and why.

    Example: gkextract summary 004 --db gk.db
    """
    if fmt is Format.csv:
        raise fail("a summary is one nested record: use --format json", EXIT_USAGE)
    database = existing_db(db)
    with _query_errors():
        d = report_summary(database, report, include_rejected, below)
    if fmt is not Format.table:
        dump_json(d)
        return
    r = d["report"]
    region = " ".join(x for x in (r["province"], r["city"], r["county"]) if x) or "—"
    console.print(f"[bold]{escape(r['issuer'] or '(issuer unknown)')}[/] {r['year'] or ''}  [dim]{r['id']}[/]  "
                  f"{escape(r['file_name'])}")
    console.print(f"region: {region}   level: {r['level'] or '—'}   template: {r['template'] or '—'}   "
                  f"status: {r['status']}" + "".join(f"\n  - {escape(p)}" for p in r["problems"]))
    emit(d["table_numbers"], Format.table, columns=["cell", "label", "value", "status"], title="key table numbers")
    if d["failed_checks"]:
        emit(d["failed_checks"], Format.table, title="failed checks")
    if not d["extractions"]:
        console.print("narrative: not extracted yet (run `gkextract extract`)")
    for e in d["extractions"]:
        if e["status"] != "ok":
            console.print(f"[yellow]{e['section']} extraction {e['status']}[/]: {escape(e['error'] or '')}")
    for table, cols in (("facts", ["id", "kind", "metric", "label", "value", "unit", "score", "review_status"]),
                        ("problems", ["id", "category", "summary", "score", "review_status"]),
                        ("improvements", ["id", "category", "summary", "problem_id", "score", "review_status"])):
        if d[table]:
            emit(d[table], Format.table, columns=cols, title=table)
    if d["conflicts"]:
        emit([{**c, "text": f"{c['text_value']:g}{c['unit'] or ''}" if c["text_value"] is not None else None}
              for c in d["conflicts"]], Format.table,
             columns=["fact_id", "metric", "text", "table_ref", "table_value", "status"],
             title="text vs. table (conflict: they disagree; table_unavailable: the cell is misaligned or missing)")
    if d["flagged"]:
        emit([{**x, "why": " ".join(x["why"])} for x in d["flagged"]], Format.table,
             title=f"flagged for review below {d['review_threshold']:g} (gkextract review)")


@app.command()
def review(
    province: ProvinceOpt = None, city: CityOpt = None, county: CountyOpt = None, level: LevelOpt = None,
    year: YearOpt = None, issuer: IssuerOpt = None, category: CategoryOpt = None, kind: KindOpt = None,
    metric: MetricOpt = None,
    report: Annotated[Optional[str], typer.Option("--report", help="Only this report (id or prefix).")] = None,
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="Your name in the audit trail "
                                                                       "(default: $USER).")] = None,
    export_to: Annotated[Optional[Path], typer.Option("--export", help="Write the queue to this CSV instead, "
                                                                       "with empty decision columns.")] = None,
    import_from: Annotated[Optional[Path], typer.Option("--import", help="Apply the decisions filled in "
                                                                         "a CSV written by --export.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every item, not only the flagged ones "
                                                           "nobody has decided on.")] = False,
    below: BelowOpt = None,
    db: DbOption = Path("gkextract.db"),
) -> None:
    """Review flagged extractions, lowest score first: accept, correct or reject.

    Each item shows the fact, why it was flagged, and its evidence highlighted
    in the report's own text.  Every decision is a new row in the `reviews`
    audit table; the extracted rows are never changed, and the query commands
    show the latest decision (rejected items hidden).

    Examples:
      gkextract review --db gk.db --province 贵州
      gkextract review --db gk.db --export review.csv   (fill in decision, new_*; then)
      gkextract review --db gk.db --import review.csv
    """
    if export_to and import_from:
        raise fail("give --export or --import, not both", EXIT_USAGE)
    database = existing_db(db)
    who = reviewer_name(reviewer)
    with _query_errors():
        if import_from:
            result = import_csv(database, import_from, who)
            for message in result.errors:
                err_console.print(f"[red]rejected[/] {escape(message)}")
            console.print(f"{result.applied} decision(s) applied, {result.unchanged} already recorded, "
                          f"{result.blank} row(s) without a decision, {len(result.errors)} rejected")
            if result.errors:
                raise typer.Exit(EXIT_FAILURES)
            return
        f = resolve_filters(database, Filters(province=province, city=city, county=county, level=level, year=year,
                                              issuer=issuer, report=report, category=category, kind=kind,
                                              metric=metric, below=below))
        if export_to:
            console.print(f"wrote {export_queue(database, export_to, f, everything)} item(s) to {export_to}")
            return
        items = queue(database, f, everything)
    if not items:
        console.print("nothing to review: no flagged item is waiting for a decision")
        return
    done = run_session(database, items, who, console)
    left = len(queue(database, f))
    console.print(f"recorded {sum(done.values())} decision(s) "
                  f"({', '.join(f'{n} {d}' for d, n in done.items()) or 'none'}); {left} left in the queue")


@app.command()
def threshold(
    value: Annotated[Optional[float], typer.Argument(min=0.0, max=1.0, help="New review threshold (0–1); "
                                                                            "omit to show the current one.")] = None,
    db: DbOption = Path("gkextract.db"),
) -> None:
    """Show or set the database's review threshold.

    Scores are stored; the threshold is applied whenever items are read: items
    scoring below it (and not yet decided) wait in `gkextract review`, are
    marked pending in the `*_reviewed` views, and are left out of counts and
    statistics unless --include-flagged.  Any query also takes --below.

    Example: gkextract threshold 0.8 --db gk.db
    """
    database = existing_db(db)
    if value is not None:
        set_review_threshold(database, value)
    console.print(f"review threshold: {review_threshold(database):g}")


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for the files (created if missing).")],
    db: DbOption = Path("gkextract.db"),
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv or jsonl.")] = ExportFormat.csv,
    include_rejected: IncludeRejectedOpt = False,
) -> None:
    """Write each table to a file (CSV or JSON Lines), with review decisions applied.

    Files: reports (without their text), table_cells, checks, facts, problems,
    improvements (each with its report's region, level, year and issuer) and
    the reviews audit trail.

    Example: gkextract export --db gk.db --out out/ --format jsonl
    """
    database = existing_db(db)
    with _query_errors():
        written = export_db(database, out, fmt, include_rejected)
    emit(written, Format.table, title=f"wrote {len(written)} files to {out}")


WEB_EXTRA = "pip install 'gkextract[web]'"


@app.command()
def serve(
    db: DbOption = Path("gkextract.db"),
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="Port on 127.0.0.1 (0: any free one).")] = 8765,
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="Your name in the audit trail "
                                                                       "(default: $USER).")] = None,
) -> None:
    """Browse the evidence and review in a browser: a local web app on 127.0.0.1.

    Report pages show the full text with every fact, problem and improvement
    highlighted at its quote and coloured by score, its flags in plain words, the
    table cell it was checked against, and the three tables with misaligned rows
    and failed checks marked.  The review queue takes accept, correct and reject
    (keys a, c, r) and writes the same audit rows as `gkextract review`.  The
    heatmap counts reports citing each problem category per province.  Needs the
    web extra: pip install 'gkextract[web]'.

    Example: gkextract serve --db gk.db --reviewer me
    """
    database = existing_db(db)
    with _query_errors():
        ensure_reports(database)
    try:
        from .web import bind, create_app, make_server
    except ImportError as e:
        raise fail(f"`gkextract serve` needs {e.name}, which is not installed: {WEB_EXTRA}", EXIT_USAGE)
    try:
        sock = bind(port)
    except OSError as e:
        raise fail(f"cannot listen on 127.0.0.1:{port} ({e.strerror}): give another --port", EXIT_USAGE)
    who = reviewer_name(reviewer)
    err_console.print(f"serving {db} at [bold]http://127.0.0.1:{sock.getsockname()[1]}/[/] "
                      f"(reviewer {escape(who)}); Ctrl-C stops", soft_wrap=True)
    make_server(create_app(db, who)).run(sockets=[sock])


@app.command()
def view(
    report: Annotated[str, typer.Argument(help="Report id, unique id prefix, or file name prefix.")],
    html: Annotated[Path, typer.Option("--html", help="Write the page to this file ('-' for stdout).")],
    below: BelowOpt = None,
    db: DbOption = Path("gkextract.db"),
) -> None:
    """Write one report's evidence page as a single self-contained HTML file, to share or attach.

    The page `gkextract serve` shows for the report: its text with every quote
    highlighted and coloured by score, each item's flags and table cell, and the
    three tables with failed checks marked.  Styles and script are inlined; it
    opens from disk in any browser with no server.  Needs jinja2 (in the web extra).

    Example: gkextract view 004 --db gk.db --html guanling-2019.html
    """
    database = existing_db(db)
    try:
        from .pages import report_page
    except ImportError as e:
        raise fail(f"`gkextract view` needs {e.name}, which is not installed: {WEB_EXTRA}", EXIT_USAGE)
    with _query_errors():
        page = report_page(database, report, below)
    if str(html) == "-":
        typer.echo(page, nl=False)
        return
    html.write_text(page, encoding="utf-8")
    err_console.print(f"wrote {html} ({len(page.encode('utf-8')) / 1024:.0f} KB)", soft_wrap=True)


if __name__ == "__main__":
    app()
