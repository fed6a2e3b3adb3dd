"""The `swebench` command line: a thin front on the task graph.

Subcommands live one per module and are imported only when called, so `--help`
never pays for doit, rich, httpx, docker, datasets or the harness.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
from functools import partial
from pathlib import Path

import click

from swebench_tasks.errors import SwebenchError

COMMANDS = {
    "setup": ("swebench_tasks.cli.setup", "Guided setup wizard (or --no-input with flags)."),
    "run": ("swebench_tasks.cli.run", "Run the task graph: generate, evaluate, report."),
    "preflight": ("swebench_tasks.cli.preflight", "System checks, key, one image pull, one-instance smoke."),
    "models": ("swebench_tasks.cli.models", "A provider's live model list."),
    "secrets": ("swebench_tasks.cli.secrets", "Store, check or clear a provider key in the OS keychain."),
    "profiles": ("swebench_tasks.cli.profiles", "Named provider profiles (no prompts)."),
    "report": ("swebench_tasks.cli.report", "Summary of the last (or named) run."),
    "clean": ("swebench_tasks.cli.clean", "Remove run state, catalogs or pulled images."),
    "doit": ("swebench_tasks.cli.doit", "The doit command line on the same task graph."),
    "help": ("swebench_tasks.cli.help", "Help & Docs: common commands and troubleshooting."),
}

NO_INPUT_FLAGS = ("--no-input", "--non-interactive", "--noninteractive")


def global_options(func):
    """`--no-input` (and aliases) and `--json`, accepted on every command."""
    func = click.option(
        *NO_INPUT_FLAGS,
        "no_input",
        is_flag=True,
        default=None,
        help="Never prompt; stable plain output (also SWEBENCH_NO_INPUT=1).",
    )(func)
    func = click.option(
        "--json", "json_mode", is_flag=True, default=None, help="Print exactly one JSON document on stdout."
    )(func)
    return func


def ui_from(ctx: click.Context, no_input: bool | None = None, json_mode: bool | None = None):
    """The Ui for this invocation, merging the group's and the command's global flags."""
    from swebench_tasks.ui import Ui

    root = ctx.find_root().params
    return answered(
        Ui.detect(
            no_input=bool(no_input or root.get("no_input")),
            json_mode=bool(json_mode or root.get("json_mode")),
        )
    )


def answered(ui):
    """`ui` with the terminal's answers to the core's questions, when a person is there to give
    them: hidden input when interactive; yes/no and `docker login` also only outside --json."""
    if not ui.interactive:
        return ui
    ui.ask_secret = hidden
    if not ui.json:
        ui.confirm = partial(ask_yes, ui)
        ui.login = partial(docker_login, ui)
    return ui


def hidden(prompt: str) -> str:
    import getpass

    return getpass.getpass(prompt)


def ask_yes(ui, question: str) -> bool:
    from rich.prompt import Confirm

    return Confirm.ask(question, console=ui.console, default=True)


def docker_login(ui, host: str) -> bool:
    """Offer `docker login HOST`; docker itself asks for the user and token on this terminal."""
    from swebench_tasks.images import docker_login as run_login

    return ask_yes(ui, f"{host} needs a login to pull. Run `docker login {host}` now?") and run_login(host)


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="swebench-tasks", prog_name="swebench")
@click.pass_context
def cli(ctx: click.Context, no_input: bool | None, json_mode: bool | None) -> None:
    """swebench: from nothing to a scored SWE-bench run.

    Run `swebench` in a terminal for the guided menu, or `swebench setup` then
    `swebench run`. Every step is a doit task: a repeated run redoes nothing.
    """
    if ctx.invoked_subcommand is None:
        ui = ui_from(ctx, no_input, json_mode)
        if ui.no_input:
            click.echo(ctx.get_help())
            return
        from swebench_tasks.wizard import home

        home(ui, Path.cwd())


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure becomes one line and the contract's exit code (and, with
    `--json`, one JSON object on stdout). SIGTERM unwinds like Ctrl+C: locks released, children stopped."""
    args = sys.argv[1:] if argv is None else list(argv)
    with contextlib.suppress(ValueError):  # only the main thread may set a handler
        signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=args, prog_name="swebench", standalone_mode=False)
    except SwebenchError as exc:
        _fail(args, exc, exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click turns a KeyboardInterrupt inside a command into Abort, keeping it as the cause.
        terminated = isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated)
        _fail(
            args,
            SwebenchError(
                "interrupted" + (" (terminated by SIGTERM)" if terminated else ""),
                fix="run the same command again: finished tasks are kept",
            ),
            143 if terminated else 130,
        )
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _fail(args, SwebenchError(exc.format_message(), fix=f"see `swebench {_command(args)}--help`"), 2)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # the last line of defence: no traceback on screen
        log = _write_crash_log()
        _fail(args, SwebenchError(f"unexpected error: {type(exc).__name__}: {exc}", fix=f"details in {log}"), 1)
    sys.exit(0)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl+C's KeyboardInterrupt would be, so that it unwinds the same way."""


def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one unwinding; a second SIGTERM must not cut it short
    raise Terminated()


def _fail(args: list[str], exc: SwebenchError, code: int) -> None:
    """The one line on stderr; with `--json`, the error object on stdout unless a document went out."""
    click.echo(f"swebench: {exc.line()}", err=True)
    if exc.detail:
        click.echo(exc.detail, err=True)
    ui = sys.modules.get("swebench_tasks.ui")
    if _json_requested(args) and not (ui and ui.emitted()):
        error = {"message": exc.message, "fix": exc.fix, "exit_code": code}
        if exc.detail:
            error["detail"] = exc.detail
        try:
            sys.stdout.write(json.dumps({"error": error}, indent=2) + "\n")
            sys.stdout.flush()
        except OSError:
            pass
    sys.exit(code)


def _json_requested(args: list[str]) -> bool:
    """`--json` anywhere on our command line (not among the arguments handed to doit)."""
    for arg in args:
        if arg == "--json":
            return True
        if arg in ("--", "doit"):
            return False
    return False


def _command(args: list[str]) -> str:
    name = next((a for a in args if not a.startswith("-")), "")
    return f"{name} " if name in COMMANDS else ""


def _write_crash_log() -> str:
    import traceback

    path = Path(os.environ.get("SWEBENCH_CRASH_LOG", Path.cwd() / ".swebench" / "last-error.log"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(traceback.format_exc())
        return str(path)
    except OSError:
        return "no log written"
