"""Rough USD cost of a run: list prices of well-known models; catalog prices win.

Informational only (the wizard shows an estimate; nothing is blocked on it). Prices are
per million tokens as the providers publish them; a dated or provider-prefixed id
(`openai/gpt-4o-mini-2024-07-18`) matches its family by longest prefix.
"""

from __future__ import annotations

from swebench_tasks.providers import NAMES, ModelInfo, info

# model family -> (USD per 1M input tokens, USD per 1M output tokens)
PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "o1-mini": (1.10, 4.40),
    "o1": (15.00, 60.00),
    "claude-3-haiku": (0.25, 1.25),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-sonnet": (3.00, 15.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-opus": (15.00, 75.00),
    "claude-opus-4": (15.00, 75.00),
}


def price(model: str) -> tuple[float, float] | None:
    """USD per (input, output) token for a known model family, else None."""
    name = model.rsplit("/", 1)[-1].lower()
    matches = [family for family in PER_MILLION if name.startswith(family)]
    if not matches:
        return None
    per_in, per_out = PER_MILLION[max(matches, key=len)]
    return per_in / 1e6, per_out / 1e6


def estimate(
    model: str,
    input_tokens: int,
    output_tokens: int,
    catalog_info: ModelInfo | None = None,
    *,
    provider: str | None = None,
) -> float | None:
    """The cost in USD, or None when unknown. A local Ollama model costs nothing."""
    if provider in NAMES and info(provider).local:
        return 0.0
    if catalog_info is not None and catalog_info.input_price is not None and catalog_info.output_price is not None:
        per_in, per_out = catalog_info.input_price, catalog_info.output_price
    else:
        known = price(model)
        if known is None:
            return None
        per_in, per_out = known
    return round(input_tokens * per_in + output_tokens * per_out, 6)
