"""Self-contained HTML reports built from a run directory.

Reads only what the runner wrote (metrics.json, config.yaml, run_info.json,
figures.json + PNGs, folds/*/curves.json); never imports training code, so a
report can be rebuilt anywhere the run directory is copied.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .._atomic import atomic_path, atomic_write_text, read_run_json
from ..errors import DataError

__all__ = ["build_report", "build_index", "missing_parts"]


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.8rem}
.muted{color:#777;font-size:.85rem}
"""


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _table(headers: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f'<th class="l">{html.escape(h)}</th>' if i == 0 else f"<th>{html.escape(h)}</th>"
                   for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="l">{_fmt(c)}</td>' if i == 0 else f"<td>{_fmt(c)}</td>"
                         for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _img(path: Path, title: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(title)}</figcaption></figure>")


#: Below this many subjects an interval of the report is flagged (coverage < ~0.94 at nominal 0.95, expanded or not).
SMALL_COHORT = 20


def _ci_subject_counts(obj: Any) -> list[int]:
    """``n_subjects`` of every summary entry that carries a bootstrap interval (``*_ci`` or ``{ci_low, ...}``)."""
    out: list[int] = []
    if isinstance(obj, dict):
        n = obj.get("n_subjects")
        has_ci = any(str(k).endswith("_ci") or (isinstance(v, dict) and "ci_low" in v) for k, v in obj.items())
        if isinstance(n, int) and not isinstance(n, bool) and has_ci:
            out.append(n)
        for v in obj.values():
            out += _ci_subject_counts(v)
    elif isinstance(obj, list):
        for v in obj:
            out += _ci_subject_counts(v)
    return out


def small_cohort_caveat(metrics: dict[str, Any]) -> str | None:
    """One sentence when the run's subject-bootstrap intervals rest on fewer than :data:`SMALL_COHORT` subjects.

    Runs record how their intervals were read (``metrics["ci_method"]``; runs before it used the plain
    percentile interval). An expanded percentile interval (the default) is widened for ``n`` subjects
    and still rests on roughly normal subject scores; a plain percentile interval over ``n`` subjects is
    too narrow: its real coverage (:func:`myoflow.evaluate.percentile_coverage`, normal subject scores)
    is written beside the smallest ``n`` of the run, so a 9-subject "95 %" interval reads as ≈ 90 %.
    """
    from scipy.stats import norm

    from ..evaluate.bootstrap import expanded_alpha, expanded_coverage, percentile_coverage

    counts = [n for n in _ci_subject_counts(metrics.get("summary")) if n >= 2]
    if not counts or min(counts) >= SMALL_COHORT:
        return None
    n = min(counts)
    head = f"small cohort: the 95 % subject-bootstrap intervals rest on as few as {n} subjects; "
    tail = "; differences whose interval barely excludes 0 are unproven"
    if metrics.get("ci_method", "percentile") == "expanded":
        cover = f"cover ≈ {100 * expanded_coverage(n):.0f} % for roughly normal subject scores"
        if expanded_alpha(n) * 1000 < 2:  # the tail is under one replicate of 1000: the interval is their range
            return (head + f"at {n} subjects an expanded percentile interval (Hesterberg 2015) is the range of the "
                    f"resampled subjects' scores: they {cover}" + tail)
        widened = norm.isf(expanded_alpha(n) / 2) / norm.isf(0.025)  # half-width ratio for normal replicates
        return (head + f"they are expanded percentile intervals (Hesterberg 2015; ×{widened:.2f} the plain percentile "
                f"width at {n} subjects) and {cover}: one unusual subject moves them" + tail)
    return (head + f"a percentile bootstrap over {n} subjects covers only about {100 * percentile_coverage(n):.0f} % "
            "(normal subject scores, Hesterberg 2015): read them as that" + tail)


def headline_n(row: dict[str, Any]) -> str:
    """What a headline row rests on, as printed on the console and in report.html: ``'1 held-out unit'``."""
    n = row.get("n")
    if n is None:
        return ""
    what = str(row.get("n_of") or "")
    # "1 held-out units" → "1 held-out unit"; a qualified noun ("test subjects, 40 cycles") keeps its head
    head, sep, rest = what.partition(",")
    if n == 1 and head.endswith("s"):
        head = head[:-1]
    return f"{n} {head}{sep}{rest}".strip()


def small_sample_caveat(headline: list[dict[str, Any]]) -> str | None:
    """One sentence when headline figures rest on fewer than :data:`SMALL_COHORT` items (their ``n``).

    A figure over 1 held-out MUAP or 2 test subjects is one or two cases, not a performance estimate;
    the row's ``n`` alone (in a column) was easy to pass over, and the console did not show it at all.
    """
    small = [r for r in headline if r.get("n") is not None and r["n"] < SMALL_COHORT]
    if not small:
        return None
    least = min(small, key=lambda r: r["n"])
    which = [r["label"] for r in small if r["n"] == least["n"] and r.get("n_of") == least.get("n_of")]
    more = f" and {len(which) - 1} more" if len(which) > 1 else ""
    return (f"small sample: {len(small)} headline figure(s) rest on fewer than {SMALL_COHORT} items, as few as "
            f"{headline_n(least)} ({which[0]!r}{more}): one item more or fewer can move them far; read them as "
            "case reports, not as the model's performance")


def cohort_notes(metrics: dict[str, Any]) -> list[str]:
    """The notes printed above the headline figures, on the console and in report.html alike.

    The small-cohort line (subject-bootstrap intervals) when it applies, else the small-sample line
    (figures over few units, trials or cycles), so that a 3-subject run is not told twice.
    """
    note = small_cohort_caveat(metrics) or small_sample_caveat(metrics.get("headline") or [])
    return [note] if note else []


def headline_table(headline: list[dict[str, Any]]) -> str:
    rows = []
    with_n = any(h.get("n") is not None for h in headline)
    for h in headline:
        ci = h.get("ci")
        rows.append([h["label"], h.get("ours"), f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else None, h.get("paper")]
                    + ([headline_n(h)] if with_n else []) + [h.get("note", "")])
    return _table(["figure", "myoflow", "95 % CI", "paper"] + (["n"] if with_n else []) + ["note"], rows, "headline")


def _figure_list(run_dir: Path) -> list[tuple[str, Path]]:
    """``figures.json`` as (title, file) pairs, every file inside the run folder.

    The report embeds each listed file: an entry ``/home/me/.ssh/id_rsa`` or ``../../secret.png`` (a run
    folder received from someone else, or edited) put a file from outside the run into report.html.
    """
    path = run_dir / "figures.json"
    figs = read_run_json(path, [])
    root = run_dir.resolve()
    out = []
    if not isinstance(figs, list):
        raise DataError(f"damaged run file: expected a list of [title, file] pairs, got {type(figs).__name__}",
                        str(path))
    for item in figs:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            raise DataError(f"damaged run file: entry {item!r} is not a [title, file] pair", str(path))
        title, rel = item
        target = (run_dir / rel).resolve()
        if Path(rel).is_absolute() or not target.is_relative_to(root):
            raise DataError(f"figure {rel!r} lies outside the run folder; the report embeds only the run's own "
                            "files (rerun with --resume to rewrite figures.json)", str(path))
        out.append((title, run_dir / rel))
    return out


def _training_curves(run_dir: Path) -> Path | None:
    """One plot per model: train/val loss of every fold (rebuilt from folds/*/curves.json)."""
    curves: dict[str, list[tuple[str, dict[str, list[float]]]]] = {}
    for f in sorted((run_dir / "folds").glob("*/curves.json")):
        try:
            data = json.loads(f.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        for model, c in (data.items() if isinstance(data, dict) else ()):
            if isinstance(c, dict) and c.get("train_loss"):
                curves.setdefault(model, []).append((f.parent.name, c))
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import drop_finished_layout

    models = sorted(curves)[:6]
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        for _, c in curves[model][:12]:
            ax.plot(c["train_loss"], color="tab:blue", alpha=0.4, lw=1)
            if c.get("val_loss"):
                ax.plot(c["val_loss"], color="tab:orange", alpha=0.4, lw=1)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
    axes[0][0].legend(handles=[plt.Line2D([], [], color="tab:blue", label="train"),
                               plt.Line2D([], [], color="tab:orange", label="validation")], fontsize=8)
    fig.tight_layout()
    out = run_dir / "figures" / "training_curves.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    drop_finished_layout(fig)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return out


def _conditions_table(conditions: dict[str, Any]) -> str:
    preferred = ["accuracy", "f1_macro", "balanced_accuracy", "r2_ensemble_mean", "r2_mean", "nrmse_mean"]
    parts = []
    for cond in sorted(conditions):
        models = conditions[cond]
        # counts (n, n_*) are bookkeeping, not metrics with a spread
        keys = sorted({k for ms in models.values() for k in ms if k != "n" and not k.startswith("n_")})
        keys = [k for k in preferred if k in keys] + [k for k in keys if k not in preferred]
        # at most 6 columns, but a per-class family (recall_<class>) is shown whole or not at all: cut after
        # its first classes, the table gave the recall of two of three classes and hid the third
        shown = keys[:6]
        for fam in {k.split("_", 1)[0] + "_" for k in shown if k.startswith("recall_")}:
            shown += [k for k in keys[6:] if k.startswith(fam)]
        keys = shown
        rows = []
        for model in sorted(models):
            row = [model]
            for k in keys:
                v = models[model].get(k)
                if not v or v.get("mean") is None:
                    row.append(None)
                elif v.get("ci_low") is None:
                    row.append(f"{v['mean']:.3f}")
                else:
                    row.append(f"{v['mean']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]")
                if v and v.get("n_nonfinite"):  # folds whose metric was NaN/inf are not in the mean: say so
                    row[-1] = f"{row[-1] or '–'} ({v['n_nonfinite']} NaN fold(s) left out)"
            rows.append(row)
        parts.append(f"<h3>{html.escape(cond)}</h3>" + _table(["model"] + keys, rows))
    return "".join(parts)


def missing_parts(run_dir: str | Path) -> list[str]:
    """What a finished run should hold but ``run_dir`` lacks (empty list: complete).

    Checks the summary files the runner writes last (metrics.json, predictions.parquet,
    figures.json and the figures it lists), unfinished fold folders, and temporary
    files of an interrupted write (removed by ``myoflow run ... --resume``).
    """
    import re

    run_dir = Path(run_dir)
    missing = [name for name in ("config.yaml", "metrics.json", "predictions.parquet", "figures.json")
               if not (run_dir / name).is_file()]
    folds = run_dir / "folds"
    if folds.is_dir():
        unfinished = sorted(p.name for p in folds.iterdir() if p.is_dir() and not (p / "result.json").is_file())
        if unfinished:
            missing.append(f"{len(unfinished)} unfinished fold(s) ({', '.join(unfinished[:3])}"
                           f"{' ...' if len(unfinished) > 3 else ''})")
    if (run_dir / "figures.json").is_file():
        try:
            absent = [str(p.relative_to(run_dir)) for _, p in _figure_list(run_dir) if not p.is_file()]
        except DataError:
            absent = ["figures.json is corrupt"]
        if absent:
            missing.append(f"figure file(s) {absent[:3]}")
    temp = re.compile(r"^\..+\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?$")
    partial = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob(".*") if p.is_file() and temp.match(p.name))
    if partial:
        missing.append(f"interrupted write(s) {partial[:3]}")
    return missing


def _tuning_table(tuning: dict[str, Any]) -> str:
    """What a nested ``tune:`` search chose in each fold, and on which (training) subjects."""
    rows = []
    for cond in sorted(tuning):
        for model, folds in sorted(tuning[cond].items()):
            for f in folds:
                inner = "; ".join(f"{json.dumps(s['params'])}: {_fmt(s.get('mean'))}" for s in f.get("inner_means", []))
                rows.append([cond, model, f.get("fold"), json.dumps(f.get("chosen")),
                             ", ".join(map(str, f.get("on_subjects", []))), inner])
    return _table(["condition", "model", "fold", "chosen", "chosen on subjects (outer training fold)",
                   "inner CV mean per configuration"], rows)


def _simpre_section(simpre: dict[str, Any]) -> str:
    """Simulator pretraining ablation: each ``_simpre`` model minus its random-init twin, same folds."""
    spec = simpre.get("spec", {})
    rows = []
    for cond, comps in sorted(simpre.get("comparisons", {}).items()):
        m = simpre.get("matched", {}).get(cond, {})
        for c in comps.values():
            ci = "" if c.get("ci_low") is None else f"[{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}]"
            rows.append([cond, f"{c['model']} − {c['baseline']}", f"{100 * c['diff']:+.1f}", ci, c.get("n_subjects"),
                         json.dumps(m.get("matched")), ", ".join(m.get("unmatched_classes", [])) or "—"])
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in sorted(simpre.get("skipped", {}).items()))
    return ("<h2>Simulator pretraining (ablation)</h2><p>Each <code>_simpre</code> model is its twin's recipe, seed and "
            "folds, its members first trained on a simulated cohort only (protocol "
            f"<b>{html.escape(str(spec.get('protocol')))}</b>, {spec.get('subjects')} subjects, seed {spec.get('seed')}, "
            f"{spec.get('epochs')} epochs); classes matched to the simulated muscles by name. Difference in window "
            "accuracy (points) with a paired subject-bootstrap 95 % CI.</p>"
            + _table(["condition", "comparison", "difference (points)", "95 % CI", "subjects", "matched (sim → class)",
                      "classes without a simulated counterpart"], rows)
            + (f"<p>Skipped (no class matches a simulated muscle):</p><ul>{skipped}</ul>" if skipped else ""))


