"""FLX006 positional-dtype: ``dtype``/``param_dtype`` passed positionally to a linen layer.

The meaning of a positional argument depends on the field order of the installed Flax: flax 0.4.0 inserted
``param_dtype`` right after ``dtype`` and shifted every later argument. Keywords say what they mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix, PositionalToKeyword
from flaxprec.dtypes import DtypeKind, dotted
from flaxprec.rules.base import Rule, RuleContext, dtype_kind

if TYPE_CHECKING:
    from flaxprec.analysis import Construction, FileModel


def _is_dtype(model: FileModel, construction: Construction, name: str) -> bool:
    """The argument in the ``name`` slot is a dtype: spelled as one (``jnp.bfloat16``, ``"float32"``,
    ``None``, the module's compute or param dtype) or named as one (``self.weight_dtype``). A value that is
    something else (praxis's tests pass a config there on purpose, to test the error) is no finding."""
    arg = construction.argument(name)
    if arg is None:
        return False
    if dtype_kind(model, construction.owner, arg.value) is not DtypeKind.OTHER:
        return True
    written = dotted(arg.value)
    return written is not None and written.rpartition(".")[2].endswith("dtype")


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for construction in model.constructions:
        positional = {
            name: index
            for name in ("dtype", "param_dtype")
            if (index := construction.call_positional_index(name)) is not None
            and _is_dtype(model, construction, name)
        }
        if not positional:
            continue
        first_name = min(positional, key=positional.__getitem__)
        names = " and ".join(f"`{name}`" for name in positional)
        order = f"`{construction.callee}`" if construction.spec.api == "project" else "the installed Flax"
        message = (
            f"`{construction.callee}` receives {names} positionally: its meaning depends on the field order "
            f"of {order}"
        )
        signature = construction.call_signature()
        fix = None
        if len(signature) >= len(construction.positional) + (1 if construction.is_partial else 0):
            op = PositionalToKeyword(positional[first_name], first_name)
            edit = CallEdit(construction.call, (op,), signature)
            fix = Fix("Pass `dtype`/`param_dtype` as keywords", Applicability.SAFE, (edit,))
        yield RULE.report(model, construction.call, message, construction.statement, fix)


RULE = Rule(
    code="FLX006",
    name="positional-dtype",
    summary="`dtype`/`param_dtype` passed positionally",
    check=check,
    gate="calls",
)
