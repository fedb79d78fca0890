"""Core data containers: :class:`Recording`, :class:`Trial` and :class:`Epochs`.

Every reader, simulator protocol, preprocessing stage and model in myoflow speaks
these three types, so the sampling rate, channel names and metadata travel with
the samples and no function takes a bare array plus an ``fs`` it might get wrong.

Conventions
-----------
* EMG is stored in volts (``units='V'``); kinematics in degrees, moments in N·m,
  forces in N. ``units`` says which, per channel.
* Containers are validated on construction and immutable: they copy their arrays
  (``data``, ``layout``, ``X``, ``y``) and mark the copies read-only, so a caller's
  later edit of its own array never changes a container and writing into
  ``rec.data`` raises. Operations return new objects; ``replace(fs=...)`` is refused
  (relabelling the rate without resampling is always a bug: use
  :func:`myoflow.preprocess.resample`).
* Events are a :class:`pandas.DataFrame` with at least ``sample`` (int, index into
  the recording) and ``kind`` (str); extra columns (``value``, ``unit_id``, ...) ride along.
* ``meta`` is a plain dict (copied on construction). Reserved keys, checked on
  construction (:data:`RESERVED_META`): ``subject``, ``session``, ``muscle`` (a
  ``str`` or an integer id), ``side`` (``str``, e.g. ``"L"``/``"R"``),
  ``covariates`` (a mapping of str to a number, str or None: age, sex, height,
  weight, bmi, ...), ``source`` (the file the data came from; ``str``, paths are
  converted) and ``truth`` (simulator ground truth, a mapping). Any other key is
  free.
"""
from __future__ import annotations

import copy
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["Recording", "Trial", "Epochs", "EVENT_COLUMNS", "RESERVED_META"]

EVENT_COLUMNS = ("sample", "kind")

#: ``meta`` keys with a fixed meaning and type (see the module docstring).
RESERVED_META = ("subject", "session", "muscle", "side", "covariates", "source", "truth")


def _is_id(v: Any) -> bool:
    return isinstance(v, (str, np.str_)) or (isinstance(v, (int, np.integer)) and not isinstance(v, bool))


def _check_meta(meta: Mapping[str, Any] | None, default: str) -> dict[str, Any]:
    """Copy ``meta`` and enforce the types of the reserved keys (None always allowed)."""
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise DataError(f"meta must be a dict, got {type(meta).__name__}", default)
    out = dict(meta)
    if isinstance(out.get("source"), os.PathLike):
        out["source"] = os.fspath(out["source"])
    where = _describe(out, default) if isinstance(out.get("source"), (str, type(None))) else default
    for key in ("subject", "session", "muscle"):
        v = out.get(key)
        if v is not None and not _is_id(v):
            raise DataError(f"meta[{key!r}] must be a str or an integer id, got {type(v).__name__} {v!r}", where)
    for key in ("side", "source"):
        v = out.get(key)
        if v is not None and not isinstance(v, str):
            raise DataError(f"meta[{key!r}] must be a str, got {type(v).__name__} {v!r}", where)
    for key in ("covariates", "truth"):
        v = out.get(key)
        if v is not None and not isinstance(v, Mapping):
            raise DataError(f"meta[{key!r}] must be a mapping, got {type(v).__name__}", where)
    cov = out.get("covariates")
    if cov is not None:
        bad = {k: v for k, v in cov.items()
               if not isinstance(k, str) or not (v is None or isinstance(v, (str, numbers.Number)))}
        if bad:
            raise DataError(f"meta['covariates'] needs str names and number/str values; got {bad}", where)
        out["covariates"] = dict(cov)
    return out


def _immutable(a: np.ndarray) -> bool:
    """True when no writeable array can reach ``a``'s memory (read-only all the way down to the owner)."""
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        if a.base is None:
            return True
        a = a.base
    return False  # memory owned by another object (buffer, mmap): copy to be safe


def _frozen(a: Any, dtype: Any = None) -> np.ndarray:
    """A C-contiguous, read-only array nobody else can write: a COPY of ``a``, unless ``a`` already is one.

    Sharing is safe only when ``a`` and every array it is a view of are read-only
    (e.g. another container's array, or a slice of it), so crop/replace chains do not copy.
    """
    if (isinstance(a, np.ndarray) and a.flags.c_contiguous and (dtype is None or a.dtype == np.dtype(dtype))
            and _immutable(a)):
        return a
    out = np.array(a, dtype=dtype, order="C", copy=True)
    out.setflags(write=False)
    return out


