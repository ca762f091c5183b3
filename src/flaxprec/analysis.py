"""One pass over the libcst tree per file: the file model every rule reads.

The pass resolves names through imports and local aliases (respecting shadowing by parameters and
locals), finds every *construction* of a dtype-carrying layer (catalogue layers, their subclasses,
``functools.partial`` of them, project Modules that take ``dtype``), records which of ``dtype`` and
``param_dtype`` each one receives, and works out, at that very site, how the enclosing Module spells its
compute dtype (``self.dtype``, nnx ``dtype``, ``cfg.dtype``...). In ``nn.Dense(4)(x)`` only the inner call
is a construction: the outer one has a call, not a name, as its callee.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from flaxprec.catalogue import Catalogue, LayerSpec
from flaxprec.cst_walk import Hooks, LeaveHook, VisitHook, Visitor, walk
from flaxprec.dtypes import ARRAY_DTYPE_INDEX, NNX_PARAM_NAMES, dotted
from flaxprec.flow import Fates, cast_on_purpose
from flaxprec.imports import JNP_MODULE, ImportMap, resolve_relative
from flaxprec.numerics import NUMERICS_HANDLERS, NumericsCollector, NumericsFacts
from flaxprec.project import CONFIG_NAMES, ClassFacts, ProjectIndex
from flaxprec.roles import Evidence, Role

PARTIAL = frozenset({"functools.partial"})
TRACKED = ("dtype", "param_dtype")


@dataclass(frozen=True)
class PartialBinding:
    """A local name bound to ``functools.partial(Layer, ...)``."""

    construction: Construction


Binding = str | PartialBinding | None  # qualified name, partial, or shadowed (not flax)


@dataclass(frozen=True)
class Owner:
    """The Module class a construction sits in, as seen from the construction's own function."""

    facts: ClassFacts
    self_name: str | None
    in_init: bool
    compute_dtype: str | None  # the expression a fix writes, or None when the module has none
    param_dtype: str | None
    compute_exprs: frozenset[str]  # every spelling of the compute dtype valid at this site
    param_exprs: frozenset[str]
    # How the code shows ``compute_dtype`` / ``param_dtype`` to be what they are (flaxprec.roles); a compute
    # dtype that also reaches parameter creation is Role.BOTH: reported, never fixed.
    compute_evidence: Evidence | None = None
    param_evidence: Evidence | None = None
    evidences: tuple[tuple[str, Evidence], ...] = ()  # every compute spelling's evidence

    def evidence_for(self, expr: str) -> Evidence | None:
        """How the code shows ``expr`` (one of ``compute_exprs``) to be a compute dtype."""
        return next((evidence for known, evidence in self.evidences if known == expr), None)

    # A framework (praxis) hands this module's dtypes to its children: a child without ``dtype`` is fine.
    implicit_dtypes: bool = False


@dataclass(frozen=True)
class PassedArg:
    arg: cst.Arg | None  # None when a functools.partial supplies it
    positional_index: int | None


@dataclass
class Construction:
    call: cst.Call
    spec: LayerSpec
    callee: str
    owner: Owner | None
    statement: cst.CSTNode | None
    passed: dict[str, PassedArg]
    opaque: bool  # *args / **kwargs may carry dtype
    positional: list[cst.Arg]  # this call's own positional arguments, in order
    partial_positional: int = 0
    is_partial: bool = False
    partial_origin: Construction | None = None
    assigned_name: str | None = None

    def passes(self, name: str) -> bool:
        return name in self.passed

    def argument(self, name: str) -> cst.Arg | None:
        passed = self.passed.get(name)
        return passed.arg if passed else None

    def call_positional_index(self, name: str) -> int | None:
        """Index of ``name`` among this call's own positional arguments, if passed positionally here."""
        passed = self.passed.get(name)
        if passed is None or passed.arg is None or passed.positional_index is None:
            return None
        return passed.positional_index - self.partial_positional + (1 if self.is_partial else 0)

    def call_signature(self) -> tuple[str, ...]:
        """Names of this call's positional parameters (a partial's first one is the layer itself)."""
        signature = self.spec.signature[self.partial_positional :]
        return ("func", *signature) if self.is_partial else signature


@dataclass
class ParamCreation:
    """``self.param(name, init, shape, X)`` (linen) or ``nnx.Param(init(key, shape, X))`` (nnx)."""

    call: cst.Call  # the call that holds the dtype argument
    arg: cst.Arg
    positional_index: int | None
    owner: Owner
    statement: cst.CSTNode | None


