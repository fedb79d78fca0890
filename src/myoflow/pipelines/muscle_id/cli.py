"""``myoflow check-placement``: flag channels whose predicted muscle disagrees with the declared one."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from ...errors import DataError

__all__ = ["check_placement_cmd"]


@click.command("check-placement")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--expected", default=None,
              help="Declared muscle per channel: 'ch1=L-BB,ch2=R-TA' ('stem:ch=...' for one file, '*=...' for all).")
@click.option("--model", default=None, help="Checkpoint name (default: the pretrained CNN-LSTM).")
@click.option("--fold", default=None, help="Fold id (default: the model trained on all subjects).")
@click.option("--cohort", default=None, help="Cohort whose model to use (sim, real; default: the one whose "
              "muscles --expected names, else the first).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--hint", "hints", multiple=True, metavar="KEY=VALUE",
              help="Reader hint for the recording files, as for myoflow inspect (e.g. --hint decimal=,).")
def check_placement_cmd(model_dir: Path, recordings: tuple[Path, ...], expected: str | None, model: str | None,
                        fold: str | None, cohort: str | None, as_json: bool, hints: tuple[str, ...]) -> None:
    """Predict which muscle each channel of RECORDING... is on, using the muscle-id run in MODEL_DIR.

    Exit code 1 when at least one channel's predicted muscle differs from the declared one.
    """
    from ...experiments._rundir import read_run_config
    from ...experiments.inference.placement import check_placement

    read_run_config(model_dir, "muscle-id", "check-placement")  # before any loading: a clear error for other runs
    from ...io.cli import _parse_hint

    # a raw file's reader may need what inspect and convert take (its error says --hint decimal=, ...)
    table = check_placement(model_dir, list(recordings), expected, model=model, fold=fold, cohort=cohort,
                            hints=dict(_parse_hint(h) for h in hints))
    flagged = table["mismatch"].fillna(False).astype(bool)
    if as_json:
        click.echo(json.dumps({"model": table.attrs.get("model"), "fold": table.attrs.get("fold"),
                               "channels": json.loads(table.to_json(orient="records"))}, indent=2))
    else:
        click.echo(f"model {table.attrs.get('model')} (fold {table.attrs.get('fold')}), "
                   f"classes {table.attrs.get('classes')}")
        click.echo(f"{'recording':<24} {'channel':<10} {'windows':>7}  {'declared':<8} {'predicted':<9} "
                   f"{'p(pred)':>7} {'p(decl)':>7}  flag")
        for r in table.to_dict("records"):
            p_pred = "" if r["n_windows"] == 0 else f"{r['p_predicted']:.2f}"
            p_exp = "" if r["expected"] is None or r["n_windows"] == 0 else f"{r['p_expected']:.2f}"
            mism = r["mismatch"]
            flag = "MISMATCH" if (mism is not pd.NA and mism is not None and bool(mism)) else (
                (r.get("note") or "no bursts") if r["n_windows"] == 0 else "")
            click.echo(f"{str(r['recording'])[:24]:<24} {str(r['channel'])[:10]:<10} {r['n_windows']:>7}  "
                       f"{str(r['expected'] or '-'):<8} {str(r['predicted'] or '-'):<9} {p_pred:>7} {p_exp:>7}  {flag}")
        n = int(flagged.sum())
        unchecked = int((table["n_windows"] == 0).sum())
        click.echo(f"\n{n} channel(s) flagged" + (": check the electrode placement" if n else "")
                   + (f"; {unchecked} of {len(table)} not checked (no contraction detected)" if unchecked else ""))
    if (table["n_windows"] == 0).all():
        # "0 flagged" would read as a confirmed placement
        raise DataError("no contraction detected in any channel, so no placement could be checked (record "
                        "contractions separated by rest)", ", ".join(map(str, recordings)))
    if flagged.any():
        raise SystemExit(1)
