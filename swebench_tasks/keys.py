"""Provider keys: environment, OS keychain, `.env` pointer, hidden prompt; never plaintext on disk.

Keychain service `swebench-runner`; account `{provider}` for the default profile and
`{provider}:{profile}` for a named one; `sb-cli` for the SWE-bench API key. A keyring
backend that is not a real keychain (keyring's fail/null backends, keyrings.alt's plaintext
or file backends) counts as none: we say so once and use environment variables only.
keyring is imported inside functions so the CLI starts fast.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets as _random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from swebench_tasks.config import DEFAULT_PROFILE, config_dir, read_dotenv
from swebench_tasks.errors import UsageError
from swebench_tasks.providers import NAMES, info

SERVICE = "swebench-runner"
# The SWE-bench API key is kept like a provider's; the providers' variables are in their INFO.
SB_CLI, SB_CLI_ENV = "sb-cli", "SWEBENCH_API_KEY"
KEYED = (*NAMES, SB_CLI)  # every name a key may belong to
POINTER = re.compile(r"^keyring://(?P<service>[^/]+)/(?P<account>.+)$")
# Backends that are not a keychain: nothing, or a file an attacker can read or copy.
_NOT_KEYCHAINS = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt", "keyrings.cryptfile")

_warned = False


@dataclass(frozen=True)
class KeyStatus:
    """What `secrets get` reports: where a key is, never what it is."""

    provider: str
    profile: str
    account: str
    env_var: str | None
    in_environment: bool
    in_keychain: bool
    keychain: bool  # a usable OS keychain exists
    backend: str  # the keyring backend's name

    @property
    def present(self) -> bool:
        return self.in_environment or self.in_keychain


def key_env(provider: str) -> str | None:
    """The provider's key variable (None: it needs no key); UsageError for an unknown provider."""
    if provider not in KEYED:
        raise UsageError(f"unknown provider {provider!r}", fix=f"use one of: {', '.join(KEYED)}")
    return SB_CLI_ENV if provider == SB_CLI else info(provider).key_env


def export_hint(env: str) -> str:
    """The shell line that gives a key without a keychain (the key itself never shown)."""
    return f"export {env}=<your key>"


def key_fix(provider: str, profile: str | None = None) -> str:
    """The command or variable that fixes a missing or refused key. Without a usable keychain,
    `swebench secrets set` cannot store it, so the fix is the variable alone."""
    env = key_env(provider)
    if env and not has_keychain():
        return f"{export_hint(env)} in your shell"
    if profile and profile != DEFAULT_PROFILE:
        return f"run `swebench profiles set-key --provider {provider} --profile {profile} --stdin`" + (
            f" or set {env}" if env else ""
        )
    command = f"run `swebench secrets set {provider}`"
    return f"set {env} or {command}" if env else command


def account(provider: str, profile: str | None = None) -> str:
    """The keychain account: `{provider}` for the default profile, else `{provider}:{profile}`."""
    return provider if profile in (None, DEFAULT_PROFILE) else f"{provider}:{profile}"


def pointer(provider: str, profile: str | None = None) -> str:
    """A `.env` value naming the keychain entry, e.g. keyring://swebench-runner/openai."""
    return f"keyring://{SERVICE}/{account(provider, profile)}"


def sanitize_key(raw: str) -> str:
    """A pasted key without surrounding whitespace, quotes or a leading `Bearer `."""
    key = (raw or "").strip()
    while len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'`":
        key = key[1:-1].strip()
    key = re.sub(r"(?i)^bearer(\s+|$)", "", key).strip()
    if not key:
        raise UsageError("the key is empty", fix="paste the whole key, e.g. `swebench secrets set openai`")
    if any(ch in key for ch in "\r\n"):
        raise UsageError("the key spans several lines", fix="paste the key on one line")
    if any(ord(ch) < 32 or ch.isspace() for ch in key):
        raise UsageError("the key contains spaces or control characters", fix="paste only the key itself")
    return key


# -- the keychain ---------------------------------------------------------------------------


