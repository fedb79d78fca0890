"""`myoflow report RUN_DIR`: rebuild report.html from a finished run."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import DataError


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
def report_cmd(run_dir: Path) -> None:
    """Rebuild RUN_DIR/report.html from the run's metrics, figures and config."""
    from .html import build_report

    if not run_dir.is_dir():
        raise DataError("run directory not found", str(run_dir))
    out = build_report(run_dir)
    click.echo(f"wrote {out}")
