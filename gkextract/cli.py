"""The `gkextract` command: thin wrappers over the library.

Exit codes: 0 success; 1 some input failed (the rest still landed); 2 bad usage
or bad input to a query (unknown report, unknown filter, a --db that is not a
database); 3 nothing to work on (empty database); 130 interrupted by Ctrl-C
(what was saved stays saved: rerun the same command to resume).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, Any, Optional

import sqlite_utils
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__, api
from . import crossyear
from .domain import CATEGORY_LABELS, Lang
from .ingest import FileResult, IngestInterrupted
from .issuers import IssuerError, list_issuers, list_suggestions, record_decision
from .llm import CallResult, LLMSettings, Mode, ReplyStore, ResponseFormat, is_local_url, load_settings
from .localserver import LocalServer, LocalServerError, adapt_to_server, server_slots
from .narrative import Budget, ExtractInterrupted, ExtractSummary
from .queries import (EmptyDatabaseError, Filters, FilterError, NotFoundError, ensure_reports, export_db, fact_stats,
                      group_counts, left_out, parse_by, report_detail, report_summary, resolve_filters,
                      resolve_report_id)
from .render import (DEFAULT_ENCODING, EncodingError, ExportFormat, Format, OutputSettings, check_encoding, console,
                     dump_json, emit, err_console, evaluation_for_people, issuers_for_people, items_for_people,
                     output, print_compare, print_detail, print_summary, print_timeline, reports_for_people, zh_en)
from .redact import redact
from .review import ReviewError, export_queue, import_csv, queue, reviewer_name, run_session
from .runlock import run_lock
from .store import DatabaseError, open_db, review_threshold, set_review_threshold
from .timeline import EVALUATION_COLUMNS, EvaluationError
from .timeline import compare as compare_years
from .timeline import evaluation as evaluation_rows
from .timeline import timeline as timeline_of

app = typer.Typer(
    help="Build a SQLite database from Chinese government information-disclosure annual reports "
         "(政府信息公开工作年度报告): statistical tables by rule, narrative facts by an LLM, "
         "every fact grounded in a quote and scored.",
    no_args_is_help=True,
    rich_markup_mode=None,   # plain click help: rich wrapping cut long words and Chinese at 80 columns
    pretty_exceptions_enable=False,
)

EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_EMPTY = 3
EXIT_INTERRUPTED = 130

DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file (created if missing).",
                                         envvar="GKEXTRACT_DB")]
ExistingDbOption = Annotated[Path, typer.Option("--db", help="SQLite database file made by `gkextract run` or "
                                                "`gkextract ingest` (exit 3 if there is none).", envvar="GKEXTRACT_DB")]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format: table for people; "
                                              "json (one document), jsonl (one row a line) or csv for scripts.")]


def _set_lang(value: Lang) -> Lang:
    output.lang = value
    return value


def _set_encoding(value: str) -> str:
    try:
        output.encoding = check_encoding(value)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    return value


LangOption = Annotated[Lang, typer.Option(
    "--lang", envvar="GKEXTRACT_LANG", callback=_set_lang,
    help="Labels in tables: zh (类别 政策解读, flags such as 引文未在原文中找到, Chinese column headers) or en. "
         "JSON and CSV always carry the stable keys (policy_interpretation).")]
EncodingOption = Annotated[str, typer.Option(
    "--encoding", envvar="GKEXTRACT_CSV_ENCODING", callback=_set_encoding,
    help="Encoding of CSV output: utf-8-sig (UTF-8 with a BOM, which Excel on Chinese Windows needs), "
         "utf-8 (no BOM, for scripts) or gb18030.")]


def _nested_only(fmt: Format, what: str) -> None:
    """A nested record is no table: --format csv says so (exit 2) rather than printing something else."""
    if fmt is Format.csv:
        raise fail(f"{what} is one nested record, not a table: use --format json (or jsonl for one line)", EXIT_USAGE)


def _version(value: bool) -> None:
    if value:
        console.print(f"gkextract {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                         help="Print the version and exit.")] = None) -> None:
    """Every command starts from the default output settings; its --lang and --encoding then set them."""
    defaults = OutputSettings()
    output.lang, output.encoding = defaults.lang, defaults.encoding


def fail(message: str, code: int) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(redact(message) or '')}", soft_wrap=True)
    return typer.Exit(code)


def database(path: Path) -> sqlite_utils.Database:
    """Open --db, or exit 2 saying why it cannot be the database (a folder, not SQLite …)."""
    try:
        return open_db(path)
    except DatabaseError as e:
        raise fail(str(e), EXIT_USAGE)


def existing_db(path: Path) -> sqlite_utils.Database:
    """Query commands never create a database: a mistyped --db is an error, not an empty file."""
    try:
        return api.open_database(path, create=False)
    except FileNotFoundError as e:
        raise fail(str(e), EXIT_EMPTY)
    except DatabaseError as e:
        raise fail(str(e), EXIT_USAGE)


@contextmanager
def batch_job(db_path: Path) -> Iterator[None]:
    """Hold the database's run lock (waiting, with a message, while another job holds it); Ctrl-C exits 130.

    ``ingest``, ``extract`` and ``run`` are batch jobs: one at a time per
    database, so a second one never pays for a section the first is paying for.
    """
    database(db_path).close()   # a bad --db is an error before any lock file is made

    def waiting(holder: str) -> None:
        err_console.print(f"[yellow]another gkextract job is using {escape(str(db_path))}[/] "
                          f"({escape(holder)}); waiting for it to finish — Ctrl-C to stop", soft_wrap=True)

    try:
        with run_lock(db_path, on_wait=waiting):
            yield
    except IngestInterrupted as e:
        saved = sum(r.status in ("ingested", "duplicate") for r in e.results)
        err_console.print(f"interrupted — {saved} reports saved; rerun the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED)
    except ExtractInterrupted as e:
        err_console.print(f"interrupted — {e.summary.saved} sections saved; rerun the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        err_console.print("interrupted — rerun the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[current]}"), TimeRemainingColumn(), console=err_console,
                    transient=False)


def run_ingest(db_path: Path, paths: list[Path], fmt: Format, jobs: int = 1) -> list[FileResult]:
    db = database(db_path)
    with _progress() as progress:
        task = progress.add_task("ingest", total=None, current="")

        def on_file(res: FileResult) -> None:
            progress.update(task, advance=1, current=escape(Path(res.path).name[-40:]))

        results = api.ingest_files(db, paths, on_file=on_file,
                                   on_total=lambda n: progress.update(task, total=n), jobs=jobs)
    _summarise_ingest(results)
    if fmt is not Format.table:
        emit(_ingest_rows(results), fmt)
    return results


def _ingest_rows(results: list[FileResult]) -> list[dict[str, Any]]:
    return [dict(file=r.path, status=r.status, report_id=r.report_id, report_status=r.report_status,
                 detail=r.error or "; ".join(r.problems)) for r in results]


def _summarise_ingest(results: list[FileResult]) -> None:
    """What happened, for people, on stderr (whatever --format puts on stdout)."""
    rows = _ingest_rows(results)
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
            t.add_row(escape(Path(r["file"]).name), status, escape(r["detail"]))
        err_console.print(t)


JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parse in this many processes (one writes); "
                                     "the database is the same as with one.")]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Report files (.txt .html .docx .pdf) or folders.")],
    db: DbOption = Path("gkextract.db"),
    jobs: JobsOpt = 1,
    fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING,
) -> None:
    """Parse reports into the database: sections, metadata, the three tables and their checks.

    Each report is written in one transaction and identified by the hash of its
    text, so re-running over the same folder adds nothing twice and resumes a
    killed batch.  Files that fail are listed with the reason; the exit status
    is 1 if any failed, and the others still land.

    One ingest, extract or run at a time per database: a second one waits for
    the first (saying so).  Ctrl-C keeps what was parsed and exits 130.

    \b
    Example: gkextract ingest reports/ --db gk.db -j 2
    """
    with batch_job(db):
        results = run_ingest(db, paths, fmt, jobs)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(EXIT_FAILURES)


@app.command()
def reports(db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
            encoding: EncodingOption = DEFAULT_ENCODING, lang: LangOption = Lang.zh) -> None:
    """List the reports in the database, with region, year, template and failed checks.

    \b
    Example: gkextract reports --db gk.db --format csv
    """
    try:
        rows = [asdict(r) for r in api.reports(existing_db(db))]
    except EmptyDatabaseError as e:
        raise fail(str(e), EXIT_EMPTY)
    if fmt is Format.table:  # people get a compact view; scripts get every column
        rows = reports_for_people(rows)
    emit(rows, fmt, title=zh_en(f"{len(rows)} 份报告", f"{len(rows)} report(s)"))


@app.command()
def show(
    report: Annotated[str, typer.Argument(help="Report id, unique id prefix, or file name.")],
    db: ExistingDbOption = Path("gkextract.db"),
    fmt: FormatOption = Format.table,
    lang: LangOption = Lang.zh,
) -> None:
    """Show one report: metadata, sections, the three tables and failed checks.

    --format json gives it all as one document (jsonl: on one line); it is no
    table, so there is no CSV: `gkextract export` writes the cells as CSV.

    \b
    Example: gkextract show 3f2a --db gk.db --format json
    """
    _nested_only(fmt, "a report's detail")
    database = existing_db(db)
    try:
        rid = resolve_report_id(database, report)
    except EmptyDatabaseError as e:
        raise fail(str(e), EXIT_EMPTY)
    except NotFoundError as e:
        raise fail(str(e), EXIT_USAGE)
    detail = report_detail(database, rid)
    if fmt is not Format.table:
        dump_json(detail, fmt)
        return
    print_detail(detail)


def _llm_settings(model: Optional[str], concurrency: Optional[int], mode: Optional[Mode], cache: Optional[Path],
                  response_format: Optional[ResponseFormat], base_url: Optional[str],
                  config: Optional[Path], refresh: bool = False) -> LLMSettings:
    """Options given on the command line win; the ones not given leave the config file and environment alone."""
    def warn(message: str) -> None:
        err_console.print(f"[bold yellow]warning:[/] {escape(message)}", soft_wrap=True)

    try:
        settings = load_settings(config, warn=warn, model=model, concurrency=concurrency, mode=mode,
                                 cache_dir=cache, response_format=response_format, base_url=base_url)
    except (ValueError, FileNotFoundError) as e:
        raise fail(str(e), EXIT_USAGE)
    if refresh and settings.mode is Mode.replay:
        raise fail("--refresh asks the model again: it needs --mode live or record, not replay", EXIT_USAGE)
    return settings


@contextmanager
def _backend(settings: LLMSettings, local_model: Optional[Path],
             server_log: Optional[Path]) -> Iterator[tuple[LLMSettings, Optional[ReplyStore]]]:
    """The endpoint for a run: a local model started for it, a local server's slots, or as configured.

    A local server serves one request per slot and takes minutes per section on a
    CPU, so concurrency and timeout follow it unless the user set them.  Replies
    recorded from --local-model carry the model file, its sha256, the quantisation
    and the server parameters.
    """
    if local_model is None:
        if is_local_url(settings.base_url) and settings.mode is not Mode.replay:
            settings = adapt_to_server(settings, server_slots(settings.base_url))  # type: ignore[arg-type]
        yield settings, None
        return
    if "model" not in settings.explicit:
        settings = replace(settings, model=local_model.stem)
    if settings.mode is Mode.replay:   # saved replies only: no server needed, just its model name
        yield settings, None
        return
    try:
        with LocalServer(local_model, name=settings.model, log=server_log) as local:
            err_console.print(f"local model {local_model.name} ({local.provenance['quantisation']}, "
                              f"{local.params.threads} thread(s), {local.params.slots} slot(s)) "
                              f"serving at {local.base_url}", soft_wrap=True)
            settings = adapt_to_server(replace(settings, base_url=local.base_url), local.params.slots)
            yield settings, ReplyStore(settings.cache_dir, provenance=local.provenance)
    except LocalServerError as e:
        raise fail(str(e), EXIT_USAGE)


def run_extract(database: sqlite_utils.Database, settings: LLMSettings, threshold: Optional[float], fmt: Format,
                report_ids: Optional[list[str]] = None, refresh: bool = False,
                store: Optional[ReplyStore] = None, budget: Optional[Budget] = None) -> ExtractSummary:
    with _progress() as progress:
        task = progress.add_task(f"extract ({settings.mode.value})", total=None, current="")

        def on_done(rid: str, section: str, res: CallResult) -> None:
            progress.update(task, advance=1, current=f"{rid[:8]} {section} {res.status}")

        try:
            summary = api.extract(database, settings, report_ids=report_ids, threshold=threshold,
                                  refresh=refresh, store=store, budget=budget,
                                  on_total=lambda n: progress.update(task, total=n), on_done=on_done)
        except RuntimeError as e:  # no API key
            raise fail(str(e), EXIT_USAGE)
    _summarise_extract(summary)
    _say_budget(budget)
    if fmt is not Format.table:
        emit([_extract_row(summary)], fmt)
    return summary


def _extract_numbers(s: ExtractSummary) -> dict[str, int]:
    return dict(reports=s.reports, sections=s.sections, already_done=s.already_done, calls=s.calls,
                cache_hits=s.cache_hits, retries=s.retries, reasks=s.reasks, prompt_tokens=s.prompt_tokens,
                cached_tokens=s.cached_tokens, completion_tokens=s.completion_tokens, facts=s.facts,
                problems=s.problems, improvements=s.improvements, flagged=s.flagged, failures=len(s.failures))


def _extract_row(s: ExtractSummary) -> dict[str, Any]:
    return dict(_extract_numbers(s), failed=s.failures)


def _summarise_extract(s: ExtractSummary) -> None:
    """What the extraction did, for people, on stderr (whatever --format puts on stdout)."""
    numbers = _extract_numbers(s)
    t = Table("extract", "", header_style="bold", title="narrative extraction")
    for k, v in numbers.items():
        t.add_row(k.replace("_", " "), f"[red]{v}[/]" if k == "failures" and v else str(v))
    err_console.print(t)
    if s.failures:
        ft = Table("report", "section", "status", "what went wrong", header_style="bold")
        for f in s.failures:
            ft.add_row(f["report_id"], f["section"], f["status"], escape(f["error"]))
        err_console.print(ft)


def _sources(*, env: Optional[str] = None, config: Optional[str] = None, default: Optional[str] = None) -> str:
    """Where an option's value comes from when it is not given, in typer's own style.

    These options default to None so that the config file and the environment
    can fill them (llm.load_settings), so typer cannot show their defaults:
    the help says them, as click shows its own (``[env var: X; default: Y]``).
    """
    given = [f"{label}: {value}" for label, value in (("env var", env), ("config", config), ("default", default))
             if value]
    return f"  [{'; '.join(given)}]"


ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", help="Model name." + _sources(env="GKEXTRACT_MODEL", config="model", default="gpt-4o-mini"))]
ConcurrencyOpt = Annotated[Optional[int], typer.Option(
    "--concurrency", "-j", min=1, help="Requests in flight." + _sources(env="GKEXTRACT_CONCURRENCY",
                                                                        config="concurrency", default="8"))]
ModeOpt = Annotated[Optional[Mode], typer.Option("--mode", help="live: call the API (saved replies are a cache); "
                                                 "record: call and save every reply; replay: saved replies only, "
                                                 "no network." + _sources(config="mode", default="live"))]
CacheOpt = Annotated[Optional[Path], typer.Option("--fixtures", "--cache", help="Folder of saved replies." + _sources(
    env="GKEXTRACT_CACHE", config="cache_dir", default="~/.cache/gkextract/llm"))]
FormatOptLLM = Annotated[Optional[ResponseFormat], typer.Option(
    "--response-format", help="json_schema (strict structured outputs) or json_object for servers without it, "
                              "e.g. DeepSeek." + _sources(env="GKEXTRACT_RESPONSE_FORMAT", config="response_format",
                                                          default="json_schema"))]
BaseUrlOpt = Annotated[Optional[str], typer.Option(
    "--base-url", help="OpenAI-compatible endpoint (DeepSeek, DashScope, vLLM, Ollama, llama.cpp). The API key "
                       "is read only from OPENAI_API_KEY or the config file; a server on this machine "
                       "(localhost, 127.0.0.1) needs none." + _sources(env="OPENAI_BASE_URL", config="base_url",
                                                                         default="the OpenAI API"))]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="TOML config file." + _sources(
    env="GKEXTRACT_CONFIG", default="~/.config/gkextract/config.toml"))]
ThresholdOpt = Annotated[Optional[float], typer.Option(
    "--review-threshold", min=0.0, max=1.0,
    help="Store this as the database's review threshold (items scoring below it wait for review); "
         "it applies when reading, so it can be changed later with `gkextract threshold`."
         + _sources(default="keep the database's, 0.7 for a new one"))]
RefreshOpt = Annotated[bool, typer.Option("--refresh", help="Extract the selected reports again, even sections "
                                          "already done, ignoring saved replies (live or record mode).")]
LocalModelOpt = Annotated[Optional[Path], typer.Option(
    "--local-model", help="Run this .gguf model on a local llama.cpp server started for the run (needs "
                          "pip install 'gkextract[local]'); concurrency and timeout follow its slots. "
                          "The model name defaults to the file name without .gguf.")]
ServerLogOpt = Annotated[Optional[Path], typer.Option("--server-log", help="Append the local server's log to this file.")]
MaxCostOpt = Annotated[Optional[float], typer.Option(
    "--max-cost", min=0.0, help="Spend at most this much on this run, in the model's price currency (USD for the "
                                "defaults; see `gkextract cost` and [prices] in the config). A section is sent only "
                                "while what was spent plus an upper estimate of what is in flight stays within it; "
                                "the rest stay pending (exit 1) for a later run.")]


def _budget(max_cost: Optional[float], model: str, config: Optional[Path]) -> Optional[Budget]:
    """--max-cost as a Budget at the model's price; no price for the model is a usage error."""
    if max_cost is None:
        return None
    from .pricing import PriceError, load_prices, required_price
    try:
        return Budget(max_cost, required_price(load_prices(config), model))
    except PriceError as e:
        raise fail(str(e), EXIT_USAGE)


