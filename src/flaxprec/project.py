"""The project index: every class of the checked tree, summarised with the stdlib ``ast``.

A custom block built without ``dtype=`` is the same bug one level up, so whether a callee is a Flax Module
with a compute dtype must be known across files (``from .layers import Block``). The summaries are small,
cheap to build (``ast`` parses ~10x faster than libcst) and independent of each other, so the index stays
linear in the number of files; the facts that need inheritance are resolved lazily and memoised.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from flaxprec.ast_walk import dotted_name, walk
from flaxprec.catalogue import Catalogue, LayerSpec
from flaxprec.imports import ImportMap, resolve_relative
from flaxprec.roles import QUANTIZED_NAMES, DtypeUse, MethodContext, RoleReader, call_uses

LINEN_MODULE = frozenset({"flax.linen.Module", "flax.linen.module.Module"})
NNX_MODULE = frozenset({"flax.nnx.Module", "flax.nnx.module.Module", "flax.nnx.bridge.Module"})
CONFIG_NAMES = frozenset({"config", "cfg", "conf", "model_config", "model_cfg"})
# What a normalisation layer's methods read (``jnp.mean`` / ``x.mean``, ``lax.rsqrt``, ``jnp.var``): a project
# Module reading ``var``, or ``mean`` and ``rsqrt``, normalises (its kind is "norm", as flax's norms).
NORM_STATISTICS = frozenset({"mean", "rsqrt", "var"})


@dataclass(frozen=True)
class ClassSummary:
    """What one ``class`` statement says about itself, before inheritance is resolved."""

    qualname: str
    name: str
    bases: tuple[str, ...]
    fields: tuple[str, ...]
    init_positional: tuple[str, ...]
    init_kwonly: tuple[str, ...]
    has_init: bool
    self_assigned: frozenset[str]
    self_dtype_reads: frozenset[str]
    dtype_uses: tuple[DtypeUse, ...] = ()  # what its methods do with dtype-valued names (flaxprec.roles)
    quantized: frozenset[str] = frozenset()  # fields / ``__init__`` parameters defaulting to an integer dtype
    normalises: bool = False  # its methods compute normalisation statistics (NORM_STATISTICS)


@dataclass
class FileSummary:
    module_name: str
    imports: ImportMap
    classes: list[ClassSummary]


@dataclass(frozen=True)
class ClassFacts:
    """A project class with inheritance resolved: is it a Flax Module, and where does its dtype come from."""

    qualname: str
    name: str
    flavor: str  # "linen" | "nnx"
    fields: tuple[str, ...]
    layer_base: LayerSpec | None
    init_positional: tuple[str, ...]
    init_kwonly: tuple[str, ...]
    self_assigned: frozenset[str]
    self_dtype_reads: frozenset[str]
    dtype_uses: tuple[DtypeUse, ...] = ()  # its own and its bases'
    quantized: frozenset[str] = frozenset()
    ancestry: frozenset[str] = frozenset()  # every base, qualified, however far up (project or not)
    normalises: bool = False

    def declares(self, name: str) -> bool:
        """``name`` is a constructor input (linen field, nnx ``__init__`` parameter) or ``self.<name>``."""
        if self.flavor == "linen":
            return name in self.fields or (self.layer_base is not None and name in self.layer_base.signature)
        return name in self.init_positional or name in self.init_kwonly or name in self.self_assigned

    @property
    def takes_dtype(self) -> bool:
        """Built with a ``dtype`` argument: such a class is a dtype-carrying layer for its callers."""
        if self.layer_base is not None and self.layer_base.has_dtype:
            return True
        if self.flavor == "linen":
            return "dtype" in self.fields
        return "dtype" in self.init_positional or "dtype" in self.init_kwonly

    @property
    def takes_param_dtype(self) -> bool:
        if self.layer_base is not None and self.layer_base.has_param_dtype:
            return True
        if self.flavor == "linen":
            return "param_dtype" in self.fields
        return "param_dtype" in self.init_positional or "param_dtype" in self.init_kwonly

    def as_layer_spec(self) -> LayerSpec:
        """The spec callers see: positional order is the dataclass field order (linen) or ``__init__``'s."""
        if self.flavor == "linen":
            signature = self.layer_base.signature if self.layer_base else ()
            signature = signature + tuple(f for f in self.fields if f not in signature)
        else:
            signature = self.init_positional
        base = self.layer_base
        return LayerSpec(
            name=self.qualname,
            api="project",
            kind=base.kind if base else "norm" if self.normalises else "block",
            signature=signature,
            has_dtype=self.takes_dtype,
            has_param_dtype=self.takes_param_dtype,
            dtype_index=signature.index("dtype") if "dtype" in signature else None,
            param_dtype_index=signature.index("param_dtype") if "param_dtype" in signature else None,
            dtype_default=base.dtype_default if base else None,
        )


