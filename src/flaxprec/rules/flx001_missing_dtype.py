"""FLX001 missing-dtype: a dtype-carrying layer built without ``dtype`` inside a module with a compute dtype.

With ``dtype=None`` a Flax layer computes in ``result_type(inputs, params)``: float32 params make it
compute (and output) float32 even when the model was configured with bfloat16.
"""

from __future__ import annotations

from collections.abc import Iterator

from flaxprec.analysis import Construction, FileModel
from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix, ReplaceNode, SetKeyword
from flaxprec.rules.base import Rule, RuleContext, float32_expr, is_tied_embedding, is_vocab_head


def _applies(construction: Construction) -> bool:
    owner = construction.owner
    if not construction.spec.has_dtype or owner is None or owner.compute_dtype is None:
        return False
    if construction.passes("dtype") or construction.opaque:
        return False
    origin = construction.partial_origin
    # A partial built inside a module with a compute dtype is reported (or fixed) at the partial itself.
    return not (origin is not None and origin.owner is not None and origin.owner.compute_dtype is not None)


def _cast_lookups_fix(model: FileModel, construction: Construction) -> Fix | None:
    """t5x's form for a tied embedding: keep the table (and ``attend``) float32, cast each lookup result."""
    name = construction.assigned_name
    if name is None:
        return None
    edits = []
    for _, lookup in model.lookups(frozenset({name})):
        if lookup.cast or lookup.owner is None or lookup.owner.compute_dtype is None:
            continue
        code = model.module.code_for_node(lookup.call)
        edits.append(ReplaceNode(lookup.call, f"{code}.astype({lookup.owner.compute_dtype})"))
    if not edits:
        return None
    return Fix("Cast the embedding lookups to the compute dtype", Applicability.UNSAFE, tuple(edits))


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for construction in model.constructions:
        if not _applies(construction):
            continue
        owner = construction.owner
        assert owner is not None and owner.compute_dtype is not None
        callee, expr = construction.callee, owner.compute_dtype
        if is_vocab_head(construction):
            message = (
                f"`{callee}` (vocabulary projection) built without `dtype`: its output dtype follows its "
                f"inputs; compute logits in float32 explicitly rather than in `{expr}`"
            )
            float32 = float32_expr(model, None)
            fix = None
            if float32 is not None:
                edit = CallEdit(construction.call, (SetKeyword("dtype", float32[0]),))
                fix = Fix("Add `dtype=float32` (float32 logits)", Applicability.UNSAFE, (edit,), float32[1])
        elif is_tied_embedding(model, construction):
            message = (
                f"`{callee}` built without `dtype`: its lookups stay float32 although "
                f"`{owner.facts.name}` has a compute dtype (`{expr}`); its `.attend` makes the logits, so "
                "cast the lookup result instead of adding `dtype`"
            )
            fix = _cast_lookups_fix(model, construction)
        else:
            message = (
                f"`{callee}` built without `dtype`: it computes in float32 although "
                f"`{owner.facts.name}` has a compute dtype (`{expr}`)"
            )
            edit = CallEdit(construction.call, (SetKeyword("dtype", expr),))
            fix = Fix(f"Add `dtype={expr}`", Applicability.SAFE, (edit,))
        yield RULE.report(model, construction.call, message, construction.statement, fix)


RULE = Rule(
    code="FLX001",
    name="missing-dtype",
    summary="Layer built without `dtype` inside a module with a compute dtype",
    check=check,
)
