"""`gkextract serve`: the report pages, the review queue and the problems-by-region
heatmap as a small local web app on 127.0.0.1 (Starlette, pages from ``pages.py``).

Pages only read.  The one write is ``POST /api/review``, which calls
``review.decide`` — the function the terminal review calls — so the browser
leaves exactly the audit rows ``gkextract review`` would.  The server answers
only to Host 127.0.0.1/localhost and the review API only to JSON, so another
web site open in the same browser cannot post decisions to it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlite_utils
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .domain import LEVELS, Lang, category_label
from .pages import heatmap_svg, index_page, queue_context, render, report_page
from .queries import (EmptyDatabaseError, FilterError, Filters, NotFoundError, group_counts, left_out, list_items,
                      resolve_filters)
from .review import ReviewError, decide, queue
from .store import open_db

HOST = "127.0.0.1"
_STATUS = {NotFoundError: 404, FilterError: 400, ReviewError: 400, EmptyDatabaseError: 409}


def create_app(db_path: Path, reviewer: str, lang: Lang = Lang.zh) -> Starlette:
    """The app over one database file; decisions are recorded under ``reviewer``; categories and
    flags are named in ``lang`` (Chinese by default, as the CLI's tables)."""
    open_db(db_path).close()   # create the schema or bring it up to date once, not per request

    @contextmanager
    def connect() -> Iterator[sqlite_utils.Database]:
        """A connection per request: each runs in its own worker thread."""
        db = sqlite_utils.Database(db_path)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 5000")
        try:
            yield db
        finally:
            db.close()

    def page(build: Callable[[sqlite_utils.Database, Request], str]) -> Callable[[Request], Response]:
        """A sync page handler (Starlette runs it in a worker thread) that renders a known error as a
        page with its status: nothing ingested or extracted yet 409, no such report 404, bad filter 400."""
        def handler(request: Request) -> Response:
            try:
                with connect() as db:
                    return HTMLResponse(build(db, request))
            except tuple(_STATUS) as e:
                status = next(code for kind, code in _STATUS.items() if isinstance(e, kind))   # subclasses too
                title = {409: "Nothing here yet", 404: "Not found"}.get(status, "Bad request")
                return HTMLResponse(render("error.html", lang, served=True, title=title, message=str(e)),
                                    status_code=status)
        return handler

    def index(db: sqlite_utils.Database, request: Request) -> str:
        """Every report, with what waits for review."""
        return index_page(db, lang)

    def report(db: sqlite_utils.Database, request: Request) -> str:
        """One report's text with its quotes highlighted, its items and its tables."""
        return report_page(db, request.path_params["report"], served=True, lang=lang)

    def review_queue(db: sqlite_utils.Database, request: Request) -> str:
        """The items `gkextract review` would ask about, with the same filters; a bad filter is said on the page."""
        q = request.query_params
        params = {k: q.get(k) or None for k in ("report", "province", "category", "kind")}
        try:
            f = resolve_filters(db, Filters(**params))
            items = queue_context(db, queue(db, f), lang)
            error = None
        except FilterError as e:
            items, error = [], str(e)
        return render("queue.html", lang, served=True, items=items, params=params, error=error, reviewer=reviewer)

    def heatmap(db: sqlite_utils.Database, request: Request) -> str:
        """Reports citing each category per province (group_counts), and the items behind a clicked cell."""
        q = request.query_params
        table = q.get("table") if q.get("table") in ("problems", "improvements") else "problems"
        params = {"table": table, "year": q.get("year") or None, "level": q.get("level") or None,
                  "include_flagged": "1" if q.get("include_flagged") else None}
        context: dict[str, Any] = {"table": table, "params": params, "levels": LEVELS, "error": None}
        try:
            year = int(params["year"]) if params["year"] else None
        except ValueError:
            context["error"] = f"year {params['year']!r} is not a number"
            return render("heatmap.html", lang, served=True, **context)
        try:
            f = resolve_filters(db, Filters(year=year, level=params["level"],
                                            include_flagged=bool(params["include_flagged"])))
        except FilterError as e:
            context["error"] = str(e)
            return render("heatmap.html", lang, served=True, **context)
        rows = group_counts(db, table, f, ["province", "category"])
        base = {k: v for k, v in params.items() if v}

        def link(province: str | None, category: str) -> str:
            return "/heatmap?" + urlencode({**base, "cell_province": province or "", "cell_category": category}) \
                + "#cell-items"

        selected = None
        if "cell_category" in q:
            selected = (q.get("cell_province") or None, q["cell_category"])
            listed = [i for i in list_items(db, table, replace(f, category=selected[1]))
                      if i["province"] == selected[0] and (f.include_flagged or i["review_status"] != "pending")]
            context.update(listed=listed, selected_label=f"{selected[0] or '（地区不明）'} · "
                                                         f"{category_label(selected[1], lang)}")
        context.update(svg=heatmap_svg(rows, link, selected, lang), selected=selected,
                       left_out=left_out(db, table, f))
        return render("heatmap.html", lang, served=True, **context)

    async def api_review(request: Request) -> Response:
        """Record one decision: ``{"table", "id", "decision", "changes", "note"}``."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send the decision as application/json"}, status_code=415)
        try:
            body = await request.json()
            args = (str(body["table"]), int(body["id"]), str(body["decision"]))
            changes = body.get("changes") or None
            note = body.get("note")
        except (ValueError, KeyError, TypeError) as e:
            return JSONResponse({"error": f"a decision needs table, id and decision ({e})"}, status_code=400)

        def record() -> dict[str, Any]:
            with connect() as db:
                review_id = decide(db, *args, reviewer, changes, note)
                status = db.execute(f"SELECT review_status FROM {args[0]}_reviewed WHERE id = ?",
                                    [args[1]]).fetchone()[0]
                return {"review_id": review_id, "review_status": status, "reviewer": reviewer}
        try:
            return JSONResponse(await run_in_threadpool(record))
        except ReviewError as e:
            return JSONResponse({"error": str(e)}, status_code=400)

    routes = [Route("/", page(index)), Route("/report/{report}", page(report)),
              Route("/review", page(review_queue)), Route("/heatmap", page(heatmap)),
              Route("/api/review", api_review, methods=["POST"])]
    return Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=[HOST, "localhost"])])


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (port 0: any free one); OSError if the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def make_server(app: Starlette) -> uvicorn.Server:
    """A quiet uvicorn server for the app; ``.run(sockets=[bind(port)])`` serves until Ctrl-C
    (or until ``should_exit`` is set, as the browser tests do)."""
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
