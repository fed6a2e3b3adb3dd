"""Providers against the loopback servers; each server is checked once with the official SDK."""

from __future__ import annotations

import json

import pytest

from swebench_tasks.errors import AuthError, InstanceError, PromptRejected, ProviderError
from swebench_tasks.providers import Message, get_provider
from swebench_tasks.providers._http import Http, error_message, retry_after_seconds
from tests.support.providers import KEYS, ChatReply, Failure

MESSAGES = [Message("system", "You fix bugs."), Message("user", "Fix the bug please")]


def waits():
    seen: list[tuple[float, str]] = []
    return seen, lambda seconds, reason: seen.append((seconds, reason))


# -- the servers speak the real shapes: the official SDKs accept them ----------------------

def test_openai_server_with_official_sdk(openai_server):
    import openai

    client = openai.OpenAI(base_url=openai_server.base_url, api_key=KEYS["openai"], max_retries=0)
    assert {m.id for m in client.models.list()} == set(openai_server.models)
    openai_server.replies.append(ChatReply("diff --git a/x b/x", 11, 7))
    out = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content == "diff --git a/x b/x"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (11, 7)
    bad = openai.OpenAI(base_url=openai_server.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.code == "invalid_api_key"
    openai_server.fail(429, retry_after="0")
    with pytest.raises(openai.RateLimitError):
        client.models.list()


# -- openai ---------------------------------------------------------------------------------

def test_openai_lists_models_and_chats(openai_server):
    provider = get_provider("openai", key=KEYS["openai"])
    assert [m.id for m in provider.list_models()] == sorted(openai_server.models)
    openai_server.on_chat = lambda body: "echo: " + body["messages"][-1]["content"]
    result = provider.chat("gpt-4o", MESSAGES, max_tokens=50)
    assert result.text == "echo: Fix the bug please"
    assert result.input_tokens == 7 and result.output_tokens == 5 and result.model == "gpt-4o"
    request = openai_server.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEYS['openai']}"
    assert request.body["messages"][0] == {"role": "system", "content": "You fix bugs."}
    assert request.body["max_tokens"] == 50 and request.body["temperature"] == 0.0


def test_openai_refused_key_is_auth_error_never_retried_and_never_echoed(openai_server):
    key = "sk-wrong-abcdefghijklmnop"
    provider = get_provider("openai", key=key)
    with pytest.raises(AuthError) as info:
        provider.validate_key()
    assert len(openai_server.requests) == 1
    assert info.value.exit_code == 3
    assert key not in info.value.line() and "sk-te****" not in info.value.line()
    assert "OPENAI_API_KEY" in info.value.fix  # how it says so depends on the keychain (tests/test_keys.py)


def test_429_waits_as_retry_after_says_then_succeeds(openai_server):
    provider = get_provider("openai", key=KEYS["openai"])
    openai_server.fail(429, retry_after="1", path="/chat")
    seen, on_wait = waits()
    assert provider.chat("gpt-4o", MESSAGES, on_wait=on_wait).text
    assert seen and seen[0][0] == 1.0 and "429" in seen[0][1]
    assert openai_server.paths("POST") == ["/v1/chat/completions"] * 2


def test_5xx_backs_off_then_gives_up_naming_provider_and_endpoint(openai_server, monkeypatch):
    monkeypatch.setenv("SWEBENCH_MAX_RETRIES", "2")
    provider = get_provider("openai", key=KEYS["openai"])
    openai_server.fail(500, times=5)
    seen, on_wait = waits()
    with pytest.raises(ProviderError) as info:
        provider.chat("gpt-4o", MESSAGES, on_wait=on_wait)
    assert len(openai_server.requests) == 3 and len(seen) == 2
    assert seen[1][0] == 2 * seen[0][0]  # exponential
    assert "openai" in info.value.message and "/chat/completions" in info.value.message
    assert not isinstance(info.value, AuthError)


def test_5xx_then_success_recovers(openai_server):
    openai_server.fail(502, times=2)
    assert get_provider("openai", key=KEYS["openai"]).list_models()


def test_insufficient_quota_is_not_retried(openai_server):
    openai_server.fail(429, times=3, body={"error": {"message": "You exceeded your current quota",
                                                     "type": "insufficient_quota", "code": "insufficient_quota"}})
    with pytest.raises(ProviderError) as info:
        get_provider("openai", key=KEYS["openai"]).chat("gpt-4o", MESSAGES)
    assert "quota" in info.value.message and len(openai_server.requests) == 1


def test_timeout_is_retried_then_reported(openai_server, monkeypatch):
    monkeypatch.setenv("SWEBENCH_HTTP_TIMEOUT", "0.2")
    monkeypatch.setenv("SWEBENCH_MAX_RETRIES", "1")
    openai_server.delay = 1.0
    with pytest.raises(ProviderError) as info:
        get_provider("openai", key=KEYS["openai"]).list_models()
    assert "timed out" in info.value.message and "cannot reach openai" in info.value.message
    assert len(openai_server.requests) == 2


