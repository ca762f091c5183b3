"""FLX106: follow a mask constant to the softmax it masks, within a Module's method (or its class).

:class:`flaxprec.numerics.NumericsCollector` finds the candidates: a constant beyond float16's range, or an
infinity, written as a value of ``jnp.where`` / ``lax.select`` / ``jnp.full`` / ``.at[...].set(...)`` or in
arithmetic with an array. A candidate is only a finding once the value holding it reaches what the constant
masks for: a softmax, a log-softmax, a logsumexp, a softmax cross-entropy, the ``bias`` or ``mask`` of flax's
``dot_product_attention(_weights)``, or an ``exp`` whose result is summed, with that value in a half dtype
or the module's compute dtype. The value is followed bottom-up (names, ``self`` attributes, methods of the
class that return it, casts, ``where``, arithmetic, reshapes, helpers of the file); a value used for
``top_k``, ``argmax``, ``sort``, a buffer passed to a call, or one that is float32 at the consumer reports
nothing, and neither does one we lose track of.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from flaxprec.numerics import (
    CASTS,
    CONSTRUCTORS,
    KEEP_FIRST,
    LOSSES,
    PROMOTE_ALL,
    SAME_ATTRS,
    SOFTMAX,
    STACKS,
    Prec,
    _array_function,
    _keyword,
    promote,
)

if TYPE_CHECKING:
    from flaxprec.numerics import MaskConstant, NumericsCollector, _Scope

# (candidate, exponentiated, half): an ``exp`` of a masked value is a finding once it is summed; ``half``
# once the constant has been in an array of a half dtype or the compute dtype (it is infinite from there on,
# whatever the value is promoted to later, and whatever a branch joins it with).
Carried = tuple[tuple["MaskConstant", bool, bool], ...]

SOFTMAX_LOSSES = frozenset(name for name in LOSSES if "sigmoid" not in name)
# flax's and jax's attention: the positional index of their ``bias`` and ``mask`` arguments.
ATTENTION = {"dot_product_attention_weights": 2, "dot_product_attention": 3}
KEEP_METHODS = (KEEP_FIRST | frozenset(["add", "multiply", "get", "min", "max"])) - {"sum"}
EXPS = frozenset({"exp", "exp2"})
ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.MatrixMultiply)


def _union(*groups: Carried) -> Carried:
    merged: dict[tuple[int, bool], tuple[MaskConstant, bool, bool]] = {}
    for group in groups:
        for event, exped, half in group:
            old = merged.get((id(event), exped))
            merged[(id(event), exped)] = (event, exped, half or (old is not None and old[2]))
    return tuple(merged.values())


class MaskFollower:
    """The candidates each value may hold; ``live`` once a class has any (nothing to follow before)."""

    def __init__(self, collector: NumericsCollector) -> None:
        self.collector = collector
        self.live = False
        self.carried: dict[int, Carried] = {}  # by expression node
        self.names: dict[int, dict[str, Carried]] = {}  # by the env of a function scope
        self.attrs: dict[int, dict[str, Carried]] = {}  # self.X, by class scope
        self.returns: dict[int, dict[str, Carried]] = {}  # what a method returns, by class scope
        self.found: set[int] = set()

    def candidate(self, node: cst.BaseExpression, event: MaskConstant) -> None:
        self.live = True
        self.carried[id(node)] = _union(self.carried.get(id(node), ()), ((event, False, False),))

    def leave_function(self) -> None:
        self.carried.clear()
        self.names.clear()

    def leave_class(self) -> None:
        self.live = False

    # -- reading -----------------------------------------------------------------------------------------

    def of(self, node: cst.CSTNode | None) -> Carried:
        return () if node is None else self.carried.get(id(node), ())

    def _put(self, node: cst.CSTNode, carried: Carried, prec: Prec | None = None) -> None:
        if carried:
            if self._half(self.collector.val(node).prec if prec is None else prec):
                carried = tuple((event, exped, True) for event, exped, _ in carried)
            self.carried[id(node)] = _union(self.carried.get(id(node), ()), carried)

    def _half(self, prec: Prec) -> bool:
        return prec is Prec.HALF or (prec is Prec.COMPUTE and self.collector._has_compute)

    def _consume(self, carried: Carried, prec: Prec, summed: bool = False) -> None:
        """The value reaches a softmax (or, ``summed``, its exponential is summed) in ``prec``: its candidates
        count if that is half, or if they have been half on the way."""
        facts, now = self.collector.facts, self._half(prec)
        for event, exped, half in carried:
            if (half or now) and (exped or not summed) and id(event) not in self.found:
                self.found.add(id(event))
                facts.mask_constants.append(event)

    # -- following ---------------------------------------------------------------------------------------

    def follow(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Name):
            self._put(node, self._lookup(node.value))
        elif isinstance(node, cst.Attribute):
            self._attribute(node)
        elif isinstance(node, cst.Subscript):
            self._put(node, self.of(node.value))
        elif isinstance(node, cst.UnaryOperation):
            if isinstance(node.operator, (cst.Minus, cst.Plus)):
                self._put(node, self.of(node.expression))
        elif isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, ARITHMETIC):
                self._put(node, _union(self.of(node.left), self.of(node.right)))
        elif isinstance(node, cst.IfExp):
            self._put(node, _union(self.of(node.body), self.of(node.orelse)))
        elif isinstance(node, cst.Call):
            self._call(node)
        elif isinstance(node, cst.Assign):
            for target in node.targets:
                self._bind_to(target.target, node.value)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self._bind_to(node.target, node.value)
        elif isinstance(node, cst.AugAssign):
            if isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign, cst.MultiplyAssign)):
                self._bind(node.target, _union(self.of(node.target), self.of(node.value)))
        elif isinstance(node, cst.Return):
            self._return(node)

    def _scope(self) -> _Scope:
        scope = self.collector.scope
        assert scope is not None
        return scope

    def _lookup(self, name: str) -> Carried:
        scope: _Scope | None = self._scope()
        while scope is not None:
            table = self.names.get(id(scope.env))
            if table is not None and name in table:
                return table[name]
            if name in scope.env or name in scope.locals:
                return ()
            scope = scope.parent
        return ()

    def _attribute(self, node: cst.Attribute) -> None:
        scope = self._scope()
        if isinstance(node.value, cst.Name) and node.value.value == scope.self_name:
            self._put(node, self.attrs.get(id(scope.cls), {}).get(node.attr.value, ()))
        elif node.attr.value in SAME_ATTRS:
            self._put(node, self.of(node.value))

    def _bind_to(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if not isinstance(target, (cst.Tuple, cst.List)):
            self._bind(target, self.of(value))
            return
        elements = value.elements if isinstance(value, (cst.Tuple, cst.List)) else None
        for index, element in enumerate(target.elements):
            if elements is not None and len(elements) == len(target.elements):
                self._bind(element.value, self.of(elements[index].value))
            else:
                self._bind(element.value, self.of(value))  # pieces of one array: ``a, b = x.split(2)``

    def _bind(self, target: cst.BaseExpression, carried: Carried) -> None:
        scope = self._scope()
        if isinstance(target, cst.Name):
            table, key = self.names.setdefault(id(scope.env), {}), target.value
        elif (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == scope.self_name
        ):
            table, key = self.attrs.setdefault(id(scope.cls), {}), target.attr.value
        else:
            return  # ``state[4] -= 1e30``: stored somewhere we do not follow
        if self.collector._branching():
            carried = _union(table.get(key, ()), carried)  # the old value may survive the branch
        if carried:
            table[key] = carried
        else:
            table.pop(key, None)

    def _return(self, node: cst.Return) -> None:
        scope = self._scope()
        carried = self.of(node.value)
        if scope.parent is not None or not carried:
            return
        method = next(
            (s for s in reversed(self.collector.analyzer.statements) if isinstance(s, cst.FunctionDef)), None
        )
        if method is not None:
            returns = self.returns.setdefault(id(scope.cls), {})
            returns[method.name.value] = _union(returns.get(method.name.value, ()), carried)

    # -- calls -------------------------------------------------------------------------------------------

    def _call(self, node: cst.Call) -> None:
        collector = self.collector
        if id(node) in collector._constructions or collector.val(node.func).layer is not None:
            return  # building a layer, or calling one: what comes out is the layer's
        func = node.func
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        qualified = (
            collector.analyzer.resolve_expr(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        )
        if isinstance(qualified, str):
            self._function(node, qualified, positional)
        elif isinstance(func, cst.Attribute):
            self._method(node, func, positional)
        elif isinstance(func, cst.Name) and positional:
            self._put(node, self.of(positional[0]))  # a helper of this file (a reshape, a split into blocks)

    def _method(self, node: cst.Call, func: cst.Attribute, positional: list[cst.BaseExpression]) -> None:
        scope = self._scope()
        method = func.attr.value
        if isinstance(func.value, cst.Name) and func.value.value == scope.self_name:
            self._put(node, self.returns.get(id(scope.cls), {}).get(method, ()))
            return
        base = self.of(func.value)
        if method in ("set", "fill"):
            # ``x.at[i].set(v)`` is in x's dtype, whatever v is.
            value = self.of(positional[0]) if positional else ()
            self._put(node, _union(base, value), self.collector.val(func.value).prec)
        elif method == "sum":
            self._sum(node, func.value, base)
        elif method == "astype" or method in KEEP_METHODS:
            self._put(node, base)

    def _sum(self, node: cst.Call, summand: cst.BaseExpression | None, carried: Carried) -> None:
        self._consume(carried, self.collector.val(summand).prec, summed=True)
        self._put(node, tuple(item for item in carried if not item[1]))  # a sum of masked values

    def _function(self, node: cst.Call, qualified: str, positional: list[cst.BaseExpression]) -> None:
        collector = self.collector
        first = positional[0] if positional else None
        short = qualified.rsplit(".", 1)[-1]
        if qualified in CASTS:
            self._put(node, self.of(first))
        elif qualified in SOFTMAX:
            arg = first if first is not None else _keyword(node.args, "x")
            self._consume(self.of(arg), collector.val(arg).prec)
        elif short in SOFTMAX_LOSSES and qualified.startswith("optax."):
            arg = _keyword(node.args, "logits") or first
            self._consume(self.of(arg), collector.val(arg).prec)
        elif short in ATTENTION and qualified.startswith(("flax.", "jax.nn.")):
            self._attention(node, ATTENTION[short], positional)
        elif not _array_function(qualified):
            if qualified.startswith(collector.analyzer.module_name + "."):
                self._put(node, self.of(first))  # a helper of this file
        elif short in ("where", "select"):
            self._put(node, _union(*(self.of(p) for p in positional[1:3])))
        elif short in CONSTRUCTORS:
            if short.startswith("full"):
                self._put(node, self.of(positional[1]) if len(positional) > 1 else ())
        elif short in STACKS and isinstance(first, (cst.List, cst.Tuple)):
            self._put(node, _union(*(self.of(e.value) for e in first.elements)))
        elif short in PROMOTE_ALL:
            self._put(node, _union(*(self.of(p) for p in positional)))
        elif short in EXPS:
            self._put(node, tuple((event, True, half) for event, _, half in self.of(first)))
        elif short == "sum":
            self._sum(node, first, self.of(first))
        elif short in KEEP_FIRST:
            self._put(node, self.of(first))

    def _attention(self, node: cst.Call, index: int, positional: list[cst.BaseExpression]) -> None:
        """flax's attention adds ``bias`` to the scores (in ``dtype``, or the inputs') before its softmax."""
        collector = self.collector
        dtype = _keyword(node.args, "dtype")
        if dtype is not None:
            scores = collector._dtype(dtype)
        else:
            query = positional[0] if positional else _keyword(node.args, "query")
            key = positional[1] if len(positional) > 1 else _keyword(node.args, "key")
            scores = promote(collector.val(query).prec, collector.val(key).prec)
        for offset, name in enumerate(("bias", "mask")):
            arg = positional[index + offset] if len(positional) > index + offset else None
            arg = arg if arg is not None else _keyword(node.args, name)
            if arg is not None:
                prec = promote(scores, collector.val(arg).prec) if name == "bias" else scores
                self._consume(self.of(arg), prec)
