"""Leakage-proof evaluation: subject-wise splitters, imbalance tools inside the fold, metrics and CIs."""
from .imbalance import class_weights, random_oversample, smote
from .metrics import (
    bootstrap_ci,
    classification_metrics,
    metric_from_columns,
    per_subject,
    r2_ensemble_average,
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

__all__ = [
    "LeaveOneSubjectOut",
    "SubjectKFold",
    "WithinSubject",
    "TrialSplit",
    "check_no_leakage",
    "group_codes",
    "inner_validation_split",
    "class_weights",
    "random_oversample",
    "smote",
    "classification_metrics",
    "regression_metrics",
    "r2_ensemble_average",
    "bootstrap_ci",
    "per_subject",
    "metric_from_columns",
]