def _say_budget(budget: Optional[Budget]) -> None:
    if budget is None:
        return
    cur = budget.price.currency
    if budget.refused:
        err_console.print(f"[yellow]stopped at the budget:[/] {budget.refused} section(s) left pending; spent "
                          f"{budget.spent:.4f} {cur} of {budget.limit:g} {cur} — rerun with a higher --max-cost "
                          "to continue", soft_wrap=True)
    else:
        err_console.print(f"spent {budget.spent:.4f} {cur} of the {budget.limit:g} {cur} budget", soft_wrap=True)


@app.command()
def extract(
    db: ExistingDbOption = Path("gkextract.db"),
    model: ModelOpt = None,
    concurrency: ConcurrencyOpt = None,
    mode: ModeOpt = None,
    fixtures: CacheOpt = None,
    response_format: FormatOptLLM = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    review_threshold: ThresholdOpt = None,
    report: Annotated[Optional[list[str]], typer.Option("--report", help="Only these report ids (repeatable).")] = None,
    refresh: RefreshOpt = False,
    local_model: LocalModelOpt = None,
    server_log: ServerLogOpt = None,
    max_cost: MaxCostOpt = None,
    fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING,
) -> None:
    """Extract facts, problems and improvements from the narrative sections with an LLM.

    One call per section (一、总体情况 and 五、存在的主要问题及改进情况). Every fact is
    grounded in a verbatim quote and scored; weak ones are flagged for `gkextract review`.
    Sections already extracted with the same model and prompt version are skipped, and
    saved replies are reused, so a re-run never pays twice.  Exit status 1 if any call failed.
    One job at a time per database: a second extract or run waits for the first.
    Ctrl-C stops cleanly (exit 130); rerun the same command to resume.

    \b
    Example: OPENAI_API_KEY=... gkextract extract --db gk.db --model gpt-4o-mini -j 16
    """
    settings = _llm_settings(model, concurrency, mode, fixtures, response_format, base_url, config, refresh)
    database = existing_db(db)
    try:
        ensure_reports(database)
        ids = [resolve_report_id(database, r) for r in report] if report else None
    except EmptyDatabaseError as e:
        raise fail(str(e), EXIT_EMPTY)
    except NotFoundError as e:
        raise fail(str(e), EXIT_USAGE)
    with batch_job(db), _backend(settings, local_model, server_log) as (settings, store):
        summary = run_extract(database, settings, review_threshold, fmt, ids, refresh, store,
                              _budget(max_cost, settings.model, config))
    if summary.failures or (summary.budget and summary.budget.refused):
        raise typer.Exit(EXIT_FAILURES)


