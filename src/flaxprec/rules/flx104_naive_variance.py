"""FLX104 naive-variance: a variance computed as E[x^2] - E[x]^2.

The two terms are close when the mean is large compared with the spread, and their difference cancels
catastrophically: float32 keeps 24 bits, so with |mean| / std around 1e3 the variance keeps about 4, and
rounding can make it negative (NaN after the square root). The two-pass form E[(x - E[x])^2], which
``jnp.var`` computes, does not cancel.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, ReplaceNode
from flaxprec.rules.base import Rule, RuleContext, jnp_name

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel
    from flaxprec.numerics import NaiveVariance


def _fix(model: FileModel, event: NaiveVariance) -> Fix | None:
    jnp = jnp_name(model)
    if event.var_args is None or jnp is None:
        return None
    base, rest = event.var_args
    value = f"{jnp[0]}.var({base}, {rest})" if rest else f"{jnp[0]}.var({base})"
    return Fix(f"Use `{jnp[0]}.var`", Applicability.SAFE, (ReplaceNode(event.node, value),), jnp[1])


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for event in model.numerics.naive_variances:
        message = (
            "Variance computed as E[x^2] - E[x]^2: it cancels catastrophically when the mean is large "
            "compared with the spread (and can turn negative); use `jnp.var` or E[(x - E[x])^2]"
        )
        yield RULE.report(model, event.node, message, event.site.statement, _fix(model, event))


RULE = Rule(
    code="FLX104",
    name="naive-variance",
    summary="Variance computed as E[x^2] - E[x]^2",
    check=check,
    default_on=False,
)
