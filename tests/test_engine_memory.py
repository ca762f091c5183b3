"""No syntax tree outlives its file through a reference cycle.

The engine raises the cyclic collector's thresholds for a run (``engine._fewer_collections``): that is
only sound while trees die by reference counting. A recursive closure or a back reference (the analyser
and its numerics collector once pointed at each other) would keep a whole tree alive until a collection.
"""

from __future__ import annotations

import ast
import gc

import libcst as cst
import pytest

from conftest import FIXTURES
from flaxprec.discover import Discovery
from flaxprec.engine import Checker


def test_a_check_leaves_no_syntax_tree_in_a_cycle() -> None:
    files = list(Discovery().files([FIXTURES]))
    assert len(files) > 50
    Checker().check_paths(files)  # imports and first-use caches settle here
    enabled = gc.isenabled()
    gc.disable()
    gc.collect()
    try:
        gc.set_debug(gc.DEBUG_SAVEALL)
        found = Checker().check_paths(files)
        gc.collect()
        trees = [o for o in gc.garbage if isinstance(o, (ast.AST, cst.CSTNode))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert found  # the fixtures have findings: the libcst stage ran
    assert trees == []


def test_the_collector_thresholds_come_back_after_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    before, seen = gc.get_threshold(), []
    real = Checker.index_units

    def spy(self: Checker, units: list) -> object:
        seen.append(gc.get_threshold())
        return real(self, units)

    monkeypatch.setattr(Checker, "index_units", spy)
    Checker().check_paths(list(Discovery().files([FIXTURES / "FLX001"])))
    assert seen == [(100_000, 20, 20)]
    assert gc.get_threshold() == before