@app.command()
def run(
    paths: Annotated[list[Path], typer.Argument(help="Report files (.txt .html .docx .pdf) or folders.")],
    db: DbOption = Path("gkextract.db"),
    model: ModelOpt = None,
    concurrency: ConcurrencyOpt = None,
    mode: ModeOpt = None,
    fixtures: CacheOpt = None,
    response_format: FormatOptLLM = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    review_threshold: ThresholdOpt = None,
    refresh: RefreshOpt = False,
    local_model: LocalModelOpt = None,
    server_log: ServerLogOpt = None,
    max_cost: MaxCostOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Parse in this many processes (one writes).", min=1)] = 1,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format: table for people; json (one "
                                        "document: the files ingested and the extraction summary) or jsonl (that "
                                        "document on one line) for scripts; for CSV use ingest and extract.")
                   ] = Format.table,
) -> None:
    """The main job: ingest reports, then extract their narrative.

    Resumable: a killed run picks up where it stopped, without duplicates and
    without paying again for calls already made.  Exit status 1 if any file or
    call failed; everything else still lands.  One job at a time per database:
    a second run on the same --db waits for the first, saying so.  Ctrl-C
    stops cleanly (exit 130) and says what was saved.

    \b
    Example: gkextract run fixtures/reports --db gk.db --mode replay --fixtures fixtures/llm

    \b
    Local model: gkextract run fixtures/reports/004_0e1c1bc522329e1b.txt --db gk.db --local-model model.gguf
    """
    _nested_only(fmt, "what run did (files ingested, then sections extracted)")
    settings = _llm_settings(model, concurrency, mode, fixtures, response_format, base_url, config, refresh)
    with batch_job(db):
        results = run_ingest(db, paths, Format.table, jobs)
        database = open_db(db)
        if not database.execute("SELECT 1 FROM reports LIMIT 1").fetchone():
            raise fail("no report could be ingested, so there is nothing to extract", EXIT_FAILURES)
        ids = [r.report_id for r in results if r.report_id] if refresh else None   # --refresh: these reports
        with _backend(settings, local_model, server_log) as (settings, store):
            summary = run_extract(database, settings, review_threshold, Format.table, ids, refresh, store,
                                  _budget(max_cost, settings.model, config))
    if fmt is not Format.table:   # one document for both steps; their summaries went to stderr
        dump_json({"ingest": _ingest_rows(results), "extract": _extract_row(summary)}, fmt)
    if summary.failures or any(r.status == "failed" for r in results) or (summary.budget and summary.budget.refused):
        raise typer.Exit(EXIT_FAILURES)


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
                                      "count as flagged." + _sources(default="the database's, see `gkextract "
                                                                             "threshold`"))]
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


