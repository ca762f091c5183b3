"""The ``ast`` gate: which top-level statements (and which methods of a class) could hold a finding.

libcst is the judge, but it parses ~10x slower than ``ast`` and its analysis costs more again. The gate
sketches every call of a file while the ``ast`` summary is built (resolved callee, keyword names,
positional count, enclosing Module), and later, with the whole project index known, marks a top-level
statement as *suspect* when one of its calls might be reported. Only suspect statements (plus the file's
imports and module-level assignments, and one-line stubs that keep the other names bound; data written out
in full, :func:`_is_literal`, is a stub too, at module level or in a class body) are parsed and analysed
by libcst; of a suspect class, only the methods that can hold its findings are kept (the others become
stubs): for the call rules, those holding the suspect calls (each construction is judged from its own
method and the project index); for FLX007 and FLX106, those creating its parameters or holding its mask
constants, with every method that binds or reads values on ``self`` and the class's bases in the file
(values reach a method from another only through ``self``; see :func:`plan`).

The gate is conservative by construction: a call is cleared only when every rule provably stays silent
on it (it passes ``dtype`` by keyword, passes ``param_dtype`` as the module's own field or float32, has
no positional argument at a dtype index...). Anything it does not understand is suspect: a name bound
two different ways in one scope resolves to :data:`AMBIGUOUS`, which is always suspect. A property test
and the real corpus check that it never clears a statement the full analysis flags.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from flaxprec.ast_walk import children, dotted_name, walk
from flaxprec.dtypes import ARRAY_DTYPE_INDEX, INTEGER_NAME, NNX_PARAM_NAMES, logits_parameter
from flaxprec.gate_params import promoted_params
from flaxprec.imports import JNP_MODULE, JNP_NAME, ImportMap, resolve_relative
from flaxprec.project import (
    CONFIG_NAMES,
    NORM_STATISTICS,
    ClassFacts,
    FileSummary,
    MethodFacts,
    ProjectIndex,
    collect_imports,
    method_inputs,
    method_self,
    summarize,
    summarized_classes,
)
from flaxprec.roles import MethodContext, call_uses
from flaxprec.suppress import split_lines

PARTIAL = "functools.partial"
CAST_NAMES = frozenset({"astype", "asarray", "array", "convert_element_type"})  # by the last name: a superset
FP16_MAX = 65504.0
INFINITY_NAMES = frozenset({"inf", "Inf", "infty", "PINF", "NINF"})
# What the gate understands, by rule: a rule whose ``gate`` is one of these lets the engine skip the
# statements that the matching predicate clears.
GATES = frozenset({"calls", "params", "huge-constants"})
OPAQUE = ""  # a callee that is a local, non-alias name: never a layer for the analysis either
AMBIGUOUS = "?"  # a name bound to different things in one scope: the gate cannot tell, so it suspects
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


# The sketch's types are named tuples, not dataclasses: a file's sketch is built, sent between processes
# and read back as JSON arrays thousands of times per run, and a tuple is several times cheaper to make.
class CallSketch(NamedTuple):
    callee: str | None  # qualified name (a partial alias's layer), AMBIGUOUS, None if unresolvable
    keywords: tuple[str, ...]  # "**" for a ``**kwargs`` argument; a partial alias's keywords come first
    positional: int  # a partial alias's positional arguments included
    starred: bool
    param_value: (
        str | None
    )  # the ``param_dtype=`` value when simple ("self.param_dtype", "jax.numpy.float32")
    first: str | None  # qualified name of the first positional argument (for functools.partial)
    owner: str | None  # qualname of the class whose method (or nested function) holds the call
    self_param: bool  # ``<first parameter of the method>.param(...)``
    # A parameter creation's dtype argument (``self.param`` or ``nnx.Param``'s array call): its simple
    # value, "" when none is passed, None when it cannot be told.
    stored: str | None = ""
    member: int = -1  # index of the top-level class's body statement holding the call (-1: none)
    # An enclosing function reads ``<config>.dtype``: the analysis may take its compute dtype from there.
    config_dtype: bool = False
    # ``self.param(name, init, shape)`` named like the logits' or shaped by the vocabulary: the logits' own
    # bias or scale, which the analysis never follows as a parameter (FLX007).
    logits: bool = False
    # ``self.param`` bound to a local name read only as an argument of flax's ``promote_dtype`` (or of the
    # module's own methods): the analysis never sees that parameter combined with anything (FLX007; see
    # flaxprec.gate_params).
    promoted: bool = False


class Member(NamedTuple):
    """A statement of a top-level class's body: a method can be stubbed out of a slice."""

    start: int  # first line, decorators included
    end: int
    kind: str  # "def", "class", "literal" (``A = [(1, 2.5), ...]``, data: see _is_literal) or "other"
    name: str | None  # for "literal": the targets as written, ``A = B``


class StatementSketch(NamedTuple):
    start: int  # first line, decorators included
    end: int
    # "class", "def", "expr" (binds nothing), "literal" (``A = "..."``, ``A = [(1, 2.5), ...]``), "import"
    # or "other"
    kind: str
    # for "literal": the targets as written, ``A = B`` ("": none to stub); for "import": the names bound
    name: str | None
    calls: tuple[CallSketch, ...]
    # Classes whose methods hold a literal beyond float16's range, or an infinity (FLX106 judges those
    # inside Module methods only).
    huge_owners: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()  # a class's bases as written (same-file inheritance of params, FLX007)
    members: tuple[Member, ...] = ()  # a class's body, when it starts below the ``class`` line
    # Mentions (as a word of its text) a name whose ``.attend`` is called in this file: it may build that
    # tied embedding or look it up, which the finding on the embedding depends on (FLX001).
    tied: bool = False
    # Of a class's members: those that bind an attribute on ``self``, or read one that some statement of
    # the file stores. What the others compute cannot hold a parameter or change what the kept methods see
    # on ``self`` (the analysis's only channel between methods), so FLX007 and FLX106 judge the class from
    # these, plus the members creating parameters (``calls``) or holding the mask constants.
    attr_members: tuple[int, ...] = ()
    # the members holding a constant of ``huge_owners``, and those calling them on ``self``
    huge_members: tuple[int, ...] = ()
    # Holds what may be an explicit cast (``.astype(...)``, ``asarray``...): FLX001 then follows the output
    # of a layer built without dtype into the members calling it (flaxprec.flow).
    casts: bool = False


@dataclass(frozen=True)
class _Partial:
    """What ``functools.partial(Layer, ...)`` binds: the layer and the arguments it already has."""

    callee: str
    keywords: tuple[str, ...]
    positional: int
    starred: bool
    param_value: str | None


Binding = str | _Partial


