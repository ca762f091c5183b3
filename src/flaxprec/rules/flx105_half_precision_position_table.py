"""FLX105 half-precision-position-table: a rotary/sinusoidal table computed in the compute dtype.

bfloat16 represents integers exactly only up to 256: ``jnp.arange(max_len, dtype=bf16)`` already merges
neighbouring positions, and the frequencies ``10000 ** (-i / d)`` and the angles fed to ``sin``/``cos``
lose what little is left. Tables are cheap: build them in float32 and cast the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Diagnostic
from flaxprec.rules.base import Rule, RuleContext, half_precision_words, source

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for event in model.numerics.tables:
        where, _ = half_precision_words(event)
        message = (
            f"Position table `{source(model, event.source)}` built {where} feeds `{event.consumer}`: "
            "positions and frequencies lose precision; build the table in float32 and cast the result"
        )
        yield RULE.report(model, event.source, message, event.site.statement)


RULE = Rule(
    code="FLX105",
    name="half-precision-position-table",
    summary="Rotary/sinusoidal position table computed in the compute dtype",
    check=check,
    fixable=False,
    default_on=False,
)
