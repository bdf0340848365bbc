"""The corpus golds in every shape users have, through read_document → parse_document.

Matrix: every gold report with a 2019/2021 template that is not a ``same_report_as``
duplicate × every shape of tests/shapes.py × two variants (the gold, and ``blank_zeros``:
every 0 of tables 三 and 四 left blank, as most real reports write zero), plus every
original corpus file as shape ``original`` (cells the gold lists as ``uncertain`` not
scored; a pre-2019 report has no cells, only its metadata is checked).

* (a) no cell anywhere is ``wrong``: a value where the gold has another value or a blank;
* (b) shapes that keep every cell in place (html, docx, pdf, the tab/pipe/markdown text
  exports, GBK) give every cell exactly: the gold value, or a blank with status ``empty``;
* (c) lossy shapes (blank cells vanish: blank_separated, one_line, pdf_text) give the
  gold value or say ``misaligned`` for every cell — never a guess, never a silent NULL;
* (d) issuer and year are right in every shape.

Each (report, variant) is rendered once per session and each file parsed once, whatever
the number of tests that look at it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import shapes

GOLDS = {shapes.report_name(g): g for g in shapes.load_golds()}
RENDERED = [n for n, g in GOLDS.items() if shapes.renderable(g)]

CASES = [(n, v, s) for n in RENDERED for v in shapes.VARIANTS for s in shapes.SHAPES]
ORIGINALS = [(n, "gold", "original") for n in GOLDS]
FULL = [c for c in CASES if c[2] in shapes.FULL_SHAPES]
LOSSY = [c for c in CASES if c[2] in shapes.LOSSY_SHAPES]


def _id(case: tuple[str, str, str]) -> str:
    return "-".join(case)


_files: dict[tuple[str, str], dict[str, Path]] = {}
_scores: dict[tuple[str, str, str], shapes.Score] = {}


@pytest.fixture(scope="session")
def shape_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus_shapes")


def _gold(name: str, variant: str) -> dict:
    return shapes.variant(GOLDS[name], variant)


def outcome(case: tuple[str, str, str], folder: Path) -> shapes.Score:
    """The parsed and scored file for a case, rendered and parsed at most once a session."""
    if case in _scores:
        return _scores[case]
    name, variant, shape = case
    gold = _gold(name, variant)
    if shape == "original":
        s = shapes.score(shapes.CORPUS_DIR / gold["file"], gold, set(gold.get("uncertain") or ()))
    else:
        key = (name, variant)
        if key not in _files:
            rendered = shapes.render(gold, shapes.corpus_narrative(GOLDS[name]))
            paths = {}
            for sh, (suffix, data) in rendered.items():
                p = folder / f"{name}.{variant}.{sh}{suffix}"
                p.write_bytes(data)
                paths[sh] = p
            _files[key] = paths
        s = shapes.score(_files[key][shape], gold)
    _scores[case] = s
    return s


def _show(cells: dict[str, tuple], limit: int = 25) -> str:
    lines = [f"  {k}: gold {gv!r}, parsed {v!r} (status {st})"
             for k, (_o, gv, v, st) in list(cells.items())[:limit]]
    more = len(cells) - limit
    return "\n".join(lines + ([f"  … and {more} more"] if more > 0 else []))


def _error(s: shapes.Score) -> str:
    return f"\nparse error: {s.error}" if s.error else ""


@pytest.mark.parametrize("case", CASES + ORIGINALS, ids=_id)
def test_no_cell_is_wrong(case, shape_dir):
    s = outcome(case, shape_dir)
    wrong = s.where("wrong")
    assert not wrong, f"{len(wrong)} cells hold a value the report does not have:\n{_show(wrong)}"


@pytest.mark.parametrize("case", FULL, ids=_id)
def test_full_shape_gives_every_cell(case, shape_dir):
    s = outcome(case, shape_dir)
    off = s.where("wrong", "null", "misaligned")
    assert not off, (f"{len(off)} of {len(s.cells)} cells differ from the gold:\n{_show(off)}"
                     f"{_error(s)}")


@pytest.mark.parametrize("case", LOSSY, ids=_id)
def test_lossy_shape_gives_gold_or_misaligned(case, shape_dir):
    s = outcome(case, shape_dir)
    off = s.where("wrong", "null")
    assert not off, (f"{len(off)} cells are neither the gold value nor marked misaligned:\n"
                     f"{_show(off)}{_error(s)}")


@pytest.mark.parametrize("case", CASES + ORIGINALS, ids=_id)
def test_issuer_and_year(case, shape_dir):
    s = outcome(case, shape_dir)
    m = GOLDS[case[0]]["metadata"]
    assert (s.issuer[1], s.year[1]) == (m["issuer"], m["year"]), _error(s)


# --- the renderer itself, read back with independent readers ------------------------------------
# These check tests/shapes.py, not gkextract: a failure above should be the parser's.

def _squash(s: str | None) -> str:
    return "".join((s or "").split())


def _html_grids(path: Path) -> list[list[list[str]]]:
    import lxml.html
    grids = []
    for table in lxml.html.parse(str(path)).getroot().iter("table"):
        taken: dict[tuple[int, int], str] = {}
        rows = list(table.iter("tr"))
        for r, tr in enumerate(rows):
            c = 0
            for td in tr.iter("td"):
                while (r, c) in taken:
                    c += 1
                rs, cs = int(td.get("rowspan", 1)), int(td.get("colspan", 1))
                for dr in range(rs):
                    for dc in range(cs):
                        taken[(r + dr, c + dc)] = ""
                taken[(r, c)] = _squash(td.text_content())
                c += cs
        width = max(c for _, c in taken) + 1
        grids.append([[taken[(r, c)] for c in range(width)] for r in range(len(rows))])
    return grids


def _docx_grids(path: Path) -> list[list[list[str]]]:
    import docx
    grids = []
    for table in docx.Document(str(path)).tables:
        seen: set = set()  # <w:tc> elements (kept alive here, so identity is stable)
        grid = []
        for row in table.rows:
            texts = []
            for cell in row.cells:
                texts.append("" if cell._tc in seen else _squash(cell.text))
                seen.add(cell._tc)
            grid.append(texts)
        grids.append(grid)
    return grids


def _expected(name: str, variant: str) -> list[list[list[str]]]:
    models = shapes.build_tables(_gold(name, variant))
    return [[[_squash(x) for x in row] for row in models[k].text_grid()]
            for k in ("proactive", "applications", "review_litigation")]


READBACK = [c for c in CASES if c[2] in ("html_article", "html_page", "docx", "pdf")]


@pytest.mark.parametrize("case", READBACK, ids=_id)
def test_renderer_tables_read_back(case, shape_dir):
    name, variant, shape = case
    outcome(case, shape_dir)  # renders the files
    path = _files[(name, variant)][shape]
    expected = _expected(name, variant)
    if shape == "pdf":
        import pdfplumber
        with pdfplumber.open(path) as pdf:
            got = [_squash(cell) for page in pdf.pages for table in page.extract_tables()
                   for row in table for cell in row if _squash(cell)]
        # pdfplumber drops grid columns no rule separates: compare the cells in order
        assert got == [x for grid in expected for row in grid for x in row if x]
    else:
        grids = _html_grids(path) if shape.startswith("html") else _docx_grids(path)
        assert grids == expected
