"""FLX007 fp32-param-upcast: a float32 parameter combined with activations without a cast.

Flax promotes, it does not cast: ``self.weight * x`` with a float32 ``self.weight`` and bfloat16 ``x`` is
float32, and so is everything computed from it until a layer with ``dtype`` casts it back (a residual
stream never is). The custom RMSNorm/LayerNorm/LayerScale of many published Flax models returns exactly
this. Only upcasts whose result flows on are reported: one cast back at once, or only compared, is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, ReplaceNode
from flaxprec.rules.base import Rule, RuleContext, jnp_name, source

if TYPE_CHECKING:
    import libcst as cst

    from flaxprec.analysis import FileModel
    from flaxprec.numerics import Upcast


def _fix(model: FileModel, upcast: Upcast, compute: str) -> Fix | None:
    import libcst as cst

    from flaxprec.numerics import Prec

    jnp = jnp_name(model)
    if jnp is None:
        return None
    # The parameters the float32 result meets later would be the next upcasts once this one is fixed.
    followers = tuple(_cast(model, jnp[0], param, compute) for param in upcast.followers)
    also = "".join(f", and `{source(model, p)}` after it" for p in upcast.followers)
    if upcast.other is Prec.FP32:
        # The activations are float32 already: casting the parameter alone changes nothing.
        if not isinstance(upcast.node, (cst.BinaryOperation, cst.Call)):
            return None
        code = source(model, upcast.node.with_changes(lpar=[], rpar=[]))
        edit = ReplaceNode(upcast.node, f"{jnp[0]}.asarray({code}, {compute})")
        return Fix(f"Cast the result to `{compute}`{also}", Applicability.UNSAFE, (edit, *followers), jnp[1])
    code = source(model, upcast.param.with_changes(lpar=[], rpar=[]))
    edit = _cast(model, jnp[0], upcast.param, compute)
    # Safe when the other side is known to be in the compute dtype: the result then is, too.
    safe = upcast.other is Prec.COMPUTE and not followers
    applicability = Applicability.SAFE if safe else Applicability.UNSAFE
    return Fix(f"Cast `{code}` to `{compute}`{also}", applicability, (edit, *followers), jnp[1])


def _cast(model: FileModel, jnp: str, param: cst.BaseExpression, compute: str) -> ReplaceNode:
    code = source(model, param.with_changes(lpar=[], rpar=[]))
    return ReplaceNode(param, f"{jnp}.asarray({code}, {compute})")


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    from flaxprec.numerics import Prec  # a model exists, so libcst is loaded already

    seen: set[int] = set()
    for upcast in model.numerics.upcasts:
        compute = upcast.site.owner.compute_dtype
        if compute is None or id(upcast.param) in seen:
            continue
        seen.add(id(upcast.param))
        param = source(model, upcast.param)
        head = f"Float32 parameter `{param}` {upcast.verb}"
        if upcast.other is Prec.COMPUTE:
            message = (
                f"{head} activations in the compute dtype (`{compute}`) without a cast: the result is "
                f"float32, and so is what is computed from it; cast the parameter to `{compute}`"
            )
        elif upcast.other is Prec.FP32:
            message = (
                f"{head} activations that are float32 already: the result stays float32 in a module that "
                f"computes in `{compute}`; cast the result to `{compute}`"
            )
        else:
            message = (
                f"{head} activations without a cast: the result is float32 even when they are in the "
                f"compute dtype (`{compute}`), and so is what is computed from it; cast the parameter"
            )
        yield RULE.report(model, upcast.param, message, upcast.site.statement, _fix(model, upcast, compute))


RULE = Rule(
    code="FLX007",
    name="fp32-param-upcast",
    summary="Float32 parameter combined with activations without a cast to the compute dtype",
    check=check,
    gate="params",
)
