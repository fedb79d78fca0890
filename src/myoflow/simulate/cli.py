"""``myoflow simulate <protocol>``: a click group whose subcommands load on use.

Each protocol module defines ``cli_command``; listing them (``--help``) imports none of
them. Protocol commands accept at least ``--out DIR``, ``--subjects N``, ``--seed S``
and ``--plots`` (``muaps`` takes ``--n`` instead of ``--subjects``).
"""
from __future__ import annotations

import importlib

import click

__all__ = ["simulate_cmd", "PROTOCOLS"]

#: protocol name -> ("module:attribute", one-line help)
PROTOCOLS: dict[str, tuple[str, str]] = {
    "evoked": ("myoflow.simulate.protocols.evoked:cli_command",
               "Electrically evoked M-wave trains (RF, BF; 5-25 Hz), seed 000's cohort."),
    "grid": ("myoflow.simulate.protocols.grid:cli_command",
             "Voluntary bursts on 4x4 dry grids (L/R BB and TA), seed 001's cohort."),
    "gait": ("myoflow.simulate.protocols.gait:cli_command",
             "Walking: angles, moments, GRF and sEMG of 7 muscles, seed 002's cohort."),
    "muaps": ("myoflow.simulate.protocols.muaps:cli_command",
              "MUAPs over the six BioMime conditions from the numerical model."),
    "lowerlimb": ("myoflow.simulate.protocols.lowerlimb:cli_command",
                  "Elderly lower-limb set: 10 s isometric VL/BF/TA/GL holds, bipolar, 2 kHz."),
    "dynamic": ("myoflow.simulate.protocols.dynamic:cli_command",
                "Dynamic-movement sEMG with MUAPs from a trained generator."),
}


class _LazyProtocols(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(PROTOCOLS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Protocols"):
            formatter.write_dl([(name, PROTOCOLS[name][1]) for name in self.list_commands(ctx)])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = PROTOCOLS.get(name)
        if entry is None:
            return None
        module, attr = entry[0].split(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                raise click.ClickException(f"protocol {name!r} is not available in this installation") from None
            raise
        return getattr(mod, attr)


@click.group("simulate", cls=_LazyProtocols, context_settings={"help_option_names": ["-h", "--help"]})
def simulate_cmd() -> None:
    """Simulate a cohort and write it as a dataset folder (same seed, same files)."""