#: Why a pipeline's headline and its per-condition table give one model two numbers (both are right: they
#: weigh the test data differently), said beside the table so a reader does not take one for a typo.
_TABLE_VS_HEADLINE = {
    "muscle-id": "Why these differ from the headline: the headline pools every test window of every subject "
                 "(a subject with more windows weighs more; 95 % CI by resampling subjects), while this table "
                 "averages the folds' own accuracies (each fold weighs the same; 95 % t-interval over folds).",
}


def _metrics_sections(run_dir: Path, metrics: dict[str, Any], name: str) -> list[str]:
    """Title, completeness note, headline, per-condition, tuning and ablation sections from ``metrics``."""
    sections = [f"<h1>myoflow report: {html.escape(name)}</h1>",
                f'<p class="muted">pipeline <b>{html.escape(str(metrics.get("pipeline")))}</b>, seed '
                f'{metrics.get("seed")}, {len(metrics.get("folds", {}))} folds</p>']
    incomplete = missing_parts(run_dir)
    if incomplete:
        sections.append('<p style="background:#fee;border:1px solid #c00;padding:.5rem"><b>Incomplete run</b>: '
                        + html.escape("; ".join(incomplete)) + " (rerun with <code>--resume</code>)</p>")
    sections.append("<h2>Headline figures</h2>")
    for caveat in cohort_notes(metrics):
        sections.append('<p style="background:#ffd;border:1px solid #cc0;padding:.5rem"><b>Note</b>: '
                        + html.escape(caveat) + "</p>")
    sections.append(headline_table(metrics.get("headline", [])) if metrics.get("headline")
                    else "<p>No headline figures for this pipeline.</p>")
    sections.append("<h2>Results per condition (mean over folds, 95 % CI)</h2>")
    why = _TABLE_VS_HEADLINE.get(str(metrics.get("pipeline")))
    if why and metrics.get("headline"):
        sections.append(f'<p class="muted">{html.escape(why)}</p>')
    sections.append(_conditions_table(metrics.get("conditions", {})))
    tuning = (metrics.get("summary") or {}).get("tuning")
    if tuning:
        sections.append("<h2>Nested selection (tune)</h2><p>Chosen by subject-wise inner cross-validation on each "
                        "outer fold's training subjects only; the fold's test subjects never took part.</p>")
        sections.append(_tuning_table(tuning))
    simpre = (metrics.get("summary") or {}).get("simulator_pretraining")
    if simpre:
        sections.append(_simpre_section(simpre))
    return sections


