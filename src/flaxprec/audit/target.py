"""Load ``TARGET`` (``path/to/file.py:factory`` or ``package.module:factory``) and call the factory.

The factory returns ``(module, args)``, ``(module, args, kwargs)`` or ``(module, args, kwargs, loss_fn)``;
``args``/``kwargs`` hold example inputs (arrays or ``jax.ShapeDtypeStruct``). Every way this can go wrong
becomes an :class:`AuditError` with a message that says which step failed, because the user's next step
depends on it (fix a path, an import, the factory, or what it returns).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from flaxprec.audit.errors import AuditError

USAGE = "TARGET must be 'path/to/file.py:factory' or 'package.module:factory'"


@dataclass
class Target:
    """What the factory returned, validated."""

    label: str
    module: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    loss_fn: Callable[[Any], Any] | None = None


def split_target(target: str) -> tuple[str, str]:
    """Split on the last colon, so Windows drive letters and paths with colons keep working."""
    source, sep, attr = target.rpartition(":")
    if not sep or not source or not attr:
        raise AuditError(f"{USAGE}, got {target!r}")
    return source, attr


def _is_file_target(source: str) -> bool:
    return source.endswith(".py") or "/" in source or os.sep in source


def _import_file(given: str) -> ModuleType:
    if not os.path.isfile(given):
        raise AuditError(f"cannot import {given}: no such file")
    path = os.path.abspath(given)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = f"_flaxprec_audit_target_{stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AuditError(f"cannot import {given}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    # Registered before execution: dataclasses (and so every linen Module) look their module up by name.
    sys.modules[name] = module
    # Like `python file.py`: the file's directory comes first, so it can import its neighbours.
    if os.path.dirname(path) not in sys.path:
        sys.path.insert(0, os.path.dirname(path))
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise AuditError(f"cannot import {given}: {type(exc).__name__}: {exc}") from exc
    return module


def _import_module(source: str) -> ModuleType:
    # Like `python -m`: the current directory is importable.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(source)
    except (Exception, SystemExit) as exc:
        raise AuditError(f"cannot import {source}: {type(exc).__name__}: {exc}") from exc


def load_factory(target: str) -> Callable[[], Any]:
    """Import the module named by ``target`` and return the factory (a dotted attribute path is allowed)."""
    source, attr = split_target(target)
    module = _import_file(source) if _is_file_target(source) else _import_module(source)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise AuditError(f"{source} has no attribute {attr!r}") from exc
    if not callable(obj):
        raise AuditError(f"{target} is not callable (got {type(obj).__name__})")
    return obj


def _validate(label: str, result: Any, factory: Callable[[], Any]) -> Target:
    shape = "(module, args), (module, args, kwargs) or (module, args, kwargs, loss_fn)"
    if not isinstance(result, (tuple, list)) or not 2 <= len(result) <= 4:
        got = f"a {len(result)}-tuple" if isinstance(result, (tuple, list)) else type(result).__name__
        raise AuditError(f"{label}() must return {shape}; got {got}")
    module, args, *rest = result
    import flax.linen as nn  # lazily: only the audit imports flax

    if not isinstance(module, nn.Module):
        raise AuditError(f"{label}() must return a flax.linen Module first; got {type(module).__name__}")
    if not isinstance(args, (tuple, list)):
        raise AuditError(f"{label}() must return the positional inputs as a tuple; got {type(args).__name__}")
    kwargs = rest[0] if rest else {}
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping):
        raise AuditError(f"{label}() must return the keyword inputs as a dict; got {type(kwargs).__name__}")
    loss_fn = rest[1] if len(rest) > 1 else getattr(factory, "loss_fn", None)
    if loss_fn is not None and not callable(loss_fn):
        raise AuditError(f"{label}(): loss_fn must be callable; got {type(loss_fn).__name__}")
    return Target(label, module, tuple(args), dict(kwargs), loss_fn)


def load_target(target: str) -> Target:
    """Import, call and validate; the caller installs the construction-site hooks around this."""
    factory = load_factory(target)
    try:
        result = factory()
    except Exception as exc:
        raise AuditError(f"{target}() raised {type(exc).__name__}: {exc}") from exc
    return _validate(target, result, factory)
