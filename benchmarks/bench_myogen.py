"""Surface MUAP computation: myoflow's simulator vs MyoGen (PyPI ``myogen``), if MyoGen installs.

Issue 10, item 3 (second half). MyoGen is a peer neuromuscular simulator; it is not a
dependency of myoflow, so this benchmark first tries to install it into the running
environment with ``pip`` — with the installed NumPy, SciPy, pandas and torch pinned by a
constraints file, so the attempt can never change the packages myoflow runs on — and
records why not when it does not install.

myoflow's side is always measured: surface MUAPs of a set of motor units on a 13 × 5
monopolar grid at 8 mm (the OT Bioelettronica GR08MM1305 layout of the real
``openhdemg-otb`` recording), conditions drawn by Latin hypercube over the BioMime
ranges (log fibre number 1.10–6.77, i.e. 3–870 fibres per unit), through

* the fast path (``volume_conductor.fast_muaps``: weighted fibre clusters, vectorised), and
* the numerical path (``numerical.numerical_muaps``: every fibre summed individually).

Reported as MUAPs/s and fibres/s with the total number of fibres and electrodes, so a
MyoGen run with the same fibres and electrodes can be set beside it.

Run: ``python benchmarks/bench_myogen.py [--quick] [--no-install]`` → ``benchmarks/results/myogen.json``.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Benchmark, Row, bench_argparser, setup_logging, time_repeats  # noqa: E402

log = logging.getLogger("bench.myogen")

GRID = (13, 5)
IED_MM = 8.0
PINNED = ("numpy", "scipy", "pandas", "torch")


def try_install_myogen(timeout: float = 600) -> tuple[bool, str]:
    """Install MyoGen with myoflow's core packages pinned. Returns (importable, message)."""
    if importlib.util.find_spec("myogen") is not None:
        return True, f"already installed ({importlib.metadata.version('myogen')})"
    pins = []
    for dist in PINNED:
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(pins) + "\n")
        constraints = fh.name
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "myogen", "-c", constraints]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"pip install myogen timed out after {timeout:.0f} s"
    finally:
        Path(constraints).unlink(missing_ok=True)
    if proc.returncode == 0 and importlib.util.find_spec("myogen") is not None:
        return True, f"installed ({importlib.metadata.version('myogen')})"
    err = proc.stderr or proc.stdout
    needs = sorted(set(re.findall(r"Requires-Python\s*([^;\s]+(?:,[^;\s]+)?)", err)))
    if needs:
        py = ".".join(map(str, sys.version_info[:3]))
        return False, (f"pip install myogen fails: every MyoGen release requires Python {' or '.join(needs)}; "
                       f"this environment runs Python {py}")
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("ERROR")] or err.strip().splitlines()[-1:]
    return False, f"pip install myogen fails: {lines[-1][:300] if lines else 'no output'}"


def conditions(n: int, seed: int = 0) -> np.ndarray:
    """``n`` BioMime condition vectors, Latin hypercube over the declared ranges."""
    from scipy.stats import qmc

    from myoflow.simulate.numerical import MUAP_CONDITION_RANGES, MUAP_CONDITIONS

    lo = np.array([MUAP_CONDITION_RANGES[c][0] for c in MUAP_CONDITIONS])
    hi = np.array([MUAP_CONDITION_RANGES[c][1] for c in MUAP_CONDITIONS])
    u = qmc.LatinHypercube(d=len(lo), seed=np.random.default_rng(seed)).random(n)
    return lo + u * (hi - lo)


