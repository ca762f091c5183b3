"""Import bindings: which qualified name a local name stands for.

One small model shared by the libcst analysis and the stdlib-``ast`` project index, so that
``import flax.linen as nn``, ``from flax import linen as fnn``, ``import flax`` + ``flax.linen.Dense``,
``from flax.linen.linear import Dense`` and relative imports resolve the same way everywhere.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# The module the fixes write casts and dtypes with, and the name they import it as when a file has no alias
# of it: whatever binds either, anywhere in a file, can change a fix (so the gate's slices always keep it).
JNP_MODULE = "jax.numpy"
JNP_NAME = "jnp"


def module_name_for(path: Path) -> str:
    """The dotted module name of a file, found by walking up through folders that hold ``__init__.py``."""
    package = _package_of(os.path.dirname(os.path.abspath(path)))
    if path.name == "__init__.py":
        return package or path.stem
    return f"{package}.{path.stem}" if package else path.stem


@functools.lru_cache(maxsize=4096)
def _package_of(folder: str) -> str:
    """Dotted package name of a folder ('' outside a package); memoised: siblings share their parents."""
    if not os.path.isfile(os.path.join(folder, "__init__.py")):
        return ""
    parent = os.path.dirname(folder)
    outer = _package_of(parent) if parent != folder else ""
    name = os.path.basename(folder)
    return f"{outer}.{name}" if outer else name


def resolve_relative(module_name: str, is_package: bool, level: int, target: str | None) -> str | None:
    """Absolute name of ``from <level dots><target> import ...`` inside ``module_name``."""
    if level == 0:
        return target
    package_parts = module_name.split(".") if is_package else module_name.split(".")[:-1]
    if level - 1 > len(package_parts):
        return None
    base = package_parts[: len(package_parts) - (level - 1)]
    if target:
        base = [*base, target]
    return ".".join(base) if base else None


@dataclass
class ImportMap:
    """Local name -> qualified name, for one scope.

    ``import a.b`` binds ``a`` to ``a`` (attribute access then resolves ``a.b.X``); ``import a.b as c`` binds
    ``c`` to ``a.b``; ``from a.b import X as Y`` binds ``Y`` to ``a.b.X``.
    """

    bindings: dict[str, str] = field(default_factory=dict)

    def add_import(self, module: str, asname: str | None) -> str:
        local = asname or module.split(".")[0]
        self.bindings[local] = module if asname else local
        return local

    def add_from(self, module: str, name: str, asname: str | None) -> str:
        local = asname or name
        self.bindings[local] = f"{module}.{name}"
        return local

    def resolve(self, dotted: str) -> str | None:
        head, _, rest = dotted.partition(".")
        target = self.bindings.get(head)
        if target is None:
            return None
        return f"{target}.{rest}" if rest else target

    def alias_of(self, qualified: str) -> str | None:
        """A local name bound exactly to ``qualified`` (e.g. ``jnp`` for ``jax.numpy``), if any."""
        for local, target in self.bindings.items():
            if target == qualified:
                return local
        return None

    def names_bound_under(self, prefixes: Iterable[str]) -> bool:
        prefixes = tuple(prefixes)
        return any(t == p or t.startswith(p + ".") for t in self.bindings.values() for p in prefixes)
