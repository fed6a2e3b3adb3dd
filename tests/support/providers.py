"""Provider-protocol servers on 127.0.0.1 speaking the real JSON shapes (a pytest plugin).

One HTTP server per provider runs in a thread for the whole session (`*_server_session`);
the function fixtures `openai_server`, `anthropic_server`, `openrouter_server`,
`huggingface_server`, `ollama_server` reset it (requests, queued replies, injected failures,
delay, models) and hand it to a test. `provider_env` is the environment pointing every
provider at its server, with keys the servers accept.

Each server can:
- script chat replies: `server.replies.append("text" | ChatReply(...))`, or
  `server.on_chat = lambda body: "text"` (body is the decoded request JSON); either may
  also give a `Failure(status, body=...)` to refuse that one request;
- inject failures: `server.fail(429, retry_after="1")`, `server.fail(500, times=2)`,
  `server.fail(401)`, optionally only for paths containing `path=`, or with a whole
  error document `body=`;
- answer slowly: `server.delay = 0.5`;
- call tools: a reply `ChatReply("thought", tool_calls=[("bash", {"command": "ls"})])` comes back
  in the provider's own tool-call shape; a model in `server.no_tools` refuses requests declaring
  tools as that provider does; histories with tool turns are checked as the real API checks them;
- fail one chat from a handler: `on_chat` may return a `Failure` (e.g. a crash mid-agent);
- record every request: `server.requests` (method, path, query, headers, body).
Each server is checked once against the official SDK in tests/test_providers.py.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.loopback import LoopbackServer

KEYS = {
    "openai": "sk-test-openai-0123456789",
    "anthropic": "sk-ant-test-0123456789",
    "openrouter": "sk-or-test-0123456789",
    "huggingface": "hf_test0123456789abcdef",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any
    at: float = field(default_factory=time.monotonic)  # arrival, for timing (benchmarks)


@dataclass
class ChatReply:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    tool_calls: list[tuple[str, dict]] = field(default_factory=list)  # (tool name, arguments)


@dataclass
class Failure:
    status: int
    retry_after: str | None = None
    path: str | None = None
    message: str = "injected failure"
    body: Any = None  # the whole error document, when the provider's default shape won't do


class Refused(Exception):
    """Raised by `next_chat` when a handler answers with a Failure: the request gets that error."""

    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or bytes, or an iterable of JSON-able lines (NDJSON stream)
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


class FakeProvider(LoopbackServer):
    """A provider endpoint: routing, auth, scripted chat, failures and a request log."""

    prefix = ""  # the path the SDK's base URL ends with, e.g. "/v1"
    default_models: tuple[str, ...] = ()

    # -- test-facing controls ---------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.requests: list[Recorded] = []
            self.replies: deque[str | ChatReply] = deque()
            self.on_chat: Callable[[dict], str | ChatReply] | None = None
            self.failures: deque[Failure] = deque()
            self.delay = 0.0
            self.models = list(self.default_models)
            self.no_tools: set[str] = set()
            self.keys = {KEYS[self.name]} if self.name in KEYS else set()

    def fail(self, status: int, *, times: int = 1, retry_after: str | None = None,
             path: str | None = None, message: str = "injected failure", body: Any = None) -> None:
        with self._lock:
            self.failures.extend(Failure(status, retry_after, path, message, body) for _ in range(times))

    @property
    def base_url(self) -> str:
        return self.root + self.prefix

    @property
    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = Recorded(h.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                          {k.lower(): v for k, v in h.headers.items()}, body)
        with self._lock:
            self.requests.append(record)
            delay = self.delay
            failure = next((f for f in self.failures if f.path is None or f.path in parts.path), None)
            if failure is not None:
                self.failures.remove(failure)
        if delay:
            time.sleep(delay)
        if failure is None:
            try:
                reply = self.route(record)
            except Refused as refused:
                failure = refused.failure
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            error = failure.body if failure.body is not None else self.error(failure.status, failure.message)
            reply = Reply(failure.status, error, headers)
        self._send(h, reply)

    def _send(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        try:
            h.send_response(reply.status)
            for k, v in reply.headers.items():
                h.send_header(k, v)
            if reply.stream:
                h.send_header("Content-Type", "application/x-ndjson")
                h.send_header("Transfer-Encoding", "chunked")
                h.end_headers()
                for item in reply.body:
                    data = (json.dumps(item) + "\n").encode()
                    h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    h.wfile.flush()
                h.wfile.write(b"0\r\n\r\n")
                return
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            if "Content-Type" not in reply.headers:
                h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    # -- shared helpers for subclasses ------------------------------------------------------
    def next_chat(self, body: dict, prompt: str) -> ChatReply:
        """The scripted reply; a scripted Failure raises Refused, which answers with that error."""
        with self._lock:
            queued = self.replies.popleft() if self.replies else None
            handler = self.on_chat
        if queued is None:
            queued = handler(body) if handler else f"ok from fake {self.name}"
        if isinstance(queued, Failure):
            raise Refused(queued)
        reply = queued if isinstance(queued, ChatReply) else ChatReply(str(queued))
        return ChatReply(reply.text,
                         reply.input_tokens if reply.input_tokens is not None else _tokens(prompt),
                         reply.output_tokens if reply.output_tokens is not None else _tokens(reply.text),
                         reply.tool_calls)

    def bearer_ok(self, r: Recorded) -> bool:
        auth = r.headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.keys

    def route(self, r: Recorded) -> Reply:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Any:
        raise NotImplementedError


class OpenAIServer(FakeProvider):
    """OpenAI: /v1/models, /v1/chat/completions, errors as {"error": {message,type,param,code}}."""

    name = "openai"
    prefix = "/v1"
    default_models = ("gpt-4o", "gpt-4o-mini", "o3-mini")

    @property
    def env(self) -> dict[str, str]:
        return {"OPENAI_BASE_URL": self.base_url}

    def error(self, status: int, message: str) -> Any:
        kind = {401: ("invalid_request_error", "invalid_api_key"), 403: ("permission_error", None),
                404: ("invalid_request_error", "model_not_found"), 429: ("rate_limit_exceeded", "rate_limit_exceeded")}
        etype, code = kind.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
        return {"error": {"message": message, "type": etype, "param": None, "code": code}}

    def route(self, r: Recorded) -> Reply:
        path = r.path[len(self.prefix):] if r.path.startswith(self.prefix) else r.path
        if path not in ("/models", "/chat/completions"):
            return Reply(404, self.error(404, f"unknown path {r.path}"))
        if not self.bearer_ok(r):
            return Reply(401, self.error(401, "Incorrect API key provided: sk-te****6789."))
        if path == "/models":
            return Reply(200, self.model_list())
        return self.completion(r)

    def model_list(self) -> dict:
        return {"object": "list", "data": [self.model_row(m) for m in self.models]}

    def model_row(self, model: str) -> dict:
        return {"id": model, "object": "model", "created": 1700000000, "owned_by": "system"}

    def completion(self, r: Recorded) -> Reply:
        body = r.body if isinstance(r.body, dict) else {}
        model = body.get("model")
        if model not in self.models:
            return Reply(404, self.error(404, f"The model `{model}` does not exist or you do not have access to it."))
        if body.get("tools") and model in self.no_tools:
            return Reply(400, self.error(400, f"The model `{model}` does not support tools."))
        problem = self.tool_history_problem(body.get("messages", []))
        if problem:
            return Reply(400, self.error(400, problem))
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        reply = self.next_chat(body, prompt)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [{"id": f"call_{next(_ids)}", "type": "function",
                                      "function": {"name": name, "arguments": json.dumps(args)}}
                                     for name, args in reply.tool_calls]
        return Reply(200, {
            "id": f"chatcmpl-{next(_ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": message,
                         "logprobs": None, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            "usage": {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                      "total_tokens": reply.input_tokens + reply.output_tokens},
        })


    @staticmethod
    def tool_history_problem(messages: list[dict]) -> str | None:
        """OpenAI's rule: a `tool` message answers a call of the assistant message before it."""
        open_ids: set[str] = set()
        for m in messages:
            if m.get("role") == "assistant":
                open_ids = {c["id"] for c in m.get("tool_calls") or []}
            elif m.get("role") == "tool":
                if m.get("tool_call_id") not in open_ids:
                    return ("Invalid parameter: messages with role 'tool' must be a response to a "
                            "preceeding message with 'tool_calls'.")
            else:
                open_ids = set()
        return None