def _refuse_fs(changes: Mapping[str, Any], current: float, what: str) -> None:
    if "fs" in changes and float(changes["fs"]) != current:
        raise DataError(
            f"{what}.replace(fs={changes['fs']!r}) would relabel {current:g} Hz samples without resampling; "
            "use myoflow.preprocess.resample (or with_data(new_samples, fs=...) for samples already resampled)"
        )


def _describe(meta: Mapping[str, Any] | None, default: str) -> str:
    if meta:
        if meta.get("source"):
            return str(meta["source"])
        bits = [str(meta[k]) for k in ("subject", "session", "muscle") if meta.get(k) is not None]
        if bits:
            return f"{default} " + "/".join(bits)
    return default


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame({"sample": pd.Series([], dtype="int64"), "kind": pd.Series([], dtype="object")})


class _NoEvents:
    """Default of ``Recording.events``: no table given, the empty one is built on first access.

    Building a DataFrame is not free the first time in a process (pandas and Arrow code
    paths, ~5 MB of resident memory), and most Recordings a reader makes never have
    their events looked at; the table a user sees is the same as before.
    """

    _instance: "_NoEvents | None" = None

    def __new__(cls) -> "_NoEvents":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no events>"

    def __reduce__(self):
        return (_NoEvents, ())


NO_EVENTS = _NoEvents()


def _default_events() -> pd.DataFrame:
    """The table a Recording built without events has (what ``_as_events(_empty_events())`` gives)."""
    return _as_events(_empty_events(), 1, "recording")


class _LazyEvents:
    """Data descriptor for ``Recording.events``: stores what ``__init__`` was given and
    builds the default empty table on first access when that was :data:`NO_EVENTS`."""

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return NO_EVENTS  # the dataclass default
        ev = obj.__dict__.get("_events", NO_EVENTS)
        if ev is NO_EVENTS:
            ev = _default_events()
            obj.__dict__["_events"] = ev
        return ev

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["_events"] = value


def events_built(rec: "Recording") -> bool:
    """Whether ``rec`` holds an events table (False: none was given and none was asked for yet)."""
    return rec.__dict__.get("_events", NO_EVENTS) is not NO_EVENTS


