"""``python -m gkextract``: the same as the ``gkextract`` command."""

from .cli import app

app(prog_name="gkextract")
