"""The one HTTP path every provider uses: auth errors, rate limits and retries in one place.

Policy (docs/troubleshooting.md, "3: provider"): 401/403 is a key problem and is never retried; 429 waits as
`Retry-After` says (bounded); 5xx, timeouts and connection errors retry with bounded
exponential backoff, then fail with one line naming the provider and endpoint.

Tunable through the environment (tests set them to keep retries quick):

- `SWEBENCH_RETRY_BASE_SECONDS` (default 1): first backoff; doubles on each retry.
- `SWEBENCH_MAX_RETRIES` (default 4): retries after the first attempt (429s and 5xx/network
  failures share this budget).
- `SWEBENCH_RETRY_MAX_WAIT_SECONDS` (default 60): the longest single wait, whatever
  `Retry-After` asks for.
- `SWEBENCH_HTTP_TIMEOUT` (default: per call, 30 s for listings, 600 s for chat): read timeout.

httpx and tenacity (which runs the retries) are imported inside functions: importing httpx
costs ~230 ms, and `swebench --help` must not pay for it.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from swebench_tasks.errors import AuthError, PromptRejected, ProviderError, SwebenchError, UsageError
from swebench_tasks.providers import OnWait, ToolsUnsupported

LIST_TIMEOUT = 30.0
CHAT_TIMEOUT = 600.0
# Anything that looks like a provider key in an error body is masked before it is shown.
_KEYLIKE = re.compile(r"\b(sk|hf|sk-ant|sk-or|sk-proj|key)[-_][A-Za-z0-9*_.\-]{4,}")
# How providers say that one request (not the key, model or account) is the problem:
# OpenAI/OpenRouter/HF-router error codes and texts, Anthropic's "prompt is too long",
# TGI's 422 "inputs tokens + max_new_tokens must be <= N", Azure's content filter.
_CONTEXT_CODES = {"context_length_exceeded", "string_above_max_length", "request_too_large"}
_FILTER_CODES = {"content_filter", "content_policy_violation"}
_CONTEXT_TEXT = re.compile(
    r"context (length|window)|maximum context|prompt is too long|too many (input )?tokens"
    r"|input is too long|reduce the length|max_new_tokens`? must be",
    re.I,
)
_FILTER_TEXT = re.compile(r"content (filter|management|policy)|flagged|safety system", re.I)


def _env_number(name: str, default: float, cast: Callable[[str], float] = float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise UsageError(
            f"{name} must be a number, got {raw!r}", fix=f"unset {name} or set it to e.g. {default}"
        ) from None
    if value < 0:
        raise UsageError(f"{name} must not be negative, got {raw!r}", fix=f"set {name} to e.g. {default}")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to wait; read from the environment per request."""

    base_seconds: float = 1.0
    max_retries: int = 4
    max_wait: float = 60.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(
            base_seconds=_env_number("SWEBENCH_RETRY_BASE_SECONDS", cls.base_seconds),
            max_retries=int(_env_number("SWEBENCH_MAX_RETRIES", cls.max_retries, int)),
            max_wait=_env_number("SWEBENCH_RETRY_MAX_WAIT_SECONDS", cls.max_wait),
        )

    def backoff(self, retry: int) -> float:
        return min(self.base_seconds * (2**retry), self.max_wait)


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """Seconds a 429 asks us to wait: `retry-after-ms`, `Retry-After` seconds or HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


def error_message(body: bytes | str, secret: str | None = None) -> str:
    """The provider's own error text (OpenAI, Anthropic, HF, Ollama shapes), key masked."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    message = text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message") or err.get("type") or err.get("code")
        if err:
            message = str(err)
    if secret:
        message = message.replace(secret, "***")
    message = _KEYLIKE.sub("***", message)
    message = " ".join(message.split())
    return message[:300]


def error_code(body: bytes) -> str | None:
    """OpenAI's `error.code`/`type` (e.g. `insufficient_quota`), if present."""
    try:
        err = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    if isinstance(err, dict):
        return err.get("code") or err.get("type")
    return None


