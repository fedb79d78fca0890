"""Run every myoflow benchmark and regenerate the tables in ``BENCHMARKS.md``.

Each benchmark runs in its own subprocess (a crash or a missing peer in one never
stops the others; memory figures are per process). Failures are recorded in
``benchmarks/results/run_all.json`` and shown in the tables. Afterwards the
block between the ``BEGIN GENERATED`` / ``END GENERATED`` markers of
``BENCHMARKS.md`` is rebuilt from ``benchmarks/results/*.json``; the prose
outside the markers is kept.

Usage::

    python benchmarks/run_all.py                 # everything, full sizes (what `make bench` runs)
    python benchmarks/run_all.py --quick         # small sizes, < 30 s per benchmark
    python benchmarks/run_all.py --only preprocess --only features
    python benchmarks/run_all.py --render-only   # just rebuild BENCHMARKS.md from the JSON files
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_DIR, REPO, RESULTS_DIR, SCHEMA, machine_info, versions  # noqa: E402

# name -> script, title, result stem(s); optional extra "args" / "quick_args" ({results} = results dir)
# for scripts written by other helpers with their own options, "timeout" / "quick_timeout" (s) for slow
# ones. Order = order in BENCHMARKS.md.
BENCHMARKS: dict[str, dict[str, Any]] = {
    "preprocess": {"script": "bench_preprocess.py", "title": "1. Preprocessing throughput and burst detection",
                   "results": ["preprocess"]},
    "features": {"script": "bench_features.py", "title": "2. Classic feature extraction vs LibEMG",
                 "results": ["features"]},
    "evoked": {"script": "bench_evoked.py", "title": "3a. Simulator: 90-subject evoked cohort",
               "results": ["evoked"]},
    # H3's script has its own options: it writes JSON only when given --json.
    "simulator_core": {"script": "bench_simulator_core.py", "title": "3b. Simulator core: fast vs numerical MUAPs",
                       "results": ["simulator_core"], "optional": True,
                       "args": ["--json", "{results}/simulator_core.json"],
                       "quick_args": ["--n-fast", "64", "--n-numerical", "4"]},
    # MyoGen runs in its own Python >= 3.12 venv (built once, ~3 min); its per-fibre solver takes minutes.
    "myogen": {"script": "bench_myogen.py", "title": "3c. Simulator vs MyoGen: MUAPs and a 10 s contraction",
               "results": ["myogen"], "timeout": 3600, "quick_timeout": 900},
    "generator": {"script": "bench_generator.py", "title": "4. MUAP generator vs numerical model",
                  "results": ["generator"]},
    "inference": {"script": "bench_inference.py", "title": "5. Inference latency and throughput",
                  "results": ["inference"]},
    # trains the real protocol four times: the one benchmark allowed well beyond 3 minutes
    "training": {"script": "bench_training.py", "title": "6. Training cost and scale-out (seed-000 subject CV)",
                 "results": ["training"], "timeout": 2700},
    "memory": {"script": "bench_memory.py", "title": "7. Peak memory", "results": ["memory"]},
    "engine": {"script": "bench_engine.py", "title": "8. Training engine vs a bare PyTorch loop",
               "results": ["engine"]},
    # runs `make demo`'s command on a cold cache (minutes; the same size with or without --quick)
    "demo": {"script": "bench_demo.py", "title": "9. make demo on a cold cache", "results": ["demo"],
             "timeout": 1800, "quick_timeout": 1800},
}

BEGIN = "<!-- BEGIN GENERATED: benchmarks/run_all.py rewrites everything between these markers -->"
END = "<!-- END GENERATED -->"
RUN_LOG = "run_all.json"
FULL_TIMEOUT_S = 900
QUICK_TIMEOUT_S = 300

# Peers pip must not resolve normally: NeuroKit2 pins pandas<3, which would downgrade the
# pandas the rest of myoflow runs on. NeuroKit2's own dependencies are all myoflow core
# dependencies (or PyWavelets from the bench extra), so installing it without them is safe.
NO_DEPS_PEERS = {"neurokit2": "neurokit2"}


def ensure_no_deps_peers(python: str = sys.executable) -> dict[str, str]:
    """Install the peers listed in :data:`NO_DEPS_PEERS` with ``--no-deps`` if missing."""
    import importlib.util

    status: dict[str, str] = {}
    for module, dist in NO_DEPS_PEERS.items():
        if importlib.util.find_spec(module) is not None:
            status[dist] = "present"
            continue
        proc = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", dist],
                              capture_output=True, text=True)
        status[dist] = "installed" if proc.returncode == 0 else f"install failed: {proc.stderr.strip()[-300:]}"
    return status


# A script whose command line is built by common.bench_argparser / common.bench_main takes
# --quick and --results-dir even though neither literal appears in its own text.
_COMMON_CLI = ("bench_argparser", "bench_main")


def _accepts(script: Path, flag: str) -> bool:
    try:
        text = script.read_text(encoding="utf-8")
    except OSError:
        return False
    return flag in text or any(name in text for name in _COMMON_CLI)


def run_one(name: str, spec: dict[str, Any], quick: bool, bench_dir: Path, results_dir: Path,
            timeout: float | None = None) -> dict[str, Any]:
    """Run one benchmark script in a subprocess; return its status record."""
    script = bench_dir / spec["script"]
    rec: dict[str, Any] = {"name": name, "script": spec["script"], "quick": quick}
    if not script.is_file():
        rec.update(status="not available", reason=f"{spec['script']} not written yet", returncode=None, seconds=0.0)
        return rec
    cmd = [sys.executable, str(script)]
    cmd += [a.replace("{results}", str(results_dir)) for a in spec.get("args", [])]
    if quick:
        if spec.get("quick_args"):
            cmd += list(spec["quick_args"])
        elif _accepts(script, "--quick"):
            cmd.append("--quick")
        else:
            rec["note"] = "script has no --quick option; ran at its default size"
    if _accepts(script, "--results-dir") and results_dir.resolve() != RESULTS_DIR.resolve():
        cmd += ["--results-dir", str(results_dir)]
    timeout = timeout or (spec.get("quick_timeout", QUICK_TIMEOUT_S) if quick else spec.get("timeout", FULL_TIMEOUT_S))
    log_dir = results_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    env = dict(os.environ)
    src = str(REPO / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    t0 = time.perf_counter()
    t0_wall = time.time()
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.run(cmd, cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT, env=env,
                                  timeout=timeout)
        rc: int | None = proc.returncode
        status = "ok" if rc == 0 else "failed"
        reason = "" if rc == 0 else f"exit code {rc}"
    except subprocess.TimeoutExpired:
        rc, status, reason = None, "failed", f"timed out after {timeout:.0f} s"
    rec.update(status=status, reason=reason, returncode=rc, seconds=round(time.perf_counter() - t0, 1),
               command=" ".join("python" if i == 0 else c.replace(str(REPO) + os.sep, "")
                                for i, c in enumerate(cmd)),
               log=str(log_path.relative_to(results_dir)))
    if status == "ok":
        fresh = [stem for stem in spec["results"] if (results_dir / f"{stem}.json").is_file()
                 and (results_dir / f"{stem}.json").stat().st_mtime >= t0_wall - 1]
        if not fresh:
            rec.update(status="failed", reason="exited 0 but wrote no result file "
                       + ", ".join(f"{s}.json" for s in spec["results"]))
        for stem in fresh:
            _stamp_foreign(results_dir / f"{stem}.json", quick, rec["command"], t0_wall - 1)
    if status != "ok":
        try:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-12:]
        except OSError:
            tail = []
        rec["log_tail"] = tail
        rec["reason"] = reason + (f": {tail[-1][:300]}" if tail else "")
    return rec


def _stamp_foreign(path: Path, quick: bool, command: str, started: float) -> None:
    """Add date, machine and versions to a result another helper's script wrote without them.

    Only files written by this run (modified after it started) and not in our schema are touched.
    """
    from myoflow._atomic import atomic_write_json

    try:
        if not path.is_file() or path.stat().st_mtime < started:
            return
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(data, dict) or data.get("schema") == SCHEMA:
        return
    changed = False
    for key, value in (("date", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")),
                       ("machine", machine_info()), ("versions", versions()), ("quick", quick),
                       ("command", command)):
        if key not in data:
            data[key] = value
            changed = True
    if changed:
        atomic_write_json(path, data)


# ----------------------------------------------------------------------------- rendering

def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            return "—"
        a = abs(v)
        if a == 0:
            s = "0"
        elif a >= 1000:
            s = f"{v:,.0f}"
        elif a >= 100:
            s = f"{v:.0f}"
        elif a >= 10:
            s = f"{v:.1f}"
        elif a >= 0.01:
            s = f"{v:.3g}"
        else:
            s = f"{v:.2e}"
        return f"{s} {unit}".strip()
    return str(v)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _met(row: dict[str, Any]) -> str:
    status = row.get("status", "ok")
    if status != "ok":
        return "n/a"
    m = row.get("goal_met")
    if m is None:
        return "no goal" if not row.get("goal_op") else "n/a"
    return "**yes**" if m else "**NO**"


def _status_text(row: dict[str, Any]) -> str:
    status = row.get("status", "ok")
    return "" if status == "ok" else status


def render_result(res: dict[str, Any]) -> list[str]:
    """Markdown lines for one result file in the ``myoflow-bench/1`` schema."""
    lines = []
    quick = " (quick sizes)" if res.get("quick") else ""
    lines.append(f"_Measured {res.get('date', '?')}{quick}; {res.get('seconds', '?')} s._")
    lines.append("")
    lines.append("| what | myoflow | reference / peer | ratio | goal | met | note |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for row in res.get("rows", []):
        unit = row.get("unit", "")
        ref = row.get("reference", "")
        if row.get("reference_value") is not None:
            ref = f"{ref}: {_fmt(row.get('reference_value'), unit)}"
        ratio = _fmt(row.get("ratio"))
        if row.get("ratio") is not None:
            ratio = f"{ratio}{row.get('ratio_unit', '×')} ({row.get('ratio_label', '')})"
        note = " — ".join(x for x in (_status_text(row), row.get("note", "")) if x)
        lines.append("| " + " | ".join(_cell(c) for c in (
            row.get("item", ""), _fmt(row.get("myoflow"), unit), ref, ratio, row.get("goal", ""), _met(row), note,
        )) + " |")
    for n in res.get("notes", []):
        lines.append("")
        lines.append(f"- {n}")
    return lines


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list) and len(obj) > 8:
        out.append((prefix, f"[{len(obj)} values]"))
    else:
        out.append((prefix, obj))
    return out


def render_foreign(res: dict[str, Any]) -> list[str]:
    """Markdown for a result written by a peer helper's script in its own layout.

    Known rows (``rows`` list of dicts) are rendered like ours; otherwise every scalar
    is listed, machine/version blocks excluded (they are summarised at the top).
    """
    if isinstance(res.get("rows"), list) and res["rows"] and isinstance(res["rows"][0], dict) \
            and "item" in res["rows"][0]:
        return render_result(res)
    lines = ["| key | value |", "| --- | --- |"]
    for k, v in _flatten({k: v for k, v in res.items() if k not in ("machine", "versions", "schema")}):
        if isinstance(v, bool) and ("goal" in k or "met" in k):
            shown = "**yes**" if v else "**NO**"
        else:
            shown = _fmt(v)
        lines.append(f"| {_cell(k)} | {_cell(shown)} |")
    return lines


def load_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted(results_dir.glob("*.json")):
        if p.name == RUN_LOG:
            continue
        try:
            out[p.stem] = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            out[p.stem] = {"error": f"unreadable result file: {exc}"}
    return out


def render(results_dir: Path, run_log: dict[str, Any] | None = None) -> str:
    """The generated block of ``BENCHMARKS.md`` (without the markers)."""
    results = load_results(results_dir)
    if run_log is None:
        p = results_dir / RUN_LOG
        run_log = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    runs = {r["name"]: r for r in run_log.get("runs", [])}
    machine = run_log.get("machine") or next((r.get("machine") for r in results.values() if r.get("machine")), {})
    vers = run_log.get("versions") or {}
    lines: list[str] = []
    lines.append(f"Tables last regenerated {run_log.get('date', _dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds'))}"
                 f" by `{run_log.get('command', 'python benchmarks/run_all.py')}`; each section says when its "
                 "figures were measured and whether at quick sizes.")
    lines.append("")
    if machine:
        lines.append(f"**Machine:** {machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores "
                     f"({machine.get('cores_usable', '?')} usable), {machine.get('ram_gb', '?')} GB RAM, "
                     f"{machine.get('os', '?')}, Python {machine.get('python', '?')}.")
    if vers:
        lines.append("")
        lines.append("**Versions:** " + ", ".join(f"{k} {v}" for k, v in vers.items()) + ".")
    lines.append("")
    lines.append("Ratios are medians over interleaved repeats in one process; the goal column says what the "
                 "ratio is judged against. Per-benchmark JSON (with every repeat, machine and versions) is in "
                 "`benchmarks/results/`.")
    # summary table
    lines.append("")
    lines.append("### Summary")
    lines.append("")
    lines.append("| benchmark | run | goals met |")
    lines.append("| --- | --- | --- |")
    for name, spec in BENCHMARKS.items():
        run = runs.get(name, {})
        stems = [s for s in spec["results"] if s in results]
        if not stems and spec.get("optional") and not run:
            continue
        status = run.get("status", "not run in the last run_all" if stems else "not run")
        if run.get("reason"):
            status += f" ({run['reason'][:160]})"
        met, total = 0, 0
        for s in stems:
            for row in results[s].get("rows", []) if isinstance(results[s].get("rows"), list) else []:
                if isinstance(row, dict) and row.get("goal_met") is not None:
                    total += 1
                    met += bool(row["goal_met"])
            if not isinstance(results[s].get("rows"), list):
                for k, v in _flatten(results[s]):
                    if isinstance(v, bool) and ("goal" in k or "met" in k):
                        total += 1
                        met += v
        goals = f"{met}/{total}" if total else "—"
        lines.append(f"| {_cell(spec['title'])} | {_cell(status)} | {goals} |")
    for name, spec in BENCHMARKS.items():
        run = runs.get(name, {})
        stems = [s for s in spec["results"] if s in results]
        if not stems and spec.get("optional") and not run:
            continue
        lines.append("")
        lines.append(f"### {spec['title']}")
        lines.append("")
        if run and run.get("status") != "ok":
            lines.append(f"**Last run: {run.get('status')}** — {_cell(run.get('reason', ''))}")
            lines.append("")
        if not stems:
            lines.append("_No result file._")
            continue
        for s in stems:
            res = results[s]
            if "error" in res and len(res) == 1:
                lines.append(f"_{res['error']}_")
            elif res.get("schema") == SCHEMA:
                lines.extend(render_result(res))
            else:
                lines.append(f"_Result written by `{spec['script']}` (its own layout)._")
                lines.append("")
                lines.extend(render_foreign(res))
    return "\n".join(lines) + "\n"


DEFAULT_MD_HEAD = """# Benchmarks

