"""OT Bioelettronica ``.otb+`` files (OTBioLab+): HD-sEMG grids of Quattrocento, Quattro, Due, Due+ recordings.

Layout of an ``.otb+`` file
---------------------------
An ``.otb+`` is a (POSIX) tar archive. For each acquisition it holds

* ``NAME.sig`` — the raw samples: little-endian signed integers of ``ad_bits`` bits (16; 24 is read too),
  interleaved frame by frame, one frame = ``DeviceTotalChannels`` samples (every channel of every adapter of
  the device, described or not);
* ``NAME.xml`` — the device: a root ``<Device>`` element with attributes ``Name`` (e.g. ``QUATTROCENTO``,
  possibly followed by ``;...``), ``SampleFrequency`` (Hz), ``ad_bits`` and ``DeviceTotalChannels``; below it
  ``<Channels>`` holds one ``<Adapter>`` per adapter plugged in (attributes ``ID``, ``Gain``,
  ``ChannelStartIndex`` = the adapter's first column in the frame, ``Description``, filters) and the adapter
  holds one ``<Channel>`` per electrode (attributes ``ID`` = the grid model such as ``GR08MM1305``, ``Index``
  = 0-based position inside the adapter, ``Description``, ``Muscle``, ``Prefix``, sometimes its own ``Gain``);
* sometimes ``*.sip`` + ``*.pro`` (signals processed by OTBioLab+, e.g. a force path in %MVC, float64),
  ``patient.xml`` (subject) and ``marker*.xml`` (markers).

Sample ``k`` of frame column ``c`` is converted to volts as
``value × PowerSupply / 2**ad_bits / (adapter Gain × channel Gain)``, with the ADC range ``PowerSupply``
fixed by the device (5 V for Quattrocento, Quattro and Due; 3.3 V for Due+ and Quattro+), as OT
Bioelettronica's MATLAB conversion ``OpenOTBfilesConvFact.m`` does.

Where this was learned (read, not copied): the MNE-Python OTB reader (``mne/io/otb/otb.py``: tar members,
interleaved ``reshape(-1, n_channels)``, device/adapter conversion table taken from OT Bioelettronica's
MATLAB code, ``.otb4`` handling), openhdemg's ``open_otb`` and OT Bioelettronica's own Python
``openOTBplus`` (XML attribute names, ``ChannelStartIndex`` + ``Index``, power supply × 1000 / 2**ad_bits /
Gain in mV, ``Muscle``/``ID`` per channel), and the OT Bioelettronica "OTB file structure" note they cite.

What is returned
----------------
* Channels of EMG adapters: one Recording per adapter (one grid per adapter), in frame order, named ``emg``
  when the file holds one grid, else ``emg1``, ``emg2``, ... in ``ChannelStartIndex`` order; channels are
  ``ch01``.. by their ``Index`` + 1 (as the MATLAB export reader names them), units V. The grid model comes
  from the channels' ``ID``: ``GR08MM1305``/``GR04MM1305`` (13 × 5 minus a corner, 64 channels) get the
  openhdemg electrode order of :func:`~myoflow.io.datasets.openhdemg.otb_grid_layout`; another ``GRiiMMrrcc``
  whose ``rr × cc`` equals the channel count gets a row-major ``rr × cc`` layout and ``grid_shape``, flagged
  ``"assumed": True`` in ``meta["electrode"]`` (the XML does not say how channels map to electrodes). The
  adapter's ``ID``, gain, filters and the channels' ``Muscle`` are in ``meta``.
* Auxiliary channels (AUX inputs, load cells, trigger/buffer/ramp/control, quaternions; recognised by the
  adapter or channel ``ID``/``Description``): one ``aux`` Recording in volts at the amplifier input (a load
  cell's N or %MVC needs the lab's calibration), named by their ``ID``.
* One stream in all → that Recording; several → a :class:`~myoflow.containers.Trial`. ``streams=`` keeps
  some of them (``--hint streams=emg1``) so that a two-grid file can give one Recording per grid.
* ``marker*.xml`` members: each ``<Marker>`` (``<Milliseconds>``, ``<Description>``, as MNE-Python's OTB
  reader reads them) becomes an event of every stream; ``Sync Pulse with code: N`` is kind ``trigger`` with
  ``code`` N, another description is its own kind.
* ``.sip``/``.pro`` processed signals and ``patient.xml`` are not read; their member names are kept in
  ``meta["unread_members"]``.

Safety and errors
-----------------
Members are read from the archive in memory (``extractfile``), never extracted; their names are never used as
paths, and an archive with an absolute or ``..`` member name is refused. A ``.sig`` whose size is not a whole
number of frames (truncated), an XML that is missing, not XML, lacks the rate, the bit depth or the channel
count, or describes channels beyond ``DeviceTotalChannels`` is a one-line error naming the file and member.
Several ``.sig`` in one archive (an acquisition imported into another session) are refused.

``.otb4`` (OTBioLab 4: ``DeviceParameters.xml`` + ``Tracks_000.xml``, one ``.sig`` per track, a bit depth
the MNE authors found unreliable) is refused with a message to export to ``.mat`` or save as ``.otb+``: its
layout could not be established with confidence from public sources.

Checked against: only the documented layout above (archives built by the tests). No published ``.otb+``
file with known numbers (rate, channel count, first values) was found to compare with (the MNE-Python pull
request that added its reader, #13303, lacked source-of-truth values too); the shared ``openhdemg-otb`` set is
a MATLAB export, not the native file. The gain used is the XML's (adapter ``Gain`` × channel ``Gain``), as
openhdemg and OT's Python code use it; MNE-Python takes the adapter gain from OT's table instead and warns
when the XML disagrees, so an EMG adapter whose XML gain is ≤ 1 is read but logged as a warning. Readers
disagree on the rest too: OT Bioelettronica's own Python/MATLAB ``openOTBplus`` scripts use a 3.3 V range for
every device and the adapter ``Gain`` alone (no channel ``Gain``), where MNE and OT's ``OpenOTBfilesConvFact.m``
give 5 V to Quattrocento/Quattro/Due; this reader follows the latter, and a file whose channels carry a
``Gain`` of their own other than 1 reads smaller than in those scripts by that factor.
"""
from __future__ import annotations

