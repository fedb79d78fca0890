"""Names inside a run directory that readers below the pipelines (the report) must recognise.

The report layer reads run directories but may not import a pipeline (tests/api/test_import_graph.py), so
the few naming rules it shares with a pipeline live here, beside ``_atomic`` (how run files are written).
"""
from __future__ import annotations

import re

__all__ = ["MUSCLE_ID_LEGACY_MAIN", "MAIN_TASK_PATTERN", "is_main_task"]

#: The muscle-id main task's name in every run written before it was named by its class count (and its
#: internal label key, see :mod:`myoflow.pipelines.muscle_id.tasks`).
MUSCLE_ID_LEGACY_MAIN = "4class"

#: A muscle-id main-task name in a run directory: ``4class`` (any run before the naming, or K = 4) or ``{K}class``.
MAIN_TASK_PATTERN = r"\d+class"
_MAIN_RE = re.compile(MAIN_TASK_PATTERN)


def is_main_task(name: str) -> bool:
    """Whether ``name`` (a task in a muscle-id fold id or condition) is the main task: ``<digits>class``."""
    return bool(_MAIN_RE.fullmatch(str(name)))