class OpenRouterServer(OpenAIServer):
    """OpenRouter: public /api/v1/models with pricing and context_length, /api/v1/key, chat."""

    name = "openrouter"
    prefix = "/api/v1"
    default_models = ("anthropic/claude-3.5-sonnet", "meta-llama/llama-3.1-8b-instruct", "openai/gpt-4o-mini")
    pricing = {"openai/gpt-4o-mini": ("0.00000015", "0.0000006", 128000),
               "anthropic/claude-3.5-sonnet": ("0.000003", "0.000015", 200000),
               "meta-llama/llama-3.1-8b-instruct": ("0.00000002", "0.00000005", 131072)}

    @property
    def env(self) -> dict[str, str]:
        return {"OPENROUTER_BASE_URL": self.base_url}

    def error(self, status: int, message: str) -> Any:
        return {"error": {"code": status, "message": message}}

    def model_row(self, model: str) -> dict:
        prompt, completion, context = self.pricing.get(model, ("0", "0", 8192))
        return {"id": model, "name": model, "created": 1700000000, "context_length": context,
                "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
                "architecture": {"modality": "text->text"}, "top_provider": {"context_length": context}}

    def route(self, r: Recorded) -> Reply:
        path = r.path[len(self.prefix):]
        if path == "/models" and r.method == "GET":  # public: no key needed
            return Reply(200, {"data": [self.model_row(m) for m in self.models]})
        if path == "/key":
            if not self.bearer_ok(r):
                return Reply(401, self.error(401, "No auth credentials found"))
            return Reply(200, {"data": {"label": "sk-or-...789", "usage": 0, "limit": None,
                                        "is_free_tier": False}})
        return super().route(r)


