"""The ``myoflow`` command line: thin wrappers over the public API.

Subcommands live next to the code they drive and are imported lazily, so
``myoflow --help`` is instant and a missing optional extra only affects the
command that needs it. Every :class:`~myoflow.errors.MyoflowError` becomes a
one-line ``error: ...`` on stderr and exit code 2.
"""
from __future__ import annotations

import importlib
import logging
import sys

import click

from .errors import MyoflowError

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "inspect": "myoflow.io.cli:inspect_cmd",
    "convert": "myoflow.io.cli:convert_cmd",
    "simulate": "myoflow.simulate.cli:simulate_cmd",
    "run": "myoflow.experiments.cli:run_cmd",
    "reproduce": "myoflow.experiments.cli:reproduce_cmd",
    "report": "myoflow.report.cli:report_cmd",
    "export": "myoflow.experiments.cli:export_cmd",
    "predict": "myoflow.pipelines.stimulated_mass.cli:predict_cmd",
    "check-placement": "myoflow.pipelines.muscle_id.cli:check_placement_cmd",
    "validate-simulator": "myoflow.validation.cli:validate_simulator_cmd",
}


HELP: dict[str, str] = {
    "inspect": "Describe a recording file or dataset folder.",
    "convert": "Raw files + a manifest or file-name pattern -> a dataset folder.",
    "simulate": "Simulate a cohort (evoked, grid, gait, muaps, dynamic, lowerlimb).",
    "run": "Run an experiment config: all folds, metrics, report.",
    "reproduce": "Simulate and run a paper protocol (or all four).",
    "report": "Rebuild report.html for a run directory.",
    "export": "Export a trained model to ONNX.",
    "predict": "Apply a run to a new person: muscle-mass level (stimulated-mass) or sEMG from gait (gait-emg).",
    "check-placement": "Flag grid/sensor channels whose muscle disagrees with the declared one.",
    "validate-simulator": "Compare simulated with real recordings (HTML report, pass/fail).",
}


class FiniteFloat(click.ParamType):
    """click's FLOAT, but ``nan``/``inf`` are usage errors: no option of ours means anything with them."""

    name = "float"

    def convert(self, value, param, ctx):
        import math

        x = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return x


def finite_float_options(cmd: click.Command) -> click.Command:
    """Make every float option of ``cmd`` (and of a lazy group's subcommands) reject NaN/inf at parse time."""
    for p in cmd.params:
        if p.type is click.FLOAT:
            p.type = FiniteFloat()
    if isinstance(cmd, click.Group) and not getattr(cmd, "_finite_floats", False):
        inner = cmd.get_command

        def get_command(ctx, name, _inner=inner):
            sub = _inner(ctx, name)
            return finite_float_options(sub) if sub is not None else None

        cmd.get_command = get_command  # type: ignore[method-assign]
        cmd._finite_floats = True  # type: ignore[attr-defined]
    return cmd


class LazyGroup(click.Group):
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Static help so that --help imports nothing heavy.
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP.get(name, "")) for name in self.list_commands(ctx)])

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return finite_float_options(getattr(importlib.import_module(module), attr))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="myoflow")
def cli(verbose: int) -> None:
    """myoflow: deep learning on surface EMG (simulate, read, train, evaluate, report)."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _os_error_message(exc: OSError) -> str:
    """``<file>: <problem>`` for an OSError that escaped the library (permissions, a folder where a file was meant...)."""
    problem = exc.strerror or str(exc) or type(exc).__name__
    names = [n for n in (exc.filename, exc.filename2) if n is not None]
    return f"{': '.join(map(str, names))}: {problem}" if names else problem


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the CLI and maps user errors to one line on stderr and exit code 2.

    The one place where errors become exit codes: :class:`MyoflowError` (bad data,
    bad config, leakage), an ``OSError`` naming a file (a path that is a folder,
    permissions, a full disk) and click's usage errors all print exactly one line
    ``error: <file>: <problem>`` and exit 2; anything else is a bug and keeps its traceback.
    """
    try:
        cli.main(args=argv, standalone_mode=False)
    except MyoflowError as exc:
        click.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(2)
    except OSError as exc:
        if exc.filename is None:
            raise
        click.echo(f"error: {_one_line(_os_error_message(exc))}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx is not None else "myoflow"
        click.echo(f"error: {_one_line(exc.format_message())} (see '{cmd} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