def test_connection_refused_is_one_clear_line(monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("SWEBENCH_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("SWEBENCH_MAX_RETRIES", "1")
    with pytest.raises(ProviderError) as info:
        get_provider("openai", key="sk-x").list_models()
    line = info.value.line()
    assert "\n" not in line and "connection refused" in line and "OPENAI_BASE_URL" in line


def test_retry_after_parsing():
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_retry_after_is_bounded(openai_server, monkeypatch):
    monkeypatch.setenv("SWEBENCH_RETRY_MAX_WAIT_SECONDS", "0.05")
    openai_server.fail(429, retry_after="3600")
    seen, on_wait = waits()
    get_provider("openai", key=KEYS["openai"]).chat("gpt-4o", MESSAGES, on_wait=on_wait)
    assert seen[0][0] == 0.05


def test_rate_limit_waits_are_bounded(openai_server, monkeypatch):
    monkeypatch.setenv("SWEBENCH_MAX_RETRIES", "2")
    openai_server.fail(429, retry_after="0", times=10)
    with pytest.raises(ProviderError) as info:
        get_provider("openai", key=KEYS["openai"]).chat("gpt-4o", MESSAGES)
    assert "429" in info.value.message and len(openai_server.requests) == 3
    assert not isinstance(info.value, AuthError)


def test_error_message_masks_keys():
    body = json.dumps({"error": {"message": "Incorrect API key provided: sk-proj-abcdefgh1234."}})
    assert "abcdefgh" not in error_message(body)
    assert "s3cr3t" not in error_message("token s3cr3t is bad", secret="s3cr3t")
    assert error_message(json.dumps({"type": "error", "error": {"type": "x", "message": "m"}})) == "m"
    assert error_message(json.dumps({"error": "plain"})) == "plain"


def test_unknown_model_is_provider_error(openai_server):
    with pytest.raises(ProviderError) as info:
        get_provider("openai", key=KEYS["openai"]).chat("no-such-model", MESSAGES)
    assert "404" in info.value.message and "does not exist" in info.value.message


@pytest.mark.parametrize("server_name, provider, failure, why", [
    ("openai_server", "openai", Failure(400, body={"error": {
        "message": "This model's maximum context length is 128000 tokens.", "type": "invalid_request_error",
        "param": "messages", "code": "context_length_exceeded"}}), "context window"),
    ("openai_server", "openai", Failure(400, body={"error": {
        "message": "The response was filtered due to the prompt triggering the content management policy.",
        "type": None, "param": "prompt", "code": "content_filter"}}), "content filter"),
    ("anthropic_server", "anthropic", Failure(400, body={"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long: 208310 tokens > 200000 maximum"}}),
     "context window"),
    ("anthropic_server", "anthropic", Failure(413, body={"type": "error", "error": {
        "type": "request_too_large", "message": "Request exceeds the maximum allowed number of bytes."}}),
     "request limit"),
    ("huggingface_server", "huggingface", Failure(422, body={"error": "Input validation error: `inputs` tokens + "
                                                                     "`max_new_tokens` must be <= 4096."}),
     "context window"),
    ("openrouter_server", "openrouter", Failure(400, body={"error": {"code": 400, "message": "This endpoint's "
                                                                     "maximum context length is 8192 tokens."}}),
     "context window"),
])
def test_a_refused_prompt_is_that_instances_error_not_retried(request, server_name, provider, failure, why):
    server = request.getfixturevalue(server_name)
    server.on_chat = lambda body: failure
    client = get_provider(provider, key=KEYS[provider])
    model = server.models[0]
    with pytest.raises(PromptRejected) as info:
        client.chat(model, MESSAGES)
    assert isinstance(info.value, InstanceError) and isinstance(info.value, ProviderError)
    assert why in info.value.message and info.value.fix
    assert len([r for r in server.requests if r.method == "POST"]) == 1


def test_a_withheld_reply_is_that_instances_error(openai_server):
    openai_server.fail(200, path="/chat/completions", body={
        "id": "x", "object": "chat.completion", "model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 0},
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}]})
    with pytest.raises(PromptRejected):
        get_provider("openai", key=KEYS["openai"]).chat("gpt-4o", MESSAGES)


def test_missing_key_is_auth_error_without_a_request(openai_server):
    with pytest.raises(AuthError):
        get_provider("openai").chat("gpt-4o", MESSAGES)
    assert openai_server.requests == []


def test_http_url_joins():
    http = Http("x", "http://h/v1/")
    assert http.url("/models") == "http://h/v1/models"
    assert http.url("https://other/api") == "https://other/api"


