"""Guided Setup: welcome, system checks, compute source, key and model, dataset, count,
how the model works (agent or one reply), keychain, preflight, summary, run.

Esc goes back one step (to the last step that asked something); nothing is written
until the user says so: a key when they accept the keychain, `.env` at the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape

from swebench_tasks.config import Settings
from swebench_tasks.errors import UsageError
from swebench_tasks.ui import Ui
from swebench_tasks.wizard.connect import FAIL, LABELS, OK, Key, connect_key, pick_model, pick_ollama_model
from swebench_tasks.wizard.fixes import READY
from swebench_tasks.wizard.prompts import Back, Choice, choose, confirm, pause, text
from swebench_tasks.wizard.screen import header, run_screen

DATASETS = (
    ("lite", "lite (quick validation runs)"),
    ("verified", "verified (curated)"),
    ("full", "full (complete benchmark)"),
)
OTHER_DATASET = "other"
DEFAULT_COUNT = 5
AGENT = "mini-swe-agent"
MODES = (
    (
        AGENT,
        "Agent in the instance container (mini-swe-agent, the SWE-bench bash-only protocol; "
        "more calls, much better results)",
    ),
    ("none", "One reply per instance (fast, cheap)"),
)


@dataclass
class Answers:
    """What the user chose so far (prefilled from flags and saved defaults)."""

    provider: str | None = None
    model: str | None = None
    dataset: str = "lite"
    count: int | None = DEFAULT_COUNT
    key: Key | None = None
    harness: str = "not checked"
    agent: str = AGENT  # preselected until a saved SWEBENCH_AGENT says otherwise

    @property
    def source(self) -> str:
        """The chosen provider: every step after the first has one."""
        assert self.provider is not None, "the compute step comes first"
        return self.provider

    @property
    def chosen_model(self) -> str:
        """The chosen model: every step after the model pick has one."""
        assert self.model is not None, "the model step comes before this one"
        return self.model

    def flags(self) -> dict:
        """The selection as `swebench run` flags (Settings field names)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "dataset": self.dataset,
            "count": self.count,
            "agent": self.agent,
        }


def guided_setup(
    ui: Ui,
    workdir: Path,
    *,
    provider: str | None = None,
    model: str | None = None,
    dataset: str | None = None,
    count: int | None = None,
    agent: str | None = None,
) -> bool:
    """The wizard; flags (and saved defaults) preselect answers. False if the user backed out."""
    from swebench_tasks.config import VARIABLES, load_settings, lookup, read_dotenv

    saved = load_settings(workdir)
    saved_agent = saved.agent if lookup(VARIABLES["agent"][0], read_dotenv(saved.paths.env_file)) else None
    answers = Answers(
        provider=provider or saved.provider,
        model=model or saved.model,
        dataset=dataset or saved.dataset,
        count=count if count is not None else saved.count or DEFAULT_COUNT,
        agent=agent or saved_agent or AGENT,
    )
    steps: list[Callable[[Ui, Path, Answers], bool]] = [
        welcome,
        system_checks,
        choose_source,
        connect,
        choose_dataset,
        choose_count,
        choose_mode,
        save_key,
        preflight,
        summary,
    ]
    asked: list[int] = []  # steps that asked something, for Esc
    i = 0
    while i < len(steps):
        try:
            if steps[i](ui, workdir, answers):
                asked.append(i)
            i += 1
        except Back:
            if not asked:
                return False
            i = asked.pop()
    return True


def welcome(ui: Ui, workdir: Path, a: Answers) -> bool:
    header(ui, "🚀 SWE-bench Runner Setup")
    ui.print("We’ll help you connect a model, pick a dataset, and run a small smoke test.\n")
    pause("Press Enter to continue.")
    return True


