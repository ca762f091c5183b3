"""The ast gate never clears a statement that the full libcst analysis flags.

Checked three ways: on generated Flax modules (hypothesis), on the pinned real corpus (every file, sliced
analysis against whole-file analysis), and on hand-written cases of what the gate must keep.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fix_properties import module_source

from corpus import ARCHIVES, corpus
from flaxprec.discover import Discovery
from flaxprec.engine import Checker, Unit, load_units
from flaxprec.gate import plan, slice_source


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


SNIPPETS = (
    'w = self.param("w", init, (4,){dtype})\n{i}x = x * w',
    "p = nnx.Param(jnp.ones((4,){dtype}))\n{i}x = x * p",
    "p = nnx.Param(init(key, (4,){dtype}))",
    "p = nnx.Param(value=jnp.zeros((4,){dtype}))",
    "c = self.config\n{i}assert c.dtype\n{i}x = nn.Dense(4)(x)",
    "assert config.dtype\n{i}x = nn.LayerNorm()(x)",
    "f = nn.Dense\n{i}f = functools.partial(nn.Dense{dtype})\n{i}x = f(4)(x)",
    "g = None\n{i}g = Alias\n{i}x = g(4)(x)",
    "d = nn.Dense\n{i}d = e\n{i}e = d\n{i}x = e(4)(x)",
    "x = x.astype(x.dtype)\n{i}x = x.reshape((4,))",
    "x = jnp.where(x > 0, x, -1e9)",
    "x = x - jnp.inf",
    "x = Half(4)(x)",
    # The logits' own bias (FLX007 leaves it alone), by a shape the gate reads off the text.
    'b = self.param("b", init, (self.vocab_size,){dtype})\n{i}x = x + b',
    'b = self.param("b", init, *(self.Vocab,){dtype})\n{i}x = x + b',
    'b = self.param("b", init, (4,  # vocab\n{i}){dtype})\n{i}x = x + b',
    'b = self.param("b", init, **vocab{dtype})\n{i}x = x + b',
    'b = self.param("logit_scale", init, (4,){dtype})\n{i}x = x * b',
    'b = self.param("logit" "_scale", init, (4,){dtype})\n{i}x = x * b',
    # Parameters that only meet promote_dtype (or the module's own methods) are cleared; any other read
    # while the name holds the parameter keeps the class (flaxprec.gate_params).
    'w = self.param("w", init, (4,){dtype})\n{i}x, w = promote_dtype(x, w, dtype=self.dtype)\n{i}x = x * w',
    'w = self.param("w", init, (4,){dtype})\n{i}if x is None:\n{i}    w = promote_dtype(w)[0]\n{i}x = x * w',
    'w = self.param("w", init, (4,){dtype})\n{i}y = self.m0(x, w)\n{i}x, w = promote_dtype(x, w)',
    'w = self.param("w", init, (4,){dtype})\n{i}w *= x\n{i}(x, w) = promote_dtype(x, w)',
    'w = self.param("w", init, (4,){dtype})\n{i}for w in promote_dtype(w):\n{i}    pass\n{i}x = x * w',
    'w = self.param("w", init, (4,){dtype})\n{i}if (w := promote_dtype(w)[0]) is None:\n{i}    x = x * w',
    'w = self.param("w", init, (4,){dtype})\n{i}f = lambda: x * w\n{i}x = promote_dtype(w)[0] * f()',
    'w = self.param("w", init, (4,){dtype})\n{i}def g(v=w):\n{i}    return v\n{i}x = x * g()',
    'w = self.param("w", init, (4,){dtype})\n{i}def g():\n{i}    return x * w\n{i}x = g()',
    'w = self.param("w", init, (4,){dtype})\n{i}def g(w):\n{i}    return x * w\n{i}x = g(promote_dtype(w))',
    'w = self.param("w", init, (4,){dtype})\n{i}x = other.promote_dtype(x, w)[0] * x',
    'w = self.param("w", init, (4,){dtype})\n{i}x = x * promote_dtype(w)[0] + w',
    'w = self.param("w", init, (4,){dtype})\n{i}a, *w = promote_dtype(x, w)\n{i}x = x * w',
    # Attributes on ``self`` carry values between methods (and into same-file subclasses): a parameter
    # stored in one method and combined in another, activations stored, mask constants meeting either.
    'self.w = self.param("w", init, (4,){dtype})',
    "x = x * self.w",
    "self.s = x",
    "x = jnp.where(x > 0, self.s, -1e9)",
    "x = x + self.s * self.w",
    "self.w = nnx.Param(jnp.ones((4,){dtype}))",
    "x = self.w.value * x",
    # Tied embeddings: built, looked up (cast or not) and attended in different methods and classes.
    "self.emb = nn.Embed(4, 4{dtype})",
    "x = self.emb(x)",
    "x = self.emb(x).astype(x.dtype)",
    "x = self.emb.attend(x)",
    "e = self.emb\n{i}x = e.attend(x)",
    # Module-level data tables (gate_module_source draws them): stubs in a slice, never a finding's source.
    "x = jnp.where(x > 0, x, NEG)",
    "x = x * jnp.asarray(TABLE)[0][1]",
    "x = nn.Dense(SIZES[0]{dtype})(x)",
    "x = nn.Dense(4, dtype=NAMES['dtype'])(x)",
    "x = nn.Dense(self.SIZES[0]{dtype})(x) * self.TABLE[0][1]",
)
# Module-level data: literals only (flaxprec.gate._is_literal); each line is drawn or left out.
DATA_TABLES = (
    "TABLE = [\n    (1, 2.5, 'a'),\n    (3, -1e9, 'b'),\n]",
    "NEG = -1e9",
    "SIZES: tuple = (4, 8)",
    "NAMES = {'dtype': 'bfloat16', 'sizes': [4, {8}]}",
    "A = B = [[1.0, float.__name__ and 2.0]]",  # reads a name: not data, copied whole
)
DTYPE_ARGS = (
    "",
    ", jnp.float32",
    ", self.dtype",
    ", dtype=self.param_dtype",
    ", 'bfloat16'",
    ", dtype=self.dtype",
)


@st.composite
def gate_module_source(draw: st.DrawFn) -> str:
    """A file with what the gate reasons about beyond single constructions: several methods of which
    some are clean, parameter creations, config reads, rebound aliases, mask constants, module-level
    docstring constants and data tables, expression statements and aliases."""
    lines = [
        '"""Generated."""',
        "import functools",
        "import flax.linen as nn",
        "import jax.numpy as jnp",
        "from flax import nnx",
        "from flax.linen.dtypes import promote_dtype",
        "import other",
        'DOC = "a" "b"',
        "print(DOC)",
        "Alias = nn.Dense",
        "Half = functools.partial(nn.Dense, param_dtype=jnp.bfloat16)",
        *draw(st.lists(st.sampled_from(DATA_TABLES), unique=True)),
    ]
    fields = [
        "",
        "    dtype: str = 'bfloat16'",
        "    config: object = None",
        # data in the class body (flaxprec.gate._is_literal): stubs in a slice
        "    dtype: str = 'bfloat16'\n    TABLE = [(1, 2.5), (3, -1e9)]\n    SIZES = A = (4, 8)",
    ]

    def statement(draw: st.DrawFn) -> str:
        snippet = draw(st.sampled_from(SNIPPETS))
        return snippet.format(i="        ", dtype=draw(st.sampled_from(DTYPE_ARGS)))

    lines += module_classes(draw, 3, (1, 3), fields, "self, x, init, key, config=None", statement)
    return "\n".join(lines) + "\n"


def module_classes(
    draw: st.DrawFn,
    most: int,
    methods: tuple[int, int],
    fields: list[str],
    parameters: str,
    statement: Callable[[st.DrawFn], str],
) -> list[str]:
    """Up to ``most`` Module classes ``M0``, ``M1``... (each inheriting from ``nn.Module`` or from one before
    it, with one of ``fields``), each with ``methods`` methods ``m0(parameters)``... of 1-3 ``statement``s."""
    lines: list[str] = []
    for number in range(draw(st.integers(1, most))):
        field = draw(st.sampled_from(fields))
        base = draw(st.sampled_from(["nn.Module", *(f"M{n}" for n in range(number))]))
        lines += ["", "", f"class M{number}({base}):", field or '    """Doc."""']
        for method in range(draw(st.integers(*methods))):
            lines += ["", f"    def m{method}({parameters}):"]
            lines += ["        " + statement(draw) for _ in range(draw(st.integers(1, 3)))]
            lines.append("        return x")
    return lines


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gate_module_source())
def test_generated_gate_cases(source: str) -> None:
    _same_both_ways(Checker(), [Unit("generated.py", source, "generated")])


# Statements that read, rebind or hide a parameter held by ``w`` (flaxprec.gate_params): in any order and
# nesting, the gate clears the class only when the analysis cannot report an upcast of it. Reads that end
# the parameter's flow come three times over, so that cleared classes are common.
PARAM_ENDS = (
    "x, w = promote_dtype(x, w, dtype=self.dtype)",
    "w = promote_dtype(w)[0]",
    "y = self.helper(x, w)",
    "z = promote_dtype(w)",
)
PARAM_USES = (
    *PARAM_ENDS * 3,
    "x = x * w",
    "x = jnp.dot(x, w)",
    "v = jnp.reshape(w, (4,))",
    "x = x + v",
    "w = w.astype(jnp.float32)",
    "w *= x",
    "w *= self.mask",
    "w *= self.scale",
    "self.scale = x",
    "w *= 2",
    "w = x",
    "a, *w = promote_dtype(x, w)",
    "(w, a) = (x, w)",
    "f = lambda: x * w",
    "x = x * f()",
    "y = [w for w in promote_dtype(x)]",
    "y = (w := promote_dtype(w)[0])",
    "for w in promote_dtype(x): pass",
    "with promote_dtype(x) as w: pass",
    "del w",
    "import w",
    "v: object = w",
)


@st.composite
def param_flow_source(draw: st.DrawFn) -> str:
    """One Module method that creates ``w`` with ``self.param`` (maybe again later) and then reads, rebinds
    or hides it in drawn statements, some under ``if``/``for``/``with``/``try``, some in a nested function."""
    creation = 'w = self.param("w", init, (4,){dtype})'
    body = [creation.format(dtype=draw(st.sampled_from(("", ", jnp.float32", ", self.dtype"))))]
    for _ in range(draw(st.integers(1, 6))):
        statement = draw(st.sampled_from((creation, *PARAM_USES)))
        statement = statement.format(dtype=draw(st.sampled_from(("", ", jnp.float32", ", self.dtype"))))
        wrapper = draw(st.sampled_from(("", "if x is None:", "for i in x:", "with x:", "try:", "def g():")))
        if not wrapper:
            body.append(statement)
        else:
            body += [wrapper, "    " + statement]
            if wrapper == "try:":
                body += ["except Exception:", "    pass"]
            if wrapper == "def g():":
                body.append("x = g()")
    return layer_source("\n".join([*body, "return x"]))


# Values that methods pass to each other through ``self`` (the analysis's only channel between them):
# parameters, activations and float32 constants stored in one method and combined, masked or cast in
# another, so that the gate's choice of a suspect class's members (flaxprec.gate.plan) is put to the test.
ATTR_STATEMENTS = (
    'self.w = self.param("w", init, (4,){dtype})',
    "self.w = nnx.Param(jnp.ones((4,){dtype}))",
    "self.s = x",
    "self.s = jnp.zeros((4,))",
    "self.s = self.w",
    "x = x * self.w",
    "x = self.w.value * x",
    "x = jnp.where(x > 0, self.s, -1e9)",
    "x = x + self.s * 2",
    "x = x * self.s",
    "x = x - 1e9",
    "y = self.m0(x)",
    'w = self.param("v", init, (4,){dtype})\n        x = x * w',
    "pass",
)


@st.composite
def attr_flow_source(draw: st.DrawFn) -> str:
    """Module classes (some inheriting from the one before) whose methods store and read ``self`` values."""

    def statement(draw: st.DrawFn) -> str:
        return draw(st.sampled_from(ATTR_STATEMENTS)).format(
            dtype=draw(st.sampled_from(("", ", jnp.float32")))
        )

    fields = ["    dtype: str = 'bfloat16'"]
    lines = [HEADER.rstrip("\n"), "from flax import nnx"]
    return "\n".join([*lines, *module_classes(draw, 2, (2, 4), fields, "self, x, init", statement)]) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attr_flow_source())
def test_generated_attribute_flows(source: str) -> None:
    _same_both_ways(Checker(), [Unit("generated.py", source, "generated")])


def layer_source(body: str) -> str:
    """A Module with a compute dtype, a helper method, and ``body`` as its ``__call__(self, x, init)``."""
    return (
        HEADER
        + "from flax.linen.dtypes import promote_dtype\n"
        + textwrap.dedent(
            """
        class Layer(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            def helper(self, x, w):
                return x

            def __call__(self, x, init):
        {body}
        """
        ).format(body=textwrap.indent(body, " " * 8))
    )


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(param_flow_source())
def test_generated_param_flows(source: str) -> None:
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
        "partial(nn.Dense, 4)",  # a partial without dtype inside a module
        "self.param('w', init, (4,), jnp.bfloat16)",  # FLX004
        "self.param('w', init, (4,), dtype=self.dtype)",  # FLX004, by keyword
        "self.param('w', init, *kw)",  # FLX004 cannot be ruled out
        "nnx.Param(jnp.ones((4,), self.dtype))",  # FLX004 in an array constructor
        "nnx.Param(init(key, (4,), jnp.float16))",  # FLX004 at an unknown callee's third argument
        "nnx.Param(value=jnp.ones((4,), self.dtype))",  # the array by keyword
        "bare(4)",  # a local partial alias without dtype
        "tied(4, dtype=self.dtype)",  # a partial alias passing param_dtype=<the compute dtype>
        "either(4, dtype=self.dtype)",  # bound two ways: the gate cannot tell which
        "late(4)",  # ``late = early`` before ``early = late``: the analysis meets ``early = nn.Dense`` first
    ],
)
def test_what_the_gate_keeps(line: str) -> None:
    source = (
        HEADER
        + "from flax import nnx\n"
        + textwrap.dedent(
            f"""
        class Kept(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            @nn.compact
            def __call__(self, x, kw, init, key):
                local = partial(nn.Dense, use_bias=False, dtype=self.dtype)
                bare = partial(local, use_bias=True)
                tied = partial(nn.Dense, param_dtype=self.dtype)
                either = nn.Dense if x else kw
                either = kw
                early = nn.Dense
                early = late
                late = early
                return {line}
        """
        )
    )
    assert _suspects(source) == ["Kept"]


@pytest.mark.parametrize(
    "line",
    [
        "local(4)",  # the partial passes dtype
        "local(4, param_dtype=jnp.float32)",
        "self.param('w', init, (4,), self.param_dtype)",  # created in the param dtype
        "self.param('w', init, (4,))",  # default float32
        "nnx.Param(jnp.zeros((4,)))",  # no dtype: float32
        "nnx.Param(jnp.full((4,), 0.0, jnp.float32))",
        "jax.lax.convert_element_type(x, jnp.bfloat16)",  # not a layer
        "convert(x)",  # a partial of a non-layer
    ],
)
def test_what_the_gate_clears(line: str) -> None:
    source = (
        HEADER
        + "import jax\nfrom flax import nnx\n"
        + textwrap.dedent(
            f"""
        class Cleared(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            @nn.compact
            def __call__(self, x, init):
                local = partial(nn.Dense, use_bias=False, dtype=self.dtype)
                convert = partial(jax.lax.convert_element_type, new_dtype=jnp.bfloat16)
                return {line}
        """
        )
    )
    assert _suspects(source) == []
    calls_rules = {f"FLX00{n}" for n in range(1, 7)}
    assert [d for d in Checker().check_source(source, "case.py") if d.code in calls_rules] == []


TIED_ACROSS = """\
class Decoder(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16

    def setup(self):
        self.shared = nn.Embed(10, 4)
        self.other = nn.Embed(10, 4)

    def __call__(self, ids):
        out = self.shared
        return out.attend(self.shared(ids))


class Encoder(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16
    shared: nn.Module = None

    def __call__(self, ids):
        return self.shared(ids).astype(self.dtype)


class Unrelated(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16

    def __call__(self, ids):
        return nn.Dense(4, dtype=self.dtype)(ids)
"""


def test_attend_keeps_every_statement_naming_the_embedding() -> None:
    """``out.attend`` makes ``shared`` (through ``out = self.shared``) a tied embedding: its finding depends
    on its lookups, wherever they are, so every statement mentioning ``shared`` is kept whole."""
    source = HEADER + TIED_ACROSS
    checker = Checker()
    unit = Unit("case.py", source, "case")
    index = checker.index_units([unit])
    assert unit.sketch is not None
    assert [s.name for s in unit.sketch if s.tied] == ["Decoder", "Encoder"]
    assert plan(unit.sketch, index) == {3: None, 4: None}
    found = checker.diagnose(unit, index, sliced=True)[1]
    assert [(d.code, d.location.row, d.location.column) for d in found] == [
        ("FLX001", 8, 23),  # tied: its lookups are cast in Encoder but not in Decoder
        ("FLX001", 9, 22),
    ]
    assert "lookups stay float32" in found[0].message and "lookups" not in found[1].message
    assert _key(found) == _key(checker.diagnose(unit, index)[1])


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


def test_a_class_suspected_for_its_calls_keeps_only_those_methods() -> None:
    source = HEADER + textwrap.dedent(
        """
        DOC = (
            "a docstring constant"
            "on two lines"
        )
        print(DOC)


        class Block(nn.Module):
            \"\"\"Docstring.\"\"\"

            dtype: jnp.dtype = jnp.bfloat16

            @nn.nowrap
            def helper(self):
                return nn.Dense(4, dtype=self.dtype)

            def setup(self):
                self.out = nn.Dense(4)

            def __call__(self, x):
                return self.out(x)
        """
    )
    checker = Checker()
    unit = Unit("case.py", source, "case")
    index = checker.index_units([unit])
    assert unit.sketch is not None
    chosen = plan(unit.sketch, index)
    assert chosen == {5: frozenset({3})}  # Block, and of its body only ``setup``
    piece = slice_source(source, unit.sketch, chosen)
    # ``partial`` and ``DOC`` are mentioned nowhere in what is copied: neither their import nor a stub.
    assert piece.text == "import flax.linen as nn\nimport jax.numpy as jnp\n" + textwrap.dedent(
        """\
        class Block(nn.Module):
            \"\"\"Docstring.\"\"\"
            dtype: jnp.dtype = jnp.bfloat16
            def helper(): pass
            def setup(self):
                self.out = nn.Dense(4)
            def __call__(): pass
        """
    )
    assert piece.lines == (1, 2, 12, 13, 15, 17, 21, 22, 24)
    found = checker.diagnose(unit, index, sliced=True)[1]
    assert [(d.code, d.location.row, d.location.column) for d in found] == [("FLX001", 22, 20)]
    assert _key(found) == _key(checker.diagnose(unit, index)[1])


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ("return nn.Dense(4)(x)", False),  # no compute dtype anywhere: nothing to forward
        ("c = self.config\n        assert c.dtype\n        return nn.Dense(4)(x)", True),  # a local config
        ("assert config.dtype\n        return nn.Dense(4)(x)", True),  # a config parameter
        ("assert x.dtype\n        return nn.Dense(4)(x)", False),  # an activation's dtype is no config
    ],
)
def test_missing_dtype_needs_a_compute_dtype(body: str, kept: bool) -> None:
    source = HEADER + textwrap.dedent(
        """
        class Plain(nn.Module):
            config: object

            def __call__(self, x, config=None):
                {body}
        """
    ).format(body=body)
    assert _suspects(source) == (["Plain"] if kept else [])
    found = [d.code for d in Checker().check_source(source, "case.py")]
    assert found == (["FLX001"] if kept else [])


def test_an_import_rebound_at_module_level_stays_resolved() -> None:
    """``nn = wrap(nn)``: the analysis keeps resolving ``nn`` through its import (an opaque rebinding
    binds nothing it follows), so the gate must not clear ``nn.Dense`` (it once did)."""
    source = textwrap.dedent(
        """\
        import flax.linen as nn
        import jax.numpy as jnp

        nn = wrap(nn)


        class M(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            @nn.compact
            def __call__(self, x):
                return nn.Dense(4)(x)
        """
    )
    checker = Checker()
    unit = Unit("case.py", source, "case")
    index = checker.index_units([unit])
    sliced = checker.diagnose(unit, index, sliced=True)[1]
    assert [(d.code, d.location.row) for d in sliced] == [("FLX001", 12)]
    assert _key(sliced) == _key(checker.diagnose(unit, index)[1])


def _whole_file_codes(source: str) -> list[str]:
    """The codes the analysis of the whole file (no gate) finds; the sliced analysis must find the same."""
    checker = Checker()
    unit = Unit("case.py", source, "case")
    index = checker.index_units([unit])
    whole = checker.diagnose(unit, index)[1]
    assert _key(checker.diagnose(unit, index, sliced=True)[1]) == _key(whole)
    return [d.code for d in whole]


def _param_suspects(source: str) -> list[str | None]:
    checker = Checker()
    unit = Unit("case.py", textwrap.dedent(source), "case")
    index = checker.index_units([unit])
    assert unit.sketch is not None
    chosen = plan(unit.sketch, index, frozenset({"params"}))
    assert chosen is not None
    return [unit.sketch[i].name for i in sorted(chosen)]


@pytest.mark.parametrize(
    ("shape", "kept", "found"),
    [
        ("(self.vocab_size,)", False, []),  # the logits' bias: the analysis does not follow it
        ("(self.config.VOCAB,)", False, []),
        ("(4,)", True, ["FLX007"]),
        ("(4,  # vocab\n)", False, []),  # the tuple's parentheses, and the comment, are the node's
        ("(4  # vocab\n)", True, []),  # parentheses around a number are not the node's: libcst's text only
        ("*(vocab_size,)", True, ["FLX007"]),  # ``*args`` are not counted: no third positional argument
        ("*a, (vocab_size,)", False, []),  # ... so this is the third
        ("**vocab", True, ["FLX007"]),
    ],
)
def test_a_logits_parameter_needs_no_analysis(shape: str, kept: bool, found: list[str]) -> None:
    source = HEADER + textwrap.dedent(
        """
        class Head(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            def setup(self):
                self.bias = self.param("bias", nn.initializers.zeros, {shape})

            def __call__(self, x):
                return x + self.bias
        """
    ).format(shape=shape)
    assert _param_suspects(source) == (["Head"] if kept else [])
    assert _whole_file_codes(source) == found


@pytest.mark.parametrize(
    ("arguments", "kept", "found"),
    [
        ('"logit_scale", init, (4,)', False, []),  # the logits' scale: the analysis does not follow it
        ('("Logits"), init, (4,)', False, []),
        ('b"logit", init, (4,)', False, []),
        ('name="logit_bias", init_fn=init, shape=(4,)', False, []),
        ('"scale", init, (4,)', True, ["FLX007"]),
        ('"logit" "_scale", init, (4,)', True, ["FLX007"]),  # two literals: libcst reads no name there
        ('f"logit_scale", init, (4,)', True, ["FLX007"]),
        ("*names, init, (4,)", True, ["FLX007"]),  # ``*args`` are not counted: ``init`` is the name
    ],
)
def test_a_logits_parameter_by_its_name(arguments: str, kept: bool, found: list[str]) -> None:
    source = HEADER + textwrap.dedent(
        """
        class Scaled(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            def __call__(self, x, init, names):
                return x * self.param({arguments})
        """
    ).format(arguments=arguments)
    assert _param_suspects(source) == (["Scaled"] if kept else [])
    assert _whole_file_codes(source) == found


@pytest.mark.parametrize(
    ("literal", "one"),
    [
        ('"logit"', True),
        ("r'\\''", True),  # a backslash keeps a raw string open too
        ('"""it\'s "a" ""\\"\n"""', True),
        ("b'x'", True),
        ('"a" "b"', False),
        ('"a"  # comment\n    "b"', False),
        ("'''a''' 'b'", False),
        ("u'a' r'b'", False),
    ],
)
def test_one_string_literal(literal: str, one: bool) -> None:
    import ast

    from flaxprec.gate import _one_literal, _Source

    text = f"x = (\n    {literal}\n)\n"
    node = ast.parse(text).body[0].value  # type: ignore[attr-defined]
    assert _one_literal(node, _Source(text)) is one
    assert _one_literal(node, _Source(None)) is False  # without the text: never claimed


@pytest.mark.parametrize(
    ("body", "kept", "found"),
    [
        # flax's own form: the parameter meets only promote_dtype, whose result carries no parameter.
        ("x, w = promote_dtype(x, w, dtype=self.dtype)\nreturn x * w", False, []),
        ("y = self.helper(x, w)\nreturn x * y", False, []),  # a method of the module: opaque
        ("if x is None:\n    w = promote_dtype(w)[0]\nreturn x * w", False, []),  # rebound in a branch
        ("w = promote_dtype(w)[0]\ndef inner(w):\n    return w\nreturn inner(x) * w", False, []),
        ("return x * w", True, ["FLX007"]),
        ("return jnp.dot(x, w)", True, ["FLX007"]),  # an array function combines its arguments
        ("v = jnp.reshape(w, (4,))\nreturn x * v", True, ["FLX007"]),  # ... or keeps its first
        # A cast to float32 keeps it a suspect for the gate; FLX007 takes it as float32 on purpose (issue 20).
        ("return x * jnp.asarray(w, jnp.float32)", True, []),
        ("w *= x\nreturn promote_dtype(w)[0]", True, ["FLX007"]),  # ``+=`` combines
        ("for w in promote_dtype(w):\n    pass\nreturn x * w", True, ["FLX007"]),  # a loop binds nothing
        ("if (w := promote_dtype(w)[0]) is None:\n    pass\nreturn x * w", True, ["FLX007"]),
        ("a, *w = promote_dtype(x, w)\nreturn x * w", False, []),  # a starred name is rebound too
        ("a, (w, b) = x, promote_dtype(w, x)\nreturn x * w", True, ["FLX007"]),  # a nested one is not
        ("def inner():\n    return x * w\nreturn inner()", True, ["FLX007"]),  # a nested function reads it
        ("def inner(v=w):\n    return v\nreturn promote_dtype(w)[0] * inner()", True, []),
        ("f = lambda: x * w\nreturn promote_dtype(w)[0] * f()", True, []),
        # flax's masked convolutions: a field (no statement stores it) or a number is a constant there.
        (
            "if self.mask is not None:\n    w *= self.mask\nx, w = promote_dtype(x, w)\nreturn x * w",
            False,
            [],
        ),
        ("w *= -2.0\nreturn promote_dtype(w)[0]", False, []),
        ("w *= self.mask\nreturn x * w", True, ["FLX007"]),  # still a parameter after the constant
        (
            "self.mask = x\nw *= self.mask\nreturn promote_dtype(w)[0]",
            True,
            ["FLX007"],
        ),  # stored: activations
        ("w *= self.mask\nself.mask = x\nreturn promote_dtype(w)[0]", True, []),  # stored (later): kept
        ("w *= -x\nreturn promote_dtype(w)[0]", True, ["FLX007"]),
    ],
)
def test_a_parameter_that_only_meets_promote_dtype(body: str, kept: bool, found: list[str]) -> None:
    source = layer_source('w = self.param("w", init, (4,))\n' + body)
    assert _param_suspects(source) == (["Layer"] if kept else [])
    assert _whole_file_codes(source) == found


def test_a_slice_keeps_the_imports_and_stubs_it_mentions() -> None:
    """An import or stub stays when a copied statement mentions one of its names (shadowing included:
    ``Base`` is both imported and defined, and both bindings stay in order); ``jnp`` always stays (fixes
    write it), ``__future__`` and ``*`` imports too."""
    source = textwrap.dedent(
        """\
        from __future__ import annotations
        import flax.linen as nn
        import jax.numpy as jnp
        import numpy as np, math
        from lib import *
        from other import Base, unused
        import os; TITLE = "x"


        class Base(nn.Module):
            pass


        class Unused(nn.Module):
            pass


        def helper():
            return np.zeros(3)


        class Model(nn.Module):
            dtype: str = "bfloat16"

            def __call__(self, x):
                return nn.Dense(4)(Base()(x)) * math.pi
        """
    )
    checker = Checker()
    unit = Unit("case.py", source, "case")
    index = checker.index_units([unit])
    assert unit.sketch is not None
    chosen = plan(unit.sketch, index)
    piece = slice_source(source, unit.sketch, chosen)  # type: ignore[arg-type]
    assert piece.text == textwrap.dedent(
        """\
        from __future__ import annotations
        import flax.linen as nn
        import jax.numpy as jnp
        import numpy as np, math
        from lib import *
        from other import Base, unused
        import os; TITLE = "x"
        class Base: pass
        class Model(nn.Module):
            dtype: str = "bfloat16"
            def __call__(self, x):
                return nn.Dense(4)(Base()(x)) * math.pi
        """
    )
    assert piece.lines == (1, 2, 3, 4, 5, 6, 7, 10, 22, 23, 25, 26)
    found = checker.diagnose(unit, index, sliced=True)[1]
    assert [(d.code, d.location.row, d.location.column) for d in found] == [("FLX001", 26, 16)]
    assert _key(found) == _key(checker.diagnose(unit, index)[1])


ATTRIBUTE_CASES = {
    # setup stores a float32 constant that __call__ masks with: no finding, and setup must stay for that.
    "huge": (
        """
        class M(nn.Module):
            dtype: str = "bfloat16"

            def setup(self):
                self.s = jnp.zeros((4,))

            def helper(self, x):
                return x * 2

            def __call__(self, x):
                return jnp.where(x > 0, self.s, -1e9)
        """,
        frozenset({"huge-constants"}),
        {"M": ["setup", "__call__"]},
        [],
    ),
    # A parameter stored in setup and combined in __call__; the helper computes nothing from self.
    "params": (
        """
        class M(nn.Module):
            dtype: str = "bfloat16"

            def setup(self):
                self.w = self.param("w", nn.initializers.ones, (4,))

            def helper(self, x):
                return x * 2

            def __call__(self, x):
                return x * self.w
        """,
        frozenset({"params"}),
        {"M": ["setup", "__call__"]},
        ["FLX007"],
    ),
    # The subclass reads what its base stored last (a float32 constant): the base comes along.
    "base": (
        """
        class Base(nn.Module):
            dtype: str = "bfloat16"

            def m0(self, x):
                self.s = x
                return x

            def m1(self, x):
                self.s = jnp.zeros((4,))
                return x

            def helper(self, x):
                return x * 2


        class Sub(Base):
            def __call__(self, x):
                return jnp.where(x > 0, self.s, -1e9)
        """,
        frozenset({"huge-constants"}),
        {"Base": ["m0", "m1"], "Sub": ["__call__"]},
        [],
    ),
}


@pytest.mark.parametrize("case", sorted(ATTRIBUTE_CASES))
def test_a_suspect_class_keeps_the_members_that_pass_values_through_self(case: str) -> None:
    """FLX007 and FLX106 judge a class from the members creating its parameters or holding its constants,
    those binding or reading values on ``self``, and its bases in the file; the other members are stubs."""
    source, gates, kept, found = ATTRIBUTE_CASES[case]
    source = HEADER + textwrap.dedent(source)
    checker = Checker()
    unit = Unit("case.py", source, "case")
    index = checker.index_units([unit])
    assert unit.sketch is not None
    chosen = plan(unit.sketch, index, gates)
    members = {
        unit.sketch[i].name: [unit.sketch[i].members[m].name for m in sorted(chosen[i] or ())] for i in chosen
    }
    assert members == kept
    assert _whole_file_codes(source) == found
