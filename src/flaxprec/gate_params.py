"""Parameters the analysis can never see upcast: read only as arguments of calls it cannot see into.

FLX007 reports a float32 parameter combined with activations. The ``params`` gate keeps every Module
class that creates a parameter by hand, and flax's own layers (and the many custom layers written like
them) create theirs so::

    kernel = self.param("kernel", init, shape, self.param_dtype)
    inputs, kernel = promote_dtype(inputs, kernel, dtype=self.dtype)
    y = inputs @ kernel

The analysis (:mod:`flaxprec.numerics`) follows a parameter only through the values it flows into: a call
it cannot see into, such as ``promote_dtype`` or one of the module's own methods, ends that flow (its
result carries no parameter). So a parameter bound to a local name whose every read, while the name still
holds it, is a direct argument of such a call can never take part in an upcast. :func:`promoted_params`
proves that for the ``self.param`` calls of one method, reading the method as the analysis does:
statements in source order, the name's binding replaced only by an assignment (``=``, annotated ``=``; a
``for`` target, a ``with ... as``, ``:=`` or ``except ... as`` are not bindings there, so they do not end
the proof). ``w *= c`` with a value the analysis counts as a constant (a number; ``self.mask``, a field
that no statement of the file stores to) leaves a parameter in ``w``, and the proof goes on: flax's
masked convolutions do that. Anything else is "not proven": a read elsewhere, ``+=`` of anything else,
the name in a nested function or a ``global``/``nonlocal``, a parameter stored on ``self`` or used inline.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Iterable

from flaxprec.ast_walk import children, walk

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def is_promote(qualified: object) -> bool:
    """flax's ``promote_dtype`` (linen's or nnx's, under any of its import paths)."""
    return (
        isinstance(qualified, str) and qualified.startswith("flax.") and qualified.endswith(".promote_dtype")
    )


def promoted_params(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    calls: Iterable[int],
    self_name: str,
    resolve: Callable[[ast.expr], object],
    stored: Collection[str],
) -> set[int]:
    """The ids of the ``calls`` (``self.param`` calls directly in ``function``'s body, by ``id``) whose
    parameter is provably read only as an argument of ``promote_dtype`` or of one of the module's own
    methods (``resolve``: a callee's qualified name in ``function``'s scope; ``stored``: every attribute
    name the file assigns to, ``a.X = ...`` anywhere: a superset of the ``self.X`` the analysis binds)."""
    reads = _Reads(set(calls), self_name, resolve, stored)
    reads.body(function.body)
    return {call for call in reads.bound if call not in reads.unproven} - {
        call for name, call in reads.names.items() if name in reads.nested
    }


