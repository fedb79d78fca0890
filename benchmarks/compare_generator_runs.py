"""Two ``muap-generator`` runs on the same cohort, side by side per held-out region, with a paired unit-bootstrap CI.

Units are the independent samples (each held-out unit is scored by both runs); the CI is
the 95 % expanded percentile interval of the mean per-unit difference B − A
(:func:`myoflow.evaluate.bootstrap.bootstrap_mean`, 2000 resamples of units). The
nearest-training-unit baseline of run A is listed beside them (same units)::

    python benchmarks/compare_generator_runs.py RUN_A RUN_B [--label-a base --label-b fourier4]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (puts src/ on the path)

REGIONS = {("interpolation", "slab"): "slab", ("interpolation", "random"): "random_units",
           ("extrapolation", "band"): "extrapolation_band"}


def _per_unit(run: Path) -> pd.DataFrame:
    p = pd.read_parquet(run / "predictions.parquet")
    cfg = json.loads((run / "metrics.json").read_text()).get("summary", {}) if (run / "metrics.json").exists() else {}
    primary = cfg.get("primary_variant")
    if "variant" in p.columns:
        p = p[p["variant"] == (primary or p["variant"].iloc[0])]
    return p


def compare(run_a: Path, run_b: Path, n_boot: int = 2000, seed: int = 0) -> dict:
    from myoflow.evaluate.bootstrap import bootstrap_mean

    a, b = _per_unit(run_a), _per_unit(run_b)
    out = {}
    for (set_name, region), label in REGIONS.items():
        ra = a[(a["set"] == set_name) & (a["region"] == region)].groupby("unit")
        rb = b[(b["set"] == set_name) & (b["region"] == region)].groupby("unit")
        cols = ["nrmse", "rel_rmse"]
        ma, mb = ra[cols].mean(), rb[cols].mean()
        units = ma.index.intersection(mb.index)
        if len(units) < 2:
            continue
        if len(units) != len(ma) or len(units) != len(mb):
            raise SystemExit(f"error: runs score different {label} units ({len(ma)} vs {len(mb)}); same cohort?")
        entry = {"n": int(len(units))}
        for c in cols:
            d = (mb.loc[units, c] - ma.loc[units, c]).to_numpy()
            mean, lo, hi = bootstrap_mean(d, n_boot=n_boot, seed=seed)
            entry[c] = {"a": float(ma.loc[units, c].mean()), "b": float(mb.loc[units, c].mean()),
                        "b_minus_a": float(mean), "ci95": [float(lo), float(hi)]}
        nn = ra["nrmse_nearest_unit"].mean()
        zero = ra["nrmse_zero_baseline"].mean()
        entry["nearest_training_unit"] = {"nrmse": float(nn.loc[units].mean()),
                                          "rel_rmse": float((nn / zero).loc[units].mean())}
        out[label] = entry
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    ap.add_argument("--label-a", default="A")
    ap.add_argument("--label-b", default="B")
    a = ap.parse_args(argv)
    for r in (a.run_a, a.run_b):
        if not (r / "predictions.parquet").is_file():
            print(f"error: {r}: no predictions.parquet (not a finished muap-generator run)", file=sys.stderr)
            return 2
    res = compare(a.run_a, a.run_b)
    print(json.dumps({"a": {"label": a.label_a, "run": str(a.run_a)}, "b": {"label": a.label_b, "run": str(a.run_b)},
                      "regions": res}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
