"""What the LLM calls cost: prices per model, from config, and the money a database has spent.

Prices are per million tokens, split into uncached input, cached input (the
part of the prompt the provider served from its prompt cache, reported as
``usage.prompt_tokens_details.cached_tokens``) and output; the Batch API bills
a share of that (``batch_discount``: 0.5 means half price).

The defaults are OpenAI's list prices in USD as third-party copies of its
pricing page gave them (looked up 2026-12-05, pages dated 2026-03 to 2026-11).
They are not guaranteed: check them against your provider's page and set your
own in the config file, which wins::

    [prices."deepseek-chat"]
    input = 0.27          # per million uncached input tokens
    cached_input = 0.07
    output = 1.10
    batch_discount = 1.0  # no batch price
    currency = "USD"
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import sqlite_utils

PRICES_CHECKED = "2026-12-05"


@dataclass(frozen=True)
class Price:
    input: float           # per million uncached input tokens
    cached_input: float    # per million cached input tokens
    output: float          # per million output tokens
    batch_discount: float = 0.5   # batch calls cost this share of the online price
    currency: str = "USD"
    source: str = f"default list price, checked {PRICES_CHECKED}"

    def cost(self, prompt: int, cached: int, completion: int, batch: bool = False) -> float:
        """Money for one call (or a sum of calls): cached tokens are part of ``prompt``."""
        money = ((prompt - cached) * self.input + cached * self.cached_input + completion * self.output) / 1e6
        return money * (self.batch_discount if batch else 1.0)


DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.075, 0.60),
    "gpt-4o": Price(2.50, 1.25, 10.00),
    "gpt-4.1": Price(2.00, 0.50, 8.00),
    "gpt-4.1-mini": Price(0.40, 0.10, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.025, 0.40),
}


class PriceError(ValueError):
    pass


def load_prices(config: Path | None = None) -> dict[str, Price]:
    """The defaults, overridden model by model by the config file's ``[prices."model"]`` tables."""
    prices = dict(DEFAULT_PRICES)
    path = config or Path(os.environ.get("GKEXTRACT_CONFIG", Path.home() / ".config" / "gkextract" / "config.toml"))
    if not path.is_file():
        return prices
    with path.open("rb") as f:
        try:
            table = tomllib.load(f).get("prices", {})
        except tomllib.TOMLDecodeError as e:
            raise PriceError(f"config file {path} is not valid TOML: {e}") from None
    known = {f.name for f in fields(Price)} - {"source"}
    for model, values in table.items():
        if not isinstance(values, dict) or set(values) - known:
            raise PriceError(f"[prices.{model!r}] in {path}: give input, cached_input, output "
                             "(per million tokens), and optionally batch_discount and currency")
        base = prices.get(model)
        try:
            merged = {**(base.__dict__ if base else {}), **values, "source": f"config {path}"}
            price = Price(**{k: v for k, v in merged.items()})
            numbers = (price.input, price.cached_input, price.output, price.batch_discount)
            if not all(isinstance(x, (int, float)) and math.isfinite(x) and x >= 0 for x in numbers):
                raise TypeError
        except TypeError:
            raise PriceError(f"[prices.{model!r}] in {path}: input, cached_input and output must all be "
                             "given, as numbers ≥ 0") from None
        prices[model] = price
    return prices


def price_for(prices: dict[str, Price], model: str) -> Price | None:
    """The model's price; a dated snapshot (gpt-4o-mini-2024-07-18) falls back to its base name."""
    if model in prices:
        return prices[model]
    dated = len(model) > 11 and model[-11] == "-" and model[-10:].replace("-", "").isdigit()
    return prices.get(model[:-11]) if dated else None


def cost_rows(db: sqlite_utils.Database, prices: dict[str, Price]) -> list[dict[str, Any]]:
    """Tokens and money per model and channel (online/batch), cached and uncached input apart.

    Money is None, not 0, for a model without a price: say it, never guess it.
    """
    rows = []
    for model, channel, calls, prompt, cached, completion in db.execute(
            "SELECT model, channel, count(*), sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens) "
            "FROM llm_calls GROUP BY model, channel ORDER BY model, channel"):
        price = price_for(prices, model)
        batch = channel == "batch"
        money = None if price is None else {
            "uncached_input": price.cost(prompt - cached, 0, 0, batch),
            "cached_input": price.cost(cached, cached, 0, batch),
            "output": price.cost(0, 0, completion, batch)}
        rows.append(dict(model=model, channel=channel, calls=calls, prompt_tokens=prompt,
                         uncached_tokens=prompt - cached, cached_tokens=cached, completion_tokens=completion,
                         cached_share=round(cached / prompt, 3) if prompt else None,
                         cost_uncached_input=None if money is None else round(money["uncached_input"], 6),
                         cost_cached_input=None if money is None else round(money["cached_input"], 6),
                         cost_output=None if money is None else round(money["output"], 6),
                         cost=None if money is None else round(sum(money.values()), 6),
                         currency=price.currency if price else None,
                         price_source=price.source if price else "no price: set [prices] in the config"))
    return rows


def required_price(prices: dict[str, Price], model: str) -> Price:
    """The model's price, or a PriceError saying how to set one (--max-cost cannot work without it)."""
    price = price_for(prices, model)
    if price is None:
        raise PriceError(f"no price for model {model!r}: --max-cost needs one; set [prices.{model!r}] "
                         "(input, cached_input, output per million tokens) in the config file")
    return price