ITEM_NAMES = {"problems": "问题", "improvements": "改进措施", "facts": "事实"}


def _emit_items(database: sqlite_utils.Database, table: str, f: Filters, fmt: Format) -> None:
    """The items as the library API returns them (gkextract.problems …), one row each."""
    rows = [asdict(x) for x in api.ITEM_QUERIES[table](database, f)]
    if fmt is Format.table and not rows:
        err_console.print(f"no {table} match these filters")
    else:
        emit(items_for_people(rows) if fmt is Format.table else rows, fmt,
             title=zh_en(f"{len(rows)} 条{ITEM_NAMES[table]}", f"{len(rows)} {table}"))


def _note_left_out(database: sqlite_utils.Database, table: str, f: Filters) -> None:
    """Aggregates say what they left out (on stderr, so scripts still get one document)."""
    n = left_out(database, table, f)
    if n:
        err_console.print(f"[dim]left out: {n} {table} scoring below the review threshold {f.below:g} and "
                          f"not yet reviewed; --include-flagged counts them[/]")


def _narrative(table: str, db: Path, fmt: Format, f: Filters, by: Optional[str]) -> None:
    database = existing_db(db)
    with _query_errors():
        if by:
            f = resolve_filters(database, f)
            emit(group_counts(database, table, f, parse_by(table, by)), fmt,
                 title=zh_en(f"按 {by} 统计提及{ITEM_NAMES[table]}的报告（占比：占组内已抽取报告的比例）",
                             f"reports citing {table}, by {by} (share = of the group's extracted reports)"))
            _note_left_out(database, table, f)
        else:
            _emit_items(database, table, f, fmt)


