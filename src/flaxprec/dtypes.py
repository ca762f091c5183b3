"""Classifying a dtype expression as written in source: half, float32, None, the compute dtype...

Rules compare what was passed as ``dtype``/``param_dtype`` against the convention; this module is the one
place that knows how dtypes are spelled (``jnp.bfloat16``, ``"bfloat16"``, ``jnp.dtype("float16")``,
``self.dtype``, ``cfg.dtype``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst

HALF_NAMES = frozenset({"bfloat16", "float16", "half", "bf16", "fp16", "f2"})
# The last name of an integer or boolean dtype (``"i4"``, ``jnp.int32``, ``jnp.bool_``): casting to it is not
# a choice of float precision (``ids.astype("i4")``).
INTEGER_NAME = re.compile(r"u?int\d*|[iu]\d|bool_?")
FP32_NAMES = frozenset({"float32", "single", "fp32", "f4"})
DTYPE_MODULES = frozenset({"jax.numpy", "numpy", "ml_dtypes", "jax.dtypes"})
DTYPE_CONSTRUCTORS = frozenset({"jax.numpy.dtype", "numpy.dtype"})
# nnx's parameter wrapper under its import paths (``nnx.Param(init(key, shape, dtype))``).
NNX_PARAM_NAMES = frozenset({"flax.nnx.Param", "flax.nnx.variablelib.Param"})
# Where the dtype of a jax.numpy array function goes positionally (``jnp.ones(shape, dtype)``,
# ``jnp.asarray(x, dtype)``): read by the analysis, the gate and the dtype roles alike.
ARRAY_DTYPE_INDEX = {
    "jax.numpy.asarray": 1,
    "jax.numpy.array": 1,
    "jax.numpy.zeros": 1,
    "jax.numpy.ones": 1,
    "jax.numpy.empty": 1,
    "jax.numpy.full": 2,
    "jax.numpy.zeros_like": 1,
    "jax.numpy.ones_like": 1,
}


def logits_parameter(name: object, shape: str) -> bool:
    """A parameter that is the logits' own bias or scale, by its name (its value) or its shape (as
    written): float32 logits are the convention, so FLX007 never reports it. The analysis and the gate both
    ask here, from libcst and from ``ast``."""
    return "logit" in str(name).lower() or "vocab" in shape.lower()


class DtypeKind(enum.Enum):
    HALF = "half"
    FP32 = "float32"
    NONE = "None"
    COMPUTE = "compute"  # the enclosing module's compute dtype (self.dtype, cfg.dtype, ...)
    PARAM = "param"  # the enclosing module's param dtype (self.param_dtype)
    OTHER = "other"


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None (calls, subscripts, ...)."""
    import libcst as cst  # lazily: DtypeKind users (the rule registry) must not pay for libcst

    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def string_value(node: cst.BaseExpression) -> str | None:
    import libcst as cst

    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def integer_dtype(node: cst.BaseExpression | None) -> bool:
    """``node`` spells an integer or boolean dtype by name (as a string, or as the last part of a name)."""
    if node is None:
        return False
    name = string_value(node) or dotted(node)
    return name is not None and INTEGER_NAME.fullmatch(name.rpartition(".")[2]) is not None


def _named_kind(name: str) -> DtypeKind | None:
    if name in HALF_NAMES:
        return DtypeKind.HALF
    if name in FP32_NAMES:
        return DtypeKind.FP32
    return None


def classify(
    node: cst.BaseExpression,
    resolve: Callable[[str], str | None],
    compute_exprs: frozenset[str] = frozenset(),
    param_exprs: frozenset[str] = frozenset(),
) -> DtypeKind:
    """What ``node`` denotes. ``resolve`` maps a dotted local name to its qualified import path."""
    import libcst as cst

    if isinstance(node, cst.Name) and node.value == "None":
        return DtypeKind.NONE
    text = string_value(node)
    if text is not None:
        return _named_kind(text) or DtypeKind.OTHER
    name = dotted(node)
    if name is not None:
        if name in compute_exprs:
            return DtypeKind.COMPUTE
        if name in param_exprs:
            return DtypeKind.PARAM
        qualified = resolve(name)
        if qualified is not None:
            module, _, attr = qualified.rpartition(".")
            if module in DTYPE_MODULES:
                return _named_kind(attr) or DtypeKind.OTHER
        return DtypeKind.OTHER
    if isinstance(node, cst.Call) and node.args:
        func = dotted(node.func)
        if func is not None and resolve(func) in DTYPE_CONSTRUCTORS:
            return classify(node.args[0].value, resolve, compute_exprs, param_exprs)
    return DtypeKind.OTHER
