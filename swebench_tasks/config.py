"""Settings: flag, then environment, then `.env`, then the built-in default.

The saved defaults live in two files, both read and written here only: `.env` in the working
directory, and the profiles file in the config dir (docs/configuration.md). The one
exception to the order: a named active profile's saved model comes between the environment
and `.env`, so switching profiles changes the next run.

`.env` holds non-secret defaults only; it is read with python-dotenv without touching
`os.environ`, and written atomically so a crash never leaves half a file. The profiles file
holds names, the active profile and each profile's model: never a key.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from swebench_tasks.datasets import is_local, read_local
from swebench_tasks.errors import UsageError
from swebench_tasks.files import is_safe_name, safe_name, slug, write_atomic
from swebench_tasks.providers import NAMES as PROVIDERS

BACKENDS = ("local", "sb-cli", "modal")
CONTEXTS = ("retrieval", "statement", "text")
AGENTS = ("none", "mini-swe-agent")  # none: one reply per instance (docs/agent-mode.md)

# Setting name -> (.env / environment variable, default).
VARIABLES: dict[str, tuple[str, object]] = {
    "provider": ("SWEBENCH_PROVIDER", None),
    "model": ("SWEBENCH_MODEL", None),
    "dataset": ("SWEBENCH_DATASET", "lite"),
    "count": ("SWEBENCH_COUNT", None),
    "max_workers": ("SWEBENCH_MAX_WORKERS", 4),
    "backend": ("SWEBENCH_BACKEND", "local"),
    "docker_namespace": ("SWEBENCH_DOCKER_NAMESPACE", None),
    "arch": ("SWEBENCH_ARCH", None),
    "agent": ("SWEBENCH_AGENT", "none"),
}
INT_SETTINGS = {"count", "max_workers"}
# Settings fields given as text flags, by the flag that sets them (errors name the flag).
TEXT_FLAGS = {
    "provider": "--provider",
    "model": "--model",
    "profile": "--profile",
    "dataset": "--dataset",
    "split": "--split",
    "run_id": "--run-id",
    "backend": "--backend",
    "context": "--context",
    "instance_ids": "--instance-ids",
}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
APP = "swebench-runner"  # the user config dir's name
PROFILES_FILE = "profiles.json"
DEFAULT_PROFILE = "default"  # always exists; its key is the keychain account `{provider}`


@dataclass(frozen=True)
class Paths:
    """Where run state lives; everything is under the working directory."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / ".swebench"

    @property
    def doit_db(self) -> Path:
        return self.state / "doit.sqlite3"

    @property
    def datasets(self) -> Path:
        return self.state / "datasets"

    @property
    def generations(self) -> Path:
        return self.state / "generations"

    @property
    def contexts(self) -> Path:
        return self.state / "contexts"

    @property
    def preflight(self) -> Path:
        return self.state / "preflight"

    @property
    def catalog(self) -> Path:
        return self.state / "catalog"

    @property
    def runs(self) -> Path:
        return self.state / "runs"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def reports(self) -> Path:
        return self.root / "evaluation_results"

    @property
    def harness_logs(self) -> Path:
        return self.root / "logs" / "run_evaluation"

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def lock(self) -> Path:
        return self.state / "run.lock"


@dataclass(frozen=True)
class Settings:
    """One resolved selection: what to run, with what, where."""

    workdir: Path
    provider: str | None = None
    model: str | None = None
    profile: str | None = None
    dataset: str = "lite"
    split: str = "test"
    count: int | None = None
    instance_ids: tuple[str, ...] = ()
    max_workers: int = 4
    run_id: str | None = None
    backend: str = "local"
    context: str = "retrieval"
    timeout: int = 1800
    docker_namespace: str | None = None
    arch: str | None = None
    predictions: Path | None = None
    generate_only: bool = False
    rerun_failed: bool = False
    preflight: bool = True
    no_input: bool = False
    json: bool = False
    harness_python: str = field(default_factory=lambda: sys.executable)
    agent: str = "none"
    step_limit: int | None = None  # agent mode; None: the agent config's own limit
    cost_limit: float | None = None
    budget: float | None = None  # agent mode: USD for the whole run; then no new instance starts

    @property
    def paths(self) -> Paths:
        return Paths(self.workdir)

    @property
    def gold(self) -> bool:
        return self.model == "gold"

    @property
    def needs_provider(self) -> bool:
        """Gold patches and given predictions need no model."""
        return not (self.gold or self.predictions)

    @cached_property  # read per instance by many tasks; Settings is frozen
    def model_name(self) -> str:
        """`model_name_or_path` as the harness sees it. The harness names a log folder after it
        (with '/' as '__'), so a name that would not be a plain folder name is mapped."""
        if self.gold:
            return "gold"
        from swebench_tasks.harness import model_dir_name

        name = predictions_model_name(self.predictions) if self.predictions else self.model or "unknown"
        return name if is_safe_name(model_dir_name(name)) else safe_name(name)

    @cached_property
    def effective_run_id(self) -> str:
        """Default run id is stable per (dataset, model, agent), so a rerun finds its own work and
        agent mode never overwrites the single-shot results of the same model. Always a plain
        folder name: `--run-id` is checked, the default is made safe."""
        if self.run_id:
            return self.run_id
        agent = f"-{self.agent}" if self.agent != "none" and self.needs_provider else ""
        return safe_name(slug(f"{dataset_slug(self.dataset)}-{self.model_name}{agent}"))

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def chosen_provider(self) -> str:
        """The provider, where one is needed: a clear refusal instead of a crash on None."""
        if not self.provider:
            raise UsageError("no provider configured", fix="run `swebench setup`, or pass --provider")
        return self.provider

    def chosen_model(self) -> str:
        """The model, where one is needed (run.check_configured refuses a run without it first)."""
        if not self.model:
            raise UsageError(
                "no model configured", fix="run `swebench setup`, or pass --provider and --model (or --model gold)"
            )
        return self.model


