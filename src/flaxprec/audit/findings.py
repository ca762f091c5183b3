"""Turn a :class:`Trace` into findings: ``param-dtype`` and ``compute-leak`` (jax-free, pure).

A leak is reported where it starts, not everywhere it flows: a module whose float32 output only passes
on a float32 input or a float32 child output is not reported, because fixing the origin fixes it. Each
leak gets the likely cause:

- ``missing-dtype``: the module has a ``dtype`` field left at None, so it computes in
  ``jnp.result_type(inputs, float32 params)`` (design section 2);
- ``param-upcast``: it has a half ``dtype`` (or none at all) but owns a float32 param that promotes its
  output (the custom-RMSNorm pattern);
- ``float32-compute``: neither, so the module itself computes in float32 (an explicit cast, a float32
  constant or table).

A layer whose ``dtype`` is explicitly float32 is the author's choice (t5x keeps the logits in float32)
and is not reported. Leaks of modules that flax builds inside a leaking flax layer, or that inherit a
None ``dtype`` from a leaking parent, are folded into that parent's finding (``contains``): the parent's
construction line is the one to fix.
"""

from __future__ import annotations

from flaxprec.audit.records import (
    HALF_DTYPES,
    PARAM_DTYPE,
    WIDE_DTYPES,
    CallRecord,
    Finding,
    ModuleInfo,
    ModulePath,
    Trace,
    join_path,
)

CAUSES = {
    "missing-dtype": "dtype is None: computes in the dtype of its float32 params",
    "param-upcast": "a float32 param promotes its output",
    "float32-compute": "computes in float32 itself (a cast or a float32 constant)",
}


def owner_of(path: ModulePath, modules: dict[ModulePath, ModuleInfo]) -> ModuleInfo | None:
    for end in range(len(path), -1, -1):
        if path[:end] in modules:
            return modules[path[:end]]
    return None


def param_findings(trace: Trace) -> list[Finding]:
    """Every parameter leaf not stored in float32, attributed to the module that owns it."""
    findings = []
    for path, dtype in trace.params:
        if dtype == PARAM_DTYPE:
            continue
        owner = owner_of(path[:-1], trace.modules)
        findings.append(
            Finding(
                kind="param-dtype",
                path=join_path(path),
                cls=owner.cls if owner else "?",
                dtype=dtype,
                expected=PARAM_DTYPE,
                site=owner.site if owner else None,
                module_path=owner.path if owner else path[:-1],
            )
        )
    return findings


def leak_cause(call: CallRecord, info: ModuleInfo) -> str | None:
    """The cause of a float32 output that starts in this call, or None (no leak, or one passed on)."""
    if not any(d in WIDE_DTYPES for d in call.outputs):
        return None
    if info.has_dtype:
        if info.dtype is None:
            return "missing-dtype"
        if info.dtype in WIDE_DTYPES:
            return None
    if any(d in WIDE_DTYPES for child in call.children for d in child.outputs):
        return None
    if any(d in WIDE_DTYPES for d in call.inputs):
        return None
    if any(d in WIDE_DTYPES for d in call.params.values()):
        return "param-upcast"
    return "float32-compute"


def _ancestors(path: ModulePath) -> list[ModulePath]:
    return [path[:end] for end in range(len(path) - 1, -1, -1)]


def _fold_into(
    info: ModuleInfo, cause: str, modules: dict[ModulePath, ModuleInfo], owner: dict[ModulePath, ModulePath]
) -> ModulePath | None:
    """The reported ancestor this leak belongs to, if it is only a consequence of that ancestor's leak."""
    for ancestor in _ancestors(info.path):
        parent = modules.get(ancestor)
        if parent is None:
            continue
        if info.internal and not parent.internal:
            return owner.get(ancestor)
        if not info.internal and cause == "missing-dtype" and parent.has_dtype:
            return owner.get(ancestor) if parent.dtype is None else None
    return None


def leak_findings(trace: Trace) -> list[Finding]:
    """Every module whose float output becomes float32 while the model computes in half precision."""
    if trace.compute_dtype not in HALF_DTYPES:
        return []
    first: dict[ModulePath, tuple[CallRecord, str]] = {}
    for call in trace.calls:
        info = trace.modules.get(call.path)
        cause = leak_cause(call, info) if info is not None else None
        if cause is not None and call.path not in first:
            first[call.path] = (call, cause)
    owner: dict[ModulePath, ModulePath] = {}
    reported: dict[ModulePath, Finding] = {}
    for path in sorted(first, key=len):
        call, cause = first[path]
        info = trace.modules[path]
        target = _fold_into(info, cause, trace.modules, owner)
        if target is not None:
            owner[path] = target
            reported[target].extra["contains"].append(join_path(path))
            continue
        owner[path] = path
        reported[path] = _leak(call, info, cause, trace.compute_dtype)
    return [reported[path] for path in first if path in reported]


def _leak(call: CallRecord, info: ModuleInfo, cause: str, compute: str) -> Finding:
    extra: dict[str, object] = {"method": call.method, "inputs": list(call.inputs)}
    if cause == "param-upcast":
        extra["params"] = {k: v for k, v in call.params.items() if v in WIDE_DTYPES}
    extra["contains"] = []
    return Finding(
        kind="compute-leak",
        path=join_path(info.path),
        cls=info.cls,
        dtype=next(d for d in call.outputs if d in WIDE_DTYPES),
        expected=compute,
        site=info.site,
        cause=cause,
        extra=extra,
        module_path=info.path,
    )


def analyse(trace: Trace) -> list[Finding]:
    """Compute leaks in execution order, then parameter dtypes in tree order."""
    return leak_findings(trace) + param_findings(trace)
