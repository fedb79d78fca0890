"""Every ``myoflow`` command in README.md runs, in quick form (tiny cohorts, tmp dirs).

The commands are parsed from the README's bash blocks, so the test follows the
README: a new command without a quick form here fails the test instead of going
untested. Quick form = the same subcommand and arguments, with outputs moved to a
tmp dir, cohort sizes cut down and, for ``run``, the README's config file loaded
from the checkout (as the CLI resolves it) and shrunk by an override.
"""
from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

pytestmark = pytest.mark.slow

#: Tiny overrides per pipeline config (seconds, not minutes), applied on top of the README's config file.
TINY = {
    "stimulated_mass.yaml": {
        "data": {"subjects": 9, "frequencies": [25], "train_s": 1.0},
        "train": {"epochs": 2, "patience": 2},
        "preprocess": {"augment": 1},
        "model": {"params": {"n_members": 1}},
        "evaluate": {"n_splits": 3, "conditions": ["25Hz"], "n_boot": 50},
    },
    "muscle_id.yaml": {
        "data": {"sim": {"source": "simulate", "subjects": 3, "duration_s": 12.0, "channels_per_burst": 4},
                 "real": {"enabled": False}},
        "model": {"params": {"conv_channels": [4, 8], "fc_size": 8, "lstm_hidden": 8, "head_size": 8,
                             "ae_epochs": 1, "ae_max_samples": 200}},
        "baseline": {"params": {"n_estimators": 20}},
        "train": {"epochs": 2, "patience": 2, "batch_size": 32},
        "evaluate": {"binary": "collapsed", "loso_max_subjects": 2, "n_boot": 50},
    },
}


def readme_commands() -> list[list[str]]:
    """``myoflow ...`` lines of the README's bash blocks, as argv lists (comments dropped)."""
    text = README.read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("myoflow "):
                out.append(shlex.split(line)[1:])
    return out


