"""Every consistency check of every sample: 40 checks each, pass unless listed."""

import pytest

from gkextract.ingest import parse_document
from gkextract.read import read_document

from samples import SAMPLES

_001_SKIPPED = {
    "applications.results_sum.natural_person", "applications.results_sum.commercial",
    "applications.results_sum.research", "applications.results_sum.social_welfare",
    "applications.results_sum.legal_service", "applications.results_sum.other_org",
    "applications.results_sum.total",
    "applications.row_total.withheld_state_secret", "applications.row_total.withheld_prohibited",
    "review_litigation.row_total.administrative_review", "review_litigation.row_total.litigation_direct",
    "review_litigation.row_total.litigation_after_review",
}
_003_SKIPPED = (
    {f"applications.balance.{c}" for c in ("natural_person", "commercial", "research", "social_welfare",
                                           "legal_service", "other_org", "total")}
    | {f"applications.results_sum.{c}" for c in ("natural_person", "commercial", "research",
                                                 "social_welfare", "legal_service", "other_org", "total")}
    | {f"applications.row_total.{r}" for r in ("new_received", "carried_over", "partially_disclosed",
                                               "withheld_prohibited", "withheld_three_safety",
                                               "withheld_third_party", "withheld_internal", "withheld_process")}
)
# check id -> (expected, actual) of the failures
FAILED = {
    "000": {},
    "001": {"applications.balance.natural_person": (2, 0), "applications.balance.total": (2, 0)},
    "002": {},
    "003": {},
    "004": {"applications.balance.natural_person": (2, 0), "applications.balance.legal_service": (1, 0),
            "applications.balance.other_org": (2, 0), "applications.balance.total": (5, 0)},
}
SKIPPED = {"000": set(), "001": _001_SKIPPED, "002": set(), "003": _003_SKIPPED, "004": set()}


@pytest.mark.parametrize("key", sorted(FAILED))
def test_every_check(key):
    checks = parse_document(read_document(SAMPLES[key])).checks
    assert len(checks) == 40
    assert {c.check_id: (c.expected, c.actual) for c in checks if c.status == "fail"} == FAILED[key]
    assert {c.check_id for c in checks if c.status == "skipped"} == SKIPPED[key]
    assert all(c.status == "pass" for c in checks if c.check_id not in FAILED[key] and c.check_id not in SKIPPED[key])


def test_blank_cells_count_as_zero_and_say_so():
    checks = {c.check_id: c for c in parse_document(read_document(SAMPLES["001"])).checks}
    # (一)予以公开: 2, blank, 0, blank, blank, blank, 2 — blanks read as 0, the cells stay NULL
    c = checks["applications.row_total.disclosed"]
    assert (c.status, c.expected, c.actual, c.blanks_as_zero) == ("pass", 2, 2, True)
    c = checks["applications.row_total.new_received"]
    assert (c.status, c.blanks_as_zero) == ("pass", False)


def test_skip_reasons_name_the_cell():
    checks = {c.check_id: c for c in parse_document(read_document(SAMPLES["001"])).checks}
    assert checks["applications.row_total.withheld_state_secret"].reason == \
        "withheld_state_secret.natural_person is misaligned"
    assert checks["review_litigation.row_total.administrative_review"].reason == \
        "administrative_review.upheld is misaligned"
    fail = checks["applications.balance.total"]
    assert fail.reason == "differs by -2"
    assert "本年新收 + 上年结转 = 办理结果总计 + 结转下年度" in fail.rule


def test_passing_checks_carry_their_numbers():
    checks = {c.check_id: c for c in parse_document(read_document(SAMPLES["002"])).checks}
    c = checks["applications.results_sum.natural_person"]  # 予以公开 2 + 不掌握 3 = 总计 5
    assert (c.status, c.expected, c.actual) == ("pass", 5, 5)
    c = checks["review_litigation.row_total.litigation_direct"]
    assert (c.status, c.expected, c.actual) == ("pass", 7, 7)
