"""Paths and loaders for the five bundled sample reports."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "fixtures" / "reports"
SAMPLES = {
    "000": REPORTS / "000_93a7fea9e9928630.txt",  # 保德县, docx export, one cell per line
    "001": REPORTS / "001_dcba8a3c48a24b57.txt",  # 盐池县政府办公室, OCR'd PDF, tab rows
    "002": REPORTS / "002_a08c52f4e01fde1f.txt",  # 竞秀区, no title, non-standard first part
    "003": REPORTS / "003_7092e0e970d24238.txt",  # 遂平县, scraped HTML, blank-line cells
    "004": REPORTS / "004_0e1c1bc522329e1b.txt",  # 关岭自治县, full-width spaces in cells
}


def text(key: str) -> str:
    return SAMPLES[key].read_text(encoding="utf-8")