@app.command()
def problems(
    province: ProvinceOpt = None, city: CityOpt = None, county: CountyOpt = None, level: LevelOpt = None,
    year: YearOpt = None, issuer: IssuerOpt = None, category: CategoryOpt = None, search: SearchOpt = None,
    by: ByOpt = None, include_rejected: IncludeRejectedOpt = False, below: BelowOpt = None,
    include_flagged: IncludeFlaggedOpt = False,
    db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING, lang: LangOption = Lang.zh,
) -> None:
    """Problems the reports state (存在的主要问题), as reviewed, with their evidence.

    With --by, count instead: how many reports in each group cite each
    category, and their share of the group's reports.

    \b
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
    db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING, lang: LangOption = Lang.zh,
) -> None:
    """Improvement measures the reports plan (改进情况), as reviewed; --by counts like `problems`.

    \b
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
    db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING, lang: LangOption = Lang.zh,
) -> None:
    """Numbers from the narrative (platforms, training, disclosure, applications, supervision), as reviewed.

    \b
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
            emit(fact_stats(database, f, keys), fmt, title=zh_en("事实数值", "fact values") + (f" by {by}" if by else ""))
            _note_left_out(database, "facts", f)
        elif keys:
            emit(group_counts(database, "facts", f, keys), fmt,
                 title=zh_en(f"按 {by} 统计陈述事实的报告", f"reports stating facts, by {by}"))
            _note_left_out(database, "facts", f)
        else:
            _emit_items(database, "facts", f, fmt)


@app.command()
def summary(
    report: Annotated[str, typer.Argument(help="Report id, unique id prefix, or file name prefix.")],
    include_rejected: IncludeRejectedOpt = False, below: BelowOpt = None,
    db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table, lang: LangOption = Lang.zh,
) -> None:
    """One report on one screen: metadata, table numbers, failed checks, narrative, flags.

    Shows the key table numbers (applications, 规范性文件, 复议/诉讼), failed
    checks, the facts with their scores, problems, improvements, and what is
    still flagged for review and why.

    \b
    Example: gkextract summary 004 --db gk.db
    """
    _nested_only(fmt, "a summary")
    database = existing_db(db)
    with _query_errors():
        d = report_summary(database, report, include_rejected, below)
    if fmt is not Format.table:
        dump_json(d, fmt)
        return
    print_summary(d)


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
    db: ExistingDbOption = Path("gkextract.db"),
    encoding: EncodingOption = DEFAULT_ENCODING, lang: LangOption = Lang.zh,
) -> None:
    """Review flagged extractions, lowest score first: accept, correct or reject.

    Each item shows the fact, why it was flagged, and its evidence highlighted
    in the report's own text.  Every decision is a new row in the `reviews`
    audit table; the extracted rows are never changed, and the query commands
    show the latest decision (rejected items hidden).

    \b
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
            err_console.print(f"{result.applied} decision(s) applied, {result.unchanged} already recorded, "
                              f"{result.blank} row(s) without a decision, {len(result.errors)} rejected")
            if result.errors:
                raise typer.Exit(EXIT_FAILURES)
            return
        f = resolve_filters(database, Filters(province=province, city=city, county=county, level=level, year=year,
                                              issuer=issuer, report=report, category=category, kind=kind,
                                              metric=metric, below=below))
        if export_to:
            try:
                n = export_queue(database, export_to, f, everything, output.encoding, output.lang)
            except (EncodingError, OSError) as e:
                raise fail(str(e), EXIT_USAGE)
            err_console.print(f"wrote {n} item(s) to {export_to}")
            return
        items = queue(database, f, everything)
    if not items:
        err_console.print("nothing to review: no flagged item is waiting for a decision")
        return
    done = run_session(database, items, who, console, lang=output.lang)
    left = len(queue(database, f))
    err_console.print(f"recorded {sum(done.values())} decision(s) "
                  f"({', '.join(f'{n} {d}' for d, n in done.items()) or 'none'}); {left} left in the queue")


@app.command()
def threshold(
    value: Annotated[Optional[float], typer.Argument(min=0.0, max=1.0, help="New review threshold (0–1); "
                                                                            "omit to show the current one.")] = None,
    db: ExistingDbOption = Path("gkextract.db"),
) -> None:
    """Show or set the database's review threshold.

    Scores are stored; the threshold is applied whenever items are read: items
    scoring below it (and not yet decided) wait in `gkextract review`, are
    marked pending in the `*_reviewed` views, and are left out of counts and
    statistics unless --include-flagged.  Any query also takes --below.

    \b
    Example: gkextract threshold 0.8 --db gk.db
    """
    database = existing_db(db)
    if value is not None:
        set_review_threshold(database, value)
    console.print(f"review threshold: {review_threshold(database):g}")


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for the files (created if missing).")],
    db: ExistingDbOption = Path("gkextract.db"),
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="File format: csv, jsonl (one row a line) or "
                                                                     "json (one array a file).")] = ExportFormat.csv,
    include_rejected: IncludeRejectedOpt = False,
    encoding: EncodingOption = DEFAULT_ENCODING,
) -> None:
    """Write each table to a file (CSV, JSON Lines or JSON), with review decisions applied.

    Files: reports (without their text), table_cells, checks, facts, problems,
    improvements (each with its report's region, level, year and issuer) and
    the reviews audit trail.  CSV is UTF-8 with a BOM unless --encoding says
    otherwise, so Excel opens it as it is.  What was written is listed on stderr.

    \b
    Example: gkextract export --db gk.db --out out/ --format jsonl
    """
    database = existing_db(db)
    with _query_errors():
        try:
            written = export_db(database, out, fmt, include_rejected, output.encoding)
        except (EncodingError, OSError) as e:
            raise fail(str(e), EXIT_USAGE)
    emit(written, Format.table, title=f"wrote {len(written)} files to {out}", stderr=True)


