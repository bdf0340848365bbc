"""The package as pip installs it: build the wheel, install it into a fresh venv, run it outside the repository.

Offline: the wheel is built without build isolation (setuptools from this
venv), installed with ``--no-deps --no-index``, and the fresh venv reaches the
dependencies through a .pth line naming this venv's site-packages.  A .pth
file in a folder added that way is not processed, so this venv's editable
gkextract stays invisible there: the test checks the wheel's copy is the one
that runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (an in-tree build would leave build/ behind)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "gkextract", src / "gkextract", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    res = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, src)
    assert res.returncode == 0, res.stdout + res.stderr
    (whl,) = out.glob("gkextract-*.whl")
    return whl


def test_the_wheel_holds_the_prompts_and_the_module_entry(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {"gkextract/prompts/overview.v2.md", "gkextract/prompts/problems.v2.md", "gkextract/__main__.py",
            "gkextract/api.py", "gkextract/templates/report.html", "gkextract/templates/heatmap.svg",
            "gkextract/static/app.css", "gkextract/static/app.js"} <= set(names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gkextract = gkextract.cli:app" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installed_wheel_runs_the_samples_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    python, script = venv / "bin" / "python", venv / "bin" / "gkextract"
    res = run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel)
    assert res.returncode == 0, res.stdout + res.stderr
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"              # a user's folder: the reports and saved replies, no repository
    shutil.copytree(ROOT / "fixtures" / "reports", work / "fixtures" / "reports")
    shutil.copytree(ROOT / "fixtures" / "llm", work / "fixtures" / "llm")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GKEXTRACT_PROMPTS", "GKEXTRACT_DB")}
    env.update(HOME=str(tmp_path / "home"), COLUMNS="120")

    where = run(python, "-c", "import gkextract; print(gkextract.__file__)", cwd=work, env=env)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr   # the wheel, not the repo

    res = run(script, "run", "fixtures/reports", "--mode", "replay", "--fixtures", "fixtures/llm", "--format", "json",
              cwd=work, env=env)
    assert res.returncode == 0, res.stderr
    done = json.loads(res.stdout)
    assert [r["status"] for r in done["ingest"]] == ["ingested"] * 5
    assert (done["extract"]["cache_hits"], done["extract"]["facts"], done["extract"]["problems"],
            done["extract"]["failed"]) == (10, 98, 22, [])
    assert (work / "gkextract.db").exists()

    res = run(python, "-m", "gkextract", "problems", "--search", "政策解读", "--format", "jsonl", cwd=work, env=env)
    assert res.returncode == 0, res.stderr
    assert [json.loads(line)["category"] for line in res.stdout.splitlines()] == ["policy_interpretation"] * 2
    assert run(python, "-m", "gkextract", "--version", cwd=work, env=env).stdout.strip() == "gkextract 0.1.0"

    # the report page from the wheel's own templates and assets: one file, styles and script inlined
    res = run(python, "-m", "gkextract", "view", "004", "--html", "guanling.html", cwd=work, env=env)
    assert res.returncode == 0, res.stderr
    page = (work / "guanling.html").read_text(encoding="utf-8")
    assert "<title>关岭自治县人民政府 2019 · gkextract</title>" in page and "mark.hl.active" in page
    assert page.count('<li id="item-') == 26 + 6 + 8
