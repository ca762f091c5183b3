"""FLX005 param-dtype-not-forwarded: the module declares ``param_dtype`` but a child layer does not get it.

A ``param_dtype`` field that is not passed down has no effect: children store their parameters in their own
default (float32), whatever the user configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix, SetKeyword
from flaxprec.rules.base import Rule, RuleContext


def _applies(construction: Construction) -> bool:
    owner = construction.owner
    if not construction.spec.has_param_dtype or owner is None or owner.param_dtype is None:
        return False
    if construction.passes("param_dtype") or construction.opaque:
        return False
    origin = construction.partial_origin
    return not (origin is not None and origin.owner is not None and origin.owner.param_dtype is not None)


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for construction in model.constructions:
        if not _applies(construction):
            continue
        owner = construction.owner
        assert owner is not None and owner.param_dtype is not None
        expr = owner.param_dtype
        message = (
            f"`{construction.callee}` built without `param_dtype`: `{owner.facts.name}` declares one "
            f"(`{expr}`) but this layer never receives it"
        )
        edit = CallEdit(construction.call, (SetKeyword("param_dtype", expr),))
        fix = Fix(f"Add `param_dtype={expr}`", Applicability.SAFE, (edit,))
        yield RULE.report(model, construction.call, message, construction.statement, fix)


RULE = Rule(
    code="FLX005",
    name="param-dtype-not-forwarded",
    summary="Module declares `param_dtype` but does not pass it to a child layer",
    check=check,
    gated=True,
)

if TYPE_CHECKING:
    from flaxprec.analysis import Construction, FileModel