def dataset_slug(dataset: str) -> str:
    name = Path(dataset).stem if is_local(dataset) else dataset.rsplit("/", 1)[-1]
    return slug(name.lower().replace("swe-bench_", "").replace("swe-bench", "full"))


@lru_cache(maxsize=8)
def predictions_model_name(path: Path) -> str:
    """The model name in a predictions file's first row (the harness keys logs by it)."""
    rows = read_local(Path(path))
    first = rows[0] if rows and isinstance(rows[0], dict) else {}
    return str(first.get("model_name_or_path") or "predictions")


def read_dotenv(path: Path) -> dict[str, str]:
    """The `.env` values exactly as written, or {} if there is none.

    No interpolation: `${HOME}` in a value is those seven characters, as save_defaults wrote
    them. An unreadable file is a usage error.
    """
    if not path.exists():
        return {}
    try:
        path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", fix=f"fix or remove {path}") from None
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None}


def lookup(name: str, dotenv: dict[str, str]) -> str | None:
    """A variable from the environment, else `.env`."""
    value = os.environ.get(name)
    if value is None:
        value = dotenv.get(name)
    return value if value not in (None, "") else None


def load_settings(workdir: Path | None = None, **flags) -> Settings:
    """Resolve settings with precedence flag > environment > `.env` > default.

    `flags` uses Settings field names; a flag of None means "not given".
    """
    workdir = Path(workdir or Path.cwd()).resolve()
    dotenv = read_dotenv(workdir / ".env")
    for name, flag in TEXT_FLAGS.items():
        for value in flags[name] if isinstance(flags.get(name), tuple) else [flags.get(name)]:
            check_text(flag, value)
    values: dict[str, Any] = {}  # flags and variables of every field type
    for name, (var, default) in VARIABLES.items():
        raw, source = flags.get(name), f"--{name.replace('_', '-')}"
        if raw is None:
            raw, source = lookup(var, dotenv), var
            check_text(var, raw)
        if raw is None:
            raw = default
        if name in INT_SETTINGS and raw is not None:
            raw = parse_int(source, raw)
        values[name] = raw
    for name, value in flags.items():
        if name not in VARIABLES and value is not None:
            values[name] = value
    if flags.get("model") is None and lookup("SWEBENCH_MODEL", {}) is None and values["provider"]:
        values["model"] = profile_model(str(values["provider"]), values.get("profile")) or values["model"]
    harness_python = lookup("SWEBENCH_HARNESS_PYTHON", dotenv)
    if harness_python:
        values["harness_python"] = harness_python
    settings = Settings(workdir=workdir, **values)
    validate(settings)
    return settings


def profile_model(provider: str, profile: object = None) -> str | None:
    """The model saved on the active (or named) profile: it wins over `.env`, as switching
    profiles should change the next run. The default profile keeps `.env` in charge."""
    if provider not in PROVIDERS:
        return None
    name = str(profile) if profile else load_profiles()[provider].active
    return saved_profile(provider, name)[1].models[name] if name != DEFAULT_PROFILE else None


def parse_int(source: str, raw: object) -> int:
    """A whole number from a flag (`--count`) or a variable (`SWEBENCH_COUNT`); errors name that source."""
    fix = (
        f"pass e.g. {source} 4"
        if source.startswith("--")
        else f"set {source} to e.g. 4 (in the environment or .env), or unset it"
    )
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise UsageError(f"{source} must be a whole number, got {raw!r}", fix=fix) from None
    if value < 0 or (source in ("SWEBENCH_MAX_WORKERS", "--max-workers") and value < 1):
        raise UsageError(f"{source} must be positive, got {value}", fix=fix)
    return value


