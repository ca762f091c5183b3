"""FLX102 half-precision-loss: a cross-entropy loss on logits in half precision or the compute dtype.

optax's cross-entropy losses compute in the dtype of the logits: with bfloat16 logits the log-softmax and
the loss itself are bfloat16, and the gradient of every step starts from a rounded loss. t5x computes its
vocabulary logits in float32 for that reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, ReplaceNode
from flaxprec.rules.base import Rule, RuleContext, half_precision_words, jnp_name, source

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel
    from flaxprec.numerics import HalfCall


def _fix(model: FileModel, event: HalfCall) -> Fix | None:
    jnp = jnp_name(model)
    if jnp is None:
        return None
    code = source(model, event.arg.with_changes(lpar=[], rpar=[]))
    edit = ReplaceNode(event.arg, f"{jnp[0]}.asarray({code}, {jnp[0]}.float32)")
    return Fix("Cast the logits to float32", Applicability.SAFE, (edit,), jnp[1])


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for event in model.numerics.losses:
        where, _ = half_precision_words(event)
        message = (
            f"`{event.name}` on logits {where}: the loss is computed in that precision; "
            "cast the logits to float32 first"
        )
        yield RULE.report(model, event.call, message, event.site.statement, _fix(model, event))


RULE = Rule(
    code="FLX102",
    name="half-precision-loss",
    summary="Cross-entropy loss on logits in half precision or the compute dtype",
    check=check,
    default_on=False,
)
