"""Read a report file (txt, html, docx, pdf) into one plain text.

Everything downstream works on a single string, so every format is reduced to
lines; tables become one line per row with its cells separated by tabs, framed
by blank lines.  A merged cell is one cell: the positions it covers are not
written at all, so no blank is ever invented (a blank written there would be
read as an empty cell and shift the row).  An empty cell the table really has
stays an empty field.  Plain text and Markdown are returned verbatim because
evidence offsets point into them.  HTML pages also yield the metadata that
government CMSs put in ``<title>`` and ``<meta>`` tags.  Anything that is not a
readable report raises ``ReadError`` with a message meant for the user, never
a library exception.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import charset_normalizer
import docx
import lxml.etree
import lxml.html
import pdfplumber
from docx.oxml.ns import qn

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".html", ".htm", ".docx", ".pdf")


class ReadError(Exception):
    """A file that cannot be read as a report; str(e) is a clear, user-facing message."""


@dataclass(frozen=True)
class Document:
    path: str             # as given
    format: str           # "txt" | "md" | "html" | "docx" | "pdf"
    text: str             # the full report text; original characters, not normalised
    encoding: str | None  # e.g. "utf-8", "utf-8-sig", "gb18030"; None for docx/pdf
    meta: dict[str, str] = field(default_factory=dict)  # HTML: title, ArticleTitle, PubDate …


_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def display_path(path: str | Path) -> str:
    """A file name as text that is safe to store and print.

    Bytes that are not UTF-8 (surrogate-escaped by the OS layer) and control
    characters are written as ``\\xNN``; any other name is unchanged.  The
    exact bytes are ``os.fsencode(path)``.
    """
    text = os.fsencode(path).decode("utf-8", errors="backslashreplace")
    return _UNSAFE_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def read_document(path: str | Path) -> Document:
    """Read ``path`` by its suffix; raise ReadError if it is not a readable report."""
    name = display_path(path)
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ReadError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise ReadError(f"{name}: is a directory, not a file") from None
    except OSError as e:
        raise ReadError(f"{name}: cannot read file ({e.strerror or e})") from None

    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{p.suffix}'" if p.suffix else "no suffix"
        raise ReadError(f"{name}: unsupported file type ({shown}); "
                        f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if not data.strip():
        raise ReadError(f"{name}: empty file")

    if suffix in (".txt", ".md"):
        text, encoding = _decode(data, name, declared=None)
        return Document(name, suffix[1:], _require_text(text, name), encoding)
    if suffix in (".html", ".htm"):
        text, encoding = _decode(data, name, declared=_declared_charset(data))
        body, meta = _html_text(text, name)
        return Document(name, "html", _require_text(body, name), encoding, meta)
    if suffix == ".docx":
        return Document(name, "docx", _require_text(_docx_text(data, name), name), None)
    return Document(name, "pdf", _pdf_text(data, name), None)


def _require_text(text: str, name: str) -> str:
    """Whitespace-only content (full-width spaces included) is as good as empty."""
    if not text.strip():
        raise ReadError(f"{name}: empty file (it contains no text)")
    return text


# --- encodings and binary detection -------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc/.xls before 2007
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or Office document"),
    (b"PK\x05\x06", "a ZIP archive"),
    (_OLE_MAGIC, "a legacy Office document (.doc/.xls)"),
    (b"\x7fELF", "an executable"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)
# C0 controls other than \t \n \v \f \r, and DEL.  None of these bytes can be part
# of a UTF-8 or GB18030 multibyte character, so counting raw bytes is safe.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
_MAX_CONTROL_SHARE = 0.05
# charset-normalizer's "mess" ratio above which its best guess is not trusted.
_MAX_CHAOS = 0.1


def _decode(data: bytes, name: str, declared: str | None) -> tuple[str, str]:
    """Decode text bytes verbatim: BOM, then the declared charset, then detection."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise ReadError(f"{name}: binary file, not a report (looks like {kind})")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise ReadError(f"{name}: starts with a UTF-8 byte-order mark but is not valid "
                            f"UTF-8 (bad byte at offset {e.start + 3})") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ReadError(f"{name}: starts with a UTF-16 byte-order mark "
                            f"but is not valid UTF-16") from None
    if b"\x00" in data:
        raise ReadError(f"{name}: binary file, not a report (contains NUL bytes)")
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > _MAX_CONTROL_SHARE * len(data):
        raise ReadError(f"{name}: binary file, not a report (too many control characters)")

    if declared:
        try:
            return data.decode(declared), declared
        except UnicodeDecodeError:
            pass  # a wrong declaration is common; detect instead
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_error = e.start
    try:
        text = data.decode("gb18030")
        if _gb2312_share(text) >= _MIN_GB2312_SHARE:
            return text, "gb18030"
        gb_error = None
    except UnicodeDecodeError as e:
        gb_error = e.start
    if _is_big5(data):
        raise ReadError(f"{name}: the text is Big5-encoded traditional Chinese (as used in Taiwan and "
                        f"Hong Kong); gkextract reads mainland reports in simplified Chinese "
                        f"(UTF-8 or GB18030/GBK) — convert the file first")
    if gb_error is None:
        return text, "gb18030"
    best = charset_normalizer.from_bytes(data).best()
    if best is None or best.chaos > _MAX_CHAOS:
        raise ReadError(f"{name}: cannot determine the text encoding (not valid UTF-8: bad byte "
                        f"at offset {utf8_error}; not valid GB18030: bad byte at offset {gb_error})")
    return str(best), codecs.lookup(best.encoding).name