def system_checks(ui: Ui, workdir: Path, a: Answers) -> bool:
    """The same checks `swebench preflight` starts with; each ✖ comes with its fix."""
    from swebench_tasks import checks as preflight

    ui.print("\n🔎 Checking your system...")
    with ui.console.status("Checking Python, Docker, disk and network..."):
        checks = preflight.system_checks(workdir)
    for check in checks:
        ui.print(f"  • {check.name}: {escape(check.detail)} {OK if check.ok else FAIL}")
        if not check.ok and check.fix:
            ui.print(f"      Fix: {escape(check.fix)}")
    pause("Press Enter to continue.")
    return True


def choose_source(ui: Ui, workdir: Path, a: Answers) -> bool:
    header(ui, "Compute source")
    choice = choose(
        "Select a compute source:",
        [Choice(p, label) for p, label in LABELS.items()],
        default=a.provider if a.provider in LABELS else "huggingface",
    )
    if choice != a.provider:
        a.provider, a.model, a.key = choice, None, None
    return True


def connect(ui: Ui, workdir: Path, a: Answers) -> bool:
    from swebench_tasks import profiles

    provider = a.source
    ui.print(f"\n🔧 {LABELS[provider]}" if provider == "ollama" else f"\n🔗 {LABELS[provider]}")
    if provider == "ollama":
        a.model = pick_ollama_model(ui, default=a.model)
        return True
    if a.key is None:  # kept when Esc comes back here from the dataset
        a.key = connect_key(ui, provider, profiles.active_profile(provider), workdir)
    try:
        a.model = pick_model(ui, provider, a.key.value, default=a.model)
    except Back:
        a.key = None  # Esc at the model list: back to the source, and the key is asked again
        raise
    return True


def choose_dataset(ui: Ui, workdir: Path, a: Answers) -> bool:
    from swebench_tasks.datasets import resolve

    known = [d for d, _ in DATASETS]
    choices = [Choice(d, label) for d, label in DATASETS] + [
        Choice(OTHER_DATASET, "another dataset id (org/name) or a local .json/.jsonl/.parquet file")
    ]
    picked = choose("Pick a dataset:", choices, default=a.dataset if a.dataset in known else OTHER_DATASET)
    if picked != OTHER_DATASET:
        a.dataset = picked
        return True

    def valid(value: str) -> bool:
        try:
            resolve(value.strip(), workdir)
            return True
        except UsageError:
            return False

    a.dataset = text(
        "Dataset id or file:",
        default="" if a.dataset in known else a.dataset,
        validate=valid,
        invalid="not a known alias, an org/name id, or an existing .json/.jsonl/.parquet file",
    ).strip()
    return True


def choose_count(ui: Ui, workdir: Path, a: Answers) -> bool:
    ui.print("\nLimit the run to N instances? Leave blank to run all of the dataset.")
    answer = text(
        "How many instances?",
        default=str(a.count or DEFAULT_COUNT),
        validate=lambda v: not v.strip() or (v.strip().isdigit() and int(v) > 0),
        invalid="a whole number above 0, or blank for all",
    ).strip()
    a.count = int(answer) if answer else None
    return True


def choose_mode(ui: Ui, workdir: Path, a: Answers) -> bool:
    """How the model works: an agent in each instance's container, or one reply per instance."""
    header(ui, "How should the model work?")
    a.agent = choose("Pick a mode:", [Choice(value, label) for value, label in MODES], default=a.agent)
    return True


def mode_rows(settings: Settings, count: int | None) -> list[tuple[str, str]]:
    """The mode, and in agent mode its limits and what they allow at most: for the summary and
    Quick Run (the run itself prints the same estimate before it starts)."""
    from swebench_tasks.agent.limits import limits_text, most_usd

    if settings.agent == "none":
        return [("Mode", "One reply per instance")]
    rows = [("Mode", f"Agent in the instance container ({settings.agent})"), ("Limits", limits_text(settings))]
    if count:
        rows.append(("Cost", f"at most ${most_usd(settings, count):.2f} for {count} instance(s)"))
    return rows


