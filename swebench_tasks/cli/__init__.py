"""The `swebench` command line: a thin front on the task graph.

Subcommands live one per module and are imported only when called, so `--help`
never pays for doit, rich, httpx, docker, datasets or the harness.
"""

from __future__ import annotations

import importlib
import os
import sys
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
    func = click.option(*NO_INPUT_FLAGS, "no_input", is_flag=True, default=None,
                        help="Never prompt; stable plain output (also SWEBENCH_NO_INPUT=1).")(func)
    func = click.option("--json", "json_mode", is_flag=True, default=None,
                        help="Print exactly one JSON document on stdout.")(func)
    return func


def ui_from(ctx: click.Context, no_input: bool | None = None, json_mode: bool | None = None):
    """The Ui for this invocation, merging the group's and the command's global flags."""
    from swebench_tasks.ui import Ui

    root = ctx.find_root().params
    return Ui.detect(
        no_input=bool(no_input or root.get("no_input")),
        json_mode=bool(json_mode or root.get("json_mode")),
    )


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


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
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
    """Entry point: every failure becomes one line and the contract's exit code."""
    try:
        cli.main(args=argv, prog_name="swebench", standalone_mode=False)
    except SwebenchError as exc:
        click.echo(f"swebench: {exc.line()}", err=True)
        if exc.detail:
            click.echo(exc.detail, err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("swebench: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("swebench: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"swebench: {exc.format_message()} (fix: see `swebench {_command(argv)}--help`)", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # the last line of defence: no traceback on screen
        log = _write_crash_log()
        click.echo(f"swebench: unexpected error: {type(exc).__name__}: {exc} (details: {log})", err=True)
        sys.exit(1)
    sys.exit(0)


def _command(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
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
