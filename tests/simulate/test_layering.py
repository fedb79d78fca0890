"""Imports flow one way: the simulator and biomech analysis never reach up into pipelines/experiments."""
import ast
from pathlib import Path

import myoflow

SRC = Path(myoflow.__file__).parent
KNOWN: set = set()


def _imports(path: Path):
    pkg = ".".join(("myoflow",) + path.relative_to(SRC).parent.parts)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module or ""


def _offenders(top: str, forbidden: tuple[str, ...]):
    out = set()
    for f in sorted((SRC / top).rglob("*.py")):
        rel = str(f.relative_to(SRC))
        for mod in _imports(f):
            if mod.startswith(tuple(f"myoflow.{x}" for x in forbidden)) and (rel, mod) not in KNOWN:
                out.add((rel, mod))
    return out


def test_simulate_imports_no_pipelines_or_experiments():
    assert _offenders("simulate", ("pipelines", "experiments")) == set()


def test_biomech_is_analysis_only():
    assert _offenders("biomech", ("pipelines", "experiments", "simulate", "models", "train")) == set()


def test_resolver_sees_relative_imports():
    # the check above must resolve "from ...x import" — guard it against silently seeing nothing
    mods = set(_imports(SRC / "simulate" / "protocols" / "gait.py"))
    assert "myoflow.simulate.gait.muscles" in mods and "myoflow.containers" in mods


def test_simulator_digest_changes_with_any_simulator_file(tmp_path):
    import shutil

    from myoflow.simulate._digest import digest_of, simulator_digest

    for pkg in ("simulate", "biomech"):
        shutil.copytree(SRC / pkg, tmp_path / pkg)
    assert digest_of(tmp_path) == simulator_digest()
    f = tmp_path / "simulate" / "gait" / "walking.py"
    f.write_text(f.read_text() + "\n# edited\n")
    assert digest_of(tmp_path) != simulator_digest()


def test_simulated_cohort_cache_keys_follow_the_simulator(monkeypatch):
    import myoflow.simulate as sim
    from myoflow.pipelines.gait_emg.pipeline import GaitEmgConfig
    from myoflow.pipelines.gait_emg.pipeline import _sim_cache_key
    from myoflow.pipelines.muscle_id.config import CohortConfig, PreprocessConfig
    from myoflow.pipelines.muscle_id.data import _cache_key

    cfg, cohort, pp = GaitEmgConfig(name="t", pipeline="gait-emg"), CohortConfig(), PreprocessConfig()
    before = _sim_cache_key(cfg), _cache_key("sim", cohort, pp)
    monkeypatch.setattr(sim, "simulator_digest", lambda: "edited")
    after = _sim_cache_key(cfg), _cache_key("sim", cohort, pp)
    assert before[0] != after[0] and before[1] != after[1]
