"""generate_one: one model call, one retry with the apply error, nothing silently dropped."""

from __future__ import annotations

from dataclasses import dataclass, field

from swebench_tasks.generation import GenerationRecord, forecast, generate_one, is_current
from swebench_tasks.providers import ChatResult, Message

GOOD = "```diff\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n```"
BAD_COUNTS = "Fix:\n--- a/m.py\n+++ b/m.py\n@@ -1,5 +1,9 @@\n-x = 1\n+x = 2\nThanks."


@dataclass
class ScriptedProvider:
    replies: list[str]
    name: str = "openai"
    seen: list[list[Message]] = field(default_factory=list)

    def chat(self, model, messages, *, max_tokens=4096, temperature=0.0, on_wait=None):
        self.seen.append(list(messages))
        return ChatResult(self.replies.pop(0), input_tokens=100, output_tokens=20, model=model)


def run(provider, checker=None):
    return generate_one({"instance_id": "a__b-1"}, provider=provider, model="gpt-4o-mini",
                        messages=[Message("user", "fix it")], key="k", context_mode="statement",
                        prompt_version="1", check_apply=checker)


def test_counts_are_repaired_and_tokens_recorded():
    record = run(ScriptedProvider([BAD_COUNTS]))
    assert "@@ -1 +1 @@" in record.patch or "@@ -1,1 +1,1 @@" in record.patch
    assert (record.attempts, record.input_tokens, record.output_tokens) == (1, 100, 20)
    assert record.cost_usd is not None and record.cost_usd > 0


def test_one_retry_shows_the_apply_error():
    provider = ScriptedProvider([GOOD, GOOD])
    verdicts = iter([(False, "error: patch failed: m.py:1", None), (True, "", None)])

    def checker(patch):
        ok, error, _ = next(verdicts)
        return ok, error, patch

    record = run(provider, checker)
    assert record.attempts == 2 and record.applied is True
    assert "patch failed: m.py:1" in " ".join(m.content for m in provider.seen[1])
    assert record.input_tokens == 200


def test_patch_that_never_applies_is_kept_but_predicted_empty():
    provider = ScriptedProvider([GOOD, GOOD])
    record = run(provider, lambda patch: (False, "does not apply", patch))
    assert record.attempts == 2 and record.applied is False and record.patch
    assert record.prediction == ""
    assert len(provider.seen) == 2  # exactly one retry


def test_record_round_trip_and_key(tmp_path):
    record = run(ScriptedProvider([GOOD]))
    path = tmp_path / "r.json"
    record.write(path)
    assert GenerationRecord.read(path) == record
    assert is_current(path, "k") and not is_current(path, "other")
    long = GenerationRecord(**{**record.__dict__, "model": "m" * 5000, "key": "k2"})
    long.write(path)  # the key beyond the head that is read first
    assert is_current(path, "k2") and not is_current(path, "k")
    path.write_text("{torn")
    assert GenerationRecord.read(path) is None and not is_current(path, "k")


def test_forecast_is_unknown_without_a_price():
    rows = [{"problem_statement": "x" * 400}] * 3
    tokens_in, tokens_out, usd = forecast(rows, provider="openai", model="no-such-model", context_budget=1000)
    assert tokens_in == 3 * (1000 + 600 + 100) and tokens_out == 3000 and usd is None
    assert forecast(rows, provider="ollama", model="llama3", context_budget=None)[2] == 0.0