class _Frame:
    """A scope being sketched. Bindings are resolved once the whole statement has been walked: a name is
    bound to what all of its (non-opaque) bindings agree on, else :data:`AMBIGUOUS`.

    A frame's names are solved together, as a least fixpoint from "opaque": ``x = x.T`` leaves ``x``
    opaque, and ``e = d`` with ``d = nn.Dense`` binds ``e`` to the layer whichever comes first. Values
    only grow (opaque < a name < ambiguous), so the iteration ends.
    """

    __slots__ = ("_bindings", "_config_dtype", "dtype_heads", "events", "kind", "node", "parent")

    def __init__(self, kind: str, parent: _Frame | None, node: ast.AST | None = None) -> None:
        self.kind = kind  # "module", "class", "function" or "lambda"
        self.parent = parent
        self.node = node  # the function or lambda of a "function"/"lambda" frame
        # name -> how it is bound: None (opaque), a qualified name (an import), or ``name = <expr>``
        self.events: dict[str, list[ast.expr | str | None]] = {}
        self._bindings: dict[str, Binding] | None = None  # solved on first lookup
        self.dtype_heads: set[str] = set()  # ``H`` of the ``H.dtype`` reads in this function
        self._config_dtype: bool | None = None

    def reads_config_dtype(self) -> bool:
        """Does this function, or one around it, read ``cfg.dtype`` off a config (a parameter or a local
        named like one, or a local taken from ``<...>.config``)? A superset of the analysis's test. Asked
        once the statement is walked (the frame is complete), for each of its calls: worked out once."""
        if self._config_dtype is None:
            self._config_dtype = self.kind in ("function", "lambda") and (
                any(_config_head(self, head) for head in self.dtype_heads)
                or (self.parent is not None and self.parent.reads_config_dtype())
            )
        return self._config_dtype

    def bind(self, name: str, how: ast.expr | str | None) -> None:
        self.events.setdefault(name, []).append(how)

    def lookup(self, name: str) -> Binding | None:
        frame: _Frame | None = self
        while frame is not None:
            if name in frame.events:
                if frame._bindings is None:
                    frame._solve()
                return frame._bindings[name]  # type: ignore[index]
            frame = frame.parent
        return None

    def _solve(self) -> None:
        bindings: dict[str, Binding] = dict.fromkeys(self.events, OPAQUE)
        self._bindings = bindings  # lookups while solving read the values so far
        changed = True
        while changed:
            changed = False
            for name, hows in self.events.items():
                values = {bindings[name], *(self._evaluate(how) for how in hows)}
                values.discard(OPAQUE)  # the analysis finds nothing through an opaque binding
                value = values.pop() if len(values) == 1 else AMBIGUOUS if values else OPAQUE
                if value != bindings[name]:
                    bindings[name] = value
                    changed = True

    def _evaluate(self, how: ast.expr | str | None) -> Binding:
        if how is None or isinstance(how, str):
            return how or OPAQUE
        return self.alias_value(how)

    def resolve(self, node: ast.expr) -> Binding | None:
        """What a name or dotted name (``nn.Dense``) refers to: its head's binding, with the rest appended."""
        parts: list[str] = []
        while type(node) is ast.Attribute:
            parts.append(node.attr)  # type: ignore[attr-defined]
            node = node.value  # type: ignore[attr-defined]
        if type(node) is not ast.Name:
            return None
        target = self.lookup(node.id)  # type: ignore[attr-defined]
        if not target:  # most calls (``self.dense(x)``, ``x.reshape(...)``): no name is built for them
            return None
        if isinstance(target, _Partial):
            return None if parts else target
        if target == AMBIGUOUS:
            return AMBIGUOUS
        return ".".join([target, *reversed(parts)]) if parts else target

    def alias_value(self, value: ast.expr) -> Binding:
        """What ``X = value`` makes ``X``: a qualified name, a partial of a name, or OPAQUE."""
        if type(value) is not ast.Call:
            return self.resolve(value) or OPAQUE
        func = self.resolve(value.func)
        if (func != PARTIAL and func != AMBIGUOUS) or not value.args:
            return OPAQUE
        inner = self.resolve(value.args[0])
        if func == AMBIGUOUS:  # perhaps ``functools.partial``: suspect if it would bind a partial of a name
            return AMBIGUOUS if inner else OPAQUE
        keywords, positional, starred = _arguments(value, skip=1)
        param_value = _param_value(value, self)
        if isinstance(inner, _Partial):
            return _Partial(
                inner.callee,
                inner.keywords + keywords,
                inner.positional + positional,
                inner.starred or starred,
                param_value if "param_dtype" in keywords else inner.param_value,
            )
        if not inner:
            return OPAQUE
        if inner == AMBIGUOUS:
            return AMBIGUOUS
        return _Partial(inner, keywords, positional, starred, param_value)


def _arguments(call: ast.Call, skip: int = 0) -> tuple[tuple[str, ...], int, bool]:
    """Keyword names ("**" for ``**kw``), plain positional count and whether one is ``*args``."""
    args = call.args[skip:] if skip else call.args
    stars = 0
    for arg in args:
        if type(arg) is ast.Starred:
            stars += 1
    keywords = tuple([k.arg or "**" for k in call.keywords]) if call.keywords else ()
    return keywords, len(args) - stars, stars > 0


def _param_value(call: ast.Call, frame: _Frame) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "param_dtype":
            return _simple_value(keyword.value, frame)
    return None


def _simple_value(value: ast.expr, frame: _Frame) -> str | None:
    if type(value) is ast.Constant and isinstance(value.value, str):
        return f"'{value.value}'"
    name = dotted_name(value)
    if name is None:
        return None
    resolved = frame.resolve(value)
    return resolved if isinstance(resolved, str) and resolved else name


def _import_bindings(node: ast.Import | ast.ImportFrom, module_name: str) -> dict[str, str]:
    """What a function-level import binds (the analysis resolves those imports too)."""
    local = ImportMap()
    if isinstance(node, ast.Import):
        for alias in node.names:
            local.add_import(alias.name, alias.asname)
    else:
        source = resolve_relative(module_name, False, node.level, node.module)
        for alias in node.names:
            if source is not None and alias.name != "*":
                local.add_from(source, alias.name, alias.asname)
    bound = {(a.asname or a.name).split(".")[0]: "" for a in node.names if a.name != "*"}
    return {**bound, **local.bindings}


def _module_frame(tree: ast.Module, imports: ImportMap, module_name: str) -> _Frame:
    """Module-level names: imports, classes, functions and ``X = ...`` aliases."""
    frame = _Frame("module", None)
    for name, target in imports.bindings.items():
        frame.bind(name, target)
    for stmt in tree.body:
        if type(stmt) is ast.ClassDef:
            frame.bind(stmt.name, f"{module_name}.{stmt.name}")
        elif isinstance(stmt, _FUNCTIONS):
            frame.bind(stmt.name, None)
        elif type(stmt) is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name:
            frame.bind(stmt.targets[0].id, stmt.value)
    return frame


