"""The main task's two names: the internal label key and the ``{K}class`` name users see.

The main task (every class of the cohort: side × muscle on the paper's grid, VL/BF/TA/GL on the
elderly set, whatever a lab's folder holds) is stored under one internal key, :data:`MAIN`
(``"4class"``, the paper's L/R × BB/TA), in :attr:`CohortData.labels` and in every
``derive_seed`` input, so that no split or seed of any cohort moves with the naming. What a user
reads -- fold ids (``lab-loso-3class-S01``), conditions (``lab/loso/3class``), metrics keys,
figures, the progress bar -- says ``{K}class`` with K the number of classes of that cohort
(:func:`main_task_name`); the paper cohorts and the elderly set keep ``4class``.

Runs written by myoflow before this naming named the main task ``4class`` whatever K was; readers
of a run directory (check-placement, figures, the collapsed binary tasks) accept any ``<digits>class``
name as the main task (:func:`is_main_task`), so such runs still read. Grouped tasks of a config
(``data.<cohort>.tasks``) may not take such a name (config check).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..._runnames import MAIN_TASK_PATTERN, MUSCLE_ID_LEGACY_MAIN, is_main_task

__all__ = ["MAIN", "MAIN_TASK_PATTERN", "is_main_task", "main_task_name", "task_name"]

#: Internal key of the main task in ``CohortData.labels``, fold payloads and seeds (never renamed:
#: the seeds of every cohort depend on it).
MAIN = MUSCLE_ID_LEGACY_MAIN


def main_task_name(cohort: Any) -> str:
    """``"{K}class"``, K = the number of classes of ``cohort``'s main labels (``cohort.labels[MAIN]``).

    Parameters
    ----------
    cohort : CohortData or any object with ``labels`` (dict task -> array of labels)

    Returns
    -------
    str
        ``"4class"`` for the paper cohorts and the elderly set, ``"3class"`` for a lab's three muscles.
    """
    return f"{len(np.unique(np.asarray(cohort.labels[MAIN]).astype(str)))}class"


def task_name(task: str, cohort: Any) -> str:
    """The user-visible name of ``task`` (an internal key): the main task's ``{K}class``, others unchanged."""
    return main_task_name(cohort) if task == MAIN else task
