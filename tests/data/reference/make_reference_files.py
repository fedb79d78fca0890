"""Write the reference fixtures: small files written by independent implementations, and what THEY read back.

myoflow's readers were first tested against files written by the project's own test writers from the documented
layouts, so a shared misreading of a format would pass both sides. Here each file is written by the format's
reference library and read back by the same library; ``tests/io/test_reference_files.py`` reads the file with
myoflow and compares. Nothing here is imported by the tests (they need no reference library).

Where the reference library cannot write a variant (wfdb 4.3 writes WFDB formats 16, 24, 32, 80 only, and no
layout header of a variable-layout record), the bytes or that header are written here and only the READING is
the reference's: the expectation is still what wfdb reads from them, so a misread of the layout by myoflow fails.

Run it from a scratch environment that holds the reference libraries, never the project's::

    python3 -m venv /work/refvenv
    /work/refvenv/bin/pip install numpy wfdb pyedflib mne mne-bids edfio c3d pynwb
    /work/refvenv/bin/python tests/data/reference/make_reference_files.py

Versions used for the committed fixtures (also stored in ``versions.json``): wfdb 4.3.1, pyEDFlib 0.1.42,
mne 1.13.2, mne-bids 0.20.0, edfio 0.4.18 (the EDF writer mne uses for BIDS), c3d 0.6.0 (py-c3d),
pynwb 4.2.0, numpy 2.4.6.

Each fixture ``NAME.<ext>`` has ``NAME.expected.npz`` beside it:

* ``ch0``, ``ch1``, ...: each channel's samples in physical units, as the reference library reads them
  (float64; NaN where the reference reads a missing sample);
* ``meta``: a JSON string with ``fs`` (per channel), ``names``, ``units`` (as the reference library reports
  them), ``step`` (per channel, the quantisation step in those units), ``events`` and anything else checked.

Everything is deterministic (fixed seeds, dates); the files are a few KB each.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent


def signal(n: int, seed: int, amp: float) -> np.ndarray:
    """A smooth EMG-like trace (noise low-passed by a moving average, with a burst), peak about ``amp``."""
    rng = np.random.default_rng(seed)
    x = np.convolve(rng.standard_normal(n + 15), np.ones(16) / 4.0, mode="valid")[:n]
    env = 0.3 + np.exp(-0.5 * ((np.arange(n) - 0.6 * n) / (0.1 * n)) ** 2)
    x = x * env
    return amp * x / np.max(np.abs(x))


def save_expected(stem: str, chans: list[np.ndarray], **meta) -> None:
    """Store ``NAME.expected.npz``: ``ch<i>`` (1-D float64 samples per channel) and ``meta`` (a JSON string)."""
    arrays = {f"ch{i}": np.asarray(c, dtype=np.float64) for i, c in enumerate(chans)}
    np.savez_compressed(OUT / f"{stem}.expected.npz", meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)


# ------------------------------------------------------------------------------------------------ WFDB
def wfdb_fixtures() -> None:
    import wfdb

    d = OUT / "wfdb"
    d.mkdir(exist_ok=True)
    n, fs = 200, 1000
    # bits of each format: the gains put the peak at about 40 % of the range
    bits = {8: 8, 16: 16, 24: 24, 32: 32, 61: 16, 80: 8, 160: 16, 212: 12, 310: 10, 311: 10}
    units = ["mV", "uV", "V"]
    names = ["EMG_TA", "EMG_GL", "FORCE"]
    peaks = [1.5, 800.0, 0.02]  # in mV, uV, V
    for fmt, b in bits.items():
        stem = f"fmt{fmt}"
        p = np.stack([signal(n, fmt * 10 + k, peaks[k]) for k in range(3)], axis=1)
        full = 2 ** (b - 1)
        if fmt == 8:  # first differences: a difference must fit 8 bits, so a coarser gain
            gain = [40.0, 0.08, 3000.0]
        else:
            gain = [0.4 * full / pk for pk in peaks]
        # wfdb stores gains with a limited number of digits: round them so the header is what we think
        gain = [float(f"{g:.6g}") for g in gain]
        base = [int(0.05 * full), -int(0.03 * full), 3] if fmt != 8 else [0, 0, 0]
        kw = dict(fs=fs, units=units, sig_name=names, fmt=[str(fmt)] * 3, adc_gain=gain, baseline=base,
                  comments=["<age>: 54 <sex>: F", "reference fixture"], base_time=dt.time(10, 30, 0),
                  base_date=dt.date(2024, 1, 2))
        if fmt in WFDB_WRITES:
            wfdb.wrsamp(stem, p_signal=p, write_dir=str(d), **kw)
        else:
            # wfdb 4.3 writes only formats 16, 24, 32, 80 (and FLAC): it writes the header (with the initial
            # values and checksums it computes) and the bytes are packed here; wfdb's own reader then says
            # what they hold, so myoflow's unpacking is still checked against an independent decoder.
            dig = np.round(p * np.asarray(gain) + np.asarray(base)).astype(np.int64)
            lo, hi = -(2 ** (b - 1)) + 1, 2 ** (b - 1) - 1
            assert dig.min() >= lo and dig.max() <= hi, (fmt, dig.min(), dig.max())
            kw.pop("comments")
            rec = wfdb.Record(record_name=stem, n_sig=3, sig_len=n, file_name=[f"{stem}.dat"] * 3, d_signal=dig,
                              comments=["<age>: 54 <sex>: F", "reference fixture"], **kw)
            rec.set_defaults()
            rec.init_value = [int(v) for v in dig[0]]
            rec.checksum = [int(v) for v in rec.calc_checksum()]
            rec.wrheader(write_dir=str(d))
            (d / f"{stem}.dat").write_bytes(pack(dig.reshape(-1), fmt))
        _expect_wfdb(d, stem, wfdb)

    # a missing sample (NaN in, the format's invalid code on disk)
    p = np.stack([signal(n, 7, 1.0), signal(n, 8, 500.0)], axis=1)
    p[37, 1] = np.nan
    wfdb.wrsamp("gap16", fs=fs, units=["mV", "uV"], sig_name=["EMG1", "EMG2"], p_signal=p, fmt=["16", "16"],
                adc_gain=[10000.0, 30.0], baseline=[0, 12], write_dir=str(d))
    _expect_wfdb(d, "gap16", wfdb)

    # two samples per frame for every signal (the rate is fs * spf)
    e = [signal(2 * n, 21, 1.0), signal(2 * n, 22, 300.0)]
    wfdb.wrsamp("spf2", fs=500, units=["mV", "uV"], sig_name=["EMG1", "EMG2"], e_p_signal=e,
                samps_per_frame=[2, 2], fmt=["16", "16"], adc_gain=[8000.0, 50.0], baseline=[0, 0],
                write_dir=str(d))
    _expect_wfdb(d, "spf2", wfdb, frames=True)
    # different samples per frame (two rates in one record): myoflow refuses it
    e = [signal(2 * n, 23, 1.0), signal(n, 24, 300.0)]
    wfdb.wrsamp("spf21", fs=500, units=["mV", "uV"], sig_name=["EMG1", "EMG2"], e_p_signal=e,
                samps_per_frame=[2, 1], fmt=["16", "16"], adc_gain=[8000.0, 50.0], baseline=[0, 0],
                write_dir=str(d))

    # FLAC-compressed format 516: not supported by myoflow (refused by name)
    try:
        p = np.stack([signal(n, 31, 1.0)], axis=1)
        wfdb.wrsamp("flac516", fs=fs, units=["mV"], sig_name=["EMG1"], p_signal=p, fmt=["516"],
                    adc_gain=[10000.0], baseline=[0], write_dir=str(d))
    except Exception as exc:  # soundfile missing: no fixture
        print("no FLAC fixture:", exc)

    # an annotation file, with gaps > 1023 samples (SKIP), aux strings, and NUM/SUB/CHN fields
    n2 = 2600
    p = signal(n2, 41, 2.0)[:, None]
    wfdb.wrsamp("annot", fs=fs, units=["mV"], sig_name=["EMG"], p_signal=p, fmt=["16"], adc_gain=[5000.0],
                baseline=[0], write_dir=str(d))
    wfdb.wrann("annot", "atr", sample=np.array([3, 250, 1800, 1801, 2599]),
               symbol=["+", "N", '"', "V", "~"], subtype=np.array([0, 1, 0, 2, 0]), chan=np.array([0, 0, 1, 0, 0]),
               num=np.array([0, 0, 0, 3, 0]), aux_note=["(N", "", "burst onset", "", ""], write_dir=str(d))
    _expect_wfdb(d, "annot", wfdb, annotator="atr")

    # a fixed-layout multi-segment record: two segments joined
    segs = []
    for k, m in enumerate((120, 180)):
        p = np.stack([signal(m, 50 + k, 1.0), signal(m, 60 + k, 400.0)], axis=1)
        segs.append(wfdb.Record(record_name=f"multi_{k}", n_sig=2, fs=fs, sig_len=m, file_name=[f"multi_{k}.dat"] * 2,
                                fmt=["16", "16"], adc_gain=[9000.0, 40.0], baseline=[0, -7], units=["mV", "uV"],
                                sig_name=["EMG1", "EMG2"], p_signal=p))
        segs[-1].set_d_features(do_adc=True)
        segs[-1].set_defaults()
    multi = wfdb.MultiRecord(segments=segs, record_name="multi", n_sig=2, fs=fs, sig_len=300,
                             seg_name=["multi_0", "multi_1"], seg_len=[120, 180], layout="fixed")
    multi.wrsamp(write_dir=str(d))
    _expect_wfdb(d, "multi", wfdb)

    # a variable-layout multi-segment record: a layout header (written by hand: wfdb refuses the '~' file
    # names a layout's signals have), segments that list the signals in another order (the second with a
    # gain of its own), and a null segment '~' of 4 samples between them (a gap wfdb reads as NaN)
    (d / "var_layout.hea").write_text("var_layout 3 1000 0\n~ 0 2000/mV 16 0 0 0 0 TA\n"
                                      "~ 0 2000/mV 16 0 0 0 0 GL\n~ 0 2000/mV 16 0 0 0 0 SOL\n")
    segs = [None] * 2
    for k, (names, m, g) in enumerate(((["TA", "GL", "SOL"], 100, 2000.0), (["SOL", "TA", "GL"], 150, 4000.0))):
        p = np.stack([signal(m, 80 + 10 * k + j, 1.0) for j in range(3)], axis=1)
        segs[k] = wfdb.Record(record_name=f"var_{k}", n_sig=3, fs=fs, sig_len=m, file_name=[f"var_{k}.dat"] * 3,
                              fmt=["16"] * 3, adc_gain=[g] * 3, baseline=[0] * 3, units=["mV"] * 3, sig_name=names,
                              p_signal=p)
        segs[k].set_d_features(do_adc=True)
        segs[k].set_defaults()
        segs[k].wrsamp(write_dir=str(d))
    lay = wfdb.rdheader(str(d / "var_layout"))
    var = wfdb.MultiRecord(segments=[lay, segs[0], None, segs[1]], record_name="var", n_sig=3, fs=fs,
                           sig_len=254, seg_name=["var_layout", "var_0", "~", "var_1"], seg_len=[0, 100, 4, 150],
                           layout="variable", sig_name=["TA", "GL", "SOL"])
    var.wrheader(write_dir=str(d))
    _expect_wfdb(d, "var", wfdb)


#: The formats wfdb 4.3's writer supports (FLAC 508/516/524 aside).
WFDB_WRITES = {16, 24, 32, 80}


def pack(d: np.ndarray, fmt: int) -> bytes:
    """An interleaved digital stream in a format wfdb cannot write (signal(5)); wfdb reads it back."""
    if fmt == 8:  # first differences from the header's initial value (the first difference is 0)
        return np.diff(d.reshape(-1, 3), axis=0, prepend=d.reshape(-1, 3)[:1]).reshape(-1).astype(np.int8).tobytes()
    if fmt == 61:
        return d.astype(">i2").tobytes()
    if fmt == 160:
        return (d + 32768).astype("<u2").tobytes()
    if fmt == 212:  # pairs: low 8 bits of each, then one byte with the high nibbles (second's on top)
        u = np.concatenate([d, np.zeros(len(d) % 2, np.int64)]) & 0xFFF
        a, b = u[0::2], u[1::2]
        return np.stack([a & 0xFF, (a >> 8) | ((b >> 8) << 4), b & 0xFF], axis=1).astype(np.uint8).tobytes()
    u = np.concatenate([d, np.zeros(-len(d) % 3, np.int64)]) & 0x3FF
    if fmt == 311:  # three 10-bit samples in a little-endian 32-bit word
        return (u[0::3] | (u[1::3] << 10) | (u[2::3] << 20)).astype("<u4").tobytes()
    if fmt == 310:  # two 16-bit words: bits 1-10 hold the first two, bits 11-15 the third's low/high 5 bits
        w0 = (u[0::3] << 1) | ((u[2::3] & 0x1F) << 11)
        w1 = (u[1::3] << 1) | ((u[2::3] >> 5) << 11)
        return np.stack([w0, w1], axis=1).astype("<u2").tobytes()
    raise ValueError(fmt)


def _expect_wfdb(d: Path, stem: str, wfdb, frames: bool = False, annotator: str | None = None) -> None:
    rec = wfdb.rdrecord(str(d / stem), smooth_frames=not frames)
    if frames:
        chans = list(rec.e_p_signal)
        fs = [float(rec.fs) * s for s in rec.samps_per_frame]
    else:
        sig = rec.p_signal
        chans = [sig[:, i] for i in range(sig.shape[1])]
        fs = [float(rec.fs)] * len(chans)
    head = wfdb.rdheader(str(d / stem))
    if isinstance(head, wfdb.MultiRecord):  # the coarsest step of the signal in any of its segments
        segs = [wfdb.rdheader(str(d / n)) for n, m in zip(head.seg_name, head.seg_len) if n != "~" and m > 0]
        gains = [min(s.adc_gain[s.sig_name.index(nm)] for s in segs if nm in s.sig_name) for nm in rec.sig_name]
    else:
        gains = rec.adc_gain
    meta = dict(fs=fs, names=list(rec.sig_name), units=list(rec.units), step=[1.0 / g for g in gains],
                comments=list(rec.comments or []))
    if getattr(rec, "base_time", None) is not None:
        meta["base_time"] = rec.base_time.isoformat()
    if annotator:
        ann = wfdb.rdann(str(d / stem), annotator)
        meta["events"] = dict(sample=[int(s) for s in ann.sample], symbol=list(ann.symbol),
                              aux=[a for a in ann.aux_note])
    save_expected(f"wfdb/{stem}", chans, **meta)


# ------------------------------------------------------------------------------------------ EDF / BDF
def edf_fixtures() -> None:
    import pyedflib

    d = OUT / "edf"
    d.mkdir(exist_ok=True)
    start = dt.datetime(2024, 1, 2, 10, 30, 0)

    def write(path: Path, ftype: int, chans: list[dict], data: list[np.ndarray], record: float,
              annotations=()) -> None:
        w = pyedflib.EdfWriter(str(path), len(chans), file_type=ftype)
        try:
            w.setStartdatetime(start)
            w.setPatientCode("P007")
            w.setDatarecordDuration(record)
            # EDFlib keeps one annotation per data record and annotation signal, silently dropping the rest
            if annotations:
                n_records = int(len(data[0]) / chans[0]["sample_frequency"] / record)
                w.set_number_of_annotation_signals(-(-len(annotations) // n_records))
            for i, c in enumerate(chans):
                w.setSignalHeader(i, c)
            for onset, duration, text in annotations:
                w.writeAnnotation(onset, duration, text)
            w.writeSamples(data)
        finally:
            w.close()

    def header(label, dim, pmin, pmax, dmin, dmax, fs):
        return dict(label=label, dimension=dim, sample_frequency=fs, physical_min=pmin, physical_max=pmax,
                    digital_min=dmin, digital_max=dmax, transducer="AgAgCl", prefilter="HP:10Hz")

    # EDF+: per-channel physical and digital ranges (asymmetric), uV/mV/V, 0.5 s records, annotations
    fs, n = 500, 750
    chans = [header("EMG VL", "uV", -3000.0, 5000.0, -32768, 32767, fs),
             header("EMG BF", "mV", -2.5, 2.5, -2048, 2047, fs),
             header("FORCE", "V", -1.0, 9.0, 0, 30000, fs)]
    data = [signal(n, 1, 2500.0), signal(n, 2, 2.0), 4.0 + signal(n, 3, 3.0)]
    ann = [(0.25, 0.5, "rest"), (0.8, -1, "burst onset"), (1.2345, 0.1, "stim"), (1.4, -1, "Müdigkeit µV")]
    write(d / "edfplus.edf", pyedflib.FILETYPE_EDFPLUS, chans, data, 0.5, ann)
    _expect_edf(d / "edfplus.edf", pyedflib)

    # plain EDF (no annotations channel), a 0.2 s record
    chans = [header("EMG1", "uV", -1000.0, 1000.0, -32768, 32767, 500),
             header("EMG2", "uV", -800.0, 1200.0, -30000, 30000, 500)]
    write(d / "plain.edf", pyedflib.FILETYPE_EDF, chans, [signal(1000, 4, 900.0), signal(1000, 5, 700.0)], 0.2)
    _expect_edf(d / "plain.edf", pyedflib)

    # BDF+: 24-bit, uV, one annotation
    fs, n = 512, 1024
    chans = [header("EMG1", "uV", -262144.0, 262143.0, -8388608, 8388607, fs),
             header("EMG2", "uV", -100000.0, 200000.0, -8000000, 8000000, fs)]
    write(d / "bdfplus.bdf", pyedflib.FILETYPE_BDFPLUS, chans, [signal(n, 6, 5000.0), signal(n, 7, 3000.0)], 1.0,
          [(0.5, -1, "onset")])
    _expect_edf(d / "bdfplus.bdf", pyedflib)

    # EDF+ with a channel at another rate (an accelerometer at 100 Hz beside EMG at 1000 Hz)
    chans = [header("EMG1", "uV", -2000.0, 2000.0, -32768, 32767, 1000),
             header("ACC", "g", -4.0, 4.0, -32768, 32767, 100)]
    write(d / "tworates.edf", pyedflib.FILETYPE_EDFPLUS, chans, [signal(2000, 8, 1500.0), signal(200, 9, 2.0)],
          1.0, [(1.0, -1, "go")])
    _expect_edf(d / "tworates.edf", pyedflib)

    # a BioSemi-style BDF: 'Status' (dimension 'Boolean', digital = physical) holds trigger codes in its low 16
    # bits and device status bits above them (bit 20, CMS in range, always set); MNE says where the codes start
    fs, n = 256, 512
    status = np.full(n, float(1 << 20))
    for on, off, code in ((50, 70, 3), (150, 153, 255), (153, 170, 7), (350, 380, 3)):
        status[on:off] += code
    chans = [header("EXG1", "uV", -262144.0, 262143.0, -8388608, 8388607, fs),
             header("Status", "Boolean", -8388608.0, 8388607.0, -8388608, 8388607, fs)]
    write(d / "status.bdf", pyedflib.FILETYPE_BDF, chans, [signal(n, 11, 2000.0), status], 1.0)
    _expect_edf(d / "status.bdf", pyedflib)
    import mne

    raw = mne.io.read_raw_bdf(d / "status.bdf", verbose="error")
    ev = mne.find_events(raw, stim_channel="Status", mask=0xFFFF, mask_type="and", initial_event=True,
                         consecutive=True, verbose="error")
    z = dict(np.load(d / "status.expected.npz"))
    meta = json.loads(str(z.pop("meta")))
    meta["triggers"] = dict(sample=[int(v) for v in ev[:, 0]], code=[int(v) for v in ev[:, 2]])
    save_expected("edf/status", [z["ch0"], z["ch1"]], **meta)


def _expect_edf(path: Path, pyedflib) -> None:
    r = pyedflib.EdfReader(str(path))
    try:
        k = r.signals_in_file
        chans = [r.readSignal(i) for i in range(k)]
        step = [(r.getPhysicalMaximum(i) - r.getPhysicalMinimum(i)) / (r.getDigitalMaximum(i) - r.getDigitalMinimum(i))
                for i in range(k)]
        onsets, durations, texts = r.readAnnotations()
        meta = dict(fs=[float(r.getSampleFrequency(i)) for i in range(k)],
                    names=[r.getLabel(i) for i in range(k)], units=[r.getPhysicalDimension(i) for i in range(k)],
                    step=step, patient_code=r.getPatientCode(),
                    events=dict(onset=[float(o) for o in onsets],
                                duration=[None if dd < 0 else float(dd) for dd in durations],
                                text=[str(t) for t in texts]))
    finally:
        r.close()
    save_expected(f"edf/{path.stem}", chans, **meta)


# ------------------------------------------------------------------------------------------------ BIDS
def bids_fixtures() -> None:
    """Two subjects: an EDF with a channel marked bad, a BDF; sex, birthday, height, weight in participants."""
    import mne
    import mne_bids
    import pyedflib

    root = OUT / "bids"
    if root.exists():
        shutil.rmtree(root)
    for old in OUT.glob("bids*.expected.npz"):
        old.unlink()
    fs, n = 1000.0, 800
    names = ["EMG_TA", "EMG_GL", "EMG_SOL"]
    people = {"01": dict(fmt="EDF", bads=["EMG_SOL"], info=dict(sex=2, birthday=dt.date(1961, 5, 1), height=1.64,
                                                                   weight=58.0)),
              "02": dict(fmt="BDF", bads=[], info=dict(sex=1, birthday=dt.date(1955, 11, 20), height=1.80,
                                                       weight=81.5))}
    for k, (sub, how) in enumerate(people.items()):
        data = np.stack([signal(n, 70 + 10 * k + j, 400e-6) for j in range(3)])  # volts, as MNE holds EMG
        info = mne.create_info(names, fs, ch_types="emg")
        info["line_freq"] = 50.0
        raw = mne.io.RawArray(data, info, verbose="error")
        raw.set_meas_date(dt.datetime(2024, 1, 2, 10, 30, tzinfo=dt.timezone.utc))
        raw.info["bads"] = list(how["bads"])
        with raw.info._unlock():
            raw.info["subject_info"] = dict(his_id=f"sub-{sub}", **how["info"])
        raw.set_annotations(mne.Annotations(onset=[0.5, 0.75], duration=[0.25, 0.0], description=["burst", "stim"]))
        bp = mne_bids.BIDSPath(subject=sub, session="a", task="walk", run=1, datatype="emg", root=root)
        mne_bids.write_raw_bids(raw, bp, format=how["fmt"], allow_preload=True, overwrite=True, verbose="error",
                                emg_placement="Measured")
        back = mne_bids.read_raw_bids(bp, verbose="error")
        good = [c for c in back.ch_names if c not in back.info["bads"]]
        x = back.get_data(picks=good)
        # each channel's quantisation step as the data file's header gives it (read with pyedflib, not MNE)
        r = pyedflib.EdfReader(str(bp.fpath))
        try:
            scale = {"uV": 1e-6, "mV": 1e-3, "V": 1.0}
            labels = [r.getLabel(i) for i in range(r.signals_in_file)]
            step = [scale[r.getPhysicalDimension(i)] * (r.getPhysicalMaximum(i) - r.getPhysicalMinimum(i))
                    / (r.getDigitalMaximum(i) - r.getDigitalMinimum(i)) for i in map(labels.index, good)]
        finally:
            r.close()
        meta = dict(fs=[float(back.info["sfreq"])] * len(good), names=good, units=["V"] * len(good),
                    bads=list(back.info["bads"]), types=back.get_channel_types(picks=good),
                    events=dict(onset=[float(a["onset"]) for a in back.annotations],
                                duration=[float(a["duration"]) for a in back.annotations],
                                text=[str(a["description"]) for a in back.annotations]),
                    step=step, data_file=str(bp.fpath.relative_to(root)))
        save_expected(f"bids_sub-{sub}", [x[i] for i in range(x.shape[0])], **meta)
    # participants as mne-bids wrote them (its read-back is the table itself)
    tab = (root / "participants.tsv").read_text().splitlines()
    rows = [dict(zip(tab[0].split("\t"), ln.split("\t"))) for ln in tab[1:]]
    (OUT / "bids_participants.expected.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")


# ------------------------------------------------------------------------------------------------- C3D
def c3d_fixtures() -> None:
    """Analog channels written by py-c3d (EmbodiedCognition's ``c3d``, independent of ezc3d, which myoflow uses).

    py-c3d stores ``value / (SCALE * GEN_SCALE) + OFFSET`` and reads back ``(stored - OFFSET) * SCALE *
    GEN_SCALE``, the C3D manual's rule. ``offsets.c3d`` holds positive offsets; ``negoffset.c3d`` a negative one.
    """
    import c3d

    d = OUT / "c3d"
    d.mkdir(exist_ok=True)
    n_frames, per_frame = 40, 10
    names, units = ["EMG_TA", "EMG_GL", "FORCE"], ["mV", "uV", "N"]
    x = np.stack([signal(n_frames * per_frame, 90 + k, pk) for k, pk in enumerate((1.5, 800.0, 40.0))])
    for stem, offsets in (("offsets", [10, 3, 0]), ("negoffset", [10, -3, 0])):
        w = c3d.Writer(point_rate=100.0, analog_rate=100.0 * per_frame, point_scale=-1.0, gen_scale=0.5)
        w.add_frames([(np.zeros((1, 5), np.float32), x[:, f * per_frame:(f + 1) * per_frame].astype(np.float32))
                      for f in range(n_frames)])
        w.set_point_labels(["M1"])
        w.set_analog_labels(names)
        w.set_analog_scales([0.002, 0.5, 1.0])
        w.set_analog_offsets(offsets)
        w.analog_group.add_str("UNITS", "analog units", "".join(u.ljust(4) for u in units), 4, len(units))
        with open(d / f"{stem}.c3d", "wb") as fh:
            w.write(fh)
        with open(d / f"{stem}.c3d", "rb") as fh:
            r = c3d.Reader(fh)
            back = np.concatenate([a for _, _, a in r.read_frames()], axis=1)
            meta = dict(fs=[float(r.analog_rate)] * len(names), names=[s.strip() for s in r.analog_labels],
                        units=[s.strip() for s in r.get("ANALOG:UNITS").string_array],
                        offsets=[int(v) for v in r.get("ANALOG:OFFSET").int16_array],
                        # float32 samples: the step is float32's spacing at the peak, in the channel's unit
                        step=[float(np.spacing(np.float32(np.max(np.abs(b))))) for b in back])
        save_expected(f"c3d/{stem}", list(back), **meta)


# ------------------------------------------------------------------------------------------------- NWB
def nwb_fixtures() -> None:
    """An ElectricalSeries as a lab's own pynwb script writes it: int16 counts with ``conversion``,
    ``offset`` and ``channel_conversion``, electrodes named by their ``location``, a non-zero start time."""
    import random
    import uuid

    import hdmf.container
    import pynwb
    from pynwb.ecephys import ElectricalSeries

    # every NWB container gets a random uuid4 object id: draw them from a seeded generator (same bytes each run)
    ids = random.Random(0)
    hdmf.container.uuid4 = lambda: uuid.UUID(int=ids.getrandbits(128), version=4)
    d = OUT / "nwb"
    d.mkdir(exist_ok=True)
    when = dt.datetime(2024, 1, 2, 10, 30, tzinfo=dt.timezone.utc)
    nwb = pynwb.NWBFile(session_description="reference fixture", identifier="myoflow-reference-1",
                        session_start_time=when, file_create_date=[when],
                        subject=pynwb.file.Subject(subject_id="S07"))
    grp = nwb.create_electrode_group("bipolar", description="bipolar sEMG", location="leg",
                                     device=nwb.create_device("amplifier"))
    for loc in ("TA", "GL", "SOL"):
        nwb.add_electrode(location=loc, group=grp)
    counts = np.stack([np.round(signal(200, 100 + k, 12000.0)) for k in range(3)], axis=1).astype(np.int16)
    es = ElectricalSeries(name="EMG", data=counts, electrodes=nwb.create_electrode_table_region([0, 1, 2], "all"),
                          rate=2000.0, starting_time=0.25, conversion=0.5e-6, offset=1e-5,
                          channel_conversion=[1.0, 2.0, 0.5])
    nwb.add_acquisition(es)
    with pynwb.NWBHDF5IO(str(d / "electrical.nwb"), "w") as io:
        io.write(nwb, cache_spec=False)
    with pynwb.NWBHDF5IO(str(d / "electrical.nwb"), "r") as io:
        back = io.read()
        ts = back.acquisition["EMG"]
        x = ts.get_data_in_units()  # data * channel_conversion * conversion + offset, in volts
        meta = dict(fs=[float(ts.rate)] * 3, names=list(ts.electrodes.table["location"][:]), units=["V"] * 3,
                    step=[float(ts.conversion * c) for c in ts.channel_conversion[:]],
                    t0=float(ts.starting_time), subject=back.subject.subject_id)
    save_expected("nwb/electrical", [x[:, k] for k in range(3)], **meta)


def main() -> None:
    import importlib.metadata as md

    wfdb_fixtures()
    edf_fixtures()
    bids_fixtures()
    c3d_fixtures()
    nwb_fixtures()
    versions = {p: md.version(p) for p in ("wfdb", "pyEDFlib", "mne", "mne-bids", "edfio", "c3d", "pynwb", "numpy")}
    (OUT / "versions.json").write_text(json.dumps(versions, indent=1, sort_keys=True) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1024:.0f} KB); versions {versions}")


if __name__ == "__main__":
    main()
