"""The same report as HTML and as DOCX gives the same cells as its text export."""

import html

import docx

from gkextract.ingest import parse_document
from gkextract.read import read_document

from samples import SAMPLES, text


def _blocks(t: str):
    """Sample 001's lines: tab-separated lines are table rows, others paragraphs."""
    rows: list[list[str]] = []
    for line in t.split("\n"):
        if "\t" in line:
            rows.append(line.split("\t"))
            continue
        if rows:
            yield "table", rows
            rows = []
        if line.strip():
            yield "p", line
    if rows:
        yield "table", rows


def _values(parsed):
    return {(c.table, c.row_key, c.col_key): (c.value, c.status) for t in parsed.tables.values() for c in t.cells}


def test_html_tables_give_the_same_cells(tmp_path):
    parts = []
    for kind, block in _blocks(text("001")):
        if kind == "p":
            parts.append(f"<p>{html.escape(block)}</p>")
        else:
            width = max(len(r) for r in block)
            trs = "".join("<tr>" + "".join(f"<td>{html.escape(c) or '&nbsp;'}</td>" for c in r + [""] * (width - len(r)))
                          + "</tr>" for r in block)
            parts.append(f"<table border=1>{trs}</table>")
    p = tmp_path / "001.html"
    p.write_text("<html><head><meta charset='utf-8'></head><body>" + "".join(parts) + "</body></html>",
                 encoding="utf-8")
    from_html = parse_document(read_document(p))
    from_txt = parse_document(read_document(SAMPLES["001"]))
    assert from_html.tables["applications"].layout == "tab_rows"
    assert _values(from_html) == _values(from_txt)
    assert from_html.metadata.issuer == "盐池县政府办公室"
    assert from_html.tables["applications"].cell("disclosed", "commercial").status == "empty"


def test_docx_tables_give_the_same_cells(tmp_path):
    d = docx.Document()
    for kind, block in _blocks(text("001")):
        if kind == "p":
            d.add_paragraph(block)
        else:
            width = max(len(r) for r in block)
            table = d.add_table(rows=len(block), cols=width)
            for i, r in enumerate(block):
                for j, c in enumerate(r):
                    table.cell(i, j).text = c
    p = tmp_path / "001.docx"
    d.save(p)
    from_docx = parse_document(read_document(p))
    assert _values(from_docx) == _values(parse_document(read_document(SAMPLES["001"])))
    assert from_docx.document.format == "docx"
