"""What a rule is: code, kebab-case name, a one-line summary, and a pure function over the file model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flaxprec.diagnostics import CallOp, Diagnostic, Fix, ImportNeed, ReplaceArgument, SetKeyword
from flaxprec.dtypes import DtypeKind, classify
from flaxprec.imports import JNP_MODULE, JNP_NAME

if TYPE_CHECKING:  # rule modules import no libcst: listing rules must stay cheap
    import libcst as cst

    from flaxprec.analysis import Construction, FileModel, Owner
    from flaxprec.numerics import HalfCall, HalfTable


@dataclass(frozen=True)
class RuleContext:
    """Per-run settings the rules may consult."""

    allow_half_params: bool = False
    # FLX901 reports an unused blanket noqa directive too (``noqa-blanket-unused``); by default it is
    # left to the other tools that read it.
    noqa_blanket_unused: bool = False


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    # None for tool rules that the engine itself produces (FLX900, FLX901).
    check: Callable[[FileModel, RuleContext], Iterator[Diagnostic]] | None
    fixable: bool = True
    default_on: bool = True
    # Which predicate of the ast gate (flaxprec.gate.GATES) clears the statements where this rule stays
    # silent; None makes the engine analyse every statement of the file when the rule is selected.
    gate: str | None = None

    def report(
        self,
        model: FileModel,
        node: cst.CSTNode,
        message: str,
        statement: cst.CSTNode | None = None,
        fix: Fix | None = None,
    ) -> Diagnostic:
        return Diagnostic(
            self.code, self.name, message, model.filename, node=node, statement_node=statement, fix=fix
        )


def source(model: FileModel, node: cst.CSTNode) -> str:
    """The exact source text of ``node``."""
    return model.module.code_for_node(node)


def float32_expr(
    model: FileModel, like: cst.BaseExpression | None
) -> tuple[str, tuple[ImportNeed, ...]] | None:
    """How to write float32 in this file: a string where the original was a string, else ``<jnp>.float32``.

    Reuses the file's alias of ``jax.numpy``; asks for ``import jax.numpy as jnp`` only when the name
    ``jnp`` is free. None when neither works (the finding is then reported without a fix).
    """
    import libcst as cst

    if isinstance(like, cst.SimpleString):
        quote = like.prefix + like.quote
        return f"{quote}float32{like.quote}", ()
    jnp = jnp_name(model)
    return None if jnp is None else (f"{jnp[0]}.float32", jnp[1])


def jnp_name(model: FileModel) -> tuple[str, tuple[ImportNeed, ...]] | None:
    """How to name ``jax.numpy`` in new code (``jnp.asarray``): the file's alias, else a free ``jnp``."""
    alias = model.jnp_alias
    if alias is not None:
        return alias, ()
    if model.imports.resolve(JNP_NAME) is None:
        return JNP_NAME, (ImportNeed(JNP_MODULE, JNP_NAME),)
    return None


def param_storage_expr(
    model: FileModel, construction_owner_param: str | None, like: cst.BaseExpression | None
) -> tuple[str, tuple[ImportNeed, ...]] | None:
    """The storage dtype a fix writes: the module's own ``param_dtype`` where it has one, else float32."""
    if construction_owner_param is not None:
        return construction_owner_param, ()
    return float32_expr(model, like)


def is_vocab_head(construction: Construction) -> bool:
    """A final vocabulary projection: named ``lm_head``/``*logits*`` or built with a vocab-size width."""
    if construction.spec.kind != "dense":
        return False
    name = (construction.assigned_name or "").lower()
    if name == "lm_head" or "logits" in name:
        return True
    names = ("features", "out_features")
    texts = []
    for index, parameter in enumerate(construction.spec.signature):
        position = index - construction.partial_positional
        if parameter in names and 0 <= position < len(construction.positional):
            texts.append(_code(construction.positional[position].value))
    for arg in construction.call.args:
        if arg.keyword is not None and arg.keyword.value in names:
            texts.append(_code(arg.value))
    return any("vocab" in text.lower() for text in texts)