@dataclass(slots=True)
class _RawCall:
    node: ast.Call
    frame: _Frame
    owner: tuple[str, str | None] | None  # (class qualname, the method's first parameter)
    member: int


class _Walker:
    """One pass over a top-level statement: its calls (resolved at the end), constants and members, and
    the index's :class:`MethodFacts` of the classes in ``facts`` (by ``id`` of their node)."""

    def __init__(
        self,
        module_name: str,
        facts: Mapping[int, MethodFacts],
        class_names: set[str],
        source: _Source,
        attribute_stores: set[str],
    ) -> None:
        self.module_name = module_name
        # Every ``X`` of an ``<anything>.X = ...`` of the file: complete once all its statements are walked.
        self.attribute_stores = attribute_stores
        self.source = source
        self.facts = facts
        self.class_names = class_names
        self.methods: list[tuple[MethodFacts, str, bool]] = []  # (sink, self name, is __init__) around
        self.calls: list[_RawCall] = []
        self.attend_receivers: list[tuple[ast.expr, _Frame]] = []  # ``X`` of ``X.attend(...)``
        self.huge_owners: dict[str, None] = {}  # insertion-ordered set
        self.huge_members: set[int] = set()
        self.attr_stores: set[int] = set()  # members binding ``<self>.X``
        self.attr_reads: dict[int, set[str]] = {}  # member -> the X of the ``<self>.X`` it reads
        self.casts = False
        self.member = -1

    def visit(
        self,
        node: ast.AST,
        tp: type,
        frame: _Frame,
        owner: tuple[str, str | None] | None,
        classes: tuple[str, ...],
    ) -> None:
        """Visit ``node``, of type ``tp`` (the caller has it at hand: one ``type()`` call fewer per node).

        Names and constants, most of a tree's leaves, come first and cost no more; attribute chains
        (``self.config.hidden_size``) are followed in a loop, not by a call per link.
        """
        if tp is ast.Name:
            if frame.kind == "function" and type(node.ctx) is ast.Store:  # type: ignore[attr-defined]
                frame.bind(node.id, None)  # type: ignore[attr-defined]
            return
        if tp is ast.Constant:
            if owner is not None and _huge(node.value):  # type: ignore[attr-defined]
                self.huge_owners[owner[0]] = None
                self.huge_members.add(self.member)
            return
        if tp is ast.Attribute:  # the most frequent node type; its one child is ``value``
            store = type(node.ctx) is ast.Store  # type: ignore[attr-defined]  # only a chain's outermost
            if store:
                self.attribute_stores.add(node.attr)  # type: ignore[attr-defined]
            while True:
                attr, value = node.attr, node.value  # type: ignore[attr-defined]
                tv = type(value)
                if attr == "dtype" and tv is ast.Name:
                    frame.dtype_heads.add(value.id)
                if owner is not None and attr in INFINITY_NAMES:
                    self.huge_owners[owner[0]] = None
                    self.huge_members.add(self.member)
                if self.methods and (attr == "dtype" or attr == "compute_dtype" or attr in NORM_STATISTICS):
                    for sink, self_name, in_init in self.methods:  # what MethodFacts records
                        sink.see(node, self_name, in_init)
                if tv is not ast.Attribute:
                    break
                node, store = value, False
            if tv is not ast.Name:  # a name here is read, never bound
                self.visit(value, tv, frame, owner, classes)
            elif owner is not None and value.id == owner[1]:  # ``<self>.attr``
                if store:
                    self.attr_stores.add(self.member)
                else:
                    self.attr_reads.setdefault(self.member, set()).add(attr)
            return
        if tp is ast.Call:
            func = node.func  # type: ignore[attr-defined]
            tf = type(func)
            if tf is ast.Attribute:
                if func.attr == "attend":
                    self.attend_receivers.append((func.value, frame))
                elif func.attr in CAST_NAMES and not self.casts:
                    self.casts = _float_cast(node, func.attr)  # type: ignore[arg-type]
            elif tf is ast.Name and func.id in CAST_NAMES and not self.casts:
                self.casts = _float_cast(node, func.id)  # type: ignore[arg-type]
            self.calls.append(_RawCall(node, frame, owner, self.member))  # type: ignore[arg-type]
            self.visit(func, type(func), frame, owner, classes)
            for arg in node.args:  # type: ignore[attr-defined]
                self.visit(arg, type(arg), frame, owner, classes)
            for keyword in node.keywords:  # type: ignore[attr-defined]
                value = keyword.value
                self.visit(value, type(value), frame, owner, classes)
            return
        if self.methods and (tp is ast.Assign or tp is ast.AnnAssign):
            for sink, self_name, in_init in self.methods:
                sink.see(node, self_name, in_init)
        if tp is ast.Assign:
            targets = node.targets  # type: ignore[attr-defined]
            if len(targets) == 1 and type(targets[0]) is ast.Name and frame.kind in ("function", "class"):
                frame.bind(targets[0].id, node.value)  # type: ignore[attr-defined]
                value = node.value  # type: ignore[attr-defined]
                self.visit(value, type(value), frame, owner, classes)
                return
        elif tp is ast.ClassDef:
            self._class(node, frame, owner, classes)  # type: ignore[arg-type]
            return
        elif tp is ast.FunctionDef or tp is ast.AsyncFunctionDef or tp is ast.Lambda:
            self._function(node, frame, owner, classes)  # type: ignore[arg-type]
            return
        elif tp is ast.Import or tp is ast.ImportFrom:  # its aliases hold no expression
            if frame.kind == "function":
                for name, target in _import_bindings(node, self.module_name).items():  # type: ignore[arg-type]
                    frame.bind(name, target or None)
            return
        # The most frequent of the other types, without a list of children (same order as children()).
        elif tp is ast.Subscript:
            value, index = node.value, node.slice  # type: ignore[attr-defined]
            self.visit(value, type(value), frame, owner, classes)
            self.visit(index, type(index), frame, owner, classes)
            return
        elif tp is ast.Tuple or tp is ast.List:
            for item in node.elts:  # type: ignore[attr-defined]
                self.visit(item, type(item), frame, owner, classes)
            return
        elif tp is ast.Return or tp is ast.Expr:
            value = node.value  # type: ignore[attr-defined]
            if value is not None:
                self.visit(value, type(value), frame, owner, classes)
            return
        for child in children(node):
            self.visit(child, type(child), frame, owner, classes)

    def _class(
        self,
        node: ast.ClassDef,
        frame: _Frame,
        owner: tuple[str, str | None] | None,
        classes: tuple[str, ...],
    ) -> None:
        for child in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(child, type(child), frame, owner, classes)
        if frame.kind == "function":
            frame.bind(node.name, None)
        # Methods see the class body's aliases here (Python would not): more suspects, never fewer.
        self.class_names.add(node.name)
        body = _Frame("class", frame)
        top = not classes
        sink = self.facts.get(id(node))
        for i, stmt in enumerate(node.body):
            if top:
                self.member = i
            self_name = method_self(stmt) if sink is not None else None
            if self_name is not None:
                self.methods.append((sink, self_name, stmt.name == "__init__"))  # type: ignore[arg-type, attr-defined]
            self.visit(stmt, type(stmt), body, None, (*classes, node.name))
            if self_name is not None:
                self.methods.pop()
        if top:
            self.member = -1

    def _function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
        frame: _Frame,
        owner: tuple[str, str | None] | None,
        classes: tuple[str, ...],
    ) -> None:
        is_lambda = type(node) is ast.Lambda
        if not is_lambda and frame.kind == "function":
            frame.bind(node.name, None)  # type: ignore[union-attr]
        args = node.args
        if owner is None and classes:
            params = [*args.posonlyargs, *args.args]
            owner = (".".join([self.module_name, *classes]), params[0].arg if params else None)
        scope = _Frame("lambda" if is_lambda else "function", frame, node)
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                scope.bind(arg.arg, None)
        # Decorators, defaults and annotations are visited in the function's scope, as the analysis does.
        for child in getattr(node, "decorator_list", ()):
            self.visit(child, type(child), scope, owner, classes)
        # ``args`` as the generic walk would visit it (field order), without a visit per parameter.
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs):
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation, type(arg.annotation), scope, owner, classes)
        for default in args.kw_defaults:
            if default is not None:
                self.visit(default, type(default), scope, owner, classes)
        if args.kwarg is not None and args.kwarg.annotation is not None:
            self.visit(args.kwarg.annotation, type(args.kwarg.annotation), scope, owner, classes)
        for default in args.defaults:
            self.visit(default, type(default), scope, owner, classes)
        if is_lambda:
            self.visit(node.body, type(node.body), scope, owner, classes)  # type: ignore[arg-type]
            return
        if node.returns is not None:  # type: ignore[union-attr]
            self.visit(node.returns, type(node.returns), scope, owner, classes)  # type: ignore[union-attr]
        for stmt in node.body:  # type: ignore[union-attr]
            self.visit(stmt, type(stmt), scope, owner, classes)

    def sketches(self) -> tuple[CallSketch, ...]:
        """The calls a rule could judge: a resolved callee, or ``self.param`` (most calls are neither)."""
        found = [(raw, call) for raw in self.calls if (call := _call_sketch(raw, self.source)) is not None]
        promoted = _promoted([raw for raw, call in found if call.self_param], self.attribute_stores)
        if promoted:
            found = [
                (raw, call._replace(promoted=True) if id(raw.node) in promoted else call)
                for raw, call in found
            ]
        return tuple(call for _, call in found)


