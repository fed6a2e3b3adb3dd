"""Model providers behind one narrow protocol; each backend is one module.

A provider lists models, validates a key and completes a chat. Construction is
cheap and imports nothing heavy; HTTP (httpx) is imported on first request.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, Protocol

from swebench_tasks.errors import AuthError, ProviderError, UsageError

# The registry: one module per name, each declaring its INFO. A new provider is its module plus
# its name here; the CLI's help, config, keys, pricing and the wizard read the rest from INFO.
NAMES = ("openai", "anthropic", "openrouter", "huggingface", "ollama")

# Called with (seconds, reason) before each wait (a 429's Retry-After, a backoff).
OnWait = Callable[[float, str], None]

# Ids of models that answer no chat: embeddings, moderation, speech, images, realtime audio,
# rerankers and the legacy completion-only models.
NON_CHAT = re.compile(
    r"embed|moderation|whisper|(^|[-_./:])tts([-_.:]|$)|transcri|dall-e|gpt-image|"
    r"realtime|(^|[-_./:])audio|sora|rerank|^(babbage|davinci)-",
    re.I,
)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_chat_model(model_id: str, row: dict | None = None) -> bool:
    """A catalog entry a picker may offer: a one-line id, and a chat model as the catalog says
    (its output modalities include text) or, where it says nothing, as its id shows.

    Catalog ids are data (OpenRouter lists thousands of third-party ones): an id with a
    control character is never offered, so it never reaches `.env`, a path or a prompt.
    """
    if not model_id or CONTROL.search(model_id) or NON_CHAT.search(model_id):
        return False
    arch = (row or {}).get("architecture")
    if isinstance(arch, dict):
        outputs = arch.get("output_modalities")
        if isinstance(outputs, list) and "text" not in outputs:
            return False
        modality = arch.get("modality")
        if isinstance(modality, str) and "->" in modality and "text" not in modality.split("->", 1)[1]:
            return False
    return True


@dataclass(frozen=True)
class ProviderInfo:
    """What the rest of the program knows about a provider without talking to it."""

    name: str
    label: str  # as the wizard shows it, e.g. "OpenAI API"
    key_env: str | None  # the variable holding its key; None: it needs none
    endpoint_env: str  # the variable that moves its endpoint
    default_url: str
    key_page: str = ""  # where to get a key
    key_hint: str = ""  # what a key looks like, e.g. "sk-..."
    public_catalog: bool = False  # its model list needs no key
    local: bool = False  # runs on this machine: its tokens cost nothing
    menu: int = 0  # its place in the wizard's list of compute sources


@cache
def info(name: str) -> ProviderInfo:
    """`name`'s INFO; imports its module (cheap: HTTP is imported on first request)."""
    if name not in NAMES:
        raise UsageError(f"unknown provider {name!r}", fix=f"use one of: {', '.join(NAMES)}")
    return importlib.import_module(f"swebench_tasks.providers.{name}").INFO


def infos() -> list[ProviderInfo]:
    """Every registered provider, in the wizard's order."""
    return sorted((info(name) for name in NAMES), key=lambda i: i.menu)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    context_length: int | None = None
    input_price: float | None = None  # USD per input token, where the catalog says
    output_price: float | None = None  # USD per output token


@dataclass(frozen=True)
class Tool:
    """A function the model may call: its name, what it does, a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text as the model sent it; the caller judges whether it parses


@dataclass(frozen=True)
class ChatResult:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str = ""  # the provider's own word: "stop", "tool_calls", "end_turn", "length", ...


@dataclass
class Message:
    role: str  # "system" | "user" | "assistant" | "tool" (a tool's result)
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant's calls, replayed in the history
    tool_call_id: str | None = None  # the call a "tool" message answers
    tool_name: str | None = None  # its tool (Ollama matches results by name)


class ToolsUnsupported(ProviderError):
    """The endpoint refused a request because it declared tools: use a text protocol instead."""


class Provider(Protocol):
    name: str
    key_env: str | None  # the environment variable holding its key (None: no key)
    base_url: str
    http: Any  # its one endpoint (providers/_http.py Http): auth, retries, waits

    def list_models(self) -> list[ModelInfo]: ...

    def validate_key(self) -> None:
        """Raise AuthError if the key is refused; ProviderError if unreachable."""

    def check_model(self, model: str) -> None:
        """A one-token live request: proves a hand-typed or curated model id answers."""

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
        """A reply; with `tools`, the model may answer with `tool_calls` (ToolsUnsupported if refused)."""


def get_provider(
    name: str,
    key: str | None = None,
    *,
    on_wait: OnWait | None = None,
    key_fix: Callable[[str], str] | None = None,
    **options,
) -> Provider:
    """The provider `name`, reaching its endpoint from the environment (docs/configuration.md).

    `on_wait` hears of every rate-limit or backoff wait of its calls (a call's own
    `on_wait` wins), so each command can show it: a silent wait looks like a hang.
    `key_fix(name)` says what fixes a missing or refused key (the caller knows about
    keychains and profiles; providers do not); it is asked only when a key fails.
    """
    meta = info(name)  # UsageError for an unknown name
    provider = importlib.import_module(f"swebench_tasks.providers.{name}").create(key=key, **options)
    provider.http.on_wait = on_wait  # every provider talks through one Http
    if key_fix is not None:
        provider.http.key_fix = partial(key_fix, name)
    elif meta.key_env:
        provider.http.key_fix = f"set {meta.key_env}"
    return provider


def missing_key(provider: Provider) -> AuthError:
    """The error for a call that needs a key when there is none."""
    fix = provider.http.key_fix
    return AuthError(f"no {provider.name} key found", fix=fix() if callable(fix) else fix)
