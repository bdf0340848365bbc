"""The SQLite database: schema migrations and transactional writes.

Plain SQLite with clear table names, so Datasette, pandas and DuckDB open it
as is.  Every schema change is a numbered migration recorded in
``schema_migrations``; opening an older database upgrades it in place.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]


def _m001_ingest(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE reports (
            id TEXT PRIMARY KEY,            -- sha256 of the decoded text, first 16 hex digits
            source_path TEXT NOT NULL,
            file_name TEXT NOT NULL,
            format TEXT NOT NULL,           -- txt | html | docx | pdf
            encoding TEXT,
            n_chars INTEGER NOT NULL,
            title TEXT,
            issuer TEXT,
            issuer_source TEXT,             -- title | signature
            year INTEGER,                   -- the statistical year
            year_source TEXT,
            publication_date TEXT,
            level TEXT,                     -- province | city | county | township | department
            province TEXT,
            city TEXT,
            county TEXT,
            region_code TEXT,
            template TEXT,                  -- 2019 | 2021
            status TEXT NOT NULL,           -- complete | partial
            problems TEXT NOT NULL,         -- JSON list of what is missing or misaligned
            text TEXT NOT NULL,             -- the original text; every span points into it
            ingested_at TEXT NOT NULL,
            gkextract_version TEXT NOT NULL
        );
        CREATE INDEX reports_region ON reports(province, city, county);
        CREATE INDEX reports_year ON reports(year);

        CREATE TABLE sections (
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,             -- overview | proactive | applications | review_litigation | problems | other | preamble | signature
            ordinal INTEGER NOT NULL,
            status TEXT NOT NULL,           -- found | missing
            heading TEXT,
            span_start INTEGER,            -- offsets into reports.text; the span includes the heading
            span_end INTEGER,
            body_start INTEGER,
            text TEXT,
            PRIMARY KEY (report_id, kind)
        );

        CREATE TABLE section_items (
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            idx INTEGER NOT NULL,
            marker TEXT NOT NULL,
            title TEXT NOT NULL,
            span_start INTEGER NOT NULL,
            span_end INTEGER NOT NULL,
            PRIMARY KEY (report_id, kind, idx)
        );

        CREATE TABLE stat_tables (
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            table_key TEXT NOT NULL,        -- proactive | applications | review_litigation
            template TEXT,
            layout TEXT,
            status TEXT NOT NULL,           -- ok | partial | misaligned | missing
            notes TEXT NOT NULL,            -- JSON list
            PRIMARY KEY (report_id, table_key)
        );

        CREATE TABLE table_rows (
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            table_key TEXT NOT NULL,
            row_key TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            label TEXT,                     -- as written in the report
            status TEXT NOT NULL,           -- ok | misaligned | missing
            raw_cells TEXT NOT NULL,        -- JSON list, kept verbatim whatever the status
            note TEXT,
            PRIMARY KEY (report_id, table_key, row_key)
        );

        CREATE TABLE table_cells (
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            table_key TEXT NOT NULL,
            row_key TEXT NOT NULL,
            col_key TEXT NOT NULL,
            row_label TEXT NOT NULL,
            col_label TEXT NOT NULL,
            raw TEXT,                       -- the cell as written; NULL when there was none
            value NUMERIC,                  -- NULL unless reported: empty is not zero
            unit TEXT,                      -- 万元 for money
            status TEXT NOT NULL,           -- ok | empty | not_applicable | unparsed | misaligned | missing
            PRIMARY KEY (report_id, table_key, row_key, col_key)
        );

        CREATE TABLE checks (
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            check_id TEXT NOT NULL,
            table_key TEXT NOT NULL,
            rule TEXT NOT NULL,
            status TEXT NOT NULL,           -- pass | fail | skipped
            expected NUMERIC,
            actual NUMERIC,
            reason TEXT,
            PRIMARY KEY (report_id, check_id)
        );

        CREATE TABLE files (
            path TEXT PRIMARY KEY,          -- absolute path of an input file
            size INTEGER,
            mtime REAL,
            report_id TEXT,
            status TEXT NOT NULL,           -- ingested | duplicate | failed
            error TEXT,
            updated_at TEXT NOT NULL
        );
        """
    )