def _promoted(params: list[_RawCall], stored: set[str]) -> set[int]:
    """The ``self.param`` calls (ids) of methods whose parameter only ever meets ``promote_dtype``."""
    by_method: dict[int, list[_RawCall]] = {}
    for raw in params:
        frame = raw.frame  # a call directly in a method's body: its frame is the method's
        if frame.kind == "function" and frame.parent is not None and frame.parent.kind == "class":
            by_method.setdefault(id(frame), []).append(raw)
    found: set[int] = set()
    for raws in by_method.values():
        frame = raws[0].frame
        self_name = raws[0].owner[1]  # type: ignore[index]
        found |= promoted_params(frame.node, [id(raw.node) for raw in raws], self_name, frame.resolve, stored)  # type: ignore[arg-type]
    return found


class _Source:
    """The file's text, split into lines once, when a segment of it is first asked for (rarely).

    Not ``ast.get_source_segment``: it splits the whole text again on each call, character by character
    in Python, which costs more than the whole ast stage on a file with many ``self.param`` calls.
    """

    __slots__ = ("_lines", "text")

    def __init__(self, text: str | None) -> None:
        self.text = text
        self._lines: list[bytes] | None = None

    def segment(self, node: ast.expr) -> str | None:
        """``node``'s source text as written (comments included), or None without the text."""
        if self.text is None or node.end_lineno is None or node.end_col_offset is None:
            return None
        if self._lines is None:  # ast columns count UTF-8 bytes; bytes split on \n, \r\n and \r only
            self._lines = self.text.encode("utf-8", "surrogatepass").splitlines(keepends=True)
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            return self._lines[first][node.col_offset : node.end_col_offset].decode("utf-8", "surrogatepass")
        pieces = [self._lines[first][node.col_offset :], *self._lines[first + 1 : last]]
        pieces.append(self._lines[last][: node.end_col_offset])
        return b"".join(pieces).decode("utf-8", "surrogatepass")


def _logits_param(call: ast.Call, source: _Source) -> bool:
    """Is this ``self.param`` the logits' own bias or scale (:func:`flaxprec.dtypes.logits_parameter`), as
    the analysis tells it? Then the analysis never follows it as a parameter. The same arguments are read:
    the name (the first positional argument, ``*args`` not counted, else ``name=``) when it is one string
    literal, and the shape (the third positional argument) as written. A "yes" here is a "yes" there: the
    analysis's text of the shape includes what surrounds the node here (its parentheses)."""
    positional = [a for a in call.args if type(a) is not ast.Starred]  # as the analysis counts them
    name = positional[0] if positional else next((k.value for k in call.keywords if k.arg == "name"), None)
    name_value = name.value if name is not None and _one_literal(name, source) else ""  # type: ignore[attr-defined]
    shape = source.segment(positional[2]) if len(positional) > 2 else ""
    return shape is not None and logits_parameter(name_value, shape)


def _one_literal(node: ast.expr, source: _Source) -> bool:
    """A string written as one literal (libcst's ``SimpleString``), not ``"a" "b"`` nor an f-string."""
    if type(node) is not ast.Constant or not isinstance(node.value, (str, bytes)):
        return False
    literal = source.segment(node)
    if not literal:
        return False
    # The text is one or more string literals (the parser said so): one if the first one ends it. A
    # backslash always takes the next character along, raw strings included (r"\"" is one literal).
    start = len(literal) - len(literal.lstrip("rRbBuU"))
    opening = literal[start : start + 3]
    quote = opening if opening in ('"""', "'''") else literal[start : start + 1]
    i = start + len(quote)
    while i < len(literal):
        if literal[i] == "\\":
            i += 2
        elif literal.startswith(quote, i):
            return i + len(quote) == len(literal)
        else:
            i += 1
    return False


