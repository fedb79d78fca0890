"""Simulated participants: demographics, muscle mass, subcutaneous fat, muscle size.

Spec ``../shared/simulator-spec.md`` §1.1. Each parameter's source is tagged like the
spec: [S] checked against a source, [R] recalled from the cited paper, [A] assumption.

* Sex 50/50, age U(20, 59) years, height N(1.75, 0.07) m (men) / N(1.62, 0.06) m
  (women), BMI N(24, 3.5) clipped to 17–38 [A].
* Appendicular skeletal-muscle-mass index (ASMI, kg/m²) from the sex- and age-specific
  reference distribution: men 7.96 ± 0.80 (18–39 y), 7.80 ± 0.73 (40–59 y); women
  6.16 ± 0.57 and 6.60 ± 0.57 (Zhejiang sample, n = 1685) [S]. ASMI and BMI are
  correlated (Gaussian copula, ρ = 0.5 [A]; heavier people carry more muscle).
* Mass class: ``low`` below the sarcopenia cut-off — men < 7.0 kg/m² (AWGS 2019 and
  EWGSOP2 [S]), women < 5.4 kg/m² (AWGS 2019, DXA [S]); ``high`` above men 8.6 / women
  6.8 kg/m² [A]; ``normal`` between. By default classes follow the population (an
  imbalanced mix, roughly 10 % low / 70 % normal / 20 % high); ``class_mix`` forces
  proportions and draws ASMI from the class's range (spec: low men 6.0–7.0, women
  4.6–5.4 [A]).
* Label noise: the recorded ASMI is the true one × (1 + N(0, 0.05)) (5 % measurement
  error of DXA/BIA [A]); ``mass_class`` is derived from the *recorded* ASMI, as in a
  study, while the physiology follows ``asmi`` (true).
* Fat thickness per site ``h = base + k (BMI − 22)``, × LogN(0, 0.25), clipped 1–35 mm
  (table in spec §1.1 [A]); skin U(1, 1.5) mm [A]. Sites VL, ST, GM, SOL (not in the
  spec table) use values in the same spirit [A]. Left/right fat differs by
  LogN(0, 0.05) [A].
* Muscle cross-section ``CSA_m = PCSA_ref,m · (ASMI/7.9) · (H/1.75) · LogN(0, 0.12)``
  (spec §1.1 [A]); the reference is the male one for both sexes so that women — lower
  ASMI, shorter — have smaller muscles. PCSA_ref from Ward et al. 2009 (CORR
  467:1074) [R]; biceps brachii 4.6 cm² [A]. Left/right differ by LogN(0, 0.04) [A]
  (dominance asymmetry of a few per cent).
* Age: motor-unit number −0.3 %/year after 30 (spec §1.1 [A]; about 40 % fewer by
  ≈71 y, review PMC4889636 [S]); conduction velocity −0.1 m/s per decade after 30 [A],
  and +0.15 m/s per SD of ASMI (low mass, smaller fibres, lower CV) [A].
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = [
    "SubjectParams",
    "generate_subjects",
    "participants_table",
    "mass_class_of",
    "ASMI_CUTOFFS",
    "ASMI_REFERENCE",
    "FAT_SITES",
    "FAT_TABLE",
    "PCSA_REF_CM2",
    "EXTRA_PCSA_REF_CM2",
    "pcsa_reference",
    "MASS_CLASSES",
]

MASS_CLASSES = ("low", "normal", "high")
SEXES = ("M", "F")

#: (low/normal, normal/high) ASMI boundaries, kg/m². Low: AWGS 2019 / EWGSOP2 [S]; high [A].
ASMI_CUTOFFS: dict[str, tuple[float, float]] = {"M": (7.0, 8.6), "F": (5.4, 6.8)}
#: Plausible extremes used to truncate class-conditional draws [A] (spec: low men 6.0–7.0).
ASMI_LIMITS: dict[str, tuple[float, float]] = {"M": (6.0, 10.5), "F": (4.6, 8.6)}
#: (mean, SD) of ASMI by sex and age band (<40, >=40), kg/m² [S] (Zhejiang, n=1685).
ASMI_REFERENCE: dict[tuple[str, str], tuple[float, float]] = {
    ("M", "young"): (7.96, 0.80), ("M", "middle"): (7.80, 0.73),
    ("F", "young"): (6.16, 0.57), ("F", "middle"): (6.60, 0.57),
}
ASMI_BMI_CORRELATION = 0.5  # [A]
ASMI_LABEL_NOISE = 0.05  # relative SD of recorded ASMI [A]

FAT_SITES = ("RF", "BF", "BB", "TA", "VL", "ST", "GM", "SOL")
#: site -> ((base men, base women) mm, (k men, k women) mm per BMI unit). RF, BF, BB, TA
#: from spec §1.1 [A]; VL, ST, GM, SOL by analogy with the thigh/leg sites [A].
FAT_TABLE: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "RF": ((5.0, 10.0), (0.6, 0.9)),
    "BF": ((6.0, 11.0), (0.6, 0.9)),
    "BB": ((3.0, 6.0), (0.4, 0.6)),
    "TA": ((2.5, 4.0), (0.3, 0.4)),
    "VL": ((5.0, 9.0), (0.6, 0.9)),
    "ST": ((6.0, 11.0), (0.6, 0.9)),
    "GM": ((3.5, 6.0), (0.35, 0.5)),
    "SOL": ((3.5, 6.0), (0.35, 0.5)),
}
#: Physiological cross-sectional area references, cm² (Ward et al. 2009 [R]; BB [A]).
PCSA_REF_CM2: dict[str, float] = {
    "BB": 4.6, "TA": 10.9, "RF": 13.5, "VL": 35.1, "BF": 11.3, "ST": 4.9, "GM": 21.1, "SOL": 51.8,
}
#: Muscles outside the participant draw (adding them to :data:`PCSA_REF_CM2` would change
#: every existing cohort's random stream): lateral gastrocnemius 9.7 cm² (Ward et al. 2009 [R]).
EXTRA_PCSA_REF_CM2: dict[str, float] = {"GL": 9.7}
ASMI_REF_CSA = 7.9  # kg/m², male reference that CSA_ref corresponds to [A]
HEIGHT_REF_M = 1.75
SIDES = ("L", "R")


def pcsa_reference(muscle: str) -> float:
    """Reference PCSA (cm²) of a muscle: :data:`PCSA_REF_CM2`, then :data:`EXTRA_PCSA_REF_CM2`."""
    key = str(muscle).upper()
    if key in PCSA_REF_CM2:
        return PCSA_REF_CM2[key]
    if key in EXTRA_PCSA_REF_CM2:
        return EXTRA_PCSA_REF_CM2[key]
    known = sorted(PCSA_REF_CM2) + sorted(EXTRA_PCSA_REF_CM2)
    raise ConfigError(f"no reference PCSA for muscle {muscle!r}; known: {known}")


def mass_class_of(asmi: float, sex: str) -> str:
    """Mass class (``low``/``normal``/``high``) of an ASMI value for a sex."""
    lo, hi = ASMI_CUTOFFS[sex]
    return "low" if asmi < lo else ("high" if asmi > hi else "normal")


@dataclass
class SubjectParams:
    """One simulated participant (ground truth included).

    Attributes
    ----------
    subject : id like ``"S001"``.
    sex : ``"M"`` or ``"F"``; age : years; height_m; weight_kg; bmi : kg/m².
    asmi : true appendicular skeletal-muscle-mass index, kg/m² (drives physiology).
    asmi_measured : the recorded ASMI (true × measurement error).
    mass_class : class label from ``asmi_measured`` (what a study records).
    true_mass_class : class of the true ``asmi``.
    asmi_z : true ASMI as a z-score within the sex/age reference.
    fat_mm : site → subcutaneous fat thickness, mm (mean of sides).
    fat_side_mm : ``"SITE_L"``/``"SITE_R"`` → fat thickness at that side, mm.
    skin_mm : skin thickness, mm.
    csa_scale : body-level factor (ASMI/7.9)·(H/1.75) applied to all muscles.
    csa_cm2 : muscle → cross-sectional area, cm² (mean of sides).
    side_scale : ``"MUSCLE_L"``/``"MUSCLE_R"`` → CSA factor of that side.
    mu_count_scale : fraction of motor units left with age.
    cv_offset_m_s : shift of all conduction velocities, m/s (age and muscle mass).
    """

    subject: str
    sex: str
    age: float
    height_m: float
    weight_kg: float
    bmi: float
    asmi: float
    asmi_measured: float
    mass_class: str
    true_mass_class: str
    asmi_z: float
    fat_mm: dict[str, float]
    fat_side_mm: dict[str, float]
    skin_mm: float
    csa_scale: float
    csa_cm2: dict[str, float]
    side_scale: dict[str, float]
    mu_count_scale: float
    cv_offset_m_s: float

    # ------------------------------------------------------------------ helpers
    def fat_at(self, site: str, side: str | None = None) -> float:
        """Fat thickness (mm) over a muscle, at one side if given."""
        site = site.upper()
        if side is not None:
            key = f"{site}_{side.upper()}"
            if key in self.fat_side_mm:
                return float(self.fat_side_mm[key])
        if site not in self.fat_mm:
            raise ConfigError(f"no fat thickness for site {site!r}; sites are {sorted(self.fat_mm)}")
        return float(self.fat_mm[site])

    def csa_at(self, muscle: str, side: str | None = None) -> float:
        """Cross-sectional area (cm²) of a muscle, at one side if given."""
        muscle = muscle.upper()
        if muscle not in self.csa_cm2:
            raise ConfigError(f"no CSA for muscle {muscle!r}; muscles are {sorted(self.csa_cm2)}")
        base = self.csa_cm2[muscle]
        if side is not None:
            base *= self.side_scale.get(f"{muscle}_{side.upper()}", 1.0)
        return float(base)

    def covariates(self) -> dict[str, float | str]:
        """The covariates a study would record (no ground truth)."""
        return {"age": self.age, "sex": self.sex, "height": self.height_m, "weight": self.weight_kg,
                "bmi": self.bmi}

    def to_dict(self) -> dict:
        return asdict(self)


def _truncnorm(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float) -> float:
    """One draw of N(mean, sd) truncated to [lo, hi] (inverse-cdf, deterministic per rng)."""
    from scipy.stats import norm

    a, b = norm.cdf((lo - mean) / sd), norm.cdf((hi - mean) / sd)
    u = a + (b - a) * rng.random()
    return float(mean + sd * norm.ppf(min(max(u, 1e-12), 1 - 1e-12)))


def _asmi_reference(sex: str, age: float) -> tuple[float, float]:
    return ASMI_REFERENCE[(sex, "young" if age < 40 else "middle")]


def generate_subjects(
    n: int,
    rng: np.random.Generator,
    age_range: tuple[float, float] = (20, 59),
    class_mix: Mapping[str, float] | None = None,
    *,
    sex_ratio: float = 0.5,
    label_noise: float = ASMI_LABEL_NOISE,
    id_offset: int = 0,
) -> list[SubjectParams]:
    """Draw ``n`` participants.

    Parameters
    ----------
    n : int
    rng : numpy.random.Generator
    age_range : (min, max) years, uniform.
    class_mix : dict class → proportion, optional
        Force the share of ``low``/``normal``/``high`` (true ASMI class); ``None``
        draws ASMI from the population so the mix is naturally imbalanced.
    sex_ratio : probability of ``"M"``.
    label_noise : relative SD of the recorded ASMI.
    id_offset : first id number − 1 (ids are ``S001``, ``S002``, ...).

    Returns
    -------
    list of :class:`SubjectParams`
    """
    if n < 0:
        raise ConfigError(f"number of subjects must be >= 0, got {n}")
    lo_age, hi_age = float(age_range[0]), float(age_range[1])
    if not (0 < lo_age <= hi_age < 120):
        raise ConfigError(f"age_range must be (min, max) in years with 0 < min <= max < 120, got {age_range}")
    mix = None
    if class_mix is not None:
        unknown = set(class_mix) - set(MASS_CLASSES)
        if unknown:
            raise ConfigError(f"class_mix has unknown class(es) {sorted(unknown)}; use {MASS_CLASSES}")
        p = np.array([float(class_mix.get(c, 0.0)) for c in MASS_CLASSES])
        if (p < 0).any() or p.sum() <= 0:
            raise ConfigError(f"class_mix proportions must be >= 0 and not all 0, got {dict(class_mix)}")
        mix = p / p.sum()
    out: list[SubjectParams] = []
    for i in range(n):
        sex = "M" if rng.random() < sex_ratio else "F"
        age = float(rng.uniform(lo_age, hi_age))
        height = float(rng.normal(1.75, 0.07) if sex == "M" else rng.normal(1.62, 0.06))
        mu, sd = _asmi_reference(sex, age)
        lo_cut, hi_cut = ASMI_CUTOFFS[sex]
        lim_lo, lim_hi = ASMI_LIMITS[sex]
        if mix is None:
            asmi = _truncnorm(rng, mu, sd, lim_lo - 0.5, lim_hi)
        else:
            cls = MASS_CLASSES[int(rng.choice(3, p=mix))]
            bounds = {"low": (lim_lo, lo_cut), "normal": (lo_cut, hi_cut), "high": (hi_cut, lim_hi)}[cls]
            asmi = _truncnorm(rng, mu, sd, *bounds)
        z = (asmi - mu) / sd
        # BMI conditioned on ASMI through a Gaussian copula (ρ = 0.5 [A]).
        bmi_z = ASMI_BMI_CORRELATION * z + math.sqrt(1 - ASMI_BMI_CORRELATION ** 2) * rng.normal()
        bmi = float(np.clip(24.0 + 3.5 * bmi_z, 17.0, 38.0))
        weight = bmi * height ** 2
        measured = asmi * (1.0 + label_noise * rng.normal())
        s = 0 if sex == "M" else 1
        fat_mm, fat_side = {}, {}
        for site in FAT_SITES:
            (b_m, b_f), (k_m, k_f) = FAT_TABLE[site]
            base, k = (b_m, k_m) if s == 0 else (b_f, k_f)
            h = float(np.clip((base + k * (bmi - 22.0)) * rng.lognormal(0.0, 0.25), 1.0, 35.0))
            asym = rng.lognormal(0.0, 0.05)
            fat_side[f"{site}_L"] = float(np.clip(h * math.sqrt(asym), 1.0, 35.0))
            fat_side[f"{site}_R"] = float(np.clip(h / math.sqrt(asym), 1.0, 35.0))
            fat_mm[site] = h
        skin = float(rng.uniform(1.0, 1.5))
        csa_scale = (asmi / ASMI_REF_CSA) * (height / HEIGHT_REF_M)
        csa, side_scale = {}, {}
        for m, ref in PCSA_REF_CM2.items():
            csa[m] = float(ref * csa_scale * rng.lognormal(0.0, 0.12))
            asym = rng.lognormal(0.0, 0.04)
            side_scale[f"{m}_L"] = float(math.sqrt(asym))
            side_scale[f"{m}_R"] = float(1.0 / math.sqrt(asym))
        mu_scale = 1.0 - 0.003 * max(age - 30.0, 0.0)
        cv_off = -0.01 * max(age - 30.0, 0.0) + 0.15 * float(np.clip(z, -3, 3))
        out.append(SubjectParams(
            subject=f"S{id_offset + i + 1:03d}", sex=sex, age=round(age, 1), height_m=round(height, 3),
            weight_kg=round(weight, 1), bmi=round(bmi, 2), asmi=round(asmi, 3),
            asmi_measured=round(measured, 3), mass_class=mass_class_of(measured, sex),
            true_mass_class=mass_class_of(asmi, sex), asmi_z=round(z, 3), fat_mm=fat_mm,
            fat_side_mm=fat_side, skin_mm=skin, csa_scale=csa_scale, csa_cm2=csa, side_scale=side_scale,
            mu_count_scale=mu_scale, cv_offset_m_s=cv_off,
        ))
    return out


def participants_table(subjects: Sequence[SubjectParams]) -> pd.DataFrame:
    """One row per subject: covariates, the recorded label and ``true_*`` ground truth.

    Columns: ``subject, sex, age, height, weight, bmi, asmi, mass_class`` (as a study
    records them: ASMI measured with error) and ``true_asmi, true_mass_class,
    true_asmi_z, true_skin_mm, true_csa_scale, true_mu_count_scale, true_cv_offset_m_s,
    true_fat_<SITE>_mm`` (and per side ``true_fat_<SITE>_<L|R>_mm``),
    ``true_csa_<MUSCLE>_cm2``.
    """
    rows = []
    for s in subjects:
        row = {
            "subject": s.subject, "sex": s.sex, "age": s.age, "height": s.height_m, "weight": s.weight_kg,
            "bmi": s.bmi, "asmi": s.asmi_measured, "mass_class": s.mass_class,
            "true_asmi": s.asmi, "true_mass_class": s.true_mass_class, "true_asmi_z": s.asmi_z,
            "true_skin_mm": s.skin_mm, "true_csa_scale": s.csa_scale,
            "true_mu_count_scale": s.mu_count_scale, "true_cv_offset_m_s": s.cv_offset_m_s,
        }
        for site, v in s.fat_mm.items():
            row[f"true_fat_{site}_mm"] = v
        for key, v in s.fat_side_mm.items():
            row[f"true_fat_{key}_mm"] = v
        for m, v in s.csa_cm2.items():
            row[f"true_csa_{m}_cm2"] = v
        rows.append(row)
    cols = ["subject", "sex", "age", "height", "weight", "bmi", "asmi", "mass_class"]
    df = pd.DataFrame(rows, columns=None if rows else cols)
    return df