# --- across years: issuers, timeline, compare, evaluation ---------------------------------------

def _across_years(db: Path) -> sqlite_utils.Database:
    """The database with its cross-year tables current: recomputed when reports, extractions,
    reviews or merges changed since they were last computed (stderr says so)."""
    database = existing_db(db)
    with _query_errors():
        ensure_reports(database)
    with err_console.status("checking the cross-year data is current…"):
        n = crossyear.ensure_current(database)
    if n:
        err_console.print(f"cross-year data recomputed: {n['issuers']} issuers, {n['checks']} checks, "
                          f"{n['problem_similarity']} problem matches, {n['concreteness']} concreteness scores, "
                          f"{n['followups']} promises followed up", soft_wrap=True)
    return database


@contextmanager
def _issuer_errors() -> Iterator[None]:
    try:
        yield
    except (IssuerError, EvaluationError) as e:
        raise fail(str(e), EXIT_USAGE)


@app.command("issuers")
def issuers_command(
    merge: Annotated[Optional[str], typer.Option("--merge", help="Merge this issuer (a name, alias or part of "
                                                 "one) into the one named by --into.")] = None,
    into: Annotated[Optional[str], typer.Option("--into", help="The issuer --merge joins; its name is kept.")] = None,
    unmerge: Annotated[Optional[str], typer.Option("--unmerge", help="Undo the hand merges of this name, and "
                                                   "any link a report made for it.")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="Why, for the audit trail.")] = None,
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="Your name in the audit trail "
                                                                       "(default: $USER).")] = None,
    db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING, lang: LangOption = Lang.zh,
) -> None:
    """Issuing bodies across years: names matched by rule, aliases, level, region and years.

    平潭综合实验区党工委管委会 is 平潭综合实验区管委会 (a name rule); 平潭县人民政府 is
    the same body only because a report says so (its 来源 line).  A renamed body is
    merged only by hand: every --merge and --unmerge is a row in issuer_decisions,
    with who, when and why, and is replayed whenever the issuers are recomputed.
    Reports that name another issuer of their kind are listed as suggestions.

    \b
    Examples:
      gkextract issuers --db gk.db
      gkextract issuers --merge 平潭综合实验区投资促进局 --into 平潭综合实验区国有资产管理局 --note "renamed in 2024"
    """
    if (merge is None) != (into is None):
        raise fail("--merge and --into go together", EXIT_USAGE)
    if merge and unmerge:
        raise fail("give --merge/--into or --unmerge, not both", EXIT_USAGE)
    database = _across_years(db)
    if merge or unmerge:
        with _issuer_errors():
            d = record_decision(database, "merge" if merge else "unmerge", merge or unmerge or "", into,
                                reviewer_name(reviewer), note)
        crossyear.refresh(database)
        err_console.print(f"recorded: {d['action']} {d['name']}" + (f" into {d['into_name']}" if d["into_name"] else "")
                          + f" by {d['reviewer']}", soft_wrap=True)
    rows = list_issuers(database)
    if fmt is not Format.table:
        emit(rows, fmt)
        return
    emit(issuers_for_people(rows), Format.table, title=zh_en(f"{len(rows)} 个发布机关", f"{len(rows)} issuer(s)"))
    suggestions = list_suggestions(database)
    if suggestions:
        emit(suggestions, Format.table,
             title=zh_en("可能是同一机关（如是，请手动合并）", "possibly the same body (merge by hand if so)"))


@app.command("timeline")
def timeline_command(
    issuer: Annotated[str, typer.Argument(help="Issuer: a name, an alias or a unique part of one.")],
    db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table, lang: LangOption = Lang.zh,
) -> None:
    """One issuer year by year: publication on time, key figures, checks, problems, promises kept.

    Figures: 新收申请/办结/结转 (table 三), 行政复议 and 行政诉讼 (table 四),
    规范性文件 published or in force (table 二).  Checks: the tables' own, and
    those across years (结转 continuity, 上一年项目数量, stock of documents, ten-fold
    jumps).  Problems with 雷同 (near-verbatim) ones marked; last year's promises as
    addressed, repeated or not mentioned.  --format json gives everything, evidence included.

    \b
    Example: gkextract timeline 平潭综合实验区管委会 --db gk.db
    """
    _nested_only(fmt, "a timeline")
    database = _across_years(db)
    with _issuer_errors():
        t = timeline_of(database, issuer)
    if fmt is not Format.table:
        dump_json(t, fmt)
        return
    print_timeline(t)


@app.command("compare")
def compare_command(
    issuer: Annotated[str, typer.Argument(help="Issuer: a name, an alias or a unique part of one.")],
    years: Annotated[str, typer.Option("--years", help="Two statistical years, comma-separated: 2023,2024.")],
    db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table, lang: LangOption = Lang.zh,
) -> None:
    """Two years of one issuer side by side: figures and their change, failed checks,
    each problem with its closest match the other year (雷同 marked), and the promises
    of the first year followed up in the second.

    \b
    Example: gkextract compare 平潭综合实验区管委会 --years 2023,2024 --db gk.db
    """
    try:
        a, b = (int(y) for y in years.split(","))
    except ValueError:
        raise fail(f"--years takes two years such as 2023,2024, not {years!r}", EXIT_USAGE)
    _nested_only(fmt, "a comparison")
    database = _across_years(db)
    with _issuer_errors():
        c = compare_years(database, issuer, (a, b))
    if fmt is not Format.table:
        dump_json(c, fmt)
        return
    print_compare(c, a, b)