def _as_events(events: pd.DataFrame | None, n_samples: int, where: str) -> pd.DataFrame:
    if events is None:
        return _empty_events()
    if not isinstance(events, pd.DataFrame):
        raise DataError(f"events must be a pandas DataFrame, got {type(events).__name__}", where)
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise DataError(f"events table lacks column(s) {missing}; expected at least {list(EVENT_COLUMNS)}", where)
    ev = events.reset_index(drop=True).copy()
    try:
        ev["sample"] = ev["sample"].astype("int64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"event 'sample' column must be integer sample indices ({exc})", where) from None
    ev["kind"] = ev["kind"].astype(str)
    if len(ev) and (ev["sample"].min() < 0 or ev["sample"].max() >= n_samples):
        raise DataError(
            f"event sample indices must lie in [0, {n_samples - 1}], got "
            f"[{ev['sample'].min()}, {ev['sample'].max()}]",
            where,
        )
    return ev.sort_values("sample", kind="stable").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class Recording:
    """One continuous multichannel signal.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
        Samples, stored as float32 (float64 input is converted).
    fs : float
        Sampling rate in Hz, > 0.
    ch_names : sequence of str
        One unique name per channel.
    units : str or sequence of str
        Physical unit, one for all channels or one per channel. Default ``"V"``.
    layout : array, shape (n_channels, 2), optional
        Electrode positions in mm (x along the fibres, y across), for grids.
    grid_shape : (rows, cols), optional
        Grid geometry when channels are a row-major electrode grid.
    events : DataFrame, optional
        Columns ``sample`` and ``kind`` at least.
    meta : dict, optional
        Subject, session, muscle, side, covariates, source, truth, ...
    t0 : float
        Time of the first sample on the session clock, s (used by :class:`Trial`).
    """

    data: np.ndarray
    fs: float
    ch_names: tuple[str, ...]
    units: tuple[str, ...] = ()
    layout: np.ndarray | None = None
    grid_shape: tuple[int, int] | None = None
    events: pd.DataFrame = NO_EVENTS  # type: ignore[assignment]  # see _LazyEvents
    meta: dict[str, Any] = field(default_factory=dict)
    t0: float = 0.0

    def __post_init__(self) -> None:
        meta = _check_meta(self.meta, "recording")
        where = _describe(meta, "recording")
        data = np.asarray(self.data)
        if data.ndim == 1:
            data = data[np.newaxis, :]
        if data.ndim != 2:
            raise DataError(f"data must be 2-D (n_channels, n_samples), got shape {data.shape}", where)
        if not np.issubdtype(data.dtype, np.number):
            raise DataError(f"data must be numeric, got dtype {data.dtype}", where)
        if data.shape[1] == 0:
            raise DataError("recording is empty (0 samples)", where)
        data = _frozen(data, np.float32)
        if not np.isfinite(data).all():
            bad = np.argwhere(~np.isfinite(data))
            ch, s = bad[0]
            raise DataError(
                f"{len(bad)} non-finite sample(s) (NaN/inf); first in channel {int(ch)} at sample {int(s)}", where
            )
        try:
            fs = float(self.fs)
        except (TypeError, ValueError):
            raise DataError(f"fs must be a number in Hz, got {self.fs!r}", where) from None
        if not np.isfinite(fs) or fs <= 0:
            raise DataError(f"fs must be > 0 Hz, got {self.fs}", where)
        names = tuple(str(c) for c in self.ch_names)
        if len(names) != data.shape[0]:
            raise DataError(
                f"{len(names)} channel name(s) for {data.shape[0]} channel(s) of data; they must match", where
            )
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"channel names must be unique; duplicated: {dup}", where)
        units = self.units
        if isinstance(units, str):
            units = (units,) * len(names)
        units = tuple(units) if units else ("V",) * len(names)
        if len(units) != len(names):
            raise DataError(f"{len(units)} unit(s) for {len(names)} channel(s)", where)
        layout = None
        if self.layout is not None:
            layout = _frozen(self.layout, float)
            if layout.shape != (len(names), 2):
                raise DataError(f"layout must have shape ({len(names)}, 2) in mm, got {layout.shape}", where)
        grid_shape = None
        if self.grid_shape is not None:
            grid_shape = (int(self.grid_shape[0]), int(self.grid_shape[1]))
            if grid_shape[0] * grid_shape[1] != len(names):
                raise DataError(f"grid_shape {grid_shape} does not hold {len(names)} channels", where)
        events = self.__dict__.get("_events", NO_EVENTS)  # what __init__ got (self.events would build it)
        if events is not NO_EVENTS:
            events = _as_events(events, data.shape[1], where)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "ch_names", names)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "grid_shape", grid_shape)
        object.__setattr__(self, "events", events)
        object.__setattr__(self, "meta", meta)
        object.__setattr__(self, "t0", float(self.t0))

    # ----------------------------------------------------------------- basics
    @property
    def n_channels(self) -> int:
        return self.data.shape[0]

    @property
    def n_samples(self) -> int:
        return self.data.shape[1]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.fs

    @property
    def times(self) -> np.ndarray:
        """Sample times in s on the session clock, shape (n_samples,)."""
        return self.t0 + np.arange(self.n_samples) / self.fs

    @property
    def subject(self) -> Any:
        return self.meta.get("subject")

    @property
    def covariates(self) -> dict[str, Any]:
        return dict(self.meta.get("covariates") or {})

    @property
    def source(self) -> str:
        return _describe(self.meta, "recording")

    def __repr__(self) -> str:
        extra = f", subject={self.subject!r}" if self.subject is not None else ""
        return (
            f"<Recording {self.n_channels} ch × {self.n_samples} samples @ {self.fs:g} Hz "
            f"({self.duration:.2f} s){extra}, {len(self.events)} events>"
        )

    def replace(self, **changes: Any) -> "Recording":
        """Return a new Recording with some fields replaced (validated again).

        ``fs`` cannot be replaced (that would relabel the samples without
        resampling them or moving the events): use :func:`myoflow.preprocess.resample`.
        """
        _refuse_fs(changes, self.fs, "Recording")
        return self._replace(**changes)

    def _replace(self, **changes: Any) -> "Recording":
        fields = dict(
            data=self.data, fs=self.fs, ch_names=self.ch_names, units=self.units, layout=self.layout,
            grid_shape=self.grid_shape, events=self.__dict__.get("_events", NO_EVENTS),  # unbuilt stays unbuilt
            meta=copy.deepcopy(self.meta), t0=self.t0,
        )
        fields.update(changes)
        return Recording(**fields)

    def with_data(self, data: np.ndarray, *, fs: float | None = None) -> "Recording":
        """New Recording with processed samples; events are rescaled if ``fs`` changes."""
        if fs is None or fs == self.fs:
            return self.replace(data=data)
        ev = self.events.copy()
        n_new = np.asarray(data).shape[-1]
        if len(ev):
            ev["sample"] = np.clip(np.round(ev["sample"].to_numpy() * fs / self.fs), 0, n_new - 1).astype("int64")
        return self._replace(data=data, fs=fs, events=ev)

    # ---------------------------------------------------------------- slicing
    def channel_index(self, names: str | Iterable[str] | int | Iterable[int]) -> list[int]:
        """Indices of channels given by name or position; unknown names raise :class:`DataError`."""
        if isinstance(names, (str, int, np.integer)):
            names = [names]
        out = []
        for n in names:
            if isinstance(n, (int, np.integer)):
                if not -self.n_channels <= int(n) < self.n_channels:
                    raise DataError(f"channel index {n} out of range for {self.n_channels} channels", self.source)
                out.append(int(n) % self.n_channels)
            elif n in self.ch_names:
                out.append(self.ch_names.index(n))
            else:
                raise DataError(f"no channel named {n!r}; channels are {list(self.ch_names)}", self.source)
        return out

    def pick(self, channels: str | Iterable[str] | int | Iterable[int]) -> "Recording":
        """Keep only the given channels (by name or index), in the given order."""
        idx = self.channel_index(channels)
        grid = self.grid_shape if idx == list(range(self.n_channels)) else None
        return self.replace(
            data=self.data[idx],
            ch_names=[self.ch_names[i] for i in idx],
            units=[self.units[i] for i in idx],
            layout=None if self.layout is None else self.layout[idx],
            grid_shape=grid,
        )

    def crop(self, tmin: float | None = None, tmax: float | None = None) -> "Recording":
        """Keep samples with ``tmin <= t < tmax`` (seconds from the first sample)."""
        start = 0 if tmin is None else int(round(tmin * self.fs))
        stop = self.n_samples if tmax is None else int(round(tmax * self.fs))
        start, stop = max(start, 0), min(stop, self.n_samples)
        if stop <= start:
            raise DataError(
                f"crop [{tmin}, {tmax}) s selects no samples of a {self.duration:.3f} s recording", self.source
            )
        ev = self.events[(self.events["sample"] >= start) & (self.events["sample"] < stop)].copy()
        ev["sample"] -= start
        return self.replace(data=self.data[:, start:stop], events=ev, t0=self.t0 + start / self.fs)

    def events_of(self, kind: str) -> np.ndarray:
        """Sample indices of events of one kind."""
        return self.events.loc[self.events["kind"] == kind, "sample"].to_numpy()

    def add_events(self, samples: Sequence[int], kind: str, **columns: Sequence[Any]) -> "Recording":
        """Return a copy with extra events appended."""
        new = pd.DataFrame({"sample": np.asarray(samples, dtype="int64"), "kind": kind, **columns})
        return self.replace(events=pd.concat([self.events, new], ignore_index=True))

    def to_dataframe(self, time: bool = True) -> pd.DataFrame:
        """Samples as a DataFrame, one column per channel (plus ``time`` in s)."""
        df = pd.DataFrame(self.data.T, columns=list(self.ch_names))
        if time:
            df.insert(0, "time", self.times)
        return df

    # Thin delegates to optional interop and plotting modules (imported lazily: extras stay optional).
    def to_mne(self) -> Any:
        """As :class:`mne.io.RawArray` (see :func:`myoflow.io.interop.to_mne`; ``mne`` extra)."""
        from .io.interop import to_mne; return to_mne(self)  # noqa: E702

    @classmethod
    def from_mne(cls, raw: Any, **kwargs: Any) -> "Recording":
        """From an :class:`mne.io.Raw` (see :func:`myoflow.io.interop.from_mne`)."""
        from .io.interop import from_mne; return from_mne(raw, **kwargs)  # noqa: E702

    def plot(self, **kwargs: Any) -> Any:
        """Quick-look figure (see :func:`myoflow.plotting.plot_recording`)."""
        from .plotting import plot_recording; return plot_recording(self, **kwargs)  # noqa: E702