class Quick:
    """Turns one README argv into its quick form and runs it through ``myoflow.cli.main``."""

    def __init__(self, tmp: Path, monkeypatch):
        self.tmp = tmp
        self.mp = monkeypatch
        self.done: list[str] = []

    def path(self, p: str) -> str:
        """Outputs and inputs named relatively in the README live in the tmp dir."""
        return str(self.tmp / p)

    def run(self, argv: list[str]) -> int:
        from myoflow.cli import main

        try:
            main(argv)
        except SystemExit as exc:  # click's standalone mode
            return int(exc.code or 0)
        return 0

    # ------------------------------------------------------------ per subcommand
    def inspect(self, args):
        target = REPO / args[0]
        if not target.exists():
            return "skipped (no ../shared/data)"
        assert self.run(["inspect", str(target)]) == 0

    def simulate(self, args):
        a = list(args)
        a[a.index("--out") + 1] = self.path(a[a.index("--out") + 1])
        if "--subjects" in a:
            a[a.index("--subjects") + 1] = "2"
        assert self.run(["simulate", *a]) == 0
        assert any(Path(a[a.index("--out") + 1]).iterdir())

    def convert(self, args):
        from myoflow.io.edf import write_edf
        from myoflow.simulate.protocols.grid import simulate_grid

        a = list(args)
        raw = Path(self.path(a[0]))
        raw.mkdir(parents=True, exist_ok=True)
        for rec in simulate_grid(3, seed=7, duration_s=12.0)[0]:
            m = rec.meta
            rec = rec.replace(ch_names=[f"ch{i + 1}" for i in range(rec.n_channels)], grid_shape=None, layout=None)
            write_edf(rec, raw / f"S{m['subject']}_{m['muscle']}_{m['side']}.edf")
        a[0] = str(raw)
        a[a.index("--out") + 1] = self.path(a[a.index("--out") + 1])
        assert self.run(["convert", *a]) == 0
        assert (Path(a[a.index("--out") + 1]) / "dataset.json").is_file()

    def run_cmd(self, args):
        if "--data" in args:  # `run PIPELINE --data DIR`: no YAML, the folder written by `convert` above
            a = list(args)
            for opt in ("--data", "--out"):
                a[a.index(opt) + 1] = self.path(a[a.index(opt) + 1])
            tiny = ["--set", "evaluate.models=[lda]", "--set", "evaluate.schemes=[loso]",
                    "--set", "evaluate.final_model=false", "--set", "evaluate.n_boot=20"]
            assert self.run(["run", *a, *tiny, "--workers", "1", "--cache-dir", self.path("cache")]) == 0
            assert (Path(a[a.index("--out") + 1]) / "report.html").is_file()
            return None
        cfg_path = Path(args[0])
        # the README path must resolve from a checkout, exactly as the CLI resolves it
        from myoflow.config import deep_merge
        from myoflow.experiments import load_config

        self.mp.chdir(REPO)
        load_config(str(cfg_path))
        raw = yaml.safe_load((REPO / cfg_path).read_text())
        tiny = self.tmp / f"tiny_{cfg_path.name}"
        tiny.write_text(yaml.safe_dump(deep_merge(raw, TINY[cfg_path.name])))
        a = [str(tiny), *args[1:]]
        a[a.index("--out") + 1] = self.path(a[a.index("--out") + 1])
        if "--executor" in a and a[a.index("--executor") + 1] == "ray" and importlib.util.find_spec("ray") is None:
            a[a.index("--executor") + 1] = "local"  # the [ray] extra is optional; same folds locally
        assert self.run(["run", *a, "--workers", "1", "--cache-dir", self.path("cache")]) == 0
        assert (Path(a[a.index("--out") + 1]) / "metrics.json").is_file()

    def report(self, args):
        assert self.run(["report", self.path(args[0])]) == 0
        assert (Path(self.path(args[0])) / "report.html").is_file()

    def export(self, args):
        if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
            return "skipped (the [onnx] extra is not installed)"
        a = [self.path(args[0]), *args[1:]]
        a[a.index("--onnx") + 1] = self.path(a[a.index("--onnx") + 1])
        assert self.run(["export", *a]) == 0

    def predict(self, args):
        from myoflow.io.native import save
        from myoflow.simulate.protocols.evoked import simulate_evoked

        recs, _ = simulate_evoked(1, seed=99, frequencies=(25.0,), train_s=1.0)
        files = [a for a in args[1:] if a.endswith(".h5")]
        for f in files:
            muscle = re.search(r"_(RF|BF)\.", f).group(1)
            save(next(r for r in recs if r.meta["muscle"] == muscle), self.path(f))
        a = [self.path(a) if a in files or a == args[0] else a for a in args]
        assert self.run(["predict", *a]) == 0
        # the README's comment: "result + plot: runs/mass/predict/"
        written = sorted(p.suffix for p in (Path(self.path(args[0])) / "predict").iterdir())
        assert written == [".json", ".png"], written

    def check_placement(self, args):
        from myoflow.io.edf import write_edf
        from myoflow.simulate.protocols.grid import simulate_grid

        rec = simulate_grid(1, seed=99, duration_s=12.0)[0][0]
        rec = rec.replace(ch_names=[f"ch{i + 1}" for i in range(rec.n_channels)], grid_shape=None, layout=None)
        write_edf(rec, self.path(args[1]))
        a = [self.path(args[0]), self.path(args[1]), *args[2:]]
        assert self.run(["check-placement", *a]) in (0, 1)  # 1 = a channel disagrees (documented)


    def validate_simulator(self, args):
        a = list(args)
        a[a.index("--out") + 1] = self.path(a[a.index("--out") + 1])
        code = self.run(["validate-simulator", *a, "--quick"])
        assert code in (0, 1), code  # 1 = a statistic outside the real range (documented); 2 would be an error
        assert (Path(a[a.index("--out") + 1]) / "report.html").is_file()


HANDLERS = {"inspect": "inspect", "simulate": "simulate", "run": "run_cmd", "report": "report",
            "export": "export", "predict": "predict", "check-placement": "check_placement",
            "validate-simulator": "validate_simulator", "convert": "convert"}


def test_readme_lists_commands_and_each_has_a_quick_form():
    cmds = readme_commands()
    assert len(cmds) >= 9, cmds
    missing = sorted({c[0] for c in cmds} - set(HANDLERS))
    assert not missing, f"README commands without a quick form in this test: {missing}"


def test_every_readme_command_runs(tmp_path, monkeypatch):
    q = Quick(tmp_path, monkeypatch)
    cmds = readme_commands()
    results = [getattr(q, HANDLERS[argv[0]])(argv[1:]) for argv in cmds]  # None = ran and checked, else why skipped
    print("\n".join(f"{' '.join(a)}: {r or 'ok'}" for a, r in zip(cmds, results)))
    ran = {a[0] for a, r in zip(cmds, results) if r is None}
    # the commands that need no optional extra or shared data must all have run
    assert {"simulate", "run", "report", "predict", "check-placement", "convert", "validate-simulator"} <= ran, ran