def _m002_narrative(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE extractions (
            id INTEGER PRIMARY KEY,
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            section TEXT NOT NULL,          -- overview | problems
            model TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            response_format TEXT NOT NULL,  -- json_schema | json_object
            mode TEXT NOT NULL,             -- live | record | replay (how the reply was obtained)
            request_key TEXT,               -- hash of model, messages, schema, parameters
            status TEXT NOT NULL,           -- ok | refused | truncated | content_filter | invalid | error
            error TEXT,
            calls INTEGER NOT NULL,         -- HTTP calls made (0 when served from the cache)
            cache_hits INTEGER NOT NULL,
            reasks INTEGER NOT NULL,        -- re-asks after a reply failed validation
            retries INTEGER NOT NULL,       -- retries after 429/5xx/timeouts
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            latency_ms INTEGER,
            raw_reply TEXT,                 -- the last reply as received, whatever its status
            created_at TEXT NOT NULL,
            UNIQUE (report_id, section, model, prompt_version)
        );

        CREATE TABLE facts (
            id INTEGER PRIMARY KEY,
            extraction_id INTEGER NOT NULL REFERENCES extractions(id) ON DELETE CASCADE,
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            section TEXT NOT NULL,
            kind TEXT NOT NULL,             -- platform | training | disclosure | application | supervision
            item INTEGER NOT NULL,          -- position in its list: values of one training share it
            metric TEXT,                    -- accounts, items, sessions, participants, received …
            label TEXT,                     -- platform name, disclosure category, training topic …
            attributes TEXT NOT NULL,       -- JSON: platform type, held/planned, audience …
            value NUMERIC,
            unit TEXT,
            approximate INTEGER,
            evidence TEXT,
            span_start INTEGER,             -- offsets into reports.text; NULL when not found
            span_end INTEGER,
            match TEXT NOT NULL,            -- exact | normalized | fuzzy | none
            score REAL NOT NULL,            -- confidence in [0, 1], computed by the program
            flags TEXT NOT NULL,            -- JSON list of flag codes
            needs_review INTEGER NOT NULL,
            table_ref TEXT,                 -- table.row.col it was cross-checked against
            table_value NUMERIC
        );
        CREATE INDEX facts_report ON facts(report_id);

        CREATE TABLE problems (
            id INTEGER PRIMARY KEY,
            extraction_id INTEGER NOT NULL REFERENCES extractions(id) ON DELETE CASCADE,
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            item INTEGER NOT NULL,
            summary TEXT NOT NULL,
            category TEXT NOT NULL,
            evidence TEXT NOT NULL,
            span_start INTEGER,
            span_end INTEGER,
            match TEXT NOT NULL,
            score REAL NOT NULL,
            flags TEXT NOT NULL,
            needs_review INTEGER NOT NULL
        );
        CREATE INDEX problems_report ON problems(report_id);

        CREATE TABLE improvements (
            id INTEGER PRIMARY KEY,
            extraction_id INTEGER NOT NULL REFERENCES extractions(id) ON DELETE CASCADE,
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            item INTEGER NOT NULL,
            summary TEXT NOT NULL,
            category TEXT NOT NULL,
            evidence TEXT NOT NULL,
            problem_id INTEGER REFERENCES problems(id) ON DELETE SET NULL,
            span_start INTEGER,
            span_end INTEGER,
            match TEXT NOT NULL,
            score REAL NOT NULL,
            flags TEXT NOT NULL,
            needs_review INTEGER NOT NULL
        );
        CREATE INDEX improvements_report ON improvements(report_id);
        """
    )
    for table in ("problems", "improvements"):
        db[table].enable_fts(["summary", "evidence"], tokenize="trigram", create_triggers=True)


def _m003_review(db: sqlite_utils.Database) -> None:
    """Review decisions as an append-only audit trail, and views that apply the latest one.

    facts, problems and improvements are never updated: ``*_reviewed`` views
    show every item with the latest decision applied (value/unit for facts,
    category/summary for problems and improvements; ``original_*`` keep the
    extracted values) and a ``review_status`` of accepted | corrected |
    rejected | pending (flagged, no decision yet) | unflagged.
    Only items of each report section's latest successful extraction appear.
    ``*_by_region`` add the report's region, level, year and issuer and leave
    rejected items out: the views to open in Datasette or pandas.
    """
    db.executescript(
        """
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            item_table TEXT NOT NULL CHECK (item_table IN ('facts', 'problems', 'improvements')),
            item_id INTEGER NOT NULL,
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            decision TEXT NOT NULL CHECK (decision IN ('accept', 'correct', 'reject')),
            reviewer TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            before TEXT NOT NULL,           -- JSON: the editable values before the decision
            after TEXT,                     -- JSON: the values after it; NULL for reject
            note TEXT
        );
        CREATE INDEX reviews_item ON reviews(item_table, item_id, id);

        -- Re-extracting with another model or prompt version adds rows; only the
        -- latest successful extraction of each report section counts.
        CREATE VIEW current_extractions AS
        SELECT max(id) AS id, report_id, section FROM extractions WHERE status = 'ok'
        GROUP BY report_id, section;

        CREATE VIEW latest_reviews AS
        SELECT * FROM reviews r
        WHERE r.id = (SELECT max(r2.id) FROM reviews r2
                      WHERE r2.item_table = r.item_table AND r2.item_id = r.item_id);
        """
    )
    # The values the latest decision left: its `after`, or for a reject the values
    # it rejected; a JSON null clears the column.
    doc = "coalesce(lr.after, lr.before)"
    status = ("CASE lr.decision WHEN 'accept' THEN 'accepted' WHEN 'correct' THEN 'corrected' "
              "WHEN 'reject' THEN 'rejected' "
              "ELSE CASE WHEN t.needs_review THEN 'pending' ELSE 'unflagged' END END AS review_status")
    edited = {"facts": ("value", "unit"), "problems": ("summary", "category"),
              "improvements": ("summary", "category")}
    for table, columns in edited.items():
        names = [r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()]
        select = [f"CASE WHEN json_type({doc}, '$.{c}') IS NOT NULL THEN json_extract({doc}, '$.{c}') "
                  f"ELSE t.{c} END AS {c}" if c in columns else f"t.{c}" for c in names]
        select += [status, "lr.id AS review_id", "lr.reviewer", "lr.decided_at"]
        select += [f"t.{c} AS original_{c}" for c in columns]
        db.execute(f"CREATE VIEW {table}_reviewed AS SELECT\n    " + ",\n    ".join(select) +
                   f"\nFROM {table} t\nLEFT JOIN latest_reviews lr ON lr.item_table = '{table}' AND lr.item_id = t.id"
                   "\nWHERE t.extraction_id IN (SELECT id FROM current_extractions)")
        db.execute(f"CREATE VIEW {table}_by_region AS\n"
                   "SELECT r.province, r.city, r.county, r.level, r.year, r.issuer, i.*\n"
                   f"FROM {table}_reviewed i JOIN reports r ON r.id = i.report_id\n"
                   "WHERE i.review_status != 'rejected'")


def _m004_checks_blanks(db: sqlite_utils.Database) -> None:
    """Checks are evaluated with blank cells read as 0; say when that happened."""
    db.execute("ALTER TABLE checks ADD COLUMN blanks_as_zero INTEGER NOT NULL DEFAULT 0")


def _m005_read_time_threshold(db: sqlite_utils.Database) -> None:
    """Rows keep their score and flags only; the review threshold is applied when reading.

    ``settings.review_threshold`` is what the views use (``gkextract threshold``
    changes it); commands take ``--below`` to use another for one query.  The
    views gain ``decision`` (the latest reviewer decision, or NULL) next to
    ``review_status``.  ``conflicts`` lists every narrative figure that disagrees
    with the report's own table, and every one the table could not check.
    """
    for table in ("facts", "problems", "improvements"):
        db.execute(f"DROP VIEW IF EXISTS {table}_by_region")
        db.execute(f"DROP VIEW IF EXISTS {table}_reviewed")
        db.execute(f"ALTER TABLE {table} DROP COLUMN needs_review")
    db.executescript(
        """
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO settings (key, value) VALUES ('review_threshold', '0.7');
        """
    )
    doc = "coalesce(lr.after, lr.before)"
    threshold = "(SELECT CAST(value AS REAL) FROM settings WHERE key = 'review_threshold')"
    status = ("CASE lr.decision WHEN 'accept' THEN 'accepted' WHEN 'correct' THEN 'corrected' "
              "WHEN 'reject' THEN 'rejected' "
              f"ELSE CASE WHEN t.score < {threshold} THEN 'pending' ELSE 'unflagged' END END AS review_status")
    edited = {"facts": ("value", "unit"), "problems": ("summary", "category"),
              "improvements": ("summary", "category")}
    for table, columns in edited.items():
        names = [r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()]
        select = [f"CASE WHEN json_type({doc}, '$.{c}') IS NOT NULL THEN json_extract({doc}, '$.{c}') "
                  f"ELSE t.{c} END AS {c}" if c in columns else f"t.{c}" for c in names]
        select += [status, "lr.decision AS decision", "lr.id AS review_id", "lr.reviewer", "lr.decided_at"]
        select += [f"t.{c} AS original_{c}" for c in columns]
        db.execute(f"CREATE VIEW {table}_reviewed AS SELECT\n    " + ",\n    ".join(select) +
                   f"\nFROM {table} t\nLEFT JOIN latest_reviews lr ON lr.item_table = '{table}' AND lr.item_id = t.id"
                   "\nWHERE t.extraction_id IN (SELECT id FROM current_extractions)")
        db.execute(f"CREATE VIEW {table}_by_region AS\n"
                   "SELECT r.province, r.city, r.county, r.level, r.year, r.issuer, i.*\n"
                   f"FROM {table}_reviewed i JOIN reports r ON r.id = i.report_id\n"
                   "WHERE i.review_status != 'rejected'")
    db.execute(
        """
        CREATE VIEW conflicts AS
        SELECT r.issuer, r.year, r.province, r.city, r.county, f.report_id, f.id AS fact_id, f.kind, f.metric,
               f.label, f.value AS text_value, f.unit, f.table_ref, f.table_value,
               CASE WHEN EXISTS (SELECT 1 FROM json_each(f.flags) WHERE value = 'conflicts_with_table')
                    THEN 'conflict' ELSE 'table_unavailable' END AS status,
               f.evidence, f.span_start, f.span_end, f.score, f.review_status
        FROM facts_reviewed f JOIN reports r ON r.id = f.report_id
        WHERE EXISTS (SELECT 1 FROM json_each(f.flags) WHERE value IN ('conflicts_with_table', 'table_unavailable'))
        """
    )


def _m007_file_bytes(db: sqlite_utils.Database) -> None:
    """File names exactly as the OS gave them.

    ``files.path`` is text that shows every name safely (bytes that are not
    UTF-8, and control characters, written as ``\\xNN``); ``path_bytes`` keeps
    the name's bytes, so nothing about a name is lost.
    """
    db.execute("ALTER TABLE files ADD COLUMN path_bytes BLOB")
def _m008_across_years(db: sqlite_utils.Database) -> None:
    """Issuers as entities, checks across years, boilerplate, concreteness, follow-up, the evaluation view.

    Everything here is derived (crossyear.refresh rebuilds it) except
    ``issuer_decisions``, the audit trail of hand merges.  Cross-year and deadline
    checks live in ``checks`` next to the table checks, told apart by ``scope``.
    ``settings.crossyear_inputs`` holds the fingerprint of the inputs the derived
    rows were computed from; the ``evaluation`` view says whether it is ``current``.
    """
    db.executescript(
        """
        ALTER TABLE checks ADD COLUMN scope TEXT NOT NULL DEFAULT 'report';  -- report | crossyear | deadline
        ALTER TABLE checks ADD COLUMN compared_with TEXT;                    -- crossyear: the other year's report

        CREATE TABLE issuers (
            id TEXT PRIMARY KEY,            -- the key of its name: 人民政府 = 政府, a leading region as its code
            name TEXT NOT NULL,             -- as its latest report writes it, or as a merge chose
            level TEXT,
            province TEXT,
            city TEXT,
            county TEXT,
            region_code TEXT,
            reports INTEGER NOT NULL,
            first_year INTEGER,
            last_year INTEGER
        );
        CREATE TABLE issuer_aliases (
            issuer_id TEXT NOT NULL REFERENCES issuers(id) ON DELETE CASCADE,
            alias TEXT NOT NULL,            -- another name of the same body, as written
            how TEXT NOT NULL,              -- rule | report (a report says so) | merge (by hand)
            report_id TEXT,
            evidence TEXT,
            PRIMARY KEY (issuer_id, alias)
        );
        CREATE TABLE report_issuers (
            report_id TEXT PRIMARY KEY REFERENCES reports(id) ON DELETE CASCADE,
            issuer_id TEXT NOT NULL
        );
        CREATE INDEX report_issuers_issuer ON report_issuers(issuer_id);
        CREATE TABLE issuer_suggestions (   -- a report names another issuer of its kind: merge if renamed
            issuer_id TEXT NOT NULL,
            other_issuer_id TEXT NOT NULL,
            report_id TEXT NOT NULL,
            evidence TEXT NOT NULL
        );
        CREATE TABLE issuer_decisions (     -- the audit trail: never updated, replayed on every refresh
            id INTEGER PRIMARY KEY,
            action TEXT NOT NULL CHECK (action IN ('merge', 'unmerge')),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            into_name TEXT,
            into_key TEXT,
            reviewer TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            note TEXT
        );

        CREATE TABLE section_similarity (   -- section 五 against the issuer's previous report and the year's peers
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            relation TEXT NOT NULL,         -- previous | peer (the most similar report of another issuer)
            other_report_id TEXT NOT NULL,
            score REAL NOT NULL,            -- rapidfuzz ratio of the simplified texts, 0–1
            near_verbatim INTEGER NOT NULL, -- 雷同: score at or above boilerplate.NEAR_VERBATIM
            peers_near_verbatim INTEGER,    -- peer: how many other issuers' reports are 雷同
            PRIMARY KEY (report_id, relation)
        );
        CREATE TABLE problem_similarity (   -- each stated problem's closest match
            problem_id INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
            report_id TEXT NOT NULL,
            relation TEXT NOT NULL,         -- previous | peer
            other_problem_id INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
            other_report_id TEXT NOT NULL,
            score REAL NOT NULL,
            near_verbatim INTEGER NOT NULL,
            PRIMARY KEY (problem_id, relation)
        );
        CREATE TABLE concreteness (         -- rules over the located text, with the reasons
            item_table TEXT NOT NULL,       -- problems | improvements
            item_id INTEGER NOT NULL,
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            score REAL,                     -- share of object, quantity, deadline, owner named; NULL if not located
            object INTEGER,
            quantity INTEGER,
            deadline INTEGER,
            owner INTEGER,
            reasons TEXT NOT NULL,          -- JSON list
            located_text TEXT,
            PRIMARY KEY (item_table, item_id)
        );
        CREATE TABLE followups (            -- an improvement promised in year N, looked for in year N+1
            improvement_id INTEGER PRIMARY KEY REFERENCES improvements(id) ON DELETE CASCADE,
            report_id TEXT NOT NULL,
            next_report_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('addressed', 'repeated', 'not_mentioned')),
            matched_table TEXT,             -- problems | facts
            matched_id INTEGER,
            score REAL,
            how TEXT,                       -- why it was linked, in words
            evidence TEXT NOT NULL,         -- the promise, year N
            next_evidence TEXT              -- what year N+1 says
        );
        CREATE INDEX followups_next ON followups(next_report_id);

        CREATE VIEW crossyear_inputs AS SELECT
            (SELECT count(*) || ':' || coalesce(max(ingested_at), '') FROM reports) || '|' ||
            (SELECT count(*) || ':' || coalesce(max(id), 0) FROM extractions) || '|' ||
            (SELECT count(*) || ':' || coalesce(max(id), 0) FROM reviews) || '|' ||
            (SELECT count(*) || ':' || coalesce(max(id), 0) FROM issuer_decisions) AS fingerprint;

        CREATE VIEW evaluation AS
        WITH
          arith AS (SELECT report_id, sum(status = 'pass') AS passed, sum(status = 'fail') AS failed
                    FROM checks WHERE scope = 'report' GROUP BY report_id),
          xyear AS (SELECT report_id, sum(status = 'pass' AND check_id NOT LIKE 'crossyear.jump.%') AS passed,
                           sum(status = 'fail') AS failed, sum(status = 'suspicious') AS suspicious,
                           sum(check_id LIKE 'crossyear.jump.%' AND status != 'skipped') AS jumps
                    FROM checks WHERE scope = 'crossyear' GROUP BY report_id),
          deadline AS (SELECT report_id, status,
                              printf('%04d-%02d-%02d', expected / 10000, expected / 100 % 100, expected % 100) AS due
                       FROM checks WHERE scope = 'deadline'),
          probs AS (SELECT report_id, count(*) AS n FROM problems_reviewed WHERE review_status != 'rejected'
                    GROUP BY report_id),
          boiler AS (SELECT report_id, count(DISTINCT problem_id) AS n FROM problem_similarity WHERE near_verbatim
                     GROUP BY report_id),
          conc AS (SELECT report_id, avg(CASE WHEN item_table = 'problems' THEN score END) AS problems,
                          avg(CASE WHEN item_table = 'improvements' THEN score END) AS improvements
                   FROM concreteness GROUP BY report_id),
          follow AS (SELECT next_report_id AS report_id, count(*) AS due, sum(status = 'addressed') AS addressed,
                            sum(status = 'repeated') AS repeated FROM followups GROUP BY next_report_id)
        SELECT r.id AS report_id, r.file_name, ri.issuer_id, i.name AS issuer, r.year, r.level, r.province, r.city,
               r.county, r.publication_date AS published, d.due AS deadline,
               CASE d.status WHEN 'pass' THEN 'met' WHEN 'fail' THEN 'late' ELSE 'unknown' END AS on_time,
               CASE d.status WHEN 'fail' THEN CAST(julianday(r.publication_date) - julianday(d.due) AS INTEGER)
                             WHEN 'pass' THEN 0 END AS days_late,
               CASE WHEN a.failed > 0 THEN 0 WHEN a.passed > 0 THEN 1 END AS arithmetic_consistent,
               CASE WHEN a.passed + a.failed > 0 THEN a.failed END AS arithmetic_failed,
               CASE WHEN c.failed > 0 THEN 0 WHEN c.passed > 0 THEN 1 END AS crossyear_consistent,
               CASE WHEN c.passed + c.failed > 0 THEN c.failed END AS crossyear_failed,
               CASE WHEN c.jumps > 0 THEN c.suspicious END AS suspicious_jumps,
               p.n AS problems,
               CASE WHEN p.n > 0 THEN round(coalesce(b.n, 0) * 1.0 / p.n, 3) END AS boilerplate_share,
               (SELECT round(score, 3) FROM section_similarity s
                WHERE s.report_id = r.id AND s.relation = 'previous') AS section_vs_previous,
               (SELECT round(score, 3) FROM section_similarity s
                WHERE s.report_id = r.id AND s.relation = 'peer') AS section_vs_peers,
               round(k.problems, 3) AS concreteness, round(k.improvements, 3) AS promise_concreteness,
               f.due AS promises_due, f.addressed, f.repeated,
               CASE WHEN f.due > 0 THEN round(f.addressed * 1.0 / f.due, 3) END AS followup_rate,
               (SELECT value FROM settings WHERE key = 'crossyear_inputs') IS
               (SELECT fingerprint FROM crossyear_inputs) AS current
        FROM reports r
        LEFT JOIN report_issuers ri ON ri.report_id = r.id
        LEFT JOIN issuers i ON i.id = ri.issuer_id
        LEFT JOIN arith a ON a.report_id = r.id
        LEFT JOIN xyear c ON c.report_id = r.id
        LEFT JOIN deadline d ON d.report_id = r.id
        LEFT JOIN probs p ON p.report_id = r.id
        LEFT JOIN boiler b ON b.report_id = r.id
        LEFT JOIN conc k ON k.report_id = r.id
        LEFT JOIN follow f ON f.report_id = r.id;
        """
    )


def _m012_scale(db: sqlite_utils.Database) -> None:
    """Cost accounting and the Batch API.

    ``llm_calls`` is append-only: one row per call that reached the API (a saved
    reply costs nothing and adds none), with the tokens the server reported and
    whether it went online or through a batch; re-extracting never deletes what
    was paid.  ``batches`` holds each batch file and the ids the API gave it,
    written as soon as they are known, so a crash resumes from here and nothing
    is submitted twice; ``batch_requests`` maps each line's ``custom_id`` to its
    report, section and part.
    """
    db.executescript(
        """
        ALTER TABLE extractions ADD COLUMN cached_tokens INTEGER;   -- of prompt_tokens, from the provider's cache

        CREATE TABLE llm_calls (
            id INTEGER PRIMARY KEY,
            report_id TEXT,
            section TEXT,
            model TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('online', 'batch')),
            request_key TEXT,
            prompt_tokens INTEGER NOT NULL,     -- as the server reported them; cached ones included
            cached_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX llm_calls_model ON llm_calls(model, channel);

        CREATE TABLE batches (
            id INTEGER PRIMARY KEY,
            model TEXT NOT NULL,               -- one model per file
            base_url TEXT,                     -- the API it went to (NULL: OpenAI)
            file_name TEXT NOT NULL,           -- the JSONL's name, unique, also the uploaded file's name
            path TEXT NOT NULL,                -- where the JSONL was written
            lines INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            input_file_id TEXT,                -- set as soon as the upload returns
            batch_id TEXT,                     -- set as soon as the batch is created
            status TEXT NOT NULL,              -- written | uploaded | validating | in_progress | finalizing |
                                               -- completed | failed | expired | cancelling | cancelled | collected
            completed INTEGER, failed INTEGER, total INTEGER,   -- request_counts as last polled
            output_file_id TEXT,
            error_file_id TEXT,
            errors TEXT,                       -- JSON: why the API failed the batch as a whole
            estimated_cost REAL,               -- at submit, from the prices in force
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE batch_requests (
            batch INTEGER NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
            custom_id TEXT NOT NULL,           -- hash of report, section, part and prompt version
            report_id TEXT NOT NULL,
            section TEXT NOT NULL,
            part INTEGER NOT NULL,             -- 1-based; parts > 1 when the section was split
            parts INTEGER NOT NULL,
            prompt_version TEXT NOT NULL,
            request_key TEXT NOT NULL,         -- the reply store's key: a batch reply serves the online path too
            status TEXT NOT NULL,              -- pending | ok | failed | expired | invalid
            error TEXT,
            PRIMARY KEY (batch, custom_id)     -- a section failed in one batch may go into another
        );
        CREATE INDEX batch_requests_section ON batch_requests(report_id, section);
        """
    )
    _compact_ingest(db)


def _compact_ingest(db: sqlite_utils.Database) -> None:
    """Store nothing twice: cell labels once in ``cell_labels``, section text only in ``reports.text``.

    ``table_cells`` and ``sections`` become views with the columns (and the
    values) the tables had, so every query reads them as before; ingest writes
    ``cells`` and ``section_spans``.  The database shrank from 86 to 55 KB per
    report (bench/bench_ingest.py): a label pair was repeated on every cell, the
    cells' primary-key index was as big as the cells, and each section's text
    was a copy of a span of its report's text.  Rows of ``cells`` keep their
    insertion order (the views' readers order by it); the index serves the
    lookups, which always name the report and the table.
    """
    db.executescript(
        """
        CREATE TABLE cell_labels (
            id INTEGER PRIMARY KEY,
            row_label TEXT NOT NULL,        -- the row's label as written, else the template's
            col_label TEXT NOT NULL,
            UNIQUE (row_label, col_label)
        );
        CREATE TABLE cells (
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            table_key TEXT NOT NULL,
            row_key TEXT NOT NULL,
            col_key TEXT NOT NULL,
            label INTEGER NOT NULL REFERENCES cell_labels(id),
            raw TEXT,                       -- the cell as written; NULL when there was none
            value NUMERIC,                  -- NULL unless reported: empty is not zero
            unit TEXT,                      -- 万元 for money
            status TEXT NOT NULL            -- ok | empty | not_applicable | unparsed | misaligned | missing
        );
        INSERT INTO cell_labels (row_label, col_label) SELECT DISTINCT row_label, col_label FROM table_cells;
        INSERT INTO cells SELECT c.report_id, c.table_key, c.row_key, c.col_key, l.id, c.raw, c.value, c.unit, c.status
            FROM table_cells c JOIN cell_labels l ON l.row_label = c.row_label AND l.col_label = c.col_label
            ORDER BY c.rowid;
        DROP TABLE table_cells;
        CREATE INDEX cells_report ON cells(report_id, table_key);
        CREATE VIEW table_cells AS
        SELECT c.report_id, c.table_key, c.row_key, c.col_key, l.row_label, l.col_label, c.raw, c.value, c.unit, c.status
        FROM cells c JOIN cell_labels l ON l.id = c.label;

        CREATE TABLE section_spans (
            report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            status TEXT NOT NULL,           -- found | missing
            heading TEXT,
            span_start INTEGER,             -- offsets into reports.text; the span includes the heading
            span_end INTEGER,
            body_start INTEGER,
            PRIMARY KEY (report_id, kind)
        ) WITHOUT ROWID;
        INSERT INTO section_spans SELECT report_id, kind, ordinal, status, heading, span_start, span_end, body_start
            FROM sections;
        DROP TABLE sections;
        CREATE VIEW sections AS
        SELECT s.*, substr(r.text, s.span_start + 1, s.span_end - s.span_start) AS text
        FROM section_spans s JOIN reports r ON r.id = s.report_id;
        """
    )


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "ingest: reports, sections, tables, cells, checks, files", _m001_ingest),
    (2, "narrative: extractions, facts, problems, improvements, full-text search", _m002_narrative),
    (3, "review: audit trail of decisions, reviewed and by-region views", _m003_review),
    (4, "checks: blank cells read as zero, marked", _m004_checks_blanks),
    (5, "review threshold applied at read time; conflicts view", _m005_read_time_threshold),
    (7, "files: the exact bytes of each file name", _m007_file_bytes),
    (8, "across years: issuers, cross-year checks, boilerplate, concreteness, follow-up, evaluation",
     _m008_across_years),
    (12, "scale: llm_calls (cost), batches and batch_requests (Batch API); cells and sections stored once",
     _m012_scale),
]


def migrate(db: sqlite_utils.Database) -> list[int]:
    """Apply the migrations this database has not seen; return their versions.

    Each runs under the write lock and re-reads what is done, so two processes
    opening a new database at once apply each migration exactly once.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied = []
    for version, name, fn in MIGRATIONS:
        if db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", [version]).fetchone():
            continue
        with db.atomic():
            if db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", [version]).fetchone():
                continue  # another process applied it while this one waited for the lock
            fn(db)
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, datetime('now'))",
                [version, name],
            )
        applied.append(version)
    return applied