def _backend_name(backend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _is_keychain(backend) -> bool:
    name = _backend_name(backend)
    if name.startswith(_NOT_KEYCHAINS):
        return False
    return "plaintext" not in name.lower() and "file" not in type(backend).__name__.lower()


def has_keychain() -> bool:
    return keychain()[0] is not None


def keychain():
    """(backend, name): the real keychain backend, or (None, name of what keyring offers)."""
    import keyring
    from keyring.backends.chainer import ChainerBackend

    backend = keyring.get_keyring()
    if isinstance(backend, ChainerBackend):
        real = [b for b in backend.backends if _is_keychain(b)]
        return (real[0], _backend_name(real[0])) if real else (None, _backend_name(backend))
    return (backend, _backend_name(backend)) if _is_keychain(backend) else (None, _backend_name(backend))


def _warn_no_keychain(name: str, detail: str = "") -> None:
    """One line per process: there is no keychain, so only environment variables work."""
    global _warned
    if not _warned:
        _warned = True
        why = f": {detail}" if detail else ""
        sys.stderr.write(
            f"swebench: warning: no usable OS keychain (keyring backend {name}{why}); "
            "keys are read from environment variables only\n"
        )


def _keychain_get(service: str, acct: str) -> str | None:
    from keyring.errors import KeyringError

    backend, name = keychain()
    if backend is None:
        _warn_no_keychain(name)
        return None
    try:
        return backend.get_password(service, acct)
    except (KeyringError, RuntimeError, OSError) as exc:
        _warn_no_keychain(name, _short(exc))
        return None


def store_key(provider: str, key: str, *, profile: str | None = None) -> str:
    """Store a (sanitised) key in the keychain; returns the backend name. Never plaintext."""
    from keyring.errors import KeyringError

    env = key_env(provider)
    key = sanitize_key(key)
    backend, name = keychain()
    if backend is None:
        raise UsageError(
            f"no usable OS keychain (keyring backend {name}); the key was not stored", fix=key_fix(provider, profile)
        )
    try:
        backend.set_password(SERVICE, account(provider, profile), key)
    except (KeyringError, RuntimeError, OSError) as exc:
        raise UsageError(
            f"the keychain ({name}) refused to store the key: {_short(exc)}",
            fix=f"unlock your keychain, or export {env} instead",
        ) from None
    return name


def read_key(provider: str, *, profile: str | None = None) -> str | None:
    """The key stored in the keychain for this provider/profile, if any."""
    key_env(provider)
    return _keychain_get(SERVICE, account(provider, profile))


def clear_key(provider: str, *, profile: str | None = None) -> bool:
    """Remove a stored key; True if there was one."""
    from keyring.errors import KeyringError, PasswordDeleteError

    key_env(provider)
    backend, name = keychain()
    if backend is None:
        _warn_no_keychain(name)
        return False
    acct = account(provider, profile)
    try:
        if backend.get_password(SERVICE, acct) is None:
            return False
        backend.delete_password(SERVICE, acct)
        return True
    except PasswordDeleteError:
        return False
    except (KeyringError, RuntimeError, OSError) as exc:
        raise UsageError(
            f"the keychain ({name}) refused to remove the key: {_short(exc)}", fix="unlock your keychain and retry"
        ) from None


def key_status(provider: str, *, profile: str | None = None) -> KeyStatus:
    """Presence and backend only: never the key."""
    env = key_env(provider)
    backend, name = keychain()
    stored = False
    if backend is not None and env:
        stored = _keychain_get(SERVICE, account(provider, profile)) is not None
    return KeyStatus(
        provider=provider,
        profile=profile or DEFAULT_PROFILE,
        account=account(provider, profile),
        env_var=env,
        in_environment=bool(env and os.environ.get(env, "").strip()),
        in_keychain=stored,
        keychain=backend is not None,
        backend=name,
    )


# -- resolution -----------------------------------------------------------------------------


def resolve_key(
    provider: str, *, profile: str | None = None, workdir: Path | str, ask_secret: Callable[[str], str] | None = None
) -> str | None:
    """The key for a run: environment, keychain, `.env` pointer, then the front's hidden prompt.

    `profile` None is the default profile (the caller passes `profiles.active_profile(p)`).
    `ask_secret(prompt)` is the front's hidden input (None: nobody to ask). A key typed there
    is returned, not stored: storing is the caller's choice.
    """
    env = key_env(provider)
    if env is None:
        return None
    value = os.environ.get(env, "").strip()
    if value:
        return _from_value(value, env)
    stored = _keychain_get(SERVICE, account(provider, profile))
    if stored:
        return stored
    value = (read_dotenv(Path(workdir) / ".env").get(env) or "").strip()
    if value:
        return _from_value(value, f"{env} in {Path(workdir) / '.env'}")
    if ask_secret is not None:
        typed = ask_secret(f"{provider} key ({env}, input hidden): ")
        return sanitize_key(typed) if typed.strip() else None
    return None


def _from_value(value: str, where: str) -> str | None:
    """A plain key, or the key a `keyring://service/account` pointer names."""
    match = POINTER.match(value)
    if not match:
        return sanitize_key(value)
    key = _keychain_get(match["service"], match["account"])
    if key is None:
        provider, _, profile = match["account"].partition(":")
        raise UsageError(
            f"{where} points to {value}, but the keychain has no such entry",
            fix=key_fix(provider, profile or None) if provider in KEYED else f"run `swebench secrets set {provider}`",
        )
    return key


# -- fingerprints ---------------------------------------------------------------------------


def key_fingerprint(key: str) -> str:
    """A stable, non-reversible tag of a key (HMAC-SHA256 with a per-user salt, 16 hex digits).

    The doit preflight task compares it to decide whether the key changed since it was
    validated; the salt (0600, in the config dir) stops anyone confirming a guessed key.
    """
    digest = hmac.new(_salt(), key.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest[:16]}"


def _salt() -> bytes:
    path = config_dir() / "fingerprint.salt"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise UsageError(f"{path} is corrupted", fix=f"remove {path} (keys will be re-validated)") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = _random.token_hex(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(salt)
    try:
        os.link(tmp, path)  # atomic and exclusive: a racing process keeps its own salt
    except FileExistsError:
        salt = path.read_text().strip()
    finally:
        tmp.unlink()
    return bytes.fromhex(salt)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__
