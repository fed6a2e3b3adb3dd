"""Hugging Face: the OpenAI-compatible router for models and chat; the Hub checks the token.

When the router cannot list models (older deployments, a 404), a curated list stands in;
`check_model` proves a chosen id with one live request.
"""

from __future__ import annotations

from dataclasses import dataclass

from swebench_tasks.errors import AuthError, ProviderError
from swebench_tasks.providers import ModelInfo, ProviderInfo
from swebench_tasks.providers._openai_compat import OpenAICompatible, endpoint

INFO = ProviderInfo(
    name="huggingface",
    label="Hugging Face Inference API",
    key_env="HF_TOKEN",
    endpoint_env="HF_ROUTER_URL",
    default_url="https://router.huggingface.co/v1",
    key_page="https://huggingface.co/settings/tokens",
    key_hint="starts with hf_",
    menu=2,
)
HUB_URL = "https://huggingface.co"
CURATED = (
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.3-70B-Instruct",
    "Qwen/Qwen2.5-Coder-32B-Instruct",
    "Qwen/Qwen2.5-72B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "deepseek-ai/DeepSeek-V3",
)


@dataclass
class HuggingFace(OpenAICompatible):
    hub_url: str = HUB_URL
    curated: bool = False  # True once list_models fell back to CURATED

    def list_models(self) -> list[ModelInfo]:
        try:
            return super().list_models()
        except AuthError:
            raise
        except ProviderError:
            self.curated = True
            return [ModelInfo(id=m) for m in CURATED]

    def model_info(self, row: dict) -> ModelInfo:
        contexts = [p.get("context_length") for p in row.get("providers") or [] if p.get("context_length")]
        return ModelInfo(id=str(row["id"]), context_length=max(contexts) if contexts else None)

    def validate_key(self) -> None:
        """`GET {HF_ENDPOINT}/api/whoami-v2`: the Hub says whether the token is good."""
        self._require_key()
        self.http.get(f"{self.hub_url}/api/whoami-v2")


def create(key: str | None = None, **options) -> HuggingFace:
    return HuggingFace(
        name=INFO.name,
        key_env=INFO.key_env,
        endpoint_env=INFO.endpoint_env,
        base_url=options.get("base_url") or endpoint(INFO.endpoint_env, INFO.default_url),
        key=key,
        hub_url=endpoint("HF_ENDPOINT", HUB_URL),
    )