_TOO_LONG_FIX = "use --context statement, or a model with a larger context window"
_FILTER_FIX = "rerun it with --rerun-failed, or try another model"


def prompt_problem(status: int, body: bytes) -> tuple[str, str] | None:
    """(why, fix) when the provider refused this one request; None when the refusal is not
    about the prompt (and so would hit every instance)."""
    if status == 413:
        return "too large for the provider's request limit", _TOO_LONG_FIX
    if status not in (400, 422):
        return None
    code, text = str(error_code(body) or ""), error_message(body)
    if code in _CONTEXT_CODES or _CONTEXT_TEXT.search(text):
        return "too long for the model's context window", _TOO_LONG_FIX
    if code in _FILTER_CODES or _FILTER_TEXT.search(text):
        return "refused by the provider's content filter", _FILTER_FIX
    return None


def filtered(provider: str, model: str) -> PromptRejected:
    """A reply the provider withheld (finish or stop reason): this instance's error, not the run's."""
    return PromptRejected(f"{provider} withheld the reply of {model} (content filter or refusal)", fix=_FILTER_FIX)


@dataclass
class Http:
    """One provider endpoint: base URL, auth headers and the retry policy above."""

    provider: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    secret: str | None = None  # masked out of any error text
    # What fixes a refused key, e.g. "run `swebench secrets set openai`"; a callable is asked only
    # when a key is refused (it looks for a keychain, which costs an import of keyring).
    key_fix: str | Callable[[], str] = ""
    endpoint_env: str = ""  # the variable that moves this endpoint, e.g. OPENAI_BASE_URL
    on_wait: OnWait | None = None  # told of every wait a call does not report itself
    sleep: Callable[[float], None] = time.sleep
    _client: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def client(self):
        """One pooled httpx client per endpoint (thread-safe; created on first use)."""
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(headers=self.headers, follow_redirects=True)
            return self._client

    def get(
        self, path: str, *, params: dict | None = None, timeout: float = LIST_TIMEOUT, on_wait: OnWait | None = None
    ) -> Any:
        return self.request("GET", path, params=params, timeout=timeout, on_wait=on_wait)

    def post(self, path: str, body: dict, *, timeout: float = CHAT_TIMEOUT, on_wait: OnWait | None = None) -> Any:
        return self.request("POST", path, body=body, timeout=timeout, on_wait=on_wait)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        timeout: float = LIST_TIMEOUT,
        on_wait: OnWait | None = None,
    ) -> Any:
        """The decoded JSON reply, after the retry policy; raises AuthError/ProviderError."""
        response = self._send(method, path, body=body, params=params, timeout=timeout, on_wait=on_wait, stream=False)
        try:
            return response.json()
        except ValueError:
            raise ProviderError(
                f"{self.provider} {method} {self.url(path)} returned a reply that is not JSON",
                fix=f"check the {self.provider} endpoint URL",
            ) from None

    def stream_lines(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        timeout: float = CHAT_TIMEOUT,
        on_wait: OnWait | None = None,
    ) -> Iterator[dict]:
        """Each line of a streamed NDJSON reply (e.g. Ollama's pull progress), decoded."""
        response = self._send(method, path, body=body, params=None, timeout=timeout, on_wait=on_wait, stream=True)
        try:
            for line in response.iter_lines():
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        raise ProviderError(
                            f"{self.provider} {method} {self.url(path)} streamed a line that is not JSON",
                            fix=f"check the {self.provider} endpoint URL",
                        ) from None
        except _transport_errors() as exc:
            raise self._unreachable(method, path, exc) from None
        finally:
            response.close()

    def _send(self, method: str, path: str, *, body, params, timeout, on_wait, stream):
        import httpx
        import tenacity

        policy = RetryPolicy.from_env()
        timeout = _env_number("SWEBENCH_HTTP_TIMEOUT", timeout)
        url = self.url(path)
        waits = 0

        def attempt():
            try:
                request = self.client().build_request(
                    method,
                    url,
                    json=body,
                    params=params,
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                )
                response = self.client().send(request, stream=stream)
            except _transport_errors() as exc:
                raise _Retry(
                    f"{self.provider} unreachable ({_reason(exc)}); retrying", self._unreachable(method, path, exc)
                ) from None
            status = response.status_code
            if status < 400:
                return response
            content = response.read()
            response.close()
            if status in (401, 403):
                fix = self.key_fix() if callable(self.key_fix) else self.key_fix
                raise AuthError(
                    f"{self.provider} refused the key ({status}: {error_message(content, self.secret)})",
                    fix=fix or f"check your {self.provider} key",
                )
            if status == 429:
                if error_code(content) == "insufficient_quota":
                    raise ProviderError(
                        f"{self.provider} quota exhausted: {error_message(content, self.secret)}",
                        fix=f"add credit or raise the quota of your {self.provider} account",
                    )
                raise _Retry(
                    f"{self.provider} rate limit (429); waiting",
                    ProviderError(
                        f"{self.provider} still rate-limited (429) at {method} {url} after {waits} waits",
                        fix="wait a minute and rerun, or lower --max-workers",
                    ),
                    retry_after_seconds(response.headers),
                )
            refusal = self._refusal(method, url, status, content, body)
            if status >= 500:
                raise _Retry(f"{self.provider} server error ({status}); retrying", refusal)
            raise refusal

        def wait(state: tenacity.RetryCallState) -> float:
            """Retry-After when a 429 gave one, else the policy's backoff; never past max_wait."""
            asked = _retry_of(state).asked
            backoff = policy.backoff(state.attempt_number - 1)
            return min(asked if asked is not None else backoff, policy.max_wait)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            nonlocal waits
            waits += 1
            notify = on_wait or self.on_wait
            if notify is not None and state.next_action is not None:
                notify(state.next_action.sleep, _retry_of(state).reason)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_retries + 1),
            wait=wait,
            retry=tenacity.retry_if_exception_type(_Retry),
            before_sleep=before_sleep,
            sleep=lambda seconds: self.sleep(seconds) if seconds > 0 else None,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Retry as exc:
            raise exc.final from None

    def _refusal(self, method: str, url: str, status: int, content: bytes, body: dict | None) -> SwebenchError:
        """The one error for a reply no retry fixes (or a 5xx after the last retry)."""
        message = error_message(content, self.secret)
        if status < 500 and isinstance(body, dict) and body.get("tools") and "tool" in message.lower():
            return ToolsUnsupported(
                f"{self.provider} refused tool calls ({status}): {message}",
                fix="use a model that supports tools, or the text protocol",
            )
        problem = prompt_problem(status, content)
        if problem is not None:
            why, fix = problem
            return PromptRejected(f"{self.provider} refused this prompt ({status}, {why}): {message}", fix=fix)
        return ProviderError(
            f"{self.provider} {method} {url} failed ({status}): {message}",
            fix=(
                f"{self.provider} is having trouble; rerun later"
                if status >= 500
                else "check the model name and request"
            ),
        )

    def _unreachable(self, method: str, path: str, exc: Exception) -> ProviderError:
        return ProviderError(
            f"cannot reach {self.provider} at {self.url(path)} ({_reason(exc)})",
            fix="check the network" + (f" or {self.endpoint_env}" if self.endpoint_env else ""),
        )


class _Retry(Exception):
    """A failure another attempt may fix: the wait's reason, the error if none is left, Retry-After."""

    def __init__(self, reason: str, final: SwebenchError, asked: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.final = final
        self.asked = asked


def _retry_of(state: Any) -> _Retry:
    """The retryable failure of the attempt tenacity is about to wait after."""
    exc = state.outcome.exception() if state.outcome is not None else None
    assert isinstance(exc, _Retry)
    return exc


def _transport_errors() -> tuple[type[Exception], ...]:
    import httpx

    return (httpx.TransportError,)


def _reason(exc: Exception) -> str:
    """A short cause: 'connection refused', 'timed out', ... without a traceback."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return "host not found"
    return " ".join(text.split())[:120]