import logging
import os
import re
import tarfile
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath
from typing import Any, Sequence

import numpy as np

from ..containers import Recording, Trial
from ..errors import DataError
from ._common import check_file, check_fs, make_recording, unique_names

__all__ = ["read_otb", "OTB_POWER_SUPPLY_V"]

log = logging.getLogger(__name__)

#: ADC range (V) per device ``Name`` (OT Bioelettronica's OpenOTBfilesConvFact.m, as carried by MNE-Python).
OTB_POWER_SUPPLY_V = {"QUATTROCENTO": 5.0, "QUATTRO": 5.0, "DUE": 5.0, "DUE+": 3.3, "QUATTRO+": 3.3}

#: An XML member larger than this is not a device description (refused before parsing).
_MAX_XML_BYTES = 16 << 20

_AUX_RE = re.compile(r"\baux|load\s*cell|force|torque|trigger|buffer|ramp|quaternion|direct connection|"
                     r"adaptercontrol|acceleration", re.IGNORECASE)
_GRID_RE = re.compile(r"\b(?:GR|HD)(\d{2})(?:MM|ML)(\d{2})(\d{2})\b")


def _safe_members(tar: tarfile.TarFile, where: str) -> dict[str, tarfile.TarInfo]:
    """The archive's regular-file members by name; an absolute or ``..`` name refuses the archive."""
    out: dict[str, tarfile.TarInfo] = {}
    for m in tar.getmembers():
        name = m.name.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or re.match(r"^[A-Za-z]:", name):
            raise DataError(f"archive member {m.name!r} has an unsafe path (absolute or '..'): not an OTBioLab+ "
                            "file, refused", where)
        if m.isfile():
            out[name] = m
    return out