def collect_imports(tree: ast.Module, module_name: str, is_package: bool) -> ImportMap:
    """Module-level imports, including those under ``if``/``try`` at the top level."""
    imports = ImportMap()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        stmt = stack.pop(0)
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                imports.add_import(alias.name, alias.asname)
        elif isinstance(stmt, ast.ImportFrom):
            source = resolve_relative(module_name, is_package, stmt.level, stmt.module)
            if source is None:
                continue
            for alias in stmt.names:
                if alias.name != "*":
                    imports.add_from(source, alias.name, alias.asname)
        elif isinstance(stmt, (ast.If, ast.Try)):
            stack.extend(stmt.body)
            stack.extend(getattr(stmt, "orelse", []))
            for handler in getattr(stmt, "handlers", []):
                stack.extend(handler.body)
    return imports


def _is_classvar(annotation: ast.expr) -> bool:
    target = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    name = dotted_name(target)
    return name is not None and name.split(".")[-1] == "ClassVar"


@dataclass
class MethodFacts:
    """What the methods of one class read and assign through their ``self``.

    Gathered by whoever walks the method bodies anyway (the gate's single pass), or by :func:`summarize`
    itself when nobody did.
    """

    dtype_reads: set[str] = field(default_factory=set)  # ``self.<...>.dtype`` and ``.compute_dtype``
    self_assigned: set[str] = field(default_factory=set)  # ``self.<attr> = ...`` in ``__init__``
    uses: list[DtypeUse] = field(default_factory=list)  # see flaxprec.roles
    statistics: set[str] = field(default_factory=set)  # which of NORM_STATISTICS its methods read

    def see(self, node: ast.AST, self_name: str, in_init: bool) -> None:
        """Record ``node``, met anywhere inside a method whose first parameter is ``self_name``."""
        tp = type(node)
        if tp is ast.Attribute:
            if node.attr in NORM_STATISTICS:  # type: ignore[attr-defined]
                self.statistics.add(node.attr)  # type: ignore[attr-defined]
            elif node.attr in ("dtype", "compute_dtype"):  # type: ignore[attr-defined]
                chain = dotted_name(node)  # type: ignore[arg-type]
                if chain and chain.startswith(self_name + "."):
                    self.dtype_reads.add(chain[len(self_name) + 1 :])
        elif in_init and (tp is ast.Assign or tp is ast.AnnAssign):
            targets = node.targets if tp is ast.Assign else [node.target]  # type: ignore[attr-defined]
            for target in targets:
                if (
                    type(target) is ast.Attribute
                    and type(target.value) is ast.Name
                    and target.value.id == self_name
                ):
                    self.self_assigned.add(target.attr)


def method_self(stmt: ast.stmt) -> str | None:
    """The first parameter of a method (its ``self``), None for other statements or no parameter."""
    if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    params = stmt.args.posonlyargs + stmt.args.args
    return params[0].arg if params else None


