"""Shared harness for myoflow's benchmarks.

Every benchmark script in this folder measures myoflow and a reference or peer
tool side by side, in the same process and run, and writes one JSON file
``benchmarks/results/<name>.json`` (atomically) through :class:`Benchmark`.
Machines are noisy, so the figure that matters is a **ratio** of medians over
several interleaved repeats, together with the goal it is judged against.

JSON layout (``schema: "myoflow-bench/1"``)::

    {"schema", "name", "title", "quick", "date", "machine": {...},
     "versions": {...}, "rows": [Row, ...], "notes": [str, ...], "seconds": float}

A :class:`Row` is one line of the table in ``BENCHMARKS.md``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib.metadata
import json
import logging
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

__all__ = [
    "BENCH_DIR", "RESULTS_DIR", "REPO", "SCHEMA",
    "Row", "Benchmark", "Timing",
    "machine_info", "versions", "time_pair", "time_repeats", "percentile",
    "bench_argparser", "bench_main", "shared_data_dir", "goal_met", "setup_logging", "proc_status_mb",
]

log = logging.getLogger(__name__)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
SCHEMA = "myoflow-bench/1"

# Make ``import myoflow`` work from a plain checkout too (the package is normally installed editable).
_SRC = REPO / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))


# --------------------------------------------------------------------------- environment

def machine_info() -> dict[str, Any]:
    """Cores, CPU model, RAM and OS of this machine (for the result files)."""
    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        import psutil  # bench extra

        ram_gb = psutil.virtual_memory().total / 2**30
    except ImportError:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    ram_gb = int(line.split()[1]) / 2**20
                    break
        except OSError:
            pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "cpu_model": cpu_model or "unknown",
        "ram_gb": round(ram_gb, 1) if ram_gb else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


_CORE_PACKAGES = ("myoflow", "numpy", "scipy", "torch", "pandas")


def versions(peers: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of myoflow, NumPy, SciPy, torch, pandas and each peer distribution."""
    out: dict[str, str] = {}
    for dist in (*_CORE_PACKAGES, *peers):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the repository (or ``$MYOFLOW_SHARED_DATA``), if present."""
    env = os.environ.get("MYOFLOW_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def proc_status_mb(field: str) -> float:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``, ...) in MB.

    ``VmHWM`` is the peak RSS of this process since its ``exec``; ``getrusage``'s
    ``ru_maxrss`` would carry the parent's peak over fork + exec.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"{field} not in /proc/self/status")


# --------------------------------------------------------------------------- timing

@dataclass
class Timing:
    """Wall times (s) of repeated calls; ``median`` is what tables use."""

    times: list[float]

    @property
    def median(self) -> float:
        return float(statistics.median(self.times))

    @property
    def best(self) -> float:
        return float(min(self.times))

    def as_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "min_s": self.best, "times_s": [round(t, 6) for t in self.times]}


def _timed(fn: Callable[[], Any], collect: bool = True) -> float:
    if collect:  # start every repeat from the same heap state (outside the timed region)
        gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_repeats(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1, collect: bool = True) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed (``gc.collect()`` before each)."""
    for _ in range(warmup):
        fn()
    return Timing([_timed(fn, collect) for _ in range(repeats)])


