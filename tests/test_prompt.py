"""The generation prompt: SWE-bench layout, the three context modes, and the one retry."""

from __future__ import annotations

import pytest

from swebench_tasks.retrieval import Context, ContextFile
from swebench_tasks.diffs import extract_diff, repair_diff
from swebench_tasks.errors import UsageError
from swebench_tasks.prompt import PATCH_EXAMPLE, PROMPT_VERSION, build_messages, retry_messages

INSTANCE = {
    "instance_id": "acme__calc-1",
    "problem_statement": "add() subtracts\n\n`calc.add(2, 3)` returns -1.\n",
    "hints_text": "Look at calc/ops.py.",
}
CONTEXT = Context(
    files=[
        ContextFile("calc/ops.py", "def add(a, b):\n    return a - b\n", 10, 11, "defines add"),
        ContextFile("calc/ops.py", "def sub(a, b):\n    return a - b\n", 40, 41, "defines add"),
        ContextFile("calc/__init__.py", "from calc.ops import add\n", 1, 1, "bm25 1.0"),
    ],
    budget_tokens=1000, used_tokens=60, strategy="retrieval",
)


def user_text(messages) -> str:
    assert messages[-1].role == "user"
    return messages[-1].content


def test_retrieval_prompt_has_issue_hints_numbered_code_example_and_instruction() -> None:
    messages = build_messages(INSTANCE, CONTEXT, "retrieval")
    assert [m.role for m in messages] == ["system", "user"]
    text = user_text(messages)
    order = ["<issue>", "add() subtracts", "</issue>", "<hints>", "Look at calc/ops.py.",
             "<code>", "[start of calc/ops.py]", "10 def add(a, b):", "11     return a - b",
             "...\n40 def sub(a, b):", "[end of calc/ops.py]", "[start of calc/__init__.py]\n1 from",
             "</code>", "```diff\ndiff --git a/file.py b/file.py", "ONE unified diff"]
    positions = [text.find(part) for part in order]
    assert -1 not in positions, [p for p, i in zip(order, positions) if i == -1]
    assert text.count("[start of calc/ops.py]") == 1
    assert "...\n1 from calc.ops" not in text  # a span that starts the file has no leading ...
    assert sorted(positions[:5]) == positions[:5]


def test_statement_prompt_has_no_code_and_no_empty_hints() -> None:
    text = user_text(build_messages({**INSTANCE, "hints_text": ""}, None, "statement"))
    assert "<code>" not in text and "<hints>" not in text and "add() subtracts" in text
    assert "```diff" in text


def test_text_mode_sends_the_rows_text_verbatim() -> None:
    row = {**INSTANCE, "text": "PROMPT WITH CODE\n<patch>\n"}
    assert [(m.role, m.content) for m in build_messages(row, None, "text")] == [
        ("user", "PROMPT WITH CODE\n<patch>\n")]


def test_text_mode_without_a_text_column_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as err:
        build_messages(INSTANCE, None, "text")
    assert err.value.exit_code == 2 and "--context retrieval" in err.value.fix


def test_unknown_mode_and_retrieval_without_context() -> None:
    with pytest.raises(UsageError):
        build_messages(INSTANCE, None, "oracle")
    with pytest.raises(ValueError):
        build_messages(INSTANCE, None, "retrieval")


def test_the_example_patch_is_itself_a_valid_diff() -> None:
    assert repair_diff(PATCH_EXAMPLE) == PATCH_EXAMPLE  # its counts are right: nothing to fix
    text = user_text(build_messages(INSTANCE, CONTEXT, "retrieval"))
    assert extract_diff(text) == PATCH_EXAMPLE  # and a reply that echoes the format parses


def test_retry_shows_the_reply_and_gits_error() -> None:
    first = build_messages(INSTANCE, CONTEXT, "retrieval")
    retry = retry_messages(first, "```diff\n--- a/x\n```", "error: patch failed: calc/ops.py:10\n")
    assert retry[: len(first)] == first and len(retry) == len(first) + 2
    assert retry[-2].role == "assistant" and retry[-2].content == "```diff\n--- a/x\n```"
    assert retry[-1].role == "user" and "error: patch failed: calc/ops.py:10" in retry[-1].content
    assert "ONE corrected unified diff" in retry[-1].content
    long_error = retry_messages(first, "r", "x" * 10_000)[-1].content
    assert len(long_error) < 3_000


def test_prompt_version_is_a_string() -> None:
    assert isinstance(PROMPT_VERSION, str) and PROMPT_VERSION
