"""OpenAI: `OPENAI_BASE_URL` (default https://api.openai.com/v1), Bearer `OPENAI_API_KEY`."""

from __future__ import annotations

from swebench_tasks.providers import ProviderInfo
from swebench_tasks.providers._openai_compat import OpenAICompatible, endpoint

INFO = ProviderInfo(
    name="openai",
    label="OpenAI API",
    key_env="OPENAI_API_KEY",
    endpoint_env="OPENAI_BASE_URL",
    default_url="https://api.openai.com/v1",
    key_page="https://platform.openai.com/api-keys",
    key_hint="sk-...",
    menu=4,
)


def create(key: str | None = None, **options) -> OpenAICompatible:
    return OpenAICompatible(
        name=INFO.name,
        key_env=INFO.key_env,
        endpoint_env=INFO.endpoint_env,
        base_url=options.get("base_url") or endpoint(INFO.endpoint_env, INFO.default_url),
        key=key,
    )
