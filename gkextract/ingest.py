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
import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
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
from .store import as_json
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


COLUMNS = {
    "reports": ("id", "source_path", "file_name", "format", "encoding", "n_chars", "title", "issuer", "issuer_source",
                "year", "year_source", "publication_date", "level", "province", "city", "county", "region_code",
                "template", "status", "problems", "text", "ingested_at", "gkextract_version"),
    "section_spans": ("report_id", "kind", "ordinal", "status", "heading", "span_start", "span_end", "body_start"),
    "section_items": ("report_id", "kind", "idx", "marker", "title", "span_start", "span_end"),
    "stat_tables": ("report_id", "table_key", "template", "layout", "status", "notes"),
    "table_rows": ("report_id", "table_key", "row_key", "ordinal", "label", "status", "raw_cells", "note"),
    "cells": ("report_id", "table_key", "row_key", "col_key", "label", "raw", "value", "unit", "status"),
    "checks": ("report_id", "check_id", "table_key", "rule", "status", "expected", "actual", "reason",
               "blanks_as_zero"),
}
_INSERT = {t: f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
           for t, cols in COLUMNS.items()}


def _section_rows(r: ParsedReport) -> Iterator[tuple]:
    """The six parts' spans (a missing part too), then the preamble and signature; the text stays in reports."""
    for i, kind in enumerate(PART_KINDS):
        p = r.split.parts.get(kind)
        if p is None:
            yield (r.id, kind, i + 1, "missing", None, None, None, None)
        else:
            yield (r.id, kind, i + 1, "found", p.heading, p.start, p.end, p.body_start)
    for kind, span in (("preamble", r.split.preamble), ("signature", r.split.signature)):
        if span:
            yield (r.id, kind, 0 if kind == "preamble" else 7, "found", None, span[0], span[1], span[0])


