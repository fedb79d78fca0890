"""Leakage-proof evaluation: subject-wise splitters, imbalance tools inside the fold, metrics and CIs."""
from .bootstrap import (
    CI_METHODS,
    DEFAULT_CI_METHOD,
    Interval,
    bootstrap_ci,
    bootstrap_mean,
    cluster_bootstrap,
    cluster_draws,
    cluster_sums,
    expanded_alpha,
    expanded_coverage,
    interval_alpha,
    paired_bootstrap_ci,
    percentile_coverage,
    percentile_interval,
)
from .imbalance import class_weights, random_oversample, smote
from .metrics import (
    classification_metrics,
    metric_from_columns,
    nrmse,
    pearson_per_cycle,
    pearson_r,
    per_subject,
    r2_ensemble_average,
    r2_ensemble_average_from_sums,
    r2_per_cycle,
    regression_metrics,
)
from .splitters import (
    LeaveOneSubjectOut,
    SubjectKFold,
    TrialSplit,
    WithinSubject,
    check_no_leakage,
    group_codes,
    inner_validation_split,
)

from . import bootstrap, imbalance, metrics, splitters

# The public names are the submodules' own lists, so a name added there is exported here too (one list per name).
__all__ = [*splitters.__all__, *imbalance.__all__, *metrics.__all__, *bootstrap.__all__]
