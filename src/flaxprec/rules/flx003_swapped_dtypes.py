"""FLX003 swapped-dtypes: ``dtype`` and ``param_dtype`` are the wrong way round.

``dtype`` is the computation dtype and ``param_dtype`` the storage dtype. ``dtype=float32`` (or None) with a
half ``param_dtype`` stores bf16 weights and computes in float32: the exact opposite of mixed precision.
Code written for flax <= 0.3.6, where ``Embed(dtype=...)`` set the parameter dtype, often looks like this.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix
from flaxprec.dtypes import DtypeKind
from flaxprec.rules.base import (
    Rule,
    RuleContext,
    dtype_kind,
    effective_dtype_kind,
    is_swapped,
    param_storage_expr,
    set_argument,
    source,
)

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for construction in model.constructions:
        dtype_arg, param_arg = construction.argument("dtype"), construction.argument("param_dtype")
        if param_arg is None or (dtype_arg is None and construction.passes("dtype")):
            continue
        owner = construction.owner
        dtype = effective_dtype_kind(model, construction)
        param = dtype_kind(model, owner, param_arg.value)
        if not is_swapped(dtype, param):
            continue
        dtype_text = source(model, dtype_arg.value) if dtype_arg is not None else "None"
        param_text = source(model, param_arg.value)
        given = f"computation dtype `{dtype_text}`" if dtype_arg is not None else "no computation dtype"
        message = (
            f"`{construction.callee}` has `dtype` and `param_dtype` swapped: parameters stored in "
            f"`{param_text}`, {given}"
        )
        new_param: tuple[str, tuple] | None = (dtype_text, ())
        if dtype is DtypeKind.NONE:
            new_param = param_storage_expr(model, owner.param_dtype if owner else None, param_arg.value)
        fix = None
        if new_param is not None:
            ops = (
                set_argument(construction, "dtype", param_text),
                set_argument(construction, "param_dtype", new_param[0]),
            )
            edit = CallEdit(construction.call, ops, construction.call_signature())
            fix = Fix("Swap `dtype` and `param_dtype`", Applicability.SAFE, (edit,), new_param[1])
        yield RULE.report(model, construction.call, message, construction.statement, fix)


RULE = Rule(
    code="FLX003",
    name="swapped-dtypes",
    summary="`dtype` (computation) and `param_dtype` (storage) swapped",
    check=check,
    gate="calls",
)
