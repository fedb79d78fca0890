"""``myoflow.evaluate`` re-exports its submodules' public names: the same objects, none missing, none extra."""
from __future__ import annotations

import myoflow.evaluate as evaluate
from myoflow.evaluate import bootstrap, imbalance, metrics, splitters

SUBMODULES = (splitters, imbalance, metrics, bootstrap)


def test_every_public_name_of_a_submodule_is_the_packages_own_object():
    for mod in SUBMODULES:
        for name in mod.__all__:
            assert name in evaluate.__all__, f"{mod.__name__}.{name} is not in myoflow.evaluate.__all__"
            assert getattr(evaluate, name) is getattr(mod, name), f"myoflow.evaluate.{name} is a copy"


def test_the_package_exports_nothing_else_and_nothing_twice():
    union = [name for mod in SUBMODULES for name in mod.__all__]
    assert sorted(evaluate.__all__) == sorted(union)
    assert len(evaluate.__all__) == len(set(evaluate.__all__))
