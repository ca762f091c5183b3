"""Where the float32 output of a layer built without ``dtype`` goes: its fate, for FLX001 (issue #14).

Whether a layer without ``dtype`` in a bfloat16 model is a leak depends on what meets its float32 output:

* a normalisation layer computes its statistics in float32 whatever ``dtype`` says (``dtype`` only casts
  its output), so it leaks only where that output escapes: returned, stored, or computed with other values
  (a residual sum). Fed to the next layer built with a dtype, it is cast back and never leaves;
* any other layer computes in float32 itself; only its author's explicit cast of the output
  (``.astype(...)``, ``jnp.asarray(v, dtype)``), before the value meets anything else, makes that float32
  deliberate.

The values are followed by the numerics evaluation (:mod:`flaxprec.numerics`), which already gives every
expression of a Module method an abstract value in one bottom-up pass: a value carries the :class:`Flow` of
each such output it still is, a layer instance the flows its calls return, and the evaluation records a
:class:`Use` where a flow ends. Only layers that FLX001 could report start a flow, so files without them
pay nothing. A flow that only some paths carry (after an ``if``, through a call we do not see into) is
*unsure*: where it ends proves nothing, so its escapes count as :attr:`Use.LOST`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst

    from flaxprec.analysis import Construction


class Use(enum.Enum):
    CAST = "cast"  # explicitly cast by the author
    LAYER = "layer"  # the input of a layer built with a dtype: it casts its inputs to it
    COMBINED = "combined"  # computed with other arrays: ``x + residual``, ``concatenate``, ``einsum``
    ESCAPED = "escaped"  # returned, yielded, stored on the module, fed to a layer without dtype (it promotes)
    LOST = "lost"  # followed no further: an unknown call, or an escape of an unsure flow


@dataclass(frozen=True)
class Flow:
    """The output of the layer construction (or embedding lookup) whose call has ``id`` ``key``."""

    key: int
    sure: bool = True


Flows = tuple[Flow, ...]


def unsure(flows: Flows) -> Flows:
    return tuple(f if not f.sure else Flow(f.key, False) for f in flows)


def join(a: Flows, b: Flows) -> Flows:
    """The flows of a value that is ``a`` on some paths and ``b`` on the others."""
    if a == b:
        return a
    sure = {f.key for f in a if f.sure} & {f.key for f in b if f.sure}
    keys = dict.fromkeys(f.key for f in (*a, *b))
    return tuple(Flow(key, key in sure) for key in keys)


def started_by(construction: Construction) -> Flows:
    """The flows a layer built without ``dtype`` (nor ``*args``/``**kwargs`` that may carry it) starts: one
    for its own call and one for each ``functools.partial`` it is made from (FLX001 reports either)."""
    spec = construction.spec
    owner = construction.owner
    if not spec.has_dtype or construction.opaque or owner is None or owner.compute_dtype is None:
        return ()
    flows: list[Flow] = []
    current: Construction | None = construction
    while current is not None:
        if current.passes("dtype") or current.opaque:
            return ()
        flows.append(Flow(id(current.call)))
        current = current.partial_origin
    return tuple(flows)


@dataclass
class Fates:
    """How each flow ended, by the ``id`` of the call that started it."""

    uses: dict[int, set[Use]] = field(default_factory=dict)

    def record(self, flows: Iterable[Flow], use: Use) -> None:
        for flow in flows:
            ended = use if flow.sure or use in (Use.CAST, Use.LAYER) else Use.LOST
            self.uses.setdefault(flow.key, set()).add(ended)

    def of(self, call: cst.Call) -> frozenset[Use]:
        return frozenset(self.uses.get(id(call), ()))


def escapes(fate: frozenset[Use]) -> bool:
    """A normalisation layer's float32 output provably leaves: returned, stored, or combined."""
    return Use.ESCAPED in fate or Use.COMBINED in fate


def cast_on_purpose(fate: frozenset[Use]) -> bool:
    """Every use seen of the output is the author's explicit cast."""
    return fate == {Use.CAST}