@app.command("evaluation")
def evaluation_command(
    issuer: IssuerOpt = None, year: YearOpt = None,
    sort: Annotated[Optional[str], typer.Option("--sort", help="Column to sort by, e.g. boilerplate_share, "
                                                "days_late, followup_rate (empty values last).")] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    db: ExistingDbOption = Path("gkextract.db"), fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING, lang: LangOption = Lang.zh,
) -> None:
    """What a transparency evaluator checks, one row per report (the `evaluation` view).

    on_time (met / late / unknown, 条例第四十九条), arithmetic_consistent (the tables'
    own checks), crossyear_consistent (continuity with last year's report),
    suspicious_jumps, boilerplate_share (stated problems 雷同 with last year's or
    another issuer's), concreteness (of the problems, 0–1), followup_rate (last year's
    promises addressed).  Empty means not measurable, never zero.

    \b
    Examples:
      gkextract evaluation --db gk.db --sort boilerplate_share --desc
      gkextract evaluation --db gk.db --format csv > evaluation.csv
    """
    database = _across_years(db)
    with _issuer_errors():
        rows = evaluation_rows(database, issuer, year, sort, desc)
    if fmt is not Format.table:
        emit(rows, fmt, columns=EVALUATION_COLUMNS)
        return
    emit(evaluation_for_people(rows), Format.table,
         title=zh_en(f"评估：{len(rows)} 份报告", f"evaluation: {len(rows)} report(s)"))


# --- the Batch API and cost -------------------------------------------------------------------

batch_app = typer.Typer(help="Extract through the OpenAI Batch API (half price, results within 24 h): "
                             "submit, then status, then collect.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")

OutDirOpt = Annotated[Optional[Path], typer.Option("--out", help="Folder for the JSONL batch files "
                                                   "[default: <db>.batches next to the database].")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="Poll until every batch has finished, backing off "
                                                      "(doubling from --poll) up to 5 min between polls.")]
PollOpt = Annotated[float, typer.Option("--poll", min=0.0, help="Seconds before the second poll with --wait.")]


@contextmanager
def _batch_errors() -> Iterator[None]:
    from .batch import BatchError
    try:
        yield
    except BatchError as e:
        raise fail(str(e), EXIT_FAILURES)


def _batch_api(settings: LLMSettings) -> Any:
    from .batch import BatchError, make_api
    try:
        return make_api(settings)
    except BatchError as e:
        raise fail(str(e), EXIT_USAGE)


def _show_batches(rows: list[dict], fmt: Format) -> None:
    if fmt is not Format.table:
        emit(rows, fmt)
        return
    emit([dict(id=r["id"], batch=r["batch_id"], status=r["status"], model=r["model"], requests=r["lines"],
               done=None if r["total"] is None else f"{r['completed']}/{r['total']}", failed=r["failed"],
               stored=r["stored"], to_redo=r["to_redo"], file=r["file_name"]) for r in rows],
         Format.table, title=f"{len(rows)} batch(es)")


