"""Imports flow one way (DESIGN.md): lower layers never import pipelines/ or experiments/.

Walks every ``import`` statement of the source tree, lazy (function-level) ones
included, resolving relative imports, so a back edge cannot hide inside a function.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import myoflow

SRC = Path(myoflow.__file__).parent

#: Layers that may use only the core (and each other, as DESIGN.md allows), never the layers above.
LOWER = ("simulate", "io", "preprocess", "evaluate", "models", "train", "features", "biomech", "cache")
UPPER = ("myoflow.pipelines", "myoflow.experiments")
#: report/ builds from run directories: no training code, no pipelines.
REPORT_FORBIDDEN = ("myoflow.pipelines", "myoflow.experiments", "myoflow.models", "myoflow.train")

#: Back edges still allowed (none: keep it that way).
KNOWN: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    mod = _module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)  # `from . import x` may name a module
    return out


def _edges() -> set[tuple[str, str]]:
    return {(_module_name(p), t) for p in SRC.rglob("*.py") for t in _imports(p)}


def _in(mod: str, roots) -> bool:
    return any(mod == r or mod.startswith(r + ".") for r in roots)


def _violations() -> set[tuple[str, str]]:
    lower = tuple(f"myoflow.{name}" for name in LOWER)
    bad = set()
    for src, dst in _edges():
        if _in(src, lower) and _in(dst, UPPER):
            bad.add((src, dst))
        if src == "myoflow.config" and _in(dst, ("myoflow.experiments",)):
            bad.add((src, dst))
        if _in(src, ("myoflow.report",)) and _in(dst, REPORT_FORBIDDEN):
            bad.add((src, dst))
    return bad


def test_the_walker_sees_relative_and_lazy_imports():
    edges = _edges()
    # relative import at module level, and a lazy one inside a function
    assert ("myoflow.evaluate.metrics", "myoflow.containers") in edges
    assert ("myoflow.pipelines.stimulated_mass.pipeline", "myoflow.report.figures.stimulated_mass") in edges


def _known(edge: tuple[str, str]) -> bool:
    return any(edge[0] == a and _in(edge[1], (b,)) for a, b in KNOWN)


def test_imports_flow_one_way():
    unexpected = sorted(e for e in _violations() if not _known(e))
    assert not unexpected, "back edges (lower layer -> pipelines/experiments, or report -> training code):\n" + \
        "\n".join(f"  {a} -> {b}" for a, b in unexpected)
