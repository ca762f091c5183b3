"""Run the model abstractly and intercept every module method call.

Variables come from ``jax.eval_shape(module.init, ...)`` and the forward pass is ``module.apply`` under
``jax.eval_shape`` too: shapes and dtypes propagate exactly as in a real run, but nothing is allocated
and no FLOPs are spent, so a model of any size audits in seconds on a CPU.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from flaxprec.audit.errors import AuditError
from flaxprec.audit.records import CallRecord, ModuleInfo, ModulePath, Trace
from flaxprec.audit.sites import SiteRecorder
from flaxprec.audit.target import Target


def dtype_name(value: Any) -> str | None:
    """One spelling for ``jnp.bfloat16``, ``np.dtype("bfloat16")`` and ``"bfloat16"``: the dtype's name."""
    if value is None:
        return None
    import jax.numpy as jnp

    try:
        return jnp.dtype(value).name
    except TypeError:
        return str(value)


def float_dtypes(tree: Any) -> tuple[str, ...]:
    """Names of the floating dtypes among the array leaves of ``tree``, in first-seen order."""
    import jax
    import jax.numpy as jnp

    names: dict[str, None] = {}
    for leaf in jax.tree_util.tree_leaves(tree):
        dtype = getattr(leaf, "dtype", None)
        if dtype is not None and hasattr(leaf, "shape") and jnp.issubdtype(dtype, jnp.floating):
            names[jnp.dtype(dtype).name] = None
    return tuple(names)


def _is_array(leaf: Any) -> bool:
    return hasattr(leaf, "shape") and hasattr(leaf, "dtype") and not isinstance(leaf, (bool, int, float))


