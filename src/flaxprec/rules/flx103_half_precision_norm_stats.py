"""FLX103 half-precision-norm-stats: a variance or mean of squares of values in the compute dtype.

Flax's own norm layers compute their statistics in float32 whatever their ``dtype``
(``force_float32_reductions``); a custom norm that casts its input to the compute dtype first computes the
variance in bfloat16, where a sum over a wide hidden dimension keeps only 8 bits of mantissa.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Diagnostic
from flaxprec.rules.base import Rule, RuleContext, half_precision_words

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for event in model.numerics.norm_stats:
        where, _ = half_precision_words(event, values=True)
        message = (
            f"{event.statistic.capitalize()} (`{event.name}`) of {where}: normalisation statistics lose "
            "precision in bfloat16/float16; compute them in float32"
        )
        yield RULE.report(model, event.call, message, event.site.statement)


RULE = Rule(
    code="FLX103",
    name="half-precision-norm-stats",
    summary="Norm statistics (variance, mean of squares) of values in the compute dtype",
    check=check,
    fixable=False,
    default_on=False,
)