def _code(node: cst.CSTNode) -> str:
    import libcst as cst

    return cst.Module([]).code_for_node(node)


def is_tied_embedding(model: FileModel, construction: Construction) -> bool:
    """An ``Embed`` whose ``.attend`` produces the logits somewhere in this file."""
    return construction.spec.kind == "embed" and construction.assigned_name in model.attend_names


def dtype_kind(model: FileModel, owner: Owner | None, node: cst.BaseExpression | None) -> DtypeKind | None:
    """Classify a dtype argument in the context of its enclosing module (None when not passed)."""
    if node is None:
        return None
    compute = owner.compute_exprs if owner else frozenset()
    param = owner.param_exprs if owner else frozenset()
    return classify(node, model.resolve, compute, param)


def set_argument(construction: Construction, name: str, value: str) -> CallOp:
    """Set ``name`` to ``value`` where the call passes it: in place when positional, else as a keyword."""
    index = construction.call_positional_index(name)
    if index is not None:
        return ReplaceArgument(value, index=index)
    return SetKeyword(name, value)


def effective_dtype_kind(model: FileModel, construction: Construction) -> DtypeKind | None:
    """The kind of ``dtype`` as the layer sees it: omitted counts as ``None`` where no rule will add one.

    Inside a module with a compute dtype, FLX001 adds ``dtype=<compute dtype>`` to such a layer, so an
    omitted ``dtype`` there stays "not passed" (None) and FLX002 alone fixes a half ``param_dtype``.
    """
    arg = construction.argument("dtype")
    if arg is not None:
        return dtype_kind(model, construction.owner, arg.value)
    owner = construction.owner
    if construction.passes("dtype") or construction.opaque or not construction.spec.has_dtype:
        return None
    if owner is not None and owner.compute_dtype is not None:
        return None
    return DtypeKind.NONE


def is_swapped(dtype: DtypeKind | None, param: DtypeKind | None) -> bool:
    """A half ``param_dtype`` beside an fp32/None ``dtype``, or the two fields passed crosswise."""
    literal = dtype in (DtypeKind.FP32, DtypeKind.NONE) and param is DtypeKind.HALF
    fields = dtype is DtypeKind.PARAM and param is DtypeKind.COMPUTE
    return literal or fields


def not_forwarded(construction: Construction, name: str) -> str | None:
    """The enclosing module's expression for ``name`` ("dtype"/"param_dtype") when the layer takes that
    argument, does not receive it, and the module has one to give; else None.

    A partial built inside such a module is reported (and fixed) at the partial itself, not at its calls.
    """

    def owner_value(owner: Owner | None) -> str | None:
        if owner is None:
            return None
        return owner.compute_dtype if name == "dtype" else owner.param_dtype

    takes = construction.spec.has_dtype if name == "dtype" else construction.spec.has_param_dtype
    value = owner_value(construction.owner)
    if not takes or value is None or construction.passes(name) or construction.opaque:
        return None
    origin = construction.partial_origin
    return None if origin is not None and owner_value(origin.owner) is not None else value


def half_precision_words(event: HalfCall | HalfTable, values: bool = False) -> tuple[str, str | None]:
    """How a numerics finding says where its values are, and the compute dtype when that is where.

    ``("in the compute dtype (`self.dtype`)", "self.dtype")`` when the values are in the enclosing Module's
    compute dtype, ``("in half precision", None)`` when they are in a literal half type; with ``values``,
    ``"values in the compute dtype (...)"`` / ``"half-precision values"``.
    """
    from flaxprec.numerics import Prec  # a model exists, so libcst is loaded already

    compute = event.site.owner.compute_dtype
    if event.prec is Prec.COMPUTE and compute is not None:
        return f"{'values ' if values else ''}in the compute dtype (`{compute}`)", compute
    return ("half-precision values" if values else "in half precision"), None