def _summarize_class(
    node: ast.ClassDef, qualname: str, resolve_base, facts: MethodFacts | None
) -> ClassSummary:
    fields: list[str] = []
    init_positional: tuple[str, ...] = ()
    init_kwonly: tuple[str, ...] = ()
    has_init = False
    walked = facts is not None
    facts = facts if facts is not None else MethodFacts()
    quantized: set[str] = set()

    def is_quantized(value: ast.expr | None) -> bool:
        name = resolve_base(value) if value is not None else None
        return name is not None and name.rpartition(".")[2] in QUANTIZED_NAMES

    for stmt in node.body:
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and not _is_classvar(stmt.annotation)
        ):
            fields.append(stmt.target.id)
            if is_quantized(stmt.value):
                quantized.add(stmt.target.id)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = stmt.args
            if stmt.name == "__init__":
                has_init = True
                init_positional = tuple(a.arg for a in (args.posonlyargs + args.args)[1:])
                init_kwonly = tuple(a.arg for a in args.kwonlyargs)
                positional = args.posonlyargs + args.args
                with_defaults = positional[len(positional) - len(args.defaults) :]
                defaults = zip(with_defaults, args.defaults, strict=True)
                for arg, default in (*defaults, *zip(args.kwonlyargs, args.kw_defaults, strict=True)):
                    if is_quantized(default):
                        quantized.add(arg.arg)
            self_name = method_self(stmt)
            if self_name is not None and not walked:
                for sub in walk(stmt):
                    facts.see(sub, self_name, stmt.name == "__init__")
                facts.uses.extend(_method_uses(stmt, self_name, resolve_base))
    return ClassSummary(
        qualname=qualname,
        name=node.name,
        bases=tuple(b for b in (resolve_base(base) for base in node.bases) if b),
        fields=tuple(fields),
        init_positional=init_positional,
        init_kwonly=init_kwonly,
        has_init=has_init,
        self_assigned=frozenset(facts.self_assigned),
        self_dtype_reads=frozenset(facts.dtype_reads),
        dtype_uses=tuple(facts.uses),
        quantized=frozenset(quantized),
        normalises="var" in facts.statistics or {"mean", "rsqrt"} <= facts.statistics,
    )


def _method_uses(
    method: ast.FunctionDef | ast.AsyncFunctionDef,
    self_name: str,
    resolve_base: Callable[[ast.expr], str | None],
) -> list[DtypeUse]:
    """The dtype uses of one method, callees resolved through the file's imports (no local aliases: the
    gate's single pass, which sees those, fills them in when it runs)."""
    context = MethodContext(self_name, method_inputs(method))
    calls = [sub for sub in walk(method) if type(sub) is ast.Call]
    return list(call_uses(calls, lambda call: context, lambda call, expr: resolve_base(expr)))


