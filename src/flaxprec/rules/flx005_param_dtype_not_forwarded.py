"""FLX005 param-dtype-not-forwarded: the module declares ``param_dtype`` but a child layer does not get it.

A ``param_dtype`` field that is not passed down has no effect: children store their parameters in their own
default (float32), whatever the user configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix, SetKeyword
from flaxprec.rules.base import Rule, RuleContext, not_forwarded

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for construction in model.constructions:
        expr = not_forwarded(construction, "param_dtype")
        if expr is None:
            continue
        owner = construction.owner
        assert owner is not None
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
    gate="calls",
)
