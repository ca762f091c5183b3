"""The catalogue of dtype-carrying layers: which classes take ``dtype``/``param_dtype``, and where.

The facts come from ``rules/layers.toml`` (generated from flax by ``tools/gen_layers.py`` and tested against
the installed flax), never from importing flax: ``check`` must stay fast and must work without jax. Users
extend the catalogue with their own wrappers through :meth:`Catalogue.with_extra`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from flaxprec.resources import rules_dir
from flaxprec.roles import DEFAULT_CONVENTIONS, Conventions

KINDS = frozenset({"dense", "embed", "norm", "attention", "conv", "recurrent", "activation", "other"})
APIS = frozenset({"linen", "nnx", "project"})
EXTRA_KEYS = frozenset({"dtype", "param_dtype", "kind"})
_DTYPE_KEYS = ("dtype", "param_dtype")


class CatalogueError(ValueError):
    """A malformed catalogue entry, in layers.toml or in user configuration; the message shows the entry."""


@dataclass(frozen=True)
class LayerSpec:
    """What the rules need to know about one layer class's constructor."""

    name: str  # public qualified name, e.g. "flax.linen.Dense"
    api: str  # "linen" | "nnx" | "project" (user-declared wrappers)
    kind: str
    signature: tuple[str, ...]  # positionally passable parameters in order; () when unknown (project)
    has_dtype: bool
    has_param_dtype: bool
    dtype_index: int | None  # positional index, None when keyword-only or absent
    param_dtype_index: int | None
    dtype_default: str | None  # "None", "float32", ... ; None when absent
    param_dtype_default: str | None = None
    aliases: tuple[str, ...] = ()  # other import paths of the same class
    public: bool = True  # False for private bases such as flax.linen.linear._Conv

    @property
    def short_name(self) -> str:
        """The class name, e.g. ``Dense``."""
        return self.name.rpartition(".")[2]


class Catalogue:
    """Layer specs indexed by every import path of their class (public name and aliases), and the naming
    conventions the dtype roles fall back on (:class:`flaxprec.roles.Conventions`): what the analysis knows
    of the world beyond the checked files."""

    def __init__(self, specs: Iterable[LayerSpec], conventions: Conventions = DEFAULT_CONVENTIONS) -> None:
        self.conventions = conventions
        self._specs = tuple(specs)
        self._by_name: dict[str, LayerSpec] = {}
        for spec in self._specs:
            for qualified in (spec.name, *spec.aliases):
                if qualified in self._by_name:
                    raise CatalogueError(f"{qualified!r} is declared twice in the layer catalogue")
                self._by_name[qualified] = spec

    def lookup(self, qualified_name: str) -> LayerSpec | None:
        """The spec for a public name or an alias (``flax.linen.linear.Dense``), or None."""
        return self._by_name.get(qualified_name)

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, qualified_name: object) -> bool:
        return qualified_name in self._by_name

    def short_names(self) -> frozenset[str]:
        """Class names under every import path: a file mentioning none of them builds no known layer."""
        return frozenset(qualified.rpartition(".")[2] for qualified in self._by_name)

    def with_extra(self, extra: Mapping[str, Mapping[str, object]]) -> Catalogue:
        """A catalogue that also knows the project's own layer wrappers, declared in configuration.

        ``{"mypkg.layers.ParallelDense": {"dtype": 2, "param_dtype": 3, "kind": "dense"}}``: a ``dtype`` or
        ``param_dtype`` key declares that constructor parameter; its value is the positional index, or -1
        (or None) when it is keyword-only. An entry with neither key declares a keyword-only ``dtype`` and
        no ``param_dtype`` (writing a ``param_dtype`` the wrapper does not accept would break it). ``kind``
        defaults to ``"dense"``. The wrapper's other parameters are unknown (``signature == ()``) and its
        ``dtype`` default is assumed to be flax's ``None``.
        """
        specs = [_extra_spec(name, entry) for name, entry in extra.items()]
        for spec in specs:
            if spec.name in self:
                raise CatalogueError(f"{spec.name!r}: {extra[spec.name]!r}: already a catalogued flax layer")
        return Catalogue((*self._specs, *specs), self.conventions)

    def with_conventions(self, conventions: Conventions) -> Catalogue:
        """The same layers, read under a project's own dtype naming conventions."""
        return Catalogue(self._specs, conventions)


