"""The library API: what ``import gkextract`` offers, and what the CLI calls.

    import gkextract
    db = gkextract.open_database("gk.db")
    gkextract.ingest_files(db, "fixtures/reports")
    gkextract.extract(db, mode="replay", cache_dir="fixtures/llm")     # or live, with OPENAI_API_KEY
    found = gkextract.problems(db, province="山西", category="政策解读")
    df = gkextract.to_dataframe(found)                                 # with pandas installed

Queries return dataclasses with the same fields as ``--format json``; filters
are those of the query commands (``gkextract.Filters``), so ``province="山西"``
means here what ``--province 山西`` means there.  ``extract`` works in plain
scripts and inside a running event loop (Jupyter); ``extract_async`` is the
coroutine for code that has a loop of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .domain import Lang, category_label
from .ingest import FileResult, ingest_paths
from .queries import Filters, group_counts, list_items, list_reports, parse_by, report_summary, resolve_filters
from .store import Database, open_db, review_threshold, set_review_threshold

if TYPE_CHECKING:   # the LLM stack (openai, httpx) is imported only when something is extracted
    import pandas

    from .llm import CallResult, LLMSettings, ReplyStore
    from .narrative import Budget, ExtractSummary


def open_database(path: str | Path, *, create: bool = True) -> Database:
    """The database at ``path``, migrated to the current schema; ``create=False``: FileNotFoundError if absent.

    Raises store.DatabaseError for a folder or a file that is not SQLite.
    """
    p = Path(path)
    if not create and not p.exists():
        raise FileNotFoundError(f"no database at {p}: run `gkextract ingest PATH... --db FILE` "
                                "(or `gkextract run PATH... --db FILE`) first")
    return open_db(p)


def ingest_files(db: Database, paths: str | Path | Iterable[str | Path], *,
                 on_file: Callable[[FileResult], None] | None = None,
                 on_total: Callable[[int], None] | None = None, jobs: int = 1) -> list[FileResult]:
    """Read report files and folders into the database: sections, metadata, tables, checks.

    A file that fails is a FileResult with status ``failed`` and the reason;
    the others still land.  Re-ingesting adds nothing twice.  ``jobs`` > 1
    parses in that many processes while this one writes.
    """
    return ingest_paths(db, [paths] if isinstance(paths, (str, Path)) else paths, on_file=on_file, on_total=on_total,
                        jobs=jobs)


def _settings(settings: LLMSettings | None, overrides: dict[str, Any]) -> LLMSettings:
    from .llm import load_settings
    if settings is not None:
        return replace(settings, **overrides) if overrides else settings
    config = overrides.pop("config", None)
    return load_settings(Path(config) if config else None, **overrides)


def _threshold(db: Database, threshold: float | None) -> float:
    if threshold is not None:
        set_review_threshold(db, threshold)
    return review_threshold(db)


def extract(db: Database, settings: LLMSettings | None = None, *, report_ids: list[str] | None = None,
            threshold: float | None = None, refresh: bool = False, store: ReplyStore | None = None,
            budget: Budget | None = None, on_total: Callable[[int], None] | None = None,
            on_done: Callable[[str, str, CallResult], None] | None = None,
            **setting: Any) -> ExtractSummary:
    """Extract facts, problems and improvements from the narrative sections not yet extracted.

    ``settings`` as built by ``llm.load_settings``; or give single settings as
    keywords (``mode="replay"``, ``cache_dir=…``, ``model=…``, ``base_url=…``,
    ``config=path``), read on top of the config file and the environment as the
    CLI does.  ``threshold`` is stored as the database's review threshold first.
    ``budget`` (a ``narrative.Budget``, what --max-cost builds) stops sending before it is spent.
    Works inside a running event loop (Jupyter): the calls then run on a loop of
    their own in a worker thread while this one waits.
    """
    from .narrative import extract_reports
    return extract_reports(db, _settings(settings, setting), report_ids=report_ids,
                           threshold=_threshold(db, threshold), refresh=refresh, store=store, budget=budget,
                           on_total=on_total, on_done=on_done)


async def extract_async(db: Database, settings: LLMSettings | None = None, *, report_ids: list[str] | None = None,
                        threshold: float | None = None, refresh: bool = False, store: ReplyStore | None = None,
                        budget: Budget | None = None, on_total: Callable[[int], None] | None = None,
                        on_done: Callable[[str, str, CallResult], None] | None = None,
                        **setting: Any) -> ExtractSummary:
    """``extract`` as a coroutine, on the caller's event loop: ``await gkextract.extract_async(db, …)``.

    Until it returns, a thread of its own writes to ``db``: do not write to the same connection meanwhile.
    """
    from .narrative import extract_reports_async
    return await extract_reports_async(db, _settings(settings, setting), report_ids=report_ids,
                                       threshold=_threshold(db, threshold), refresh=refresh, store=store,
                                       budget=budget, on_total=on_total, on_done=on_done)


# --- what the queries return -----------------------------------------------------------------

@dataclass
class Report:
    """One ingested report; ``failed_checks`` counts its tables' failed consistency checks."""

    id: str
    file_name: str
    issuer: str | None
    year: int | None
    level: str | None
    province: str | None
    city: str | None
    county: str | None
    template: str | None
    status: str
    failed_checks: int


