"""FLX001 missing-dtype: a dtype-carrying layer built without ``dtype`` inside a module with a compute dtype.

With ``dtype=None`` a Flax layer computes in ``result_type(inputs, params)``: float32 params make it
compute (and output) float32 even when the model was configured with bfloat16. What its output meets next
decides the rest (flaxprec.flow): a normalisation layer is reported only where its float32 output escapes,
any other layer unless its author casts the output explicitly. A vocabulary projection's float32 logits
are the t5x convention: not reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaxprec.diagnostics import Applicability, CallEdit, Diagnostic, Fix, ReplaceNode, SetKeyword
from flaxprec.dtypes import DtypeKind
from flaxprec.flow import cast_on_purpose, escapes
from flaxprec.roles import Role
from flaxprec.rules.base import Rule, RuleContext, dtype_kind, is_tied_embedding, is_vocab_head, not_forwarded

if TYPE_CHECKING:
    from flaxprec.analysis import Construction, FileModel


def _uncast_lookups(model: FileModel, construction: Construction) -> list[ReplaceNode] | None:
    """t5x's form for a tied embedding: keep the table (and ``attend``) float32, cast each lookup result.

    The edits that cast every lookup not yet cast; an empty list means the embedding already follows the
    convention; None when its lookups cannot be found (an anonymous embedding).
    """
    name = construction.assigned_name
    if name is None:
        return None
    edits = []
    for _, lookup in model.lookups(frozenset({name})):
        if lookup.cast or lookup.owner is None or lookup.owner.compute_dtype is None:
            continue
        code = model.module.code_for_node(lookup.call)
        edits.append(ReplaceNode(lookup.call, f"{code}.astype({lookup.owner.compute_dtype})"))
    return edits


def _consequence(model: FileModel, construction: Construction) -> str:
    """What the layer does instead: its own default for project blocks, else dtype promotion."""
    if construction.spec.api == "project" and construction.spec.dtype_default is None:
        return "it uses its own default compute dtype"  # a project block: its field's default applies
    param = construction.argument("param_dtype")
    if param is not None and dtype_kind(model, construction.owner, param.value) is DtypeKind.HALF:
        return "it computes in the promoted dtype of its inputs and half-precision params"
    return "it computes in float32"


def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
    for construction in model.constructions:
        expr = not_forwarded(construction, "dtype")
        if expr is None:
            continue
        owner = construction.owner
        assert owner is not None
        if owner.implicit_dtypes:
            continue  # praxis and the like: the framework gives the child its parent's dtypes
        callee = construction.callee
        fate = model.numerics.fates.of(construction.call)
        if construction.spec.kind == "norm":
            if not escapes(fate):
                continue  # statistics are float32 anyway; the output is cast back or not followed
        elif is_vocab_head(construction) or cast_on_purpose(fate):
            continue  # float32 logits (t5x), or float32 its author casts explicitly
        if is_tied_embedding(model, construction):
            edits = _uncast_lookups(model, construction)
            if edits == []:
                continue  # every lookup is cast: the t5x form, float32 table and logits
            message = (
                f"`{callee}` built without `dtype`: its lookups stay float32 although "
                f"`{owner.facts.name}` has a compute dtype (`{expr}`); its `.attend` makes the logits, so "
                "cast the lookup result instead of adding `dtype`"
            )
            fix = None
            if edits:
                title = "Cast the embedding lookups to the compute dtype"
                fix = Fix(title, Applicability.UNSAFE, tuple(edits))
        else:
            message = f"`{callee}` built without `dtype`: {_consequence(model, construction)} although " + (
                f"`{owner.facts.name}` has a compute dtype (`{expr}`)"
            )
            edit = CallEdit(construction.call, (SetKeyword("dtype", expr),))
            fix = Fix(f"Add `dtype={expr}`", Applicability.SAFE, (edit,))
            evidence = owner.compute_evidence
            if evidence is not None and evidence.role is Role.BOTH:
                # The module also stores parameters in it: conflicting evidence is reported, never fixed.
                message += f" ({evidence.why_compute()}, but it also stores parameters in it)"
                fix = None
        yield RULE.report(model, construction.call, message, construction.statement, fix)


RULE = Rule(
    code="FLX001",
    name="missing-dtype",
    summary="Layer built without `dtype` inside a module with a compute dtype",
    check=check,
    gate="calls",
)
