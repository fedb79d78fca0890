"""Profile the paper-size muscle-id fold and PROJECT the full protocol's CPU time (issue 19).

What dominates a fold of ``myoflow reproduce muscle-id`` at the paper's size (9 subjects x
4 muscles x ~120 bursts x 16 grid channels = 69 776 windows of 500 samples; 200 epochs with
early stopping)? Measured here, with one torch thread (as each fold runs), on synthetic
windows of the paper's shape (cost does not depend on the values):

* CNN-LSTM training step per window (forward + backward + Adam, batch 64) with the shipped
  reshape max-pool and, in the same run, with ``nn.MaxPool1d`` (the previous code);
* the per-epoch validation forward per window: the previous single whole-set forward
  (plus the second, 2048-chunk forward the classifier used for the validation accuracy),
  against the shipped 256-window chunks with the accuracy read off the same pass;
* one autoencoder epoch per window, layer 1 and layer 2 (greedy pretraining);
* random-forest fit (200 trees, 22 features) on a subset, scaled by n log n;

and the measured per-window costs are combined with the fold inventory of the shipped
config into a **projection** (not a measurement) of the whole protocol's CPU hours, for
``binary: separate`` and ``binary: collapsed``, old and new code, under stated epoch counts
(``--epochs-intra``/``--epochs-loso``: epochs actually run, best epoch + patience; the
defaults are the mean best epochs of the lr-selection record on the seed-1 cohort plus the
patience of 15 — a small cohort; the true paper-size values are unknown until the full run).

Costs are process CPU seconds (``time.process_time``, one thread), not wall time: on the shared
2-core machine wall time is inflated several-fold by other jobs, CPU time much less (caches are
still shared). The old/new ratios are measured in one run, interleaved.

Run: ``python benchmarks/profile_muscle_id_fold.py`` → ``benchmarks/results/profile_muscle_id_fold.json``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR  # noqa: E402  (puts src/ on the path)

# Paper-size inventory (Velásquez et al. 2023: 4361 bursts, 69 776 channel samples; 9 subjects).
N_SIM = 69_776
SIM_SUBJECTS = 9
N_REAL = 30 * 4 * 20   # elderly set: 30 subjects x 4 muscles x one 10 s contraction tiled into 500 ms windows
REAL_SUBJECTS = 30
N_TIMES = 500


def _best_of(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        ts.append(time.process_time() - t)
    return min(ts)


def measure(n_train: int, n_val: int, repeats: int) -> dict[str, float]:
    """Seconds per window of each stage (min over ``repeats``), old and new code paths interleaved."""
    import torch

    from myoflow.models.cnn_lstm import EVAL_BATCH, CNNLSTM
    from myoflow.models.conv_autoencoder import ConvAutoencoder
    from myoflow.train.engine import fit

    torch.set_num_threads(1)
    torch.manual_seed(0)
    X = torch.randn(n_train, 1, N_TIMES)
    y = torch.randint(0, 4, (n_train,))
    Xv = torch.randn(n_val, 1, N_TIMES)
    out: dict[str, float] = {}
    model = CNNLSTM(4, conv_channels=(16, 32), kernel_sizes=(9, 5), pool=4)
    reshape_pool, maxpool = model.pool, torch.nn.MaxPool1d(4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_epoch():
        model.train()
        for s in range(0, n_train, 64):
            loss = torch.nn.functional.cross_entropy(model(X[s:s + 64]), y[s:s + 64])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    train_epoch()  # warm-up
    t_old, t_new = [], []
    for _ in range(repeats):
        model.pool = maxpool
        t_old.append(_best_of(train_epoch, 1))
        model.pool = reshape_pool
        t_new.append(_best_of(train_epoch, 1))
    out["train_old"], out["train_new"] = min(t_old) / n_train, min(t_new) / n_train
    model.eval()
    with torch.no_grad():
        model.pool = maxpool
        out["val_old"] = _best_of(lambda: model(Xv), repeats) / n_val
        out["acc_old"] = _best_of(lambda: [model(Xv[s:s + 2048]) for s in range(0, n_val, 2048)], repeats) / n_val
        model.pool = reshape_pool
        out["val_new"] = _best_of(lambda: [model(Xv[s:s + EVAL_BATCH]) for s in range(0, n_val, EVAL_BATCH)],
                                  repeats) / n_val
    # autoencoder epochs (layer 1 on raw windows, layer 2 on pooled layer-1 features)
    n_ae = min(n_train, 4096)
    ae1 = ConvAutoencoder(model.conv1, model.act)
    t = time.process_time()
    fit(ae1, [X[:n_ae]], lambda b, s: torch.nn.functional.mse_loss(ae1(b[0]), b[0]), epochs=1, batch_size=64,
        patience=None)
    out["ae1"] = (time.process_time() - t) / n_ae
    with torch.no_grad():
        h = torch.cat([reshape_pool(ae1.encode(X[s:s + 256])) for s in range(0, n_ae, 256)])
    ae2 = ConvAutoencoder(model.conv2, model.act)
    t = time.process_time()
    fit(ae2, [h], lambda b, s: torch.nn.functional.mse_loss(ae2(b[0]), b[0]), epochs=1, batch_size=64,
        patience=None)
    out["ae2"] = (time.process_time() - t) / n_ae
    # random forest: fit time per (tree x n log2 n) unit on 22 features
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    n_rf, trees = 8000, 20
    F, yr = rng.standard_normal((n_rf, 22)), rng.integers(0, 4, n_rf)
    t = time.process_time()
    RandomForestClassifier(n_estimators=trees, n_jobs=1, min_samples_leaf=2, random_state=0).fit(F, yr)
    out["rf_unit"] = (time.process_time() - t) / (trees * n_rf * math.log2(n_rf))
    return out


_RSS_CHILD = r"""
import sys, torch
torch.set_num_threads(1)
from myoflow.models.cnn_lstm import CNNLSTM