class _Labels:
    """Cell label pairs to their ids in ``cell_labels``, asked of the database once per pair."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.ids: dict[tuple[str, str], int] = {}

    def __call__(self, row_label: str, col_label: str) -> int:
        key = (row_label, col_label)
        found = self.ids.get(key)
        if found is None:
            self.db.execute("INSERT OR IGNORE INTO cell_labels (row_label, col_label) VALUES (?, ?)", key)
            found = self.ids[key] = self.db.execute(
                "SELECT id FROM cell_labels WHERE row_label = ? AND col_label = ?", key).fetchone()[0]
        return found


@dataclass
class ReportRows:
    """One parsed report as the rows it adds, table by table: small to send from a parsing process.

    A cell's ``label`` is its (row label, column label) pair until it is written.
    """

    id: str
    tables: dict[str, list[tuple]]


def report_rows(r: ParsedReport) -> ReportRows:
    rows: dict[str, list[tuple]] = {t: [] for t in COLUMNS}
    m, region = r.metadata, r.metadata.region
    rows["reports"].append((
        r.id, r.document.path, Path(r.document.path).name, r.document.format, r.document.encoding,
        len(r.document.text), m.title, m.issuer, m.issuer_source, m.year, m.year_source, m.publication_date, m.level,
        region.province if region else None, region.city if region else None, region.county if region else None,
        region.code if region else None, r.template, r.status, as_json(r.problems), r.document.text, _now(),
        __version__))
    rows["section_spans"].extend(_section_rows(r))
    rows["section_items"].extend((r.id, it.kind, i, it.marker, it.title, it.start, it.end)
                                 for i, it in enumerate(r.split.items))
    for t in r.tables.values():
        rows["stat_tables"].append((r.id, t.key, t.template, t.layout, t.status, as_json(t.notes)))
        rows["table_rows"].extend((r.id, t.key, row.key, i, row.label, row.status, as_json(row.raw_cells), row.note)
                                  for i, row in enumerate(t.rows))
        rows["cells"].extend((r.id, c.table, c.row_key, c.col_key, (c.row_label, c.col_label), c.raw, c.value,
                              c.unit, c.status) for c in t.cells)
    rows["checks"].extend((r.id, c.check_id, c.table, c.rule, c.status, c.expected, c.actual, c.reason,
                           int(c.blanks_as_zero)) for c in r.checks)
    return ReportRows(r.id, rows)


def write_reports(db: sqlite_utils.Database, reports: list[ReportRows],
                  labels: _Labels | None = None) -> list[bool]:
    """Write reports with one insert per table for all of them; for each, False if it was already there.

    One transaction (a savepoint inside a caller's): all of them, or none.
    """
    label = labels or _Labels(db)
    rows: dict[str, list[tuple]] = {t: [] for t in COLUMNS}
    new: list[bool] = []
    with db.atomic():
        marks = ", ".join("?" * len(reports))
        there = {i for (i,) in db.execute(f"SELECT id FROM reports WHERE id IN ({marks})", [r.id for r in reports])}
        for r in reports:
            new.append(r.id not in there)
            if new[-1]:
                there.add(r.id)    # the same text twice in one group is one report
                for table, values in r.tables.items():
                    rows[table].extend(values)
        rows["cells"] = [(*c[:4], label(*c[4]), *c[5:]) for c in rows["cells"]]
        for table, values in rows.items():
            if values:
                db.conn.executemany(_INSERT[table], values)
    return new


def write_report(db: sqlite_utils.Database, r: ParsedReport) -> bool:
    """Write one parsed report in one transaction; False if it was already there."""
    return write_reports(db, [report_rows(r)])[0]


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


def _parse(path: Path) -> tuple[FileResult, ReportRows | None]:
    """Read and parse one file (in this process or a pool's); errors become a failed result, never an exception."""
    shown = display_path(path)
    try:
        parsed = parse_document(read_document(path))
        return FileResult(shown, "parsed", parsed.id, parsed.status, parsed.problems), report_rows(parsed)
    except (ReadError, NotAReportError) as e:
        return FileResult(shown, "failed", error=str(e)), None
    except Exception as e:  # a parser bug must not stop a batch of thousands
        return FileResult(shown, "failed", error=f"internal error: {type(e).__name__}: {e}"), None


def _prepare(db: sqlite_utils.Database, path: Path) -> tuple[FileResult, ReportRows | None]:
    """Skip an unchanged file, else read and parse it, outside any transaction."""
    try:
        rid = _unchanged(db, path)
    except Exception as e:
        return FileResult(display_path(path), "failed", error=f"internal error: {type(e).__name__}: {e}"), None
    if rid:
        return FileResult(display_path(path), "skipped", report_id=rid), None
    return _parse(path)


def _quiet_worker() -> None:
    """Pool workers leave Ctrl-C to the writer, which saves what was parsed and stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _prepared(db: sqlite_utils.Database, files: list[Path], jobs: int,
              ) -> Iterator[tuple[Path, FileResult, ReportRows | None]]:
    """Each file with its result, in the files' order: parsed here, or by ``jobs`` processes.

    The unchanged-file check reads the database, so it stays here; only reading
    and parsing go to the pool.  Results come back in order, so the database is
    written in the same order, and holds the same rows, as with one process.
    """
    if jobs <= 1:
        for f in files:
            yield (f, *_prepare(db, f))
        return
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("forkserver"),
                             initializer=_quiet_worker) as pool:
        skipped: dict[Path, FileResult] = {}
        todo = []
        for f in files:
            try:
                rid = _unchanged(db, f)
            except Exception:
                rid = None
            if rid:
                skipped[f] = FileResult(display_path(f), "skipped", report_id=rid)
            else:
                todo.append(f)
        parsed = pool.map(_parse, todo, chunksize=8)
        try:
            for f in files:
                yield (f, skipped[f], None) if f in skipped else (f, *next(parsed))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _save(db: sqlite_utils.Database, path: Path, res: FileResult, parsed: ReportRows | None) -> FileResult:
    """Write one file's report and its files row in a savepoint of their own."""
    try:
        with db.atomic():  # the report and its files row commit together
            if parsed is not None:
                res.status = "ingested" if write_reports(db, [parsed])[0] else "duplicate"
            _record_file(db, path, res)
        return res
    except Exception as e:  # only this file's savepoint was rolled back
        failed = FileResult(res.path, "failed", error=f"internal error while saving: {type(e).__name__}: {e}")
        with db.atomic():
            _record_file(db, path, failed)
        return failed


def _save_group(db: sqlite_utils.Database, batch: list[tuple[Path, FileResult, ReportRows | None]],
                labels: _Labels) -> list[FileResult]:
    """The group's reports with one insert per table, and their files rows; raises if any of it fails."""
    with db.atomic():
        parsed = [(res, p) for _, res, p in batch if p is not None]
        for (res, _), new in zip(parsed, write_reports(db, [p for _, p in parsed], labels)):
            res.status = "ingested" if new else "duplicate"
        for path, res, _ in batch:
            _record_file(db, path, res)
    return [res for _, res, _ in batch]


def ingest_file(db: sqlite_utils.Database, path: Path) -> FileResult:
    """Ingest one file; errors become a failed FileResult, never an exception."""
    res, parsed = _prepare(db, path)
    return res if res.status == "skipped" else _save(db, path, res, parsed)


def ingest_paths(db: sqlite_utils.Database, paths: Iterable[str | Path],
                 on_file: Callable[[FileResult], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 commit_every: int = 64, commit_seconds: float = 1.0, jobs: int = 1) -> list[FileResult]:
    """Ingest files and folders; each report is its own savepoint inside a group commit.

    Committing every report costs a WAL sync each, so up to ``commit_every``
    parsed reports (or ``commit_seconds`` of parsing) are written in one short
    transaction, each in its own savepoint.  A killed batch loses at most the
    reports parsed since the last commit, which a re-run redoes; Ctrl-C saves
    what was parsed, then raises IngestInterrupted.  ``jobs`` > 1 parses in
    that many processes; this process alone writes, in the files' order.
    """
    files, results = discover(paths)
    if on_total:
        on_total(len(files) + len(results))
    for r in results:
        if on_file:
            on_file(r)
    batch: list[tuple[Path, FileResult, ReportRows | None]] = []

    def done(res: FileResult) -> None:
        results.append(res)
        if on_file:
            on_file(res)

    labels = _Labels(db)

    def flush() -> None:
        with db.atomic():
            try:
                saved = _save_group(db, batch, labels)
            except Exception:   # one report's rows broke the group's inserts: each in its own savepoint
                labels.ids.clear()
                saved = [_save(db, path, res, parsed) for path, res, parsed in batch]
        batch.clear()
        for res in saved:
            done(res)

    try:
        started = time.monotonic()
        for f, res, parsed in _prepared(db, files, jobs):
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
