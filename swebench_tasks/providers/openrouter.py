"""OpenRouter: OpenAI-compatible chat; a public model catalog with prices and context lengths."""

from __future__ import annotations

from swebench_tasks.providers import ModelInfo, ProviderInfo
from swebench_tasks.providers._openai_compat import OpenAICompatible, as_int, endpoint

INFO = ProviderInfo(
    name="openrouter",
    label="OpenRouter",
    key_env="OPENROUTER_API_KEY",
    endpoint_env="OPENROUTER_BASE_URL",
    default_url="https://openrouter.ai/api/v1",
    key_page="https://openrouter.ai/keys",
    key_hint="sk-or-...",
    public_catalog=True,
    menu=5,
)


class OpenRouter(OpenAICompatible):
    def model_info(self, row: dict) -> ModelInfo:
        pricing = row.get("pricing") or {}
        return ModelInfo(
            id=str(row["id"]),
            context_length=as_int(row.get("context_length")),
            input_price=_price(pricing.get("prompt")),
            output_price=_price(pricing.get("completion")),
        )

    def validate_key(self) -> None:
        """The model list is public, so check the key on `GET /key` instead."""
        self._require_key()
        self.http.get("/key")


def _price(value: object) -> float | None:
    """USD per token; OpenRouter sends strings, and -1 for 'varies' (router models)."""
    try:
        price = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return price if price >= 0 else None


def create(key: str | None = None, **options) -> OpenRouter:
    return OpenRouter(
        name=INFO.name,
        key_env=INFO.key_env,
        endpoint_env=INFO.endpoint_env,
        base_url=options.get("base_url") or endpoint(INFO.endpoint_env, INFO.default_url),
        key=key,
        extra_headers={"X-Title": "swebench-tasks"},
    )