How myoflow compares with the tools users would otherwise pick, on the same work,
side by side in one run. Regenerate with `make bench` (full sizes; installs the peers)
or `python benchmarks/run_all.py --quick`.

"""


def update_markdown(md_path: Path, generated: str) -> None:
    """Replace the generated block of ``md_path`` (create the file if absent), keeping the prose."""
    from myoflow._atomic import atomic_write_text

    block = f"{BEGIN}\n{generated}{END}\n"
    if md_path.is_file():
        text = md_path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            text = head + block + tail.lstrip("\n")
        else:
            text = text.rstrip("\n") + "\n\n" + block
    else:
        text = DEFAULT_MD_HEAD + block
    atomic_write_text(md_path, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (each benchmark < 30 s)")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    p.add_argument("--render-only", action="store_true", help="do not run; rebuild BENCHMARKS.md from results")
    p.add_argument("--bench-dir", type=Path, default=BENCH_DIR, help=argparse.SUPPRESS)
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where result JSON files live")
    p.add_argument("--markdown", type=Path, default=REPO / "BENCHMARKS.md", help="file whose tables to regenerate")
    p.add_argument("--timeout", type=float, default=None, help="per-benchmark timeout, s")
    p.add_argument("--no-install", action="store_true", help="do not pip-install missing no-deps peers")
    args = p.parse_args(argv)

    unknown = [n for n in args.only if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    results_dir: Path = args.results_dir
    results_dir.mkdir(parents=True, exist_ok=True)
    log_path = results_dir / RUN_LOG
    previous = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else {}

    if not args.render_only:
        install = {} if args.no_install else ensure_no_deps_peers()
        names = args.only or list(BENCHMARKS)
        runs = {r["name"]: r for r in previous.get("runs", [])}
        for name in names:
            spec = BENCHMARKS[name]
            print(f"[bench] {name} ...", flush=True)
            rec = run_one(name, spec, args.quick, args.bench_dir, results_dir, args.timeout)
            if rec["status"] == "not available" and spec.get("optional"):
                runs.pop(name, None)
                print(f"[bench] {name}: skipped (optional, {rec['reason']})", flush=True)
                continue
            runs[name] = rec
            print(f"[bench] {name}: {rec['status']} in {rec.get('seconds', 0)} s"
                  + (f" — {rec['reason']}" if rec.get("reason") else ""), flush=True)
        order = list(BENCHMARKS)
        run_log = {
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": "python benchmarks/run_all.py" + (" --quick" if args.quick else "")
                       + "".join(f" --only {n}" for n in args.only),
            "machine": machine_info(),
            "versions": versions(("neurokit2", "biosppy", "libemg", "onnxruntime", "ray", "psutil", "myogen")),
            "peer_install": install,
            "runs": sorted(runs.values(), key=lambda r: order.index(r["name"]) if r["name"] in order else 99),
        }
        from myoflow._atomic import atomic_write_json

        atomic_write_json(log_path, run_log)
    else:
        run_log = previous
    update_markdown(args.markdown, render(results_dir, run_log))
    print(f"[bench] tables written to {args.markdown}", flush=True)
    failed = [r["name"] for r in run_log.get("runs", []) if r.get("status") == "failed"]
    if failed:
        print(f"[bench] failed: {', '.join(failed)} (see {results_dir / 'logs'})", flush=True)
    # Failures are recorded, not fatal: `make bench` should always leave updated tables.
    return 0


if __name__ == "__main__":
    sys.exit(main())