def _call_sketch(raw: _RawCall, source: _Source) -> CallSketch | None:
    """The call as the gate sees it; None when no rule could judge it (no callee, not ``self.param``)."""
    node, frame = raw.node, raw.frame
    owner, self_name = raw.owner or (None, None)
    func = node.func
    callee = frame.resolve(func)
    self_param = (  # ``<self>.param``
        type(func) is ast.Attribute
        and func.attr == "param"
        and type(func.value) is ast.Name
        and func.value.id == self_name
        and bool(self_name)
    )
    if not callee and not self_param:
        return None
    keywords, positional, starred = _arguments(node)
    param_value = _param_value(node, frame)
    first = None
    stored = ""
    if isinstance(callee, _Partial):
        param_value = param_value if "param_dtype" in keywords else callee.param_value
        keywords = callee.keywords + keywords
        positional += callee.positional
        starred = starred or callee.starred
        callee = callee.callee
    elif callee == PARTIAL and node.args:
        inner = frame.resolve(node.args[0])
        first = inner if isinstance(inner, str) and inner else None  # partial(<a partial>): no layer
        keywords, positional, starred = _arguments(node, skip=1)
    if self_param:
        stored = _stored(node, 3, frame)
    elif callee in NNX_PARAM_NAMES:
        array = _first_argument(node)
        if type(array) is ast.Call:
            qualified = frame.resolve(array.func)
            index = ARRAY_DTYPE_INDEX.get(qualified, 2) if isinstance(qualified, str) else 2
            stored = _stored(array, index, frame)
    return CallSketch(  # positionally: the field order
        callee or None,
        keywords,
        positional,
        starred,
        param_value,
        first,
        owner,
        self_param,
        stored,
        raw.member,
        owner is not None and frame.reads_config_dtype(),
        self_param and _logits_param(node, source),
    )


def _config_head(frame: _Frame, head: str) -> bool:
    """``head`` (of a ``head.dtype`` read in ``frame``) is a config: named like one, or bound in ``frame``
    to something whose last part is named like one (``cfg = self.config``)."""
    if head in CONFIG_NAMES:
        return True
    for how in frame.events.get(head, ()):
        name = dotted_name(how) if isinstance(how, ast.expr) else None
        if name is not None and name.split(".")[-1] in CONFIG_NAMES:
            return True
    return False


def _first_argument(call: ast.Call) -> ast.expr | None:
    """The value of the call's first argument in source order, keyword or not (as libcst lists them);
    a ``*args`` argument is its Starred node."""
    first: list[ast.expr | ast.keyword] = [*call.args[:1], *call.keywords[:1]]
    if not first:
        return None
    earliest = min(first, key=lambda a: (a.lineno, a.col_offset))
    return earliest.value if isinstance(earliest, ast.keyword) else earliest