class _Reads:
    def __init__(
        self,
        calls: set[int],
        self_name: str,
        resolve: Callable[[ast.expr], object],
        stored: Collection[str],
    ) -> None:
        self.calls = calls
        self.self_name = self_name
        self.resolve = resolve
        self.stored = stored
        self.holding: dict[str, int] = {}  # local name -> the call whose parameter it holds now
        self.bound: set[int] = set()  # calls assigned to a plain local name
        self.names: dict[str, int] = {}  # every such name (for the nested-scope test)
        self.unproven: set[int] = set()
        self.nested: set[str] = set()  # names read or declared in nested scopes, or global/nonlocal

    def body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        tp = type(node)
        if tp is ast.Assign:
            self.expr(node.value)  # type: ignore[attr-defined]
            targets = node.targets  # type: ignore[attr-defined]
            for target in targets:
                self.target(target)
            for target in targets:
                self.rebind(target)
            if len(targets) == 1 and type(targets[0]) is ast.Name and id(node.value) in self.calls:  # type: ignore[attr-defined]
                call = id(node.value)  # type: ignore[attr-defined]
                self.holding[targets[0].id] = call
                self.names[targets[0].id] = call
                self.bound.add(call)
        elif tp is ast.AnnAssign:
            if node.value is not None:  # type: ignore[attr-defined]
                self.expr(node.value)  # type: ignore[attr-defined]
            self.expr(node.annotation)  # type: ignore[attr-defined]
            self.target(node.target)  # type: ignore[attr-defined]
            if node.value is not None:  # type: ignore[attr-defined]
                self.rebind(node.target)  # type: ignore[attr-defined]
        elif tp is ast.AugAssign:
            target = node.target  # type: ignore[attr-defined]
            if type(target) is ast.Name and target.id in self.holding and not self.constant(node.value):  # type: ignore[attr-defined]
                self.unproven.add(self.holding[target.id])  # ``w += x`` combines the parameter
            self.target(target)
            self.expr(node.value)  # type: ignore[attr-defined]
        elif tp in _SCOPES:
            self.scope(node)
        elif tp is ast.Global or tp is ast.Nonlocal:
            self.nested.update(node.names)  # type: ignore[attr-defined]
        else:
            for child in children(node):
                if isinstance(child, ast.stmt):
                    self.statement(child)
                elif isinstance(child, ast.excepthandler):
                    if child.type is not None:  # type: ignore[attr-defined]
                        self.expr(child.type)  # type: ignore[attr-defined]
                    self.body(child.body)  # type: ignore[attr-defined]
                elif isinstance(child, ast.match_case):
                    self.expr(child.pattern)
                    if child.guard is not None:
                        self.expr(child.guard)
                    self.body(child.body)
                else:
                    self.expr(child)

    def constant(self, node: ast.expr) -> bool:
        """A value the analysis counts as a constant, so that ``w *= value`` still holds a parameter (and
        reports nothing): a number (signed), or ``self.X`` when no statement of the file stores an attribute
        ``X`` (the analysis knows of ``self`` only what the class's own code binds on it)."""
        while type(node) is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):  # type: ignore[attr-defined]
            node = node.operand  # type: ignore[attr-defined]
        if type(node) is ast.Constant:
            return isinstance(node.value, (int, float, complex))  # type: ignore[attr-defined]
        return (
            type(node) is ast.Attribute
            and type(node.value) is ast.Name  # type: ignore[attr-defined]
            and node.value.id == self.self_name  # type: ignore[attr-defined]
            and node.attr not in self.stored  # type: ignore[attr-defined]
        )

    def target(self, node: ast.expr) -> None:
        """What a target reads: the bases of ``a.b = ``, ``a[i] = `` (a stored name is no read)."""
        if type(node) is not ast.Name:
            self.expr(node)

    def rebind(self, target: ast.expr) -> None:
        """The analysis binds a target name, or a tuple's plain name elements, to a new value."""
        names = target.elts if type(target) in (ast.Tuple, ast.List) else [target]  # type: ignore[attr-defined]
        for name in names:
            if type(name) is ast.Starred:  # ``a, *w = ...`` binds ``w`` too
                name = name.value
            if type(name) is ast.Name:
                self.holding.pop(name.id, None)

    def scope(self, node: ast.AST) -> None:
        """A nested function, class or lambda: what it could read of this method's names is "nested"."""
        if type(node) in (ast.FunctionDef, ast.AsyncFunctionDef):
            args = node.args  # type: ignore[attr-defined]
            # Decorators, defaults and annotations are read here, in this method's scope.
            for child in (*node.decorator_list, *args.defaults, *args.kw_defaults, node.returns):  # type: ignore[attr-defined]
                if child is not None:
                    self.expr(child)
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if arg is not None and arg.annotation is not None:
                    self.expr(arg.annotation)
            self.nested |= _free_names(node)  # type: ignore[arg-type]
        else:
            self.nested.update(n.id for n in walk(node) if type(n) is ast.Name)
        if type(node) is not ast.Lambda:
            self.nested.add(node.name)  # type: ignore[attr-defined]

    def expr(self, node: ast.AST) -> None:
        stack = [node]
        while stack:
            item = stack.pop()
            tp = type(item)
            if tp is ast.Name:
                if item.id in self.holding and type(item.ctx) is ast.Load:  # type: ignore[attr-defined]
                    self.unproven.add(self.holding[item.id])  # type: ignore[attr-defined]
            elif tp is ast.Call:
                promote = bool(self.holding) and self.ends_flow(item.func)  # type: ignore[attr-defined]
                stack.append(item.func)  # type: ignore[attr-defined]
                for argument in (*item.args, *(k.value for k in item.keywords)):  # type: ignore[attr-defined]
                    if not (promote and type(argument) is ast.Name):  # a direct argument ends the flow
                        stack.append(argument)
            elif tp is ast.Lambda:
                self.scope(item)
            else:
                stack.extend(children(item))

    def ends_flow(self, func: ast.expr) -> bool:
        """A call whose result the analysis never takes a parameter through: flax's ``promote_dtype``, or
        one of the module's methods (``self.helper(w)``, other than ``self.param``): calls it cannot see
        into, whose results are activations or unknown."""
        if type(func) is ast.Attribute and type(func.value) is ast.Name and func.value.id == self.self_name:
            return func.attr != "param"
        return is_promote(self.resolve(func))


def _free_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a nested function's body may read from around it: every name in it (in the functions
    nested deeper too) except those it binds itself, as the analysis counts them (its parameters and the
    names its own body assigns, loops over, or binds with ``with``/``:=``; a subset of what the analysis
    shadows, so never fewer free names than it sees). Lambdas and classes inside count whole."""
    args = function.args
    own = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a}
    names: set[str] = set()
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        tp = type(node)
        if tp is ast.Name:
            names.add(node.id)  # type: ignore[attr-defined]
            if type(node.ctx) is ast.Store:  # type: ignore[attr-defined]
                own.add(node.id)  # type: ignore[attr-defined]
        elif tp is ast.FunctionDef or tp is ast.AsyncFunctionDef:
            inner = node.args  # type: ignore[attr-defined]
            for child in (*node.decorator_list, *inner.defaults, *inner.kw_defaults):  # type: ignore[attr-defined]
                if child is not None:
                    names.update(n.id for n in walk(child) if type(n) is ast.Name)
            names |= _free_names(node)  # type: ignore[arg-type]
            names.add(node.name)  # type: ignore[attr-defined]
        elif tp is ast.ClassDef or tp is ast.Lambda:  # what they assign is theirs, not this body's
            names.update(n.id for n in walk(node) if type(n) is ast.Name)
        elif tp is ast.Global or tp is ast.Nonlocal:
            names.update(node.names)  # type: ignore[attr-defined]
            return names  # a declared name is not shadowed here, whatever this body assigns: all are free
        else:
            stack.extend(children(node))
    return names - own
