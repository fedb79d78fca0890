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
    "simulate": "Simulate a cohort (evoked, grid, gait, muaps, dynamic).",
    "run": "Run an experiment config: all folds, metrics, report.",
    "reproduce": "Simulate and run a paper protocol (or all four).",
    "report": "Rebuild report.html for a run directory.",
    "export": "Export a trained model to ONNX.",
    "predict": "Screen a new person's stimulated recordings for muscle-mass level.",
    "check-placement": "Flag grid/sensor channels whose muscle disagrees with the declared one.",
    "validate-simulator": "Compare simulated with real recordings (HTML report, pass/fail).",
}


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
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="myoflow")
def cli(verbose: int) -> None:
    """myoflow: deep learning on surface EMG (simulate, read, train, evaluate, report)."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the CLI and maps user errors to exit code 2."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except MyoflowError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