class HuggingFaceServer(OpenAIServer):
    """HF router /v1/models + chat, and the Hub's /api/whoami-v2 on the same port."""

    name = "huggingface"
    prefix = "/v1"
    default_models = ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-Coder-32B-Instruct")

    def reset(self) -> None:
        super().reset()
        self.list_available = True  # False: /v1/models answers 404 (the curated-list path)

    @property
    def env(self) -> dict[str, str]:
        return {"HF_ROUTER_URL": self.base_url, "HF_ENDPOINT": self.root}

    def error(self, status: int, message: str) -> Any:
        return {"error": message}

    def model_row(self, model: str) -> dict:
        owner = model.split("/")[0]
        return {"id": model, "object": "model", "created": 1700000000, "owned_by": owner,
                "providers": [{"provider": "fake", "status": "live", "context_length": 32768}]}

    def route(self, r: Recorded) -> Reply:
        if r.path == "/api/whoami-v2":
            if not self.bearer_ok(r):
                return Reply(401, self.error(401, "Invalid credentials in Authorization header"))
            return Reply(200, {"type": "user", "id": "1", "name": "tester", "fullname": "Test User",
                               "auth": {"type": "access_token",
                                        "accessToken": {"displayName": "test", "role": "read"}}})
        if r.path == self.prefix + "/models" and not self.list_available:
            return Reply(404, self.error(404, "Not Found"))
        return super().route(r)


