"""Ollama: a local server, no key. `GET /api/tags`, `POST /api/chat`, streamed `POST /api/pull`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from swebench_tasks.errors import ProviderError
from swebench_tasks.providers import ChatResult, Message, ModelInfo, OnWait, ProviderInfo, Tool, is_chat_model
from swebench_tasks.providers._http import Http
from swebench_tasks.providers._openai_compat import arguments_object, read_tool_call, wire_tools

INFO = ProviderInfo(
    name="ollama",
    label="Local (Ollama)",
    key_env=None,
    endpoint_env="OLLAMA_HOST",
    default_url="http://localhost:11434",
    public_catalog=True,
    local=True,
    menu=1,
)
# Called per progress line of a pull: (status, completed bytes or None, total bytes or None).
OnProgress = Callable[[str, "int | None", "int | None"], None]


def host_url(raw: str | None) -> str:
    """`OLLAMA_HOST` as the ollama CLI reads it: scheme and port optional, 0.0.0.0 = localhost."""
    raw = (raw or "").strip() or INFO.default_url
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    host = parts.hostname or "localhost"
    if host in ("0.0.0.0", "::"):
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (443 if parts.scheme == "https" else 11434)
    return f"{parts.scheme}://{host}:{port}{parts.path.rstrip('/')}"


@dataclass
class Ollama:
    base_url: str = INFO.default_url
    name: str = INFO.name
    key_env: str | None = INFO.key_env
    http: Http = field(init=False)

    def __post_init__(self) -> None:
        self.http = Http(self.name, self.base_url, endpoint_env=INFO.endpoint_env)

    def detect(self) -> bool:
        """Is a server answering at OLLAMA_HOST? (One quick try, no retries.)"""
        import httpx

        try:
            return httpx.get(f"{self.base_url}/api/version", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def list_models(self) -> list[ModelInfo]:
        data = self.http.get("/api/tags")
        return sorted(
            (
                ModelInfo(id=str(m["name"]))
                for m in data.get("models", [])
                if m.get("name") and is_chat_model(str(m["name"]), m)
            ),
            key=lambda m: m.id,
        )

    def validate_key(self) -> None:
        """No key: check instead that the server is running."""
        if not self.detect():
            raise ProviderError(
                f"no Ollama server at {self.base_url}", fix="start it with `ollama serve`, or set OLLAMA_HOST"
            )

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
        body = {
            "model": model,
            "stream": False,
            "messages": [wire_message(m) for m in messages],
            "options": {"temperature": temperature, "num_predict": max_tokens},
        }
        if tools:
            body["tools"] = wire_tools(tools)
        data = self.http.post("/api/chat", body, on_wait=on_wait)
        message = data.get("message") or {}
        return ChatResult(
            text=message.get("content") or "",
            input_tokens=int(data.get("prompt_eval_count") or 0),
            output_tokens=int(data.get("eval_count") or 0),
            model=str(data.get("model") or model),
            tool_calls=tuple(read_tool_call(c, i) for i, c in enumerate(message.get("tool_calls") or [])),
            stop_reason=str(data.get("done_reason") or ""),
        )

    def check_model(self, model: str) -> None:
        self.chat(model, [Message("user", "ping")], max_tokens=1)

    def pull(self, name: str, on_progress: OnProgress | None = None) -> None:
        """Download a model, reporting each streamed progress line; ProviderError on failure."""
        status = ""
        for line in self.http.stream_lines("POST", "/api/pull", body={"model": name, "stream": True}):
            if line.get("error"):
                raise ProviderError(
                    f"ollama could not pull {name!r}: {line['error']}",
                    fix="check the model name at https://ollama.com/library",
                )
            status = str(line.get("status", ""))
            if on_progress is not None:
                on_progress(status, line.get("completed"), line.get("total"))
        if status != "success":
            raise ProviderError(
                f"ollama pull of {name!r} ended without success (last: {status or 'nothing'})",
                fix=f"rerun `ollama pull {name}`",
            )


def wire_message(m: Message) -> dict:
    """`/api/chat` history: call arguments as objects, a tool's result names its tool."""
    out: dict = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [
            {"function": {"name": c.name, "arguments": arguments_object(c.arguments)}} for c in m.tool_calls
        ]
    if m.tool_name:
        out["tool_name"] = m.tool_name
    return out


def create(key: str | None = None, **options) -> Ollama:
    return Ollama(base_url=options.get("base_url") or host_url(os.environ.get(INFO.endpoint_env)))