@dataclass
class StorageFill:
    """A storage dtype given a value: a child's ``weight_dtype=X`` (any storage name but ``param_dtype``,
    which constructions track) or ``self.weight_dtype = X`` in a Module method (flaxprec.roles)."""

    name: str  # the storage name filled (``weight_dtype``)
    value: cst.BaseExpression
    owner: Owner
    statement: cst.CSTNode | None
    call: cst.Call | None  # the construction, for a keyword; None for an assignment


@dataclass(frozen=True)
class Lookup:
    """A call of a layer instance by name (``embed(ids)``, ``self.wte(ids)``): a use, not a construction."""

    call: cst.Call
    owner: Owner | None
    fates: Fates = field(compare=False, repr=False)  # where the results of the lookups went

    @property
    def cast(self) -> bool:
        """The result is cast explicitly before anything else uses it (flaxprec.flow)."""
        return cast_on_purpose(self.fates.of(self.call))


@dataclass
class StatementPlaces:
    """Where each statement (by ``id``) of a model sits, so that a finding's position can be worked out
    from the code of a statement around it alone (flaxprec.positions.statement_positions)."""

    tops: dict[int, cst.CSTNode] = field(default_factory=dict)  # the top-level statement holding it
    members: dict[int, cst.CSTNode] = field(default_factory=dict)  # in a top-level class: its body's one
    indents: dict[int, str] = field(default_factory=dict)  # a nested statement's, where known exactly


@dataclass
class FileModel:
    filename: str
    module: cst.Module
    imports: ImportMap
    constructions: list[Construction] = field(default_factory=list)
    params: list[ParamCreation] = field(default_factory=list)
    storage_fills: list[StorageFill] = field(default_factory=list)
    attend_names: set[str] = field(default_factory=set)
    found_lookups: list[tuple[str, Lookup]] = field(default_factory=list)
    numerics: NumericsFacts = field(default_factory=NumericsFacts)  # FLX007, FLX1xx
    places: StatementPlaces = field(default_factory=lambda: StatementPlaces(), repr=False)
    _reanalyse: Callable[[frozenset[str]], FileModel] | None = field(default=None, repr=False)

    def lookups(self, names: frozenset[str]) -> list[tuple[str, Lookup]]:
        """Calls of the instances named ``names`` (through local aliases), found by a second, rare pass.

        Only tied embeddings need them, so the first pass does not pay for tracking every call's owner.
        """
        if self._reanalyse is None:
            return [item for item in self.found_lookups if item[0] in names]
        return self._reanalyse(names).found_lookups

    def resolve(self, name: str) -> str | None:
        return self.imports.resolve(name)

    @property
    def jnp_alias(self) -> str | None:
        return self.imports.alias_of(JNP_MODULE)


@dataclass
class _Function:
    name: str  # "<lambda>" for a lambda
    params: tuple[str, ...]
    bindings: dict[str, Binding]
    dtype_reads: frozenset[str]
    config_names: frozenset[str]
    # ``cfg = self.config`` -> {"cfg": "self.config"}
    config_sources: dict[str, str] = field(default_factory=dict)
    self_assigned_so_far: set[str] = field(default_factory=set)
    locals_so_far: set[str] = field(default_factory=set)  # local names assigned before this point
    local_sources: dict[str, str] = field(default_factory=dict)  # ``x = self.embed`` -> {"x": "self.embed"}


@dataclass
class _Class:
    name: str
    facts: ClassFacts | None
    bindings: dict[str, Binding] = field(default_factory=dict)


