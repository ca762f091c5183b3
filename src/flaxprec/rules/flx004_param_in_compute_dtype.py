"""FLX004 param-in-compute-dtype: a hand-made parameter created in half precision or the compute dtype.

``self.param("scale", init, shape, self.dtype)`` stores the parameter in bf16 when the model computes in
bf16: the master weight loses small updates (MaxText PR #470 fixed exactly this). Create it in the param
dtype and cast where it is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix, ReplaceArgument, SetKeyword
from flaxprec.dtypes import DtypeKind
from flaxprec.roles import Role
from flaxprec.rules.base import Rule, RuleContext, dtype_kind, param_storage_expr, source

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for creation in model.params:
        kind = dtype_kind(model, creation.owner, creation.arg.value)
        if context.allow_half_params or kind not in (DtypeKind.HALF, DtypeKind.COMPUTE):
            continue
        written = source(model, creation.arg.value)
        what = "half precision"
        evidence = creation.owner.evidence_for(written) if kind is DtypeKind.COMPUTE else None
        if kind is DtypeKind.COMPUTE:
            what = "the compute dtype" if evidence is None else f"the compute dtype: {evidence.why_compute()}"
        message = (
            f"Parameter created in `{written}` ({what}): it is stored that way and loses small updates; "
            "create it in the param dtype and cast it where it is used"
        )
        storage = param_storage_expr(model, creation.owner.param_dtype, creation.arg.value)
        fix = None
        if storage is not None:
            if creation.positional_index is not None:
                op = ReplaceArgument(storage[0], index=creation.positional_index)
            else:
                op = SetKeyword("dtype", storage[0])
            edit = CallEdit(creation.call, (op,))
            # Safe only where the Module declares its storage dtype: the fix then forwards it. Without
            # one, float32 is the fix's own choice of storage dtype (a field meant for storage under
            # another name, an int8 kernel): the author must confirm it (issue 14).
            declared = creation.owner.param_dtype is not None
            applicability = Applicability.SAFE if declared else Applicability.UNSAFE
            # A value the module both computes and stores with, without a storage dtype of its own to
            # forward: the evidence conflicts, so the finding stands but nothing is rewritten.
            conflicting = evidence is not None and evidence.role is Role.BOTH
            if not (conflicting and not declared):
                fix = Fix(f"Create the parameter in `{storage[0]}`", applicability, (edit,), storage[1])
        yield RULE.report(model, creation.arg.value, message, creation.statement, fix)


RULE = Rule(
    code="FLX004",
    name="param-in-compute-dtype",
    summary="Parameter created in half precision or in the compute dtype",
    check=check,
    gate="calls",
)
