"""`make demo` on a cold cache: wall and CPU time per protocol and in total, and peak RSS.

Issue 19, item 1 (goal: demo ≤ 120 s on an idle 2-core machine, cold cache). Runs
make demo's command, ``myoflow reproduce all --quick --out DIR``, in a subprocess with a
fresh temporary ``MYOFLOW_CACHE`` (nothing simulated earlier is reused) and a temporary
output folder. The protocols run one after another; the start of each is read off the
``== NAME`` line the command prints, and the CPU time (user + sys) of the whole process
tree at that moment is read from ``/proc/PID/stat`` (the pool workers of the previous
protocol have been reaped by then, so their time is in the parent's ``cutime/cstime``).

The machine is shared, so wall time is inflated by other jobs; CPU time is much less so.
The idle-machine wall time is therefore also **projected**, per protocol, as its CPU time
divided by the workers it ran folds on (1 in-process, 2 with the pool), summed: a
projection (optimistic for pooled protocols, whose prepare and report phases are serial),
said so in the table.

``--quick`` runs the same command (it is already the quick protocol); there is no smaller size.

Run: ``python benchmarks/bench_demo.py`` → ``benchmarks/results/demo.json``.
"""
from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, Benchmark, Row, bench_main  # noqa: E402

log = logging.getLogger("bench.demo")
GOAL_S = 120.0
PROTOCOLS = ("gait-emg", "muap-generator", "muscle-id", "stimulated-mass")  # sorted, as `reproduce all` runs them


def _tree_cpu_s(pid: int) -> float:
    """User + sys CPU seconds of ``pid``, its reaped children, and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    stack = [pid]
    seen: set[int] = set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            # fields[11:15] = utime stime cutime cstime (proc(5), counted from field 3)
            total += sum(int(x) for x in fields[11:15]) / tick
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (OSError, ValueError):
            continue
        stack.extend(int(c) for c in children)
    return total


def _loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def run_demo(out: Path, cache: Path) -> dict:
    """Run the demo command once; return wall/CPU per protocol, total, peak RSS and load."""
    env = dict(os.environ)
    env["MYOFLOW_CACHE"] = str(cache)
    env["PYTHONPATH"] = str(REPO / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    cmd = [sys.executable, "-m", "myoflow", "reproduce", "all", "--quick", "--out", str(out)]
    load0 = _loadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    marks: list[tuple[str, float, float]] = []  # (protocol, wall since start, tree CPU at that moment)
    tail: list[str] = []
    last_cpu = [0.0]
    done = threading.Event()

    def sample() -> None:  # the tree's CPU just before it exits (after exit /proc is gone)
        while not done.wait(0.5):
            last_cpu[0] = max(last_cpu[0], _tree_cpu_s(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        if line.startswith("== "):
            name = line[3:].split(" ", 1)[0]
            marks.append((name, time.perf_counter() - t0, _tree_cpu_s(proc.pid)))
    rc = proc.wait()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # this process's only child tree is the demo
    cpu = ru.ru_utime + ru.ru_stime
    if rc != 0:
        raise RuntimeError(f"demo command exited {rc}: {' | '.join(tail[-5:])}")
    per = {}
    for i, (name, w, c) in enumerate(marks):
        w_end, c_end = (marks[i + 1][1], marks[i + 1][2]) if i + 1 < len(marks) else (wall, cpu)
        info = {}
        p = out / name / "run_info.json"
        if p.is_file():
            info = json.loads(p.read_text(encoding="utf-8"))
        used = info.get("workers") if info.get("folds_in_workers", 1) else 1  # older runners: no key
        headline = []
        m = out / name / "metrics.json"
        if m.is_file():  # kept so a config change's effect on the (smoke-test) figures can be compared
            headline = [{k: h.get(k) for k in ("label", "ours", "paper")}
                        for h in json.loads(m.read_text(encoding="utf-8")).get("headline", [])]
        per[name] = {"wall_s": w_end - w, "cpu_s": c_end - c, "workers": used,
                     "n_folds": info.get("n_folds"), "phases_s": info.get("seconds"), "headline": headline}
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": ru.ru_maxrss / 1024.0, "per_protocol": per,
            "load_before": load0, "load_after": _loadavg(), "cores": os.cpu_count(), "command": " ".join(
                ["myoflow"] + cmd[3:-1] + ["DIR"])}


def run(quick: bool, results_dir: Path) -> Path:
    bench = Benchmark("demo", "9. make demo on a cold cache", quick=quick, results_dir=results_dir)
    with tempfile.TemporaryDirectory(prefix="myoflow-demo-") as tmp:
        res = run_demo(Path(tmp) / "out", Path(tmp) / "cache")
    cores = min(2, res["cores"] or 1)
    projected = sum(p["cpu_s"] / max(1, min(cores, p["workers"] or 1)) for p in res["per_protocol"].values())
    load = f"load average {res['load_before']:.1f} before, {res['load_after']:.1f} after"
    for name, p in res["per_protocol"].items():
        bench.add(Row(item=f"{name} (quick), {p['n_folds']} folds, {p['workers']} worker(s)", myoflow=p["wall_s"],
                      reference="CPU time (user+sys, process tree)", reference_value=p["cpu_s"], unit="s",
                      note=f"phases (s): {json.dumps({k: round(v, 1) for k, v in (p['phases_s'] or {}).items()})}",
                      details=p))
    # the goal is judged on the measured wall time; the CPU-time projection stays beside it for
    # runs on a loaded machine (where the wall time says more about the other jobs than about us)
    bench.add(Row(item="make demo total, wall (measured)", myoflow=res["wall_s"],
                  reference="CPU time (user+sys, process tree)", reference_value=res["cpu_s"], unit="s",
                  goal=f"≤ {GOAL_S:.0f} s (wall, cold cache)", goal_op="<=", goal_value=GOAL_S,
                  goal_on="myoflow", note=load, details=res))
    bench.add(Row(item="make demo total, idle 2-core wall PROJECTED = Σ protocol CPU / its workers",
                  myoflow=projected, unit="s", goal="",
                  note="a projection from CPU time, not a wall-clock measurement; optimistic for pooled "
                       "protocols (their prepare/report phases are serial); all on one core: "
                       f"{res['cpu_s']:.0f} s"))
    bench.add(Row(item="make demo peak RSS (largest process)", myoflow=res["peak_rss_mb"], unit="MB"))
    bench.note(f"Command: `{res['command']}` with a fresh temporary MYOFLOW_CACHE; {load} on "
               f"{res['cores']} cores.")
    return bench.write()


if __name__ == "__main__":
    sys.exit(bench_main(__doc__, run))