def time_pair(fn_a: Callable[[], Any], fn_b: Callable[[], Any], repeats: int = 5,
              warmup: int = 1, collect: bool = True) -> tuple[Timing, Timing]:
    """Time two competitors interleaved (a, b, a, b, ...) so slow drifts hit both alike."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for i in range(repeats):
        # alternate who goes first: caches and turbo states favour neither side
        if i % 2 == 0:
            ta.append(_timed(fn_a, collect))
            tb.append(_timed(fn_b, collect))
        else:
            tb.append(_timed(fn_b, collect))
            ta.append(_timed(fn_a, collect))
    return Timing(ta), Timing(tb)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values`` (linear interpolation)."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


# --------------------------------------------------------------------------- rows and results

_OPS = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def goal_met(value: float | None, op: str | None, target: float | None) -> bool | None:
    """Whether ``value op target`` holds; ``None`` when there is no goal or no value."""
    if op is None or target is None or value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if op not in _OPS:
        raise ValueError(f"unknown goal operator {op!r}; expected one of {sorted(_OPS)}")
    return bool(_OPS[op](value, target))


@dataclass
class Row:
    """One measured comparison.

    Attributes
    ----------
    item : str
        What was measured, with its size ("band-pass+notch+envelope, 16 ch × 1 h @ 1 kHz").
    myoflow : float or None
        myoflow's figure (median) in ``unit``.
    reference : str
        Name of the reference or peer ("SciPy sosfiltfilt", "NeuroKit2 0.2.13").
    reference_value : float or None
        The reference's figure (median) in ``unit``.
    unit : str
        Unit of ``myoflow`` and ``reference_value`` ("s", "ms", "MB", "windows/s").
    ratio : float or None
        The figure judged against the goal; ``ratio_label`` says how it is formed.
    ratio_label : str
        E.g. "myoflow time / SciPy time" or "NeuroKit2 time / myoflow time (speed-up)".
    ratio_unit : str
        Suffix shown after the ratio ("×" for ratios; "" for differences or flags).
    goal : str
        Human text of the goal ("≤ 1.3×").
    goal_op, goal_value : str, float
        Machine form of the goal (``ratio goal_op goal_value``), used to compute ``goal_met``.
    goal_on : {"ratio", "myoflow"}
        Which figure the goal judges: the ratio (default) or myoflow's own value
        (for absolute goals such as "p50 ≤ 1 ms" or "< 30 s").
    goal_met : bool or None
        Filled in by :meth:`Benchmark.add`; None if no goal or not measured.
    status : str
        "ok", "not available: <why>" or "failed: <why>".
    note : str
        Explanation, e.g. why myoflow is slower and what would fix it.
    details : dict
        Raw repeats and anything else worth keeping (not rendered).
    """

    item: str
    myoflow: float | None = None
    reference: str = ""
    reference_value: float | None = None
    unit: str = "s"
    ratio: float | None = None
    ratio_label: str = ""
    ratio_unit: str = "×"
    goal: str = ""
    goal_op: str | None = None
    goal_value: float | None = None
    goal_on: str = "ratio"
    goal_met: bool | None = None
    status: str = "ok"
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Benchmark:
    """Collect :class:`Row` objects and write ``results/<name>.json`` atomically.

    Parameters
    ----------
    name : str
        File stem of the result (``preprocess`` → ``results/preprocess.json``).
    title : str
        Section title in ``BENCHMARKS.md``.
    quick : bool
        Whether small sizes were used (recorded; quick results are marked in the tables).
    peers : iterable of str
        Distribution names whose versions are recorded.
    results_dir : Path, optional
        Where to write (default ``benchmarks/results``).
    """

    def __init__(self, name: str, title: str, quick: bool = False, peers: Iterable[str] = (),
                 results_dir: Path | None = None):
        self.name = name
        self.title = title
        self.quick = bool(quick)
        self.peers = tuple(peers)
        self.results_dir = Path(results_dir) if results_dir else RESULTS_DIR
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.extra: dict[str, Any] = {}
        self._t0 = time.perf_counter()

    def add(self, row: Row) -> Row:
        """Append ``row`` after computing ``goal_met`` from its ratio and goal."""
        if row.goal_on not in ("ratio", "myoflow"):
            raise ValueError(f"goal_on must be 'ratio' or 'myoflow', got {row.goal_on!r}")
        if row.status == "ok":
            judged = row.ratio if row.goal_on == "ratio" else row.myoflow
            row.goal_met = goal_met(judged, row.goal_op, row.goal_value)
        else:
            row.goal_met = None
        self.rows.append(row)
        log.info("%s: %s -> ratio %s (goal %s, met %s) %s", self.name, row.item, row.ratio, row.goal,
                 row.goal_met, "" if row.status == "ok" else row.status)
        return row

    def not_available(self, item: str, reason: str, reference: str = "", goal: str = "",
                      note: str = "") -> Row:
        """Record that ``item`` could not be measured and why (never a made-up number)."""
        return self.add(Row(item=item, reference=reference, goal=goal, status=f"not available: {reason}",
                            note=note))

    def failed(self, item: str, exc: BaseException, reference: str = "", goal: str = "") -> Row:
        """Record that measuring ``item`` raised ``exc``."""
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return self.add(Row(item=item, reference=reference, goal=goal, status=f"failed: {msg}"))

    def note(self, text: str) -> None:
        """A free-text note rendered under the table."""
        self.notes.append(text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "title": self.title,
            "quick": self.quick,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "versions": versions(self.peers),
            "rows": [asdict(r) for r in self.rows],
            "notes": list(self.notes),
            "extra": self.extra,
            "seconds": round(time.perf_counter() - self._t0, 2),
        }

    def write(self) -> Path:
        """Write the result JSON atomically and return its path."""
        from myoflow._atomic import atomic_write_json

        path = self.results_dir / f"{self.name}.json"
        atomic_write_json(path, self.as_dict())
        return path


def bench_argparser(description: str) -> argparse.ArgumentParser:
    """Common options: ``--quick`` and ``--results-dir``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes (< 30 s)")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where to write <name>.json")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    return p


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)


