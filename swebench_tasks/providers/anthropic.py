"""Anthropic Messages API: `x-api-key` + `anthropic-version`, system prompt as top-level `system`."""

from __future__ import annotations

from dataclasses import dataclass, field

from swebench_tasks.errors import AuthError, ProviderError
from swebench_tasks.providers import ChatResult, Message, ModelInfo, OnWait, is_chat_model
from swebench_tasks.providers._http import Http
from swebench_tasks.providers._openai_compat import endpoint
from swebench_tasks.secrets import key_fix

DEFAULT_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
PAGE = 1000  # the API's largest page


@dataclass
class Anthropic:
    key: str | None = None
    base_url: str = DEFAULT_URL
    name: str = "anthropic"
    key_env: str | None = "ANTHROPIC_API_KEY"
    http: Http = field(init=False)

    def __post_init__(self) -> None:
        headers = {"anthropic-version": API_VERSION, "Accept": "application/json"}
        if self.key:
            headers["x-api-key"] = self.key
        self.http = Http(self.name, self.base_url, headers=headers, secret=self.key,
                         key_fix=key_fix(self.name), endpoint_env="ANTHROPIC_BASE_URL")

    def list_models(self) -> list[ModelInfo]:
        """Every page of `GET /v1/models` (`has_more` / `last_id` → `after_id`)."""
        self._require_key()
        models: list[ModelInfo] = []
        params: dict[str, object] = {"limit": PAGE}
        while True:
            page = self.http.get("/v1/models", params=params)
            models += [ModelInfo(id=str(row["id"])) for row in page.get("data", [])
                       if row.get("id") and is_chat_model(str(row["id"]), row)]
            if not page.get("has_more") or not page.get("last_id"):
                return models
            params = {"limit": PAGE, "after_id": page["last_id"]}

    def validate_key(self) -> None:
        self._require_key()
        self.http.get("/v1/models", params={"limit": 1})

    def chat(self, model: str, messages: list[Message], *, max_tokens: int = 4096,
             temperature: float = 0.0, on_wait: OnWait | None = None) -> ChatResult:
        self._require_key()
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, object] = {
            "model": model,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "messages": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"],
        }
        if system:
            body["system"] = system
        data = self.http.post("/v1/messages", body, on_wait=on_wait)
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise ProviderError("anthropic returned a message without content", fix=f"check the model name {model!r}")
        usage = data.get("usage") or {}
        return ChatResult(
            text="".join(b.get("text", "") for b in blocks if b.get("type") == "text"),
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            model=str(data.get("model") or model),
        )

    def check_model(self, model: str) -> None:
        self.chat(model, [Message("user", "ping")], max_tokens=1)

    def _require_key(self) -> None:
        if not self.key:
            raise AuthError("no anthropic key found", fix=key_fix(self.name))


def create(key: str | None = None, **options) -> Anthropic:
    return Anthropic(key=key, base_url=options.get("base_url") or endpoint("ANTHROPIC_BASE_URL", DEFAULT_URL))
