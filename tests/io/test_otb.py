"""OT Bioelettronica .otb+ reader: archives built here in the documented layout (tar of NAME.sig + NAME.xml)."""
from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from myoflow.containers import Recording, Trial
from myoflow.errors import DataError
from myoflow.io import load_dataset, read
from myoflow.io.datasets.openhdemg import otb_grid_layout

from ..test_user_data import run_cli

FS = 2048.0
LSB = 5.0 / 2 ** 16  # Quattrocento: 5 V ADC range, 16 bits




def adapter_xml(ad_id, start, gain, channels, description="", extra=""):
    """channels: (index, ID, description, muscle) tuples."""
    chans = "".join(f'<Channel Index="{i}" ID="{cid}" Description="{d}" Muscle="{m}" Prefix="MULTIPLE IN 1" />'
                    for i, cid, d, m in channels)
    return (f'<Adapter ID="{ad_id}" Gain="{gain}" ChannelStartIndex="{start}" Description="{description}" '
            f'HighPassFilter="10" LowPassFilter="500" {extra}>{chans}</Adapter>')


def device_xml(adapters, total, fs=FS, bits=16, name="QUATTROCENTO", drop=()):
    attrs = {"Name": name, "SampleFrequency": f"{fs:g}", "ad_bits": str(bits), "DeviceTotalChannels": str(total)}
    text = " ".join(f'{k}="{v}"' for k, v in attrs.items() if k not in drop)
    return f'<?xml version="1.0" encoding="utf-8"?><Device {text}><Channels>{"".join(adapters)}</Channels></Device>'


def grid64(start=0, muscle="Vastus Lateralis"):
    return adapter_xml("AD1x64", start, 150, [(i, "GR08MM1305", "Electrode grid 13x5 8 mm", muscle)
                                              for i in range(64)], "Adapter 64 ch")


def grid16(start=64, muscle="Tibialis Anterior", order=None):
    order = range(16) if order is None else order
    return adapter_xml("AD1x16", start, 150, [(i, "GR10MM0404", "Electrode grid 4x4 10 mm", muscle) for i in order])


def aux(start=80):
    return adapter_xml("Direct connection", start, 0.5, [(0, "AUX Force", "Load cell", "")])


