"""``myoflow inspect PATH [--json]``: describe a recording file or a dataset folder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import DataError

__all__ = ["inspect_cmd"]


def _parse_hint(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint="--hint")
    key, value = text.split("=", 1)
    try:
        parsed = json.loads(value)
    except ValueError:
        parts = [v.strip() for v in value.split(",")]
        # "RF,BF,VM" is a list of names (a lone "," stays a delimiter)
        parsed = parts if len(parts) > 1 and all(parts) else value
    return key.strip(), parsed


def _fmt_rate(fs: float) -> str:
    return f"{fs:g} Hz"


def _fmt_channels(chs: list[str], limit: int = 12) -> str:
    shown = ", ".join(chs[:limit])
    return f"{len(chs)} [{shown}{', ...' if len(chs) > limit else ''}]"


def _fmt_events(ev: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(ev.items())) if ev else "none"


def _fmt_cov(cov: dict[str, Any]) -> str:
    if not cov:
        return "none"
    parts = []
    for k, v in cov.items():
        if isinstance(v, dict) and "mean" in v and v["min"] == v["max"]:
            parts.append(f"{k}={v['min']:.4g}")
        elif isinstance(v, dict) and "mean" in v:
            parts.append(f"{k} {v['min']:g}–{v['max']:g} (mean {v['mean']:.4g}, n={v['n']})")
        elif isinstance(v, dict):
            parts.append(f"{k} {v}")
        elif isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        else:
            parts.append(f"{k}={v}")
    return "; ".join(parts)


def _text(d: dict[str, Any], indent: str = "") -> list[str]:
    lines = []
    t = d["type"]
    if t == "Recording":
        lines.append(f"{indent}Recording: {_fmt_rate(d['fs'])}, {d['n_samples']} samples, {d['duration_s']:.3f} s")
        lines.append(f"{indent}  channels: {_fmt_channels(d['channels'])}  units: {d['units']}")
        if d.get("grid_shape") or d.get("electrode"):
            el = d.get("electrode") or {}
            lines.append(f"{indent}  grid: shape {d.get('grid_shape')}, electrode {el.get('model')} "
                         f"{el.get('rows')}×{el.get('cols')} IED {el.get('ied_mm')} mm")
        for k in ("subject", "session", "muscle", "task", "condition"):
            if k in d:
                lines.append(f"{indent}  {k}: {d[k]}")
        lines.append(f"{indent}  events: {_fmt_events(d['events'])}")
        lines.append(f"{indent}  covariates: {_fmt_cov(d['covariates'])}")
    elif t == "Trial":
        lines.append(f"{indent}Trial: {len(d['streams'])} stream(s), {d['duration_s']:.3f} s, "
                     f"rates {', '.join(map(_fmt_rate, d['sampling_rates']))}")
        for k in ("subject", "task", "trial"):
            if k in d:
                lines.append(f"{indent}  {k}: {d[k]}")
        lines.append(f"{indent}  covariates: {_fmt_cov(d['covariates'])}")
        for name, s in d["streams"].items():
            lines.append(f"{indent}  [{name}] {_fmt_rate(s['fs'])}, {s['duration_s']:.3f} s, channels "
                         f"{_fmt_channels(s['channels'])}, units {s['units']}, events {_fmt_events(s['events'])}")
    elif t == "Epochs":
        lines.append(f"{indent}Epochs: {d['n_epochs']} × {d['n_channels']} ch × {d['n_times']} samples "
                     f"@ {_fmt_rate(d['fs'])} ({d['window_s']:.3f} s windows from {d['tmin_s']:g} s)")
        lines.append(f"{indent}  channels: {_fmt_channels(d['channels'])}")
        if "subjects" in d:
            lines.append(f"{indent}  subjects: {len(d['subjects'])} {d['subjects'][:10]}")
        if "targets" in d:
            lines.append(f"{indent}  targets: {d['targets']}")
        lines.append(f"{indent}  metadata: {d['metadata_columns']}")
    else:
        title = d.get("dataset") or t
        lines.append(f"{indent}{title}: {d['n_items']} item(s) {d['item_types']}")
        lines.append(f"{indent}  sampling rates: {', '.join(map(_fmt_rate, d['sampling_rates'])) or 'n/a'}")
        if d.get("units"):
            lines.append(f"{indent}  units (items): {', '.join(f'{u} ({n})' for u, n in d['units'].items())}")
        if d.get("muscles"):
            lines.append(f"{indent}  muscles (items): {', '.join(f'{m} ({n})' for m, n in d['muscles'].items())}")
        if d.get("frequencies"):
            lines.append(f"{indent}  frequencies (items): "
                         f"{', '.join(f'{f} ({n})' for f, n in d['frequencies'].items())}")
        for stream, chs in d["channels"].items():
            lines.append(f"{indent}  channels [{stream}]: {_fmt_channels(chs)}")
        if "duration_s" in d:
            du = d["duration_s"]
            lines.append(f"{indent}  duration: {du['min']:.3f}–{du['max']:.3f} s per item, {du['total']:.1f} s total")
        lines.append(f"{indent}  subjects: {len(d['subjects'])} {d['subjects'][:12]}{' ...' if len(d['subjects']) > 12 else ''}")
        if d.get("subjects_without_recordings"):
            missing = d["subjects_without_recordings"]
            lines.append(f"{indent}  WARNING: {len(missing)} subject(s) in participants.csv have no recording: "
                         f"{missing[:12]}{' ...' if len(missing) > 12 else ''}")
        lines.append(f"{indent}  events: {_fmt_events(d['events'])}")
        lines.append(f"{indent}  covariates: {_fmt_cov(d['covariates'])}")
        if "info" in d:
            lines.append(f"{indent}  info: {json.dumps({k: v for k, v in d['info'].items() if k != '_dtypes'})[:300]}")
        items = list(d["items"].items())
        for key, item in items[:8]:
            rates = ", ".join(map(_fmt_rate, item.get("sampling_rates", [])))
            lines.append(f"{indent}  - {key}: {item['type']} {rates}"
                         + (f", {item['duration_s']:.2f} s" if "duration_s" in item else ""))
        if len(items) > 8:
            lines.append(f"{indent}  ... and {len(items) - 8} more (use --json for all)")
    return lines


@click.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--fs", type=float, default=None, help="Sampling rate hint in Hz (tables without a time column).")
@click.option("--hint", "hints", multiple=True, metavar="KEY=VALUE",
              help="Reader hint, e.g. --hint data_var=emg --hint time_column=t (repeatable).")
@click.option("--progress/--no-progress", default=True, help="Progress bar while converting large datasets.")
def inspect_cmd(path: Path, as_json: bool, fs: float | None, hints: tuple[str, ...], progress: bool) -> None:
    """Describe a recording file or dataset folder: sampling rate(s), channels,
    duration, subjects, events and covariates."""
    from . import read
    from .datasets import detect_dataset
    from ._encode import to_jsonable
    from .summary import describe

    kw = dict(_parse_hint(h) for h in hints)
    if fs is not None:
        kw["fs"] = fs
    loader = detect_dataset(path) if path.is_dir() else None
    if loader is not None and loader.name == "elderly-lowerlimb-emg":
        kw.setdefault("progress", progress)
    obj = read(path, **kw)
    try:
        summary = describe(obj, name=loader.name if loader else None)
    except TypeError as exc:
        raise DataError(f"cannot summarise: {exc}", str(path)) from None
    summary = to_jsonable({"path": str(path), **summary})
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False, default=str))
    else:
        click.echo(f"{path}")
        for line in _text(summary):
            click.echo(line)


@click.command("convert")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Dataset folder to write.")
@click.option("--manifest", type=click.Path(path_type=Path), default=None,
              help="CSV: a 'file' column (relative to the manifest) + subject, session, trial, muscle, side, stream, ...")
@click.option("--pattern", default=None, metavar="PATTERN",
              help="File names → fields, e.g. '{subject}_{muscle}_{side}' or 'S{subject}/{trial}_{stream}'.")
@click.option("--channel-map", "channel_map", multiple=True, metavar="CH=NAME,...",
              help="Rename channels, e.g. --channel-map ch1=RF,ch2=BF (repeatable).")
@click.option("--streams", "stream_map", multiple=True, metavar="NAME=STREAM,...",
              help="Rename the stream field, e.g. --streams ik=angles,id=moments,emgFilt=emg,XLD=grf; also the "
                   "streams of a multi-rate file, e.g. --streams 1000Hz=emg,100Hz=angles.")
@click.option("--meta", "meta", multiple=True, metavar="KEY=VALUE",
              help="Metadata for every file, e.g. --meta subject=06 (numbers stay text for subject/session/trial).")
@click.option("--split-channels", is_flag=True,
              help="One recording per channel, its muscle = the channel's name (muscle-id layout).")
@click.option("--participants", type=click.Path(path_type=Path), default=None,
              help="CSV with 'subject' + covariates (age, sex, height, weight, labels...).")
@click.option("--events", type=click.Path(path_type=Path), default=None,
              help="CSV of events: subject, [session, trial, muscle, side, stream], kind (e.g. heel_strike), "
                   "time_s; an empty id cell matches any item.")
@click.option("--event-map", "event_map", multiple=True, metavar="KIND=NEW,...",
              help="Rename event kinds, e.g. --event-map trigger=stimulus (a stimulator's trigger channel for "
                   "stimulated-mass), trigger:254=stimulus (one code only) or HS=heel_strike (gait-emg); also "
                   "with --bids.")
@click.option("--fs", type=float, default=None, help="Sampling rate in Hz (tables without a time column).")
@click.option("--hint", "hints", multiple=True, metavar="KEY=VALUE",
              help="Reader hint, e.g. --hint delimiter=tab --hint ch_names=RF,BF,VM (repeatable).")
@click.option("--bad-rows", type=click.Choice(["error", "drop", "interpolate"]), default="error", show_default=True,
              help="Rows with missing/non-numeric values in text or OpenSim tables: stop, drop them, or "
                   "fill gaps of up to 32 rows per column linearly.")
@click.option("--bids", "bids", is_flag=True,
              help="INPUTS is one BIDS-EMG dataset (participants.tsv, sub-*/[ses-*/]emg/*_emg.edf|bdf with "
                   "_channels.tsv, _emg.json, _events.tsv); also chosen when a folder with dataset_description.json "
                   "and sub-* folders is given without --manifest/--pattern.")
def convert_cmd(inputs: tuple[Path, ...], out: Path, manifest: Path | None, pattern: str | None,
                channel_map: tuple[str, ...], stream_map: tuple[str, ...], meta: tuple[str, ...], split_channels: bool, participants: Path | None, events: Path | None,
                event_map: tuple[str, ...], fs: float | None, hints: tuple[str, ...], bad_rows: str, bids: bool) -> None:
    """Convert raw recording files (EDF/BDF, CSV/TSV/TXT, MAT, NPZ, C3D, OpenSim .sto/.mot, OpenSignals, XDF, Intan,
    NWB, PhysioNet WFDB .hea, TMSi Poly5, OT Bioelettronica .otb+) or a BIDS-EMG dataset into a myoflow dataset
    folder, print a summary table and write it to OUT/convert_summary.csv.

    Name the files either with --manifest or with --pattern over INPUTS (files or folders), or give one
    BIDS-EMG dataset folder (--bids, or detected from its dataset_description.json and sub-* folders)."""
    from .bids import is_bids_root, plan_from_bids
    from .convert import convert, parse_mapping, plan_from_manifest, plan_from_pattern, read_table_arg

    if not bids and manifest is None and pattern is None and len(inputs) == 1 and is_bids_root(inputs[0]):
        bids = True  # a BIDS root says what each file is: no manifest or pattern to write
        click.echo(f"{inputs[0]}: read as a BIDS dataset (dataset_description.json, sub-* folders)", err=True)
    kw = dict(_parse_hint(h) for h in hints)
    if fs is not None:
        kw["fs"] = fs
    bids_participants = None
    if bids:
        if manifest is not None or pattern is not None:
            raise click.UsageError("--bids reads the file names of the dataset; give no --manifest or --pattern")
        if len(inputs) != 1:
            raise click.UsageError("--bids takes one INPUT: the BIDS dataset's root folder")
        if participants is not None or events is not None:
            raise click.UsageError("--bids reads participants.tsv and the *_events.tsv files; give no "
                                   "--participants or --events")
        if "to_volt" in kw:
            raise click.UsageError("--bids takes the units from the files and _channels.tsv; give no "
                                   "--hint to_volt")
        plan = plan_from_bids(inputs[0], exclude=out, split_channels=split_channels)
        items, bids_participants = plan.items, plan.participants
        kw.update(plan.hints)
    elif (manifest is None) == (pattern is None):
        raise click.UsageError("give exactly one of --manifest CSV or --pattern PATTERN (or --bids for a BIDS "
                               "dataset)")
    elif manifest is not None and inputs:
        raise click.UsageError("with --manifest the files are listed in it; give no INPUTS")
    elif pattern is not None and not inputs:
        raise click.UsageError("--pattern needs INPUTS (files or folders)")
    else:
        items = (plan_from_manifest(manifest) if manifest is not None
                 else plan_from_pattern(inputs, pattern, exclude=out))
    fixed = parse_mapping(meta, "--meta")
    streams = parse_mapping(stream_map, "--streams")
    for it in items:
        for k, v in fixed.items():
            it.meta.setdefault(k, v)
        if it.meta.get("stream") in streams:
            it.meta["stream"] = streams[it.meta["stream"]]
    ds, summary = convert(
        items, out, hints=kw, channel_map=parse_mapping(channel_map), split_channels=split_channels,
        bad_rows=bad_rows,
        participants=(read_table_arg(participants, "participants") if participants else bids_participants),
        events=read_table_arg(events, "events") if events else None, stream_names=streams,
        event_map=parse_mapping(event_map, "--event-map", "KIND=NEW"),
    )
    with_changes = summary[summary["rows_changed"] > 0]
    click.echo(summary.to_string(index=False, max_colwidth=40))
    # subjects with recordings: the participants table may list more (they are warned about on loading)
    n_subj = int(summary["subject"].astype(str).nunique()) if len(summary) else 0
    extra = len(ds.participants) - n_subj
    more = f" (participants.csv lists {extra} more without recordings)" if extra > 0 else ""
    click.echo(f"\nwrote {len(ds)} item(s), {n_subj} subject(s){more} to {out} "
               f"(summary: {out / 'convert_summary.csv'})")
    if len(with_changes):
        verb = "dropped" if bad_rows == "drop" else "interpolated"
        click.echo(f"{verb} {int(with_changes['rows_changed'].sum())} row(s) in {len(with_changes)} file(s)")