#: Data-config fields that only steer a simulated cohort (muscle-id ``seed``/``duration_s``, gait-emg
#: ``sim_seed``/``fs_sim``/``sim_variability``, stimulated-mass ``train_s``): a report of a folder cohort leaves
#: them out of its provenance, where ``duration_s: 600`` read as a fact about the user's files. (Kept here, not
#: in the pipelines: the report reads runs and must not import the code that makes them.)
SIMULATION_FIELDS = ("seed", "duration_s", "sim_seed", "fs_sim", "sim_variability", "train_s")


def _data_provenance(data: Any, metrics: dict, fingerprints: dict) -> Any:
    """The run's ``data`` config as the report shows it: a folder (or real) cohort by what describes the
    user's files, a simulated one by its simulation settings.

    Parameters
    ----------
    data : mapping
        The ``data`` section of config.yaml: one section with a ``source`` (stimulated-mass, gait-emg) or a
        mapping of cohort name to such a section (muscle-id).
    metrics : mapping
        metrics.json; its ``summary.cohorts`` (muscle-id) gives each cohort's subject/recording/window counts.
    fingerprints : mapping
        data_fingerprint.json: dataset folder path -> fingerprint of its contents.

    Returns
    -------
    The same layout, each non-simulated section without :data:`SIMULATION_FIELDS` and with its folder's
    ``fingerprint`` and counts where the run recorded them.
    """
    if not isinstance(data, dict):
        return data
    cohorts = (metrics.get("summary") or {}).get("cohorts") or {}

    def one(sec: dict, name: str | None) -> dict:
        if str(sec.get("source", "simulate")).startswith("simulate"):
            return sec
        out = {k: v for k, v in sec.items() if k not in SIMULATION_FIELDS}
        path = sec.get("path")
        if path is not None:
            fp = fingerprints.get(str(path)) or fingerprints.get(str(Path(str(path)).resolve()))
            if fp:
                out["fingerprint"] = fp
        counts = cohorts.get(name) if name is not None and isinstance(cohorts, dict) else None
        if isinstance(counts, dict):
            out.update({k: counts[k] for k in ("n_subjects", "n_recordings", "n_windows") if k in counts})
        return out

    if "source" in data:
        return one(data, None)
    return {k: one(v, k) if isinstance(v, dict) and "source" in v else v for k, v in data.items()}


