"""Keep API keys out of everything stored or printed.

A server may echo the key in an error body ("Incorrect API key provided:
sk-…"), and an error object may carry request headers.  Every error and raw
body that is stored in the database or printed passes through ``redact``:
anything that looks like a key (``sk-…``, ``Bearer …``, ``api_key=…``) and the
configured key itself (``register_secret``) become ``[redacted]``.
"""

from __future__ import annotations

import re

_KEY_LIKE = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{4,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{4,}"),
    re.compile(r"""(?i)(["']?(?:api[_-]?key|authorization|x-api-key)["']?\s*[:=]\s*["']?)(?!bearer\b|\[redacted)"""
               r"""[^"'\s,;}]{4,}"""),
)
_secrets: set[str] = set()
REDACTED = "[redacted]"


def register_secret(value: str | None) -> None:
    """Redact this exact value wherever it appears from now on (the configured API key)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str | None) -> str | None:
    """Every reply passes through here, so each pattern runs only where it could match.

    The tests are necessary conditions, so the result is what the three
    substitutions give: ``sk-`` is literal; a bearer token contains "bearer"
    and a key assignment "api" or "auth" in any case.  re's IGNORECASE folds
    these letters only to their ASCII capitals, as ``str.lower`` does, except
    i, which also matches İ (lowered to "i̇") and ı (lowered to itself).
    """
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    if "sk-" in text:
        text = _KEY_LIKE[0].sub(REDACTED, text)
    lower = text.lower()
    if "bearer" in lower:
        text = _KEY_LIKE[1].sub("Bearer " + REDACTED, text)
    if "api" in lower or "apı" in lower or "auth" in lower:
        text = _KEY_LIKE[2].sub(lambda m: m.group(1) + REDACTED, text)
    return text


def clip(text: str | None, limit: int = 2000) -> str | None:
    """At most ``limit`` characters, saying how much was cut."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters]"
