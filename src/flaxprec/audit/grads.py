"""Gradient parity: a real forward and backward pass on CPU, in the compute dtype and in float32.

The loss is the sum of every floating output leaf cast to float32, unless the factory supplies its own:
a 4th element of its return value, ``(module, args, kwargs, loss_fn)``, or a ``loss_fn`` attribute on the
factory function; ``loss_fn(outputs)`` receives what ``module.apply`` returns and gives a scalar.
The float32 twin is ``module.clone(dtype=float32)`` (recursively for submodules passed as fields), so
both runs share the same float32 parameters and inputs. ``ShapeDtypeStruct`` inputs are made concrete:
floats from a normal distribution, integers as ones, booleans as True (pass real arrays for anything
else). A gradient that vanishes in one run only is reported once, as ``zero-grad``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flaxprec.audit.errors import AuditError
from flaxprec.audit.findings import owner_of
from flaxprec.audit.records import Finding, ModuleInfo, ModulePath, join_path
from flaxprec.audit.target import Target
from flaxprec.audit.tracer import param_leaves, rngs_for, split_inputs, with_dtype

NOISE = 1e-5


@dataclass
class GradRow:
    """Gradient norms of one parameter leaf in both runs."""

    path: ModulePath
    norm: float
    norm_float32: float

    @property
    def rel_diff(self) -> float:
        if self.norm_float32 == 0.0:
            return 0.0 if self.norm == 0.0 else math.inf
        return abs(self.norm - self.norm_float32) / self.norm_float32

    @property
    def zero(self) -> bool:
        return self.norm == 0.0 or self.norm_float32 == 0.0


def default_loss(outputs: Any) -> Any:
    """Sum of every floating output leaf, in float32 so the loss itself adds no rounding."""
    import jax
    import jax.numpy as jnp

    leaves = [
        x for x in jax.tree_util.tree_leaves(outputs) if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    if not leaves:
        raise AuditError("--grads: the model has no floating output to differentiate (give a loss_fn)")
    return sum(jnp.sum(x.astype(jnp.float32)) for x in leaves)


def _concrete(leaf: Any, key: Any) -> Any:
    import jax
    import jax.numpy as jnp

    if not isinstance(leaf, jax.ShapeDtypeStruct):
        return jnp.asarray(leaf)
    if jnp.issubdtype(leaf.dtype, jnp.floating):
        return jax.random.normal(key, leaf.shape, leaf.dtype)
    return jnp.ones(leaf.shape, leaf.dtype)


def _norm(grad: Any) -> float:
    import numpy as np

    return float(np.sqrt(np.sum(np.square(np.asarray(grad, dtype=np.float64)))))


def gradient_rows(target: Target, module: Any, loss_fn: Callable[[Any], Any] | None) -> list[GradRow]:
    """Per-parameter gradient norms of ``module`` and of its float32 twin, on the CPU."""
    import jax
    import jax.numpy as jnp

    if "dtype" not in getattr(module, "__dataclass_fields__", {}):
        raise AuditError(f"--grads: {type(module).__name__} has no dtype field to set to float32")
    twin = with_dtype(module, jnp.float32)
    loss_fn = loss_fn or default_loss
    dynamic, rebuild = split_inputs(target.args, target.kwargs)
    with jax.default_device(jax.devices("cpu")[0]):
        keys = jax.random.split(jax.random.key(0), max(len(dynamic), 1))
        values = [_concrete(leaf, key) for leaf, key in zip(dynamic, keys, strict=False)]

        def init(values: Any) -> Any:
            args, kwargs = rebuild(values)
            return module.init(rngs_for(("params", "dropout")), *args, **kwargs)

        variables = jax.jit(init)(values)
        rest = {name: value for name, value in variables.items() if name != "params"}
        mutable = list(rest) or False

        def grad_of(mod: Any) -> Any:
            def loss(params: Any, values: Any) -> Any:
                args, kwargs = rebuild(values)
                out = mod.apply(
                    {**rest, "params": params}, *args, rngs=rngs_for(("dropout",)), mutable=mutable, **kwargs
                )
                return loss_fn(out[0] if mutable else out)

            return jax.jit(jax.grad(loss))(variables["params"], values)

        try:
            grads = param_leaves(grad_of(module))
            grads32 = dict(param_leaves(grad_of(twin)))
        except AuditError:
            raise
        except Exception as exc:
            raise AuditError(f"--grads: the backward pass failed: {type(exc).__name__}: {exc}") from exc
    return [GradRow(path, _norm(g), _norm(grads32[path])) for path, g in grads]


def grad_findings(
    rows: list[GradRow], modules: dict[ModulePath, ModuleInfo], compute: str, rtol: float
) -> tuple[list[Finding], list[Finding]]:
    """``(findings, norms)``: zero or mismatching gradients, and one ``grad-norm`` record per parameter.

    A mismatch must also exceed a noise floor of ``NOISE`` times the largest float32 gradient norm: a
    bias that feeds a norm layer has an analytically zero gradient, and the rounding noise left in its
    place differs between runs by any relative amount without meaning anything.
    """
    floor = NOISE * max((row.norm_float32 for row in rows), default=0.0)
    findings, norms = [], []
    for row in rows:
        owner = owner_of(row.path[:-1], modules)
        common = {
            "path": join_path(row.path),
            "cls": owner.cls if owner else "?",
            "site": owner.site if owner else None,
            "module_path": owner.path if owner else row.path[:-1],
        }
        rel = None if math.isinf(row.rel_diff) else row.rel_diff  # JSON has no Infinity
        numbers = {"norm": row.norm, "norm_float32": row.norm_float32, "rel_diff": rel}
        norms.append(Finding(kind="grad-norm", dtype=compute, expected="float32", extra=numbers, **common))
        if row.zero:
            runs = [name for name, n in ((compute, row.norm), ("float32", row.norm_float32)) if n == 0.0]
            dtype = ",".join(runs)
            findings.append(
                Finding(kind="zero-grad", dtype=dtype, expected="nonzero", extra=numbers, **common)
            )
        elif abs(row.norm - row.norm_float32) > rtol * row.norm_float32 + floor:
            extra = {**numbers, "rtol": rtol}
            findings.append(
                Finding(kind="grad-mismatch", dtype=compute, expected="float32", extra=extra, **common)
            )
    return findings, norms
