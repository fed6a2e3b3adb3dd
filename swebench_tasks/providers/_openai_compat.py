"""The OpenAI-compatible wire format, shared by openai, openrouter and huggingface.

`GET /models` lists `data[].id`; `POST /chat/completions` answers `choices[0].message.content`
with `usage.prompt_tokens/completion_tokens`. Subclasses change only what differs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from swebench_tasks.errors import ProviderError
from swebench_tasks.providers import ChatResult, Message, ModelInfo, OnWait, Tool, ToolCall, is_chat_model, missing_key
from swebench_tasks.providers._http import Http, filtered


def endpoint(env: str, default: str) -> str:
    """An endpoint from its variable (docs/configuration.md), else the public default."""
    return (os.environ.get(env) or default).strip().rstrip("/")


@dataclass
class OpenAICompatible:
    """A provider speaking the OpenAI chat-completions API with Bearer auth."""

    name: str
    key_env: str | None
    base_url: str
    endpoint_env: str
    key: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    http: Http = field(init=False)

    def __post_init__(self) -> None:
        headers = {"Accept": "application/json", **self.extra_headers}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        self.http = Http(self.name, self.base_url, headers=headers, secret=self.key, endpoint_env=self.endpoint_env)

    def list_models(self) -> list[ModelInfo]:
        data = self.http.get("/models")
        rows = data.get("data") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ProviderError(
                f"{self.name} GET {self.http.url('/models')} returned no model list", fix=f"check {self.endpoint_env}"
            )
        models = [
            self.model_info(row)
            for row in rows
            if isinstance(row, dict) and row.get("id") and is_chat_model(str(row["id"]), row)
        ]
        return sorted(models, key=lambda m: m.id)

    def model_info(self, row: dict) -> ModelInfo:
        return ModelInfo(id=str(row["id"]), context_length=as_int(row.get("context_length")))

    def validate_key(self) -> None:
        """The cheapest authenticated call: the model list."""
        self._require_key()
        self.http.get("/models")

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
        body = {
            "model": model,
            "messages": [wire_message(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if tools:
            body["tools"] = wire_tools(tools)
        data = self.http.post("/chat/completions", body, on_wait=on_wait)
        try:
            choice = data["choices"][0]
            message = choice["message"]
            text = message.get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(
                f"{self.name} returned a chat reply without choices", fix=f"check the model name {model!r}"
            ) from None
        if choice.get("finish_reason") == "content_filter" and not text:
            raise filtered(self.name, model)
        usage = data.get("usage") or {}
        return ChatResult(
            text=text,
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            model=str(data.get("model") or model),
            tool_calls=tuple(read_tool_call(c, i) for i, c in enumerate(message.get("tool_calls") or [])),
            stop_reason=str(choice.get("finish_reason") or ""),
        )

    def check_model(self, model: str) -> None:
        """A one-token live request: proves a hand-typed or curated model id works."""
        self.chat(model, [Message("user", "ping")], max_tokens=1)

    def _require_key(self) -> None:
        if not self.key and self.key_env:
            raise missing_key(self)


def wire_message(m: Message) -> dict:
    """A message in the chat-completions shape (Ollama's `/api/chat` shares it)."""
    out: dict = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    if m.tool_call_id:
        out["tool_call_id"] = m.tool_call_id
    return out


def wire_tools(tools: list[Tool]) -> list[dict]:
    """`tools` as chat-completions (and Ollama) declare them: JSON-schema functions."""
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


def read_tool_call(call: dict, index: int) -> ToolCall:
    """One `tool_calls` item; arguments stay JSON text (Ollama sends an object, which becomes text)."""
    function = call.get("function") or {}
    arguments = function.get("arguments")
    return ToolCall(
        id=str(call.get("id") or f"call_{index}"),
        name=str(function.get("name") or ""),
        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
    )


def arguments_object(text: str) -> dict:
    """A replayed call's arguments for APIs that take an object (Anthropic, Ollama)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def as_int(value: object) -> int | None:
    try:
        return int(value) if isinstance(value, (int, float, str)) else None
    except (TypeError, ValueError):
        return None