@batch_app.command("submit")
def batch_submit(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Report files or folders to ingest first "
                                                          "(none: the pending sections of the database).")] = None,
    db: DbOption = Path("gkextract.db"),
    out: OutDirOpt = None,
    model: ModelOpt = None,
    fixtures: CacheOpt = None,
    response_format: FormatOptLLM = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    max_cost: MaxCostOpt = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Ingest, then send every pending narrative section as one Batch API request.

    One JSONL line per section (a long section: one per part), with the same
    request the online path sends, so a batch reply also serves `extract` from
    the reply cache.  Files of at most 50,000 lines and 200 MB, one model each,
    uploaded with purpose batch; each batch has a 24 h window.  Ids are recorded
    as soon as the API gives them: after a crash, run the same command again —
    nothing is uploaded or submitted twice.  Sections already in an unfinished
    batch, or whose replies are already saved, are not sent.  Works with
    OpenAI-compatible batch endpoints (--base-url), e.g. Alibaba Bailian.

    Example: gkextract batch submit reports/ --db gk.db --max-cost 20
    """
    from .batch import submit
    _nested_only(fmt, "what submit did (files ingested, then batches sent)")
    settings = _llm_settings(model, None, Mode.live, fixtures, response_format, base_url, config)
    with batch_job(db):
        results = run_ingest(db, paths, Format.table) if paths else []
        database = existing_db(db)
        budget = _budget(max_cost, settings.model, config)
        api = _batch_api(settings)
        with _batch_errors():
            s = submit(database, settings, out or db.with_name(db.name + ".batches"), api,
                       budget=budget, on_step=lambda m: err_console.print(escape(m), soft_wrap=True))
    numbers = dict(sections=s.sections, requests=s.requests, already_in_a_batch=s.in_batches,
                   replies_already_saved=s.cached, too_large=s.too_large, left_out_by_budget=s.refused_by_budget,
                   estimated_cost=None if s.estimated_cost is None else round(s.estimated_cost, 4))
    if fmt is not Format.table:   # one document; the ingest summary went to stderr
        dump_json(dict(numbers, batches=s.batches, ingest=_ingest_rows(results)), fmt)
        return
    emit([numbers], Format.table, title="batch submit")
    _show_batches(s.batches, fmt)
    if s.cached:
        err_console.print(f"{s.cached} section(s) have every reply saved already: `gkextract extract` stores them "
                          "at no cost")
    if s.refused_by_budget:
        err_console.print(f"[yellow]{s.refused_by_budget} section(s) left out to stay within --max-cost[/]")


@batch_app.command("status")
def batch_status(
    db: DbOption = Path("gkextract.db"),
    wait: WaitOpt = False,
    poll: PollOpt = 5.0,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING,
) -> None:
    """Ask the API how each batch is doing: status, requests done and failed, what was stored.

    Example: gkextract batch status --db gk.db --wait
    """
    from .batch import refresh, wait as wait_for
    settings = _llm_settings(None, None, Mode.live, None, None, base_url, config)
    database = existing_db(db)
    api = _batch_api(settings)
    with _batch_errors():
        if wait:
            with err_console.status("waiting for the batches…") as status:
                rows = wait_for(database, api, first=poll, on_poll=lambda rs: status.update(
                    "waiting: " + ", ".join(f"{r['batch_id']} {r['status']}" for r in rs if r["batch_id"])))
        else:
            rows = refresh(database, api)
    _show_batches(rows, fmt)


@batch_app.command("collect")
def batch_collect(
    db: DbOption = Path("gkextract.db"),
    wait: WaitOpt = False,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    fixtures: CacheOpt = None,
    threshold: ThresholdOpt = None,
    poll: PollOpt = 5.0,
    fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING,
) -> None:
    """Download the results of finished batches; check, ground and store them as `extract` would.

    Results are matched by custom_id, never by line order.  Each reply passes the
    same checks as an online one and is saved in the reply cache.  A request that
    failed, expired or came back invalid leaves its section pending, with the
    reason in batch_requests: `gkextract extract` finishes those online (exit 1
    says some are left).

    Example: gkextract batch collect --db gk.db --wait && gkextract extract --db gk.db
    """
    from .batch import collect, wait as wait_for
    settings = _llm_settings(None, None, Mode.live, fixtures, None, base_url, config)
    database = existing_db(db)
    api = _batch_api(settings)
    if threshold is not None:
        set_review_threshold(database, threshold)
    with batch_job(db), _batch_errors():
        if wait:
            with err_console.status("waiting for the batches…"):
                wait_for(database, api, first=poll)
        with _progress() as progress:
            task = progress.add_task("collect", total=None, current="")
            s = collect(database, settings, api, threshold=review_threshold(database),
                        on_section=lambda rid, kind, res: progress.update(
                            task, advance=1, current=f"{rid[:8]} {kind} {res.status}"))
    _summarise_extract(s)
    if fmt is not Format.table:
        emit([_extract_row(s)], fmt)
    if s.failures:
        err_console.print(f"{len(s.failures)} section(s) left pending: `gkextract extract --db {escape(str(db))}` "
                          "does them online (replies already saved are not paid again)", soft_wrap=True)
        raise typer.Exit(EXIT_FAILURES)


@app.command("cost")
def cost_command(
    db: DbOption = Path("gkextract.db"),
    config: ConfigOpt = None,
    fmt: FormatOption = Format.table,
    encoding: EncodingOption = DEFAULT_ENCODING,
) -> None:
    """Tokens and money spent on LLM calls, per model, online and batch, cached and uncached input apart.

    Counts only calls that reached the API (a saved reply costs nothing), with
    the tokens the server reported.  Prices per million tokens come from
    [prices."MODEL"] in the config file (input, cached_input, output,
    batch_discount, currency), else from defaults for a few OpenAI models: list
    prices looked up on 2026-12-05 — check them against your provider's page.
    A model without a price shows no money, not 0.

    Example: gkextract cost --db gk.db
    """
    from .pricing import PriceError, cost_rows, load_prices
    database = existing_db(db)
    try:
        rows = cost_rows(database, load_prices(config))
    except PriceError as e:
        raise fail(str(e), EXIT_USAGE)
    if fmt is not Format.table:
        emit(rows, fmt)
        return
    if not rows:
        err_console.print("no LLM call has been paid for in this database yet")
        return
    money = lambda v: "no price" if v is None else f"{v:.4f}"   # noqa: E731
    emit([{"model": r["model"], "channel": r["channel"], "calls": r["calls"], "input": r["uncached_tokens"],
           "cached input": r["cached_tokens"], "cached share": r["cached_share"], "output": r["completion_tokens"],
           "$ input": money(r["cost_uncached_input"]), "$ cached": money(r["cost_cached_input"]),
           "$ output": money(r["cost_output"]), "cost": money(r["cost"]), "currency": r["currency"]} for r in rows],
         Format.table, title="LLM cost: tokens as the server reported them, money at the prices below")
    totals: dict[str, float] = {}
    for r in rows:
        if r["cost"] is not None:
            totals[r["currency"]] = totals.get(r["currency"], 0.0) + r["cost"]
    console.print("total: " + ", ".join(f"{v:.4f} {c}" for c, v in totals.items())
                  + ("" if all(r["cost"] is not None for r in rows) else " (and calls to models without a price)"))
    for src in sorted({r["price_source"] for r in rows}):
        console.print(f"[dim]prices: {escape(src)}[/]")


# --- in the browser: serve and view ----------------------------------------------------------

WEB_EXTRA = "pip install 'gkextract[web]'"


def _package(e: ImportError) -> str:
    """The distribution a failed import names (starlette, not starlette.applications)."""
    return (e.name or "a web package").split(".")[0]


@app.command()
def serve(
    db: ExistingDbOption = Path("gkextract.db"),
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="Port on 127.0.0.1 (0: any free one).")] = 8765,
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="Your name in the audit trail "
                                                                       "(default: $USER).")] = None,
    lang: LangOption = Lang.zh,
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
        raise fail(f"`gkextract serve` needs {_package(e)}, which is not installed: {WEB_EXTRA}", EXIT_USAGE)
    try:
        sock = bind(port)
    except OSError as e:
        raise fail(f"cannot listen on 127.0.0.1:{port} ({e.strerror}): give another --port", EXIT_USAGE)
    who = reviewer_name(reviewer)
    err_console.print(f"serving {db} at [bold]http://127.0.0.1:{sock.getsockname()[1]}/[/] "
                      f"(reviewer {escape(who)}); Ctrl-C stops", soft_wrap=True)
    make_server(create_app(db, who, output.lang)).run(sockets=[sock])


@app.command()
def view(
    report: Annotated[str, typer.Argument(help="Report id, unique id prefix, or file name prefix.")],
    html: Annotated[Path, typer.Option("--html", help="Write the page to this file ('-' for stdout).")],
    below: BelowOpt = None,
    db: ExistingDbOption = Path("gkextract.db"),
    lang: LangOption = Lang.zh,
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
        raise fail(f"`gkextract view` needs {_package(e)}, which is not installed: {WEB_EXTRA}", EXIT_USAGE)
    with _query_errors():
        page = report_page(database, report, below, lang=output.lang)
    if str(html) == "-":
        typer.echo(page, nl=False)
        return
    html.write_text(page, encoding="utf-8")
    err_console.print(f"wrote {html} ({len(page.encode('utf-8')) / 1024:.0f} KB)", soft_wrap=True)


if __name__ == "__main__":
    app()
