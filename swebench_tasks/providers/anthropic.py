"""Anthropic Messages API: `x-api-key` + `anthropic-version`, system prompt as top-level `system`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from swebench_tasks.errors import ProviderError
from swebench_tasks.providers import (
    ChatResult,
    Message,
    ModelInfo,
    OnWait,
    ProviderInfo,
    Tool,
    ToolCall,
    is_chat_model,
    missing_key,
)
from swebench_tasks.providers._http import Http, filtered
from swebench_tasks.providers._openai_compat import arguments_object, endpoint

INFO = ProviderInfo(
    name="anthropic",
    label="Anthropic API",
    key_env="ANTHROPIC_API_KEY",
    endpoint_env="ANTHROPIC_BASE_URL",
    default_url="https://api.anthropic.com",
    key_page="https://console.anthropic.com/settings/keys",
    key_hint="sk-ant-...",
    menu=3,
)
API_VERSION = "2023-06-01"
PAGE = 1000  # the API's largest page


@dataclass
class Anthropic:
    key: str | None = None
    base_url: str = INFO.default_url
    name: str = INFO.name
    key_env: str | None = INFO.key_env
    http: Http = field(init=False)

    def __post_init__(self) -> None:
        headers = {"anthropic-version": API_VERSION, "Accept": "application/json"}
        if self.key:
            headers["x-api-key"] = self.key
        self.http = Http(self.name, self.base_url, headers=headers, secret=self.key, endpoint_env=INFO.endpoint_env)

    def list_models(self) -> list[ModelInfo]:
        """Every page of `GET /v1/models` (`has_more` / `last_id` → `after_id`)."""
        self._require_key()
        models: list[ModelInfo] = []
        params: dict[str, object] = {"limit": PAGE}
        while True:
            page = self.http.get("/v1/models", params=params)
            models += [
                ModelInfo(id=str(row["id"]))
                for row in page.get("data", [])
                if row.get("id") and is_chat_model(str(row["id"]), row)
            ]
            if not page.get("has_more") or not page.get("last_id"):
                return models
            params = {"limit": PAGE, "after_id": page["last_id"]}

    def validate_key(self) -> None:
        self._require_key()
        self.http.get("/v1/models", params={"limit": 1})

    def chat(
        self,
        model: str,
        messages: list[Message],
        *,
        max_tokens: int = 4096,
        temperature: float = 0.0,
        on_wait: OnWait | None = None,
        tools: list[Tool] | None = None,
    ) -> ChatResult:
        self._require_key()
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, object] = {
            "model": model,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "messages": wire_messages([m for m in messages if m.role != "system"]),
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
            ]
        data = self.http.post("/v1/messages", body, on_wait=on_wait)
        blocks = data.get("content")
        if data.get("stop_reason") == "refusal":
            raise filtered(self.name, model)
        if not isinstance(blocks, list):
            raise ProviderError("anthropic returned a message without content", fix=f"check the model name {model!r}")
        usage = data.get("usage") or {}
        return ChatResult(
            text="".join(b.get("text", "") for b in blocks if b.get("type") == "text"),
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            model=str(data.get("model") or model),
            tool_calls=tuple(
                ToolCall(
                    id=str(b.get("id") or ""), name=str(b.get("name") or ""), arguments=json.dumps(b.get("input") or {})
                )
                for b in blocks
                if b.get("type") == "tool_use"
            ),
            stop_reason=str(data.get("stop_reason") or ""),
        )

    def check_model(self, model: str) -> None:
        self.chat(model, [Message("user", "ping")], max_tokens=1)

    def _require_key(self) -> None:
        if not self.key:
            raise missing_key(self)


def wire_messages(messages: list[Message]) -> list[dict]:
    """Messages API turns: tool calls become `tool_use` blocks, tool results `tool_result` blocks
    in a user turn, and consecutive turns of one role merge (the API wants them alternating)."""
    out: list[dict] = []
    for m in messages:
        role = "user" if m.role == "tool" else m.role
        if m.role == "tool":
            content: str | list[dict] = [
                {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
            ]
        elif m.tool_calls:
            content = ([{"type": "text", "text": m.content}] if m.content else []) + [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": arguments_object(c.arguments)}
                for c in m.tool_calls
            ]
        else:
            content = m.content
        if out and out[-1]["role"] == role:
            out[-1]["content"] = _blocks(out[-1]["content"]) + _blocks(content)
        else:
            out.append({"role": role, "content": content})
    return out


def _blocks(content: str | list[dict]) -> list[dict]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def create(key: str | None = None, **options) -> Anthropic:
    return Anthropic(key=key, base_url=options.get("base_url") or endpoint(INFO.endpoint_env, INFO.default_url))
