"""`make demo` runs: `myoflow reproduce all --quick` with the shipped configs' quick sections, end to end.

The README's first set-up command. The README-commands test runs each command on tiny configs of its own, so a
shipped quick section that no longer fits its protocol (gait-emg's 6 quick subjects against the protocol's
`emg_subjects: 6`) went unnoticed there; this runs exactly what `make demo` runs (cold cache, ~1 min).
"""
from __future__ import annotations

import json

from myoflow.cli import main
from myoflow.experiments.cli import PROTOCOLS


def test_make_demo_job_runs_every_protocol_quick(tmp_path, capsys):
    try:
        main(["reproduce", "all", "--quick", "--out", str(tmp_path / "demo"), "--cache-dir", str(tmp_path / "cache")])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert (tmp_path / "demo" / "index.html").is_file()
    for name in PROTOCOLS:
        metrics = json.loads((tmp_path / "demo" / name / "metrics.json").read_text())
        assert metrics["headline"], name
        assert (tmp_path / "demo" / name / "report.html").is_file(), name
