"""mini-swe-agent's Model protocol on top of our Provider.

Keys, endpoints, retries (`on_wait`), token accounting and catalog prices stay ours; the
agent sees replies in the chat-completions shape its trajectories use. Two protocols, as its
SWE-bench configs ship them: `tools` (swebench.yaml, a `bash` tool) and `text`
(swebench_backticks.yaml, one fenced command per reply).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from swebench_tasks.agent import load, package_dir
from swebench_tasks.pricing import estimate
from swebench_tasks.providers import Message, ModelInfo, OnWait, Provider, Tool, ToolCall

PROTOCOLS = {"tools": "swebench.yaml", "text": "swebench_backticks.yaml"}
# The text model's action pattern: mini-swe-agent keeps it as a class default, not in the YAML.
TEXT_ACTION_REGEX = r"```mswea_bash_command\s*\n(.*?)\n```"
# The stop reasons its format-error template tells apart, in chat-completions words.
STOP_REASONS = {"max_tokens": "length", "tool_use": "tool_calls"}

# Called after each model reply: (step, cost so far in USD, the command it asked for).
OnStep = Callable[[int, float, str], None]


def config_path(protocol: str) -> Path:
    return package_dir() / "config" / "benchmarks" / PROTOCOLS[protocol]


def config_digest(protocol: str) -> str:
    """Identifies the shipped config a protocol runs (part of a task's up-to-date check)."""
    return hashlib.sha256(config_path(protocol).read_bytes()).hexdigest()[:16]


def load_config(protocol: str) -> dict:
    import yaml

    return yaml.safe_load(config_path(protocol).read_text())


@dataclass
class ModelConfig:
    """What the agent's templates may see of the model (no key, no provider object)."""

    model_name: str
    provider: str
    protocol: str
    observation_template: str
    format_error_template: str
    action_regex: str = TEXT_ACTION_REGEX
    max_tokens: int = 4096


class ProviderModel:
    """The Model protocol (`query`, `format_message`, `format_observation_messages`,
    `get_template_vars`, `serialize`) over `provider.chat`; each reply's cost is in `extra`."""

    def __init__(
        self,
        provider: Provider,
        config: ModelConfig,
        state_dir: Path,
        *,
        catalog_info: ModelInfo | None = None,
        on_wait: OnWait | None = None,
        on_step: OnStep | None = None,
    ):
        self.provider = provider
        self.config = config
        self.catalog_info = catalog_info
        self.on_wait = on_wait
        self.on_step = on_step
        self.calls = 0
        self.cost = 0.0
        self.input_tokens = 0
        self.output_tokens = 0
        self._mswea = load(state_dir)

    @property
    def tools(self) -> list[Tool] | None:
        if self.config.protocol != "tools":
            return None
        spec = self._mswea["minisweagent.models.utils.actions_toolcall"].BASH_TOOL["function"]
        return [Tool(spec["name"], spec["description"], spec["parameters"])]

    def query(self, messages: list[dict], **kwargs) -> dict:
        result = self.provider.chat(
            self.config.model_name,
            to_messages(messages),
            max_tokens=self.config.max_tokens,
            on_wait=self.on_wait,
            tools=self.tools,
        )
        cost = (
            estimate(
                self.config.model_name,
                result.input_tokens,
                result.output_tokens,
                self.catalog_info,
                provider=self.provider.name,
            )
            or 0.0
        )
        self.calls += 1
        self.cost += cost
        self.input_tokens += result.input_tokens
        self.output_tokens += result.output_tokens
        extra: dict[str, Any] = {
            "cost": cost,
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "stop_reason": result.stop_reason,
            "timestamp": time.time(),
        }
        finish = {"finish_reason": STOP_REASONS.get(result.stop_reason, result.stop_reason)}
        errors = self._mswea["minisweagent.exceptions"]
        try:
            if self.tools:
                calls = [
                    SimpleNamespace(id=c.id, function=SimpleNamespace(name=c.name, arguments=c.arguments))
                    for c in result.tool_calls
                ]
                actions = self._mswea["minisweagent.models.utils.actions_toolcall"].parse_toolcall_actions(
                    calls, format_error_template=self.config.format_error_template, template_kwargs=finish
                )
            else:
                actions = self._mswea["minisweagent.models.utils.actions_text"].parse_regex_actions(
                    result.text,
                    action_regex=self.config.action_regex,
                    format_error_template=self.config.format_error_template,
                    template_kwargs=finish,
                )
        except errors.FormatError as error:  # the call was billed: the agent adds this cost
            error.messages[0]["extra"].update(extra, response=result.text)
            raise
        message: dict[str, Any] = {"role": "assistant", "content": result.text, "extra": {"actions": actions, **extra}}
        if result.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in result.tool_calls
            ]
        if self.on_step is not None:
            self.on_step(self.calls, self.cost, actions[-1]["command"])
        return message

    def format_message(self, **kwargs) -> dict:
        return dict(kwargs)

    def format_observation_messages(
        self, message: dict, outputs: list[dict], template_vars: dict | None = None
    ) -> list[dict]:
        if self.tools:
            return self._mswea["minisweagent.models.utils.actions_toolcall"].format_toolcall_observation_messages(
                actions=message.get("extra", {}).get("actions", []),
                outputs=outputs,
                observation_template=self.config.observation_template,
                template_vars=template_vars,
            )
        return self._mswea["minisweagent.models.utils.actions_text"].format_observation_messages(
            outputs, observation_template=self.config.observation_template, template_vars=template_vars
        )

    def get_template_vars(self, **kwargs) -> dict[str, Any]:
        return {**asdict(self.config), **kwargs}

    def serialize(self) -> dict:
        return {
            "info": {
                "config": {"model": asdict(self.config), "model_type": f"{__name__}.{type(self).__name__}"},
                "protocol": self.config.protocol,
                "model_stats": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
            }
        }


def to_messages(messages: list[dict]) -> list[Message]:
    """The agent's history (chat-completions dicts, plus its own `exit`/`extra`) as our Messages."""
    names: dict[str, str] = {}
    out: list[Message] = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        text = content if isinstance(content, str) else "" if content is None else str(content)
        if role == "assistant":
            calls = tuple(
                ToolCall(str(c["id"]), str(c["function"]["name"]), str(c["function"]["arguments"]))
                for c in m.get("tool_calls") or []
            )
            names.update((c.id, c.name) for c in calls)
            out.append(Message("assistant", text, tool_calls=calls))
        elif role == "tool":
            call_id = str(m.get("tool_call_id") or "")
            out.append(Message("tool", text, tool_call_id=call_id, tool_name=names.get(call_id)))
        elif role in ("system", "user"):
            out.append(Message(role, text))
    return out


def model_config(provider: Provider, model: str, protocol: str, config: dict) -> ModelConfig:
    section = config.get("model") or {}
    return ModelConfig(
        model_name=model,
        provider=provider.name,
        protocol=protocol,
        observation_template=section["observation_template"],
        format_error_template=section["format_error_template"],
        action_regex=section.get("action_regex", TEXT_ACTION_REGEX),
    )