# Mainland text in GBK keeps to GB2312's characters almost entirely (the samples: 97-100 %
# of their non-Latin characters); Big5 bytes read as GB18030 give about a third.
_MIN_GB2312_SHARE = 0.8


def _gb2312_share(text: str) -> float:
    """The share of characters beyond Latin-1 that GB2312 has."""
    wide = [c for c in text if ord(c) > 0xFF]
    if not wide:
        return 1.0
    return sum(1 for c in wide if _in_gb2312(c)) / len(wide)


@lru_cache(maxsize=None)
def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def _is_big5(data: bytes) -> bool:
    """Valid Big5 whose characters are mostly CJK ideographs and punctuation."""
    try:
        text = data.decode("big5")
    except UnicodeDecodeError:
        return False
    wide = [c for c in text if ord(c) > 0xFF]
    cjk = sum(1 for c in wide if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef")
    return bool(wide) and cjk >= 0.9 * len(wide)


_META_CHARSET_RE = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([a-z0-9_.:-]+)", re.I)
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "x-gbk", "euc-cn", "csgb2312", "gb_2312-80"}
# Declarations that cannot be right: Western single-byte charsets are template
# defaults (and decode any bytes, so would never fail over to detection), and an
# ASCII-readable <meta> cannot be UTF-16/32 (the HTML standard ignores those too).
_IGNORED_DECLARATIONS = {"iso8859-1", "cp1252", "ascii"}


def _declared_charset(data: bytes) -> str | None:
    """The codec named by a <meta> charset near the top, if Python knows it.

    GB2312/GBK declarations are decoded as GB18030, their superset, because
    pages declared GB2312 routinely contain GBK characters.
    """
    m = _META_CHARSET_RE.search(data[:4096])
    if not m:
        return None
    label = m.group(1).decode("ascii").lower()
    if label in _GB_FAMILY:
        return "gb18030"
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None
    if codec in _IGNORED_DECLARATIONS or codec.startswith(("utf-16", "utf-32")):
        return None
    return codec


# --- output lines -------------------------------------------------------------------------

