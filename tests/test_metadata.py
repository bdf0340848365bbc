"""Issuer, year, date, level and region of the samples, and region aliases."""

import pytest

from gkextract.metadata import extract_metadata
from gkextract.region import aliases, resolve
from gkextract.sections import split_sections

from samples import text

EXPECTED = {
    # issuer, source, year, publication date, level, (province, city, county)
    "000": ("保德县人民政府", "title", 2019, "2020-02-12", "county", ("山西省", "忻州市", "保德县")),
    "001": ("盐池县政府办公室", "title", 2019, None, "department", ("宁夏回族自治区", "吴忠市", "盐池县")),
    "002": ("保定市竞秀区人民政府", "signature", 2019, "2020-02-15", "county", ("河北省", "保定市", "竞秀区")),
    "003": ("遂平县人民政府", "title", 2020, "2021-02-02", "county", ("河南省", "驻马店市", "遂平县")),
    "004": ("关岭自治县人民政府", "title", 2019, None, "county", ("贵州省", "安顺市", "关岭布依族苗族自治县")),
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_sample_metadata(key):
    t = text(key)
    m = extract_metadata(t, split_sections(t))
    issuer, source, year, date, level, region = EXPECTED[key]
    assert (m.issuer, m.issuer_source, m.year, m.publication_date, m.level) == (issuer, source, year, date, level)
    assert (m.region.province, m.region.city, m.region.county) == region


def test_report_without_title_takes_issuer_from_signature():
    t = text("002")
    m = extract_metadata(t, split_sections(t))
    assert m.title is None and m.issuer_source == "signature"
    assert m.year_source == "overview"


@pytest.mark.parametrize("name, expected", [
    ("关岭自治县", ("贵州省", "安顺市", "关岭布依族苗族自治县")),
    ("关岭县人民政府", ("贵州省", "安顺市", "关岭布依族苗族自治县")),
    ("保定市竞秀区", ("河北省", "保定市", "竞秀区")),
    ("围场县", ("河北省", "承德市", "围场满族蒙古族自治县")),
    ("北京市朝阳区人民政府", ("北京市", None, "朝阳区")),
    ("宁夏回族自治区人民政府", ("宁夏回族自治区", None, None)),
    ("延边州人民政府", ("吉林省", "延边朝鲜族自治州", None)),
])
def test_region_short_and_autonomous_forms(name, expected):
    r = resolve(name)
    assert (r.province, r.city, r.county) == expected


def test_ambiguous_region_is_not_guessed_without_context():
    assert resolve("朝阳区人民政府") is None  # 北京 and 长春 both have one
    r = resolve("朝阳区人民政府", context="长春市朝阳区……吉林省……长春市")
    assert (r.province, r.city) == ("吉林省", "长春市")


def test_aliases():
    assert {"关岭自治县", "关岭县", "关岭"} <= aliases("关岭布依族苗族自治县")
    assert "宁夏" in aliases("宁夏回族自治区")
