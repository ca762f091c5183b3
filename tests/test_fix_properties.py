"""Property tests of ``fix`` over generated Flax modules (issue #3).

Fixtures test the cases we thought of; this generator composes the ingredients that make fixes interact
(positional and keyword dtypes, every spelling of a dtype, partials, nested constructions, exploded calls
with comments, files with and without a ``jax.numpy`` import) and checks what must hold for any input:
the fixed code parses, fixing it again changes nothing, and no finding with a safe fix is left.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaxprec.engine import Checker
from flaxprec.fixer import fix_source


@dataclass(frozen=True)
class Layer:
    """A layer: its required arguments, and the positional arguments up to ``dtype`` (linen field order)."""

    linen: str
    nnx: str
    required: tuple[str, ...]  # linen arguments without a default
    positional: tuple[str, ...]  # sample values of every linen parameter before ``dtype`` (() for Conv)
    nnx_args: tuple[str, ...]


LAYERS = (
    Layer("nn.Dense", "nnx.Linear", ("4",), ("4", "True"), ("d", "d")),
    Layer("nn.DenseGeneral", "nnx.LinearGeneral", ("4",), ("4", "-1", "()", "True"), ("d", "d")),
    Layer("nn.Embed", "nnx.Embed", ("10", "4"), ("10", "4"), ("10", "d")),
    Layer("nn.LayerNorm", "nnx.LayerNorm", (), ("1e-6",), ("d",)),
    Layer("nn.RMSNorm", "nnx.RMSNorm", (), ("1e-6",), ("d",)),
    Layer("nn.Conv", "nnx.Conv", ("4", "(3,)"), (), ("d", "d", "(3,)")),
)
COMMENTS = ("# a comment", "# dtype=jnp.bfloat16 in a comment", "# é 中文")


@dataclass(frozen=True)
class Fields:
    nnx: bool
    dtype: bool
    param_dtype: bool
    jnp: bool

    def values(self) -> list[str]:
        """Spellings of a dtype valid in this module (what ``dtype=``/``param_dtype=`` may receive)."""
        values = ["None", '"bfloat16"', '"float32"']
        if self.jnp:
            values += ["jnp.float32", "jnp.bfloat16"]
        prefix = "" if self.nnx else "self."
        if self.dtype:
            values.append(f"{prefix}dtype")
        if self.param_dtype:
            values.append(f"{prefix}param_dtype")
        return values


@st.composite
def call_args(draw: st.DrawFn, layer: Layer, fields: Fields) -> list[str]:
    """The argument sources of one construction: positional prefix, then dtype/param_dtype either way."""
    values = fields.values()
    modes = st.sampled_from(["absent", "keyword", "positional"])
    dtype_mode, param_mode = draw(modes), draw(modes)
    dtype_value, param_value = draw(st.sampled_from(values)), draw(st.sampled_from(values))
    keywords: list[str] = []
    if fields.nnx:
        args = list(layer.nnx_args)
        keywords.append("rngs=rngs")
    elif layer.positional and dtype_mode == "positional":
        args = [*layer.positional, dtype_value]
        dtype_mode = "done"
        if param_mode == "positional":
            args.append(param_value)
            param_mode = "done"
    else:
        args = list(layer.required)
    if dtype_mode in ("keyword", "positional"):
        keywords.append(f"dtype={dtype_value}")
    if param_mode in ("keyword", "positional"):
        keywords.append(f"param_dtype={param_value}")
    draw(st.randoms()).shuffle(keywords)
    return args + keywords


@st.composite
def layout(draw: st.DrawFn, callee: str, args: list[str], indent: str) -> str:
    """``callee(args)`` one-line, hugging, exploded (trailing comma or not), or exploded with comments."""
    style = draw(st.sampled_from(["one-line", "hugging", "exploded", "exploded-no-comma", "comments"]))
    inner = indent + "    "
    if style == "one-line" or not args:
        return f"{callee}({', '.join(args)})"
    if style == "hugging":
        return f"{callee}({args[0]}" + "".join(f",\n{inner}{arg}" for arg in args[1:]) + ")"
    lines = []
    for number, arg in enumerate(args):
        comma = "" if style == "exploded-no-comma" and number == len(args) - 1 else ","
        comment = (
            f"  {draw(st.sampled_from(COMMENTS))}" if style == "comments" and draw(st.booleans()) else ""
        )
        lines.append(f"{inner}{arg}{comma}{comment}")
    head = f"  {draw(st.sampled_from(COMMENTS))}" if style == "comments" else ""
    return f"{callee}({head}\n" + "\n".join(lines) + f"\n{indent})"


@st.composite
def statement(draw: st.DrawFn, fields: Fields, indent: str) -> str:
    layer = draw(st.sampled_from(LAYERS))
    callee = layer.nnx if fields.nnx else layer.linen
    args = draw(call_args(layer, fields))
    if fields.nnx:
        name = f"self.l{draw(st.integers(0, 99))}"
        return f"{indent}{name} = {draw(layout(callee, args, indent))}"
    shape = draw(st.sampled_from(["apply", "nested", "partial", "param"]))
    if shape == "partial":
        # ``functools.partial(nn.Dense, 4, ...)``: the layer becomes the first positional argument.
        built = draw(layout("functools.partial", [callee, *args], indent))
        return f"{indent}p = {built}\n{indent}x = p()(x)"
    if shape == "param":
        value = draw(st.sampled_from(fields.values()))
        spelled = draw(st.sampled_from([value, f"dtype={value}"]))
        return f'{indent}w = self.param("w", nn.initializers.ones, (4,), {spelled})\n{indent}x = x * w'
    built = draw(layout(callee, args, indent))
    if shape == "nested":
        return f"{indent}x = nn.gelu({built}(x))"
    return f"{indent}x = {built}(x)"


@st.composite
def module_source(draw: st.DrawFn) -> str:
    """A whole file: imports, then one or two Module classes with random fields and layers."""
    jnp = draw(st.booleans())
    lines = ['"""Generated."""', "", "import functools", ""]
    lines += [
        "import flax.linen as nn",
        *(["import jax.numpy as jnp"] if jnp else []),
        "from flax import nnx",
    ]
    for number in range(draw(st.integers(1, 2))):
        fields = Fields(draw(st.booleans()), draw(st.booleans()), draw(st.booleans()), jnp)
        lines += ["", ""]
        if fields.nnx:
            params = "".join(
                f", {name}={default}"
                for name, default, present in (
                    ("dtype", '"bfloat16"', fields.dtype),
                    ("param_dtype", '"float32"', fields.param_dtype),
                )
                if present
            )
            lines += [
                f"class M{number}(nnx.Module):",
                f"    def __init__(self, d: int, *{params}, rngs: nnx.Rngs):",
            ]
        else:
            lines.append(f"class M{number}(nn.Module):")
            if fields.dtype:
                lines.append('    dtype: str = "bfloat16"')
            if fields.param_dtype:
                lines.append('    param_dtype: str = "float32"')
            lines += ["", "    @nn.compact", "    def __call__(self, x):"]
        count = draw(st.integers(1, 4))
        lines += [draw(statement(fields, "        ")) for _ in range(count)]
        if not fields.nnx:
            lines.append("        return x")
    return "\n".join(lines) + "\n"


def _safe_left(text: str) -> list[str]:
    return [
        f"{d.location.row}:{d.code} {d.message}" for d in Checker().check_source(text, "gen.py") if d.fixable
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(module_source())
def test_fix_parses_is_idempotent_and_leaves_no_safe_fix(source: str) -> None:
    ast.parse(source)  # the generator itself must produce valid code
    fixed = fix_source(source, "gen.py")
    ast.parse(fixed)
    assert fix_source(fixed, "gen.py") == fixed
    assert _safe_left(fixed) == []