class AnthropicServer(FakeProvider):
    """Anthropic: /v1/models (paginated), /v1/messages; x-api-key (or Bearer) + anthropic-version."""

    name = "anthropic"
    prefix = ""
    default_models = ("claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022",
                      "claude-3-haiku-20240307", "claude-sonnet-4-20250514")
    kinds = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
             404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}

    @property
    def env(self) -> dict[str, str]:
        return {"ANTHROPIC_BASE_URL": self.base_url}

    def error(self, status: int, message: str) -> Any:
        return {"type": "error", "error": {"type": self.kinds.get(status, "api_error"), "message": message}}

    def route(self, r: Recorded) -> Reply:
        if r.path not in ("/v1/models", "/v1/messages"):
            return Reply(404, self.error(404, f"unknown path {r.path}"))
        # The documented header is x-api-key; the installed SDK (2.x) sends Authorization: Bearer.
        if r.headers.get("x-api-key") not in self.keys and not self.bearer_ok(r):
            return Reply(401, self.error(401, "invalid x-api-key"))
        if not r.headers.get("anthropic-version"):
            return Reply(400, self.error(400, "anthropic-version: header is required"))
        if r.path == "/v1/models":
            return Reply(200, self.page(r.query))
        return self.message(r)

    def page(self, query: dict[str, str]) -> dict:
        limit = max(1, min(int(query.get("limit", 20)), 1000))
        ids = list(self.models)
        start = ids.index(query["after_id"]) + 1 if query.get("after_id") in ids else 0
        chunk = ids[start:start + limit]
        return {"data": [{"type": "model", "id": m, "display_name": m, "created_at": "2024-10-22T00:00:00Z"}
                         for m in chunk],
                "has_more": start + limit < len(ids),
                "first_id": chunk[0] if chunk else None, "last_id": chunk[-1] if chunk else None}

    def message(self, r: Recorded) -> Reply:
        body = r.body if isinstance(r.body, dict) else {}
        model = body.get("model")
        if model not in self.models:
            return Reply(404, self.error(404, f"model: {model}"))
        if "max_tokens" not in body:
            return Reply(400, self.error(400, "max_tokens: Field required"))
        if any(m.get("role") == "system" for m in body.get("messages", [])):
            return Reply(400, self.error(400, "messages: Unexpected role \"system\"."))
        if body.get("tools") and model in self.no_tools:
            return Reply(400, self.error(400, f"tools: {model} does not support tool use"))
        problem = self.turn_problem(body.get("messages", []))
        if problem:
            return Reply(400, self.error(400, problem))
        parts = [str(body.get("system", ""))]
        for m in body.get("messages", []):
            content = m.get("content")
            parts.append(content if isinstance(content, str)
                         else " ".join(str(c.get("text", c.get("content", ""))) for c in content or []))
        reply = self.next_chat(body, " ".join(parts))
        blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text or not reply.tool_calls else []
        blocks += [{"type": "tool_use", "id": f"toolu_{next(_ids):024d}", "name": name, "input": args}
                   for name, args in reply.tool_calls]
        return Reply(200, {
            "id": f"msg_{next(_ids)}", "type": "message", "role": "assistant", "model": model,
            "content": blocks, "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        })


    @staticmethod
    def turn_problem(messages: list[dict]) -> str | None:
        """The Messages API's rules: user first, roles alternate, each `tool_use` answered by a
        `tool_result` in the very next user turn, and no result without its call."""
        calls: set[str] = set()
        for index, m in enumerate(messages):
            role = m.get("role")
            if role != ("user" if index % 2 == 0 else "assistant"):
                return f"messages.{index}: roles must alternate between \"user\" and \"assistant\""
            blocks = m.get("content") if isinstance(m.get("content"), list) else []
            if role == "assistant":
                calls = {b["id"] for b in blocks if b.get("type") == "tool_use"}
                continue
            results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            if results != calls:
                return (f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
                        "immediately after, or a `tool_result` has no matching `tool_use`")
            calls = set()
        return None


class OllamaServer(FakeProvider):
    """Ollama: /api/tags, /api/version, /api/chat (stream false), streamed /api/pull."""

    name = "ollama"
    prefix = ""
    default_models = ("llama3.2:1b", "qwen2.5-coder:7b")
    pullable = ("llama3.1:8b", "mistral:7b")

    @property
    def env(self) -> dict[str, str]:
        return {"OLLAMA_HOST": self.base_url}

    def error(self, status: int, message: str) -> Any:
        return {"error": message}

    def tag(self, model: str) -> dict:
        return {"name": model, "model": model, "modified_at": "2024-10-01T00:00:00Z", "size": 1321098329,
                "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
                "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                            "parameter_size": "1.2B", "quantization_level": "Q8_0"}}

    def route(self, r: Recorded) -> Reply:
        if r.path == "/":
            return Reply(200, b"Ollama is running", {"Content-Type": "text/plain"})
        if r.path == "/api/version":
            return Reply(200, {"version": "0.5.7"})
        if r.path == "/api/tags":
            return Reply(200, {"models": [self.tag(m) for m in self.models]})
        body = r.body if isinstance(r.body, dict) else {}
        if r.path == "/api/chat":
            return self.chat(body)
        if r.path == "/api/pull":
            return self.pull(body)
        return Reply(404, b"404 page not found", {"Content-Type": "text/plain"})

    def chat(self, body: dict) -> Reply:
        model = body.get("model")
        if model not in self.models:
            return Reply(404, self.error(404, f'model "{model}" not found, try pulling it first'))
        if body.get("tools") and model in self.no_tools:
            return Reply(400, self.error(400, f"registry.ollama.ai/library/{model} does not support tools"))
        if any(not isinstance(c.get("function", {}).get("arguments"), dict)
               for m in body.get("messages", []) for c in m.get("tool_calls") or []):
            return Reply(400, self.error(400, "json: cannot unmarshal string into Go struct field "
                                              ".messages.tool_calls.function.arguments"))
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        reply = self.next_chat(body, prompt)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["tool_calls"] = [{"function": {"name": name, "arguments": args}}
                                     for name, args in reply.tool_calls]
        done = {"model": model, "created_at": "2024-10-01T00:00:00.000000Z",
                "message": message, "done": True, "done_reason": "stop",
                "total_duration": 1000, "load_duration": 10, "prompt_eval_count": reply.input_tokens,
                "prompt_eval_duration": 100, "eval_count": reply.output_tokens, "eval_duration": 800}
        if body.get("stream", True):
            return Reply(200, [done], stream=True)
        return Reply(200, done)

    def pull(self, body: dict) -> Reply:
        model = body.get("model") or body.get("name")
        if model not in self.pullable and model not in self.models:
            return Reply(200, [{"status": "pulling manifest"},
                               {"error": "pull model manifest: file does not exist"}], stream=True)
        with self._lock:
            if model not in self.models:
                self.models.append(model)
        digest = "sha256:" + "ab" * 32
        lines: list[dict] = [{"status": "pulling manifest"}]
        lines += [{"status": f"pulling {digest[7:19]}", "digest": digest, "total": 300, "completed": done}
                  for done in (0, 100, 200, 300)]
        lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
        if body.get("stream", True) is False:
            return Reply(200, {"status": "success"})
        return Reply(200, lines, stream=True)


_ids = itertools.count(1)
SERVERS: dict[str, type[FakeProvider]] = {
    cls.name: cls for cls in (OpenAIServer, AnthropicServer, OpenRouterServer, HuggingFaceServer, OllamaServer)
}


@pytest.fixture(scope="session")
def provider_servers() -> Iterable[dict[str, FakeProvider]]:
    """All five servers, started once for the session."""
    servers = {name: cls().start() for name, cls in SERVERS.items()}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def provider_env(provider_servers) -> dict[str, str]:
    """Environment pointing every provider at its server, with accepted keys, fast retries."""
    env = {"SWEBENCH_RETRY_BASE_SECONDS": "0.01", "SWEBENCH_MAX_RETRIES": "3",
           "OPENAI_API_KEY": KEYS["openai"], "ANTHROPIC_API_KEY": KEYS["anthropic"],
           "OPENROUTER_API_KEY": KEYS["openrouter"], "HF_TOKEN": KEYS["huggingface"]}
    for server in provider_servers.values():
        server.reset()
        env.update(server.env)
    return env


def _server_fixture(name: str):
    @pytest.fixture(name=f"{name}_server")
    def fixture(provider_servers, monkeypatch) -> FakeProvider:
        """This provider's server, reset, with its endpoint variable set for this test."""
        server = provider_servers[name]
        server.reset()
        for var, value in server.env.items():
            monkeypatch.setenv(var, value)
        monkeypatch.setenv("SWEBENCH_RETRY_BASE_SECONDS", "0.01")
        yield server
        server.reset()

    return fixture


openai_server = _server_fixture("openai")
anthropic_server = _server_fixture("anthropic")
openrouter_server = _server_fixture("openrouter")
huggingface_server = _server_fixture("huggingface")
ollama_server = _server_fixture("ollama")


def scripted_agent(commands: list[str]) -> Callable[[dict], ChatReply]:
    """An `on_chat` handler playing an agent: its n-th reply runs commands[n] (the last one
    repeats). As a tool call when the request declares tools, else as the one fenced block the
    system prompt's format example asks for."""

    def reply(body: dict) -> ChatReply:
        messages = body.get("messages", [])
        step = sum(1 for m in messages if m.get("role") == "assistant")
        command = commands[min(step, len(commands) - 1)]
        thought = f"THOUGHT: step {step + 1}."
        if body.get("tools"):
            name = body["tools"][0].get("name") or body["tools"][0]["function"]["name"]
            return ChatReply(thought, tool_calls=[(name, {"command": command})])
        system = body.get("system") or next((m["content"] for m in messages if m.get("role") == "system"), "")
        fence = re.search(r"```(\w+)\n", system if isinstance(system, str) else json.dumps(system))
        return ChatReply(f"{thought}\n\n```{fence.group(1) if fence else 'bash'}\n{command}\n```")

    return reply


def fix_and_submit(patch: str) -> list[str]:
    """The commands of an agent that looks around, applies `patch`, and submits per the config."""
    return [
        "ls -la",
        f"git apply - <<'SWEBENCH_FIX'\n{patch.removesuffix(chr(10))}\nSWEBENCH_FIX",
        "git diff > patch.txt",
        "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt",
    ]