def hwm():  # this process's own peak RSS (VmHWM, MB); ru_maxrss would carry the parent's peak over exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024

n, step = int(sys.argv[1]), int(sys.argv[2])
m = CNNLSTM(4, pool=4).eval()
x = torch.randn(n, 1, 500)
base = hwm()
with torch.no_grad():
    out = torch.cat([m(x[s:s + step]) for s in range(0, n, step)])
print(base, hwm())
"""


def validation_peak_rss(n_val: int) -> dict[str, float]:
    """Peak RSS (MB) added by one validation forward over ``n_val`` windows: whole set vs 256-window chunks.

    Each in a fresh process (ru_maxrss only grows), after the model and the windows exist.
    """
    import subprocess

    out = {}
    for label, step in (("whole_set", n_val), ("chunks_256", 256)):
        r = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(n_val), str(step)], capture_output=True,
                           text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        before, peak = (float(v) for v in r.stdout.split())
        out[label] = peak - before
    return out


def calibrate(costs: dict[str, float], subjects: int, duration: float, seed: int = 1) -> dict:
    """Check the projection's arithmetic on one REAL pipeline fold: measured CPU vs predicted CPU.

    Runs one LOSO 4-class fold of the shipped config (both CNN-LSTMs, LDA, RF; all 16 grid channels)
    on a small simulated cohort of ANOTHER seed than the reported one, times it in process CPU, and
    predicts its cost from the per-window costs with the fold's own window counts and epochs run.
    """
    import torch

    from myoflow.experiments import load_config
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir
    from myoflow.train.seeding import derive_seed

    torch.set_num_threads(1)
    cfg = load_config(Path(__file__).resolve().parents[1] / "src" / "myoflow" / "configs" / "muscle_id.yaml",
                      overrides={"data": {"sim": {"seed": seed, "subjects": subjects, "duration_s": duration},
                                          "real": {"enabled": False}},
                                 "evaluate": {"schemes": ["loso"], "binary": "collapsed", "final_model": False,
                                              "loso_max_subjects": 1, "n_boot": 10}})
    pipe = get_pipeline("muscle-id")
    data = pipe.prepare(cfg, default_cache_dir())
    fold = pipe.folds(cfg, data)[0]
    res_seed = derive_seed(cfg.seed, "muscle-id", fold.id)
    t = time.process_time()
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=res_seed, device="cpu", workdir=Path("/tmp")))
    measured = time.process_time() - t
    from myoflow.evaluate.splitters import inner_validation_split

    n_train, n_test = res.extras["n_train"], res.extras["n_test"]
    train = np.asarray(fold.payload["train"])
    md = data["sim"].epochs.metadata.iloc[train].reset_index(drop=True)
    labels = data["sim"].labels["4class"][train].astype(str)
    predicted, epochs, split = 0.0, {}, {}
    for model, c in res.curves.items():
        e = len(c["train_loss"])
        epochs[model] = e
        # the classifier's own early-stopping split (same call, same seed), for the exact fit/validation sizes
        fit_idx, val_idx = inner_validation_split(md, np.arange(len(md)), fraction=0.2, group="subject", y=labels,
                                                  seed=derive_seed(derive_seed(res_seed, model), "validation"))
        n_fit, n_val = len(fit_idx), len(val_idx)
        split[model] = [n_fit, n_val]
        predicted += e * (n_fit * costs["train_new"] + n_val * costs["val_new"]) + n_test * costs["val_new"]
        if "ae1_reconstruction_mse" in c:
            predicted += (len(c["ae1_reconstruction_mse"]) - 1) * min(n_train, 20000) * (costs["ae1"] + costs["ae2"])
    predicted += 200 * n_train * math.log2(n_train) * costs["rf_unit"]
    return {"fold": fold.id, "cohort": {"seed": seed, "subjects": subjects, "duration_s": duration,
                                        "channels_per_burst": "all 16"},
            "n_train": n_train, "n_test": n_test, "fit_val_windows": split, "epochs_run": epochs, "measured_cpu_s": measured,
            "predicted_cpu_s": predicted, "measured_over_predicted": measured / predicted}


def inventory(binary: str, intra_channel: bool = True, lean_binary: bool = False) -> list[dict]:
    """Folds of the shipped config at paper size: scheme, cohort, training/test windows, networks trained.

    ``lean_binary``: the binary-task folds skip the random-init CNN-LSTM and the intra-channel scheme
    (``evaluate.binary_skip_models: [cnn_lstm_random]``, ``binary_skip_schemes: [intra-channel]``).
    """
    folds = []
    sim_tasks = ["4class"] + (["side", "muscle"] if binary == "separate" else [])
    for task in sim_tasks:
        lean = lean_binary and task != "4class"
        nets = ["pretrained"] if lean else ["pretrained", "random"]
        folds.append(dict(cohort="sim", scheme="intra", task=task, n_train=0.8 * N_SIM, n_test=0.2 * N_SIM, nets=nets))
        if intra_channel and not lean:
            folds.append(dict(cohort="sim", scheme="intra-channel", task=task, n_train=0.8 * N_SIM,
                              n_test=0.2 * N_SIM, nets=nets))
        for _ in range(SIM_SUBJECTS):
            folds.append(dict(cohort="sim", scheme="loso", task=task, n_train=N_SIM * (1 - 1 / SIM_SUBJECTS),
                              n_test=N_SIM / SIM_SUBJECTS, nets=nets))
    folds.append(dict(cohort="sim", scheme="final", task="4class", n_train=N_SIM, n_test=0))
    folds.append(dict(cohort="real", scheme="intra", task="4class", n_train=0.8 * N_REAL, n_test=0.2 * N_REAL))
    for _ in range(REAL_SUBJECTS):
        folds.append(dict(cohort="real", scheme="loso", task="4class", n_train=N_REAL * (1 - 1 / REAL_SUBJECTS),
                          n_test=N_REAL / REAL_SUBJECTS))
    folds.append(dict(cohort="real", scheme="final", task="4class", n_train=N_REAL, n_test=0))
    return folds


def project(costs: dict[str, float], binary: str, code: str, epochs_intra: float, epochs_loso: float,
            ae_epochs: int = 10, ae_max: int = 20000, trees: int = 200, val_fraction: float = 0.2,
            channel_fraction: float = 1.0, lean_binary: bool = False, shared_pretraining: bool = False) -> dict:
    """CPU seconds of the whole protocol from per-window costs (a projection, see the module docstring)."""
    t_train, t_val = costs[f"train_{code}"], costs[f"val_{code}"] + (costs["acc_old"] if code == "old" else 0.0)
    t_pred = costs["val_new"] if code == "new" else costs["acc_old"]
    parts = {"cnn_lstm_train": 0.0, "cnn_lstm_validation": 0.0, "autoencoder": 0.0, "random_forest": 0.0,
             "predict": 0.0}
    for f in inventory(binary, lean_binary=lean_binary):
        nets = ["pretrained"] if f["scheme"] == "final" else f.get("nets", ["pretrained", "random"])
        epochs = epochs_loso if f["scheme"] == "loso" else epochs_intra
        n_fit, n_val = f["n_train"] * (1 - val_fraction), f["n_train"] * val_fraction
        for net in nets:
            parts["cnn_lstm_train"] += epochs * n_fit * channel_fraction * t_train  # channels_per_epoch / 16
            parts["cnn_lstm_validation"] += epochs * n_val * t_val
            # shared_pretraining: a LOSO split's binary tasks reuse its 4-class fold's pretraining (same windows,
            # one pretrain_seed per split, memoised), so only the 4-class LOSO folds pay for it
            reused = shared_pretraining and f["scheme"] == "loso" and f["task"] != "4class"
            if net == "pretrained" and not reused:
                parts["autoencoder"] += ae_epochs * min(f["n_train"], ae_max) * (costs["ae1"] + costs["ae2"])
            parts["predict"] += f["n_test"] * t_pred
        if f["scheme"] != "final":
            n = f["n_train"]
            parts["random_forest"] += trees * n * math.log2(n) * costs["rf_unit"]
    total = sum(parts.values())
    return {"cpu_hours": total / 3600, "parts_cpu_hours": {k: v / 3600 for k, v in parts.items()},
            "n_folds": len(inventory(binary, lean_binary=lean_binary))}


def projections(costs: dict[str, float], a) -> dict[str, dict]:
    """Every projection row: binary mode x code x epoch assumption (incl. the shorter ``--patience-alt``)."""
    best_i, best_l = a.epochs_intra - 16, a.epochs_loso - 16  # the defaults are best epoch + patience 15 + 1
    proj = {}
    for binary in ("separate", "collapsed"):
        for code in ("old", "new"):
            for label, (ei, el) in (("observed_epochs", (a.epochs_intra, a.epochs_loso)),
                                    (f"patience_{a.patience_alt}", (best_i + a.patience_alt + 1,
                                                                    best_l + a.patience_alt + 1)),
                                    ("200_epochs", (200, 200))):
                proj[f"{binary}/{code}/{label}"] = project(costs, binary, code, ei, el)
    # the shipped recipe: patience 5 and 4 of 16 channels per epoch, whose epochs run were x epoch_factor of
    # training on all channels on the seed-1 selection cohort (muscle_id_channels_seed1.json: 209 / 106)
    f = a.channels_epoch_factor
    for binary in ("separate", "collapsed"):
        proj[f"{binary}/new/patience_{a.patience_alt}+channels_4of16"] = project(
            costs, binary, "new", f * (best_i + a.patience_alt + 1), f * (best_l + a.patience_alt + 1),
            channel_fraction=4 / 16)
    # + the binary-task folds without the random-init twin and the intra-channel split (the shipped scope)
    proj[f"separate/new/patience_{a.patience_alt}+channels_4of16+lean_binary"] = project(
        costs, "separate", "new", f * (best_i + a.patience_alt + 1), f * (best_l + a.patience_alt + 1),
        channel_fraction=4 / 16, lean_binary=True)
    # + one autoencoder pretraining per LOSO split shared by its tasks (the shipped code)
    proj[f"separate/new/patience_{a.patience_alt}+channels_4of16+lean_binary+shared_pretraining"] = project(
        costs, "separate", "new", f * (best_i + a.patience_alt + 1), f * (best_l + a.patience_alt + 1),
        channel_fraction=4 / 16, lean_binary=True, shared_pretraining=True)
    return proj


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=3072, help="windows per timed training epoch")
    ap.add_argument("--n-val", type=int, default=12_400, help="validation windows (paper-size LOSO: ~12 400)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs-intra", type=float, default=47 + 15 + 1)
    ap.add_argument("--epochs-loso", type=float, default=11 + 15 + 1)
    ap.add_argument("--calibrate-subjects", type=int, default=3, help="0: skip the one-fold calibration")
    ap.add_argument("--calibrate-duration", type=float, default=60.0)
    ap.add_argument("--patience-alt", type=int, default=5, help="projection row with this patience")
    ap.add_argument("--channels-epoch-factor", type=float, default=209 / 106,
                    help="epochs run with 4 of 16 channels per epoch / with all (selection record)")
    ap.add_argument("--reproject", type=Path, default=None,
                    help="recompute the projection from the costs of an earlier record (no measurement)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / "profile_muscle_id_fold.json")
    a = ap.parse_args(argv)
    t0, load0 = time.perf_counter(), os.getloadavg()
    if a.reproject is not None:
        old = json.loads(a.reproject.read_text())
        costs = {k: v / 1e3 for k, v in old["per_window_ms"].items()}
        costs["rf_unit"] = old["rf_seconds_per_tree_nlog2n"]
        old["projection"] = projections(costs, a)
        old["reprojected_with"] = "python benchmarks/profile_muscle_id_fold.py " + " ".join(
            argv if argv is not None else sys.argv[1:])
        a.out.write_text(json.dumps(old, indent=1))
        for k, v in old["projection"].items():
            print(f"  {k:40s} {v['cpu_hours']:6.2f} CPU-h")
        return 0
    costs = measure(a.n_train, a.n_val, a.repeats)
    rss = validation_peak_rss(a.n_val)
    cal = calibrate(costs, a.calibrate_subjects, a.calibrate_duration) if a.calibrate_subjects else None
    proj = projections(costs, a)
    record = {
        "what": "per-window stage costs of the paper-size muscle-id fold (measured) and the full protocol's "
                "CPU hours (PROJECTED from them)",
        "command": "python benchmarks/profile_muscle_id_fold.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "per_window_ms": {k: v * 1e3 for k, v in costs.items() if k != "rf_unit"},
        "rf_seconds_per_tree_nlog2n": costs["rf_unit"],
        "ratios_same_run": {"train_old_over_new": costs["train_old"] / costs["train_new"],
                            "validation_old_over_new": (costs["val_old"] + costs["acc_old"]) / costs["val_new"]},
        "validation_forward_extra_peak_rss_mb": rss,
        "calibration_one_real_fold": cal,
        "assumed_epochs_run": {"intra": a.epochs_intra, "loso": a.epochs_loso,
                               "source": "mean best epoch (lr 0.001) of benchmarks/results/selection/"
                                         "muscle_id_lr_seed1.json (intra 43/50, LOSO 17.5/4.5) + patience 15 + 1"},
        "projection": proj,
        "threads": 1, "wall_seconds": round(time.perf_counter() - t0, 1),
        "load_average_start": list(load0), "load_average_end": list(os.getloadavg()),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(a.out)
    print(json.dumps({k: record[k] for k in ("per_window_ms", "ratios_same_run",
                                             "validation_forward_extra_peak_rss_mb", "calibration_one_real_fold")}, indent=1))
    for k, v in proj.items():
        print(f"  {k:40s} {v['cpu_hours']:6.2f} CPU-h  " + ", ".join(f"{p} {h:.2f}" for p, h in v["parts_cpu_hours"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
