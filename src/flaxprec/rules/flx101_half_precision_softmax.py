"""FLX101 half-precision-softmax: softmax / log-softmax / logsumexp of values in the compute dtype.

In bfloat16 a softmax keeps 8 bits of mantissa through the exponentials and the normalising sum: rows of
many similar scores (long attention rows) lose most of their resolution, and a log-softmax feeding a loss
rounds small probabilities away. Upcasting the scores first costs one conversion.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, ReplaceNode
from flaxprec.rules.base import Rule, RuleContext, half_precision_words, jnp_name, source

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel
    from flaxprec.numerics import HalfCall


def _fix(model: FileModel, event: HalfCall, compute: str) -> Fix | None:
    """``softmax(x, ...)`` -> ``softmax(jnp.asarray(x, jnp.float32), ...).astype(<compute>)``, for values
    in the compute dtype (a literal half type has no expression to cast back to)."""
    import libcst as cst

    jnp = jnp_name(model)
    if jnp is None or event.call.lpar:
        return None
    code = source(model, event.arg.with_changes(lpar=[], rpar=[]))
    upcast = cst.parse_expression(f"{jnp[0]}.asarray({code}, {jnp[0]}.float32)")
    args = [a.with_changes(value=upcast) if a.value is event.arg else a for a in event.call.args]
    call = source(model, event.call.with_changes(args=args))
    edit = ReplaceNode(event.call, f"{call}.astype({compute})")
    return Fix(f"Compute `{event.name}` in float32", Applicability.UNSAFE, (edit,), jnp[1])


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for event in model.numerics.softmaxes:
        where, compute = half_precision_words(event, values=True)
        fix = _fix(model, event, compute) if compute is not None else None
        message = (
            f"`{event.name}` of {where}: in bfloat16/float16 the exponentials and their sum lose "
            "precision; compute it in float32 and cast the result back"
        )
        yield RULE.report(model, event.call, message, event.site.statement, fix)


RULE = Rule(
    code="FLX101",
    name="half-precision-softmax",
    summary="Softmax, log-softmax or logsumexp of values in the compute dtype",
    check=check,
    default_on=False,
)