# After @dataclass has read the field (default NO_EVENTS): from here on the attribute is the
# descriptor, so ``rec.events`` is always a DataFrame.
Recording.events = _LazyEvents()  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Trial:
    """Several Recordings of one session, each at its own rate, on one clock.

    Parameters
    ----------
    streams : mapping of str to Recording
        E.g. ``{"emg": ..., "angles": ..., "moments": ..., "grf": ...}``.
    meta : dict
        Session-level metadata (subject, session, covariates, ...).
    """

    streams: dict[str, Recording]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = _describe(self.meta if isinstance(self.meta, Mapping) else None, "trial")
        if not isinstance(self.streams, Mapping) or not self.streams:
            raise DataError("a Trial needs at least one named Recording", where)
        for name, rec in self.streams.items():
            if not isinstance(rec, Recording):
                raise DataError(f"stream {name!r} is a {type(rec).__name__}, expected a Recording", where)
        object.__setattr__(self, "streams", dict(self.streams))
        object.__setattr__(self, "meta", _check_meta(self.meta, "trial"))

    def __getitem__(self, name: str) -> Recording:
        try:
            return self.streams[name]
        except KeyError:
            raise DataError(
                f"trial has no stream {name!r}; it has {sorted(self.streams)}", _describe(self.meta, "trial")
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self.streams

    def __iter__(self):
        return iter(self.streams)

    @property
    def names(self) -> list[str]:
        return list(self.streams)

    @property
    def subject(self) -> Any:
        return self.meta.get("subject")

    @property
    def start(self) -> float:
        return min(r.t0 for r in self.streams.values())

    @property
    def stop(self) -> float:
        return max(r.t0 + r.duration for r in self.streams.values())

    @property
    def source(self) -> str:
        """The file(s) the trial came from (``meta['source']``; ``myoflow convert`` joins its streams' files
        with ``;``), else its subject/session/trial — what an error message should name."""
        if self.meta.get("source"):
            return str(self.meta["source"])
        bits = [str(self.meta[k]) for k in ("subject", "session", "trial") if self.meta.get(k) is not None]
        return "trial " + "/".join(bits) if bits else repr(self)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}: {r.n_channels} ch @ {r.fs:g} Hz" for k, r in self.streams.items())
        return f"<Trial {self.meta.get('subject')!r}/{self.meta.get('session')!r} [{parts}] {self.stop - self.start:.2f} s>"

    def replace(self, **changes: Any) -> "Trial":
        fields = dict(streams=dict(self.streams), meta=copy.deepcopy(self.meta))
        fields.update(changes)
        return Trial(**fields)

    def with_stream(self, name: str, rec: Recording) -> "Trial":
        streams = dict(self.streams)
        streams[name] = rec
        return self.replace(streams=streams)

    def crop(self, tmin: float, tmax: float) -> "Trial":
        """Crop every stream to ``[tmin, tmax)`` on the shared clock (seconds)."""
        return self.replace(
            streams={k: r.crop(tmin - r.t0, tmax - r.t0) for k, r in self.streams.items()}
        )

    def to_dataframe(self, stream: str | None = None) -> pd.DataFrame:
        """One stream as a DataFrame, or all streams in long format (stream, time, channel, value)."""
        if stream is not None:
            return self[stream].to_dataframe()
        frames = []
        for name, rec in self.streams.items():
            df = rec.to_dataframe().melt(id_vars="time", var_name="channel", value_name="value")
            df.insert(0, "stream", name)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True, eq=False)
