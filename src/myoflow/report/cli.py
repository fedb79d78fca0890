"""`myoflow report RUN_DIR`: rebuild report.html from a finished run."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import DataError


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
def report_cmd(run_dir: Path) -> None:
    """Rebuild RUN_DIR/report.html from the run's metrics, figures and config.

    Exit code 2 when the run has no metrics yet (nothing to report); 1 when the
    report was written but the run is incomplete (what is missing is printed and
    shown at the top of the report); 0 otherwise.
    """
    from .html import build_report, missing_parts

    if not run_dir.is_dir():
        raise DataError("run directory not found" if not run_dir.exists() else "expected a run directory, got a file",
                        str(run_dir))
    missing = missing_parts(run_dir)
    # The run's own config.yaml resumes it: a `myoflow run PIPELINE --data DIR --set ...` run has no YAML of the
    # user's, and "CONFIG" left them to retype every --set exactly (any difference is refused as another config).
    finish = f"myoflow run {run_dir / 'config.yaml'} --out {run_dir} --resume"
    if "metrics.json" in missing:
        raise DataError(f"incomplete run, nothing to report: missing {'; '.join(missing)}; finish it with "
                        f"'{finish}'", str(run_dir))
    out = build_report(run_dir)
    click.echo(f"wrote {out}")
    if missing:
        click.echo(f"warning: {run_dir}: incomplete run, the report lacks: {'; '.join(missing)} "
                   f"(finish it with '{finish}')", err=True)
        raise SystemExit(1)
