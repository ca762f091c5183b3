"""FLX006 positional-dtype: ``dtype``/``param_dtype`` passed positionally to a linen layer.

The meaning of a positional argument depends on the field order of the installed Flax: flax 0.4.0 inserted
``param_dtype`` right after ``dtype`` and shifted every later argument. Keywords say what they mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix, PositionalToKeyword
from flaxprec.rules.base import Rule, RuleContext

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for construction in model.constructions:
        positional = {
            name: index
            for name in ("dtype", "param_dtype")
            if (index := construction.call_positional_index(name)) is not None
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