def validate(s: Settings) -> None:
    if s.provider is not None and s.provider not in PROVIDERS:
        raise UsageError(f"unknown provider {s.provider!r}", fix=f"use one of: {', '.join(PROVIDERS)}")
    if s.backend not in BACKENDS:
        raise UsageError(f"unknown backend {s.backend!r}", fix=f"use one of: {', '.join(BACKENDS)}")
    if s.agent not in AGENTS:
        raise UsageError(f"unknown agent {s.agent!r}", fix=f"use one of: {', '.join(AGENTS)} (SWEBENCH_AGENT)")
    if s.context not in CONTEXTS:
        raise UsageError(f"unknown context {s.context!r}", fix=f"use one of: {', '.join(CONTEXTS)}")
    if s.run_id is not None and not (is_safe_name(s.run_id) and slug(s.run_id) == s.run_id):
        raise UsageError(
            f"--run-id {s.run_id!r} is not a plain folder name",
            fix="pass e.g. --run-id my-run-1 (letters, digits, '.', '_' and '-'; not '.' or '..')",
        )
    if s.predictions is not None and not Path(s.predictions).is_file():
        raise UsageError(f"predictions file {s.predictions} does not exist", fix="pass an existing --predictions FILE")


def check_text(name: str, value: object) -> None:
    """One line of text: a value bound for `.env`, a path or an argv never carries a newline,
    carriage return, NUL or other control character. `name` is the flag or variable to fix."""
    if isinstance(value, str) and CONTROL.search(value):
        raise UsageError(
            f"{name} must be one line without control characters, got {value!r}",
            fix=f"pass {name} without newlines, carriage returns or NUL",
        )


def save_defaults(workdir: Path, values: dict[str, str | None], *, overwrite: bool = True) -> list[str]:
    """Write non-secret defaults to `.env`; returns the variables written.

    Each value is quoted by python-dotenv (`set_key`, which replaces the file atomically), so
    `$`, quotes, `#`, `=` and spaces read back exactly; a multi-line value is refused, as it
    could add a line of its own. With overwrite=False an existing value is kept (a user's
    setting always wins).
    """
    from dotenv import set_key

    for var, value in values.items():
        check_text(var, value)
    path = Path(workdir) / ".env"
    current = read_dotenv(path)
    written: list[str] = []
    for var, value in values.items():
        if value is None or (var in current and (not overwrite or current[var] == value)):
            continue
        set_key(path, var, value, quote_mode="always")
        written.append(var)
    return written


# -- the profiles file --------------------------------------------------------------------


def config_dir() -> Path:
    """Where profiles (and the fingerprint salt) live: `SWEBENCH_CONFIG_DIR`, else the user
    config dir `swebench-runner` (platformdirs, else XDG)."""
    explicit = os.environ.get("SWEBENCH_CONFIG_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    try:
        from platformdirs import user_config_dir
    except ImportError:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / APP
    return Path(user_config_dir(APP, appauthor=False))


def profiles_path() -> Path:
    return config_dir() / PROFILES_FILE


@dataclass
class ProviderProfiles:
    """One provider's profiles: name -> saved model (or None), and which one is active."""

    active: str = DEFAULT_PROFILE
    models: dict[str, str | None] = field(default_factory=lambda: {DEFAULT_PROFILE: None})

    def to_json(self) -> dict:
        return {"active": self.active, "profiles": {n: {"model": m} for n, m in self.models.items()}}


def load_profiles() -> dict[str, ProviderProfiles]:
    """Every provider's profiles; a missing file means only the implicit defaults. A corrupted
    file is reported and left as it is."""
    path = profiles_path()
    table = {p: ProviderProfiles() for p in PROVIDERS}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return table
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(path, str(exc)) from None
    try:
        data = json.loads(text)
        for provider, entry in data.get("providers", {}).items():
            if provider not in table:
                continue
            models = {str(n): (v or {}).get("model") for n, v in entry.get("profiles", {}).items()}
            models.setdefault(DEFAULT_PROFILE, None)
            active = entry.get("active") or DEFAULT_PROFILE
            table[provider] = ProviderProfiles(active=active if active in models else DEFAULT_PROFILE, models=models)
    except (ValueError, AttributeError, TypeError) as exc:
        raise _corrupt(path, f"not valid profiles JSON ({exc})") from None
    return table


def save_profiles(table: dict[str, ProviderProfiles]) -> Path:
    """Write the table atomically (temp file in the same dir, then rename)."""
    path = profiles_path()
    doc = {"version": 1, "providers": {p: t.to_json() for p, t in table.items()}}
    write_atomic(path, json.dumps(doc, indent=2) + "\n")
    return path


def _corrupt(path: Path, why: str) -> UsageError:
    return UsageError(
        f"cannot read profiles file {path}: {why}", fix=f"fix or move away {path} (it was left untouched)"
    )


def saved_profile(provider: str, name: str) -> tuple[dict[str, ProviderProfiles], ProviderProfiles]:
    """The whole table and `provider`'s entry (a known provider), refusing a profile that does not exist."""
    table = load_profiles()
    if name not in table[provider].models:
        raise UsageError(
            f"no {provider} profile named {name!r}",
            fix=f"see `swebench profiles list`, or `swebench profiles create --provider {provider} --profile {name}`",
        )
    return table, table[provider]
