"""The ast gate never clears a statement that the full libcst analysis flags.

Checked three ways: on generated Flax modules (hypothesis), on the pinned real corpus (every file, sliced
analysis against whole-file analysis), and on hand-written cases of what the gate must keep.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from test_fix_properties import module_source

from corpus import ARCHIVES, corpus
from flaxprec.discover import Discovery
from flaxprec.engine import Checker, Unit, load_units
from flaxprec.gate import plan


def _key(diagnostics):
    return [(d.code, d.location, d.end_location, d.message, d.statement_row) for d in diagnostics]


def _same_both_ways(checker: Checker, units: list[Unit]) -> None:
    index = checker.index_units(units)
    for unit in units:
        full = checker.diagnose(unit, index)[1]
        sliced = checker.diagnose(unit, index, sliced=True)[1]
        assert _key(sliced) == _key(full), unit.filename


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(module_source())
def test_generated_modules(source: str) -> None:
    _same_both_ways(Checker(), [Unit("generated.py", source, "generated")])


@pytest.mark.parametrize("release", sorted(ARCHIVES))
def test_real_corpus(release: str) -> None:
    units, _ = load_units(Discovery().files([corpus(release)]))
    _same_both_ways(Checker(), units)


def _suspects(source: str) -> list[str | None]:
    checker = Checker()
    unit = Unit("case.py", textwrap.dedent(source), "case")
    index = checker.index_units([unit])
    assert unit.sketch is not None
    chosen = plan(unit.sketch, index)
    assert chosen is not None
    return [unit.sketch[i].name for i in sorted(chosen)]


HEADER = "import flax.linen as nn\nimport jax.numpy as jnp\nfrom functools import partial\n"


def test_clean_classes_are_cleared_and_faulty_ones_kept() -> None:
    source = HEADER + textwrap.dedent(
        """
        class Clean(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16
            param_dtype: jnp.dtype = jnp.float32

            @nn.compact
            def __call__(self, x):
                x = nn.Dense(4, dtype=self.dtype, param_dtype=self.param_dtype)(x)
                return nn.Dropout(0.1)(x, deterministic=True)


        class Missing(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            @nn.compact
            def __call__(self, x):
                return nn.Dense(4)(x)


        class NotAModule:
            def build(self):
                return nn.Dense(4)
        """
    )
    assert _suspects(source) == ["Missing"]


@pytest.mark.parametrize(
    "line",
    [
        "nn.Dense(4, True, jnp.bfloat16)",  # positional dtype
        "nn.Dense(4, dtype=self.dtype, param_dtype=jnp.bfloat16)",  # half params
        "nn.Dense(4, dtype=self.dtype, **kw)",  # opaque
        "partial(nn.Dense, 4)",  # a partial inside a module
        "self.param('w', init, (4,), jnp.bfloat16)",  # FLX004
        "local(4)",  # a local partial alias
    ],
)
def test_what_the_gate_keeps(line: str) -> None:
    source = HEADER + textwrap.dedent(
        f"""
        class Kept(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            @nn.compact
            def __call__(self, x, kw, init):
                local = partial(nn.Dense, use_bias=False, dtype=self.dtype)
                return {line}
        """
    )
    assert _suspects(source) == ["Kept"]


def test_attend_means_the_whole_file() -> None:
    checker = Checker()
    unit = Unit("case.py", HEADER + "y = emb.attend(x)\n", "case")
    index = checker.index_units([unit])
    assert unit.sketch is not None and plan(unit.sketch, index) is None


def test_slice_keeps_rows_and_columns(tmp_path: Path) -> None:
    source = HEADER + textwrap.dedent(
        """
        class Clean(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            def setup(self):
                self.a = nn.Dense(4, dtype=self.dtype)


        class Faulty(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            def setup(self):
                self.a = Clean()
                self.b = nn.Embed(4, 4)
        """
    )
    checker = Checker()
    unit = Unit("case.py", source, "case")
    index = checker.index_units([unit])
    found = checker.diagnose(unit, index, sliced=True)[1]
    assert [(d.code, d.location.row, d.location.column) for d in found] == [
        ("FLX001", 16, 18),  # Clean() resolves through its stub in the slice
        ("FLX001", 17, 18),
    ]
