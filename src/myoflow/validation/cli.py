"""``myoflow validate-simulator``: simulated vs real statistics, written as an HTML report."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import DataError

__all__ = ["validate_simulator_cmd"]


@click.command("validate-simulator")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for report.html, validation.json and figures/.")
@click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the public datasets (default: $MYOFLOW_SHARED_DATA or ../shared/data).")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option("--quick", is_flag=True, help="Small simulated cohorts and a 3-subject elderly slice (< 30 s).")
@click.option("--only", multiple=True, type=click.Choice(["bursts", "muaps", "gait", "stim", "elderly", "simreal"]),
              help="Run only these sections (repeatable); simreal (sim → real transfer, trains models) runs only "
                   "when named.")
@click.option("--half", type=click.Choice(["score", "calibrate", "all"]), default="score", show_default=True,
              help="Real elderly subjects to score: even ids (score; the simulator was calibrated on the odd ids "
                   "by benchmarks/calibrate_lowerlimb.py), odd ids (calibrate) or all.")
def validate_simulator_cmd(out: Path, data: Path | None, seed: int, quick: bool, only: tuple[str, ...],
                           half: str) -> None:
    """Compare the simulator with every real dataset it has a counterpart for (pass/fail vs the real spread)."""
    from .simulator import validate_simulator

    if data is not None and not data.is_dir():
        raise DataError("data folder not found", str(data))
    _check_out(out, data)
    report, sections = validate_simulator(out, data, seed=seed, quick=quick, only=only or None,
                                          half=half)
    judged = [c.passed for s in sections for c in s.checks if c.passed is not None]
    for s in sections:
        n_ok = sum(c.passed is True for c in s.checks)
        n_bad = sum(c.passed is False for c in s.checks)
        click.echo(f"{s.key:24s} {s.status:9s} pass {n_ok:3d}  fail {n_bad:3d}  {s.seconds:6.1f} s  {s.message}")
    click.echo(f"{sum(judged)}/{len(judged)} judged statistics pass; report: {report}")
    if data is not None and all(s.status == "absent" for s in sections):
        from .simulator import OPT_IN_SECTIONS, SECTIONS

        folders = {k: folder for k, (folder, _) in {**SECTIONS, **OPT_IN_SECTIONS}.items()}
        wanted = sorted({folders[k] for k in (only or SECTIONS)})
        raise DataError(f"holds none of the datasets validate-simulator compares with (expected a subfolder "
                        f"{', '.join(wanted)}; see ../shared/data/README.md)", str(data))
    errors = [s for s in sections if s.status == "error"]
    if errors:
        raise DataError("; ".join(s.message for s in errors) + f" (report written to {report})")


def _check_out(out: Path, data: Path | None) -> None:
    """Refuse an ``--out`` that would mix the report into the user's files or into the real datasets.

    The report rewrites ``report.html``, ``validation.json`` and ``figures/`` in ``out``: a non-empty
    folder is taken only when it is an earlier validate-simulator report (it holds ``validation.json``).
    """
    from ..pipelines._shared import shared_data_dir

    root = (data if data is not None else shared_data_dir()).resolve()
    dest = out.resolve()
    if dest == root or root in dest.parents:
        raise DataError(f"--out lies inside the data folder {root}; write the report elsewhere", str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / "validation.json").is_file():
        raise DataError("--out is a non-empty folder that is not an earlier validate-simulator report (no "
                        "validation.json); give a new or empty folder", str(out))
