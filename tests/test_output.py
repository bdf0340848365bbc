"""The output contract, command by command: one JSON document, JSON Lines, CSV for Excel, data on stdout only."""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conftest import LLM_FIXTURES, ROOT
from corpus_db import corpus_db  # noqa: F401  (fixture)
from gkextract.cli import app

runner = CliRunner()
PINGTAN = "平潭综合实验区管委会"
# Every command with --format, with arguments that give it something to print; "corpus" runs on the corpus.
ROWS = {   # commands whose data is rows: json is an array, jsonl a line per row, csv a table
    "ingest": [str(ROOT / "fixtures" / "reports")],
    "reports": [],
    "extract": ["--mode", "replay", "--fixtures", str(LLM_FIXTURES)],
    "problems": ["--province", "山西"],
    "improvements": ["--by", "province,category"],
    "facts": ["--kind", "training", "--stats"],
    "issuers": ["corpus"],
    "evaluation": ["corpus"],
}
NESTED = {  # commands whose data is one nested record: json is an object, jsonl one line, csv refused
    "show": ["004"],
    "summary": ["004"],
    "run": [str(ROOT / "fixtures" / "reports"), "--mode", "replay", "--fixtures", str(LLM_FIXTURES)],
    "timeline": ["corpus", PINGTAN],
    "compare": ["corpus", PINGTAN, "--years", "2023,2024"],
}


def invoke(name: str, args: list[str], fmt: str, sample: Path, corpus: Path, *more: str):
    db = corpus if args[:1] == ["corpus"] else sample
    args = args[1:] if args[:1] == ["corpus"] else args
    return runner.invoke(app, [name, *args, "--db", str(db), "--format", fmt, *more])


# Commands that need a fake Batch API or paid calls to print anything: test_cli_scale parses their
# --format json output with json.loads (one document) instead.
ELSEWHERE = {"cost", "batch submit", "batch status", "batch collect"}


def commands(group: typer.core.TyperGroup, prefix: str = "") -> dict[str, object]:
    """Every command by its full name ("batch submit"), subcommands included."""
    out: dict[str, object] = {}
    for name, c in group.commands.items():
        if hasattr(c, "commands"):
            out.update(commands(c, f"{prefix}{name} "))
        else:
            out[prefix + name] = c
    return out


def test_every_command_with_format_is_covered() -> None:
    with_format = {name for name, c in commands(typer.main.get_command(app)).items()  # type: ignore[arg-type]
                   if any(p.name == "fmt" for p in c.params) and name != "export"}  # type: ignore[attr-defined]
    assert with_format == set(ROWS) | set(NESTED) | ELSEWHERE


@pytest.mark.parametrize("name", sorted(ROWS) + sorted(NESTED))
def test_json_is_one_document_and_jsonl_one_row_a_line(name, sample_db_copy, corpus_db):
    args = {**ROWS, **NESTED}[name]
    res = invoke(name, args, "json", sample_db_copy, corpus_db)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)            # exactly one document: anything after it would fail here
    assert isinstance(doc, list if name in ROWS else dict) and doc
    res = invoke(name, args, "jsonl", sample_db_copy, corpus_db)
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert lines == (doc if name in ROWS else [doc])


@pytest.mark.parametrize("name", sorted(NESTED))
def test_a_nested_record_is_no_csv(name, sample_db_copy, corpus_db, tmp_path):
    res = invoke(name, NESTED[name], "csv", sample_db_copy, corpus_db)
    assert res.exit_code == 2 and res.stdout == ""
    assert "not a table: use --format json" in res.stderr


def test_run_refuses_csv_before_doing_anything(tmp_path):
    res = runner.invoke(app, ["run", str(ROOT / "fixtures" / "reports"), "--db", str(tmp_path / "gk.db"),
                              "--mode", "replay", "--fixtures", str(LLM_FIXTURES), "--format", "csv"])
    assert res.exit_code == 2 and not (tmp_path / "gk.db").exists()


