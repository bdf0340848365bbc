"""The `timeline`, `compare` and `evaluation` commands on the corpus."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from corpus_db import corpus_db, corpus_db_copy, rid  # noqa: F401  (fixtures)
from gkextract.cli import app
from gkextract.store import open_db
from gkextract.timeline import EVALUATION_COLUMNS

runner = CliRunner()
PINGTAN = "平潭综合实验区管委会"


def _json(*args: str) -> object:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_timeline_of_the_series(corpus_db: Path) -> None:
    t = _json("timeline", PINGTAN, "--db", str(corpus_db), "--format", "json")
    assert t["issuer"]["name"] == PINGTAN
    years = {y["year"]: y for y in t["years"]}
    assert list(years) == [2018, 2019, 2020, 2021, 2023, 2024, 2025]
    assert years[2023]["reports"] == ["10-pingtan-2023-page.html", "05-pingtan-2023.txt"]
    assert {y: (v["on_time"], v["published"]) for y, v in years.items()} == {
        2018: ("met", "2019-01-10"), 2019: ("met", "2020-01-20"), 2020: ("met", "2021-03-05"),
        2021: ("met", "2022-02-08"), 2023: ("met", "2024-03-08"), 2024: ("met", "2025-03-10"),
        2025: ("met", "2026-03-10")}
    # Figures as read by hand off tables 三 and 四 (2023 from the web page, whose 规范性文件 row is readable).
    assert {y: (f["applications"], f["handled"], f["carried_forward"], f["reviews"], f["lawsuits_direct"],
                f["normative_documents"]) for y, f in ((y, v["figures"]) for y, v in years.items())} == {
        2018: (None, None, None, None, None, None), 2019: (23, 23, 0, 0, 0, None), 2020: (21, 21, 0, 0, 0, None),
        2021: (70, 69, 1, 3, 12, None), 2023: (81, 81, 0, 2, 5, 470), 2024: (218, 218, 0, 7, 0, 440),
        2025: (154, 148, 6, 36, 6, 546)}
    assert years[2020]["checks"] == {"report": {"fail": 2, "pass": 38}, "crossyear": {"fail": 1, "pass": 16,
                                                                                      "skipped": 6}}
    assert years[2023]["previous_year_missing"] and not years[2024]["previous_year_missing"]
    assert [len(years[y]["problems"]) for y in (2019, 2020, 2021, 2023, 2024, 2025)] == [5, 4, 3, 4, 3, 3]
    assert years[2018]["problems"] == [] and years[2018]["narrative_report"] is None
    assert years[2024]["followup_of_last_year"] == {"addressed": 2, "not_mentioned": 4}
    assert years[2023]["followup_of_last_year"] is None  # no 2022 report to follow 2021's promises into
    (kept,) = [f for f in years[2025]["followups"] if f["status"] == "addressed"]
    assert (kept["evidence"], kept["next_evidence"]) == ("二是增强政策解读效果，进一步丰富政策解读形式",
                                                         "发布文字、图解、H5等多形式政策解读82篇")


def test_timeline_by_alias_and_in_the_terminal(corpus_db: Path) -> None:
    by_alias = _json("timeline", "平潭县人民政府", "--db", str(corpus_db), "-f", "json")
    by_rule = _json("timeline", "平潭综合实验区党工委管委会", "--db", str(corpus_db), "-f", "json")
    assert by_alias["issuer"]["name"] == by_rule["issuer"]["name"] == PINGTAN
    res = runner.invoke(app, ["timeline", PINGTAN, "--db", str(corpus_db), "--lang", "en"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "also: 平潭县人民政府 (report: 来源：平潭县人民政府)" in res.stdout
    assert "│ 2021 │ 2022-02-08 │ met     │ 70/69/1      │ 3/12      │ —          │ ok    " in res.stdout
    assert "1 suspicious" in res.stdout and "no prior year" in res.stdout
    assert "stated problems" in res.stdout and "last year's promises, followed up" in res.stdout


def test_timeline_errors(corpus_db: Path) -> None:
    res = runner.invoke(app, ["timeline", "平潭", "--db", str(corpus_db)])
    assert res.exit_code == 2 and "matches 8 issuers" in res.output
    res = runner.invoke(app, ["timeline", "保德县人民政府", "--db", str(corpus_db)])
    assert res.exit_code == 2 and "no issuer matches" in res.output
    res = runner.invoke(app, ["timeline", PINGTAN, "--db", str(corpus_db), "--format", "csv"])
    assert res.exit_code == 2 and "use --format json" in res.output


def test_compare_two_years(corpus_db: Path) -> None:
    c = _json("compare", PINGTAN, "--years", "2023,2024", "--db", str(corpus_db), "--format", "json")
    figures = {f["figure"]: (f["2023"], f["2024"], f["change"]) for f in c["figures"]}
    assert figures["applications"] == (81, 218, 137)
    assert figures["normative_documents"] == (470, 440, -30)
    assert figures["lawsuits_after_review"] == (2, 19, 17)
    assert c["checks"] == {"2023": [], "2024": []}
    assert [(p["2024"], p["2023"], p["near_verbatim"]) for p in c["problems"]][1] == (
        "政策解读形式仍需创新", "三是政策解读的质量有待提高，形式还要更加多样、更加“接地气”", False)
    assert [p["status"] for p in c["promises"]] == ["addressed", "not_mentioned", "addressed", "not_mentioned",
                                                    "not_mentioned", "not_mentioned"]
    apart = _json("compare", PINGTAN, "--years", "2021,2023", "--db", str(corpus_db), "-f", "json")
    assert apart["promises"] is None and "does not follow" in apart["promises_note"]
    failing = _json("compare", PINGTAN, "--years", "2024,2025", "--db", str(corpus_db), "-f", "json")
    assert [(x["check_id"], x["status"]) for x in failing["checks"]["2025"]] == [
        ("crossyear.stock.normative_documents", "fail")]


def test_compare_errors(corpus_db: Path) -> None:
    res = runner.invoke(app, ["compare", PINGTAN, "--years", "2022,2023", "--db", str(corpus_db)])
    assert res.exit_code == 2
    assert "平潭综合实验区管委会 has no report for 2022 (years: 2018, 2019, 2020, 2021, 2023, 2024, 2025)" in res.output
    res = runner.invoke(app, ["compare", PINGTAN, "--years", "2023", "--db", str(corpus_db)])
    assert res.exit_code == 2 and "two years such as 2023,2024" in res.output


def test_evaluation_as_csv(corpus_db: Path) -> None:
    res = runner.invoke(app, ["evaluation", "--db", str(corpus_db), "--format", "csv"])
    assert res.exit_code == 0, res.output
    text = res.stdout_bytes.decode("utf-8-sig")   # with the BOM Excel needs
    rows = list(csv.DictReader(io.StringIO(text)))
    assert res.stdout.startswith("\ufeff") and text.splitlines()[0] == ",".join(EVALUATION_COLUMNS)
    assert len(rows) == 18 and len({r["report_id"] for r in rows}) == 18
    by_file = {r["file_name"]: r for r in rows}
    assert {k: by_file["03-pingtan-2020.txt"][k] for k in (
        "on_time", "days_late", "arithmetic_consistent", "arithmetic_failed", "crossyear_consistent",
        "crossyear_failed", "problems", "boilerplate_share", "promises_due", "followup_rate", "current")} == dict(
        on_time="met", days_late="0", arithmetic_consistent="0", arithmetic_failed="2", crossyear_consistent="0",
        crossyear_failed="1", problems="4", boilerplate_share="0.0", promises_due="13", followup_rate="0.308",
        current="1")
    # Not measurable is empty, never zero: the 2018 report has no tables, no narrative, no previous year.
    assert {k: by_file["01-pingtan-2018.txt"][k] for k in (
        "arithmetic_consistent", "crossyear_consistent", "problems", "boilerplate_share", "concreteness",
        "followup_rate")} == dict.fromkeys(("arithmetic_consistent", "crossyear_consistent", "problems",
                                            "boilerplate_share", "concreteness", "followup_rate"), "")
    assert by_file["09-pingtan-2025-page.html"]["crossyear_consistent"] == "0"
    assert by_file["04-pingtan-2021.txt"]["suspicious_jumps"] == "1"


def test_evaluation_sorted_and_filtered(corpus_db: Path) -> None:
    rows = _json("evaluation", "--db", str(corpus_db), "--sort", "boilerplate_share", "--desc", "-f", "json")
    assert (rows[0]["file_name"], rows[0]["boilerplate_share"]) == ("15-pingtan-czj-2025.txt", 0.286)
    assert rows[-1]["boilerplate_share"] is None  # empty values last, whatever the direction
    rows = _json("evaluation", "--db", str(corpus_db), "--issuer", "财政金融局", "-f", "json")
    assert [r["year"] for r in rows] == [2019, 2025]
    rows = _json("evaluation", "--db", str(corpus_db), "--year", "2024", "--sort", "followup_rate", "-f", "json")
    assert [r["file_name"] for r in rows][:1] == ["06-pingtan-2024.txt"]
    res = runner.invoke(app, ["evaluation", "--db", str(corpus_db), "--sort", "score"])
    assert res.exit_code == 2 and "cannot sort by 'score'" in res.output


def test_commands_recompute_when_the_inputs_change(corpus_db_copy: Path) -> None:
    db = open_db(corpus_db_copy)
    problem = db.execute("SELECT id, report_id FROM problems WHERE evidence = '二是公开方式灵活性不够' "
                         "AND report_id = ?", [rid(db, "15-pingtan-czj")]).fetchone()
    with db.atomic():
        db.execute("INSERT INTO reviews (item_table, item_id, report_id, decision, reviewer, decided_at, before, after) "
                   "VALUES ('problems', ?, ?, 'reject', 'tester', '2026-12-05T00:00:00+00:00', '{}', NULL)",
                   list(problem))
    assert db.execute("SELECT current FROM evaluation WHERE file_name LIKE '15-%'").fetchone() == (0,)
    res = runner.invoke(app, ["evaluation", "--db", str(corpus_db_copy), "--issuer", "财政金融局", "-f", "json"])
    assert res.exit_code == 0
    assert "cross-year data recomputed" in res.stderr
    rows = json.loads(res.stdout)
    assert [(r["problems"], r["boilerplate_share"], r["current"]) for r in rows] == [(6, 0.0, 1), (6, 0.167, 1)]