class DatabaseError(Exception):
    """--db names something that cannot be used as the database; str(e) says what to do."""


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose transactions take the write lock when they begin.

    In WAL mode a transaction that has read and then wants to write, after
    another process committed, fails at once with "database is locked": the
    busy timeout never applies.  ``BEGIN IMMEDIATE`` waits for the lock (up to
    the busy timeout) before reading anything, so concurrent writers queue.
    """

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


BUSY_TIMEOUT_MS = 30_000


def open_db(path: str | Path) -> Database:
    """Open (creating if needed) and migrate; foreign keys on, WAL for concurrent readers.

    Raises DatabaseError for a directory, a file that is not SQLite, or a
    place where no database can be created.  Other processes may use the same
    file: writers wait up to 30 s for each other (busy timeout), and every
    write transaction is short.  The file is never opened except by SQLite:
    closing any other descriptor of it would drop this process's POSIX locks,
    and another process could then reset the WAL under a live connection.
    """
    p = Path(path)
    if p.is_dir():
        raise DatabaseError(f"{p} is a directory, not a database file: give a file name "
                            f"such as {p / 'gkextract.db'}")
    try:
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: extract_reports may hand the connection to a worker thread (run_sync, inside
        # Jupyter's event loop) while the opening thread waits, and its writer thread writes while the event
        # loop reads the sections it sends.  SQLite serialises a connection's use (sqlite3.threadsafety 3);
        # only one thread ever writes.
        db = Database(sqlite3.connect(str(p), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False))
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a crash loses at most the last reports, never consistency
        migrate(db)
    except sqlite3.DatabaseError as e:
        if "not a database" in str(e) or "malformed" in str(e):
            raise DatabaseError(f"{p} is not a SQLite database (or it is damaged): give a new file name, "
                                "or the database gkextract made") from None
        raise DatabaseError(f"cannot use {p} as the database: {e}") from None
    except OSError as e:
        raise DatabaseError(f"cannot use {p} as the database: {e.strerror or e}") from None
    return db


def review_threshold(db: sqlite_utils.Database) -> float:
    row = db.execute("SELECT value FROM settings WHERE key = 'review_threshold'").fetchone()
    return float(row[0]) if row else 0.7


def set_review_threshold(db: sqlite_utils.Database, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError("the review threshold is a score between 0 and 1")
    with db.atomic():
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('review_threshold', ?)", [str(value)])


def _span_columns(a: Any) -> dict[str, Any]:
    return dict(span_start=a.span.start, span_end=a.span.end, match=a.span.match, score=a.score,
                flags=as_json(a.flags))


def write_extraction(db: sqlite_utils.Database, report_id: str, section: str, model: str, prompt_version: str,
                     response_format: str, mode: str, result: Any, grounded: Any,
                     threshold: float) -> dict[str, int]:
    """One call's outcome and its grounded items, in one transaction; returns counts.

    ``threshold`` only decides what the returned counts call flagged: rows keep
    their score and flags, and the review threshold is applied when reading.
    """
    counts = {"facts": 0, "problems": 0, "improvements": 0, "flagged": 0}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with db.atomic():
        db.execute("DELETE FROM extractions WHERE report_id = ? AND section = ? AND model = ? AND prompt_version = ?",
                   [report_id, section, model, prompt_version])
        cur = db.execute(
            "INSERT INTO extractions (report_id, section, model, prompt_version, response_format, mode, request_key, "
            "status, error, calls, cache_hits, reasks, retries, prompt_tokens, cached_tokens, completion_tokens, "
            "latency_ms, raw_reply, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [report_id, section, model, prompt_version, response_format, mode, result.request_key, result.status,
             result.error, result.calls, result.cache_hits, result.reasks, result.retries, result.prompt_tokens,
             result.cached_tokens, result.completion_tokens, result.latency_ms, result.raw_reply, now])
        record_calls(db, report_id, section, model, "batch" if mode == "batch" else "online", result.usage, now)
        if grounded is None:
            return counts
        base = dict(extraction_id=cur.lastrowid, report_id=report_id)
        insert_rows(db, "facts", (
            dict(base, section=section, kind=f.kind, item=i, metric=f.metric, label=f.label,
                 attributes=as_json(f.attributes), value=f.value, unit=f.unit,
                 approximate=int(f.approximate) if f.value is not None else None, evidence=f.evidence,
                 table_ref=a.table_ref, table_value=a.table_value, **_span_columns(a))
            for i, f, a in grounded.facts))
        problem_ids: dict[int, int] = {}
        for p in grounded.problems:
            c = db.execute(
                "INSERT INTO problems (extraction_id, report_id, item, summary, category, evidence, span_start, "
                "span_end, match, score, flags) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [base["extraction_id"], report_id, p.item, p.summary, p.category, p.evidence,
                 *_span_columns(p.assessment).values()])
            problem_ids[p.item] = c.lastrowid
        insert_rows(db, "improvements", (
            dict(base, item=m.item, summary=m.summary, category=m.category, evidence=m.evidence,
                 problem_id=problem_ids.get(m.addresses) if m.addresses is not None else None,
                 **_span_columns(m.assessment))
            for m in grounded.improvements))
        scores = ([a.score for _, _, a in grounded.facts] + [p.assessment.score for p in grounded.problems]
                  + [m.assessment.score for m in grounded.improvements])
        counts.update(facts=len(grounded.facts), problems=len(grounded.problems),
                      improvements=len(grounded.improvements), flagged=sum(s < threshold for s in scores))
    return counts


def record_calls(db: sqlite_utils.Database, report_id: str | None, section: str | None, model: str, channel: str,
                 usage: Iterable[Any], now: str | None = None) -> None:
    """Append what each call that reached the API was billed for (``llm.Usage``); never deleted."""
    now = now or datetime.now(timezone.utc).isoformat(timespec="seconds")
    db.conn.executemany(
        "INSERT INTO llm_calls (report_id, section, model, channel, request_key, prompt_tokens, cached_tokens, "
        "completion_tokens, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
        [(report_id, section, model, channel, u.key, u.prompt_tokens, u.cached_tokens, u.completion_tokens, now)
         for u in usage])


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def insert_rows(db: sqlite_utils.Database, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Bulk insert into a known table with one prepared statement.

    sqlite-utils' insert_all spent 80 % of ingest time inferring types for
    tables whose schema the migrations already fix (bench/bench_ingest.py).
    """
    rows = list(rows)
    if not rows:
        return
    cols = list(rows[0])
    sql = (f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) "
           f"VALUES ({', '.join('?' for _ in cols)})")
    db.conn.executemany(sql, [[r[c] for c in cols] for r in rows])