def method_inputs(method: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> frozenset[str]:
    """The parameters of an ``__init__`` (its constructor inputs, which nnx modules use directly), or none
    for another method."""
    if getattr(method, "name", None) != "__init__":
        return frozenset()
    args = method.args
    return frozenset(a.arg for a in (*(args.posonlyargs + args.args)[1:], *args.kwonlyargs))


def summarized_classes(tree: ast.Module, module_name: str) -> list[tuple[ast.ClassDef, str]]:
    """The classes the index knows, with their qualified names: those at module level or in a class
    body, also under ``if``/``try``/``with`` (not in functions, ``except`` or ``finally`` blocks)."""
    classes: list[tuple[ast.ClassDef, str]] = []
    _collect_classes(tree.body, module_name, classes)
    return classes


def _collect_classes(body: Iterable[ast.stmt], prefix: str, classes: list[tuple[ast.ClassDef, str]]) -> None:
    # A module-level function, not a closure: a recursive closure is a reference cycle that would keep
    # every syntax tree alive until the cyclic garbage collector runs.
    for stmt in body:
        if isinstance(stmt, ast.ClassDef):
            qualname = f"{prefix}.{stmt.name}"
            classes.append((stmt, qualname))
            _collect_classes(stmt.body, qualname, classes)
        elif isinstance(stmt, (ast.If, ast.Try, ast.With)):
            _collect_classes(stmt.body, prefix, classes)
            _collect_classes(getattr(stmt, "orelse", []), prefix, classes)


def _outer_classes(body: Iterable[ast.stmt]) -> set[str]:
    """Names of the classes defined outside function bodies."""
    names: set[str] = set()
    stack = list(body)
    while stack:
        stmt = stack.pop()
        if type(stmt) is ast.ClassDef:
            names.add(stmt.name)
            stack.extend(stmt.body)
        elif isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            stack.extend(stmt.body)
            stack.extend(getattr(stmt, "orelse", ()))
        elif isinstance(stmt, ast.Try):
            stack.extend([*stmt.body, *stmt.orelse, *stmt.finalbody])
            for handler in stmt.handlers:
                stack.extend(handler.body)
    return names


def summarize(
    tree: ast.Module,
    module_name: str,
    is_package: bool = False,
    *,
    imports: ImportMap | None = None,
    facts: dict[int, MethodFacts] | None = None,
    class_names: set[str] | None = None,
) -> FileSummary:
    """Summarise the module-level (and nested) classes of one parsed file.

    ``facts``: the :class:`MethodFacts` of the :func:`summarized_classes`, by ``id`` of their node, when a
    single pass over the file gathered them already; else the methods are walked here. ``class_names``:
    the names of every class of the file, when that pass gathered them too.
    """
    if imports is None:
        imports = collect_imports(tree, module_name, is_package)
    # Classes of the file, anywhere: those outside function bodies first; walking the whole tree for the
    # rest (a class defined in a function) only when a base is found in neither.
    local_classes = _outer_classes(tree.body)
    every_class: set[str] = {"", *class_names} if class_names is not None else set()

    def is_local(head: str) -> bool:
        if head in local_classes:
            return True
        if not every_class:
            every_class.update(n.name for n in walk(tree) if type(n) is ast.ClassDef)
            every_class.add("")  # walked
        return head in every_class

    def resolve_base(base: ast.expr) -> str | None:
        if isinstance(base, ast.Subscript):  # Generic[...] and friends
            base = base.value
        name = dotted_name(base)
        if name is None:
            return None
        resolved = imports.resolve(name)
        if resolved is not None:
            return resolved
        head = name.split(".")[0]
        return f"{module_name}.{name}" if is_local(head) else name

    classes = [
        _summarize_class(node, qualname, resolve_base, facts[id(node)] if facts is not None else None)
        for node, qualname in summarized_classes(tree, module_name)
    ]
    return FileSummary(module_name=module_name, imports=imports, classes=classes)


@dataclass
class ProjectIndex:
    """All class summaries of the checked tree, and the Module facts derived from them on demand."""

    catalogue: Catalogue
    classes: dict[str, ClassSummary] = field(default_factory=dict)
    _facts: dict[str, ClassFacts | None] = field(default_factory=dict)
    _roles: RoleReader | None = field(default=None, repr=False)
    modules: dict[str, str] = field(default_factory=dict)  # class qualname -> the module defining it

    def add(self, summary: FileSummary) -> None:
        for cls in summary.classes:
            self.classes[cls.qualname] = cls
            self.modules[cls.qualname] = summary.module_name
        self._facts.clear()
        self._roles = None

    @property
    def roles(self) -> RoleReader:
        """The dtype roles of the tree's Module classes (flaxprec.roles), read from their code."""
        if self._roles is None:
            # The reader reaches the index through a weak proxy: a reference back would make a cycle that
            # keeps every summary alive until the cyclic collector runs (tests/test_engine_memory.py).
            index = weakref.proxy(self)
            self._roles = RoleReader(
                uses_of=lambda qualname: index._uses_of(qualname),
                param_name=lambda qualname, slot: index._param_name(qualname, slot),
                is_catalogued=lambda qualname: index.catalogue.lookup(qualname) is not None,
                quantized=lambda qualname, key: key in getattr(index.facts(qualname), "quantized", ()),
                declares=lambda qualname, name: bool(
                    (facts := index.facts(qualname)) and facts.declares(name)
                ),
                every_use=lambda: index._every_use(),
                origin_of=lambda qualname, use: index._origin_of(qualname, use),
                same_module=lambda a, b: index.modules.get(a) == index.modules.get(b),
                conventions=self.catalogue.conventions,
            )
        return self._roles

    def _uses_of(self, qualname: str) -> tuple[DtypeUse, ...] | None:
        facts = self.facts(qualname)
        return None if facts is None else facts.dtype_uses

    def _origin_of(self, qualname: str, use: DtypeUse) -> str:
        """The class, ``qualname`` or one of its bases, whose own methods hold ``use``."""
        todo, seen = [qualname], set()
        while todo:
            current = todo.pop(0)
            summary = self.classes.get(current)
            if summary is None or current in seen:
                continue
            seen.add(current)
            if use in summary.dtype_uses:
                return current
            todo.extend(summary.bases)
        return qualname

    def _every_use(self) -> Iterator[tuple[str, DtypeUse]]:
        for qualname, summary in self.classes.items():
            for use in summary.dtype_uses:
                yield qualname, use

    def _param_name(self, qualname: str, slot: str | int) -> str | None:
        if isinstance(slot, str):
            return slot
        spec = self.catalogue.lookup(qualname)
        if spec is None:
            facts = self.facts(qualname)
            spec = facts.as_layer_spec() if facts is not None else None
        signature = spec.signature if spec is not None else ()
        return signature[slot] if 0 <= slot < len(signature) else None

    def facts(self, qualname: str) -> ClassFacts | None:
        """Facts of a project class that is a Flax Module (linen or nnx), else None."""
        if qualname not in self._facts:
            self._facts[qualname] = None  # guards inheritance cycles
            self._facts[qualname] = self._resolve(qualname)
        return self._facts[qualname]

    def _resolve(self, qualname: str) -> ClassFacts | None:
        summary = self.classes.get(qualname)
        if summary is None:
            return None
        flavor: str | None = None
        layer_base: LayerSpec | None = None
        inherited_fields: list[str] = []
        init_positional, init_kwonly = summary.init_positional, summary.init_kwonly
        self_assigned, dtype_reads = set(summary.self_assigned), set(summary.self_dtype_reads)
        uses, quantized, normalises = list(summary.dtype_uses), set(summary.quantized), summary.normalises
        ancestry = set(summary.bases)
        for base in summary.bases:
            if base in LINEN_MODULE:
                flavor = flavor or "linen"
                continue
            if base in NNX_MODULE:
                flavor = flavor or "nnx"
                continue
            spec = self.catalogue.lookup(base)
            if spec is not None:
                flavor = flavor or ("nnx" if spec.api == "nnx" else "linen")
                layer_base = layer_base or spec
                continue
            parent = self.facts(base)
            if parent is None:
                continue
            flavor = flavor or parent.flavor
            layer_base = layer_base or parent.layer_base
            inherited_fields.extend(f for f in parent.fields if f not in inherited_fields)
            if not summary.has_init:
                init_positional, init_kwonly = parent.init_positional, parent.init_kwonly
            self_assigned |= parent.self_assigned
            dtype_reads |= parent.self_dtype_reads
            uses.extend(parent.dtype_uses)
            quantized |= parent.quantized
            normalises = normalises or parent.normalises
            ancestry |= parent.ancestry
        if flavor is None:
            return None
        fields = tuple(inherited_fields + [f for f in summary.fields if f not in inherited_fields])
        return ClassFacts(
            qualname=qualname,
            name=summary.name,
            flavor=flavor,
            fields=fields,
            layer_base=layer_base,
            init_positional=init_positional,
            init_kwonly=init_kwonly,
            self_assigned=frozenset(self_assigned),
            self_dtype_reads=frozenset(dtype_reads),
            dtype_uses=tuple(uses),
            quantized=frozenset(quantized),
            ancestry=frozenset(ancestry),
            normalises=normalises,
        )
