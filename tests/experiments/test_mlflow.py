"""MLflow tracking: `myoflow run --mlflow file:...` logs params, metrics and artefacts of the toy pipeline."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

mlflow = pytest.importorskip("mlflow", reason="mlflow extra not installed (pip install 'myoflow[mlflow]')")

TOY = {
    "name": "toy-mlflow", "pipeline": "toy", "seed": 3,
    "train": {"epochs": 3, "batch_size": 16, "lr": 0.05},
    "data": {"subjects": 6, "samples_per_subject": 20},
    "evaluate": {"n_splits": 3},
}


def test_cli_run_logs_params_metrics_and_artefacts_to_a_file_store(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(yaml.safe_dump(TOY))
    store = tmp_path / "mlruns"
    uri = store.as_uri()  # file:///...
    run_dir = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "myoflow.cli", "run", str(cfg), "--out", str(run_dir),
                        "--workers", "1", "--mlflow", uri], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert store.is_dir() and not (tmp_path / "run" / "mlruns").exists()

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads file stores only after this opt-in
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("toy-mlflow")
    assert exp is not None
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    params = run.data.params
    assert params["seed"] == "3" and params["train.epochs"] == "3" and params["data.subjects"] == "6"
    assert params["pipeline"] == "toy"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    acc = metrics["conditions"]["all"]["logreg"]["accuracy"]["mean"]
    assert run.data.metrics["all.logreg.accuracy"] == pytest.approx(acc)
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "config.yaml"} <= logged
    # a tracking URI MLflow refuses is a one-line error (exit 2), not a traceback; the run itself is kept
    from myoflow.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(cfg), "--out", str(run_dir), "--resume", "--mlflow", "nosuchscheme://x"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--mlflow nosuchscheme://x" in err and "Traceback" not in err, err
    local = client.download_artifacts(run.info.run_id, "metrics.json", str(tmp_path))
    assert json.loads(open(local).read()) == metrics
