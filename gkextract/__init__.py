"""gkextract: Chinese government information-disclosure annual reports → SQLite.

The library API (api.py), the same functions the ``gkextract`` command calls::

    import gkextract
    db = gkextract.open_database("gk.db")
    gkextract.ingest_files(db, "reports/")
    gkextract.extract(db, mode="replay", cache_dir="fixtures/llm")   # works inside Jupyter's event loop
    await gkextract.extract_async(db)                                 # on your own loop
    gkextract.problems(db, province="山西", category="政策解读")      # list[Problem]
    gkextract.to_dataframe(gkextract.facts(db, kind="training"))      # pandas, if installed

Names are imported on first use, so ``import gkextract`` (and the CLI) stays quick.
(``ingest_files``, not ``ingest``: ``gkextract.ingest`` is the module that does it.)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "open_database": "api", "ingest_files": "api", "extract": "api", "extract_async": "api", "reports": "api",
    "problems": "api", "improvements": "api", "facts": "api", "counts": "api", "summary": "api",
    "to_dataframe": "api", "Report": "api", "Problem": "api", "Improvement": "api", "Fact": "api",
    "Filters": "queries", "LLMSettings": "llm", "Mode": "llm", "Lang": "domain",
}
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .api import (Fact, Improvement, Problem, Report, counts, extract, extract_async, facts, improvements,
                      ingest_files, open_database, problems, reports, summary, to_dataframe)
    from .domain import Lang
    from .llm import LLMSettings, Mode
    from .queries import Filters


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gkextract' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
