"""What each value inside a Module method is, for FLX007 and the numerics rules (FLX1xx).

The Analyzer's single pass over the tree calls :class:`NumericsCollector` as it *leaves* nodes, so every
expression gets a small abstract value (:class:`Val`) from its children's, bottom-up, without a second
traversal: where the value comes from (a parameter, the method's inputs, constants) and which precision
it is known to have (the compute dtype, float32, half, a weak Python scalar). Assignments bind names (and
``self.X`` attributes, for ``setup``/``__init__``) in statement order. The rules then read the events the
collector records (an fp32 parameter meeting activations, a softmax on compute-dtype values, ...).

Only the methods of Flax Module classes are evaluated: the bugs these rules describe live there, and
skipping the rest keeps the pass as cheap as before for everything else.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import libcst as cst

from flaxprec.dtypes import NNX_PARAM_NAMES, DtypeKind, classify, dotted, integer_dtype, logits_parameter
from flaxprec.flow import Fates, Flow, Flows, Use, join, started_by, unsure

if TYPE_CHECKING:
    from flaxprec.analysis import Analyzer, Construction, Owner

FP16_MAX = 65504.0
ARRAY_MODULES = ("jax.numpy.", "numpy.", "jax.lax.", "jax.nn.", "flax.linen.", "jax.scipy.special.")
# Functions (short names, under ARRAY_MODULES) whose result keeps the dtype of their first array argument.
KEEP_FIRST = frozenset(
    [
        "reshape",
        "transpose",
        "expand_dims",
        "squeeze",
        "broadcast_to",
        "swapaxes",
        "moveaxis",
        "tile",
        "repeat",
        "take",
        "take_along_axis",
        "flip",
        "roll",
        "pad",
        "ravel",
        "sqrt",
        "rsqrt",
        "exp",
        "exp2",
        "log",
        "log1p",
        "expm1",
        "tanh",
        "sin",
        "cos",
        "tan",
        "abs",
        "negative",
        "square",
        "reciprocal",
        "sign",
        "sum",
        "mean",
        "max",
        "min",
        "cumsum",
        "clip",
        "var",
        "std",
        "amax",
        "amin",
        "nanmean",
        "split",
        "stop_gradient",
        "real",
        "imag",
        "conj",
        "relu",
        "gelu",
        "silu",
        "swish",
        "sigmoid",
        "softplus",
        "elu",
        "leaky_relu",
        "celu",
        "selu",
        "glu",
        "softmax",
        "log_softmax",
        "logsumexp",
        "standardize",
        "normalize",
        "erf",
        "round",
        "around",
        "floor",
        "ceil",
        "nan_to_num",
    ]
)
# Functions whose result promotes all of their array arguments together (FLX007 looks at these too).
PROMOTE_ALL = frozenset(
    [
        "dot",
        "matmul",
        "einsum",
        "multiply",
        "add",
        "subtract",
        "divide",
        "true_divide",
        "inner",
        "outer",
        "tensordot",
        "maximum",
        "minimum",
        "concatenate",
        "stack",
        "hstack",
        "vstack",
        "dot_general",
        "batch_matmul",
        "where",
        "select",
        "power",
    ]
)
CASTS = frozenset(
    {"jax.numpy.asarray", "jax.numpy.array", "numpy.asarray", "numpy.array", "jax.lax.convert_element_type"}
)
STACKS = frozenset({"concatenate", "stack", "hstack", "vstack"})
ADDS = frozenset({"add", "subtract"})
CONSTRUCTORS = frozenset(
    ["zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "eye", "identity"]
)
TABLE_SOURCES = frozenset({"arange", "linspace"})
TABLE_CONSUMERS = frozenset({"sin", "cos", "exp", "power", "exp2"})
SOFTMAX = frozenset(
    {
        "jax.nn.softmax",
        "jax.nn.log_softmax",
        "jax.nn.logsumexp",
        "jax.scipy.special.logsumexp",
        "flax.linen.softmax",
        "flax.linen.log_softmax",
        "flax.linen.activation.softmax",
        "flax.linen.activation.log_softmax",
        "flax.nnx.softmax",
        "flax.nnx.log_softmax",
    }
)
LOSSES = frozenset(
    [
        "softmax_cross_entropy",
        "softmax_cross_entropy_with_integer_labels",
        "safe_softmax_cross_entropy",
        "sigmoid_binary_cross_entropy",
        "poly_loss_cross_entropy",
        "sigmoid_focal_loss",
    ]
)
# Arrays made float32 by default, not from the activations: random numbers and one-hot codes (FLX007).
FRESH_FP32 = frozenset(
    {
        "jax.nn.one_hot",
        "jax.random.normal",
        "jax.random.uniform",
        "jax.random.gumbel",
        "jax.random.truncated_normal",
        "jax.random.laplace",
        "jax.random.logistic",
        "jax.random.exponential",
        "jax.random.cauchy",
    }
)
MEANS = frozenset({"mean", "nanmean", "average"})
VARIANCES = frozenset({"var", "std", "nanvar", "nanstd"})
STATISTICS = {
    "var": "variance",
    "nanvar": "variance",
    "std": "standard deviation",
    "nanstd": "standard deviation",
}
# Methods of an array whose result keeps the array's dtype (and its origin).
KEEP_METHODS = KEEP_FIRST | frozenset(["set", "add", "multiply", "get", "min", "max"])
SHAPE_ATTRS = frozenset({"shape", "ndim", "size", "dtype", "itemsize", "nbytes"})
SAME_ATTRS = frozenset({"T", "real", "imag", "value", "at", "mT"})
MASK_CALLS = frozenset({"set", "fill"})  # x.at[i].set(-1e9)
SCALAR_ANNOTATIONS = frozenset({"bool", "int", "str", "float"})


class Origin(enum.Enum):
    CONST = "const"  # literals, config values, shapes, freshly built arrays
    ACT = "act"  # computed from the method's inputs: activations
    PARAM = "param"  # a parameter, or computed from parameters and constants only
    UNKNOWN = "unknown"


class Prec(enum.Enum):
    WEAK = "weak"  # a Python scalar: takes the other operand's dtype
    COMPUTE = "compute"  # the enclosing Module's compute dtype
    FP32 = "float32"
    HALF = "half"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Stat:
    """A statistic being built, for the E[x^2] - E[x]^2 pattern: ``kind`` of ``base`` (its source text)."""

    kind: str  # "sq" (x**2), "mean" (E[x]), "meansq" (E[x**2]), "sqmean" (E[x]**2)
    base: str


@dataclass(frozen=True)
class Val:
    origin: Origin
    prec: Prec = Prec.UNKNOWN
    param_node: cst.BaseExpression | None = None  # the parameter reference a fix casts
    table: cst.CSTNode | None = None  # the arange/linspace (or its cast) a position table comes from
    stat: Stat | None = None
    layer: Prec | None = None  # a layer instance: the precision of what calling it returns
    casts_inputs: bool = False  # a Flax layer with a dtype (it computes in it); a project block may not
    pending: tuple[Upcast, ...] = ()  # upcasts whose float32 result this value still carries
    # The precision this value would have once its pending upcasts are fixed (their parameters cast).
    unupcast: Prec | None = None
    flows: Flows = ()  # the float32 layer outputs this value still is (flaxprec.flow, FLX001)
    makes: Flows = ()  # a layer instance: the flows its calls return
    # FLX007: float32 on purpose, a decision like ``dtype=jnp.float32``: an explicit cast to float32
    # (``x.astype(jnp.float32)``, ``self.A_log.astype(jnp.float32)``), a fresh float32 array (random
    # numbers, one-hot), or what is computed from them (a deliberate float32 island).
    island: bool = False
    act_dtype: bool = False  # FLX007: the dtype of activations that no upcast made float32 (``x.dtype``)


UNKNOWN = Val(Origin.UNKNOWN)
CONST = Val(Origin.CONST, Prec.WEAK)  # constants take part in promotion like Python scalars
ACT = Val(Origin.ACT)
PREC_OF_KIND = {
    DtypeKind.HALF: Prec.HALF,
    DtypeKind.FP32: Prec.FP32,
    DtypeKind.COMPUTE: Prec.COMPUTE,
    DtypeKind.PARAM: Prec.FP32,  # param_dtype is float32 by convention (FLX002 reports otherwise)
}
VERBS = {
    cst.Multiply: "multiplied with",
    cst.MatrixMultiply: "multiplied with",
    cst.Add: "added to",
    cst.Subtract: "combined with",
    cst.Divide: "combined with",
}
AUG_VERBS = {
    cst.AddAssign: "added to",
    cst.SubtractAssign: "combined with",
    cst.MultiplyAssign: "multiplied with",
}


# --- the events the rules read ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    owner: Owner
    statement: cst.CSTNode | None


@dataclass(frozen=True)
class Upcast:
    """FLX007: an fp32 parameter value combined with activations, without a cast."""

    node: cst.CSTNode  # the operation
    param: cst.BaseExpression  # the parameter reference (the fix casts it)
    verb: str
    other: Prec
    site: Site
    # Parameters met later by the float32 result, not reported themselves (not the first upcast): fixing
    # this upcast alone would make them the next ones, so its fix casts them too.
    followers: list[cst.BaseExpression] = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class HalfCall:
    """FLX101/FLX102/FLX103: a softmax, loss or norm statistic on values in the compute dtype or half."""

    call: cst.Call
    arg: cst.BaseExpression
    name: str  # the callee as written
    prec: Prec
    site: Site
    statistic: str = ""  # FLX103: "variance", "standard deviation", "mean of squares"


@dataclass(frozen=True)
class NaiveVariance:
    """FLX104: E[x^2] - E[x]^2."""

    node: cst.BinaryOperation
    site: Site
    # ``(x, "axis=-1")`` when both means are written inline with the same arguments: ``var(x, axis=-1)``.
    var_args: tuple[str, str] | None = None


@dataclass(frozen=True)
class HalfTable:
    """FLX105: a position table in the compute dtype (or half) reaching sin/cos/exp/power."""

    source: cst.CSTNode
    consumer: str
    prec: Prec
    site: Site


@dataclass(frozen=True)
class MaskConstant:
    """FLX106: a constant that overflows float16, or an infinity, used to mask."""

    node: cst.BaseExpression
    negative: bool
    infinite: bool
    site: Site


@dataclass
class NumericsFacts:
    upcasts: list[Upcast] = field(default_factory=list)
    softmaxes: list[HalfCall] = field(default_factory=list)
    losses: list[HalfCall] = field(default_factory=list)
    norm_stats: list[HalfCall] = field(default_factory=list)
    naive_variances: list[NaiveVariance] = field(default_factory=list)
    tables: list[HalfTable] = field(default_factory=list)
    mask_constants: list[MaskConstant] = field(default_factory=list)
    fates: Fates = field(default_factory=Fates)  # FLX001


# --- scopes -----------------------------------------------------------------------------------------------


@dataclass
class _ClassScope:
    attrs: dict[str, Val] = field(default_factory=dict)  # self.X bound in setup / __init__ / methods


@dataclass
class _Scope:
    owner: Owner
    self_name: str | None
    env: dict[str, Val]
    parent: _Scope | None
    cls: _ClassScope
    locals: frozenset[str]  # names the function binds (a name not in env is then unknown, not global)
    # Where each name was last bound: the arms (``if`` node id, 0 for its body, 1 for its ``else``) around it.
    arms: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    # The values an ``else`` arm replaced, by ``if`` node id: joined back when that ``if`` ends.
    replaced: dict[int, list[tuple[str, Val]]] = field(default_factory=dict)


def promote(a: Prec, b: Prec) -> Prec:
    """The precision of an operation on two values (jax's promotion, as far as it is known)."""
    if a is Prec.WEAK:
        return b
    if b is Prec.WEAK:
        return a
    if Prec.FP32 in (a, b):
        return Prec.FP32
    if a is b:
        return a
    return Prec.UNKNOWN


def _origin(a: Origin, b: Origin) -> Origin:
    if Origin.ACT in (a, b):
        return Origin.ACT
    if Origin.UNKNOWN in (a, b):
        return Origin.UNKNOWN
    if Origin.PARAM in (a, b):
        return Origin.PARAM
    return Origin.CONST


def _number(node: cst.BaseExpression) -> float | None:
    """The value of a numeric literal (with unary signs), ``float("inf")`` or ``jnp.inf``-style names."""
    sign = 1.0
    while isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        if isinstance(node.operator, cst.Minus):
            sign = -sign
        node = node.expression
    if isinstance(node, (cst.Integer, cst.Float)):
        try:
            return sign * float(node.evaluated_value)
        except (OverflowError, ValueError):
            return None
    if isinstance(node, cst.Call) and dotted(node.func) == "float" and len(node.args) == 1:
        value = node.args[0].value
        if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
            text = value.evaluated_value.strip().lower()
            if text in ("inf", "+inf", "-inf", "infinity", "-infinity"):
                return sign * (-math.inf if text.startswith("-") else math.inf)
        return None
    name = dotted(node)
    if name is not None and name.split(".")[-1] in ("inf", "Inf", "infty", "PINF", "NINF") and "." in name:
        return sign * (-math.inf if name.endswith("NINF") else math.inf)
    return None


def _is_integer(node: cst.BaseExpression) -> bool:
    while isinstance(node, cst.UnaryOperation):
        node = node.expression
    return isinstance(node, cst.Integer)


def _strip_parens(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.with_changes(lpar=[], rpar=[]) if node.lpar else node


class NumericsCollector:
    """Called by :class:`flaxprec.analysis.Analyzer` on class/function entry and on the nodes it leaves.

    Which node types it evaluates is :data:`NUMERICS_HANDLERS`; the Analyzer calls their handlers only
    while :attr:`scope` is set.
    """

    def __init__(self, analyzer: Analyzer, facts: NumericsFacts) -> None:
        self.analyzer = analyzer
        self.facts = facts
        self.vals: dict[int, Val] = {}
        self.scope: _Scope | None = None
        self._outer: list[_Scope | None] = []
        self._classes: list[_ClassScope | None] = []
        self._by_name: dict[str, _ClassScope] = {}  # Module classes of this file, by qualified name
        self._constructions: dict[int, Construction] = {}
        self._seen_constructions = 0
        self._table_prec: dict[int, Prec] = {}
        self._reported: set[int] = set()
        self._tentative: list[Upcast] = []
        self._escaped: set[int] = set()
        from flaxprec.masks import MaskFollower  # it reads this module's tables

        self.masks = MaskFollower(self)  # FLX106: where the mask constants go

    # -- scopes ------------------------------------------------------------------------------------------

    def enter_class(self, node: cst.ClassDef, is_module: bool) -> None:
        """A Module class starts with what its bases of this file bound in their ``setup``/``__init__``."""
        if not is_module:
            self._classes.append(None)
            return
        scope = _ClassScope()
        for base in node.bases:
            qualified = self.analyzer.resolve_expr(base.value)
            inherited = self._by_name.get(qualified) if isinstance(qualified, str) else None
            if inherited is not None:
                scope.attrs.update(inherited.attrs)
        self._by_name[".".join([self.analyzer.module_name, *self.analyzer.class_path])] = scope
        self._classes.append(scope)

    def leave_class(self) -> None:
        self._classes.pop()
        self.masks.leave_class()

    def enter_function(self, node: cst.FunctionDef, owner: Owner | None) -> None:
        """Start evaluating a method of a Module class (or a function nested in one); else stop."""
        parent = self.scope
        self._outer.append(parent)
        cls = parent.cls if parent is not None else (self._classes[-1] if self._classes else None)
        if owner is None or cls is None:
            self.scope = None
            return
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        static = any(dotted(d.decorator) == "staticmethod" for d in node.decorators)
        self_name = parent.self_name if parent is not None else (params[0].name.value if params else None)
        self_name = None if static and parent is None else self_name
        env: dict[str, Val] = {}
        for param in params:
            name = param.name.value
            if parent is None and name == self_name:
                continue
            annotation = dotted(param.annotation.annotation) if param.annotation is not None else None
            scalar = annotation is not None and annotation.split(".")[-1] in SCALAR_ANNOTATIONS
            # ``temperature=1``: a parameter whose default is a number is a Python scalar too.
            scalar = scalar or (param.default is not None and _number(param.default) is not None)
            env[name] = CONST if scalar else ACT
        frame = self.analyzer.frames[-1]
        self.scope = _Scope(owner, self_name, env, parent, cls, frozenset(frame.bindings))

    def leave_function(self) -> None:
        self.scope = self._outer.pop()
        if self.scope is None:
            # An upcast counts when its float32 result escapes; one only cast back or compared does not.
            self.facts.upcasts.extend(u for u in self._tentative if id(u) in self._escaped)
            self._tentative.clear()
            self._escaped.clear()
            self.vals.clear()
            self.masks.leave_function()

    # -- values ------------------------------------------------------------------------------------------

    def val(self, node: cst.CSTNode | None) -> Val:
        return UNKNOWN if node is None else self.vals.get(id(node), UNKNOWN)

    def _set(self, node: cst.CSTNode, val: Val) -> None:
        self.vals[id(node)] = val

    def _site(self) -> Site:
        assert self.scope is not None
        statements = self.analyzer.statements
        return Site(self.scope.owner, statements[-1] if statements else None)

    @property
    def _has_compute(self) -> bool:
        return self.scope is not None and self.scope.owner.compute_dtype is not None

    def _code(self, node: cst.CSTNode) -> str:
        return self.analyzer.model.module.code_for_node(node)

    # -- names and attributes --------------------------------------------------------------------------------

    def _lookup(self, name: str) -> Val | None:
        """A local's value; UNKNOWN for a local we did not track; None for a global."""
        scope = self.scope
        while scope is not None:
            if name in scope.env:
                return scope.env[name]
            if name in scope.locals:
                return UNKNOWN
            scope = scope.parent
        return None

    def _name(self, node: cst.Name) -> None:
        found = self._lookup(node.value)
        if found is None:
            self._set(node, CONST)  # a global: a module, a function, a constant
        else:
            self._set(node, _at(found, node))

    def _attribute(self, node: cst.Attribute) -> None:
        scope = self.scope
        assert scope is not None
        attr = node.attr.value
        if attr == "dtype":
            self._set(node, _dtype_of(self.val(node.value)))
        elif attr in SHAPE_ATTRS:
            self._set(node, CONST)
        elif isinstance(node.value, cst.Name) and node.value.value == scope.self_name:
            found = scope.cls.attrs.get(attr)
            # Not bound by this class's code: a field, the config, a constant.
            self._set(node, CONST if found is None else _at(found, node))
        else:
            base = self.val(node.value)
            if attr in SAME_ATTRS:
                self._set(node, _at(base, node))
            elif base.origin is Origin.CONST:
                self._set(node, CONST)
            else:
                self._set(node, Val(base.origin))

    def _subscript(self, node: cst.Subscript) -> None:
        self._set(node, replace(_at(self.val(node.value), node), stat=None, layer=None))

    def _literal(self, node: cst.BaseExpression) -> None:
        self._set(node, CONST)

    def _unary(self, node: cst.UnaryOperation) -> None:
        self._set(node, CONST if isinstance(node.operator, cst.Not) else self.val(node.expression))

    def _ifexp(self, node: cst.IfExp) -> None:
        a, b = self.val(node.body), self.val(node.orelse)
        prec = a.prec if a.prec is b.prec else Prec.UNKNOWN
        origin = _origin(a.origin, b.origin)
        flows, makes = join(a.flows, b.flows), join(a.makes, b.makes)
        island = a.island and b.island
        pending = a.pending + b.pending
        self._set(node, Val(origin, prec, pending=pending, flows=flows, makes=makes, island=island))

    # -- arithmetic ----------------------------------------------------------------------------------------

    def _binary(self, node: cst.BinaryOperation) -> None:
        left, right = self.val(node.left), self.val(node.right)
        op = node.operator
        self._mask_operands([(node.left, right), (node.right, left)])
        if isinstance(op, cst.Power):
            self._table_use(left, "**")
            self._table_use(right, "**")
            if _number(node.right) == 2:
                self._set(node, self._squared(node.left, left))
                return
        if isinstance(op, cst.Multiply):
            same = dotted(node.left)
            if same is not None and same == dotted(node.right):
                self._set(node, self._squared(node.left, left))
                return
        if isinstance(op, cst.Subtract):
            self._naive_variance(node, left, right)
        self._set(node, self._combine(node, [left, right], VERBS.get(type(op))))

    def _combine(self, node: cst.CSTNode, vals: Sequence[Val], verb: str | None) -> Val:
        """Promote ``vals`` together; an fp32 parameter meeting activations is an FLX007 candidate."""
        origin, prec, fixed = Origin.CONST, Prec.WEAK, Prec.WEAK
        pending: tuple[Upcast, ...] = ()
        for val in vals:
            origin, prec = _origin(origin, val.origin), promote(prec, val.prec)
            pending += val.pending
        acts = [v for v in vals if v.origin is Origin.ACT]
        # Float32 on purpose (an explicit cast, a fresh float32 array): no parameter upcasts it, and an
        # earlier upcast meeting it is not what makes the result float32 either.
        island = _deliberate(vals, acts)
        if island:
            pending = ()
        upcasting = verb is not None and origin is Origin.ACT and self._has_compute and not island
        # In ``x * a + b`` the activations meeting ``b`` are float32 only because of ``a``: what they are
        # once ``a`` is cast decides how ``b`` is reported (and whether its fix is safe).
        settled = {_settled(v) for v in acts}
        other = settled.pop() if len(settled) == 1 else Prec.UNKNOWN
        # Activations that an earlier upcast made float32, and that nothing shows to be in the compute dtype
        # once it is fixed: this operation makes nothing float32 that was not (report the first upcast only).
        later = other is not Prec.COMPUTE and any(v.pending for v in acts)
        for val in vals:
            if upcasting and later and _is_fp32_param(val):
                first = next(u for v in acts for u in v.pending)
                first.followers.append(val.param_node)
            if upcasting and not later and _is_fp32_param(val):
                upcast = Upcast(node, val.param_node, verb or "", other, self._site())
                self._tentative.append(upcast)
                pending += (upcast,)
                fixed = promote(fixed, Prec.COMPUTE)
            else:
                fixed = promote(fixed, _settled(val))
        table = next((v.table for v in vals if v.table is not None), None)
        param = next((v.param_node for v in vals if v.origin is Origin.PARAM), None)
        return Val(
            origin,
            prec,
            param_node=param if origin is Origin.PARAM else None,
            table=table,
            pending=pending,
            unupcast=fixed if pending else None,
            flows=self._meeting(vals) if any(v.flows for v in vals) else (),
            island=island,
        )

    def _meeting(self, vals: Sequence[Val]) -> Flows:
        """The flows of a value computed from ``vals``: kept where only constants (``x * scale``) or the
        value itself (``x * sigmoid(x)``) take part; where other arrays do, they end (FLX001)."""
        carrying = [v for v in vals if v.flows]
        keys = {f.key for f in carrying[0].flows}
        if all(v.flows or v.origin is Origin.CONST for v in vals) and all(
            {f.key for f in v.flows} == keys for v in carrying
        ):
            flows = carrying[0].flows
            for val in carrying[1:]:
                flows = join(flows, val.flows)
            return flows
        for val in carrying:
            self.facts.fates.record(val.flows, Use.COMBINED)
        return ()

    def _escape(self, vals: Sequence[Val]) -> None:
        """These values leave what we can follow (returned, stored, passed to a call): their upcasts count."""
        for val in vals:
            self._escaped.update(id(u) for u in val.pending)

    def _escape_value(self, node: cst.Return | cst.Yield) -> None:
        if node.value is not None:
            val = self.val(node.value)
            self._escape([val])
            self.facts.fates.record(val.flows, Use.ESCAPED)
            self.facts.fates.record(val.makes, Use.LOST)

    def _comparison(self, node: cst.Comparison) -> None:
        self._set(node, CONST)  # a boolean: an upcast only compared does not reach the stream

    def _elements(self, node: cst.Tuple | cst.List) -> None:
        vals = [self.val(e.value) for e in node.elements]
        pending = tuple(u for v in vals for u in v.pending)
        flows = tuple(dict.fromkeys(f for v in vals for f in v.flows))
        makes = tuple(dict.fromkeys(f for v in vals for f in v.makes))
        if pending or flows or makes:
            self._set(node, Val(Origin.UNKNOWN, pending=pending, flows=flows, makes=makes))
        else:
            self._set(node, UNKNOWN)

    def _augassign(self, node: cst.AugAssign) -> None:
        target, value = self.val(node.target), self.val(node.value)
        verb = AUG_VERBS.get(type(node.operator))
        self._mask_operands([(node.value, target)])
        self._bind(node.target, self._combine(node, [target, value], verb))

    # -- calls -----------------------------------------------------------------------------------------------

    def _construction(self, node: cst.Call) -> Construction | None:
        constructions = self.analyzer.model.constructions
        for construction in constructions[self._seen_constructions :]:
            self._constructions[id(construction.call)] = construction
        self._seen_constructions = len(constructions)
        return self._constructions.get(id(node))

    def _layer_output(self, construction: Construction) -> Prec:
        """What calling the layer returns: its ``dtype``; without one, float32 for a catalogue layer."""
        current: Construction | None = construction
        while current is not None:
            arg = current.argument("dtype")
            if arg is not None:
                return self._dtype(arg.value)
            current = current.partial_origin
        if construction.passes("dtype") or construction.passes("param_dtype") or construction.opaque:
            return Prec.UNKNOWN
        # result_type(inputs, float32 params) is float32 (a project block may cast inside: unknown).
        return Prec.FP32 if construction.spec.api != "project" else Prec.UNKNOWN

    def _dtype(self, node: cst.BaseExpression | None) -> Prec:
        """The precision a dtype expression denotes here (``x.dtype`` takes x's, when known)."""
        if node is None:
            return Prec.UNKNOWN
        scope = self.scope
        assert scope is not None
        kind = classify(node, self.analyzer.resolve_name, scope.owner.compute_exprs, scope.owner.param_exprs)
        prec = PREC_OF_KIND.get(kind, Prec.UNKNOWN)
        if prec is Prec.UNKNOWN and isinstance(node, cst.Attribute) and node.attr.value == "dtype":
            inner = self.val(node.value).prec
            prec = inner if inner in (Prec.COMPUTE, Prec.FP32, Prec.HALF) else Prec.UNKNOWN
        return prec

    def _call(self, node: cst.Call) -> None:
        construction = self._construction(node)
        if construction is not None:
            output = self._layer_output(construction)
            casts = construction.spec.api != "project" and output in (Prec.COMPUTE, Prec.HALF)
            makes = started_by(construction)
            self._set(node, Val(Origin.CONST, Prec.UNKNOWN, layer=output, casts_inputs=casts, makes=makes))
            return
        func = node.func
        args = [a for a in node.args if not a.star]
        arg_vals = [self.val(a.value) for a in args]
        func_val = self.val(func)
        if func_val.layer is not None:
            self._set(node, self._layer_call(func_val, arg_vals))
        else:
            qualified = (
                self.analyzer.resolve_expr(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
            )
            if isinstance(qualified, str):
                self._function_call(node, qualified, args, arg_vals)
            elif isinstance(func, cst.Attribute):
                self._method_call(node, func, args, arg_vals)
            else:
                # A function of this file (module level or local): it keeps the precision its inputs promote
                # to. An instance of this file's Module (``nn.Dropout(rate)(x)``) is called here as well.
                helper = isinstance(func, cst.Name)
                self._set(node, self._opaque(arg_vals, helper=helper, through=_first(args)))
        # The float32 output of a layer built without dtype, or a lookup of a tied embedding (FLX001).
        lookup = id(node) in self.analyzer.lookup_calls
        if func_val.makes or lookup:
            val = self.val(node)
            started = (Flow(id(node)),) if lookup else ()
            self._set(node, replace(val, flows=val.flows + func_val.makes + started))

    def _layer_call(self, layer: Val, arg_vals: Sequence[Val]) -> Val:
        """A Flax layer computes in its own ``dtype``: an upcast input does not get through such a layer."""
        if not layer.casts_inputs:
            self._escape(arg_vals)
        # A layer built with a dtype casts its inputs to it; one without (it starts flows itself) promotes
        # them: a float32 input reaches its computation.
        use = Use.ESCAPED if layer.makes else Use.LAYER
        fates = self.facts.fates
        for val in arg_vals:
            fates.record(val.flows, use)
            fates.record(val.makes, Use.LOST)
        return Val(_any_act(arg_vals), layer.layer or Prec.UNKNOWN)

    def _opaque(self, vals: Sequence[Val], helper: bool, through: cst.BaseExpression | None = None) -> Val:
        """A call we cannot see into; a helper of this file keeps the precision its inputs promote to.

        The float32 layer outputs in ``through`` (its first argument) may come out again: unsure flows.
        """
        self._escape(vals)
        passed = self.val(through) if through is not None else None
        fates = self.facts.fates
        for val in vals:
            if val is not passed:
                fates.record(val.flows, Use.LOST)
            fates.record(val.makes, Use.LOST)
        flows = unsure(passed.flows) if passed is not None else ()
        if all(v.origin is Origin.CONST for v in vals):
            return CONST  # math.sqrt(head_dim), len(x), int(...): plain numbers
        origin = _any_act(vals)
        # Given only float32-on-purpose arrays (``pad(x_f32, n)``), what comes out is taken to be so too.
        island = any(v.island for v in vals) and all(
            v.island for v in vals if v.origin in (Origin.ACT, Origin.PARAM)
        )
        if not helper:
            return Val(origin, flows=flows, island=island)
        prec = Prec.WEAK
        for val in vals:
            if val.origin is not Origin.CONST:
                prec = promote(prec, val.prec)
        return Val(origin, Prec.UNKNOWN if prec is Prec.WEAK else prec, flows=flows, island=island)

    def _method_call(
        self, node: cst.Call, func: cst.Attribute, args: list[cst.Arg], arg_vals: list[Val]
    ) -> None:
        scope = self.scope
        assert scope is not None
        method = func.attr.value
        positional = [a.value for a in args if a.keyword is None]
        base = self.val(func.value)
        if isinstance(func.value, cst.Name) and func.value.value == scope.self_name:
            if method == "param":
                self._set(node, self._param(node, args, positional))
            elif method == "promote_dtype" and _keyword(args, "dtype") is not None:
                # nnx layers call flax's promote_dtype through an attribute (``self.promote_dtype``).
                self._set(node, self._promote_dtype(arg_vals, _keyword(args, "dtype")))
            elif method in scope.cls.attrs:
                self._set(node, self._opaque(arg_vals, helper=False, through=_first(args)))
            else:
                # A method of this module, or a field holding a function (``self.activation(x)``).
                self._set(node, self._opaque(arg_vals, helper=True, through=_first(args)))
            return
        if method == "astype":
            target = positional[0] if positional else _keyword(args, "dtype")
            self._set(node, self._cast(node, base, target))
        elif method == "promote_dtype" and _keyword(args, "dtype") is not None:
            self._set(node, self._promote_dtype(arg_vals, _keyword(args, "dtype")))
        elif base.layer is not None:
            self._set(node, self._layer_call(base, arg_vals))  # embed.attend(x)
        elif method in MEANS or method in VARIANCES:
            self._statistic(node, self._code(func), method, func.value, base)
        elif method in MASK_CALLS:
            if base.prec is not Prec.FP32:
                self._mask_constants(positional)
            self._set(node, self._combine(node, [base, *arg_vals[:1]], None))
        elif method in KEEP_FIRST:
            self._set(node, replace(_at(base, node), stat=None, layer=None))
        else:
            through = func.value if base.flows else _first(args)
            self._set(node, self._opaque([base, *arg_vals], helper=False, through=through))

    def _function_call(
        self, node: cst.Call, qualified: str, args: list[cst.Arg], arg_vals: list[Val]
    ) -> None:
        positional = [a.value for a in args if a.keyword is None]
        first = positional[0] if positional else None
        first_val = self.val(first)
        short = qualified.rsplit(".", 1)[-1]
        if qualified in CASTS:
            target = positional[1] if len(positional) > 1 else None
            target = target or _keyword(args, "dtype") or _keyword(args, "new_dtype")
            cast = first_val if target is None else self._cast(node, first_val, target)
            self._set(node, cast if first is not None else UNKNOWN)
        elif qualified in SOFTMAX:
            arg = first if first is not None else _keyword(args, "x")
            self._half_call(self.facts.softmaxes, node, arg, self._code(node.func))
            self._set(node, replace(self.val(arg), param_node=None, stat=None, table=None))
        elif short in LOSSES and qualified.startswith("optax."):
            arg = _keyword(args, "logits") or first
            self._half_call(self.facts.losses, node, arg, self._code(node.func))
            self._set(node, self._opaque(arg_vals, helper=False))
        elif qualified in NNX_PARAM_NAMES:
            self._set(node, self._nnx_param(first))
        elif qualified.startswith("flax.") and short == "promote_dtype" and _keyword(args, "dtype"):
            self._set(node, self._promote_dtype(arg_vals, _keyword(args, "dtype")))
        elif qualified in FRESH_FP32 and _keyword(args, "dtype") is None:
            self._opaque(arg_vals, helper=False)  # ends what FLX001 follows, as before
            self._set(node, Val(Origin.CONST, Prec.FP32, island=True))
        elif not _array_function(qualified):
            self._set(node, self._opaque(arg_vals, helper=False, through=first))
        else:
            self._array_call(node, short, args, positional, arg_vals)

    def _array_call(
        self,
        node: cst.Call,
        short: str,
        args: list[cst.Arg],
        positional: list[cst.BaseExpression],
        arg_vals: list[Val],
    ) -> None:
        """A ``jax.numpy`` / ``numpy`` / ``jax.lax`` / ``jax.nn`` function."""
        first = positional[0] if positional else None
        first_val = self.val(first)
        if short in TABLE_SOURCES:
            prec = self._dtype(_keyword(args, "dtype"))
            self._table_prec[id(node)] = prec
            self._set(node, Val(Origin.CONST, prec, table=node))
        elif short in CONSTRUCTORS:
            index = 2 if short.startswith("full") else 1
            dtype = _keyword(args, "dtype") or (positional[index] if len(positional) > index else None)
            if dtype is not None:
                prec = self._dtype(dtype)
            else:
                prec = first_val.prec if short.endswith("_like") else Prec.FP32
            # jnp.full(shape, -1e10) is usually cast to the compute dtype next: only an explicit fp32 is safe.
            if short.startswith("full") and (dtype is None or prec is not Prec.FP32):
                self._mask_constants(positional[1:2])
            self._set(node, Val(Origin.CONST, prec))
        elif short in MEANS or short in VARIANCES:
            self._statistic(node, self._code(node.func), short, first, first_val)
        elif short == "square" or (short in ("power", "integer_pow") and len(positional) > 1):
            if short == "square" or _number(positional[1]) == 2:
                self._set(node, self._squared(first, first_val))
            else:
                operands = [self.val(p) for p in positional[:2]]
                for operand in operands:
                    self._table_use(operand, self._code(node.func))
                self._set(node, self._combine(node, operands, None))
        elif short in ("where", "select"):
            result = self._combine(node, [self.val(p) for p in positional[1:3]], "combined with")
            if result.prec is not Prec.FP32:
                self._mask_constants(positional[1:3])
            self._set(node, result)
        elif short in STACKS and isinstance(first, (cst.List, cst.Tuple)):
            vals = [self.val(e.value) for e in first.elements]
            self._set(node, self._combine(node, vals, "concatenated with"))
        elif short in PROMOTE_ALL:
            operands = [self.val(p) for p in positional if not isinstance(p, cst.SimpleString)]
            self._set(node, self._combine(node, operands, "added to" if short in ADDS else "multiplied with"))
        elif short in KEEP_FIRST and first is not None:
            if short in TABLE_CONSUMERS:
                self._table_use(first_val, self._code(node.func))
            # |E[x]|^2 is E[x]^2 for the variance: abs keeps what the value is a statistic of.
            stat = first_val.stat if short == "abs" else None
            self._set(node, replace(first_val, stat=stat, layer=None))
        else:
            self._set(node, self._opaque(arg_vals, helper=False, through=first))

    # -- parameters --------------------------------------------------------------------------------------

    def _param(self, node: cst.Call, args: list[cst.Arg], positional: list[cst.BaseExpression]) -> Val:
        """``self.param(name, init_fn, *init_args)``: float32 unless a dtype argument says otherwise."""
        name = positional[0] if positional else _keyword(args, "name")
        shape = positional[2] if len(positional) > 2 else None
        if self._logits_param(name, shape):
            return CONST  # the logits' own bias or scale: float32 logits are the convention
        dtype = _keyword(args, "dtype") or (positional[3] if len(positional) > 3 else None)
        return Val(Origin.PARAM, Prec.FP32 if dtype is None else self._dtype(dtype), param_node=node)

    def _nnx_param(self, inner: cst.BaseExpression | None) -> Val:
        """``nnx.Param(init(key, shape, dtype))`` / ``nnx.Param(jnp.ones(shape, dtype))``."""
        if not isinstance(inner, cst.Call):
            return UNKNOWN
        qualified = self.analyzer.resolve_expr(inner.func)
        short = qualified.rsplit(".", 1)[-1] if isinstance(qualified, str) else ""
        index = 2 if short.startswith("full") or short not in CONSTRUCTORS else 1
        positional = [a.value for a in inner.args if a.keyword is None and not a.star]
        dtype = _keyword(inner.args, "dtype") or (positional[index] if len(positional) > index else None)
        return Val(Origin.PARAM, Prec.FP32 if dtype is None else self._dtype(dtype), param_node=inner)

    def _logits_param(self, name: cst.BaseExpression | None, shape: cst.BaseExpression | None) -> bool:
        text = name.evaluated_value if isinstance(name, cst.SimpleString) else ""
        return logits_parameter(text, self._code(shape) if shape is not None else "")

    # -- casts, statistics, tables, masks -------------------------------------------------------------------

    def _cast(self, node: cst.Call, base: Val, target: cst.BaseExpression | None) -> Val:
        prec = self._dtype(target)
        # A cast to an integer type is no choice of float precision (FLX001 follows such a value no further).
        self.facts.fates.record(base.flows, Use.LOST if integer_dtype(target) else Use.CAST)
        # FLX007: an explicit cast to float32 is float32 on purpose, a decision like ``dtype=jnp.float32``.
        island = prec is Prec.FP32 and (base.island or self._explicit_fp32(target))
        if base.origin is Origin.PARAM:
            # Still a float32 parameter after a cast to float32 (the fix casts the cast's result).
            return Val(Origin.PARAM, prec, param_node=node if prec is Prec.FP32 else None, island=island)
        # Cast back to the compute dtype (or half), or to the activations' own dtype (``x.dtype``,
        # ``input_dtype = x.dtype``), or to float32 on purpose: an upcast inside did not reach the stream.
        back = prec in (Prec.COMPUTE, Prec.HALF) or island or self.val(target).act_dtype
        pending = () if back else base.pending
        if base.table is not None:
            self._table_prec[id(node)] = prec
            return Val(base.origin, prec, table=node, pending=pending, island=island)
        return Val(base.origin, prec, pending=pending, island=island)

    def _explicit_fp32(self, target: cst.BaseExpression | None) -> bool:
        """``jnp.float32`` / ``"float32"`` as written (not a ``param_dtype``, float32 only by convention)."""
        if target is None:
            return False
        scope = self.scope
        assert scope is not None
        resolve = self.analyzer.resolve_name
        kind = classify(target, resolve, scope.owner.compute_exprs, scope.owner.param_exprs)
        return kind is DtypeKind.FP32

    def _promote_dtype(self, vals: Sequence[Val], dtype: cst.BaseExpression | None) -> Val:
        """flax's ``promote_dtype(..., dtype=X)``: every array is cast to ``X``; nothing upcast leaves it."""
        prec = self._dtype(dtype)
        if prec not in (Prec.COMPUTE, Prec.HALF) and not self.val(dtype).act_dtype:
            return self._opaque(vals, helper=False)
        for val in vals:
            self.facts.fates.record(val.flows, Use.LOST)
            self.facts.fates.record(val.makes, Use.LOST)
        # Which array of the tuple is which is not followed: their precision stays unknown to other rules.
        return Val(_any_act(vals))

    def _squared(self, inner_node: cst.BaseExpression | None, inner: Val) -> Val:
        if inner.stat is not None and inner.stat.kind == "mean":
            stat: Stat | None = Stat("sqmean", inner.stat.base)
        else:
            stat = Stat("sq", self._code(_strip_abs(inner_node))) if inner_node is not None else None
        return replace(inner, stat=stat, layer=None)

    def _statistic(
        self, node: cst.Call, label: str, name: str, arg: cst.BaseExpression | None, val: Val
    ) -> None:
        """``mean``/``var``/``std``: a norm statistic (FLX103) and a step of E[x^2] - E[x]^2 (FLX104)."""
        if arg is None:
            self._set(node, UNKNOWN)
            return
        squares = val.stat is not None and val.stat.kind == "sq"
        half = val.prec is Prec.HALF or (val.prec is Prec.COMPUTE and self._has_compute)
        if (name in VARIANCES or squares) and half:
            what = STATISTICS.get(name, "mean of squares") if not squares else "mean of squares"
            self.facts.norm_stats.append(HalfCall(node, arg, label, val.prec, self._site(), what))
        stat = None
        if name in MEANS:
            stat = Stat("meansq", val.stat.base) if squares and val.stat else Stat("mean", self._code(arg))
        self._set(
            node,
            Val(val.origin, val.prec, stat=stat, pending=val.pending, flows=val.flows, island=val.island),
        )

    def _naive_variance(self, node: cst.BinaryOperation, left: Val, right: Val) -> None:
        if left.stat is None or right.stat is None or left.stat.base != right.stat.base:
            return
        if left.stat.kind == "meansq" and right.stat.kind == "sqmean":
            var_args = None
            outer, inner = self._mean_call(node.left), self._mean_call(_squared_operand(node.right))
            if outer is not None and inner is not None and outer[1] == inner[1]:
                var_args = (left.stat.base, outer[1])
            self.facts.naive_variances.append(NaiveVariance(node, self._site(), var_args))

    def _mean_call(self, node: cst.BaseExpression | None) -> tuple[cst.BaseExpression, str] | None:
        """``jnp.mean(v, *rest)`` / ``v.mean(*rest)`` -> (v, source of rest), else None."""
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute) or node.lpar:
            return None
        if node.func.attr.value != "mean" or any(a.star for a in node.args):
            return None
        qualified = self.analyzer.resolve_expr(node.func)
        if isinstance(qualified, str):
            if qualified not in ("jax.numpy.mean", "numpy.mean") or not node.args or node.args[0].keyword:
                return None
            value, rest = node.args[0].value, node.args[1:]
        else:
            value, rest = node.func.value, node.args
        code = ", ".join(self._code(a.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for a in rest)
        return value, code

    def _half_call(
        self, events: list[HalfCall], node: cst.Call, arg: cst.BaseExpression | None, name: str
    ) -> None:
        if arg is None:
            return
        prec = self.val(arg).prec
        if prec is Prec.HALF or (prec is Prec.COMPUTE and self._has_compute):
            events.append(HalfCall(node, arg, name, prec, self._site()))

    def _table_use(self, val: Val, consumer: str) -> None:
        """A position table reaching sin/cos/exp/power: reported once, at the table's source."""
        if val.table is None or id(val.table) in self._reported:
            return
        prec = self._table_prec.get(id(val.table), Prec.UNKNOWN)
        if prec is Prec.HALF or (prec is Prec.COMPUTE and self._has_compute):
            self._reported.add(id(val.table))
            self.facts.tables.append(HalfTable(val.table, consumer, prec, self._site()))

    def _mask_operands(self, pairs: Sequence[tuple[cst.BaseExpression, Val]]) -> None:
        """``scores - 1e30 * (1 - mask)``: a huge constant meeting an array that is not float32."""
        for operand, other in pairs:
            if other.origin not in (Origin.ACT, Origin.UNKNOWN) or other.prec is Prec.FP32:
                continue
            # ``ids + 65536`` may well be integer arithmetic: an integer counts next to known floats only.
            if other.prec in (Prec.COMPUTE, Prec.HALF) or not _is_integer(operand):
                self._mask_constants([operand])

    def _mask_constants(self, nodes: Sequence[cst.BaseExpression]) -> None:
        if not self._has_compute:
            return
        for node in nodes:
            value = _number(node)
            if (
                value is None
                or not (math.isinf(value) or abs(value) >= FP16_MAX)
                or id(node) in self._reported
            ):
                continue
            self._reported.add(id(node))
            # A candidate: a finding once its value reaches a softmax in half precision (flaxprec.masks).
            self.masks.candidate(node, MaskConstant(node, value < 0, math.isinf(value), self._site()))

    # -- binding -------------------------------------------------------------------------------------------

    def _assign(self, node: cst.Assign) -> None:
        value = self.val(node.value)
        for target in node.targets:
            self._bind_to(target.target, node.value, value)

    def _annassign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind_to(node.target, node.value, self.val(node.value))

    def _bind_to(self, target: cst.BaseExpression, value_node: cst.BaseExpression, value: Val) -> None:
        if not isinstance(target, (cst.Tuple, cst.List)):
            self._bind(target, value)
            return
        elements = value_node.elements if isinstance(value_node, (cst.Tuple, cst.List)) else None
        for index, element in enumerate(target.elements):
            if elements is not None and len(elements) == len(target.elements):
                self._bind(element.value, self.val(elements[index].value))
            else:
                self.facts.fates.record(value.flows, Use.LOST)
                self._bind(element.value, _unpacked(value))

    def _branching(self) -> bool:
        """Is the current statement inside an if/for/while/try/match of the current function?"""
        for statement in reversed(self.analyzer.statements[:-1]):
            if isinstance(statement, cst.FunctionDef):
                return False
            if isinstance(statement, BRANCHES):
                return True
        return False

    def _arms(self) -> tuple[tuple[int, int], ...]:
        """The branches around the current statement, outermost first: ``(id(if), 0 | 1)`` for the body or
        ``else`` of an ``if``, ``(id, -1)`` for a loop, a ``try``, a ``match`` or a one-line ``if``."""
        statements = self.analyzer.statements
        arms: list[tuple[int, int]] = []
        for index in range(len(statements) - 2, -1, -1):
            statement = statements[index]
            if isinstance(statement, cst.FunctionDef):
                break
            if isinstance(statement, cst.If) and isinstance(statement.body, cst.IndentedBlock):
                child = statements[index + 1]
                arms.append((id(statement), 0 if any(child is s for s in statement.body.body) else 1))
            elif isinstance(statement, BRANCHES):
                arms.append((id(statement), -1))
        return tuple(reversed(arms))

    def _leave_if(self, node: cst.If) -> None:
        scope = self.scope
        assert scope is not None
        for name, old in scope.replaced.pop(id(node), ()):
            scope.env[name] = _join(old, scope.env[name]) if name in scope.env else old

    def _bind(self, target: cst.BaseExpression, value: Val) -> None:
        scope = self.scope
        assert scope is not None
        if isinstance(target, cst.Name):
            name = target.value
            old = scope.env.get(name)
            branching = self._branching()
            arms = self._arms() if branching else ()
            replaced = _replaces(scope.arms.get(name, ()), arms) if old is not None else None
            if replaced is not None:
                # Bound in the body of an ``if`` and again, unconditionally, in its ``else``: there the
                # body's value is gone; both meet again where the ``if`` ends.
                scope.replaced.setdefault(replaced, []).append((name, old))
                scope.env[name] = value
            else:
                # In a branch or a loop the old value may survive: keep what both could be.
                scope.env[name] = _join(old, value) if old is not None and branching else value
            scope.arms[name] = arms
        elif (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == scope.self_name
        ):
            self._escape([value])
            self.facts.fates.record(value.flows, Use.ESCAPED)
            old = scope.cls.attrs.get(target.attr.value)
            if old is not None and (old.makes or value.makes) and self._branching():
                value = replace(value, makes=join(old.makes, value.makes))  # ``if: self.x = A  else: ...``
            scope.cls.attrs[target.attr.value] = value
        else:
            self._escape([value])  # stored somewhere we do not follow
            self.facts.fates.record(value.flows, Use.ESCAPED)


# What the collector does when the Analyzer leaves a node of each type (while ``scope`` is set: inside a
# method of a Module class). The Analyzer looks its types up here once, when it builds its walk's hooks.
NUMERICS_HANDLERS: dict[type[cst.CSTNode], Callable[[NumericsCollector, Any], None]] = {
    cst.Name: NumericsCollector._name,
    cst.Attribute: NumericsCollector._attribute,
    cst.Subscript: NumericsCollector._subscript,
    cst.Integer: NumericsCollector._literal,
    cst.Float: NumericsCollector._literal,
    cst.UnaryOperation: NumericsCollector._unary,
    cst.BinaryOperation: NumericsCollector._binary,
    cst.Call: NumericsCollector._call,
    cst.IfExp: NumericsCollector._ifexp,
    cst.Assign: NumericsCollector._assign,
    cst.AnnAssign: NumericsCollector._annassign,
    cst.AugAssign: NumericsCollector._augassign,
    cst.Comparison: NumericsCollector._comparison,
    cst.Tuple: NumericsCollector._elements,
    cst.List: NumericsCollector._elements,
    cst.Return: NumericsCollector._escape_value,
    cst.Yield: NumericsCollector._escape_value,
    cst.If: NumericsCollector._leave_if,
}


def _following(handler: Callable[[NumericsCollector, Any], None]) -> Callable[[NumericsCollector, Any], None]:
    """The handler, then FLX106's follower (while a class holds mask constants)."""

    def run(collector: NumericsCollector, node: cst.CSTNode) -> None:
        handler(collector, node)
        if collector.masks.live:
            collector.masks.follow(node)

    return run


for _type in (
    cst.Name,
    cst.Attribute,
    cst.Subscript,
    cst.UnaryOperation,
    cst.BinaryOperation,
    cst.Call,
    cst.IfExp,
    cst.Assign,
    cst.AnnAssign,
    cst.AugAssign,
    cst.Return,
):
    NUMERICS_HANDLERS[_type] = _following(NUMERICS_HANDLERS[_type])

BRANCHES = (cst.If, cst.For, cst.While, cst.Try, cst.TryStar, cst.Match)


def _join(a: Val, b: Val) -> Val:
    """What a name holds after a branch that may or may not have rebound it."""
    if a == b:
        return a
    if Origin.ACT in (a.origin, b.origin):
        origin = Origin.ACT
    else:
        origin = a.origin if a.origin is b.origin else Origin.UNKNOWN
    return Val(
        origin,
        a.prec if a.prec is b.prec else Prec.UNKNOWN,
        param_node=b.param_node if origin is Origin.PARAM else None,
        table=b.table or a.table,
        stat=a.stat if a.stat == b.stat else None,
        layer=a.layer if a.layer is b.layer else None,
        casts_inputs=a.casts_inputs and b.casts_inputs,
        pending=a.pending + tuple(u for u in b.pending if u not in a.pending),
        flows=join(a.flows, b.flows),
        makes=join(a.makes, b.makes),
        island=a.island and b.island,
        act_dtype=a.act_dtype and b.act_dtype,
    )


def _replaces(old: tuple[tuple[int, int], ...], new: tuple[tuple[int, int], ...]) -> int | None:
    """The ``if`` (its id) in whose ``else`` arm ``new`` binds a name directly, after ``old`` bound it in
    that ``if``'s body; None when the old value may still be there."""
    if not new or new[-1][1] != 1:
        return None
    outer, branch = new[:-1], new[-1][0]
    depth = len(outer)
    if old[:depth] != outer or len(old) <= depth or old[depth] != (branch, 0):
        return None
    return branch


def _deliberate(vals: Sequence[Val], acts: Sequence[Val]) -> bool:
    """Is the result of computing with ``vals`` float32 on purpose (FLX007's island)?

    A parameter or a fresh array made float32 on purpose decides it, like ``dtype=jnp.float32``; activations
    cast to float32 do when every other activation is float32 already. A float32 statistic meeting the
    activations (T5's ``x / sqrt(var_f32)``) does not: the activations become float32 as a side effect.
    """
    if not any(v.island for v in vals):
        return False
    if any(v.island and v.origin is not Origin.ACT for v in vals):
        return True
    return all(v.island or v.pending for v in acts)


def _dtype_of(val: Val) -> Val:
    """``x.dtype``: the activations' own dtype when no upcast made them float32 (a cast to it casts back)."""
    own = val.origin is Origin.ACT and not val.pending and not val.island and val.prec is not Prec.FP32
    return replace(CONST, act_dtype=True) if own else CONST


def _unpacked(value: Val) -> Val:
    """An element of ``value`` unpacked (``a, b = jnp.split(v, 2)``): what FLX007 follows of it."""
    origin = value.origin if value.origin is Origin.ACT else Origin.UNKNOWN
    prec = value.prec if origin is Origin.ACT else Prec.UNKNOWN
    return Val(origin, prec, pending=value.pending, unupcast=value.unupcast, island=value.island)


def _at(val: Val, node: cst.BaseExpression) -> Val:
    """``val`` as read at ``node``: a parameter is cast where it is read, so the fix targets this node."""
    return replace(val, param_node=node) if val.origin is Origin.PARAM else val


def _is_fp32_param(val: Val) -> bool:
    return val.origin is Origin.PARAM and val.prec is Prec.FP32 and val.param_node is not None


def _settled(val: Val) -> Prec:
    """The precision of ``val`` once the upcasts it carries are fixed."""
    return val.unupcast if val.pending and val.unupcast is not None else val.prec


def _any_act(vals: Sequence[Val]) -> Origin:
    return Origin.ACT if any(v.origin is Origin.ACT for v in vals) else Origin.UNKNOWN


def _first(args: Sequence[cst.Arg]) -> cst.BaseExpression | None:
    """The first positional argument."""
    return args[0].value if args and args[0].keyword is None else None


def _keyword(args: Sequence[cst.Arg], name: str) -> cst.BaseExpression | None:
    return next((a.value for a in args if a.keyword is not None and a.keyword.value == name), None)


def _array_function(qualified: str) -> bool:
    module = next((m for m in ARRAY_MODULES if qualified.startswith(m)), None)
    return module is not None and "." not in qualified[len(module) :]


def _squared_operand(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """``m ** 2`` / ``jnp.square(m)`` / ``m * m`` -> ``m``."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Power, cst.Multiply)):
        return node.left
    if isinstance(node, cst.Call) and node.args and (dotted(node.func) or "").endswith("square"):
        return node.args[0].value
    return None


def _strip_abs(node: cst.BaseExpression) -> cst.BaseExpression:
    """``abs(x)`` / ``jnp.abs(x)`` -> ``x`` (squaring a magnitude is squaring the value)."""
    if isinstance(node, cst.Call) and node.args and (dotted(node.func) or "").split(".")[-1] == "abs":
        return node.args[0].value
    return _strip_parens(node)
