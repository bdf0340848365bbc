"""Moved to queries.py (issue 11).  This alias keeps `gkextract.query` importable for code written
against the old layout (branch i11's web app); import from gkextract.queries instead, and delete
this file once nothing imports it."""

from .queries import *  # noqa: F401,F403
