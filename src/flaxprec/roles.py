"""Dtype roles read from use: is a Module's ``dtype`` its compute dtype, its storage dtype, both, or unknown?

A field's name says little: transformers' ``dtype`` is the compute dtype, praxis's ``dtype`` the weight
dtype, kauldron's position table stores its ``dtype``, and a quantized wrapper keeps ``dtype = jnp.int8``
for its kernel. What decides is what the class's code does with the value:

- *storage* where it reaches parameter creation (``self.param(..., X)``, ``nnx.Param(init(key, shape, X))``,
  a child's ``param_dtype=X``/``weight_dtype=X``);
- *compute* where it reaches computation (a child's compute ``dtype=X``, ``x.astype(X)``,
  ``jnp.asarray(x, X)``, ``promote_dtype(..., dtype=X)``, ``preferred_element_type=X``).

The ``ast`` stage records every such *use* per class (:func:`call_uses`, cheap: only the calls of Module
methods, only arguments read off ``self`` or an ``__init__`` parameter); :class:`RoleReader` classifies them
once the cross-file index is complete, following a value into the child it is given to (a project block's
``dtype`` is a compute slot only if that block uses it as compute). A name is only a prior, used when the
code says nothing: :class:`Conventions` lists the common names and takes a project's own.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from flaxprec.ast_walk import dotted_name
from flaxprec.dtypes import ARRAY_DTYPE_INDEX, NNX_PARAM_NAMES

# Keyword arguments whose value is a dtype whatever the callee: storage ones, compute ones, and ``dtype``
# itself, whose meaning is the callee's (resolved once the index is complete).
STORAGE_KEYWORDS = frozenset({"param_dtype", "params_dtype", "weight_dtype", "weights_dtype"})
COMPUTE_KEYWORDS = frozenset({"preferred_element_type", "compute_dtype", "fprop_dtype", "activation_dtype"})
DTYPE_KEYWORDS = STORAGE_KEYWORDS | COMPUTE_KEYWORDS | {"dtype"}
# Functions of these modules take ``dtype=`` for the dtype of their computation or of the array they make
# from activations (``jnp.asarray``, ``promote_dtype``, ``lax.dot_general``, ``nn.dot_product_attention``).
COMPUTE_MODULES = ("jax.numpy.", "jax.lax.", "jax.nn.", "flax.linen.", "flax.nnx.", "numpy.")
PARAM_CREATORS = NNX_PARAM_NAMES | {"flax.nnx.Variable"}
# Integer and 8-bit float dtypes: a field that defaults to one holds a quantized kernel's storage dtype.
QUANTIZED_NAMES = frozenset(
    {"int4", "int8", "int16", "int32", "uint4", "uint8", "uint16", "uint32", "float8_e4m3fn", "float8_e5m2"}
)

STORAGE_TARGET = "<storage>"  # a parameter creation (``self.param``, ``nnx.Param``) or a storage keyword
COMPUTE_TARGET = "<compute>"  # ``.astype(X)`` or a compute keyword


class Role(enum.Enum):
    STORAGE = "storage"
    COMPUTE = "compute"
    BOTH = "both"
    UNKNOWN = "unknown"

    @property
    def computes(self) -> bool:
        """The value sets how something computes (it may also store)."""
        return self is Role.COMPUTE or self is Role.BOTH


class DtypeUse(NamedTuple):
    """One place a class passes a dtype-valued name somewhere.

    ``key``: the name as read off ``self`` (``dtype``, ``config.dtype``) or an nnx ``__init__`` parameter;
    ``target``: :data:`STORAGE_TARGET`, :data:`COMPUTE_TARGET` or the qualified callee; ``slot``: the
    keyword or the positional index it is passed as; ``line``: where; ``what``: how the evidence reads.
    """

    key: str
    target: str
    slot: str | int
    line: int
    what: str


@dataclass(frozen=True)
class Evidence:
    """A role and what shows it: the first use that stores in it, the first that computes with it, a
    caller's use passing its compute dtype into it (``inflow``: class, use), or its name (``from_name``;
    ``storage_field``: the module keeps its parameters in that other field)."""

    role: Role
    key: str = ""  # the name this is evidence about (``dtype``, ``config.dtype``)
    storage: DtypeUse | None = None
    compute: DtypeUse | None = None
    inflow: tuple[str, DtypeUse] | None = None
    from_name: bool = False
    storage_field: str | None = None
    # The class whose code holds ``compute`` / the inflow, when it is in another module than the class the
    # evidence is about (a base class, a caller): a message then names it, a line alone would mislead.
    compute_elsewhere: str | None = None
    inflow_elsewhere: bool = False

    def why_compute(self) -> str:
        """Why :attr:`key` counts as a compute dtype, for a message."""
        name = self.key
        if self.compute is not None:
            where = f" of `{self.compute_elsewhere}`" if self.compute_elsewhere else ""
            return f"`{name}` reaches {self.compute.what} at line {self.compute.line}{where}"
        if self.inflow is not None:
            caller, use = self.inflow
            who = caller if self.inflow_elsewhere else caller.rpartition(".")[2]
            return f"`{who}` passes its compute dtype into `{name}` at line {use.line}"
        if self.storage_field is not None:
            return f"by its name, and the module keeps its parameters' dtype in `{self.storage_field}`"
        return "by its name"


@dataclass(frozen=True)
class Conventions:
    """Names that are a prior for a dtype's role when the code says nothing, and frameworks whose modules
    hand their dtypes to their children implicitly (``[tool.flaxprec.conventions]``)."""

    compute_names: frozenset[str] = frozenset(
        {"dtype", "compute_dtype", "fprop_dtype", "activation_dtype", "activations_dtype"}
    )
    storage_names: frozenset[str] = frozenset(STORAGE_KEYWORDS)
    # praxis: ``copy_base_hparams`` gives every child its parent's ``dtype`` and ``fprop_dtype``.
    implicit_bases: frozenset[str] = frozenset({"praxis.base_layer.BaseLayer"})

    def extended(
        self, compute: Iterable[str] = (), storage: Iterable[str] = (), implicit: Iterable[str] = ()
    ) -> Conventions:
        """These conventions and a project's own (a project's name moves from one list to the other)."""
        compute, storage = frozenset(compute), frozenset(storage)
        return Conventions(
            (self.compute_names - storage) | compute,
            (self.storage_names - compute) | storage,
            self.implicit_bases | frozenset(implicit),
        )

    def prior(self, key: str) -> Role:
        """The role a name suggests (its last part: ``config.dtype`` -> ``dtype``)."""
        name = key.rpartition(".")[2]
        if name in self.storage_names:
            return Role.STORAGE
        if name in self.compute_names:
            return Role.COMPUTE
        return Role.UNKNOWN


DEFAULT_CONVENTIONS = Conventions()


# -- the ast stage: what a class's methods do with dtype-valued names ---------------------------------------


@dataclass
class MethodContext:
    """Where a call sits: the method's ``self``, and the ``__init__`` parameters that hold constructor
    inputs (nnx modules use them before, or instead of, storing them on ``self``)."""

    self_name: str
    init_params: frozenset[str] = frozenset()


# (a call, an expression in it) -> the expression's qualified name (a str), or anything else when unknown
Resolver = Callable[[ast.Call, ast.expr], object]


def value_key(node: ast.expr, context: MethodContext) -> str | None:
    """``self.dtype`` -> ``dtype``, ``self.config.dtype`` -> ``config.dtype``, an ``__init__`` parameter
    ``dtype`` -> ``dtype``; None for anything else."""
    tp = type(node)
    if tp is ast.Name:
        return node.id if node.id in context.init_params else None  # type: ignore[attr-defined]
    chain = dotted_name(node) if tp is ast.Attribute else None
    head, _, rest = (chain or "").partition(".")
    return rest if head == context.self_name and rest else None


def _dtype_like(key: str) -> bool:
    return key.rpartition(".")[2].endswith("dtype")


def call_uses(
    calls: Iterable[ast.Call], context_of: Callable[[ast.Call], MethodContext | None], resolve: Resolver
) -> Iterator[DtypeUse]:
    """The dtype uses among ``calls`` (all the calls of one class's methods).

    Arguments of a parameter creation are storage however deep (``nnx.Param(init(key, shape, X))``), so
    the calls nested in one are not judged again on their own.
    """
    judged: list[tuple[ast.Call, MethodContext]] = []
    nested: set[int] = set()
    creations: list[tuple[ast.Call, MethodContext, str]] = []
    for call in calls:
        if not _worth_a_look(call):
            continue
        context = context_of(call)
        if context is None:
            continue
        judged.append((call, context))
        creator = _param_creator(call, context, resolve)
        if creator is not None:
            creations.append((call, context, creator))
            nested.add(id(call))
            for arg in (*call.args, *(k.value for k in call.keywords)):
                nested.update(id(n) for n in ast.walk(arg) if type(n) is ast.Call)
    for call, context, creator in creations:
        for node in (*call.args, *(k.value for k in call.keywords)):
            for sub in ast.walk(node):
                key = value_key(sub, context) if type(sub) in (ast.Name, ast.Attribute) else None
                if key is not None and _dtype_like(key):
                    yield DtypeUse(key, STORAGE_TARGET, "dtype", sub.lineno, f"`{creator}`")
    for call, context in judged:
        if id(call) not in nested:
            yield from _uses_in(call, context, resolve)


_CREATOR_NAMES = frozenset({"param", "variable", "Param", "Variable"})


def _worth_a_look(call: ast.Call) -> bool:
    """Could the call hold a use? A parameter creation, or an argument read off an object (``self.dtype``)
    or named as a dtype (an nnx ``__init__``'s ``dtype``). Most calls are neither (``self.dense(x)``):
    this test keeps the recording to a few per cent of the ``ast`` stage."""
    func = call.func
    tp = type(func)
    name = func.attr if tp is ast.Attribute else func.id if tp is ast.Name else None  # type: ignore[attr-defined]
    if name in _CREATOR_NAMES:
        return True
    for arg in call.args:
        tp = type(arg)
        if tp is ast.Attribute or (tp is ast.Name and arg.id.endswith("dtype")):  # type: ignore[attr-defined]
            return True
    for keyword in call.keywords:
        value = keyword.value
        tp = type(value)
        if tp is ast.Attribute or (
            tp is ast.Name and (keyword.arg in DTYPE_KEYWORDS or value.id.endswith("dtype"))  # type: ignore[attr-defined]
        ):
            return True
    return False


def _param_creator(call: ast.Call, context: MethodContext, resolve: Resolver) -> str | None:
    """``self.param``/``self.variable`` or ``nnx.Param``: how the evidence names it; None for other calls."""
    func = call.func
    if (
        type(func) is ast.Attribute
        and func.attr in ("param", "variable")
        and type(func.value) is ast.Name
        and func.value.id == context.self_name
    ):
        return f"{context.self_name}.{func.attr}"
    name = func.attr if type(func) is ast.Attribute else func.id if type(func) is ast.Name else None
    if name not in ("Param", "Variable"):  # resolving every call's callee would cost a quarter of the pass
        return None
    callee = resolve(call, func)
    if isinstance(callee, str) and callee in PARAM_CREATORS:
        return callee.replace("flax.nnx.variablelib.", "nnx.").replace("flax.nnx.", "nnx.")
    return None


def _uses_in(call: ast.Call, context: MethodContext, resolve: Resolver) -> Iterator[DtypeUse]:
    func = call.func
    if type(func) is ast.Attribute and func.attr == "astype":
        if call.args:
            key = value_key(call.args[0], context)
            if key is not None:
                yield DtypeUse(key, COMPUTE_TARGET, 0, call.lineno, "`.astype`")
        return
    callee: object = None
    offset = 0
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        key = value_key(keyword.value, context)
        if key is None or (keyword.arg not in DTYPE_KEYWORDS and not _dtype_like(key)):
            continue
        if keyword.arg in STORAGE_KEYWORDS:
            yield DtypeUse(key, STORAGE_TARGET, keyword.arg, call.lineno, f"`{keyword.arg}=`")
        elif keyword.arg in COMPUTE_KEYWORDS:
            yield DtypeUse(key, COMPUTE_TARGET, keyword.arg, call.lineno, f"`{keyword.arg}=`")
        else:
            if callee is None:
                callee, offset = _callee(call, resolve)
            if isinstance(callee, str):
                what = f"`{_short(callee)}({keyword.arg}=...)`"
                yield DtypeUse(key, callee, keyword.arg, call.lineno, what)
    for index, arg in enumerate(call.args):
        if type(arg) is ast.Starred:
            break
        key = value_key(arg, context)
        if key is None or not _dtype_like(key):
            continue
        if callee is None:
            callee, offset = _callee(call, resolve)
        if isinstance(callee, str) and index >= offset:
            position = index - offset
            yield DtypeUse(key, callee, position, call.lineno, f"`{_short(callee)}(...)`")


def _callee(call: ast.Call, resolve: Resolver) -> tuple[object, int]:
    """The qualified callee and how many leading arguments are not its own (``partial(Layer, ...)``)."""
    callee = resolve(call, call.func)
    if callee == "functools.partial" and call.args:
        return resolve(call, call.args[0]), 1
    return callee, 0


_SHORT_MODULES = {"flax.linen.": "nn.", "flax.nnx.": "nnx.", "jax.numpy.": "jnp.", "jax.lax.": "lax."}


def _short(qualified: str) -> str:
    """How code usually spells a callee: ``flax.linen.Dense`` -> ``nn.Dense``, ``pkg.layers.Block`` ->
    ``Block``."""
    name = qualified.rpartition(".")[2]
    for module, alias in _SHORT_MODULES.items():
        if qualified.startswith(module):
            return alias + name
    return name


# -- the roles, once the index is complete ----------------------------------------------------------------


@dataclass
class RoleReader:
    """Classifies a class's dtype uses, following values into project children (memoised, cycle-safe).

    ``uses_of(qualname)``: the uses of a project Module class and its bases (None for a class outside the
    tree); ``slot_of(qualname, slot)``: the parameter name a positional slot of that callee is (None if
    unknown); ``catalogue_slot(qualname, slot)``: for a catalogued flax layer, the parameter name (``dtype``,
    ``param_dtype``...) the slot is, or None when the callee is not a catalogued layer.
    """

    uses_of: Callable[[str], tuple[DtypeUse, ...] | None]
    param_name: Callable[[str, str | int], str | None]
    is_catalogued: Callable[[str], bool]
    quantized: Callable[[str, str], bool]
    declares: Callable[[str, str], bool]
    every_use: Callable[[], Iterator[tuple[str, DtypeUse]]]  # (class, use) of each class's own code
    # The class (itself or a base) whose own code holds the use, and whether two classes share a module.
    origin_of: Callable[[str, DtypeUse], str]
    same_module: Callable[[str, str], bool]
    conventions: Conventions = DEFAULT_CONVENTIONS
    _memo: dict[tuple[str, str], Evidence] = field(default_factory=dict)
    _callers: dict[str, list[tuple[str, DtypeUse]]] | None = None

    def evidence(self, qualname: str, key: str) -> Evidence:
        """What the class's own code (and its bases') shows ``key`` to be; UNKNOWN when it shows nothing."""
        memo_key = (qualname, key)
        if memo_key in self._memo:
            return self._memo[memo_key]
        self._memo[memo_key] = Evidence(Role.UNKNOWN)  # a cycle (a block given its own dtype) shows nothing
        result = dataclasses.replace(self._evidence(qualname, key), key=key)
        self._memo[memo_key] = result
        return result

    def role(self, qualname: str, key: str) -> Evidence:
        """What ``key`` is to the class as a whole: its own code's evidence, corrected by what flows in.

        - The code shows nothing: the name's prior.
        - The class only stores parameters in it, but a caller passes its compute dtype into it, or its name
          says compute while the class keeps a separate storage dtype (``param_dtype``): BOTH, its
          parameters are stored in a compute dtype (the MaxText #470 pattern).
        """
        found = self.evidence(qualname, key)
        prior = self.conventions.prior(key)
        if found.role is Role.UNKNOWN and prior is not Role.UNKNOWN:
            return Evidence(prior, key, from_name=True)
        if found.role is Role.STORAGE and prior is not Role.STORAGE and found.storage is not None:
            inflow = self.inflow(qualname, key)
            if inflow is not None:
                elsewhere = not self.same_module(inflow[0], qualname)
                return Evidence(
                    Role.BOTH, key, storage=found.storage, inflow=inflow, inflow_elsewhere=elsewhere
                )
            if prior is Role.COMPUTE:
                for name in sorted(self.conventions.storage_names):
                    stores = self.evidence(qualname, name).role is not Role.COMPUTE
                    if stores and self.declares(qualname, name):
                        return Evidence(
                            Role.BOTH, key, storage=found.storage, from_name=True, storage_field=name
                        )
        return found

    def inflow(self, qualname: str, key: str) -> tuple[str, DtypeUse] | None:
        """A caller's use that passes a value its own code computes with into ``key`` of ``qualname``."""
        if self._callers is None:
            self._callers = {}
            for caller, use in self.every_use():
                self._callers.setdefault(use.target, []).append((caller, use))
        for caller, use in self._callers.get(qualname, ()):
            if self.param_name(qualname, use.slot) == key and self.evidence(caller, use.key).role.computes:
                return caller, use
        return None

    def _evidence(self, qualname: str, key: str) -> Evidence:
        if self.quantized(qualname, key):
            return Evidence(Role.STORAGE)
        storage: DtypeUse | None = None
        compute: DtypeUse | None = None
        uses = self.uses_of(qualname) or ()
        crossed = self._crossed(uses)
        for use in uses:
            if use.key != key or use in crossed:
                continue
            role = self._use_role(use)
            if role is Role.STORAGE and storage is None:
                storage = use
            elif role is Role.COMPUTE and compute is None:
                compute = use
            elif role is Role.BOTH:
                storage = storage or use
                compute = compute or use
        elsewhere = None
        if compute is not None:
            origin = self.origin_of(qualname, compute)
            elsewhere = None if self.same_module(origin, qualname) else origin
        if storage is not None and compute is not None:
            return Evidence(Role.BOTH, storage=storage, compute=compute, compute_elsewhere=elsewhere)
        if storage is not None:
            return Evidence(Role.STORAGE, storage=storage)
        if compute is not None:
            return Evidence(Role.COMPUTE, compute=compute, compute_elsewhere=elsewhere)
        return Evidence(Role.UNKNOWN)

    def _crossed(self, uses: tuple[DtypeUse, ...]) -> set[DtypeUse]:
        """Uses in a call that passes two of the module's dtypes crosswise to what their names say
        (``Dense(dtype=self.param_dtype, param_dtype=self.dtype)``): that call is the question (FLX003's
        swap), not evidence of what the names mean."""
        by_call: dict[int, list[DtypeUse]] = {}  # by line: a call's keywords may sit on lines of their own...
        for use in uses:
            by_call.setdefault(use.line, []).append(use)  # ...but a use has its call's line
        crossed: set[DtypeUse] = set()
        for group in by_call.values():
            if len(group) < 2:
                continue
            against = [
                u for u in group if self.conventions.prior(u.key) not in (Role.UNKNOWN, self._use_role(u))
            ]
            if {self.conventions.prior(u.key) for u in against} == {Role.STORAGE, Role.COMPUTE}:
                crossed.update(against)
        return crossed

    def _use_role(self, use: DtypeUse) -> Role:
        if use.target == STORAGE_TARGET:
            return Role.STORAGE
        if use.target == COMPUTE_TARGET:
            return Role.COMPUTE
        name = self.param_name(use.target, use.slot)
        if self.is_catalogued(use.target):
            if name in STORAGE_KEYWORDS:
                return Role.STORAGE
            return Role.COMPUTE if name == "dtype" else Role.UNKNOWN
        if self.uses_of(use.target) is not None:  # a project Module: what it does with that parameter
            if name is None:
                return Role.UNKNOWN
            # Only where it agrees with the parameter's name: a block that stores its weights in its
            # ``dtype`` misuses the caller's compute dtype; that is the block's finding, not the caller's.
            role = self.evidence(use.target, name).role
            if role is Role.BOTH:  # the block computes with it; storing it too is the block's own finding
                return Role.COMPUTE
            prior = self.conventions.prior(name)
            return role if prior is Role.UNKNOWN or role is prior else Role.UNKNOWN
        position = ARRAY_DTYPE_INDEX.get(use.target)
        if use.slot == "dtype" and use.target.startswith(COMPUTE_MODULES):
            return Role.COMPUTE
        if position is not None and use.slot == position:
            return Role.COMPUTE
        return Role.UNKNOWN