def _read_member(tar: tarfile.TarFile, m: tarfile.TarInfo, where: str) -> bytes:
    try:
        f = tar.extractfile(m)
        data = f.read() if f is not None else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"member {m.name!r}: cannot read it (truncated archive?): {exc}", where) from None
    if len(data) != m.size:
        raise DataError(f"member {m.name!r}: {len(data)} of its {m.size} bytes in the archive (truncated file?)",
                        where)
    return data


_SYNC_RE = re.compile(r"Sync Pulse with code:\s*(-?\d+)")


def _is_marker(member: str) -> bool:
    name = PurePosixPath(member).name.lower()
    return name.startswith("marker") and name.endswith(".xml")


def _markers(tar: tarfile.TarFile, members: dict, names: Sequence[str], where: str) -> list[tuple[float, str, int]]:
    """``(time s, kind, code)`` of the ``<Marker>`` elements of the ``marker*.xml`` members.

    Each holds ``<Milliseconds>`` (from the recording's start) and ``<Description>``, as MNE-Python's OTB reader
    (``_parse_annots``) reads them; ``Sync Pulse with code: N`` becomes kind ``trigger`` with code ``N`` (like a
    trigger channel's pulses), any other description is the kind (code -1). A marker repeated across members
    (OTBioLab+ may store one per file) is kept once.
    """
    found: set[tuple[float, str, int]] = set()
    for name in names:
        root = _parse_xml(_read_member(tar, members[name], where), name, where)
        for k, m in enumerate(root.iter("Marker")):
            ms_el, desc_el = m.find("Milliseconds"), m.find("Description")
            try:
                ms = float((ms_el.text or "").strip())  # type: ignore[union-attr]
            except (AttributeError, ValueError):
                ms = float("nan")
            if not np.isfinite(ms):
                raise DataError(f"member {name!r}: marker {k + 1} has no <Milliseconds> time", where)
            desc = " ".join((desc_el.text or "").split()) if desc_el is not None else ""
            sync = _SYNC_RE.fullmatch(desc)
            found.add((ms / 1000.0, "trigger", int(sync.group(1))) if sync else (ms / 1000.0, desc or "marker", -1))
    return sorted(found)


def _with_markers(rec: Recording, markers: Sequence[tuple[float, str, int]]) -> Recording:
    """The markers inside ``rec`` as events at its rate (``code`` -1 for a marker that carries none)."""
    kept = [(int(round(t * rec.fs)), kind, code) for t, kind, code in markers]
    kept = [e for e in kept if 0 <= e[0] < rec.n_samples]
    if len(kept) < len(markers):
        log.warning("%s: %d marker(s) fall outside the recording and are dropped", rec.meta.get("source"),
                    len(markers) - len(kept))
    for kind in dict.fromkeys(k for _, k, _ in kept):
        rows = [e for e in kept if e[1] == kind]
        rec = rec.add_events([e[0] for e in rows], kind, code=[e[2] for e in rows])
    return rec


def _parse_xml(raw: bytes, member: str, where: str) -> ET.Element:
    if len(raw) > _MAX_XML_BYTES:
        raise DataError(f"member {member!r}: {len(raw)} bytes, too large for a device description", where)
    if b"<!ENTITY" in raw:  # entity expansion is never needed by a device description
        raise DataError(f"member {member!r}: XML declares entities, refused", where)
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise DataError(f"member {member!r}: not valid XML ({exc})", where) from None


def _attr_num(el: ET.Element, key: str, kind: type, member: str, where: str, default: Any = None) -> Any:
    text = el.get(key)
    if text is None or not text.strip():
        if default is not None:
            return default
        raise DataError(f"member {member!r}: <{el.tag}> has no {key} attribute", where)
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise DataError(f"member {member!r}: <{el.tag}> {key}={text!r} is not a number", where) from None
    if kind is int:
        if not value.is_integer():
            raise DataError(f"member {member!r}: <{el.tag}> {key}={text!r} is not an integer", where)
        return int(value)
    return value