def run(quick: bool, results_dir: Path, install: bool = True) -> Path:
    bench = Benchmark("myogen", "Surface MUAPs vs MyoGen", quick=quick, peers=("myogen",), results_dir=results_dir)
    if install:
        ok, msg = try_install_myogen()
    else:
        ok = importlib.util.find_spec("myogen") is not None
        msg = "installed" if ok else "not installed (--no-install)"
    bench.extra["myogen_install"] = msg
    try:
        from myoflow.simulate.numerical import DEFAULT_SETUP, conditions_to_geometry, numerical_muaps
        from myoflow.simulate.volume_conductor import ElectrodeArray, fast_muaps
    except ImportError as exc:
        bench.not_available("surface MUAPs", f"myoflow.simulate core missing ({exc})", reference="MyoGen")
        return bench.write()

    n_fast = 20 if quick else 100
    n_num = 2 if quick else 8
    electrodes = ElectrodeArray.grid(*GRID, IED_MM, radius_mm=DEFAULT_SETUP.radius_mm)
    n_el = electrodes.n_electrodes
    fs = DEFAULT_SETUP.fs
    cond = conditions(n_fast, seed=0)
    geom = conditions_to_geometry(cond)
    fibres_fast = int(np.sum(geom.n_fibres))
    fibres_num = int(np.sum(conditions_to_geometry(cond[:n_num]).n_fibres))
    t_fast = time_repeats(lambda: fast_muaps(geom, DEFAULT_SETUP.tissue, electrodes, fs), repeats=3, warmup=1)
    # one untimed unit first: it builds the numerical model's kernel table for this grid (a one-off cost)
    t_table = time_repeats(lambda: numerical_muaps(cond[:1], electrodes, fs), repeats=1, warmup=0)
    t_num = time_repeats(lambda: numerical_muaps(cond[:n_num], electrodes, fs), repeats=2 if not quick else 1,
                         warmup=0)
    per_fast = n_fast / t_fast.median
    per_num = n_num / t_num.median
    bench.extra["setup"] = {"grid": list(GRID), "ied_mm": IED_MM, "electrodes": n_el, "fs": fs,
                            "fast_units": n_fast, "fast_fibres": fibres_fast, "numerical_units": n_num,
                            "numerical_fibres": fibres_num, "tissue": vars(DEFAULT_SETUP.tissue),
                            "numerical_first_unit_incl_table_s": t_table.median}
    peer_value = None
    peer_status = "ok" if ok else f"not available: {msg}"
    common_note = (f"{n_el} electrodes ({GRID[0]}×{GRID[1]}, {IED_MM:g} mm), fs {fs:g} Hz; conditions by Latin "
                   "hypercube over the BioMime ranges.")
    if ok:
        # MyoGen installs only on Python >= 3.12 (not this environment), so no adapter to its API could be
        # written and tested here; say so instead of guessing its calls.
        peer_status = ("not available: MyoGen imports, but this benchmark has no adapter for its API yet "
                       "(it could not be developed on Python 3.11)")
    for label, n, fibres, t, per in (
        ("fast path (fibre clusters)", n_fast, fibres_fast, t_fast, per_fast),
        ("numerical path (every fibre)", n_num, fibres_num, t_num, per_num),
    ):
        item = f"surface MUAPs, {label}: {n} units, {fibres:,} fibres, {n_el} electrodes"
        bench.add(Row(item=item, myoflow=per, unit="MUAPs/s", reference="MyoGen", reference_value=peer_value,
                      goal="", status="ok",
                      note=(f"{fibres / t.median:,.0f} fibres/s; {t.median:.3f} s for the batch. {common_note} "
                            f"MyoGen: {peer_status.removeprefix('not available: ')}"),
                      details={"timing": t.as_dict(), "fibres": fibres}))
    if not ok:
        bench.note(f"MyoGen could not be compared: {msg}. The myoflow rows give MUAPs/s and fibres/s for a "
                   "stated number of fibres and electrodes, so a MyoGen run on Python ≥ 3.12 can be set beside them.")
    return bench.write()


def main(argv: list[str] | None = None) -> int:
    p = bench_argparser(__doc__.splitlines()[0])
    p.add_argument("--no-install", action="store_true", help="do not try to pip-install MyoGen")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    print(run(args.quick, args.results_dir, install=not args.no_install))
    return 0


if __name__ == "__main__":
    sys.exit(main())