def split_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[Any], Callable[[Any], Any]]:
    """Separate array leaves (traced) from Python values (closed over).

    ``jax.eval_shape`` would turn a ``deterministic=True`` flag into a tracer and break the model's
    Python control flow, so only arrays and ``ShapeDtypeStruct`` leaves are passed as arguments.
    """
    import jax

    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    dynamic = [i for i, leaf in enumerate(leaves) if _is_array(leaf)]

    def rebuild(values: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        full = list(leaves)
        for i, value in zip(dynamic, values, strict=True):
            full[i] = value
        return jax.tree_util.tree_unflatten(treedef, full)

    return [leaves[i] for i in dynamic], rebuild


def _field_names(module: Any) -> set[str]:
    return {f.name for f in dataclasses.fields(module)} if dataclasses.is_dataclass(module) else set()


def _map_modules(value: Any, fn: Callable[[Any], Any]) -> Any:
    import flax.linen as nn

    if isinstance(value, nn.Module):
        return fn(value)
    if isinstance(value, (list, tuple)) and any(isinstance(v, nn.Module) for v in value):
        return type(value)(_map_modules(v, fn) for v in value)
    if isinstance(value, dict) and any(isinstance(v, nn.Module) for v in value.values()):
        return {k: _map_modules(v, fn) for k, v in value.items()}
    return value


def with_dtype(module: Any, dtype: Any) -> Any:
    """A clone whose ``dtype`` fields are ``dtype``: the root's and those of submodules passed as fields.

    Submodules built in ``setup``/``__call__`` get the dtype only if the model forwards it, which is the
    point: the audit then measures the model as it would really run with that dtype.
    """
    updates: dict[str, Any] = {}
    for f in dataclasses.fields(module):
        if not f.init or f.name in ("parent", "name"):
            continue
        value = getattr(module, f.name)
        if f.name == "dtype":
            updates["dtype"] = dtype
        else:
            mapped = _map_modules(value, lambda m: with_dtype(m, dtype))
            if mapped is not value:
                updates[f.name] = mapped
    return module.clone(**updates) if updates else module


def resolve_compute_dtype(module: Any, override: str | None) -> tuple[Any, str | None, str]:
    """``(module, compute dtype name, where it came from)``; ``--dtype`` is also set on the root's field."""
    cls = type(module).__name__
    if override is not None:
        if "dtype" in _field_names(module):
            module = with_dtype(module, dtype_name(override))
        return module, dtype_name(override), "--dtype"
    name = dtype_name(getattr(module, "dtype", None))
    if name is None:
        return module, None, f"{cls} has no dtype (pass --dtype)"
    return module, name, f"{cls}.dtype"


def _key_name(key: Any) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def param_leaves(params: Any) -> list[tuple[ModulePath, Any]]:
    """``(path, leaf)`` for every parameter, boxed metadata (``nn.Partitioned``) unwrapped."""
    import jax
    from flax.core import meta

    flat, _ = jax.tree_util.tree_flatten_with_path(meta.unbox(params))
    return [(tuple(_key_name(k) for k in path), leaf) for path, leaf in flat]


def _class_source(cls: type) -> tuple[str, int, int] | None:
    try:
        lines, start = inspect.getsourcelines(cls)
        filename = inspect.getsourcefile(cls)
    except (OSError, TypeError):
        return None
    return (filename, start, start + len(lines) - 1) if filename else None


class _Interceptor:
    """The ``nn.intercept_methods`` callback: builds the call tree and the per-path module table."""

    def __init__(self, recorder: SiteRecorder) -> None:
        self.recorder = recorder
        self.modules: dict[ModulePath, ModuleInfo] = {}
        self.calls: list[CallRecord] = []
        self.recording = False
        self._stack: list[CallRecord] = []
        self._sources: dict[type, tuple[str, int, int] | None] = {}

    def _info(self, module: Any) -> ModulePath:
        path: ModulePath = tuple(module.path)
        if path not in self.modules:
            cls = type(module)
            site, internal = self.recorder.site_of(module)
            has_dtype = "dtype" in _field_names(module)
            is_flax = cls.__module__.split(".")[0] == "flax"
            if not is_flax and cls not in self._sources:
                self._sources[cls] = _class_source(cls)
            self.modules[path] = ModuleInfo(
                path=path,
                cls=cls.__name__,
                cls_module=cls.__module__,
                site=site,
                internal=internal,
                has_dtype=has_dtype,
                dtype=dtype_name(module.dtype) if has_dtype else None,
                class_source=None if is_flax else self._sources[cls],
            )
        return path

    @staticmethod
    def _own_params(module: Any) -> dict[str, str]:
        from flax.core import meta

        try:
            params = module.variables.get("params", {})
        except Exception:  # a module without a scope of its own (shared, transformed): no params to show
            return {}
        own = {}
        for name, value in params.items():
            if not isinstance(value, Mapping):
                own[name] = dtype_name(meta.unbox(value).dtype) or "?"
        return own

    def __call__(self, next_fun: Callable[..., Any], args: Any, kwargs: Any, context: Any) -> Any:
        path = self._info(context.module)
        if not self.recording or context.method_name == "setup":
            return next_fun(*args, **kwargs)
        call = CallRecord(path, context.method_name, inputs=float_dtypes((args, kwargs)))
        if self._stack:
            self._stack[-1].children.append(call)
        # Appended when the call starts, so reports follow the order in which the model runs.
        self.calls.append(call)
        self._stack.append(call)
        try:
            out = next_fun(*args, **kwargs)
        finally:
            self._stack.pop()
        call.outputs = float_dtypes(out)
        call.params = self._own_params(context.module)
        return out


def rngs_for(names: tuple[str, ...]) -> dict[str, Any]:
    import jax

    return {name: jax.random.key(i) for i, name in enumerate(names)}


def trace_model(
    target: Target, module: Any, compute: str | None, source: str, recorder: SiteRecorder
) -> Trace:
    """Init and apply ``module`` on the target's inputs abstractly and return what every call did."""
    import flax.linen as nn
    import jax

    dynamic, rebuild = split_inputs(target.args, target.kwargs)
    interceptor = _Interceptor(recorder)

    def init(values: Any) -> Any:
        args, kwargs = rebuild(values)
        return module.init(rngs_for(("params", "dropout")), *args, **kwargs)

    with nn.intercept_methods(interceptor):
        try:
            variables = jax.eval_shape(init, dynamic)
        except Exception as exc:
            raise AuditError(f"{target.label}: module.init failed: {type(exc).__name__}: {exc}") from exc
        mutable = [name for name in variables if name != "params"]

        def apply(variables: Any, values: Any) -> Any:
            args, kwargs = rebuild(values)
            return module.apply(
                variables, *args, rngs=rngs_for(("dropout",)), mutable=mutable or False, **kwargs
            )

        interceptor.recording = True
        try:
            jax.eval_shape(apply, variables, dynamic)
        except Exception as exc:
            raise AuditError(f"{target.label}: module.apply failed: {type(exc).__name__}: {exc}") from exc

    params = [
        (path, dtype_name(leaf.dtype) or "?") for path, leaf in param_leaves(variables.get("params", {}))
    ]
    return Trace(
        root_cls=type(module).__name__,
        compute_dtype=compute,
        compute_dtype_source=source,
        modules=interceptor.modules,
        calls=interceptor.calls,
        params=params,
    )