class _Lines:
    """Output lines: text lines, and tables as tab-separated rows framed by blank lines."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def line(self, text: str) -> None:
        if text and not text.isspace():
            self._lines.append(text)

    def table(self, rows: list[list[str]]) -> None:
        if not any(any(row) for row in rows):
            return  # spacer or empty table: nothing to say
        self._blank()
        self._lines.extend("\t".join(row) for row in rows)
        self._blank()

    def _blank(self) -> None:
        if self._lines and self._lines[-1] != "":
            self._lines.append("")

    def text(self) -> str:
        while self._lines and self._lines[-1] == "":
            self._lines.pop()
        return "\n".join(self._lines) + "\n" if self._lines else ""


_CELL_SPACE_RE = re.compile(r"\s+")


def _cell_text(text: str) -> str:
    """Cell text on one line: whitespace runs (nbsp and U+3000 too) become one space."""
    return _CELL_SPACE_RE.sub(" ", text).strip()


# --- HTML ---------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main", "menu", "nav", "ol", "p",
    "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
_DROPPED_TAGS = ("head", "script", "style", "noscript", "template")
_HTML_SPACE_RE = re.compile(r"[ \t\n\r\f]+")  # HTML's whitespace; nbsp and U+3000 are text
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_MAX_COLSPAN = 1000  # the HTML standard's limit


_META_NAMES = ("ArticleTitle", "PubDate", "ContentSource", "SiteName", "ColumnName")


def _html_text(text: str, name: str) -> tuple[str, dict[str, str]]:
    """Block elements become lines; leaf tables with 2+ columns become rows of cells.

    A table that contains another table, or has a single column, is page
    layout (old government sites wrap the whole report in one): its cells are
    read like any other block, so the tables inside it still come out as rows.
    Also returns the page's ``<title>`` and the CMS ``<meta>`` tags named in
    ``_META_NAMES``, which metadata uses for the issuer and publication date.
    """
    # huge_tree lifts libxml2's nesting limit of 256, which Word-exported pages can
    # exceed; past its hard limit libxml2 silently drops the rest, so say so.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True,
                                  huge_tree=True)
    try:
        root = lxml.html.document_fromstring(
            _XML_DECL_RE.sub("", text).encode("utf-8"), parser=parser)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError) as e:
        raise ReadError(f"{name}: cannot parse HTML ({e})") from None
    if any("Excessive depth" in error.message for error in parser.error_log):
        raise ReadError(f"{name}: HTML elements are nested too deeply to read")
    meta = _html_meta(root)
    for el in list(root.iter(*_DROPPED_TAGS)):
        el.drop_tree()

    out = _Lines()
    inline: list[str] = []

    def newline() -> None:
        out.line(_HTML_SPACE_RE.sub(" ", "".join(inline)).strip(" "))
        inline.clear()

    # Iterative, not recursive: nesting can be deeper than Python's recursion limit.
    walk = lxml.etree.iterwalk(root, events=("start", "end"))
    for event, el in walk:
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if event == "end":
            if tag in _BLOCK_TAGS or tag == "br":
                newline()
            if el.tail:
                inline.append(el.tail)
        elif tag == "pre":
            newline()
            for line in el.text_content().splitlines():
                out.line(line.rstrip())
            walk.skip_subtree()
        elif tag == "table" and (rows := _html_rows(el)):
            newline()
            caption = el.find("caption")
            if caption is not None:
                out.line(_cell_text(caption.text_content()))
            out.table(rows)
            walk.skip_subtree()
        else:
            if tag in _BLOCK_TAGS:
                newline()
            if el.text:
                inline.append(el.text)
    newline()
    return out.text(), meta


def _html_meta(root: lxml.html.HtmlElement) -> dict[str, str]:
    meta: dict[str, str] = {}
    title = root.find(".//title")
    if title is not None and (t := _cell_text(title.text_content())):
        meta["title"] = t
    wanted = {n.lower(): n for n in _META_NAMES}
    for el in root.iter("meta"):
        key = wanted.get((el.get("name") or "").strip().lower())
        value = _cell_text(el.get("content") or "")
        if key and value and key not in meta:
            meta[key] = value
    return meta


_MAX_CELLS = 200_000  # a table larger than this is not a report table: read as blocks


def _html_rows(table: lxml.html.HtmlElement) -> list[list[str]] | None:
    """The table's rows as lists of their real cells, or None if it is a layout table.

    Cells come in document order, which is left to right; positions covered by
    another cell's rowspan/colspan are simply not there.  No grid is built, so
    a hostile ``rowspan=0 colspan=1000`` costs nothing.
    """
    if table.find(".//table") is not None:
        return None
    rows: list[list[str]] = []
    width = 0
    n_cells = 0
    for tr in table.iter("tr"):
        cells = [c for c in tr if isinstance(c.tag, str) and c.tag.lower() in ("td", "th")]
        n_cells += len(cells)
        if n_cells > _MAX_CELLS:
            return None
        width = max(width, sum(min(max(_span(c.get("colspan")), 1), _MAX_COLSPAN) for c in cells))
        rows.append([_cell_text(c.text_content()) for c in cells])
    if width <= 1:
        return None
    return rows


def _span(value: str | None) -> int:
    """A rowspan/colspan attribute as browsers read it: leading digits, else 1."""
    m = re.match(r"\s*(\d+)", value or "")
    return int(m.group(1)) if m else 1


# --- DOCX ---------------------------------------------------------------------------------

_W_P, _W_TBL, _W_SDT, _W_SDT_CONTENT = qn("w:p"), qn("w:tbl"), qn("w:sdt"), qn("w:sdtContent")


def _docx_text(data: bytes, name: str) -> str:
    """Paragraphs and tables in document order (python-docx alone lists tables apart)."""
    if data.startswith(_OLE_MAGIC):
        raise ReadError(f"{name}: this is an old Word .doc file named .docx; "
                        f"save it as .docx (or .pdf) first")
    if not data.startswith(b"PK\x03\x04"):
        raise ReadError(f"{name}: not a valid .docx file (not a ZIP archive)")
    try:
        document = docx.Document(io.BytesIO(data))
        out = _Lines()
        _docx_blocks(document.element.body, document, out)
    except zipfile.BadZipFile as e:
        raise ReadError(f"{name}: not a valid .docx file (damaged ZIP archive: {e})") from None
    except Exception as e:  # python-docx and lxml raise many kinds on malformed packages
        raise ReadError(f"{name}: not a valid .docx file ({type(e).__name__}: {e})") from None
    return out.text()


def _docx_blocks(container: Any, parent: Any, out: _Lines) -> None:
    """Emit the paragraphs and tables directly inside a body or cell, in order."""
    for child in container.iterchildren():
        if child.tag == _W_P:
            for line in _docx_paragraph_text(child).split("\n"):
                out.line(line)
        elif child.tag == _W_TBL:
            _docx_table(child, parent, out)
        elif child.tag == _W_SDT:  # block content control: its blocks sit in sdtContent
            for content in child.iterchildren(_W_SDT_CONTENT):
                _docx_blocks(content, parent, out)


def _docx_paragraph_text(p: Any) -> str:
    """The paragraph's visible text, tracked insertions included, deletions not.

    python-docx's ``Paragraph.text`` only sees runs that are direct children, so
    it drops the text inside smart tags — which Chinese Word wraps around dates
    ("2019年1月1日") — inline content controls, fields and tracked insertions.
    Runs inside text boxes belong to the text box's own paragraphs: skipped.
    """
    runs = p.xpath(".//w:r[not(ancestor::w:del or ancestor::w:moveFrom"
                   " or ancestor::w:txbxContent)]")
    return "".join(r.text for r in runs)


_W_TR, _W_TC, _W_VMERGE, _W_VAL = qn("w:tr"), qn("w:tc"), qn("w:vMerge"), qn("w:val")


def _docx_table(tbl: Any, parent: Any, out: _Lines) -> None:
    """Rows of real cells: a cell merged across columns is one ``<w:tc>``, and a
    cell continuing a vertical merge (``<w:vMerge/>`` without ``restart``) is not
    written, so merges never turn into blank cells.

    Like HTML, a table holding another table or a single column is layout, so
    its cells are read as ordinary blocks.
    """
    rows: list[list[str]] = []
    cells: list[Any] = []
    width = 0
    for tr in tbl.iterchildren(_W_TR):
        texts: list[str] = []
        span_total = 0
        for tc in tr.iterchildren(_W_TC):
            props = tc.tcPr
            span_total += props.grid_span if props is not None else 1
            vmerge = props.find(_W_VMERGE) if props is not None else None
            if vmerge is not None and vmerge.get(_W_VAL) != "restart":
                continue
            cells.append(tc)
            paragraphs = tc.xpath("./w:p | ./w:sdt/w:sdtContent/w:p")
            texts.append(_cell_text(" ".join(_docx_paragraph_text(p) for p in paragraphs)))
        width = max(width, span_total)
        rows.append(texts)
    if tbl.find(f".//{_W_TBL}") is not None or width <= 1:
        for tc in cells:
            _docx_blocks(tc, parent, out)
    else:
        out.table(rows)


# --- PDF ----------------------------------------------------------------------------------

def _pdf_text(data: bytes, name: str) -> str:
    """Per page, ruled tables as grids and the text around them, top to bottom."""
    if b"%PDF-" not in data[:1024]:
        raise ReadError(f"{name}: not a PDF file (no %PDF header)")
    out = _Lines()
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            if not pdf.pages:
                raise ReadError(f"{name}: corrupt PDF (no pages found)")
            for page in pdf.pages:
                _pdf_page(page, out)
                page.close()
    except ReadError:
        raise
    except Exception as e:  # pdfminer raises many kinds on damaged or encrypted files
        raise ReadError(f"{name}: corrupt or unreadable PDF ({type(e).__name__}: {e})") from None
    text = out.text()
    if not text.strip():
        raise ReadError(f"{name}: PDF has no extractable text (a scanned image?); "
                        f"it needs OCR before it can be read")
    return text


def _pdf_page(page: Any, out: _Lines) -> None:
    tables = page.find_tables()
    bboxes = [t.bbox for t in tables]
    items: list[tuple[float, str | list[list[str]]]] = [
        (line["top"], line["text"])
        for line in page.filter(_outside(bboxes)).extract_text_lines(return_chars=False)
    ]
    for table in tables:  # a cell's line breaks are only wrapping: join them
        # None is a position covered by a merged cell: not a cell, so not written.
        rows = [[cell.replace("\n", "") for cell in row if cell is not None] for row in table.extract()]
        items.append((table.bbox[1], rows))
    for _, item in sorted(items, key=lambda item: item[0]):
        if isinstance(item, str):
            out.line(item)
        else:
            out.table(item)


def _outside(bboxes: list[tuple[float, float, float, float]]) -> Callable[[dict], bool]:
    """A page.filter test keeping objects whose centre lies in none of the boxes."""
    def test(obj: dict) -> bool:
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= x < x1 and top <= y < bottom for x0, top, x1, bottom in bboxes)
    return test

