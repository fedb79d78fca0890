"""`myoflow run`, `myoflow reproduce` and `myoflow export`."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import click

from ..errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
PROTOCOLS = {
    "stimulated-mass": "stimulated_mass.yaml",
    "muscle-id": "muscle_id.yaml",
    "gait-emg": "gait_emg.yaml",
    "muap-generator": "muap_generator.yaml",
}


def protocol_config(name: str) -> Path:
    """Path of the shipped config for a paper protocol."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; choose from {sorted(PROTOCOLS)} or 'all'")
    return CONFIG_DIR / PROTOCOLS[name]


def _echo_headline(name: str, metrics: dict) -> None:
    rows = metrics.get("headline") or []
    click.echo(f"\n{name}")
    if not rows:
        click.echo("  (no headline figures)")
        return
    from ..report.html import cohort_notes, headline_n

    w = max(len(r["label"]) for r in rows)
    with_n = any(r.get("n") is not None for r in rows)  # the n each figure rests on, as in report.html
    click.echo(f"  {'figure':<{w}}  {'myoflow':>9}  {'95% CI':>17}  {'paper':>9}" + ("  n" if with_n else ""))
    for r in rows:
        ours = "–" if r.get("ours") is None else f"{r['ours']:.3f}"
        ci = "" if not r.get("ci") else f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
        paper = r.get("paper")
        paper = "–" if paper is None else (f"{paper:.3f}" if isinstance(paper, float) else str(paper))
        click.echo((f"  {r['label']:<{w}}  {ours:>9}  {ci:>17}  {paper:>9}" + (f"  {headline_n(r)}" if with_n
                                                                                 else "")).rstrip())
    for caveat in cohort_notes(metrics):
        click.echo(f"  note: {caveat}")


def _common(f):
    f = click.option("--quick", is_flag=True, help="Smaller cohort and fewer epochs (the config's quick section).")(f)
    f = click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Run folds in a local process pool or as Ray tasks.")(f)
    f = click.option("--workers", type=click.IntRange(min=1), default=None, help="Folds in parallel (default: min(2, cores)).")(f)
    f = click.option("--resume", is_flag=True, help="Continue an interrupted run; finished folds are kept.")(f)
    f = click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
                     help="Where simulated/converted data are cached (default: $MYOFLOW_CACHE or user cache).")(f)
    f = click.option("--mlflow", "mlflow_uri", default=None, help="Log to this MLflow tracking URI (e.g. file:./mlruns).")(f)
    return f


def _set_option(f):
    return click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
                        help="Override a config value, validated like the YAML (repeatable), "
                             "e.g. --set train.epochs=5 --set evaluate.n_splits=3.")(f)


@click.command("run")
@click.argument("config", metavar="CONFIG|PIPELINE")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Run directory.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="Dataset folder (from `myoflow convert`); CONFIG is then a pipeline name and needs no YAML.")
@click.option("--name", default=None, help="With --data: the cohort's name in conditions and reports "
                                           "(default: the folder's name).")
@click.option("--seed", type=int, default=None, help="The run's master seed (folds, initialisation, bootstrap; "
                                                     "same seed, same metrics.json): short for --set seed=N.")