def _extra_spec(name: object, entry: object) -> LayerSpec:
    def fail(reason: str) -> CatalogueError:
        return CatalogueError(f"layer {name!r}: {entry!r}: {reason}")

    if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
        raise fail("the name must be a dotted Python path such as 'mypkg.layers.ParallelDense'")
    if not isinstance(entry, Mapping):
        raise fail("expected a table such as {dtype = 2, param_dtype = 3}")
    unknown = sorted(set(entry) - EXTRA_KEYS, key=str)
    if unknown:
        raise fail(f"unknown key(s) {unknown}; allowed: {sorted(EXTRA_KEYS)}")
    kind = entry.get("kind", "dense")
    if kind not in KINDS:
        raise fail(f"kind must be one of {sorted(KINDS)}")
    declared = [key for key in _DTYPE_KEYS if key in entry] or ["dtype"]
    indices: dict[str, int | None] = {}
    for key in declared:
        index = entry.get(key)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < -1):
            raise fail(f"{key} must be a positional index (an int >= 0), or -1 when keyword-only")
        indices[key] = None if index is None or index == -1 else index
    positional = [index for index in indices.values() if index is not None]
    if len(positional) != len(set(positional)):
        raise fail("dtype and param_dtype cannot share a positional index")
    return LayerSpec(
        name=name,
        api="project",
        kind=str(kind),
        signature=(),
        has_dtype="dtype" in indices,
        has_param_dtype="param_dtype" in indices,
        dtype_index=indices.get("dtype"),
        param_dtype_index=indices.get("param_dtype"),
        dtype_default="None" if "dtype" in indices else None,
        param_dtype_default="float32" if "param_dtype" in indices else None,
    )


def _toml_spec(table: Any) -> LayerSpec:
    """One ``[[layer]]`` table of layers.toml, checked, as a spec."""
    try:
        name, api, kind = table["name"], table["api"], table["kind"]
        signature, aliases, public = tuple(table["signature"]), tuple(table["aliases"]), table["public"]
        facts = {key: table[key] for key in _DTYPE_KEYS if key in table}
        indices = {key: fact.get("index") for key, fact in facts.items()}
        defaults = {key: fact["default"] for key, fact in facts.items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise CatalogueError(f"layers.toml: malformed [[layer]] {table!r}: {exc!r}") from None
    if api not in {"linen", "nnx"} or kind not in KINDS or not facts or not isinstance(public, bool):
        raise CatalogueError(f"layers.toml: malformed [[layer]] {table!r}")
    for key, index in indices.items():
        if index is not None and (not isinstance(index, int) or signature[index : index + 1] != (key,)):
            raise CatalogueError(f"layers.toml: {name}: {key} index {index!r} disagrees with the signature")
    return LayerSpec(
        name=name,
        api=api,
        kind=kind,
        signature=signature,
        has_dtype="dtype" in facts,
        has_param_dtype="param_dtype" in facts,
        dtype_index=indices.get("dtype"),
        param_dtype_index=indices.get("param_dtype"),
        dtype_default=defaults.get("dtype"),
        param_dtype_default=defaults.get("param_dtype"),
        aliases=aliases,
        public=public,
    )


@functools.cache
def load_catalogue() -> Catalogue:
    """The built-in catalogue of flax layers, read once per process from ``rules_dir()/layers.toml``."""
    with (rules_dir() / "layers.toml").open("rb") as f:
        document = tomllib.load(f)
    return Catalogue(_toml_spec(table) for table in document.get("layer", []))
