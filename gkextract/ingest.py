"""The deterministic half of the pipeline: read → sections → metadata → tables → checks → store.

``parse_document`` is pure (no database), so tests and benchmarks can call it
directly; ``ingest_paths`` runs a batch, one transaction per report, and
records every file's outcome in ``files`` so a re-run skips what is done and
retries what failed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils

from . import __version__
from .checks import Check, run_checks
from .metadata import Metadata, extract_metadata
from .normalize import normalize
from .read import SUPPORTED_SUFFIXES, Document, ReadError, read_document
from .sections import PART_KINDS, SectionSplit, split_sections
from .store import as_json, insert_rows
from .tables import (StatTable, missing_table, parse_applications, parse_proactive,
                     parse_review_litigation)


class NotAReportError(ValueError):
    """The text was read, but it is not a government information-disclosure annual report."""


@dataclass
class ParsedReport:
    id: str
    document: Document
    split: SectionSplit
    metadata: Metadata
    template: str | None
    tables: dict[str, StatTable]
    checks: list[Check]
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "partial" if self.problems else "complete"


def report_id(text: str) -> str:
    """Hash of the decoded text: the same report in UTF-8 and GBK is one report."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_document(doc: Document) -> ParsedReport:
    text = doc.text
    norm = normalize(text)
    split = split_sections(text, norm)
    t1 = (parse_proactive(split.parts["proactive"].body(text)) if "proactive" in split.parts
          else missing_table("proactive"))
    template = t1.template if t1.status != "missing" else None
    t2 = (parse_applications(split.parts["applications"].body(text), template)
          if "applications" in split.parts else missing_table("applications"))
    t3 = (parse_review_litigation(split.parts["review_litigation"].body(text))
          if "review_litigation" in split.parts else missing_table("review_litigation"))
    tables = {t.key: t for t in (t1, t2, t3)}
    template = template or (t2.template if t2.status != "missing" else None)

    has_values = any(r.status == "ok" for t in tables.values() for r in t.rows)
    if len(split.parts) < 2 and not has_values:
        raise NotAReportError(
            "not a government information-disclosure annual report: "
            f"found {len(split.parts)} of its six parts and no statistical table"
        )
    meta = extract_metadata(text, split, norm, doc.meta)
    if meta.year is not None and meta.year < 2019:
        # Before 国办公开办函〔2019〕60号 the report had no fixed tables: none is expected.
        template = "pre-2019"
        tables = {k: StatTable(k, None, None, "missing", notes=["pre-2019 report: no template table"])
                  for k in tables}
    elif template is None and meta.year:
        template = "2021" if meta.year >= 2021 else "2019"

    problems = [f"missing part: {k}" for k in split.missing]
    for t in tables.values() if template != "pre-2019" else ():
        if t.status == "missing" and t.key in split.parts:
            problems.append(f"table {t.key} not found in its part")
        elif t.status in ("misaligned", "partial"):
            bad = ", ".join(f"{row.key} {row.status}" for row in t.rows if row.status != "ok")
            problems.append(f"table {t.key} {t.status}: {bad}")
    if meta.issuer is None:
        problems.append("issuer not found")
    if meta.year is None:
        problems.append("year not found")
    return ParsedReport(report_id(text), doc, split, meta, template, tables, run_checks(tables), problems)


# --- writing ------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _section_rows(r: ParsedReport) -> Iterator[dict]:
    text = r.document.text
    for i, kind in enumerate(PART_KINDS):
        p = r.split.parts.get(kind)
        if p is None:
            yield dict(report_id=r.id, kind=kind, ordinal=i + 1, status="missing", heading=None,
                       span_start=None, span_end=None, body_start=None, text=None)
        else:
            yield dict(report_id=r.id, kind=kind, ordinal=i + 1, status="found", heading=p.heading,
                       span_start=p.start, span_end=p.end, body_start=p.body_start, text=p.text(text))
    for kind, span in (("preamble", r.split.preamble), ("signature", r.split.signature)):
        if span:
            yield dict(report_id=r.id, kind=kind, ordinal=0 if kind == "preamble" else 7, status="found",
                       heading=None, span_start=span[0], span_end=span[1], body_start=span[0],
                       text=text[span[0]:span[1]])


