"""Generate ``rules/layers.toml``, the catalogue of dtype-carrying Flax layers, from the installed flax.

The linter never imports flax (it must stay fast and work without jax), so what it knows about flax's
constructors lives in a data file. This script reads those facts off flax with :mod:`inspect`, so a flax
upgrade is one command, and ``tests/test_catalogue.py`` reruns :func:`collect_layers` to prove the file
still matches the installed flax.

Usage: ``python tools/gen_layers.py [OUTPUT]`` (default: ``rules/layers.toml`` next to this directory).
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "rules" / "layers.toml"
DTYPE_PARAMS = ("dtype", "param_dtype")
# Keyword arguments that linen's dataclass machinery adds to every Module: never passed positionally.
LINEN_IMPLICIT = ("parent", "name")
# kind by class name, checked in order; the first matching rule wins (see _kind).
_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("Embed", "embed"),
    ("Attention", "attention"),
    ("Cell", "recurrent"),
    ("Conv", "conv"),
    ("SpectralNorm", "other"),  # weight-reparametrisation wrappers, not activation norms
    ("WeightNorm", "other"),
    ("Norm", "norm"),
    ("Dense", "dense"),
    ("Linear", "dense"),
    ("Einsum", "dense"),
    ("LoRA", "dense"),
    ("PReLU", "activation"),
)


def _walk(package: ModuleType) -> list[ModuleType]:
    """The package and all its submodules, sorted by name, so alias discovery is deterministic."""
    modules = {package.__name__: package}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        try:
            modules[info.name] = importlib.import_module(info.name)
        except ImportError as exc:  # an optional dependency is missing: its aliases are lost, say so
            print(f"gen_layers: skipping {info.name}: {exc}", file=sys.stderr)
    return [modules[name] for name in sorted(modules)]


def _kind(cls: type) -> str:
    for needle, kind in _KIND_RULES:
        if needle in cls.__name__:
            return kind
    return "other"


def _default(value: Any) -> str:
    """Short spelling of a dtype default: ``None``, ``float32``, ``bfloat16``..."""
    import numpy as np

    if value is None:
        return "None"
    try:
        return np.dtype(value).name
    except TypeError:
        return repr(value)


def _positional(params: list[inspect.Parameter], api: str) -> list[str]:
    """Names of the parameters that can be passed positionally, in order."""
    names = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        if api == "linen" and p.name in LINEN_IMPLICIT:
            continue
        names.append(p.name)
    return names


def collect_layers() -> list[dict[str, Any]]:
    """One dict per linen/nnx Module class with a ``dtype`` or ``param_dtype`` constructor parameter.

    The dicts have exactly the shape of a ``[[layer]]`` table, sorted by api then name.
    """
    import flax.linen
    import flax.nnx

    bases = {"linen": flax.linen.Module, "nnx": flax.nnx.Module}
    paths: dict[type, set[str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated submodules warn on import
        for package in (flax.linen, flax.nnx):
            for module in _walk(package):
                for attr, value in vars(module).items():
                    if inspect.isclass(value) and issubclass(value, tuple(bases.values())):
                        paths.setdefault(value, set()).add(f"{module.__name__}.{attr}")

    entries = []
    for cls, cls_paths in paths.items():
        api = "linen" if issubclass(cls, flax.linen.Module) else "nnx"
        # linen Modules are dataclasses, nnx Modules plain classes: __init__ describes both (skip self).
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        by_name = {p.name: p for p in params}
        if not any(name in by_name for name in DTYPE_PARAMS):
            continue
        top_level = sorted(p for p in cls_paths if p.count(".") == 2 and p.startswith(f"flax.{api}."))
        preferred = f"flax.{api}.{cls.__name__}"
        if preferred in top_level:
            name = preferred
        elif top_level:
            name = top_level[0]
        else:
            name = f"{cls.__module__}.{cls.__qualname__}"
        signature = _positional(params, api)
        entry: dict[str, Any] = {
            "name": name,
            "api": api,
            "aliases": sorted(cls_paths - {name}),
            "kind": _kind(cls),
            "signature": signature,
        }
        for key in DTYPE_PARAMS:
            if key in by_name:
                fact: dict[str, Any] = {}
                if key in signature:
                    fact["index"] = signature.index(key)
                fact["default"] = _default(by_name[key].default)
                entry[key] = fact
        entry["public"] = bool(top_level)
        entries.append(entry)
    return sorted(entries, key=lambda e: (e["api"], e["name"]))


def _value(value: Any, width: int) -> str:
    """TOML for the values we emit (JSON string escapes are valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v, width)}" for k, v in value.items()) + " }"
    items = [_value(v, width) for v in value]
    one_line = "[" + ", ".join(items) + "]"
    if len(one_line) <= width:
        return one_line
    return "[\n" + "".join(f"    {item},\n" for item in items) + "]"


def render(entries: list[dict[str, Any]], flax_version: str) -> str:
    """The text of layers.toml; a pure function of its inputs, so regeneration is byte-stable."""
    lines = [
        f"# Dtype-carrying Flax layers, generated by tools/gen_layers.py from flax {flax_version}.",
        "# Do not edit by hand. After a flax upgrade regenerate with:  python tools/gen_layers.py",
        "# (tests/test_catalogue.py fails while this file disagrees with the installed flax).",
        "# signature: parameters that can be passed positionally, in order (linen: without parent/name).",
        "# index: position in signature; absent when the parameter is keyword-only.",
    ]
    for entry in entries:
        lines += ["", "[[layer]]"]
        lines += [f"{key} = {_value(value, 100 - len(key))}" for key, value in entry.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    import flax

    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    entries = collect_layers()
    output.write_text(render(entries, flax.__version__), encoding="utf-8", newline="\n")
    counts = {api: sum(e["api"] == api for e in entries) for api in ("linen", "nnx")}
    print(f"wrote {output}: {counts['linen']} linen and {counts['nnx']} nnx layers (flax {flax.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
