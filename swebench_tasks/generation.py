"""Patch generation for one instance: prompt -> chat -> diff -> (apply check, one retry).

Each result is a GenerationRecord written atomically as the doit target of
`generate:<instance_id>`. Its `key` covers everything that should force a new
model call (provider, model, prompt version, context mode), and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from swebench_tasks.errors import InstanceError
from swebench_tasks.files import safe_name, slug, write_atomic
from swebench_tasks.providers import ChatResult, Message, OnWait, Provider

# Runs `git apply --check` for a diff against the instance's base commit:
# (applies, git's error, the patch, possibly repaired with the real file texts).
ApplyChecker = Callable[[str], "tuple[bool, str, str]"]


@dataclass
class GenerationRecord:
    instance_id: str
    provider: str
    model: str
    prompt_version: str
    context: str
    key: str
    patch: str = ""
    raw_reply: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    applied: bool | None = None  # None: not checked (no engine)
    apply_error: str = ""
    attempts: int = 0
    error: str = ""  # why this instance has no patch (a refused prompt, no diff); the run went on
    created_at: float = field(default_factory=time.time)

    @property
    def prediction(self) -> str:
        """What the harness gets: a patch known not to apply is evaluated as empty."""
        return "" if self.applied is False else self.patch

    @classmethod
    def read(cls, path: Path) -> GenerationRecord | None:
        try:
            data = json.loads(path.read_text())
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None

    def write(self, path: Path, extra: dict | None = None) -> None:
        """Atomic: a run killed mid-write leaves the old record or none, never half.
        `extra` keys ride along (agent mode keeps the agent's outcome there)."""
        write_atomic(path, json.dumps({**asdict(self), **(extra or {})}, indent=1))


def generation_key(provider: str, model: str, prompt_version: str, context: str) -> str:
    text = json.dumps([provider, model, prompt_version, context])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_path(generations_dir: Path, provider: str, model: str, instance_id: str) -> Path:
    """Records live per (provider, model): switching back to a model reuses its patches."""
    return generations_dir / safe_name(slug(f"{provider}__{model}")) / f"{safe_name(instance_id)}.json"


# `write` puts the key near the top (dataclass order, indent=1), before the patch and reply:
# an up-to-date check of a full selection reads a few hundred bytes per record, not all of it.
_KEY_LINE = re.compile(rb'\n "key": "([^"\\]*)",\n')


def is_current(path: Path, key: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(2048)
    except OSError:
        return False
    found = _KEY_LINE.search(head)
    if found:
        return found.group(1).decode() == key
    record = GenerationRecord.read(path)
    return record is not None and record.key == key


def generate_one(
    row: dict,
    *,
    provider: Provider,
    model: str,
    messages: list[Message],
    key: str,
    context_mode: str,
    prompt_version: str,
    on_wait: OnWait | None = None,
    check_apply: ApplyChecker | None = None,
    max_tokens: int = 4096,
    model_info=None,
) -> GenerationRecord:
    """Ask the model once; if its diff does not apply, ask once more showing the error.

    A failure of this instance alone (InstanceError, e.g. NoUsableDiff) is kept in the
    record's `error`; anything that would fail every instance propagates and stops the run.
    """
    from swebench_tasks.diffs import patch_from_reply
    from swebench_tasks.pricing import estimate
    from swebench_tasks.prompt import retry_messages

    record = GenerationRecord(
        instance_id=row["instance_id"],
        provider=provider.name,
        model=model,
        prompt_version=prompt_version,
        context=context_mode,
        key=key,
    )
    try:
        for attempt in (1, 2):
            result: ChatResult = provider.chat(model, messages, max_tokens=max_tokens, on_wait=on_wait)
            record.attempts = attempt
            record.raw_reply = result.text
            record.input_tokens += result.input_tokens
            record.output_tokens += result.output_tokens
            record.patch = patch_from_reply(result.text)
            if check_apply is None:
                break
            record.applied, record.apply_error, record.patch = check_apply(record.patch)
            if record.applied or attempt == 2:
                break
            messages = retry_messages(messages, result.text, record.apply_error)
    except InstanceError as exc:
        record.patch, record.applied, record.error = "", None, exc.line()
    record.cost_usd = estimate(model, record.input_tokens, record.output_tokens, model_info, provider=provider.name)
    return record


# What one generation is assumed to cost before it happens: the prompt fills the context
# budget (retrieval) or is the issue text plus instructions; the reply is a short diff.
ASSUMED_OUTPUT_TOKENS = 1000
PROMPT_OVERHEAD_TOKENS = 600


def forecast(
    rows: list[dict], *, provider: str | None, model: str, context_budget: int | None, info=None
) -> tuple[int, int, float | None]:
    """(input tokens, output tokens, USD or None if the price is unknown) for generating `rows`."""
    from swebench_tasks.pricing import estimate

    tokens_in = sum(
        (context_budget or 0) + PROMPT_OVERHEAD_TOKENS + len(r.get("problem_statement", "")) // 4 for r in rows
    )
    tokens_out = ASSUMED_OUTPUT_TOKENS * len(rows)
    return tokens_in, tokens_out, estimate(model, tokens_in, tokens_out, info, provider=provider)