def keychain_label(backend: str) -> str:
    """The keyring backend as a person knows it."""
    for marker, label in (
        ("macOS", "macOS Keychain"),
        ("Windows", "Windows Credential Locker"),
        ("SecretService", "Linux Secret Service"),
        ("kwallet", "KWallet"),
    ):
        if marker.lower() in backend.lower():
            return f"{label} ({backend})"
    return backend


def save_key(ui: Ui, workdir: Path, a: Answers) -> bool:
    """Offer the keychain for a key the user typed (a found key is already where it lives)."""
    from swebench_tasks import keys, profiles

    provider = a.source
    if a.key is None or not a.key.typed or not a.key.value:
        return False
    env = keys.key_env(provider)
    backend, name = keys.keychain()
    if backend is None:
        ui.print(f"\nNo OS keychain is available here (keyring backend {name}), so the key cannot be saved.")
        if env:  # a typed key means a keyed provider; the check keeps the type checker honest too
            ui.print(f"  To skip the key prompt next time: {keys.export_hint(env)} in your shell profile.")
        return False
    profile = profiles.active_profile(provider)
    ui.print(f"\nKeychain: {keychain_label(name)}")
    ui.print(f"  Stored as: service={keys.SERVICE!r}, account={keys.account(provider, profile)!r}")
    if confirm("Save your API key securely so you won’t be prompted again?", default=True):
        keys.store_key(provider, a.key.value, profile=profile)
        a.key = Key(a.key.value, f"the keychain (account {keys.account(provider, profile)})")
        ui.print(f"  {OK} Saved to the keychain.")
    return True


def preflight(ui: Ui, workdir: Path, a: Answers) -> bool:
    """Optional preflight; on a registry problem, show the fixes, apply one, offer a retry."""
    from swebench_tasks.wizard.fixes import run_preflight

    ui.print("\nWould you like to run a quick preflight?")
    ui.print("  • Tests one harness image pull and a minimal evaluation")
    ui.print("  • Catches registry/arch/login issues early")
    if not confirm("Run preflight now?", default=True):
        a.harness = "not checked (preflight skipped)"
        return True
    a.harness = run_preflight(ui, workdir, a.flags(), a.key.value if a.key else None)
    return True


def summary(ui: Ui, workdir: Path, a: Answers) -> bool:
    """Show what will run, save it as the defaults, and run it now if asked."""
    from swebench_tasks import profiles
    from swebench_tasks.config import load_settings
    from swebench_tasks.usecases import write_config

    provider = a.source
    header(ui, "Summary")
    profile = profiles.active_profile(provider) or "default"
    rows = [
        ("Compute", f"{LABELS[provider]} → {a.model}"),
        ("Profile", profile),
        ("Dataset", a.dataset),
        ("Count", str(a.count) if a.count else "all"),
        *mode_rows(load_settings(workdir, no_input=True, **a.flags()), a.count),
        ("Harness", a.harness),
    ]
    if a.key is not None:
        rows.insert(1, ("Key", f"from {a.key.source}" if a.key.value else "none"))
    for name, value in rows:
        ui.print(f"  • {name}: {escape(value)}")
    ready = a.harness == READY
    if not ready:
        ui.print("  The harness is not ready yet: saving is the default; `swebench preflight` checks it.")
    action = choose(
        "Ready:",
        [Choice("run", "Run now"), Choice("save", "Save these defaults and exit")],
        default="run" if ready else "save",
    )
    write_config(
        workdir,
        provider=provider,
        model=a.chosen_model,
        dataset=a.dataset,
        count=0 if a.count is None else a.count,
        agent=a.agent,
    )  # count blank: the whole dataset
    ui.print(f"  {OK} Saved defaults to {workdir / '.env'} (no keys).")
    if action == "run":
        run_screen(ui, workdir, a.flags(), key=a.key.value if a.key else None)
    else:
        ui.print("  Run later with `swebench run`, or `swebench` → Quick Run.")
    return True
