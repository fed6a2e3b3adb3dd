"""Errors that end a command: each carries its exit code and the fix to print.

Exit codes are the contract in docs/cli.md ("Exit codes"): 2 usage/configuration, 3 provider,
4 Docker/registry/harness, 130 interrupted, 1 anything unexpected.
"""

from __future__ import annotations


class SwebenchError(Exception):
    """A failure the user can act on: one line saying what failed and what fixes it."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.detail = detail  # extra lines (log path and tail), printed after the one line

    def line(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class UsageError(SwebenchError):
    """Bad value, unknown name, nothing configured."""

    exit_code = 2


class ProviderError(SwebenchError):
    """Auth, quota or network trouble with a model provider, after retries."""

    exit_code = 3


class AuthError(ProviderError):
    """401/403: the key is wrong or lacks permission. Never retried."""


class InstanceError(SwebenchError):
    """A failure that concerns one instance only (its prompt, its reply), not the run.

    Recorded as that instance's error with its reason; the batch goes on and
    `--rerun-failed` retries it. Anything else (a refused key, an exhausted quota, an
    unknown model, a provider unreachable after retries) would fail every instance
    alike, so it still stops the run.
    """


class PromptRejected(ProviderError, InstanceError):
    """The provider refused this one request: too long for the context window, or a content filter."""


class NoUsableDiff(InstanceError):
    """The model answered, but its reply holds no diff to submit, or one whose hunks cannot
    all be placed in the files (a patch missing a hunk never reaches the harness)."""

    def __init__(self, message: str, fix: str | None = None, detail: str | None = None):
        super().__init__(message, fix or "rerun it with --rerun-failed, or try another model or --context", detail)


class EngineError(SwebenchError):
    """Docker engine, registry or harness failure."""

    exit_code = 4
