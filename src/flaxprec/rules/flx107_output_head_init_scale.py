"""FLX107 output-head-init-scale: a vocabulary head initialised with ``normal(stddev=1.0)``.

A Dense head with unit-variance weights multiplies each logit's variance by the hidden size: with
d_model = 512 the initial logits have a standard deviation of ~22 and the initial cross-entropy is ~110
instead of ln(vocab) ~ 10 (transformers' T5 does exactly this; PR #26441 proposes scaling the head's
stddev by d_model ** -0.5). T5's ``initializer_factor`` is a multiplier that defaults to 1.0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Diagnostic
from flaxprec.dtypes import dotted
from flaxprec.rules.base import Rule, RuleContext, is_vocab_head, source

if TYPE_CHECKING:
    import libcst as cst

    from flaxprec.analysis import Construction, FileModel

NORMALS = frozenset({"normal", "truncated_normal"})
INIT_MODULES = ("jax.nn.initializers.", "flax.linen.initializers.", "flax.nnx.initializers.", "flax.nnx.nn.")


def _kernel_init(construction: Construction) -> cst.BaseExpression | None:
    for arg in construction.call.args:
        if arg.keyword is not None and arg.keyword.value == "kernel_init":
            return arg.value
    return None


def _unit_scale(node: cst.BaseExpression) -> bool:
    """A stddev of 1.0 or more, or T5's bare ``initializer_factor`` (a multiplier defaulting to 1.0)."""
    import libcst as cst

    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return _unit_scale(node.left) and _unit_scale(node.right)
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.evaluated_value) >= 1.0
    name = dotted(node)
    return name is not None and name.split(".")[-1] == "initializer_factor"


def _stddev(model: FileModel, init: cst.BaseExpression) -> cst.BaseExpression | None:
    """The stddev of ``normal(...)``: its argument, or ``stddev=``; None for other initialisers."""
    import libcst as cst

    if not isinstance(init, cst.Call):
        return None
    qualified = model.resolve(dotted(init.func) or "") or ""
    if not qualified.startswith(INIT_MODULES) or qualified.rsplit(".", 1)[-1] not in NORMALS:
        return None
    for arg in init.args:
        if arg.keyword is not None and arg.keyword.value == "stddev":
            return arg.value
    positional = [a.value for a in init.args if a.keyword is None and not a.star]
    return positional[0] if positional else None


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for construction in model.constructions:
        if not is_vocab_head(construction):
            continue
        init = _kernel_init(construction)
        stddev = _stddev(model, init) if init is not None else None
        if init is None or stddev is None or not _unit_scale(stddev):
            continue
        name = construction.assigned_name or construction.callee
        message = (
            f"Vocabulary head `{name}` initialised with `{source(model, init)}`: unit-variance weights make "
            "the initial logits' variance about the hidden size (initial loss ~10x ln(vocab)); scale the "
            "stddev by `hidden_size ** -0.5`"
        )
        yield RULE.report(model, init, message, construction.statement)


RULE = Rule(
    code="FLX107",
    name="output-head-init-scale",
    summary="Vocabulary head initialised with normal(stddev=1.0)",
    check=check,
    fixable=False,
    default_on=False,
)
