"""MyoGen side of ``bench_myogen.py``; runs inside the separate Python ≥ 3.12 venv that holds MyoGen.

Not part of myoflow (it imports only NumPy, quantities, neo and MyoGen). Usage::

    <venv>/bin/python benchmarks/_myogen_worker.py SPEC.json OUT_DIR

``SPEC.json`` (written by ``bench_myogen.py``) gives the muscle, the electrode grid, the
sampling rate, the tissue and an optional ``spikes_npz`` with the discharge times to
turn into interference EMG. The worker

1. builds a MyoGen ``Muscle`` (fibre placement and motor-unit territories),
2. exports each unit's fibre count, territory centre and radius (so that myoflow can
   compute the same units),
3. computes the surface MUAPs of every unit on the grid (``SurfaceEMG.simulate_muaps``,
   one process, the package's default resolution), timed,
4. if spikes are given, synthesises the interference EMG (``simulate_surface_emg``), timed,

and writes ``OUT_DIR/myogen_result.json`` (timings, CPU times, peak RSS, geometry) and
``OUT_DIR/myogen_arrays.npz`` (MUAPs and EMG, volts), each atomically (temp file + rename).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _peak_rss_mb() -> float:
    """VmHWM of this process, MB (getrusage's ru_maxrss would carry the parent's peak over fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: _myogen_worker.py SPEC.json OUT_DIR", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    out_dir = Path(argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, dict[str, float]] = {}

    def timed(name, fn):
        w0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        timings[name] = {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}
        return value

    import numpy as np

    t_import = time.perf_counter()
    import quantities as pq
    from myogen import set_random_seed, simulator
    from myogen.utils.neo import signal_to_grid

    import_s = time.perf_counter() - t_import
    set_random_seed(int(spec["seed"]))
    m = spec["muscle"]
    t = spec["tissue"]
    rt, _ = simulator.RecruitmentThresholds(N=int(m["n_units"]), recruitment_range__ratio=float(m["rr"]),
                                            mode="fuglevand")

    def build_muscle():
        return simulator.Muscle(
            recruitment_thresholds=rt,
            radius__mm=float(m["radius_mm"]) * pq.mm,
            fiber_density__fibers_per_mm2=float(m["fibre_density_per_mm2"]) * pq.mm ** -2,
            max_innervation_area_to_total_muscle_area__ratio=float(m["max_territory_ratio"]),
            mean_conduction_velocity__m_per_s=float(m["cv_m_s"]) * pq.m / pq.s,
            mean_fiber_length__mm=float(m["fibre_length_mm"]) * pq.mm,
            var_fiber_length__mm=float(m["fibre_length_var_mm"]) * pq.mm,
            radius_bone__mm=float(m["bone_radius_mm"]) * pq.mm,
            fat_thickness__mm=float(t["fat_mm"]) * pq.mm,
            skin_thickness__mm=float(t["skin_mm"]) * pq.mm,
            muscle_conductivity_radial__S_per_m=float(t["sigma_muscle_radial"]) * pq.S / pq.m,
            muscle_conductivity_longitudinal__S_per_m=float(t["sigma_muscle_along"]) * pq.S / pq.m,
            fat_conductivity__S_per_m=float(t["sigma_fat"]) * pq.S / pq.m,
            skin_conductivity__S_per_m=float(t["sigma_skin"]) * pq.S / pq.m,
            autorun=True,
        )

    muscle = timed("muscle", build_muscle)
    counts = np.asarray(muscle.resulting_number_of_innervated_fibers, dtype=int)
    centres, radii = [], []
    for u in range(counts.size):
        pos = np.asarray(getattr(muscle.resulting_fiber_assignment(u), "magnitude",
                                 muscle.resulting_fiber_assignment(u)), dtype=float).reshape(-1, 2)
        if pos.shape[0] == 0:
            centres.append([float("nan"), float("nan")])
            radii.append(0.0)
            continue
        c = pos.mean(axis=0)
        centres.append(c.tolist())
        # radius of the uniform disc with the same second moment as the unit's fibres
        radii.append(float(np.sqrt(2.0 * np.mean(np.sum((pos - c) ** 2, axis=1)))))

    g = spec["grid"]
    r_total = float(m["radius_mm"]) + float(t["fat_mm"]) + float(t["skin_mm"])
    array = simulator.SurfaceElectrodeArray(
        num_rows=int(g["rows"]), num_cols=int(g["cols"]), inter_electrode_distance__mm=float(g["ied_mm"]) * pq.mm,
        electrode_radius__mm=float(g["radius_mm"]) * pq.mm, differentiation_mode="monopolar",
        bending_radius__mm=r_total * pq.mm)
    units = [u for u in range(counts.size) if counts[u] > 0]
    semg = simulator.SurfaceEMG(muscle_model=muscle, electrode_arrays=[array],
                                sampling_frequency__Hz=float(spec["fs"]) * pq.Hz, MUs_to_simulate=units)
    # MyoGen's optimised CPU route (one ordered worker, conductor preparations shared across units)
    policy = simulator.ExecutionPolicy(max_workers=1)
    block = timed("muaps", lambda: semg.simulate_muaps(n_jobs=1, verbose=False, execution=policy))
    segs = block.groups[0].segments
    muap_fs = float(segs[0].analogsignals[0].sampling_rate.rescale(pq.Hz).magnitude)
    # (units, rows, cols, times), mV -> V
    muaps = np.stack([np.transpose(signal_to_grid(segs[u].analogsignals[0]), (1, 2, 0)) for u in units]) * 1e-3
    arrays = {"muaps": muaps.astype(np.float64), "units": np.asarray(units)}
    rss_after_muaps = _peak_rss_mb()

    emg_fs = None
    if spec.get("spikes_npz"):
        from neo import Block, Segment, SpikeTrain

        z = np.load(spec["spikes_npz"], allow_pickle=False)
        fs_sp = float(z["fs"])
        duration = float(z["duration_s"])
        lengths = z["lengths"]
        flat = z["times_s"]
        starts = np.concatenate([[0], np.cumsum(lengths)])

        def synthesise():
            seg = Segment(name="Motor Neurons")
            for u in range(counts.size):
                # spikes are given for every unit of the pool; units without fibres have no MUAP anyway
                times = flat[starts[u]:starts[u + 1]] if u < lengths.size else np.array([])
                seg.spiketrains.append(SpikeTrain(times * pq.s, t_stop=duration * pq.s,
                                                  sampling_rate=fs_sp * pq.Hz, sampling_period=(1.0 / fs_sp) * pq.s,
                                                  name=f"MN_{u}"))
            spk = Block(name="spikes")
            spk.segments.append(seg)
            out = semg.simulate_surface_emg(spike_train__Block=spk, verbose=False)
            return out.groups[0].segments[0].analogsignals[0]

        sig = timed("emg", synthesise)
        emg = np.asarray(signal_to_grid(sig), dtype=np.float64)  # (times, rows, cols), mV
        emg_fs = float(sig.sampling_rate.rescale(pq.Hz).magnitude)
        arrays["emg"] = (emg.reshape(emg.shape[0], -1).T * 1e-3).astype(np.float32)  # (channels, times), V

    import importlib.metadata as md

    result = {
        "myogen": md.version("myogen"), "neuron": md.version("neuron"), "numpy": md.version("numpy"),
        "python": ".".join(map(str, sys.version_info[:3])),
        "import_s": import_s, "timings": timings, "n_fibres": counts.tolist(), "units": units,
        "centres_mm": centres, "territory_radius_mm": radii, "muap_fs": muap_fs, "emg_fs": emg_fs,
        "muap_samples": int(muaps.shape[-1]), "radius_total_mm": r_total,
        "peak_rss_mb": _peak_rss_mb(), "peak_rss_after_muaps_mb": rss_after_muaps,
        "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    }
    _atomic_write(out_dir / "myogen_arrays.npz", lambda p: np.savez(open(p, "wb"), **arrays))
    _atomic_write(out_dir / "myogen_result.json", lambda p: p.write_text(json.dumps(result, indent=1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
