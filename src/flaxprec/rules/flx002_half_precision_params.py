"""FLX002 half-precision-params: ``param_dtype`` is a half type or the compute dtype.

Master weights stored in bfloat16/float16 lose small optimizer updates (they underflow against the
weight's magnitude). The t5x convention stores parameters in float32 and casts them at use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix, ReplaceNode
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
    if context.allow_half_params:
        return
    for construction in model.constructions:
        arg = construction.argument("param_dtype")
        if arg is None:
            continue
        kind = dtype_kind(model, construction.owner, arg.value)
        if kind not in (DtypeKind.HALF, DtypeKind.COMPUTE):
            continue
        if is_swapped(effective_dtype_kind(model, construction), kind):
            continue  # swapped: FLX003 reports and fixes both in one edit
        written = source(model, arg.value)
        what = "half precision" if kind is DtypeKind.HALF else "the compute dtype"
        message = (
            f"`param_dtype={written}` stores the parameters of `{construction.callee}` in {what}: "
            "small optimizer updates underflow; keep master weights in float32"
        )
        owner_param = construction.owner.param_dtype if construction.owner else None
        if owner_param is not None and owner_param == written:
            owner_param = None
        storage = param_storage_expr(model, owner_param, arg.value)
        fix = None
        if storage is not None:
            op = set_argument(construction, "param_dtype", storage[0])
            edit = CallEdit(construction.call, (op,), construction.call_signature())
            # Safe only where it forwards the storage dtype the Module declares: float32 in its place is the
            # fix's own choice of a storage dtype, which the author confirms (issue 14).
            declared = owner_param is not None
            applicability = Applicability.SAFE if declared else Applicability.UNSAFE
            fix = Fix(f"Store parameters in `{storage[0]}`", applicability, (edit,), storage[1])
        yield RULE.report(model, arg.value, message, construction.statement, fix)
    yield from _fills(model, context)


def _fills(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    """``weight_dtype=cfg.dtype`` given to a child, or ``self.weight_dtype = self.config.dtype``: a storage
    dtype (by its use or its name, flaxprec.roles) given the compute dtype or a half type (MaxText #470)."""
    for fill in model.storage_fills:
        kind = dtype_kind(model, fill.owner, fill.value)
        if kind not in (DtypeKind.HALF, DtypeKind.COMPUTE):
            continue
        written = source(model, fill.value)
        what = "half precision" if kind is DtypeKind.HALF else "the compute dtype"
        how = f"`{fill.name}={written}`" if fill.call is not None else f"`{fill.name}` is set to `{written}`"
        message = (
            f"{how}: the parameters stored in `{fill.name}` are in {what}; small optimizer updates "
            "underflow; keep master weights in float32"
        )
        own = fill.owner.param_dtype
        # Forward the Module's own storage dtype; not into itself (``self.weight_dtype = self.weight_dtype``).
        itself = fill.call is None and own is not None and own.rpartition(".")[2] == fill.name
        declared = own is not None and not itself and own != written
        storage = param_storage_expr(model, own if declared else None, fill.value)
        fix = None
        if storage is not None:
            applicability = Applicability.SAFE if declared else Applicability.UNSAFE
            edit = ReplaceNode(fill.value, storage[0])
            fix = Fix(f"Store parameters in `{storage[0]}`", applicability, (edit,), storage[1])
        yield RULE.report(model, fill.value, message, fill.statement, fix)


RULE = Rule(
    code="FLX002",
    name="half-precision-params",
    summary="Parameters stored in half precision (`param_dtype` is bf16/fp16 or the compute dtype)",
    check=check,
    gate="calls",
)