@_set_option
@_common
def run_cmd(config: str, out: Path, data_dir: Path | None, name: str | None, seed: int | None, sets: tuple[str, ...],
            quick: bool, executor: str, workers: int | None, resume: bool, cache_dir: Path | None,
            mlflow_uri: str | None) -> None:
    """Run the experiment in CONFIG (a YAML file) — or PIPELINE on --data DIR with default settings:
    every fold, metrics, predictions, checkpoints, report."""
    from .registry import load_config
    from .quickrun import data_config, folder_overrides, parse_sets
    from .runner import run_experiment

    overrides = parse_sets(sets)
    if seed is not None:
        # `--seed` is what a user types first (simulate has one); "Did you mean '--set'?" was click's answer
        if "seed" in overrides and overrides["seed"] != seed:
            raise click.UsageError(f"--seed {seed} and --set seed={overrides['seed']} disagree; give one")
        overrides["seed"] = seed
    if data_dir is not None:
        if config not in PROTOCOLS:
            raise click.UsageError(f"with --data, give a pipeline name ({', '.join(sorted(PROTOCOLS))}), "
                                   f"not {config!r}")
        if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):
            # the name labels conditions, figures and reports of every pipeline: keep it a plain word
            raise ConfigError(f"--name {name!r}: use ASCII letters, digits, '-' and '_' (it names the cohort in "
                              "conditions and reports)")
        source = data_config(config, data_dir, name=name, overrides=overrides)
        overrides = folder_overrides(config, source, overrides)
    else:
        if config in PROTOCOLS and not Path(config).exists():
            raise click.UsageError(f"{config!r} is a pipeline name: add --data DIR, or give a YAML config")
        if name is not None:
            raise click.UsageError("--name goes with --data")
        source = Path(config)
    cfg = load_config(source, quick=quick, overrides=overrides)
    t0 = time.perf_counter()
    res = run_experiment(cfg, out, executor=executor, workers=workers, resume=resume, cache_dir=cache_dir,
                         progress=True, mlflow_uri=mlflow_uri)
    _echo_headline(cfg.name, res)
    click.echo(f"\nwrote {out}/report.html ({time.perf_counter() - t0:.0f} s)")


@click.command("reproduce")
@click.argument("protocol", type=click.Choice(sorted(PROTOCOLS) + ["all"]))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output directory.")
@_set_option
@_common
def reproduce_cmd(protocol: str, out: Path, sets: tuple[str, ...], quick: bool, executor: str, workers: int | None,
                  resume: bool, cache_dir: Path | None, mlflow_uri: str | None) -> None:
    """Simulate the cohort and run a paper protocol (or all four), then print ours vs the paper."""
    from .registry import load_config
    from ..report import build_index
    from .quickrun import parse_sets
    from .runner import run_experiment

    overrides = parse_sets(sets)

    names = sorted(PROTOCOLS) if protocol == "all" else [protocol]
    out.mkdir(parents=True, exist_ok=True)
    runs, results, failed = {}, {}, {}
    t0 = time.perf_counter()
    for name in names:
        cfg = load_config(protocol_config(name), quick=quick, overrides=overrides)
        run_dir = out / name
        runs[name] = run_dir
        click.echo(f"== {name} ({'quick' if quick else 'full'}) -> {run_dir}", err=True)
        try:
            results[name] = run_experiment(cfg, run_dir, executor=executor, workers=workers, resume=resume,
                                           cache_dir=cache_dir, progress=True, mlflow_uri=mlflow_uri)
        except ConfigError:
            raise
        except Exception as exc:  # keep going: one broken protocol must not lose the others
            if protocol != "all":
                raise
            failed[name] = f"{type(exc).__name__}: {exc}"
            click.echo(f"error: {name} failed: {failed[name]}", err=True)
    if protocol == "all":
        build_index(out, runs)
    for name, res in results.items():
        _echo_headline(name, res)
    click.echo(f"\n{len(results)}/{len(names)} protocol(s) done in {time.perf_counter() - t0:.0f} s; "
               f"open {out / ('index.html' if protocol == 'all' else names[0] + '/report.html')}")
    if failed:
        raise click.ClickException(f"failed: {', '.join(failed)}")


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--onnx", "onnx_out", type=click.Path(path_type=Path), required=True, help="Output .onnx file.")
@click.option("--model", default=None, help="Model name (default: the run's first neural model).")
@click.option("--fold", default=None, help="Fold id (default: the first finished fold).")
def export_cmd(run_dir: Path, onnx_out: Path, model: str | None, fold: str | None) -> None:
    """Export a trained model of RUN_DIR to ONNX (checked against PyTorch), with preprocessing beside it."""
    from ._rundir import read_run_config
    from .export import export_run

    read_run_config(run_dir, command="export")
    if onnx_out.is_dir():
        raise ConfigError(f"--onnx: {onnx_out} is a folder; give a file name such as {onnx_out / 'model.onnx'}")
    info = export_run(run_dir, onnx_out, model=model, fold=fold)
    click.echo(f"wrote {onnx_out} ({info['model']}, fold {info['fold']}; max |ONNX − torch| = "
               f"{info['max_abs_diff_vs_torch']:.1e}) and {onnx_out.with_suffix('.json')}")
    click.echo(json.dumps({"inputs": info["inputs"]}))