class Epochs:
    """The ML-ready set: equal-length windows with targets and per-window metadata.

    Parameters
    ----------
    X : array, shape (n_epochs, n_channels, n_times)
        Window samples (float32).
    fs : float
        Sampling rate of the windows in Hz.
    ch_names : sequence of str
        Channel names, length n_channels.
    metadata : DataFrame
        One row per epoch. Splitters read group columns from it (``subject``,
        ``burst_id``, ``trial`` ...); covariates live here too.
    y : array, shape (n_epochs,) or (n_epochs, n_targets), optional
        Targets: class labels (str or int) or regression values.
    target_names : sequence of str, optional
        Class names (classification) or target names (regression).
    tmin : float
        Time of the first sample of each window relative to its event, s.
    meta : dict
        Dataset-level information (protocol, units, source ...).
    """

    X: np.ndarray
    fs: float
    ch_names: tuple[str, ...]
    metadata: pd.DataFrame
    y: np.ndarray | None = None
    target_names: tuple[str, ...] = ()
    tmin: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = _describe(self.meta, "epochs")
        X = np.asarray(self.X)
        if X.ndim != 3:
            raise DataError(f"X must be 3-D (n_epochs, n_channels, n_times), got shape {X.shape}", where)
        if X.shape[2] == 0:
            raise DataError("epochs have 0 samples per window", where)
        if not np.issubdtype(X.dtype, np.number):
            raise DataError(f"X must be numeric, got dtype {X.dtype}", where)
        X = _frozen(X, np.float32)
        if X.size and not np.isfinite(X).all():
            raise DataError(f"{int((~np.isfinite(X)).sum())} non-finite value(s) in X", where)
        try:
            fs = float(self.fs)
        except (TypeError, ValueError):
            raise DataError(f"fs must be a number in Hz, got {self.fs!r}", where) from None
        if not np.isfinite(fs) or fs <= 0:
            raise DataError(f"fs must be > 0 Hz, got {self.fs}", where)
        names = tuple(str(c) for c in self.ch_names)
        if len(names) != X.shape[1]:
            raise DataError(f"{len(names)} channel name(s) for {X.shape[1]} channel(s) in X", where)
        md = self.metadata
        if md is None:
            md = pd.DataFrame(index=range(X.shape[0]))
        if not isinstance(md, pd.DataFrame):
            raise DataError(f"metadata must be a DataFrame, got {type(md).__name__}", where)
        if len(md) != X.shape[0]:
            raise DataError(f"metadata has {len(md)} row(s) for {X.shape[0]} epoch(s)", where)
        md = md.reset_index(drop=True).copy()
        y = self.y
        if y is not None:
            y = _frozen(y)
            if y.ndim == 0 or y.shape[0] != X.shape[0]:
                raise DataError(f"y has {y.shape[0] if y.ndim else 0} row(s) for {X.shape[0]} epoch(s)", where)
            if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
                raise DataError("y contains NaN/inf", where)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "ch_names", names)
        object.__setattr__(self, "metadata", md)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "target_names", tuple(str(t) for t in self.target_names))
        object.__setattr__(self, "tmin", float(self.tmin))
        object.__setattr__(self, "meta", _check_meta(self.meta, "epochs"))

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``X.shape``: (n_epochs, n_channels, n_times). Lets scikit-learn index Epochs like an array."""
        return self.X.shape

    @property
    def n_channels(self) -> int:
        return self.X.shape[1]

    @property
    def n_times(self) -> int:
        return self.X.shape[2]

    @property
    def times(self) -> np.ndarray:
        return self.tmin + np.arange(self.n_times) / self.fs

    @property
    def subjects(self) -> np.ndarray:
        """The ``subject`` column of the metadata (raises if absent)."""
        return self.group("subject")

    def group(self, column: str) -> np.ndarray:
        """Values of a metadata column, used as split groups."""
        if column not in self.metadata.columns:
            raise DataError(
                f"epochs metadata has no column {column!r}; it has {list(self.metadata.columns)}",
                _describe(self.meta, "epochs"),
            )
        return self.metadata[column].to_numpy()

    def __repr__(self) -> str:
        return (
            f"<Epochs {len(self)} × {self.n_channels} ch × {self.n_times} samples @ {self.fs:g} Hz, "
            f"metadata columns {list(self.metadata.columns)}>"
        )

    def replace(self, **changes: Any) -> "Epochs":
        """Return new Epochs with some fields replaced (validated again); ``fs`` cannot change."""
        _refuse_fs(changes, self.fs, "Epochs")
        fields = dict(
            X=self.X, fs=self.fs, ch_names=self.ch_names, metadata=self.metadata, y=self.y,
            target_names=self.target_names, tmin=self.tmin, meta=copy.deepcopy(self.meta),
        )
        fields.update(changes)
        return Epochs(**fields)

    def __getitem__(self, idx: Any) -> "Epochs":
        """Subset epochs by an integer, a slice, a boolean mask or an integer array; returns Epochs.

        An integer gives Epochs of one epoch (not a bare window), so the result
        always carries fs, channels and metadata. ``epochs[idx, ...]`` (how
        scikit-learn indexes anything with a ``shape``) is the same as ``epochs[idx]``.
        """
        if isinstance(idx, tuple):
            if len(idx) == 2 and idx[1] is Ellipsis:
                idx = idx[0]
            else:
                raise IndexError("Epochs index epochs only (epochs[idx] or epochs[idx, ...]); index .X for samples")
        if isinstance(idx, (int, np.integer)):
            if not -len(self) <= int(idx) < len(self):
                raise IndexError(f"epoch index {int(idx)} out of range for {len(self)} epoch(s)")
            idx = [int(idx)]
        if isinstance(idx, (pd.Series, pd.Index)):
            idx = idx.to_numpy()
        if not isinstance(idx, slice):
            idx = np.asarray(idx)
            if idx.dtype == bool and idx.shape != (len(self),):
                raise IndexError(f"boolean mask of length {idx.size} for {len(self)} epoch(s)")
        idx = np.arange(len(self))[idx]
        return self.replace(
            X=self.X[idx],
            metadata=self.metadata.iloc[idx].reset_index(drop=True),
            y=None if self.y is None else self.y[idx],
        )

    def pick(self, channels: Sequence[str]) -> "Epochs":
        missing = [c for c in channels if c not in self.ch_names]
        if missing:
            raise DataError(f"no channel(s) {missing}; channels are {list(self.ch_names)}", _describe(self.meta, "epochs"))
        idx = [self.ch_names.index(c) for c in channels]
        return self.replace(X=self.X[:, idx], ch_names=list(channels))

    def crop(self, tmin: float | None = None, tmax: float | None = None) -> "Epochs":
        """Keep window samples with ``tmin <= t < tmax`` (s, relative to the event)."""
        t = self.times
        keep = np.ones_like(t, dtype=bool)
        if tmin is not None:
            keep &= t >= tmin - 1e-12
        if tmax is not None:
            keep &= t < tmax - 1e-12
        if not keep.any():
            raise DataError(f"crop [{tmin}, {tmax}) s selects no samples", _describe(self.meta, "epochs"))
        first = int(np.argmax(keep))
        return self.replace(X=self.X[:, :, keep], tmin=float(t[first]))

    @staticmethod
    def concatenate(items: Sequence["Epochs"]) -> "Epochs":
        """Stack several Epochs with equal fs, channels and window length."""
        if not items:
            raise DataError("nothing to concatenate")
        first = items[0]
        for e in items[1:]:
            if e.fs != first.fs or e.ch_names != first.ch_names or e.n_times != first.n_times:
                raise DataError(
                    "cannot concatenate epochs with different fs, channels or window length: "
                    f"{first!r} vs {e!r}"
                )
        ys = [e.y for e in items]
        y = None if any(v is None for v in ys) else np.concatenate(ys)
        return first.replace(
            X=np.concatenate([e.X for e in items]),
            metadata=pd.concat([e.metadata for e in items], ignore_index=True),
            y=y,
        )

    def to_dataframe(self) -> pd.DataFrame:
        """Long format: one row per (epoch, channel, time) with metadata and target."""
        n, c, t = self.X.shape
        df = pd.DataFrame({
            "epoch": np.repeat(np.arange(n), c * t),
            "channel": np.tile(np.repeat(np.asarray(self.ch_names, dtype=object), t), n),
            "time": np.tile(self.times, n * c),
            "value": self.X.reshape(-1),
        })
        md = self.metadata.copy()
        md["epoch"] = np.arange(n)
        if self.y is not None and self.y.ndim == 1:
            md["target"] = self.y
        return df.merge(md, on="epoch", how="left")

    # Thin delegates to optional interop and plotting modules (imported lazily: extras stay optional).
    def to_mne(self) -> Any:
        """As :class:`mne.EpochsArray` (see :func:`myoflow.io.interop.to_mne`; ``mne`` extra)."""
        from .io.interop import to_mne; return to_mne(self)  # noqa: E702

    @classmethod
    def from_mne(cls, epochs: Any, **kwargs: Any) -> "Epochs":
        """From :class:`mne.Epochs` (see :func:`myoflow.io.interop.from_mne`)."""
        from .io.interop import from_mne; return from_mne(epochs, **kwargs)  # noqa: E702

    def plot(self, **kwargs: Any) -> Any:
        """Quick-look figure (see :func:`myoflow.plotting.plot_epochs`)."""
        from .plotting import plot_epochs; return plot_epochs(self, **kwargs)  # noqa: E702
