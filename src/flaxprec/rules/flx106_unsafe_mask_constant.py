"""FLX106 unsafe-mask-constant: a mask value that overflows float16, or an infinity.

``-1e9`` is ``-inf`` in float16 (its largest finite value is 65504): a row whose entries are all masked
becomes all ``-inf`` and softmax returns NaN for it; ``1e30 * 0`` for the kept entries is ``inf * 0``,
NaN again. ``jnp.finfo(dtype).min`` is the most negative value the compute dtype has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, ReplaceNode
from flaxprec.imports import JNP_NAME
from flaxprec.rules.base import Rule, RuleContext, jnp_name, source

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel
    from flaxprec.numerics import MaskConstant


def _replacement(model: FileModel, event: MaskConstant, compute: str) -> tuple[str, Fix | None]:
    end = "min" if event.negative else "max"
    jnp = jnp_name(model)
    name = jnp[0] if jnp is not None else JNP_NAME
    value = f"{name}.finfo({compute}).{end}"
    if jnp is None:
        return value, None
    edit = ReplaceNode(event.node, value)
    return value, Fix(f"Use `{value}`", Applicability.UNSAFE, (edit,), jnp[1])


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for event in model.numerics.mask_constants:
        compute = event.site.owner.compute_dtype
        if compute is None:
            continue
        written = source(model, event.node)
        value, fix = _replacement(model, event, compute)
        if event.infinite:
            problem = "is infinite, and a fully masked row gives NaN in softmax"
        else:
            problem = "overflows float16 (max 65504) to infinity: `inf * 0` or a fully masked row gives NaN"
        message = f"Mask constant `{written}` {problem} (the module computes in `{compute}`); use `{value}`"
        yield RULE.report(model, event.node, message, event.site.statement, fix)


RULE = Rule(
    code="FLX106",
    name="unsafe-mask-constant",
    summary="Mask value that overflows float16 or is infinite",
    check=check,
    gate="huge-constants",
)
