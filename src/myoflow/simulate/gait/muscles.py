"""Muscle excitations of walking that are consistent with the joint moments.

For the seven recorded muscles (TA, GM, VL, RF, BF, ST, SOL) plus five lumped
unrecorded groups (other hip extensors, hip flexors, vastus medialis and
intermedius, other plantarflexors, other dorsiflexors), a
static optimisation at every instant distributes the sagittal hip, knee and
ankle moments over the muscles, with a prior that pulls each activation toward
its textbook timing (Perry 1992):

    minimise  κ Σ_j ((C a − M(t + δ))_j / s)² + Σ_m a_m² + λ Σ_m (a_m − p_m(t))²,  0 ≤ a ≤ 1

* C (3 × n_muscles): moment capacity r·F_max, with F_max = σ · PCSA · cos(pennation)
  · strength; σ = 61 N/cm² as in Arnold-type OpenSim models (spec §4 [R]); PCSA and
  pennation from Ward et al. 2009 (CORR 467:1074) [R]; moment arms from spec §4 [A]
  (Achilles 4.5 cm, TA 3.5, patellar 4.5, hamstrings 3 (knee) / 6 (hip), RF 4 (hip),
  gastrocnemius 2 cm at the knee [A]). Force–length–velocity effects are neglected
  (f_L·f_V = 1) [A].
* M(t + δ): the inverse-dynamics moments a short electromechanical delay δ ahead
  (≈ 50 ms [R]: EMG leads force by 30–100 ms), so excitation precedes force.
* p_m: Perry-timed envelope templates (spec §4 "Envelope peaks", Gaussian bumps in
  % MVC), the co-contraction and pre-activation the moments alone do not explain.
* The activation a is turned into neural excitation u (what sEMG reflects) by
  inverting first-order activation dynamics (τ 15 ms up / 50 ms down, spec §4)
  and the exponential shape nonlinearity of Lloyd & Besier 2003 (A ∈ (−3, 0)).

The problem is a small box-constrained QP with the same Hessian at every
instant, solved for all instants at once by projected gradient descent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError

__all__ = [
    "MuscleModel",
    "LEG_MUSCLES",
    "RECORDED_MUSCLES",
    "SPECIFIC_TENSION_N_PER_CM2",
    "capacity_matrix",
    "perry_templates",
    "static_optimisation",
    "activity_bounds",
    "excitation_from_activation",
    "PERRY_ON_OFF",
]

SPECIFIC_TENSION_N_PER_CM2 = 61.0

#: Muscles recorded in seed 002, in output order.
RECORDED_MUSCLES = ("TA", "GM", "VL", "RF", "BF", "ST", "SOL")

#: Perry (1992) on–off timing, % of the gait cycle (spec §4 [S]).
PERRY_ON_OFF: dict[str, list[tuple[float, float]]] = {
    "TA": [(0, 9), (54, 100)],
    "SOL": [(3, 52)],
    "GM": [(6, 48)],
    "VL": [(0, 15), (88, 100)],
    "RF": [(55, 66)],
    "BF": [(0, 5), (79, 100)],
    "ST": [(0, 4), (87, 100)],
}


@dataclass(frozen=True)
class MuscleModel:
    """A lumped muscle: PCSA (cm², Ward et al. 2009 [R]), pennation (deg [R]), signed moment arms (m).

    Moment arms are positive for the extensor (hip, knee) / plantarflexor (ankle) direction.
    """

    name: str
    pcsa_cm2: float
    pennation_deg: float
    moment_arms_m: tuple[float, float, float]  # hip, knee, ankle
    recorded: bool = True

    def max_force(self, strength: float = 1.0) -> float:
        """Maximal isometric force F = σ · PCSA · cos(α) · strength, N."""
        return SPECIFIC_TENSION_N_PER_CM2 * self.pcsa_cm2 * np.cos(np.radians(self.pennation_deg)) * strength


LEG_MUSCLES: tuple[MuscleModel, ...] = (
    MuscleModel("TA", 10.9, 9.6, (0.0, 0.0, -0.035)),
    MuscleModel("GM", 21.1, 9.9, (0.0, -0.02, 0.045)),
    MuscleModel("VL", 35.1, 18.4, (0.0, 0.045, 0.0)),
    MuscleModel("RF", 13.5, 13.9, (-0.04, 0.045, 0.0)),
    MuscleModel("BF", 11.3, 11.6, (0.06, -0.03, 0.0)),
    MuscleModel("ST", 4.9, 12.9, (0.06, -0.03, 0.0)),
    MuscleModel("SOL", 51.8, 28.3, (0.0, 0.0, 0.045)),
    # unrecorded groups that share the load (Ward et al. 2009 PCSAs [R]): other hip extensors
    # (gluteus maximus 33.8 + adductor magnus 20.5), hip flexors (iliacus 9.9 + psoas 7.7 +
    # tensor fasciae latae 2.5 + sartorius 1.9 + adductor longus 6.5), vastus medialis +
    # intermedius (20.6 + 16.7), other plantarflexors (lateral gastrocnemius 9.7 + tibialis
    # posterior 14.4 + peronei 18) and dorsiflexors (extensor digitorum/hallucis 8)
    MuscleModel("HIPEXT", 54.3, 15.0, (0.06, 0.0, 0.0), recorded=False),
    MuscleModel("HIPFLEX", 28.5, 10.0, (-0.05, 0.0, 0.0), recorded=False),
    MuscleModel("VMI", 37.3, 16.5, (0.0, 0.045, 0.0), recorded=False),
    MuscleModel("PLANTAR", 42.1, 15.0, (0.0, 0.0, 0.035), recorded=False),
    MuscleModel("DORSI", 8.0, 10.0, (0.0, 0.0, -0.035), recorded=False),
)

#: Envelope templates (spec §4 [A]): muscle -> list of (peak % MVC, centre %, σ before %, σ after %).
#: Widths [A] chosen so the template's on/off crossings match :data:`PERRY_ON_OFF`.
#: (ST rises with σ 3.5 %: its excitation leads the template through activation dynamics and the
#: electromechanical delay, and with σ 4.5 it switched on at 82 %, Perry 87 %; now ≈ 85 %.)
_BUMPS: dict[str, list[tuple[float, float, float, float]]] = {
    "TA": [(0.30, 2.0, 4.0, 3.5), (0.25, 66.0, 8.0, 14.0), (0.30, 98.0, 9.0, 4.0)],
    "SOL": [(0.50, 42.0, 20.0, 7.0)],
    # GM's small early bump [A] (issue 18): with the re-set GRF/COP templates the loading-response knee
    # extensor demand (GM flexes the knee) kept the excitation below its on threshold until 13 %;
    # Perry's GM is on from 6 %.
    "GM": [(0.06, 13.0, 4.0, 8.0), (0.50, 40.0, 15.0, 6.5)],
    "VL": [(0.25, 6.0, 5.0, 5.0), (0.10, 97.0, 4.0, 4.0)],
    "RF": [(0.12, 5.0, 4.0, 4.0), (0.12, 60.0, 2.5, 6.0)],
    "BF": [(0.25, 92.0, 5.5, 6.0)],
    "ST": [(0.30, 94.0, 3.5, 5.5)],
}


def activity_bounds(prior: np.ndarray, muscles=RECORDED_MUSCLES, gain: float = 2.5, floor: float = 0.005) -> np.ndarray:
    """Upper bounds that confine recorded muscles to their template's active window.

    ``min(1, gain · p_m / max p_m)`` with a small ``floor``; unrecorded groups are unbounded (1).
    """
    prior = np.asarray(prior, dtype=float)
    ub = np.ones_like(prior)
    for i, m in enumerate(muscles):
        if m in _BUMPS:
            peak = max(amp for amp, *_ in _BUMPS[m])
            ub[:, i] = np.clip(gain * prior[:, i] / peak, floor, 1.0)
    return ub


def perry_templates(phase: np.ndarray, muscles=RECORDED_MUSCLES, shift: np.ndarray | float = 0.0) -> np.ndarray:
    """Template activations (fraction of maximal) at cycle ``phase`` ∈ [0, 1), shape (n, len(muscles)).

    ``shift`` (fraction of the cycle, scalar, (n,) or (n, len(muscles)) for a timing of
    each muscle) moves the timing (stride and subject jitter). Unknown (unrecorded)
    muscles get a zero template.
    """
    phase = np.asarray(phase, dtype=float)
    shift = np.asarray(shift, dtype=float)
    ph = 100.0 * (np.mod(phase - (shift if shift.ndim < 2 else 0.0), 1.0))
    out = np.zeros((ph.size, len(muscles)))
    for i, m in enumerate(muscles):
        if shift.ndim == 2:
            ph = 100.0 * np.mod(phase - shift[:, i], 1.0)
        for amp, c, s_lo, s_hi in _BUMPS.get(m, []):
            for wrap in (-100.0, 0.0, 100.0):
                d = ph - (c + wrap)
                s = np.where(d < 0, s_lo, s_hi)
                out[:, i] += amp * np.exp(-0.5 * (d / s) ** 2)
    return np.clip(out, 0.0, 1.0)


def capacity_matrix(muscles=LEG_MUSCLES, strength: np.ndarray | float = 1.0) -> np.ndarray:
    """Joint moment at full activation, C (3, n_muscles), N·m: rows hip, knee, ankle."""
    strength = np.broadcast_to(np.asarray(strength, dtype=float), (len(muscles),))
    return np.array([[m.moment_arms_m[j] * m.max_force(s) for m, s in zip(muscles, strength)] for j in range(3)])


def static_optimisation(moments: np.ndarray, capacity: np.ndarray, prior: np.ndarray | None = None, *,
                        upper: np.ndarray | None = None, prior_weight: float = 1.0, tracking_weight: float = 50.0,
                        moment_scale: float = 70.0, n_iter: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Activations that reproduce the sagittal moments, for every instant at once.

    Parameters
    ----------
    moments : array (n, 3)
        Hip, knee, ankle moments (N·m, extensor/plantarflexor +).
    capacity : array (3, m)
        From :func:`capacity_matrix`.
    prior : array (n, m), optional
        Template activations the solution is pulled toward.
    upper : array (n, m), optional
        Per-instant upper bounds (default 1): confine a muscle to the part of the
        cycle in which it is known to be active.
    prior_weight, tracking_weight : float
        λ and κ of the objective (module docstring).
    moment_scale : float
        s, N·m (the body mass makes moment errors of 1 N·m/kg comparable).

    Returns
    -------
    activations : array (n, m) in [0, 1]
    residual : array (n, 3)
        C a − M, N·m (what the modelled muscles do not explain).
    """
    M = np.asarray(moments, dtype=float)
    C = np.asarray(capacity, dtype=float)
    if M.ndim != 2 or M.shape[1] != C.shape[0]:
        raise ConfigError(f"moments must be (n, {C.shape[0]}), got {M.shape}")
    n, m = M.shape[0], C.shape[1]
    p = np.zeros((n, m)) if prior is None else np.asarray(prior, dtype=float)
    k = tracking_weight / moment_scale ** 2
    Q = k * C.T @ C + (1.0 + prior_weight) * np.eye(m)
    b = k * M @ C + prior_weight * p
    hi = np.ones((n, m)) if upper is None else np.clip(np.asarray(upper, dtype=float), 0.0, 1.0)
    L = float(np.linalg.eigvalsh(Q).max())
    a = np.clip(np.linalg.solve(Q, b.T).T, 0.0, hi)
    y, a_prev, t = a.copy(), a.copy(), 1.0
    for _ in range(n_iter):  # FISTA on the box
        a = np.clip(y - (y @ Q - b) / L, 0.0, hi)
        t_next = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        y = a + ((t - 1) / t_next) * (a - a_prev)
        a_prev, t = a, t_next
    return a, a @ C.T - M


def excitation_from_activation(a: np.ndarray, fs: float, tau_act: float = 0.015, tau_deact: float = 0.05,
                               shape_a: float = -1.0) -> np.ndarray:
    """Neural excitation u that produces activation ``a`` (n, m) through first-order dynamics.

    da/dt = (u − a)/τ with τ = τ_act when rising and τ_deact when falling
    (spec §4), inverted as u = a + τ da/dt; then the Lloyd & Besier (2003) shape
    nonlinearity a = (e^{A u} − 1)/(e^{A} − 1) is inverted, u = ln(1 + a(e^A − 1))/A.
    """
    a = np.clip(np.asarray(a, dtype=float), 0.0, 1.0)
    if not -3.0 < shape_a < 0.0:
        raise ConfigError(f"shape factor A must lie in (-3, 0), got {shape_a}")
    da = np.gradient(a, 1.0 / fs, axis=0)
    tau = np.where(da > 0, tau_act, tau_deact)
    u_lin = np.clip(a + tau * da, 0.0, 1.0)
    return np.clip(np.log1p(u_lin * np.expm1(shape_a)) / shape_a, 0.0, 1.0)