def test_run_json_holds_both_steps_and_summaries_go_to_stderr(tmp_path):
    res = runner.invoke(app, ["run", str(ROOT / "fixtures" / "reports"), "--db", str(tmp_path / "gk.db"),
                              "--mode", "replay", "--fixtures", str(LLM_FIXTURES), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert sorted(doc) == ["extract", "ingest"]
    assert [(Path(r["file"]).name, r["status"], r["report_status"]) for r in doc["ingest"]][:2] == [
        ("000_93a7fea9e9928630.txt", "ingested", "complete"), ("001_dcba8a3c48a24b57.txt", "ingested", "partial")]
    assert (doc["extract"]["sections"], doc["extract"]["facts"], doc["extract"]["problems"],
            doc["extract"]["flagged"], doc["extract"]["failed"]) == (10, 98, 22, 2, [])
    assert "5 file(s): 5 ingested (2 partial)" in res.stderr and "cache hits" in res.stderr


@pytest.mark.parametrize("name", sorted(ROWS))
def test_csv_is_a_table_with_a_bom(name, sample_db_copy, corpus_db):
    res = invoke(name, ROWS[name], "csv", sample_db_copy, corpus_db)
    assert res.exit_code == 0, res.output
    assert res.stdout_bytes.startswith(codecs.BOM_UTF8)
    rows = list(csv.DictReader(io.StringIO(res.stdout_bytes.decode("utf-8-sig"))))
    as_json = json.loads(invoke(name, ROWS[name], "json", sample_db_copy, corpus_db).stdout)
    assert len(rows) == len(as_json) and list(rows[0]) == list(as_json[0])


def test_csv_encodings(sample_db):
    args = ["problems", "--province", "山西", "--db", str(sample_db), "--format", "csv"]
    default = runner.invoke(app, args).stdout_bytes
    plain = runner.invoke(app, [*args, "--encoding", "utf-8"]).stdout_bytes
    gb = runner.invoke(app, [*args, "--encoding", "gb18030"]).stdout_bytes
    assert default == codecs.BOM_UTF8 + plain and gb.decode("gb18030") == plain.decode("utf-8")
    assert "政府信息公开的深度和广度与公众需求有差距" in gb.decode("gb18030")
    assert runner.invoke(app, args, env={"GKEXTRACT_CSV_ENCODING": "utf-8"}).stdout_bytes == plain
    bad = runner.invoke(app, [*args, "--encoding", "klingon"])
    assert bad.exit_code == 2 and "unknown encoding 'klingon'" in bad.stderr
    ascii_ = runner.invoke(app, [*args, "--encoding", "ascii"])   # the rows are Chinese: nothing half-written
    assert ascii_.exit_code == 2 and ascii_.stdout == ""
    assert "cannot be written in ascii; use --encoding utf-8-sig or gb18030" in ascii_.stderr


def test_export_writes_json_too_and_reports_on_stderr(sample_db, tmp_path):
    res = runner.invoke(app, ["export", "--db", str(sample_db), "--out", str(tmp_path / "j"), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert res.stdout == "" and "wrote 7 files" in res.stderr
    facts = json.loads((tmp_path / "j" / "facts.json").read_text(encoding="utf-8"))
    assert len(facts) == 98 and isinstance(facts[0]["flags"], list)
    assert json.loads((tmp_path / "j" / "reviews.json").read_text(encoding="utf-8")) == []
    runner.invoke(app, ["export", "--db", str(sample_db), "--out", str(tmp_path / "l"), "--format", "jsonl"])
    lines = (tmp_path / "l" / "facts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == facts
    res = runner.invoke(app, ["export", "--db", str(sample_db), "--out", str(tmp_path / "g"), "--encoding",
                              "gb18030"])
    text = (tmp_path / "g" / "problems.csv").read_bytes().decode("gb18030")
    assert text.startswith("province,city,county,") and "政策解读不到位" in text


def test_export_removes_a_file_it_cannot_write_whole(sample_db, tmp_path):
    res = runner.invoke(app, ["export", "--db", str(sample_db), "--out", str(tmp_path), "--encoding", "ascii"])
    assert res.exit_code == 2 and "cannot be written in ascii" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []   # reports.csv (the first) was removed
