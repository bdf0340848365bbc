"""The deterministic half of the pipeline: read → sections → metadata → tables → checks → store.

``parse_document`` is pure (no database), so tests and benchmarks can call it
directly; ``ingest_paths`` runs a batch, one savepoint per report, and
records every file's outcome in ``files`` so a re-run skips what is done and
retries what failed.  Files are read and parsed outside any transaction; the
write transactions are short, so other processes using the database are not
kept waiting, and one file's failure never rolls back another's.
"""

from __future__ import annotations

import hashlib
import os
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
from .read import SUPPORTED_SUFFIXES, Document, ReadError, display_path, read_document
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


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch; ``results`` are the files whose outcome was saved before it."""

    def __init__(self, results: list[FileResult]) -> None:
        super().__init__()
        self.results = results


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """Expand folders (recursively) into supported files; missing paths and unreadable folders are failures."""
    files: list[Path] = []
    bad: list[FileResult] = []
    for p in map(Path, paths):
        if p.is_dir():
            errors: list[OSError] = []
            found = [Path(root) / name for root, _, names in os.walk(p, onerror=errors.append)
                     for name in names if not name.startswith(".")]
            files.extend(sorted(f for f in found if f.suffix.lower() in SUPPORTED_SUFFIXES and f.is_file()))
            bad.extend(FileResult(display_path(e.filename or p), "failed",
                                  error=f"cannot read folder: {e.strerror or e}") for e in errors)
        elif p.is_file():
            files.append(p)
        else:
            bad.append(FileResult(display_path(p), "failed", error="no such file or folder"))
    return files, bad


def _record_file(db: sqlite_utils.Database, path: Path, res: FileResult) -> None:
    try:
        full = path.resolve()
        st = path.stat()
        size, mtime = st.st_size, st.st_mtime
    except OSError:
        full = path.absolute()
        size = mtime = None
    db.execute("INSERT OR REPLACE INTO files (path, path_bytes, size, mtime, report_id, status, error, updated_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [display_path(full), os.fsencode(full), size, mtime, res.report_id, res.status, res.error, _now()])


def _unchanged(db: sqlite_utils.Database, path: Path) -> str | None:
    """The report id of a file ingested before and untouched since, else None."""
    row = db.execute("SELECT size, mtime, report_id, status FROM files WHERE path = ?",
                     [display_path(path.resolve())]).fetchone()
    if not row or row[3] not in ("ingested", "duplicate"):
        return None
    st = path.stat()
    if row[0] == st.st_size and row[1] == st.st_mtime:
        return row[2]
    return None


def _prepare(db: sqlite_utils.Database, path: Path) -> tuple[FileResult, ParsedReport | None]:
    """Read and parse one file, outside any transaction; errors become a failed result, never an exception."""
    shown = display_path(path)
    try:
        rid = _unchanged(db, path)
        if rid:
            return FileResult(shown, "skipped", report_id=rid), None
        parsed = parse_document(read_document(path))
        return FileResult(shown, "parsed", parsed.id, parsed.status, parsed.problems), parsed
    except (ReadError, NotAReportError) as e:
        return FileResult(shown, "failed", error=str(e)), None
    except Exception as e:  # a parser bug must not stop a batch of thousands
        return FileResult(shown, "failed", error=f"internal error: {type(e).__name__}: {e}"), None


def _save(db: sqlite_utils.Database, path: Path, res: FileResult, parsed: ParsedReport | None) -> FileResult:
    """Write one file's report and its files row in a savepoint of their own."""
    try:
        with db.atomic():  # the report and its files row commit together
            if parsed is not None:
                res.status = "ingested" if write_report(db, parsed) else "duplicate"
            _record_file(db, path, res)
        return res
    except Exception as e:  # only this file's savepoint was rolled back
        failed = FileResult(res.path, "failed", error=f"internal error while saving: {type(e).__name__}: {e}")
        with db.atomic():
            _record_file(db, path, failed)
        return failed


def ingest_file(db: sqlite_utils.Database, path: Path) -> FileResult:
    """Ingest one file; errors become a failed FileResult, never an exception."""
    res, parsed = _prepare(db, path)
    return res if res.status == "skipped" else _save(db, path, res, parsed)


def ingest_paths(db: sqlite_utils.Database, paths: Iterable[str | Path],
                 on_file: Callable[[FileResult], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 commit_every: int = 64, commit_seconds: float = 1.0) -> list[FileResult]:
    """Ingest files and folders; each report is its own savepoint inside a group commit.

    Committing every report costs a WAL sync each, so up to ``commit_every``
    parsed reports (or ``commit_seconds`` of parsing) are written in one short
    transaction, each in its own savepoint.  A killed batch loses at most the
    reports parsed since the last commit, which a re-run redoes; Ctrl-C saves
    what was parsed, then raises IngestInterrupted.
    """
    files, results = discover(paths)
    if on_total:
        on_total(len(files) + len(results))
    for r in results:
        if on_file:
            on_file(r)
    batch: list[tuple[Path, FileResult, ParsedReport | None]] = []

    def done(res: FileResult) -> None:
        results.append(res)
        if on_file:
            on_file(res)

    def flush() -> None:
        with db.atomic():
            saved = [_save(db, path, res, parsed) for path, res, parsed in batch]
        batch.clear()
        for res in saved:
            done(res)

    try:
        started = time.monotonic()
        for f in files:
            res, parsed = _prepare(db, f)
            if res.status == "skipped":
                done(res)
            else:
                batch.append((f, res, parsed))
            if len(batch) >= commit_every or (batch and time.monotonic() - started > commit_seconds):
                flush()
                started = time.monotonic()
        flush()
    except KeyboardInterrupt:
        try:
            flush()   # what was parsed before Ctrl-C is whole: keep it
        finally:
            raise IngestInterrupted(results) from None
    return results
