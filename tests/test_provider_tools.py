"""Tool calling through each provider, against loopback servers whose tool shapes the official
SDKs accept (checked here once per wire format)."""

from __future__ import annotations

import json

import pytest

from swebench_tasks.providers import Message, Tool, ToolsUnsupported, get_provider
from tests.support.providers import KEYS, ChatReply

BASH = Tool("bash", "Execute a bash command",
            {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]})
OPENAI_BASH = {"type": "function", "function": {"name": BASH.name, "description": BASH.description,
                                                "parameters": BASH.parameters}}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-haiku-20240307", "openrouter": "openai/gpt-4o-mini",
          "huggingface": "meta-llama/Llama-3.1-8B-Instruct", "ollama": "llama3.2:1b"}


# -- the servers' tool shapes are the real ones ---------------------------------------------

def test_openai_tool_calls_with_official_sdk(openai_server):
    import openai

    client = openai.OpenAI(base_url=openai_server.base_url, api_key=KEYS["openai"], max_retries=0)
    openai_server.replies.append(ChatReply("looking", tool_calls=[("bash", {"command": "ls"})]))
    history = [{"role": "user", "content": "fix it"}]
    out = client.chat.completions.create(model="gpt-4o-mini", messages=history, tools=[OPENAI_BASH])
    call = out.choices[0].message.tool_calls[0]
    assert out.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("bash", {"command": "ls"})
    history += [out.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "README"}]
    assert client.chat.completions.create(model="gpt-4o-mini", messages=history, tools=[OPENAI_BASH])
    with pytest.raises(openai.BadRequestError):  # a result for a call nobody made
        client.chat.completions.create(model="gpt-4o-mini", tools=[OPENAI_BASH], messages=[
            {"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_x", "content": "y"}])
    openai_server.no_tools.add("gpt-4o-mini")
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-mini", messages=history[:1], tools=[OPENAI_BASH])


def test_anthropic_tool_use_with_official_sdk(anthropic_server):
    import anthropic

    client = anthropic.Anthropic(base_url=anthropic_server.base_url, api_key=KEYS["anthropic"], max_retries=0)
    tool = {"name": BASH.name, "description": BASH.description, "input_schema": BASH.parameters}
    anthropic_server.replies.append(ChatReply("looking", tool_calls=[("bash", {"command": "ls"})]))
    history: list[dict] = [{"role": "user", "content": "fix it"}]
    out = client.messages.create(model=MODELS["anthropic"], max_tokens=50, messages=history, tools=[tool])
    use = next(b for b in out.content if b.type == "tool_use")
    assert out.stop_reason == "tool_use" and (use.name, use.input) == ("bash", {"command": "ls"})
    history += [{"role": "assistant", "content": [b.model_dump() for b in out.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "README"}]}]
    assert client.messages.create(model=MODELS["anthropic"], max_tokens=50, messages=history, tools=[tool])
    with pytest.raises(anthropic.BadRequestError):  # the call left unanswered
        client.messages.create(model=MODELS["anthropic"], max_tokens=50, messages=history[:2] + [
            {"role": "user", "content": "next"}], tools=[tool])


def test_ollama_tool_calls_with_official_sdk(ollama_server):
    import ollama

    client = ollama.Client(host=ollama_server.base_url)
    ollama_server.replies.append(ChatReply("", tool_calls=[("bash", {"command": "ls"})]))
    out = client.chat(model=MODELS["ollama"], messages=[{"role": "user", "content": "fix it"}], tools=[OPENAI_BASH])
    call = out.message.tool_calls[0]
    assert (call.function.name, dict(call.function.arguments)) == ("bash", {"command": "ls"})
    history = [{"role": "user", "content": "fix it"}, out.message,
               {"role": "tool", "content": "README", "tool_name": "bash"}]
    assert client.chat(model=MODELS["ollama"], messages=history, tools=[OPENAI_BASH]).message
    ollama_server.no_tools.add(MODELS["ollama"])
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model=MODELS["ollama"], messages=history[:1], tools=[OPENAI_BASH])
    assert "does not support tools" in str(info.value)


# -- our providers ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(MODELS))
def test_tool_round_trip(name, provider_servers, provider_env, monkeypatch):
    """A call comes back as a ToolCall; the history replaying it with its result is accepted."""
    for variable, value in provider_env.items():
        monkeypatch.setenv(variable, value)
    server = provider_servers[name]
    provider = get_provider(name, key=KEYS.get(name))
    server.replies.extend([ChatReply("I look first", tool_calls=[("bash", {"command": "ls -la"}),
                                                                 ("bash", {"command": "git status"})]),
                           ChatReply("done")])
    history = [Message("system", "You fix bugs."), Message("user", "Fix the bug")]
    first = provider.chat(MODELS[name], history, tools=[BASH])
    assert [(c.name, json.loads(c.arguments)) for c in first.tool_calls] == [
        ("bash", {"command": "ls -la"}), ("bash", {"command": "git status"})]
    assert len({c.id for c in first.tool_calls}) == 2 and first.stop_reason
    declared = server.requests[-1].body["tools"]
    assert json.dumps(declared).count('"bash"') == 1 and "command" in json.dumps(declared)
    history += [Message("assistant", first.text, tool_calls=first.tool_calls)]
    history += [Message("tool", f"output {i}", tool_call_id=c.id, tool_name=c.name)
                for i, c in enumerate(first.tool_calls)]
    history += [Message("user", "a format reminder after the results")]
    second = provider.chat(MODELS[name], history, tools=[BASH])
    assert second.text == "done" and second.tool_calls == ()
    assert "output 1" in json.dumps(server.requests[-1].body)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_without_tools_is_tools_unsupported(name, provider_servers, provider_env, monkeypatch):
    for variable, value in provider_env.items():
        monkeypatch.setenv(variable, value)
    server = provider_servers[name]
    server.no_tools.add(MODELS[name])
    provider = get_provider(name, key=KEYS.get(name))
    with pytest.raises(ToolsUnsupported) as info:
        provider.chat(MODELS[name], [Message("user", "hi")], tools=[BASH])
    assert info.value.exit_code == 3 and len(server.requests) == 1  # not retried
    assert provider.chat(MODELS[name], [Message("user", "hi")]).text  # the text protocol still works
