"""OpenAI: `OPENAI_BASE_URL` (default https://api.openai.com/v1), Bearer `OPENAI_API_KEY`."""

from __future__ import annotations

from swebench_tasks.providers._openai_compat import OpenAICompatible, endpoint

DEFAULT_URL = "https://api.openai.com/v1"


def create(key: str | None = None, **options) -> OpenAICompatible:
    return OpenAICompatible(
        name="openai", key_env="OPENAI_API_KEY", endpoint_env="OPENAI_BASE_URL",
        base_url=options.get("base_url") or endpoint("OPENAI_BASE_URL", DEFAULT_URL), key=key,
    )
