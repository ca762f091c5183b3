"""Plain data that the jax part of the audit hands to the jax-free part (analysis, cross-check, rendering).

Dtypes are carried as their names (``"bfloat16"``), module paths as tuples of names: nothing here holds a
jax object, so the analysis can be tested and rendered without tracing anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

HALF_DTYPES = frozenset({"bfloat16", "float16"})
WIDE_DTYPES = frozenset({"float32", "float64"})
PARAM_DTYPE = "float32"

ModulePath = tuple[str, ...]


def display_path(filename: str | os.PathLike[str], cwd: str | None = None) -> str:
    """Relative to ``cwd`` when the file lies below it, so reports stay short; always with slashes."""
    base = os.path.abspath(cwd or os.getcwd())
    name = os.path.abspath(filename)
    if name.startswith(base + os.sep):
        name = os.path.relpath(name, base)
    return name.replace(os.sep, "/")


def join_path(path: tuple[str, ...]) -> str:
    """The slash-separated form used in every report; the root module is the empty string."""
    return "/".join(path)


@dataclass(frozen=True)
class Site:
    """A source line: where a module object was constructed, or where a class is defined."""

    filename: str
    line: int

    def render(self, cwd: str | None = None) -> str:
        """``file.py:LINE``."""
        return f"{display_path(self.filename, cwd)}:{self.line}"


@dataclass
class ModuleInfo:
    """What the audit knows about one module path (the first object seen at that path)."""

    path: ModulePath
    cls: str
    cls_module: str
    site: Site | None
    internal: bool = False
    has_dtype: bool = False
    dtype: str | None = None
    class_source: tuple[str, int, int] | None = None


@dataclass
class CallRecord:
    """One intercepted method call of a module under ``apply``: float dtypes in and out, own params."""

    path: ModulePath
    method: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    children: list[CallRecord] = field(default_factory=list)


@dataclass
class Trace:
    """Everything one abstract run observed."""

    root_cls: str
    compute_dtype: str | None
    compute_dtype_source: str
    modules: dict[ModulePath, ModuleInfo]
    calls: list[CallRecord]
    params: list[tuple[ModulePath, str]]


@dataclass
class Finding:
    """One reported problem. ``kind`` is the stable machine name; ``cause`` refines compute leaks."""

    kind: str
    path: str
    cls: str
    dtype: str
    expected: str
    site: Site | None
    cause: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    module_path: ModulePath = ()

    def to_json(self, cwd: str | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "kind": self.kind,
            "path": self.path,
            "class": self.cls,
            "dtype": self.dtype,
            "expected": self.expected,
            "site": self.site.render(cwd) if self.site else None,
        }
        if self.cause is not None:
            record["cause"] = self.cause
        record.update(self.extra)
        return record