def build_report(run_dir: str | Path) -> Path:
    """(Re)build ``run_dir/report.html`` from the run's artefacts; returns its path."""
    run_dir = Path(run_dir)
    mpath = run_dir / "metrics.json"
    if not mpath.is_file():
        raise DataError("no metrics.json: the run has not finished (run it with --resume)", str(run_dir))
    try:
        metrics = json.loads(mpath.read_text("utf-8"))
        if not isinstance(metrics, dict):
            raise ValueError(f"expected a JSON object, got {type(metrics).__name__}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"metrics.json is corrupt ({exc})", str(run_dir)) from None
    config = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").exists() else ""
    info = read_run_json(run_dir / "run_info.json", {})
    figs = _figure_list(run_dir)
    curves_png = _training_curves(run_dir)
    name = str(metrics.get("name", run_dir.name))
    try:
        sections = _metrics_sections(run_dir, metrics, name)
    except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
        # missing keys are tolerated above (an older run); values of another shape are not readable
        raise DataError(f"metrics.json has a layout this myoflow cannot read ({type(exc).__name__}: {exc}); "
                        "written by another myoflow version? 'myoflow run ... --resume' on the run rewrites it",
                        str(mpath)) from None
    if figs:
        sections.append("<h2>Figures</h2>")
        for title, p in figs:
            if p.is_file():
                sections.append(_img(p, title))
    if curves_png is not None:
        sections.append("<h2>Training curves</h2>" + _img(curves_png, "loss per epoch, every fold"))
    data_cfg = ""
    try:
        import yaml

        data_cfg = yaml.safe_dump(_data_provenance((yaml.safe_load(config) or {}).get("data", {}), metrics,
                                                   read_run_json(run_dir / "data_fingerprint.json", {})),
                                  sort_keys=False)
    except Exception:  # provenance is informative only
        pass
    sections.append("<h2>Data provenance</h2><pre>" + html.escape(data_cfg or "(see config)") + "</pre>")
    sections.append("<h2>Configuration</h2><pre>" + html.escape(config) + "</pre>")
    if info:
        sections.append("<h2>Software and machine</h2><pre>" + html.escape(json.dumps(info, indent=2)) + "</pre>")
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>myoflow: {html.escape(name)}</title><style>{CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")
    out = run_dir / "report.html"
    atomic_write_text(out, page)
    return out


def build_index(out_dir: str | Path, runs: dict[str, Path]) -> Path:
    """Index page for ``reproduce all``: every run's headline table and a link to its report."""
    out_dir = Path(out_dir)
    parts = ["<h1>myoflow: reproduced paper protocols</h1>"]
    for name, run_dir in runs.items():
        rel = Path(run_dir).relative_to(out_dir) if Path(run_dir).is_relative_to(out_dir) else Path(run_dir)
        parts.append(f'<h2><a href="{html.escape(str(rel))}/report.html">{html.escape(name)}</a></h2>')
        mpath = Path(run_dir) / "metrics.json"
        if mpath.is_file():
            parts.append(headline_table(json.loads(mpath.read_text()).get("headline", [])))
        else:
            parts.append("<p>not finished</p>")
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>myoflow reproduce</title>"
            f"<style>{CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    out = out_dir / "index.html"
    atomic_write_text(out, page)
    return out