def _stored(call: ast.Call, index: int, frame: _Frame) -> str | None:
    """The dtype argument of a parameter creation: ``dtype=`` or the positional one at ``index``."""
    for keyword in call.keywords:
        if keyword.arg == "dtype":
            return _simple_value(keyword.value, frame)
    if any(type(a) is ast.Starred for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    return _simple_value(call.args[index], frame) if len(call.args) > index else ""


def read_tree(
    tree: ast.Module, module_name: str, is_package: bool = False, text: str | None = None
) -> tuple[FileSummary, tuple[StatementSketch, ...]]:
    """The ``ast`` stage of one file: its class summaries and its sketch, in one walk of the tree.

    ``text``: the source the tree was parsed from (without it, the sketch keeps what it cannot read)."""
    imports = collect_imports(tree, module_name, is_package)
    facts = {id(node): MethodFacts() for node, _ in summarized_classes(tree, module_name)}
    class_names: set[str] = set()
    statements = sketch(tree, imports, module_name, facts, class_names, text)
    summary = summarize(tree, module_name, is_package, imports=imports, facts=facts, class_names=class_names)
    return summary, statements


def sketch(
    tree: ast.Module,
    imports: ImportMap,
    module_name: str,
    facts: Mapping[int, MethodFacts] | None = None,
    class_names: set[str] | None = None,
    text: str | None = None,
) -> tuple[StatementSketch, ...]:
    """Sketch every top-level statement of a parsed file (filling ``facts`` on the way, see _Walker, and
    ``class_names`` with the name of every class met)."""
    class_names = class_names if class_names is not None else set()
    module = _module_frame(tree, imports, module_name)
    source = _Source(text)
    attribute_stores: set[str] = set()
    walked: list[tuple[ast.stmt, _Walker]] = []
    attended: set[str] = set()
    for stmt in tree.body:
        walker = _Walker(module_name, facts or {}, class_names, source, attribute_stores)
        walker.visit(stmt, type(stmt), module, None, ())
        walked.append((stmt, walker))
        for receiver, frame in walker.attend_receivers:
            attended |= _attended_names(receiver, frame)
    if facts:
        _record_dtype_uses(tree, module_name, facts, [walker for _, walker in walked])
    # Then the sketches: what reads the file's attribute stores sees all of them.
    statements = [_statement_sketch(stmt, walker, module_name) for stmt, walker in walked]
    if attended:
        return _mark_tied(tuple(statements), attended, text)
    return tuple(statements)


def _record_dtype_uses(
    tree: ast.Module, module_name: str, facts: Mapping[int, MethodFacts], walkers: list[_Walker]
) -> None:
    """Give each summarised class the dtype uses of its methods' calls (flaxprec.roles), their callees
    resolved as the sketch resolves them (aliases and partials included)."""
    classes = summarized_classes(tree, module_name)
    sinks = {qualname: facts[id(node)] for node, qualname in classes if id(node) in facts}
    raws: dict[int, _RawCall] = {}
    by_class: dict[str, list[ast.Call]] = {}
    for walker in walkers:
        for raw in walker.calls:
            if raw.owner is not None and raw.owner[1] and raw.owner[0] in sinks:
                raws[id(raw.node)] = raw
                by_class.setdefault(raw.owner[0], []).append(raw.node)
    contexts: dict[int, MethodContext | None] = {}

    def context_of(call: ast.Call) -> MethodContext | None:
        raw = raws[id(call)]
        if id(raw.frame) in contexts:
            return contexts[id(raw.frame)]
        method: _Frame | None = raw.frame
        while method is not None and not (method.kind == "function" and _in_class(method)):
            method = method.parent
        context = None
        if method is not None and method.node is not None and raw.owner is not None and raw.owner[1]:
            context = MethodContext(raw.owner[1], method_inputs(method.node))  # type: ignore[arg-type]
        contexts[id(raw.frame)] = context
        return context

    def resolve(call: ast.Call, expr: ast.expr) -> object:
        return raws[id(call)].frame.resolve(expr)

    for qualname, calls in by_class.items():
        sinks[qualname].uses.extend(call_uses(calls, context_of, resolve))


def _in_class(frame: _Frame) -> bool:
    return frame.parent is not None and frame.parent.kind == "class"


def _statement_sketch(stmt: ast.stmt, walker: _Walker, module_name: str) -> StatementSketch:
    decorators = getattr(stmt, "decorator_list", ())
    start = min([stmt.lineno, *(d.lineno for d in decorators)])
    tp = type(stmt)
    kind, name = "other", getattr(stmt, "name", None)
    bases: tuple[str, ...] = ()
    members: tuple[Member, ...] = ()
    attr_members: tuple[int, ...] = ()
    huge = walker.huge_members
    if tp is ast.ClassDef:
        kind = "class"
        bases = tuple(filter(None, map(dotted_name, stmt.bases)))  # type: ignore[attr-defined]
        members = _members(stmt)  # type: ignore[arg-type]
        stores = walker.attribute_stores
        readers = {m for m, read in walker.attr_reads.items() if not stores.isdisjoint(read)}
        attr_members = tuple(sorted(walker.attr_stores | readers))
        huge = _with_callers(walker.huge_members, members, walker.attr_reads)
    elif tp is ast.FunctionDef or tp is ast.AsyncFunctionDef:
        kind = "def"
    elif tp is ast.Expr and not any(type(n) is ast.NamedExpr for n in walk(stmt)):
        kind = "expr"
    elif tp is ast.Import or tp is ast.ImportFrom:
        names = _import_names(stmt, module_name)  # type: ignore[arg-type]
        if names is not None:
            kind, name = "import", " ".join(names)
    elif tp is ast.Assign and _is_literal(stmt.value):  # type: ignore[attr-defined]
        targets = [dotted_name(t) for t in stmt.targets]  # type: ignore[attr-defined]
        if all(t and "." not in t for t in targets):
            kind, name = "literal", " = ".join(targets)  # type: ignore[arg-type]
    elif tp is ast.AnnAssign and type(stmt.target) is ast.Name and _is_literal(stmt.value):  # type: ignore[attr-defined]
        # The analysis binds no name at module level for an annotated assignment (nor does the gate's module
        # frame): data there needs no stub, and a ``NAME = None`` one would unbind an import of that name
        # for the code above it.
        kind, name = "literal", ""
    return StatementSketch(
        start=start,
        end=stmt.end_lineno or stmt.lineno,
        kind=kind,
        name=name,
        calls=walker.sketches(),
        huge_owners=tuple(walker.huge_owners),
        bases=bases,
        members=members,
        attr_members=attr_members,
        huge_members=tuple(sorted(huge)),
        casts=walker.casts,
    )


def _with_callers(holders: set[int], members: tuple[Member, ...], reads: dict[int, set[str]]) -> set[int]:
    """The members holding mask constants, and those calling them on ``self`` (in turn): a method may
    return the masked value to the one that softmaxes it (FLX106 follows it there)."""
    found = set(holders)
    while True:
        names = {members[m].name for m in found if 0 <= m < len(members) and members[m].kind == "def"}
        callers = {m for m, read in reads.items() if m not in found and not names.isdisjoint(read)}
        if not callers:
            return found
        found |= callers


def _attended_names(receiver: ast.expr, frame: _Frame) -> set[str]:
    """The names the analysis records for ``receiver.attend(...)``: the last part of the receiver's dotted
    name and of what it aliases in its function (``e = self.embed``: ``e`` and ``embed``), or more."""
    names: set[str] = set()
    todo = [dotted_name(receiver)]
    while todo:
        name = todo.pop()
        if name is None or name.rpartition(".")[2] in names:
            continue
        names.add(name.rpartition(".")[2])
        if "." not in name and frame.kind in ("function", "lambda"):
            todo += [dotted_name(how) for how in frame.events.get(name, ()) if isinstance(how, ast.expr)]
    return names


def _mark_tied(
    statements: tuple[StatementSketch, ...], names: set[str], text: str | None
) -> tuple[StatementSketch, ...]:
    """Mark the statements whose text mentions one of ``names`` (all of them without the text). Data
    (:func:`_is_literal`) is never marked: it neither builds nor looks up an embedding, and a table whose
    strings hold the name must not bring itself into the slice."""
    if text is None:
        return tuple(s if s.kind == "literal" else s._replace(tied=True) for s in statements)
    lines = split_lines(text)
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\b")
    return tuple(
        s._replace(tied=True)
        if s.kind != "literal" and pattern.search("".join(lines[s.start - 1 : s.end]))
        else s
        for s in statements
    )


def _import_names(node: ast.Import | ast.ImportFrom, module_name: str) -> tuple[str, ...] | None:
    """The names a module-level import binds; None for one always kept in a slice: ``*``, ``__future__``,
    and what the fixes look up by themselves (a name ``jnp``, an alias of ``jax.numpy``)."""
    if type(node) is ast.ImportFrom and (
        node.module == "__future__" or any(a.name == "*" for a in node.names)
    ):
        return None
    bound = _import_bindings(node, module_name)
    if JNP_NAME in bound or JNP_MODULE in bound.values():
        return None
    return tuple(bound)


_WORD = re.compile(r"\w+")


def _huge(value: object) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return abs(value) >= FP16_MAX
    return isinstance(value, str) and value.strip().lstrip("+-").lower() in ("inf", "infinity")


_LITERAL_CONTAINERS = (ast.List, ast.Tuple, ast.Set)


def _is_literal(value: ast.expr | None) -> bool:
    """Data written out in full: constants (strings, numbers, ``None``...), and lists, tuples, sets and
    dicts of them, with operators between them (``-1e9``, ``"a" + "b"``, ``2**16``); no name, call or
    f-string anywhere. Bound at module level, such a value binds its name to nothing a rule reads: the
    analysis binds a module-level name only to what it resolves as a name (a layer, an import), and
    evaluates values only inside Module methods, where a module-level name is a constant whatever it
    holds (flaxprec.numerics). A data table of 40,000 rows is such a value: a stub stands for it in a
    slice, and libcst never parses it.

    A loop over the nodes, not a recursion: a table may nest deeper than Python's recursion limit."""
    todo: list[ast.expr | None] = [value]
    while todo:
        node = todo.pop()
        tp = type(node)
        if tp is ast.Constant:
            continue
        if tp in _LITERAL_CONTAINERS:
            todo += node.elts  # type: ignore[union-attr]
        elif tp is ast.Dict:
            if None in node.keys:  # type: ignore[union-attr]  # ``{**other}`` reads a name
                return False
            todo += node.keys  # type: ignore[union-attr]
            todo += node.values  # type: ignore[union-attr]
        elif tp is ast.UnaryOp:
            todo.append(node.operand)  # type: ignore[union-attr]
        elif tp is ast.BinOp:
            todo += (node.left, node.right)  # type: ignore[union-attr]
        else:
            return False
    return True


def _members(node: ast.ClassDef) -> tuple[Member, ...]:
    """The class body's statements, when all of them start below the ``class`` line (else: none)."""
    members = []
    for stmt in node.body:
        decorators = getattr(stmt, "decorator_list", ())
        start = min([stmt.lineno, *(d.lineno for d in decorators)])
        if start <= node.lineno:
            return ()
        kind = "class" if type(stmt) is ast.ClassDef else "def" if isinstance(stmt, _FUNCTIONS) else "other"
        name = getattr(stmt, "name", None)
        if type(stmt) is ast.Assign and _is_literal(stmt.value):
            # Data in a class body binds nothing the analysis reads either (a class-level name is bound only
            # to a layer, and no value is evaluated outside methods): a stub stands for it in a slice.
            targets = [t.id for t in stmt.targets if type(t) is ast.Name]
            if len(targets) == len(stmt.targets):
                kind, name = "literal", " = ".join(targets)
        members.append(Member(start, stmt.end_lineno or stmt.lineno, kind, name))
    return tuple(members)


def _suspect_call(call: CallSketch, index: ProjectIndex) -> bool:
    """Could a rule report this call? (Conservative: unsure means yes.)"""
    callee = call.callee
    if callee == AMBIGUOUS:
        return True
    if call.self_param or callee in NNX_PARAM_NAMES:
        # FLX004: the analysis records a creation only inside a Module; it reports half or compute dtypes.
        if call.owner is None or index.facts(call.owner) is None:
            return False
        return call.stored is None or (call.stored != "" and not _safe_param_value(call.stored))
    if not callee:
        return False
    if callee == PARTIAL:
        if call.first == AMBIGUOUS:
            return True
        spec = _spec(call.first, index) if call.first else None
    else:
        spec = _spec(callee, index)
    if spec is None:
        return False
    if call.starred or "**" in call.keywords:
        return True
    indices = [i for i in (spec.dtype_index, spec.param_dtype_index) if i is not None]
    if indices and call.positional > min(indices):
        return True
    if "param_dtype" in call.keywords and not _safe_param_value(call.param_value):
        return True
    if call.owner is None:
        return False
    storage_names = index.catalogue.conventions.storage_names
    if any(keyword != "param_dtype" and keyword in storage_names for keyword in call.keywords):
        return True  # FLX002: ``weight_dtype=<compute dtype>`` (the analysis reads it inside a Module)
    facts = index.facts(call.owner)
    if facts is None:
        return False
    if spec.has_dtype and "dtype" not in call.keywords and (call.config_dtype or _has_compute_dtype(facts)):
        return True
    return spec.has_param_dtype and "param_dtype" not in call.keywords and facts.declares("param_dtype")


def _followed(call: CallSketch, index: ProjectIndex, casts: bool) -> bool:
    """A suspect call whose finding depends on where its output goes (flaxprec.flow): a layer that may be
    built without ``dtype``, a norm (reported only where its output escapes) or another layer in a class
    that may cast it explicitly (not reported then)."""
    callee = call.first if call.callee == PARTIAL else call.callee
    if callee == AMBIGUOUS:
        return True
    spec = _spec(callee, index) if callee else None
    if spec is None or not spec.has_dtype or "dtype" in call.keywords or not (casts or spec.kind == "norm"):
        return False
    return spec.dtype_index is None or call.positional <= spec.dtype_index


def _float_cast(node: ast.Call, name: str) -> bool:
    """May ``node`` (a call of ``.astype``, ``asarray``...) cast to a float dtype? Not when its dtype is an
    integer's by name (``ids.astype("i4")``), nor ``asarray(x)`` without one (flaxprec.numerics agrees)."""
    index = 0 if name == "astype" else 1
    target = next((k.value for k in node.keywords if k.arg in ("dtype", "new_dtype")), None)
    if target is None and len(node.args) > index:
        target = node.args[index]
    if target is None:
        return name == "astype"
    tp = type(target)
    if tp is ast.Constant:
        text = target.value  # type: ignore[attr-defined]
    elif tp is ast.Attribute:
        text = target.attr  # type: ignore[attr-defined]
    else:
        text = target.id if tp is ast.Name else None  # type: ignore[attr-defined]
    return not (isinstance(text, str) and INTEGER_NAME.fullmatch(text))


def _has_compute_dtype(facts: ClassFacts) -> bool:
    """Can the analysis find a compute dtype for this Module from its class facts alone?"""
    return facts.declares("dtype") or facts.declares("compute_dtype") or bool(facts.self_dtype_reads)


def _spec(qualified: str, index: ProjectIndex):
    spec = index.catalogue.lookup(qualified)
    if spec is None:
        facts = index.facts(qualified)
        if facts is not None and (facts.takes_dtype or facts.takes_param_dtype):
            spec = facts.as_layer_spec()
    return spec


def _safe_param_value(value: str | None) -> bool:
    """``param_dtype`` values no rule reports: the module's own field, or float32."""
    if value is None:
        return False
    return value.endswith("param_dtype") or value.endswith(".float32") or value in ("'float32'",)


@dataclass(frozen=True)
class Slice:
    """The part of a file libcst reads: its text, and the original line of each of its lines (1-based)."""

    text: str
    lines: tuple[int, ...]


Plan = dict[int, frozenset[int] | None]  # suspect statement -> the class members to keep (None: all)


def plan(
    statements: tuple[StatementSketch, ...], index: ProjectIndex, gates: frozenset[str] = frozenset({"calls"})
) -> Plan:
    """The suspect top-level statements for the selected rules' ``gates``.

    A suspect class keeps just the members that can hold its findings, when all of them lie in members:
    for the calls, the members holding a suspect call; for FLX007 (``params``), those creating parameters;
    for FLX106 (``huge-constants``), those holding the constants; for both of the latter, with the members
    that bind or read attributes on ``self`` (:attr:`StatementSketch.attr_members`). Else it is kept whole.
    """
    chosen: Plan = {}

    def keep(i: int, members: set[int] | None) -> None:
        """Keep statement ``i`` with ``members`` (None: whole); what several gates keep adds up."""
        statement = statements[i]
        if members is not None and (statement.kind != "class" or not statement.members or -1 in members):
            members = None
        if members is None or chosen.get(i, frozenset()) is None:
            chosen[i] = None
        else:
            chosen[i] = chosen.get(i, frozenset()) | frozenset(members)  # type: ignore[operator]

    if "calls" in gates:
        for i, statement in enumerate(statements):
            suspects = [call for call in statement.calls if _suspect_call(call, index)]
            hits = {call.member for call in suspects}
            if any(_followed(call, index, statement.casts) for call in suspects):
                # FLX001 follows such a layer's output from the member building it into those calling it.
                hits |= set(statement.attr_members)
            if hits:
                keep(i, hits)
            if statement.tied:  # a lookup in one class decides the finding on an embedding built in another
                keep(i, None)
    flows: set[int] = set()  # classes judged on what their methods compute (FLX007, FLX106)
    if "huge-constants" in gates:
        for i, statement in enumerate(statements):
            if any(index.facts(owner) for owner in statement.huge_owners):
                keep(i, {*statement.huge_members, *statement.attr_members})
                flows.add(i)
    if "params" in gates:
        for i in _param_classes(statements, index):
            statement = statements[i]
            creating = {c.member for c in statement.calls if c.self_param or c.callee in NNX_PARAM_NAMES}
            keep(i, creating | set(statement.attr_members))
            flows.add(i)
    # A class starts with what its bases in this file bound on ``self``: those bases come along, with the
    # members that bind (and the class they inherit from in turn).
    for i in _bases_in_file(statements, flows):
        keep(i, set(statements[i].attr_members))
    return chosen


def without_data(statements: tuple[StatementSketch, ...]) -> Plan | None:
    """Every statement but the module-level data (:func:`_is_literal`), each whole but for the data in a
    class's body: what libcst reads when a selected rule has no gate (FLX101...), so that a 40,000-row
    table costs it a one-line stub there too; None when the file has no such data (libcst then reads the
    file itself)."""
    if not any(s.kind == "literal" or any(m.kind == "literal" for m in s.members) for s in statements):
        return None
    return {i: None for i, statement in enumerate(statements) if statement.kind != "literal"}


def _bases_in_file(statements: tuple[StatementSketch, ...], classes: set[int]) -> set[int]:
    """The classes of this file that ``classes`` inherit from, directly or not (by name: a superset)."""
    by_name: dict[str | None, list[int]] = {}
    for i, statement in enumerate(statements):
        if statement.kind == "class":
            by_name.setdefault(statement.name, []).append(i)
    found: set[int] = set()
    todo = list(classes)
    while todo:
        for base in statements[todo.pop()].bases:
            for j in by_name.get(base.rpartition(".")[2], ()):
                if j not in found and j not in classes:
                    found.add(j)
                    todo.append(j)
    return found


def _param_classes(statements: tuple[StatementSketch, ...], index: ProjectIndex) -> set[int]:
    """Module classes that create parameters by hand, and every same-file class inheriting from one (FLX007).

    The analysis carries a class's ``self.X = self.param(...)`` attributes into its subclasses in the
    same file, so a subclass without a ``self.param`` of its own can still combine an inherited one.
    """
    creates = {
        statement.name
        for statement in statements
        if statement.kind == "class"
        and any(
            (c.self_param or c.callee in NNX_PARAM_NAMES)
            and not c.logits
            and not c.promoted
            and c.owner
            and index.facts(c.owner)
            for c in statement.calls
        )
    }
    changed = True
    while changed:
        changed = False
        for statement in statements:
            inherits = any(base.split(".")[-1] in creates for base in statement.bases)
            if statement.kind == "class" and statement.name not in creates and inherits:
                creates.add(statement.name)
                changed = True
    return {i for i, s in enumerate(statements) if s.kind == "class" and s.name in creates}


def slice_source(
    text: str, statements: tuple[StatementSketch, ...], suspects: Mapping[int, frozenset[int] | None]
) -> Slice:
    """The suspect definitions and the other statements that bind names (stubs for definitions), in order;
    of the imports and stubs only those whose names the rest mentions.

    Stubs (``class Name: pass``, ``def name(): pass``, ``NAME = None`` for literal data) keep a name
    bound as in the full file, so resolution in the slice is the same; they hold no call, so they cannot
    produce a finding. An import or a stub whose names occur nowhere in the copied statements (as a word
    of their text) can change the resolution of nothing there, and is left out; expression statements
    (docstrings, calls) bind nothing and are dropped. Imports the fixes consult by themselves (``jnp``,
    ``jax.numpy``'s alias) are sketched as "other" and always copied.
    """
    source_lines = split_lines(text)
    out: list[str] = []
    origin: list[int] = []
    # Per group of statements: its lines (text, original row), and the names one of which the copied
    # text must mention for them to be kept (None: always kept).
    parts: list[tuple[list[tuple[str, int]], frozenset[str] | None]] = []

    def copy(first: int, last: int) -> None:
        out.extend(source_lines[first - 1 : last])
        origin.extend(range(first, last + 1))
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += "\n"

    def stub(line: str, start: int) -> None:
        out.append(line)
        origin.append(start)

    def part(needs: frozenset[str] | None) -> None:
        parts.append((list(zip(out, origin, strict=True)), needs))
        out.clear()
        origin.clear()

    for group in _groups(statements):
        members = [statements[i] for i in group]
        kept = [i for i in group if i in suspects]
        chosen = suspects[kept[0]] if len(group) == 1 and kept and members[0].members else None
        if (
            chosen is None
            and len(group) == 1
            and kept
            and any(m.kind == "literal" for m in members[0].members)
        ):
            chosen = frozenset(i for i, m in enumerate(members[0].members) if m.kind != "literal")  # whole
        if chosen is not None:
            _copy_class(members[0], chosen, source_lines, copy, stub)
            part(None)
        elif kept or any(m.kind == "other" for m in members):
            copy(members[0].start, max(m.end for m in members))
            part(None)
        elif any(m.kind == "import" for m in members):  # ``import a; B = "..."`` is copied whole
            copy(members[0].start, max(m.end for m in members))
            only_imports = all(m.kind == "import" for m in members)
            part(frozenset(n for m in members for n in (m.name or "").split()) if only_imports else None)
        else:
            for member in members:
                if member.kind in ("class", "def"):
                    stub(
                        f"{member.kind} {member.name}{'' if member.kind == 'class' else '()'}: pass\n",
                        member.start,
                    )
                    part(frozenset([member.name or ""]))
                elif member.kind == "literal" and member.name:
                    stub(f"{member.name} = None\n", member.start)
                    part(frozenset((member.name or "").split(" = ")))
    mentioned = set(
        _WORD.findall("".join(line for lines, needs in parts if needs is None for line, _ in lines))
    )
    for lines, needs in parts:
        if needs is None or not needs.isdisjoint(mentioned):
            out.extend(line for line, _ in lines)
            origin.extend(row for _, row in lines)
    return Slice("".join(out), tuple(origin))


def _groups(items) -> list[list[int]]:
    """Indexes of ``items`` (with ``start``/``end`` lines), statements sharing a line (``a; b``) together."""
    groups: list[list[int]] = []
    for i, item in enumerate(items):
        if groups and item.start <= items[groups[-1][-1]].end:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _copy_class(statement: StatementSketch, keep: frozenset[int], source_lines, copy, stub) -> None:
    """The class header and its non-method members whole, the kept methods whole, stubs for the others
    (and for its data: ``NAME = None``)."""
    members = statement.members
    copy(statement.start, members[0].start - 1)
    for group in _groups(members):
        parts = [members[i] for i in group]
        if any(i in keep for i in group) or any(p.kind == "other" for p in parts):
            copy(parts[0].start, max(p.end for p in parts))
            continue
        for part in parts:
            line = source_lines[part.start - 1]
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            if part.kind == "literal":
                stub(f"{indent}{part.name} = None\n", part.start)
            else:
                stub(
                    f"{indent}{part.kind} {part.name}{'' if part.kind == 'class' else '()'}: pass\n",
                    part.start,
                )