class _LocalScan(Visitor):
    """Names a function binds (they shadow outer names), ``X.dtype`` reads, and config aliases.

    A look-ahead over the function's body (not into nested functions, classes or lambdas), run when the
    analysis enters the function: a name bound anywhere in it shadows the outer one everywhere in it.
    """

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.dtype_reads: set[str] = set()
        self.config_names: set[str] = set()
        self.config_sources: dict[str, str] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.bound.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.bound.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def _bind_target(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.bound.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind_target(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind_target(target.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind_target(target.target)
            source = dotted(node.value)
            if isinstance(target.target, cst.Name) and source and source.split(".")[-1] in CONFIG_NAMES:
                self.config_names.add(target.target.value)
                self.config_sources[target.target.value] = source

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind_target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind_target(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind_target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind_target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind_target(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind_target(node.asname.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind_target(node.name.name)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
            self.bound.add(name)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            self.bound.add(alias.evaluated_alias or alias.evaluated_name)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in ("dtype", "compute_dtype"):
            chain = dotted(node)
            if chain is not None:
                self.dtype_reads.add(chain)


def _param_names(params: cst.Parameters) -> list[str]:
    names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names.append(star.name.value)
    return names


class Analyzer(Visitor):
    """Builds a :class:`FileModel`. Use :func:`analyse`.

    Besides its ``visit_``/``leave_`` methods it keeps the stack of enclosing statements and lets the
    numerics collector evaluate every node it leaves; :meth:`hooks` wires both into each node type's
    hooks once, so the walk makes no call for the many nodes that need neither.
    """

    def __init__(
        self, model: FileModel, module_name: str, is_package: bool, index: ProjectIndex, catalogue: Catalogue
    ) -> None:
        self.model = model
        self.module_name = module_name
        self.is_package = is_package
        self.index = index
        self.catalogue = catalogue
        self.module_bindings: dict[str, Binding] = {}
        self.frames: list[_Class | _Function] = []
        self.statements: list[cst.CSTNode] = []
        self.class_path: list[str] = []
        self.assigned_names: dict[int, str] = {}
        self._spec_cache: dict[str, LayerSpec | None] = {}
        self.lookup_names: frozenset[str] = frozenset()
        self.lookup_calls: set[int] = set()  # the numerics evaluation follows their results
        # ``functools.partial(Layer, ...)`` constructions by the id of their call, for the assignment that
        # binds one (a lookup, not a scan of every construction so far: a file may hold thousands).
        self.partials: dict[int, Construction] = {}
        self.numerics = NumericsCollector(self, model.numerics)

    # -- names -------------------------------------------------------------------------------------

    def lookup(self, name: str) -> tuple[bool, Binding]:
        """Innermost binding of ``name``; class scopes are visible only from their own body."""
        for depth, frame in enumerate(reversed(self.frames)):
            if isinstance(frame, _Class) and depth > 0:
                continue
            if name in frame.bindings:
                return True, frame.bindings[name]
        if name in self.module_bindings:
            return True, self.module_bindings[name]
        return False, None

    def resolve_expr(self, node: cst.BaseExpression) -> Binding:
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        found, binding = self.lookup(head)
        if not found or binding is None:
            return None
        if isinstance(binding, PartialBinding):
            return None if rest else binding
        return f"{binding}.{rest}" if rest else binding

    def resolve_name(self, name: str) -> str | None:
        """Qualified name of a dotted local name at the current point (for dtype classification)."""
        head, _, rest = name.partition(".")
        found, binding = self.lookup(head)
        if not found or not isinstance(binding, str):
            return None
        return f"{binding}.{rest}" if rest else binding

    def spec_for(self, qualified: str) -> LayerSpec | None:
        if qualified not in self._spec_cache:
            spec = self.catalogue.lookup(qualified)
            if spec is None:
                facts = self.index.facts(qualified)
                if facts is not None and (facts.takes_dtype or facts.takes_param_dtype):
                    spec = facts.as_layer_spec()
                    # A project block's ``dtype`` is a compute slot only if the block computes with it.
                    if spec.has_dtype and facts.layer_base is None:
                        role = self.index.roles.evidence(qualified, "dtype").role
                        if not role.computes:
                            spec = dataclasses.replace(spec, has_dtype=False)
            self._spec_cache[qualified] = spec
        return self._spec_cache[qualified]

    def _bind(self, name: str, binding: Binding) -> None:
        if self.frames:
            self.frames[-1].bindings[name] = binding
        else:
            self.module_bindings[name] = binding

    # -- imports and aliases -----------------------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            module = alias.evaluated_name
            local = ImportMap().add_import(module, alias.evaluated_alias)
            target = module if alias.evaluated_alias else local
            self._bind(local, target)
            if not self.frames:
                self.model.imports.add_import(module, alias.evaluated_alias)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        level = len(node.relative)
        target = dotted(node.module) if node.module is not None else None
        source = resolve_relative(self.module_name, self.is_package, level, target)
        if source is None:
            return
        for alias in node.names:
            name = alias.evaluated_name
            self._bind(alias.evaluated_alias or name, f"{source}.{name}")
            if not self.frames:
                self.model.imports.add_from(source, name, alias.evaluated_alias)

    def visit_Assign(self, node: cst.Assign) -> None:
        target = node.targets[0].target if len(node.targets) == 1 else None
        label = None
        frame = self.frames[-1] if self.frames else None
        if isinstance(frame, _Function):
            for each in node.targets:
                if isinstance(each.target, cst.Name):
                    frame.locals_so_far.add(each.target.value)
                    source = dotted(node.value)
                    if source is not None:
                        frame.local_sources[each.target.value] = source
        if isinstance(target, cst.Name):
            label = target.value
        elif isinstance(target, cst.Attribute):
            label = target.attr.value
            frame = self.frames[-1] if self.frames else None
            if (
                isinstance(frame, _Function)
                and frame.name == "__init__"
                and isinstance(target.value, cst.Name)
            ):
                frame.self_assigned_so_far.add(target.attr.value)
            self._maybe_storage_assignment(target, node.value)
        if label is not None and isinstance(node.value, cst.Call):
            self.assigned_names[id(node.value)] = label
            if isinstance(node.value.func, cst.Call):
                self.assigned_names[id(node.value.func)] = label
        if isinstance(target, cst.Name):
            binding = self.resolve_expr(node.value)
            if isinstance(binding, str) and self.spec_for(binding) is not None:
                self._bind(target.value, binding)

    def _maybe_storage_assignment(self, target: cst.Attribute, value: cst.BaseExpression) -> None:
        """``self.weight_dtype = <value>`` where ``weight_dtype`` is a storage dtype of the Module."""
        attr = target.attr.value
        conventions = self.index.roles.conventions
        if attr not in conventions.storage_names and not attr.endswith("dtype"):
            return
        owner = self.owner()
        if owner is None or not isinstance(target.value, cst.Name) or target.value.value != owner.self_name:
            return
        if self.index.roles.role(owner.facts.qualname, attr).role is Role.STORAGE:
            self.model.storage_fills.append(StorageFill(attr, value, owner, self._statement(), None))

    def leave_Assign(self, node: cst.Assign) -> None:
        # ``D = partial(nn.Dense, ...)``: bind after the partial call was recorded as a construction.
        target = node.targets[0].target if len(node.targets) == 1 else None
        if isinstance(target, cst.Name) and isinstance(node.value, cst.Call):
            construction = self.partials.get(id(node.value))
            if construction is not None:
                self._bind(target.value, PartialBinding(construction))

    # -- scopes ------------------------------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._bind(node.name.value, ".".join([self.module_name, *self.class_path, node.name.value]))
        self.class_path.append(node.name.value)
        facts = self.index.facts(".".join([self.module_name, *self.class_path]))
        self.frames.append(_Class(node.name.value, facts))
        self.numerics.enter_class(node, facts is not None)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.numerics.leave_class()
        self.frames.pop()
        self.class_path.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._bind(node.name.value, None)
        scan = _LocalScan()
        walk(node.body, scan)
        params = tuple(_param_names(node.params))
        bindings: dict[str, Binding] = dict.fromkeys((*params, *scan.bound))
        config_names = scan.config_names | {p for p in params if p in CONFIG_NAMES}
        self.frames.append(
            _Function(
                node.name.value,
                params,
                bindings,
                frozenset(scan.dtype_reads),
                frozenset(config_names),
                scan.config_sources,
            )
        )
        self.numerics.enter_function(node, self.owner())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.numerics.leave_function()
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        params = _param_names(node.params)
        self.frames.append(
            _Function(
                "<lambda>",
                tuple(params),
                dict.fromkeys(params),
                frozenset(),
                frozenset(),
            )
        )

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.frames.pop()

    @classmethod
    def hooks(cls, node_type: type[cst.CSTNode]) -> Hooks:
        """Per node type, in this order: push a statement; ``visit_X``; ... children ...; the numerics
        collector's handler (while it evaluates a Module method); ``leave_X``; pop the statement."""
        visit, leave = super().hooks(node_type)
        numerics = NUMERICS_HANDLERS.get(node_type)
        statement = cst.BaseStatement in node_type.__mro__  # issubclass against an ABC is slow at first
        if statement:
            visit = _pushing_statement(visit)
        if statement or numerics is not None:
            leave = _leaving(numerics, leave, statement)
        return visit, leave

    # -- the owner of a construction ---------------------------------------------------------------

    def owner(self) -> Owner | None:
        """The innermost Module class whose method (or a function nested in one) we are in."""
        for position in range(len(self.frames) - 1, -1, -1):
            frame = self.frames[position]
            if not isinstance(frame, _Class):
                continue
            functions = [f for f in self.frames[position + 1 :] if isinstance(f, _Function)]
            if frame.facts is None or not functions:
                return None
            return _owner_at(frame.facts, functions, self.index)
        return None

    # -- calls -------------------------------------------------------------------------------------

    def _name_chain(self, name: str | None) -> Iterator[str]:
        """``name`` and what it aliases in the current function (``x = self.embed`` -> x, self.embed)."""
        frame = next((f for f in reversed(self.frames) if isinstance(f, _Function)), None)
        seen: set[str] = set()
        while name and name not in seen:
            seen.add(name)
            yield name
            name = frame.local_sources.get(name) if frame is not None else None

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self.lookup_names and isinstance(func, (cst.Name, cst.Attribute)):
            for name in self._name_chain(dotted(func)):
                short = name.split(".")[-1]
                if short in self.lookup_names:
                    self.lookup_calls.add(id(node))
                    lookup = Lookup(node, self.owner(), self.model.numerics.fates)
                    self.model.found_lookups.append((short, lookup))
                    break
        if isinstance(func, cst.Attribute) and func.attr.value == "attend":
            for name in self._name_chain(dotted(func.value)):
                self.model.attend_names.add(name.split(".")[-1])
        binding = self.resolve_expr(func)
        if isinstance(binding, PartialBinding):
            self._record(node, binding.construction.spec, list(node.args), binding.construction)
            return
        if binding is None:
            self._maybe_param(node)
            return
        if binding in PARTIAL and node.args and not node.args[0].keyword and not node.args[0].star:
            inner = self.resolve_expr(node.args[0].value)
            spec = self.spec_for(inner) if isinstance(inner, str) else None
            if spec is not None:
                self._record(
                    node, spec, list(node.args[1:]), None, is_partial=True, callee=dotted(node.args[0].value)
                )
            return
        spec = self.spec_for(binding)
        if spec is not None:
            self._record(node, spec, list(node.args), None)
        elif binding in NNX_PARAM_NAMES:
            self._maybe_nnx_param(node)

    def _record(
        self,
        call: cst.Call,
        spec: LayerSpec,
        args: list[cst.Arg],
        origin: Construction | None,
        *,
        is_partial: bool = False,
        callee: str | None = None,
    ) -> None:
        passed: dict[str, PassedArg] = {}
        opaque = False
        offset = 0
        if origin is not None:
            passed = {k: PassedArg(None, v.positional_index) for k, v in origin.passed.items()}
            opaque = origin.opaque
            offset = len(origin.positional) + origin.partial_positional
        positional: list[cst.Arg] = []
        for arg in args:
            if arg.star:
                opaque = True
            elif arg.keyword is not None:
                if arg.keyword.value in TRACKED:
                    passed[arg.keyword.value] = PassedArg(arg, None)
            else:
                index = offset + len(positional)
                positional.append(arg)
                if opaque:
                    continue
                for name, spec_index in (
                    ("dtype", spec.dtype_index),
                    ("param_dtype", spec.param_dtype_index),
                ):
                    if spec_index == index:
                        passed[name] = PassedArg(arg, index)
        owner = self.owner()
        if owner is not None:
            storage_names = self.index.roles.conventions.storage_names
            for arg in args:
                keyword = arg.keyword.value if arg.keyword is not None else None
                if keyword is not None and keyword != "param_dtype" and keyword in storage_names:
                    fill = StorageFill(keyword, arg.value, owner, self._statement(), call)
                    self.model.storage_fills.append(fill)
        construction = Construction(
            call=call,
            spec=spec,
            callee=callee or dotted(call.func) or spec.short_name,
            owner=owner,
            statement=self.statements[-1] if self.statements else None,
            passed=passed,
            opaque=opaque,
            positional=positional,
            partial_positional=offset,
            is_partial=is_partial,
            partial_origin=origin,
            assigned_name=_name_keyword(call) or self.assigned_names.get(id(call)),
        )
        self.model.constructions.append(construction)
        if is_partial:
            self.partials[id(call)] = construction

    def _maybe_param(self, node: cst.Call) -> None:
        """Linen ``self.param(name, init_fn, *init_args)``: the dtype is init_args[1] or ``dtype=``."""
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "param"):
            return
        owner = self.owner()
        if owner is None or dotted(func.value) != owner.self_name:
            return
        self._param_dtype_arg(node, 3, owner)

    def _maybe_nnx_param(self, node: cst.Call) -> None:
        owner = self.owner()
        if owner is None or not node.args or not isinstance(node.args[0].value, cst.Call):
            return
        inner = node.args[0].value
        qualified = self.resolve_expr(inner.func)
        index = ARRAY_DTYPE_INDEX.get(qualified, 2) if isinstance(qualified, str) else 2
        self._param_dtype_arg(inner, index, owner)

    def _param_dtype_arg(self, call: cst.Call, index: int, owner: Owner) -> None:
        positional = [a for a in call.args if a.keyword is None and not a.star]
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "dtype":
                self.model.params.append(ParamCreation(call, arg, None, owner, self._statement()))
                return
        if len(positional) > index and not any(
            a.star for a in call.args[: call.args.index(positional[index])]
        ):
            self.model.params.append(ParamCreation(call, positional[index], index, owner, self._statement()))

    def _statement(self) -> cst.CSTNode | None:
        return self.statements[-1] if self.statements else None


def _pushing_statement(visit: VisitHook | None) -> VisitHook:
    def push(analyzer: Analyzer, node: cst.CSTNode) -> bool | None:
        statements = analyzer.statements
        statements.append(node)
        places = analyzer.model.places
        top = statements[0]
        places.tops[id(node)] = top
        if len(statements) > 1 and type(top) is cst.ClassDef:
            places.members[id(node)] = statements[1]
        # The statements of its first block (not of an ``else:``, nor the ``elif`` in it) are indented by
        # this statement's indentation and the block's, when this statement's own is known.
        block = getattr(node, "body", None)
        if type(block) is cst.IndentedBlock:
            outer = "" if len(statements) == 1 else places.indents.get(id(node))
            if outer is not None:
                indent = outer + (
                    analyzer.model.module.default_indent if block.indent is None else block.indent
                )
                for inner in block.body:
                    places.indents[id(inner)] = indent
        return visit(analyzer, node) if visit is not None else None

    return push


def _leaving(
    numerics: Callable[[NumericsCollector, Any], None] | None, leave: LeaveHook | None, statement: bool
) -> LeaveHook:
    def leave_node(analyzer: Analyzer, node: cst.CSTNode) -> None:
        if numerics is not None and analyzer.numerics.scope is not None:
            numerics(analyzer.numerics, node)
        if leave is not None:
            leave(analyzer, node)
        if statement:
            analyzer.statements.pop()

    return leave_node


def _name_keyword(call: cst.Call) -> str | None:
    for arg in call.args:
        if (
            arg.keyword is not None
            and arg.keyword.value == "name"
            and isinstance(arg.value, cst.SimpleString)
        ):
            value = arg.value.evaluated_value
            return value if isinstance(value, str) else None
    return None


def _owner_at(facts: ClassFacts, functions: list[_Function], index: ProjectIndex) -> Owner:
    """Resolve the compute/param dtype expressions of ``facts`` for code inside ``functions``.

    A candidate counts only in its role (flaxprec.roles): ``self.dtype`` is the compute dtype where the
    class computes with it (or its name says so and the code says nothing), never where it only reaches
    parameter creation (kauldron's position table, a quantized kernel's int8).
    """
    method = functions[0]
    self_name = method.params[0] if method.params else None
    in_init = method.name == "__init__"
    init_params = set(method.params) if in_init else set()
    compute: list[tuple[str, Evidence]] = []
    param: list[tuple[str, Evidence]] = []
    prefix = f"{self_name}." if self_name else None
    roles = index.roles
    conventions = roles.conventions

    def add(found: list[tuple[str, Evidence]], expr: str, key: str, want: Role) -> None:
        evidence = roles.role(facts.qualname, key)
        fits = evidence.role.computes if want is Role.COMPUTE else evidence.role is Role.STORAGE
        if fits and all(expr != known for known, _ in found):
            found.append((expr, evidence))

    def self_attr(attr: str) -> str | None:
        if prefix is None:
            return None
        if facts.flavor == "linen":
            return prefix + attr if facts.declares(attr) else None
        if attr in facts.self_assigned and (not in_init or attr in method.self_assigned_so_far):
            return prefix + attr
        return None

    def own(attr: str, found: list[tuple[str, Evidence]], want: Role) -> None:
        """The module's own field / nnx ``__init__`` parameter / ``self.<attr>``."""
        if facts.flavor == "nnx" and in_init and attr in init_params:
            add(found, attr, attr, want)
        expr = self_attr(attr)
        if expr:
            add(found, expr, attr, want)

    # 1. the module's own dtype field / nnx __init__ parameter / self.dtype
    own("dtype", compute, Role.COMPUTE)
    # 2. config: a local alias (cfg = self.config) or parameter read as cfg.dtype, then self.config.dtype
    for function in reversed(functions):
        for name in sorted(function.config_names):
            if f"{name}.dtype" not in function.dtype_reads:
                continue
            source = function.config_sources.get(name, "")
            key = f"{source[len(prefix) :]}.dtype" if prefix and source.startswith(prefix) else "config.dtype"
            if name in function.params or name in function.locals_so_far:
                add(compute, f"{name}.dtype", key, Role.COMPUTE)
            elif prefix and source.startswith(prefix):
                add(compute, f"{source}.dtype", key, Role.COMPUTE)  # the alias is not bound yet here
    if prefix:
        for read in sorted(facts.self_dtype_reads):
            head = read.split(".")[0]
            if read.endswith(".dtype") and head in CONFIG_NAMES:
                add(compute, prefix + read, read, Role.COMPUTE)
    # 3. jmp-style policies, and the other names of a compute dtype (fprop_dtype, ...)
    own("compute_dtype", compute, Role.COMPUTE)
    if prefix and "policy.compute_dtype" in facts.self_dtype_reads:
        add(compute, prefix + "policy.compute_dtype", "policy.compute_dtype", Role.COMPUTE)
    for name in sorted(conventions.compute_names - {"dtype", "compute_dtype"}):
        own(name, compute, Role.COMPUTE)

    own("param_dtype", param, Role.STORAGE)
    for name in sorted(conventions.storage_names - {"param_dtype"}):
        own(name, param, Role.STORAGE)
    return Owner(
        facts=facts,
        self_name=self_name,
        in_init=in_init,
        compute_dtype=compute[0][0] if compute else None,
        param_dtype=param[0][0] if param else None,
        compute_exprs=frozenset(expr for expr, _ in compute),
        param_exprs=frozenset(expr for expr, _ in param),
        compute_evidence=compute[0][1] if compute else None,
        evidences=tuple(compute),
        param_evidence=param[0][1] if param else None,
        implicit_dtypes=bool(facts.ancestry & conventions.implicit_bases),
    )


def analyse(
    module: cst.Module,
    filename: str,
    module_name: str,
    index: ProjectIndex,
    catalogue: Catalogue,
    is_package: bool = False,
    lookup_names: frozenset[str] = frozenset(),
) -> FileModel:
    """Build the model of one parsed file. ``index`` must already hold this file's class summaries."""
    model = FileModel(filename=filename, module=module, imports=ImportMap())
    analyzer = Analyzer(model, module_name, is_package, index, catalogue)
    analyzer.lookup_names = lookup_names
    walk(module, _TopLevel(analyzer))
    walk(module, analyzer)
    # The collector and what points back at it would hold the tree in cycles until the collector runs.
    analyzer.numerics.analyzer = None  # type: ignore[assignment]
    analyzer.numerics.masks.collector = None  # type: ignore[assignment]
    if not lookup_names:
        model._reanalyse = lambda names: analyse(
            module, filename, module_name, index, catalogue, is_package, lookup_names=names
        )
    return model


class _TopLevel(Visitor):
    """Binds the module's top-level names before the analysis pass.

    Functions run after the whole module body: they see the final module-level imports and classes.
    """

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.analyzer.module_bindings[node.name.value] = None
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.analyzer.module_bindings[node.name.value] = f"{self.analyzer.module_name}.{node.name.value}"
        return False

    def visit_Import(self, node: cst.Import) -> None:
        self.analyzer.visit_Import(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.analyzer.visit_ImportFrom(node)

    def visit_Assign(self, node: cst.Assign) -> bool:
        target = node.targets[0].target if len(node.targets) == 1 else None
        if isinstance(target, cst.Name):
            binding = self.analyzer.resolve_expr(node.value)
            keep = isinstance(binding, str) and self.analyzer.spec_for(binding) is not None
            self.analyzer.module_bindings[target.value] = binding if keep else None
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        return False
