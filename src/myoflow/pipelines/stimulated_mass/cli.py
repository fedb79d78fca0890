"""``myoflow predict``: screen a new person's stimulated recordings for muscle-mass level."""
from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["predict_cmd"]


def _read(path: Path, hints: dict | None = None):
    try:
        from ...io import read
    except ImportError:  # pragma: no cover - the generic reader is optional here
        from ...io.native import load as read
    from ...containers import Recording
    from ...errors import DataError

    obj = read(path, **(hints or {}))
    if not isinstance(obj, Recording):
        raise DataError(f"expected a recording, got a {type(obj).__name__}", str(path))
    if not obj.meta.get("source"):  # a native file written without one: errors about it name the file
        obj = obj.replace(meta={**obj.meta, "source": str(path)})
    return obj


@click.command("predict")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--covariates", default=None,
              help="age=…,sex=M|F,height=…(m),weight=…(kg)[,bmi=…]; e.g. age=45,sex=F,height=1.62,weight=60 "
                   "(required for stimulated-mass runs; refused for gait-emg runs)")
@click.option("--model", default="attention_bilstm", show_default=True, help="Neural model of the run to use.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="Attention plot PNG (default: the --out folder's attention_<first recording>.png; "
                   "never beside the recordings).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--fold", default=None,
              help="The fold folder (MODEL_DIR/folds/ID) whose saved model is used (default: the one trained on "
                   "every subject, folds/final-*).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder (default MODEL_DIR/predict; never the recordings' folder).")
@click.option("--hint", "hints", multiple=True, metavar="KEY=VALUE",
              help="Reader hint for raw recording files of a stimulated-mass run, as for myoflow inspect "
                   "(e.g. --hint units=uV).")
def predict_cmd(model_dir: Path, recordings: tuple[Path, ...], covariates: str | None, model: str,
                plot_path: Path | None, as_json: bool, fold: str | None, out_dir: Path | None,
                hints: tuple[str, ...]) -> None:
    """Predict the muscle-mass level from stimulated RF/BF RECORDINGS with a trained run MODEL_DIR.

    Each recording is one muscle at one stimulation frequency (meta 'muscle' and
    'frequency', or inferable from channel names and the pulse rate), at the run's
    sampling rate. The run's 'final' model (trained on every subject) is used when
    the recordings cover its frequencies, else a cross-validation fold's model of
    the matching condition (--fold picks one). The result (JSON) and the attention
    plot go to --out (default MODEL_DIR/predict/).

    A gait-emg MODEL_DIR instead takes walking Trial files and writes their predicted
    sEMG envelopes (torque-based model; --model direct for the baseline; --fold, --out).
    """
    from ...errors import ConfigError as _ConfigError

    # any run but gait-emg takes the stimulated-mass route unchanged (its checks and messages as before)
    from ...experiments._rundir import config_pipeline

    pipeline = config_pipeline(Path(model_dir) / "config.yaml")
    if pipeline == "gait-emg":
        if covariates is not None:
            raise _ConfigError(f"--covariates: a gait-emg run ({model_dir}) takes no covariates")
        if hints:  # its trials are converted Trial files; a raw file's hints belong to myoflow convert
            raise _ConfigError(f"--hint: a gait-emg run ({model_dir}) takes converted trial files; give the hints "
                               "to myoflow convert")
        return _predict_gait(model_dir, recordings, model, fold, out_dir, as_json)
    if pipeline is not None and pipeline != "stimulated-mass":
        from ...errors import DataError as _DataError

        hint = " (muscle-id runs: myoflow check-placement)" if pipeline == "muscle-id" else ""
        raise _DataError(f"this is a {pipeline!r} run; predict needs a 'stimulated-mass' or 'gait-emg' run{hint}",
                         str(model_dir))
    from ...report.figures.stimulated_mass import plot_attention_single
    from ...experiments.inference.screening import parse_covariates, screen

    from ...errors import ConfigError, DataError
    from ...experiments._rundir import prediction_out_dir, read_run_config

    cfg = read_run_config(model_dir, "stimulated-mass", "predict")
    if covariates is None and cfg.data.covariates:  # click's own message, as when the option was required
        raise click.MissingParameter(ctx=click.get_current_context(), param_hint="'--covariates'",
                                     param_type="option")
    # the covariates this run was trained with (was: always age, sex, height, weight)
    cov = parse_covariates(covariates or "", required=tuple(cfg.data.covariates))
    # height and weight give bmi; anything else must be a covariate the run was trained with
    known = set(cfg.data.covariates) | {"height", "weight"}
    unknown = sorted(set(cov) - known - {"bmi"})
    if unknown:
        raise ConfigError(f"--covariates: unknown covariate(s) {unknown}; the run {model_dir} uses "
                          f"{list(cfg.data.covariates)}")
    if plot_path is not None and plot_path.is_dir():
        raise ConfigError(f"--plot: {plot_path} is a folder; give a .png file name")
    if plot_path is not None and plot_path.suffix.lower() not in (".png", ".pdf", ".svg"):
        # a PNG was written over whatever the name held (a recording named by mistake: RF_25.h5)
        raise ConfigError(f"--plot: {plot_path} does not end in .png, .pdf or .svg; give an image file name such as "
                          f"{plot_path.with_suffix('.png').name}")
    from ...io.cli import _parse_hint

    # first: a file that cannot be read is named before anything else
    recs = [_read(p, dict(_parse_hint(h) for h in hints)) for p in recordings]
    # into the run (a folder of myoflow's that the user named) or --out, never into the folder of their recordings
    out = prediction_out_dir(out_dir, model_dir, recordings)
    res = screen(model_dir, recs, cov, model=model, fold=fold)
    if plot_path is None:
        plot_path = out / f"attention_{recordings[0].stem}.png"
    probs = ", ".join(f"{k} {v:.2f}" for k, v in res.probabilities.items())
    title = f"predicted: {res.level} ({probs})"
    try:
        plot_path.parent.mkdir(parents=True, exist_ok=True)
        plot_attention_single(res.attention, res.attention_axis, res.waveforms, res.waveform_t_ms, res.channels,
                              title, plot_path, axis_label=res.attention_axis_label)
    except OSError as exc:
        raise DataError(f"cannot write the attention plot ({exc.strerror or exc}); pass --plot FILE.png",
                        str(plot_path)) from None
    from ..._atomic import atomic_write_json

    summary = {"level": res.level, "probabilities": res.probabilities, "model": model, "model_fold": res.fold,
               "frequencies": list(res.frequencies), "recordings": [str(r) for r in recordings],
               "covariates": cov, "attention_plot": str(plot_path)}
    result_path = out / f"prediction_{recordings[0].stem}.json"
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(result_path, summary, strict=True)
    except OSError as exc:
        raise DataError(f"cannot write the prediction ({exc.strerror or exc}); pass --out DIR",
                        str(result_path)) from None
    if as_json:
        click.echo(json.dumps({**summary, "result": str(result_path)}, indent=2))
        return
    click.echo(f"predicted muscle-mass level: {res.level}")
    for k, v in sorted(res.probabilities.items(), key=lambda kv: -kv[1]):
        click.echo(f"  P({k}) = {v:.3f}")
    click.echo(f"model: {model_dir} fold {res.fold} ({', '.join(f'{f:g}' for f in res.frequencies)} Hz)")
    click.echo(f"attention plot: {plot_path}")
    click.echo(f"result: {result_path}")


def _predict_gait(run_dir: Path, trials: tuple[Path, ...], model: str, fold: str | None, out: Path | None,
                  as_json: bool) -> None:
    """gait-emg route: predicted sEMG envelopes per trial (see :mod:`myoflow.pipelines.gait_emg.predict`)."""
    from ..gait_emg.predict import run_predict

    name = {"attention_bilstm": "torque_based", "torque": "torque_based", "direct": "baseline"}.get(model, model)
    res = run_predict(run_dir, trials, name, fold, out)
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    click.echo(f"model: {run_dir} fold {res['fold']} ({res['model']})")
    for t, r in res["trials"].items():
        click.echo(f"{t}: {r['n_cycles']} cycles")
        for m in r["muscles"]:
            r2 = r["r2_ens"]
            extra = (f"  R² of ensemble average {r2[m]:.3f}" if m in r2 else "  (not in the trial's EMG)") if r2 else ""
            click.echo(f"  {m:<6} peak of mean {r['peak_of_mean'][m]:.3f}{extra}")
        click.echo(f"  {r['mean_csv']}\n  {r['cycles_csv']}\n  {r['plot']}")