def _grid(code: str | None, description: str, n: int) -> tuple[np.ndarray | None, tuple[int, int] | None, dict]:
    """Layout (mm), grid_shape and ``meta["electrode"]`` for an adapter's ``n`` channels of grid ``code``."""
    from .datasets.openhdemg import otb_grid_layout

    m = _GRID_RE.search(code or "")
    if m and code and m.group(2) + m.group(3) == "1305" and n == 64:
        layout, shape, info = otb_grid_layout(m.group(0), n)
        return layout, shape, info
    if m:
        ied, rows, cols = float(m.group(1)), int(m.group(2)), int(m.group(3))
        if rows * cols == n:
            r, c = np.divmod(np.arange(n), cols)
            return (np.column_stack([r * ied, c * ied]).astype(float), (rows, cols),
                    {"model": m.group(0), "rows": rows, "cols": cols, "ied_mm": ied, "orientation": None,
                     "assumed": True})
    log.info("grid %r with %d channels: no electrode layout known, none set", code, n)
    return None, None, {"model": code, "description": description, "assumed": None}


def read_otb(path: str | os.PathLike, *, streams: Sequence[str] | str | None = None,
             power_supply: float | None = None) -> Recording | Trial:
    """Read an OT Bioelettronica ``.otb+`` file (see the module docstring for the layout).

    Parameters
    ----------
    path : path-like
        The ``.otb+`` file (``.otb4`` is refused with a message saying what to do).
    streams : str or sequence of str, optional
        Keep only these streams (``emg``/``emg1``, ``emg2``, ..., ``aux``), e.g. ``--hint streams=emg1``.
    power_supply : float, optional
        ADC range in V, for a device not in :data:`OTB_POWER_SUPPLY_V` (Sessantaquattro, Muovi, Syncstation):
        OT Bioelettronica's manual of the device gives it.

    Returns
    -------
    Recording or Trial
        One Recording per EMG adapter (grid) and one ``aux`` Recording; a single stream is returned as is.

    Raises
    ------
    DataError
        Not a tar archive, an unsafe member name, a missing or corrupt XML, a truncated ``.sig``, channel counts
        that disagree, an unknown device without ``power_supply``, or a ``streams`` name the file lacks.
    """
    p = check_file(path)
    where = str(p)
    if p.name.lower().endswith(".otb4"):
        raise DataError("OTBioLab 4 .otb4 files are not read (their layout is not established): export the "
                        "recording to .mat from OTBioLab 4 (read as an OTBiolab+ export) or save it as .otb+", where)
    try:
        tar = tarfile.open(p, "r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"not an OTBioLab+ file: cannot open it as a tar archive ({exc})", where) from None
    with tar:
        try:
            members = _safe_members(tar, where)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"cannot list the archive (truncated or corrupt file?): {exc}", where) from None
        sigs = sorted(n for n in members if n.lower().endswith(".sig"))
        if not sigs:
            raise DataError("no .sig member (signal data) in the archive: not an OTBioLab+ recording", where)
        if len(sigs) > 1:
            raise DataError(f"{len(sigs)} .sig members {sigs[:4]}: several acquisitions in one archive (one imported "
                            "into another session) are not read; export each to .mat", where)
        sig = sigs[0]
        xml_name = sig[:-4] + ".xml"
        xml_member = next((n for n in members if n.lower() == xml_name.lower()), None)
        if xml_member is None:
            raise DataError(f"member {xml_name!r} (the device description of {sig!r}) is missing", where)
        root = _parse_xml(_read_member(tar, members[xml_member], where), xml_member, where)
        device = root if root.tag == "Device" else root.find(".//Device")
        if device is None:
            raise DataError(f"member {xml_member!r}: no <Device> element", where)
        fs = check_fs(_attr_num(device, "SampleFrequency", float, xml_member, where), where,
                      f"member {xml_member!r} SampleFrequency")
        bits = _attr_num(device, "ad_bits", int, xml_member, where)
        n_total = _attr_num(device, "DeviceTotalChannels", int, xml_member, where)
        if bits not in (16, 24):
            raise DataError(f"member {xml_member!r}: ad_bits={bits}, only 16- and 24-bit samples are read", where)
        if n_total < 1:
            raise DataError(f"member {xml_member!r}: DeviceTotalChannels={n_total}", where)
        size = members[sig].size
        frame = n_total * bits // 8
        if size == 0 or size % frame:
            raise DataError(f"member {sig!r}: {size} bytes is not a whole number of frames of {n_total} channels × "
                            f"{bits // 8} bytes (truncated file, or DeviceTotalChannels/ad_bits wrong?)", where)
        raw = _read_member(tar, members[sig], where)
        marker_members = sorted(n for n in members if _is_marker(n))
        markers = _markers(tar, members, marker_members, where)
        unread = sorted(n for n in members if n not in (sig, xml_member, *marker_members))

    name = (device.get("Name") or "").split(";")[0].strip()
    if power_supply is None:
        if name.upper() not in OTB_POWER_SUPPLY_V:
            raise DataError(f"device {name or '(unnamed)'!r}: its ADC range is not known; give it with --hint "
                            "power_supply=VOLTS (see the device's manual)", where)
        vref = OTB_POWER_SUPPLY_V[name.upper()]
    else:
        vref = float(power_supply)
        if not np.isfinite(vref) or vref <= 0:
            raise DataError(f"power_supply must be > 0 V, got {power_supply!r}", where)

    if bits == 16:
        codes = np.frombuffer(raw, dtype="<i2").reshape(-1, n_total)
    else:  # 24-bit little-endian two's complement: widen to int32 keeping the sign
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, n_total, 3).astype(np.int32)
        v = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
        codes = np.where(v >= 1 << 23, v - (1 << 24), v)

    # Adapters and their channels: frame column = ChannelStartIndex + Index.
    grids: list[dict[str, Any]] = []
    aux_cols, aux_names, aux_gain = [], [], []
    used: dict[int, str] = {}
    adapters = list(device.iter("Adapter"))
    if not adapters:
        raise DataError(f"member {xml_member!r}: no <Adapter> element (no channel described)", where)
    for ad in adapters:
        ad_id = ad.get("ID") or ""
        start = _attr_num(ad, "ChannelStartIndex", int, xml_member, where)
        ad_gain = _attr_num(ad, "Gain", float, xml_member, where, default=1.0)
        emg_cols, emg_idx, codes_seen, muscles, descr = [], [], [], [], ""
        gains = []
        for ch in ad.iter("Channel"):
            idx = _attr_num(ch, "Index", int, xml_member, where)
            col = start + idx
            if not 0 <= col < n_total:
                raise DataError(f"member {xml_member!r}: adapter {ad_id!r} channel Index {idx} + ChannelStartIndex "
                                f"{start} is beyond DeviceTotalChannels={n_total} (channel count mismatch)", where)
            if col in used:
                raise DataError(f"member {xml_member!r}: frame column {col} described twice ({used[col]!r} and "
                                f"{ad_id!r})", where)
            used[col] = ad_id
            gain = ad_gain * _attr_num(ch, "Gain", float, xml_member, where, default=1.0)
            if gain <= 0:
                raise DataError(f"member {xml_member!r}: adapter {ad_id!r} gain {gain:g} must be > 0", where)
            ch_id, ch_descr = ch.get("ID") or "", ch.get("Description") or ""
            if _AUX_RE.search(ad_id) or _AUX_RE.search(ch_id) or _AUX_RE.search(ch_descr):
                aux_cols.append(col)
                aux_names.append(ch_id or ch_descr or f"aux{len(aux_cols)}")
                aux_gain.append(gain)
                continue
            emg_cols.append(col)
            emg_idx.append(idx)
            gains.append(gain)
            codes_seen.append(ch_id)
            muscles.append((ch.get("Muscle") or "").strip())
            descr = descr or ch_descr
        if emg_cols and min(gains) <= 1.0:
            # MNE-Python's reader warns that an XML adapter Gain can be 1 where OT's table has the amplifier
            # gain (150 for a Quattrocento EMG input): such values would be ~150x too large to be electrode volts
            log.warning("%s: EMG adapter %r has gain %g in the XML: the values are likely the amplifier output, "
                        "not the electrode voltage (check against OTBioLab+)", where, ad_id, min(gains))
        if emg_cols:
            grids.append({"adapter": ad_id, "start": start, "cols": emg_cols, "index": emg_idx, "gains": gains,
                          "code": next((c for c in codes_seen if _GRID_RE.search(c)), codes_seen[0] or None),
                          "muscles": muscles, "description": descr or (ad.get("Description") or ""),
                          "filters": {k: ad.get(k) for k in ("HighPassFilter", "LowPassFilter") if ad.get(k)}})
    if not grids and not aux_cols:
        raise DataError(f"member {xml_member!r}: the adapters describe no channel", where)

    scale = vref / float(2 ** bits)
    base = {"source": where, "device": name, "sample_frequency": fs, "ad_bits": bits, "power_supply_v": vref,
            "otb_members": {"sig": sig, "xml": xml_member}, "unread_members": unread}
    out: dict[str, Recording] = {}
    grids.sort(key=lambda g: g["start"])
    for k, g in enumerate(grids):
        order = np.argsort(g["index"], kind="stable")
        cols = np.asarray(g["cols"])[order]
        # float32, the containers' type: a float64 copy of a long 64-channel grid would double the peak memory
        volts = codes[:, cols].T.astype(np.float32) * (scale / np.asarray(g["gains"], dtype=np.float32)[order, None])
        index = np.asarray(g["index"])[order]
        layout, shape, electrode = _grid(g["code"], g["description"], len(cols))
        if layout is not None and not np.array_equal(index, np.arange(len(cols))):
            layout, shape = None, None  # channels missing from the adapter: positions by Index are not known
            electrode = {**electrode, "note": "adapter channels not 0..n-1: no layout set"}
        muscle = next((m for m in g["muscles"] if m), None)
        meta = {**base, "adapter": g["adapter"], "channel_start_index": g["start"], "grid": g["code"],
                "gain": float(g["gains"][0]) if len(set(g["gains"])) == 1 else [float(x) for x in g["gains"]],
                "electrode": electrode, **({"filters_hz": g["filters"]} if g["filters"] else {})}
        if muscle:
            meta["muscle"] = muscle
        key = "emg" if len(grids) == 1 else f"emg{k + 1}"
        out[key] = make_recording(volts, fs, [f"ch{i + 1:02d}" for i in index], where, units="V", layout=layout,
                                  grid_shape=shape, meta=meta)
    if aux_cols:
        volts = codes[:, aux_cols].T.astype(np.float32) * (scale / np.asarray(aux_gain, dtype=np.float32)[:, None])
        out["aux"] = make_recording(volts, fs, unique_names(aux_names, where), where, units="V",
                                    meta={**base, "note": "voltage at the amplifier input; calibrate to N/%MVC"})

    if markers:
        out = {k: _with_markers(r, markers) for k, r in out.items()}
    if streams is not None:
        wanted = [streams] if isinstance(streams, str) else [str(s) for s in streams]
        missing = [s for s in wanted if s not in out]
        if missing:
            raise DataError(f"no stream(s) {missing} in the file; it has {sorted(out)}", where)
        out = {k: out[k] for k in wanted}
    if len(out) == 1:
        return next(iter(out.values()))
    return Trial(out, meta={"source": where, "device": name})