def bench_main(doc: str, run: Callable[[bool, Path], Path], argv: Sequence[str] | None = None) -> int:
    """Command line of a benchmark script with only the common options.

    Parses ``--quick``/``--results-dir``/``-v`` (described by the first line of ``doc``, the
    script's module docstring), sets up logging, calls ``run(quick, results_dir)`` and prints
    the path of the result file it wrote.
    """
    args = bench_argparser(doc.splitlines()[0]).parse_args(argv)
    setup_logging(args.verbose)
    print(run(args.quick, args.results_dir))
    return 0


def fmt_json(obj: Any) -> str:  # pragma: no cover - debugging helper
    return json.dumps(obj, indent=2, default=str)


# ------------------------------------------------------------- selection scripts
#: the simulator seed of the reported cohorts; selection scripts must choose on another one
REPORTED_SEED = 0


def refuse_reported_seed(seed: int) -> bool:
    """True (and a one-line error on stderr) when ``seed`` is the reported cohort's: never select on it."""
    if seed == REPORTED_SEED:
        print(f"error: --seed {REPORTED_SEED} is the reported cohort; select on another seed", file=sys.stderr)
        return True
    return False


def parse_selection_seeds(text: str, script: str, reported: Iterable[int] = (0, 2)) -> list[int] | None:
    """Seeds of a ``--sim-seed`` value (``"1"`` or ``"1,3"``) to select on, or None after a one-line error.

    ``reported`` are the cohorts whose figures are published (gait: sim seeds 0 and 2): never
    selected on. ``script`` names the caller in the error.
    """
    try:
        seeds = [int(x) for x in str(text).split(",")]
    except ValueError:
        print(f"{script}: --sim-seed {text!r} is not a seed or a comma-separated list", file=sys.stderr)
        return None
    hit = sorted(set(seeds) & set(reported))
    if hit:
        print(f"{script}: --sim-seed {text}: {', '.join(map(str, hit))} is a reported cohort (reported: "
              f"{', '.join(map(str, sorted(set(reported))))}); choose on other seeds", file=sys.stderr)
        return None
    return seeds


def read_selection_record(path: Path, seed: int, select_hint: str) -> dict[str, Any] | None:
    """The selection record at ``path`` for scoring on ``seed``, or None after a one-line error on stderr.

    Refused when it does not exist (``select_hint`` says how to make it) or was chosen on ``seed`` itself:
    a choice is never scored on the cohort it was made on.
    """
    path = Path(path)
    if not path.exists():
        print(f"error: {path}: no selection record; {select_hint}", file=sys.stderr)
        return None
    rec = json.loads(path.read_text())
    if int(rec["chosen_on"]["simulator_seed"]) == seed:
        print(f"error: {path}: chosen on seed {seed}, the seed asked to be scored", file=sys.stderr)
        return None
    return rec


def write_selection_record(path: Path, record: dict[str, Any], *, script: str, argv: Sequence[str] | None,
                           t0: float, load0: Sequence[float]) -> dict[str, Any]:
    """Add the command, date, duration and load average to a selection ``record``; write it atomically as JSON."""
    record = {"command": " ".join([f"python benchmarks/{script}", *(argv if argv is not None else sys.argv[1:])]),
              "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              **record,
              "reported_seed": REPORTED_SEED,
              "seconds": round(time.perf_counter() - t0, 1),
              "load_average_start": [round(v, 2) for v in load0],
              "load_average_end": [round(v, 2) for v in os.getloadavg()]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    return record