@dataclass
class _Item:
    """What every narrative item carries first: its id and its report's issuer, region, level and year."""

    id: int
    report_id: str
    issuer: str | None
    province: str | None
    city: str | None
    county: str | None
    level: str | None
    year: int | None


class _Categorised:
    category: str

    def category_name(self, lang: Lang = Lang.zh) -> str | None:
        """政策解读 for policy_interpretation (``Lang.en``: "policy interpretation")."""
        return category_label(self.category, lang)


@dataclass
class Problem(_Item, _Categorised):
    """A stated weakness (存在的主要问题), as reviewed: a correction shows, ``review_status`` says which."""

    category: str
    summary: str
    evidence: str
    score: float
    flags: list[str]
    review_status: str     # unflagged | pending | accepted | corrected (| rejected, when asked for)


@dataclass
class Improvement(_Item, _Categorised):
    """A planned measure (改进情况), as reviewed; ``problem_id`` is the problem it answers, when the text says."""

    category: str
    summary: str
    evidence: str
    problem_id: int | None
    score: float
    flags: list[str]
    review_status: str


@dataclass
class Fact(_Item):
    """A number from the narrative (platforms, training, disclosure, applications, supervision), as reviewed."""

    kind: str
    metric: str | None
    label: str | None
    value: float | None
    unit: str | None
    approximate: int        # 1 when the text says 余/多/近/约
    attributes: dict[str, Any]
    evidence: str
    score: float
    flags: list[str]
    review_status: str


# --- queries -----------------------------------------------------------------------------------

def reports(db: Database) -> list[Report]:
    """Every report, with its region, year, template and failed checks."""
    return [Report(**r) for r in list_reports(db)]


def _filters(db: Database, filters: Filters | None, fields: dict[str, Any]) -> Filters:
    """The filters with keyword fields on top, resolved: 山西 → 山西省, 政策解读 → policy_interpretation."""
    return resolve_filters(db, replace(filters or Filters(), **fields))


def problems(db: Database, filters: Filters | None = None, **fields: Any) -> list[Problem]:
    """Stated problems matching the filters (``province=``, ``year=``, ``category=``, ``search=`` …)."""
    return [Problem(**r) for r in list_items(db, "problems", _filters(db, filters, fields))]


def improvements(db: Database, filters: Filters | None = None, **fields: Any) -> list[Improvement]:
    """Planned improvements matching the filters."""
    return [Improvement(**r) for r in list_items(db, "improvements", _filters(db, filters, fields))]


def facts(db: Database, filters: Filters | None = None, **fields: Any) -> list[Fact]:
    """Narrative facts matching the filters (also ``kind=``, ``metric=``, ``platform_type=`` …)."""
    return [Fact(**r) for r in list_items(db, "facts", _filters(db, filters, fields))]


ITEM_QUERIES: dict[str, Callable[..., list[Any]]] = {"problems": problems, "improvements": improvements,
                                                      "facts": facts}


def counts(db: Database, table: str, by: str | Iterable[str], filters: Filters | None = None,
           **fields: Any) -> list[dict[str, Any]]:
    """Reports citing each group (``by="province,category"``) and their share of the group's reports.

    Items still waiting for review are left out unless ``include_flagged=True``.
    """
    keys = parse_by(table, by if isinstance(by, str) else ",".join(by))
    return group_counts(db, table, _filters(db, filters, fields), keys)


def summary(db: Database, report: str, *, include_rejected: bool = False,
            below: float | None = None) -> dict[str, Any]:
    """One report at a glance (what ``gkextract summary --format json`` prints)."""
    return report_summary(db, report, include_rejected, below)


def to_dataframe(rows: Iterable[Any]) -> pandas.DataFrame:
    """Query results (dataclasses or dicts) as a pandas DataFrame, one column per field."""
    try:
        import pandas
    except ImportError:
        raise ImportError("to_dataframe needs pandas: pip install pandas (or 'gkextract[notebook]')") from None
    return pandas.DataFrame([asdict(r) if is_dataclass(r) else dict(r) for r in rows])