def write_otb(path, codes, xml, *, name="rec", extra=(), sig_bytes=None, xml_name=None):
    """A .otb+ archive: ``codes`` (n_samples, n_total) int16 written frame by frame."""
    members = [(f"{name}.sig", sig_bytes if sig_bytes is not None else np.asarray(codes, "<i2").tobytes())]
    if xml is not None:
        members.append((xml_name or f"{name}.xml", xml.encode()))
    members.append(("patient.xml", b"<patient><sex>F</sex></patient>"))
    members += list(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for n, data in members:
            info = tarfile.TarInfo(n)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def codes_for(n, total, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.integers(-32768, 32768, size=(n, total)).astype(np.int16)
    c[0, :] = -32768  # the extremes are the likeliest to be read with the wrong sign or byte order
    c[1, :] = 32767
    return c


# ------------------------------------------------------------------ values, units, names, positions
def test_quattrocento_two_grids_and_a_force_channel(tmp_path):
    total = 88  # frame columns 81..87 described by no adapter: skipped
    c = codes_for(500, total)
    f = write_otb(tmp_path / "a.otb+", c, device_xml([grid64(), grid16(), aux()], total),
                  extra=[("rec.sip", b"\x00" * 16), ("rec.pro", b"<x/>")])
    t = read(f)
    assert isinstance(t, Trial) and sorted(t.streams) == ["aux", "emg1", "emg2"]
    g1, g2, force = t["emg1"], t["emg2"], t["aux"]
    assert g1.fs == FS and g1.ch_names == tuple(f"ch{i:02d}" for i in range(1, 65)) and set(g1.units) == {"V"}
    np.testing.assert_allclose(g1.data, c[:, :64].T * LSB / 150, rtol=1e-6)
    np.testing.assert_allclose(g1.layout, otb_grid_layout("GR08MM1305", 64)[0])
    assert g1.grid_shape is None and g1.meta["electrode"]["ied_mm"] == 8.0
    assert g1.meta["muscle"] == "Vastus Lateralis" and g1.meta["adapter"] == "AD1x64" and g1.meta["gain"] == 150
    assert g1.meta["filters_hz"] == {"HighPassFilter": "10", "LowPassFilter": "500"}
    np.testing.assert_allclose(g2.data, c[:, 64:80].T * LSB / 150, rtol=1e-6)
    assert g2.grid_shape == (4, 4) and g2.meta["electrode"]["assumed"] is True
    np.testing.assert_allclose(g2.layout[5], (10.0, 10.0))  # ch06: row 1, column 1 of a 10 mm grid
    assert g2.meta["muscle"] == "Tibialis Anterior"
    assert force.ch_names == ("AUX Force",) and force.units == ("V",)
    np.testing.assert_allclose(force.data[0], c[:, 80] * LSB / 0.5, rtol=1e-6)
    assert g1.meta["unread_members"] == ["patient.xml", "rec.pro", "rec.sip"]


def test_channels_ordered_by_their_index_not_the_xml_order(tmp_path):
    total = 16
    c = codes_for(100, total, seed=1)
    order = [3, 0, 15, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    rec = read(write_otb(tmp_path / "o.otb+", c, device_xml([grid16(start=0, order=order)], total)))
    assert isinstance(rec, Recording) and rec.ch_names[:3] == ("ch01", "ch02", "ch03")
    np.testing.assert_allclose(rec.data, c.T * LSB / 150, rtol=1e-6)


def test_one_grid_is_a_recording_named_emg_and_streams_hint_selects(tmp_path):
    total = 65
    c = codes_for(50, total, seed=2)
    f = write_otb(tmp_path / "b.otb+", c, device_xml([grid64(), aux(64)], total))
    t = read(f)
    assert sorted(t.streams) == ["aux", "emg"]
    rec = read(f, streams="emg")
    assert isinstance(rec, Recording) and rec.data.shape == (64, 50)
    with pytest.raises(DataError, match=r"no stream\(s\) \['emg3'\]"):
        read(f, streams=["emg3"])


def test_24_bit_samples_and_power_supply_hint(tmp_path):
    total = 16
    rng = np.random.default_rng(4)
    v = rng.integers(-(1 << 23), 1 << 23, size=(40, total))
    v[0, 0], v[1, 0] = -(1 << 23), (1 << 23) - 1
    u = (v % (1 << 24)).astype(np.uint32)
    raw = np.stack([u & 255, (u >> 8) & 255, (u >> 16) & 255], axis=-1).astype(np.uint8).tobytes()
    xml = device_xml([grid16(start=0)], total, bits=24, name="SESSANTAQUATTRO")
    f = write_otb(tmp_path / "c.otb+", None, xml, sig_bytes=raw)
    with pytest.raises(DataError, match="power_supply"):
        read(f)
    rec = read(f, power_supply=4.8)
    np.testing.assert_allclose(rec.data, v.T * 4.8 / 2 ** 24 / 150, rtol=1e-6)


# ------------------------------------------------------------------ bad input: one line, file and member named
def _bad(tmp_path, case):
    total = 16
    c = codes_for(20, total)
    good = device_xml([grid16(start=0)], total)
    f = tmp_path / "bad.otb+"
    if case == "dotdot":
        write_otb(f, c, good, extra=[("../escaped.txt", b"x")])
    elif case == "absolute":
        write_otb(f, c, good, extra=[("/tmp/abs.txt", b"x")])
    elif case == "truncated_sig":
        write_otb(f, c, good, sig_bytes=c.tobytes()[:-3])
    elif case == "missing_xml":
        write_otb(f, c, None)
    elif case == "xml_without_rate":
        write_otb(f, c, device_xml([grid16(start=0)], total, drop=("SampleFrequency",)))
    elif case == "channel_count_mismatch":
        write_otb(f, c, device_xml([grid16(start=0)], 12), sig_bytes=c[:, :12].tobytes())
    elif case == "corrupt_xml":
        write_otb(f, c, good[:-20])
    elif case == "not_tar":
        f.write_bytes(b"OTB" + bytes(2000))
    elif case == "no_sig":
        with tarfile.open(f, "w") as tar:
            info = tarfile.TarInfo("rec.xml")
            info.size = len(good)
            tar.addfile(info, io.BytesIO(good.encode()))
    elif case == "twice_described":
        write_otb(f, c, device_xml([grid16(start=0), aux(start=3)], total))
    elif case == "bits":
        write_otb(f, c, device_xml([grid16(start=0)], total, bits=12))
    elif case == "entities":
        write_otb(f, c, '<!DOCTYPE d [<!ENTITY a "aaaa">]>' + good.split("?>", 1)[1])
    return f


BAD = {
    "dotdot": "'../escaped.txt' has an unsafe path",
    "absolute": "'/tmp/abs.txt' has an unsafe path",
    "truncated_sig": "member 'rec.sig': 637 bytes is not a whole number of frames",
    "missing_xml": "member 'rec.xml' (the device description of 'rec.sig') is missing",
    "xml_without_rate": "member 'rec.xml': <Device> has no SampleFrequency attribute",
    "channel_count_mismatch": "beyond DeviceTotalChannels=12 (channel count mismatch)",
    "corrupt_xml": "member 'rec.xml': not valid XML",
    "not_tar": "cannot open it as a tar archive",
    "no_sig": "no .sig member",
    "twice_described": "frame column 3 described twice",
    "bits": "ad_bits=12",
    "entities": "XML declares entities",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_naming_file_and_member(tmp_path, capsys, case):
    f = _bad(tmp_path, case)
    _, err = run_cli(["inspect", f], capsys, code=2)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(f) in lines[0] and BAD[case] in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path.parent / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()


def test_otb4_is_refused_with_what_to_do(tmp_path, capsys):
    f = tmp_path / "x.otb4"
    f.write_bytes(b"\x00" * 1024)
    _, err = run_cli(["inspect", f], capsys, code=2)
    assert str(f) in err and "export the recording to .mat" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ the stack: inspect, convert, run
def test_inspect_an_otb_file(tmp_path, capsys):
    total = 81
    f = write_otb(tmp_path / "S01_VL.otb+", codes_for(4096, total), device_xml([grid64(), grid16(), aux()], total))
    out, _ = run_cli(["inspect", f], capsys)
    assert "emg1" in out and "2048" in out and "AUX Force" in out


def test_simulated_grids_as_otb_to_a_muscle_id_run(tmp_path, capsys):
    from myoflow.simulate.protocols.grid import simulate_grid

    recs, _ = simulate_grid(n_subjects=3, seed=1, duration_s=12.0)
    raw = tmp_path / "raw"
    written = {}
    for r in recs:
        assert r.data.shape[0] == 16
        codes = np.round(np.asarray(r.data, float) / (LSB / 150)).astype(np.int64)
        assert np.abs(codes).max() < 32767  # no clipping: the values read back are the simulated ones
        xml = device_xml([grid16(start=0, muscle=r.meta["muscle"])], 16, fs=r.fs)
        stem = f"{r.meta['subject']}_{r.meta['muscle']}_{r.meta['side']}"
        write_otb(raw / f"{stem}.otb+", codes.T.astype(np.int16), xml)
        written[stem] = r
    ds, run = tmp_path / "Grid-OTB", tmp_path / "run"
    out, _ = run_cli(["convert", raw, "--pattern", "{subject}_{muscle}_{side}", "--out", ds], capsys)
    assert "wrote 12 item(s), 3 subject(s)" in out
    folder = load_dataset(ds)
    stem0 = next(iter(written))
    rec = folder.load(next(k for k in folder.stems if all(p in k for p in stem0.split("_"))))
    np.testing.assert_allclose(rec.data, written[stem0].data, atol=LSB / 150 / 2 + 1e-9)
    assert rec.grid_shape == (4, 4)
    run_cli(["run", "muscle-id", "--data", ds, "--out", run, "--workers", "1",
             "--set", "evaluate.models=[lda]", "--set", "evaluate.schemes=[loso]",
             "--set", "evaluate.final_model=false", "--set", "evaluate.n_boot=20"], capsys)
    rows = json.loads((run / "metrics.json").read_text())["headline"]
    four = [r for r in rows if r["label"].startswith("Grid-OTB loso 4-class")]
    assert four and all(np.isfinite(r["ours"]) for r in four), rows  # the run used the .otb+ grids end to end


def test_convert_keeps_one_grid_per_item_with_the_streams_hint(tmp_path, capsys):
    total = 81
    for s in ("S01", "S02"):
        write_otb(tmp_path / "raw" / f"{s}_VL.otb+", codes_for(2048, total, seed=int(s[-1])),
                  device_xml([grid64(), grid16(), aux()], total))
    out, _ = run_cli(["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}", "--out", tmp_path / "ds",
                      "--hint", "streams=emg2"], capsys)
    assert "wrote 2 item(s), 2 subject(s)" in out
    folder = load_dataset(tmp_path / "ds")
    rec = folder.load(folder.stems[0])
    assert isinstance(rec, Recording) and rec.grid_shape == (4, 4) and rec.meta["muscle"] == "VL"
    assert rec.meta["adapter"] == "AD1x16" and rec.meta["grid"] == "GR10MM0404"


def test_emg_adapter_with_unit_gain_is_read_with_a_warning(tmp_path, caplog):
    total = 16
    xml = device_xml([adapter_xml("AD1x16", 0, 1, [(i, "GR10MM0404", "", "") for i in range(16)])], total)
    c = codes_for(30, total, seed=5)
    with caplog.at_level("WARNING", logger="myoflow.io.otb"):
        rec = read(write_otb(tmp_path / "g.otb+", c, xml))
    np.testing.assert_allclose(rec.data, c.T * LSB, rtol=1e-6)
    assert "likely the amplifier output" in caplog.text


def _markers_xml(*rows) -> bytes:
    body = "".join(f"<Marker><Milliseconds>{ms}</Milliseconds><Description>{d}</Description></Marker>"
                   for ms, d in rows)
    return f"<Markers>{body}</Markers>".encode()


def test_markers_become_events_of_every_stream(tmp_path, caplog):
    """marker*.xml <Marker> elements (as MNE-Python's OTB reader reads them): sync pulses are triggers."""
    total = 88
    c = codes_for(1024, total)  # 0.5 s at 2048 Hz
    m0 = _markers_xml((100, "Sync Pulse with code: 3"), (250.5, "start  walking"), (9999, "after the end"))
    m1 = _markers_xml((100, "Sync Pulse with code: 3"), (400, "Sync Pulse with code: 12"))  # the first repeated
    f = write_otb(tmp_path / "m.otb+", c, device_xml([grid64(), aux()], total),
                  extra=[("marker_0.xml", m0), ("marker_1.xml", m1)])
    with caplog.at_level("WARNING"):
        t = read(f)
    assert "1 marker(s) fall outside the recording" in caplog.text
    for rec in t.streams.values():
        ev = rec.events.sort_values("sample", kind="stable")
        assert ev["sample"].tolist() == [round(0.1 * FS), round(0.2505 * FS), round(0.4 * FS)]
        assert ev["kind"].tolist() == ["trigger", "start walking", "trigger"]
        assert ev["code"].tolist() == [3, -1, 12]
    assert t["emg"].meta["unread_members"] == ["patient.xml"]


def test_marker_without_a_time_is_a_one_line_error(tmp_path, capsys):
    total = 88
    bad = b"<Markers><Marker><Description>x</Description></Marker></Markers>"
    f = write_otb(tmp_path / "b.otb+", codes_for(100, total), device_xml([grid64(), aux()], total),
                  extra=[("marker_0.xml", bad)])
    _, err = run_cli(["inspect", f], capsys, code=2)
    assert "member 'marker_0.xml': marker 1 has no <Milliseconds> time" in err and len(err.strip().splitlines()) == 1