def write_report(db: sqlite_utils.Database, r: ParsedReport) -> bool:
    """Write one parsed report in one transaction; False if it was already there."""
    with db.atomic():
        if db.execute("SELECT 1 FROM reports WHERE id = ?", [r.id]).fetchone():
            return False
        m, region = r.metadata, r.metadata.region
        insert_rows(db, "reports", [dict(
            id=r.id, source_path=r.document.path, file_name=Path(r.document.path).name,
            format=r.document.format, encoding=r.document.encoding, n_chars=len(r.document.text),
            title=m.title, issuer=m.issuer, issuer_source=m.issuer_source, year=m.year,
            year_source=m.year_source, publication_date=m.publication_date, level=m.level,
            province=region.province if region else None, city=region.city if region else None,
            county=region.county if region else None, region_code=region.code if region else None,
            template=r.template, status=r.status, problems=as_json(r.problems), text=r.document.text,
            ingested_at=_now(), gkextract_version=__version__,
        )])
        insert_rows(db, "sections", _section_rows(r))
        insert_rows(db, "section_items", (
            dict(report_id=r.id, kind=it.kind, idx=i, marker=it.marker, title=it.title,
                 span_start=it.start, span_end=it.end) for i, it in enumerate(r.split.items)))
        for t in r.tables.values():
            insert_rows(db, "stat_tables", [dict(report_id=r.id, table_key=t.key, template=t.template,
                                                 layout=t.layout, status=t.status, notes=as_json(t.notes))])
            insert_rows(db, "table_rows", (
                dict(report_id=r.id, table_key=t.key, row_key=row.key, ordinal=i, label=row.label,
                     status=row.status, raw_cells=as_json(row.raw_cells), note=row.note)
                for i, row in enumerate(t.rows)))
            insert_rows(db, "table_cells", (
                dict(report_id=r.id, table_key=c.table, row_key=c.row_key, col_key=c.col_key,
                     row_label=c.row_label, col_label=c.col_label, raw=c.raw, value=c.value,
                     unit=c.unit, status=c.status) for c in t.cells))
        insert_rows(db, "checks", (
            dict(report_id=r.id, check_id=c.check_id, table_key=c.table, rule=c.rule, status=c.status,
                 expected=c.expected, actual=c.actual, reason=c.reason,
                 blanks_as_zero=int(c.blanks_as_zero)) for c in r.checks))
    return True


# --- batches ------------------------------------------------------------------------------

@dataclass
class FileResult:
    path: str
    status: str                  # ingested | duplicate | skipped | failed
    report_id: str | None = None
    report_status: str | None = None
    problems: list[str] = field(default_factory=list)
    error: str | None = None


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """Expand folders (recursively) into supported files; missing paths are failures."""
    files: list[Path] = []
    bad: list[FileResult] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()
                                and f.suffix.lower() in SUPPORTED_SUFFIXES and not f.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            bad.append(FileResult(str(p), "failed", error="no such file or folder"))
    return files, bad


def _record_file(db: sqlite_utils.Database, path: Path, res: FileResult) -> None:
    try:
        st = path.stat()
        size, mtime = st.st_size, st.st_mtime
    except OSError:
        size = mtime = None
    db.execute("INSERT OR REPLACE INTO files (path, size, mtime, report_id, status, error, updated_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               [str(path.resolve()), size, mtime, res.report_id, res.status, res.error, _now()])


def _unchanged(db: sqlite_utils.Database, path: Path) -> str | None:
    """The report id of a file ingested before and untouched since, else None."""
    row = db.execute("SELECT size, mtime, report_id, status FROM files WHERE path = ?",
                     [str(path.resolve())]).fetchone()
    if not row or row[3] not in ("ingested", "duplicate"):
        return None
    st = path.stat()
    if row[0] == st.st_size and row[1] == st.st_mtime:
        return row[2]
    return None


def ingest_file(db: sqlite_utils.Database, path: Path) -> FileResult:
    """Ingest one file; errors become a failed FileResult, never an exception."""
    try:
        rid = _unchanged(db, path)
        if rid:
            return FileResult(str(path), "skipped", report_id=rid)
        parsed = parse_document(read_document(path))
        with db.atomic():  # the report and its files row commit together
            written = write_report(db, parsed)
            res = FileResult(str(path), "ingested" if written else "duplicate", parsed.id, parsed.status,
                             parsed.problems)
            _record_file(db, path, res)
        return res
    except (ReadError, NotAReportError) as e:
        res = FileResult(str(path), "failed", error=str(e))
    except Exception as e:  # a parser bug must not stop a batch of thousands
        res = FileResult(str(path), "failed", error=f"internal error: {type(e).__name__}: {e}")
    with db.atomic():
        _record_file(db, path, res)
    return res


def ingest_paths(db: sqlite_utils.Database, paths: Iterable[str | Path],
                 on_file: Callable[[FileResult], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 commit_every: int = 64, commit_seconds: float = 1.0) -> list[FileResult]:
    """Ingest files and folders; each report is its own savepoint inside a group commit.

    Committing every report costs a WAL sync each; grouping up to
    ``commit_every`` reports (or ``commit_seconds``) keeps every report atomic
    while a killed batch loses at most the open group, which a re-run redoes.
    """
    files, results = discover(paths)
    if on_total:
        on_total(len(files) + len(results))
    for r in results:
        if on_file:
            on_file(r)
    i = 0
    while i < len(files):
        started = time.monotonic()
        with db.atomic():
            for f in files[i:i + commit_every]:
                i += 1
                res = ingest_file(db, f)
                results.append(res)
                if on_file:
                    on_file(res)
                if time.monotonic() - started > commit_seconds:
                    break
    return results