# -- anthropic ------------------------------------------------------------------------------

def test_anthropic_server_with_official_sdk(anthropic_server):
    import anthropic

    client = anthropic.Anthropic(base_url=anthropic_server.base_url, api_key=KEYS["anthropic"], max_retries=0)
    assert [m.id for m in client.models.list(limit=2)] == anthropic_server.models  # auto-paginates
    anthropic_server.replies.append(ChatReply("patched", 21, 3))
    out = client.messages.create(model="claude-3-haiku-20240307", max_tokens=10, system="sys",
                                 messages=[{"role": "user", "content": "hi"}])
    assert out.content[0].text == "patched" and (out.usage.input_tokens, out.usage.output_tokens) == (21, 3)
    bad = anthropic.Anthropic(base_url=anthropic_server.base_url, api_key="sk-ant-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        bad.models.list()
    assert info.value.body["error"]["type"] == "authentication_error"


def test_anthropic_paginates_and_chats_with_top_level_system(anthropic_server, monkeypatch):
    import swebench_tasks.providers.anthropic as module

    monkeypatch.setattr(module, "PAGE", 3)
    provider = get_provider("anthropic", key=KEYS["anthropic"])
    assert [m.id for m in provider.list_models()] == anthropic_server.models
    pages = [r.query for r in anthropic_server.requests]
    assert len(pages) == 2 and pages[1]["after_id"] == anthropic_server.models[2]
    result = provider.chat("claude-3-haiku-20240307", MESSAGES, max_tokens=99)
    request = anthropic_server.requests[-1]
    assert request.headers["x-api-key"] == KEYS["anthropic"]
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.body["system"] == "You fix bugs."
    assert request.body["messages"] == [{"role": "user", "content": "Fix the bug please"}]
    assert result.text == "ok from fake anthropic" and result.input_tokens == 7 and result.output_tokens == 4


def test_anthropic_refused_key(anthropic_server):
    with pytest.raises(AuthError) as info:
        get_provider("anthropic", key="sk-ant-bad-key-000000").validate_key()
    assert "ANTHROPIC_API_KEY" in info.value.fix and "invalid x-api-key" in info.value.message


def test_anthropic_overloaded_529_is_retried(anthropic_server):
    anthropic_server.fail(529)
    assert get_provider("anthropic", key=KEYS["anthropic"]).chat("claude-3-haiku-20240307", MESSAGES).text


# -- openrouter -----------------------------------------------------------------------------

def test_openrouter_server_with_official_sdk(openrouter_server):
    import openai

    client = openai.OpenAI(base_url=openrouter_server.base_url, api_key=KEYS["openrouter"], max_retries=0)
    out = client.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert out.choices[0].message.content and out.usage.total_tokens > 0
    assert {m.id for m in client.models.list()} == set(openrouter_server.models)


def test_openrouter_lists_without_a_key_with_prices(openrouter_server):
    models = {m.id: m for m in get_provider("openrouter").list_models()}
    mini = models["openai/gpt-4o-mini"]
    assert mini.input_price == 0.00000015 and mini.output_price == 0.0000006 and mini.context_length == 128000
    assert "authorization" not in openrouter_server.requests[0].headers


def test_openrouter_validates_on_key_endpoint(openrouter_server):
    get_provider("openrouter", key=KEYS["openrouter"]).validate_key()
    assert openrouter_server.paths() == ["/api/v1/key"]
    with pytest.raises(AuthError):
        get_provider("openrouter", key="sk-or-bad-000000").validate_key()


# -- huggingface ----------------------------------------------------------------------------

def test_huggingface_server_with_official_sdk(huggingface_server):
    import openai

    client = openai.OpenAI(base_url=huggingface_server.base_url, api_key=KEYS["huggingface"], max_retries=0)
    assert {m.id for m in client.models.list()} == set(huggingface_server.models)
    out = client.chat.completions.create(model=huggingface_server.models[0], messages=[{"role": "user", "content": "x"}])
    assert out.choices[0].message.content


def test_huggingface_token_checked_on_whoami(huggingface_server):
    provider = get_provider("huggingface", key=KEYS["huggingface"])
    provider.validate_key()
    assert huggingface_server.paths() == ["/api/whoami-v2"]
    with pytest.raises(AuthError) as info:
        get_provider("huggingface", key="hf_bad").validate_key()
    assert "HF_TOKEN" in info.value.fix


def test_huggingface_lists_live_then_falls_back_to_curated(huggingface_server):
    provider = get_provider("huggingface", key=KEYS["huggingface"])
    models = provider.list_models()
    assert [m.id for m in models] == sorted(huggingface_server.models) and not provider.curated
    assert models[0].context_length == 32768
    huggingface_server.list_available = False
    curated = provider.list_models()
    assert provider.curated and "meta-llama/Llama-3.1-8B-Instruct" in [m.id for m in curated]
    provider.check_model("meta-llama/Llama-3.1-8B-Instruct")  # live validation of a curated pick
    with pytest.raises(ProviderError):
        provider.check_model("mistralai/Mistral-7B-Instruct-v0.3")  # not served here: 404


# -- ollama ---------------------------------------------------------------------------------

def test_ollama_server_with_official_sdk(ollama_server):
    import ollama

    client = ollama.Client(host=ollama_server.base_url)
    assert [m.model for m in client.list().models] == ollama_server.models
    ollama_server.replies.append(ChatReply("hello", 5, 1))
    out = client.chat(model="llama3.2:1b", messages=[{"role": "user", "content": "hi"}])
    assert out.message.content == "hello" and (out.prompt_eval_count, out.eval_count) == (5, 1)
    statuses = [p.status for p in client.pull("mistral:7b", stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    with pytest.raises(ollama.ResponseError):
        list(client.pull("missing-model", stream=True))


def test_ollama_lists_chats_and_needs_no_key(ollama_server):
    provider = get_provider("ollama")
    assert provider.key_env is None and provider.detect()
    provider.validate_key()
    assert [m.id for m in provider.list_models()] == sorted(ollama_server.models)
    result = provider.chat("llama3.2:1b", MESSAGES, max_tokens=12)
    body = ollama_server.requests[-1].body
    assert body["stream"] is False and body["options"]["num_predict"] == 12
    assert result.input_tokens == 7 and result.output_tokens == 4


def test_ollama_pull_reports_progress(ollama_server):
    provider = get_provider("ollama")
    progress = []
    provider.pull("llama3.1:8b", lambda status, done, total: progress.append((status, done, total)))
    assert progress[-1][0] == "success" and ("pulling abababababab", 300, 300) in progress
    assert "llama3.1:8b" in [m.id for m in provider.list_models()]
    with pytest.raises(ProviderError) as info:
        provider.pull("missing-model")
    assert "file does not exist" in info.value.message


def test_ollama_not_running_is_one_clear_line(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    provider = get_provider("ollama")
    assert not provider.detect()
    with pytest.raises(ProviderError) as info:
        provider.validate_key()
    assert "ollama serve" in info.value.fix and "OLLAMA_HOST" in info.value.fix


@pytest.mark.parametrize("raw,url", [(None, "http://localhost:11434"), ("0.0.0.0", "http://localhost:11434"),
                                     ("example:8080", "http://example:8080"),
                                     ("https://box.lan/ollama/", "https://box.lan:443/ollama")])
def test_ollama_host_forms(raw, url):
    from swebench_tasks.providers.ollama import host_url

    assert host_url(raw) == url


def test_unknown_provider_is_usage_error():
    from swebench_tasks.errors import UsageError

    with pytest.raises(UsageError):
        get_provider("bogus")


# -- catalog cache and prices ---------------------------------------------------------------

def test_catalog_is_written_atomically_and_read_back(openrouter_server, tmp_path):
    from swebench_tasks.catalog import catalog_age, fetch_catalog, read_catalog

    path = tmp_path / "catalog" / "openrouter.json"
    models = fetch_catalog("openrouter", None, path)
    assert read_catalog(path) == models and catalog_age(path) is not None
    assert json.loads(path.read_text())["base_url"] == openrouter_server.base_url
    assert [p.name for p in path.parent.iterdir()] == ["openrouter.json"]
    path.write_text("{broken")
    assert read_catalog(path) is None and catalog_age(path) is None
    assert read_catalog(tmp_path / "missing.json") is None


def test_catalog_never_holds_the_key(openai_server, tmp_path):
    from swebench_tasks.catalog import fetch_catalog

    path = tmp_path / "openai.json"
    fetch_catalog("openai", KEYS["openai"], path)
    assert KEYS["openai"] not in path.read_text()


def test_price_estimates():
    from swebench_tasks.pricing import estimate
    from swebench_tasks.providers import ModelInfo

    assert estimate("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == 0.75
    assert estimate("gpt-4o", 1_000_000, 0) == 2.5  # not gpt-4o-mini's price
    assert estimate("openai/gpt-4o-mini", 2_000_000, 0) == 0.3
    assert estimate("claude-3-5-sonnet-20241022", 1000, 1000) == 0.018
    assert estimate("some-unknown-model", 10, 10) is None
    assert estimate("llama3.2:1b", 10, 10, provider="ollama") == 0.0
    catalog = ModelInfo("gpt-4o", input_price=1e-6, output_price=2e-6)
    assert estimate("gpt-4o", 1000, 1000, catalog) == 0.003  # the catalog's price wins
