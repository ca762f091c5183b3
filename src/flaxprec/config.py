"""``[tool.flaxprec]`` in ``pyproject.toml``: reading, validating, and deciding which rules run where.

The conventions are ruff's, so that a project can configure both tools the same way: kebab-case keys,
``select`` / ``extend-select`` / ``ignore`` with codes, prefixes and ``ALL``, ``per-file-ignores`` keyed by
globs relative to the config's directory, ``exclude`` / ``extend-exclude`` as gitignore-style patterns.
Everything here is pure (no rule registry, no file walking): the CLI and the engine ask questions of a
:class:`Settings` value.

Rule selection follows ruff's resolution: the defaults, then the config file, then the command line are
applied as layers. Within one layer the most specific matching selector wins and, at equal specificity,
``ignore`` beats ``select``. A layer with ``select`` replaces everything before it (including the config's
``ignore``), a layer without it only adds and removes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by _compile, when some pattern needs it (not for the default excludes)
    import pathspec

__all__ = [
    "DEFAULT_EXCLUDE",
    "ConfigError",
    "LayerConfig",
    "RuleSelection",
    "Settings",
    "find_config",
    "load_settings",
    "validate_codes",
]

CONFIG_FILENAME = "pyproject.toml"

# Folders nobody wants linted; ruff's list. ``exclude`` replaces it, ``extend-exclude`` adds to it.
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)

# A selector names one rule (FLX001), a range (FLX0, FLX00), the whole tool (FLX) or everything (ALL).
_SELECTOR_RE = re.compile(r"FLX[0-9]*\Z")
# A plain name (``build``, ``.venv``) matches a file or folder of that name at any depth, and everything
# under such a folder: no pattern engine needed. The default excludes are all plain names.
_PLAIN_NAME_RE = re.compile(r"\.?[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_QUALNAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")


class ConfigError(Exception):
    """A configuration problem the user must fix; the CLI prints it and exits with status 2."""


@dataclass(frozen=True)
class LayerConfig:
    """A project's own dtype-carrying layer (``[tool.flaxprec.layers]``: ``"mypkg.ParallelDense" = {...}``).

    ``dtype`` / ``param_dtype``: the positional index of that constructor parameter, ``-1`` when it is
    keyword-only, ``None`` when the key was not given (the catalogue then decides: an entry with neither
    key has a keyword-only ``dtype`` and no ``param_dtype``). ``kind`` is one of the catalogue's kinds
    (``dense``, ``embed``, ``norm``, ...), ``None`` when not given.
    """

    name: str
    dtype: int | None = None
    param_dtype: int | None = None
    kind: str | None = None

    def catalogue_entry(self) -> dict[str, object]:
        """The entry :meth:`flaxprec.catalogue.Catalogue.with_extra` takes: only the keys that were given."""
        entry: dict[str, object] = {}
        for key in ("dtype", "param_dtype", "kind"):
            value = getattr(self, key)
            if value is not None:
                entry[key] = value
        return entry


@dataclass(frozen=True)
class ConventionsConfig:
    """A project's dtype naming conventions (``[tool.flaxprec.conventions]``), added to the built-in ones
    (:class:`flaxprec.roles.Conventions`): names that are a prior for a compute or a storage dtype when the
    code does not show what a value is, and base classes whose framework hands dtypes to child layers."""

    compute_dtypes: tuple[str, ...] = ()
    storage_dtypes: tuple[str, ...] = ()
    implicit_dtype_bases: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.compute_dtypes or self.storage_dtypes or self.implicit_dtype_bases)


@dataclass(frozen=True)
class RuleSelection:
    """One layer of ``select`` / ``extend-select`` / ``ignore`` (the config file, or the command line).

    ``select=None`` means the layer did not set ``select``: it then adjusts the set inherited from the
    previous layer instead of replacing it.
    """

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    from_cli: bool = False


def _specificity(selector: str) -> int:
    # ``ALL`` is less specific than the ``FLX`` linter prefix although both have three characters.
    return 0 if selector == "ALL" else len(selector)


def _matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def _best(selectors: Iterable[str], code: str) -> int:
    """Specificity of the most specific selector matching ``code``, or -1 when none does."""
    return max((_specificity(s) for s in selectors if _matches(s, code)), default=-1)


@dataclass(frozen=True)
class Settings:
    """The effective settings of one run; build it with :func:`load_settings`, adjust with
    :meth:`with_overrides`.

    ``root`` is the directory per-file-ignores and excludes are relative to (the config's directory, or the
    working directory when there is no config); ``config_path`` is ``None`` when no config file was used.
    """

    root: Path = field(default_factory=Path.cwd)
    config_path: Path | None = None
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    unsafe_fixes: bool = False
    allow_half_params: bool = False
    noqa_blanket_unused: bool = False
    preview: bool = False
    layers: tuple[LayerConfig, ...] = ()
    conventions: ConventionsConfig = field(default_factory=ConventionsConfig)
    # Command-line selections, applied after the config file's (ruff's layering).
    cli_selections: tuple[RuleSelection, ...] = ()

    def __post_init__(self) -> None:
        # Patterns are matched against paths relative to the root, so it must be absolute and normalised.
        object.__setattr__(self, "root", Path(os.path.normpath(os.path.abspath(self.root))))

    # -- rule selection -------------------------------------------------------------------------------

    def selections(self) -> tuple[RuleSelection, ...]:
        """The selection layers in the order they apply: the config file's, then the command line's."""
        return (RuleSelection(self.select, self.extend_select, self.ignore), *self.cli_selections)

    def is_selected(
        self,
        code: str,
        default_on: bool,
        *,
        filename: str | os.PathLike[str] | None = None,
        is_preview: bool = False,
    ) -> bool:
        """Whether rule ``code`` runs (on ``filename``, when given: per-file-ignores apply to it).

        ``default_on`` is whether the rule belongs to the default set (rules that are not opt-in).
        ``is_preview`` rules run only with ``preview = true``, however they are selected, as in ruff.
        """
        if is_preview and not self.preview:
            return False
        enabled = default_on
        carried_ignores: tuple[str, ...] = ()
        for layer in self.selections():
            selects = (*(layer.select or ()), *layer.extend_select)
            ignores = (*layer.ignore, *carried_ignores)
            carried_ignores = ()
            best_select, best_ignore = _best(selects, code), _best(ignores, code)
            touched = best_select >= 0 or best_ignore >= 0
            # At equal specificity the ignore wins: ruff applies a level's selects, then its ignores.
            verdict = best_select > best_ignore
            if layer.select is not None:
                enabled = verdict if touched else False
                # ``select = []`` with only ``ignore`` keeps those ignores for the next layer (ruff does too).
                if not layer.select and not layer.extend_select and layer.ignore:
                    carried_ignores = layer.ignore
            elif touched:
                enabled = verdict
        if enabled and filename is not None:
            return code not in self.ignored_codes_for(filename, (code,))
        return enabled

    def ignored_codes_for(self, filename: str | os.PathLike[str], codes: Iterable[str]) -> frozenset[str]:
        """The subset of ``codes`` that per-file-ignores switch off for ``filename``."""
        if not self.per_file_ignores:
            return frozenset()
        rel = self.relative_path(filename)
        entries = [sels for spec, negated, sels in self._per_file_specs if spec.match_file(rel) != negated]
        return frozenset(c for c in codes if any(_matches(s, c) for sels in entries for s in sels))

    @functools.cached_property
    def _per_file_specs(self) -> tuple[tuple[pathspec.GitIgnoreSpec, bool, tuple[str, ...]], ...]:
        # A leading ``!`` applies the entry to every file the rest of the pattern does NOT match (ruff).
        compiled = []
        for pattern, selectors in self.per_file_ignores:
            negated = pattern.startswith("!")
            compiled.append((_compile([pattern[1:] if negated else pattern]), negated, selectors))
        return tuple(compiled)

    # -- paths ----------------------------------------------------------------------------------------

    def relative_path(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to :attr:`root`, with forward slashes, as patterns are matched against it.

        A path outside the root keeps only its file name, so that root-independent patterns such as
        ``__init__.py`` or ``.venv`` still apply to it. (String operations: it runs for every path of a walk.)
        """
        absolute = os.path.abspath(path)  # normalised, as self.root is
        root = str(self.root)
        if os.sep == "/":
            prefix = root if root.endswith("/") else root + "/"
            if absolute.startswith(prefix):
                return absolute[len(prefix) :]
            if absolute == root:
                return "."
            return Path(path).name
        try:
            return Path(absolute).relative_to(self.root).as_posix()
        except ValueError:
            return Path(path).name

    @functools.cached_property
    def _exclude_spec(self) -> pathspec.GitIgnoreSpec:
        return _compile([*self.exclude, *self.extend_exclude])

    @functools.cached_property
    def _exclude_names(self) -> frozenset[str] | None:
        """The excludes as a set of names when every one is a plain name (see ``_PLAIN_NAME_RE``)."""
        patterns = (*self.exclude, *self.extend_exclude)
        return frozenset(patterns) if all(_PLAIN_NAME_RE.match(p) for p in patterns) else None

    def is_excluded(self, path: str | os.PathLike[str], *, is_dir: bool | None = None) -> bool:
        """Whether ``exclude`` / ``extend-exclude`` exclude ``path`` (a file or a directory).

        ``is_dir=None`` asks the filesystem; pass it when known to save a ``stat`` per entry.
        """
        rel = self.relative_path(path)
        names = self._exclude_names
        if names is not None:  # plain names match files and folders alike, at any depth
            return not names.isdisjoint(rel.split("/"))
        if is_dir is None:
            is_dir = Path(path).is_dir()
        return bool(self._exclude_spec.match_file(rel + "/" if is_dir else rel))

    def catalogue_extra(self) -> dict[str, dict[str, object]]:
        """``layers`` in the form :meth:`flaxprec.catalogue.Catalogue.with_extra` takes."""
        return {layer.name: layer.catalogue_entry() for layer in self.layers}

    # -- overrides, validation, cache ----------------------------------------------------------------

    def with_overrides(
        self,
        *,
        select: Sequence[str] | None = None,
        ignore: Sequence[str] | None = None,
        extend_select: Sequence[str] | None = None,
        unsafe_fixes: bool | None = None,
        preview: bool | None = None,
        allow_half_params: bool | None = None,
        respect_gitignore: bool | None = None,
        extend_exclude: Sequence[str] | None = None,
    ) -> Settings:
        """These settings with the command line's flags on top; ``None`` means the flag was not given.

        Selector values may be comma-separated (``--select FLX001,FLX002``), as ruff accepts them. An empty
        sequence counts as not given too, because that is what click passes for an unused ``multiple``
        option (``--select`` must never turn into "select nothing" by omission).
        """
        changes: dict[str, Any] = {}
        select, ignore, extend_select = (v if v else None for v in (select, ignore, extend_select))
        if select is not None or ignore is not None or extend_select is not None:
            layer = RuleSelection(
                select=None if select is None else _cli_selectors(select, "--select"),
                extend_select=_cli_selectors(extend_select or (), "--extend-select"),
                ignore=_cli_selectors(ignore or (), "--ignore"),
                from_cli=True,
            )
            changes["cli_selections"] = (*self.cli_selections, layer)
        for name, value in (
            ("unsafe_fixes", unsafe_fixes),
            ("preview", preview),
            ("allow_half_params", allow_half_params),
            ("respect_gitignore", respect_gitignore),
        ):
            if value is not None:
                changes[name] = bool(value)
        if extend_exclude:
            changes["extend_exclude"] = (*self.extend_exclude, *extend_exclude)
        return dataclasses.replace(self, **changes)

    def validate(self, known_codes: Iterable[str]) -> None:
        """Raise :class:`ConfigError` for a selector that matches no known rule.

        Separate from loading because the rule registry, not the config, knows which codes exist.
        """
        known = tuple(known_codes)
        for layer in self.selections():
            for key, codes in (
                ("select", layer.select or ()),
                ("extend-select", layer.extend_select),
                ("ignore", layer.ignore),
            ):
                where = f"--{key}" if layer.from_cli else f"{self._where()}`{key}`"
                validate_codes(codes, known, where=where)
        for pattern, codes in self.per_file_ignores:
            validate_codes(codes, known, where=f"{self._where()}`per-file-ignores` (`{pattern}`)")

    def _where(self) -> str:
        return f"{self.config_path}: [tool.flaxprec] " if self.config_path else ""

    def cache_key(self) -> str:
        """A stable hash of everything that changes what a check reports (for a result cache)."""
        from flaxprec import __version__

        payload = {
            "version": __version__,
            "root": self.root.as_posix(),
            "selections": [dataclasses.astuple(s)[:3] for s in self.selections()],
            "per_file_ignores": self.per_file_ignores,
            "unsafe_fixes": self.unsafe_fixes,
            "allow_half_params": self.allow_half_params,
            "noqa_blanket_unused": self.noqa_blanket_unused,
            "preview": self.preview,
            "layers": [dataclasses.astuple(layer) for layer in self.layers],
            "conventions": dataclasses.astuple(self.conventions),
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def validate_codes(codes: Iterable[str], known_codes: Iterable[str], *, where: str = "selector") -> None:
    """Raise :class:`ConfigError` for a selector that is neither ``ALL`` nor a prefix of a known code.

    A typo in ``ignore`` would otherwise silently ignore nothing, which is why prefixes must match too.
    """
    known = tuple(known_codes)
    for code in codes:
        if code == "ALL" or any(k.startswith(code) for k in known):
            continue
        import difflib  # only a wrong code pays for it

        close = difflib.get_close_matches(code, known, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(f"{where}: unknown rule selector `{code}`{hint}")


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.flaxprec]`` table in ``start`` or above it.

    ``start`` may be a file (its directory is used). A ``pyproject.toml`` without the table is skipped, so
    a package's own pyproject does not hide the project's configuration further up.
    """
    start = Path(os.path.abspath(start))
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / CONFIG_FILENAME
        if candidate.is_file() and _flaxprec_table(_read_toml(candidate), candidate) is not None:
            return candidate
    return None


def load_settings(config_path: Path | None = None, start: Path | None = None) -> Settings:
    """Settings from ``config_path`` (``--config``) or from the config found upward from ``start``.

    Without any config file the defaults apply, rooted at the working directory.
    """
    if config_path is None:
        config_path = find_config(start if start is not None else Path.cwd())
        if config_path is None:
            return Settings(root=Path.cwd())
    config_path = Path(os.path.abspath(config_path))
    if not config_path.is_file():
        raise ConfigError(f"{config_path}: configuration file not found")
    table = _flaxprec_table(_read_toml(config_path), config_path) or {}
    return _settings_from_table(table, config_path)


# -- parsing -------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    # Imported here: compiling tomllib's regular expressions is a cost only a run with a pyproject.toml pays.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _flaxprec_table(document: Mapping[str, Any], path: Path) -> dict[str, Any] | None:
    tool = document.get("tool")
    if not isinstance(tool, dict) or "flaxprec" not in tool:
        return None
    table = tool["flaxprec"]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: `tool.flaxprec` must be a table, got {_type_name(table)}")
    return table


_BOOL_KEYS = {
    "respect-gitignore": "respect_gitignore",
    "unsafe-fixes": "unsafe_fixes",
    "allow-half-params": "allow_half_params",
    "noqa-blanket-unused": "noqa_blanket_unused",
    "preview": "preview",
}
_SELECTOR_KEYS = {"select": "select", "extend-select": "extend_select", "ignore": "ignore"}
_PATTERN_KEYS = {"exclude": "exclude", "extend-exclude": "extend_exclude"}
KNOWN_KEYS: tuple[str, ...] = (
    *_SELECTOR_KEYS,
    "per-file-ignores",
    *_PATTERN_KEYS,
    *_BOOL_KEYS,
    "layers",
    "conventions",
)
_LAYER_KEYS = ("dtype", "param_dtype", "kind")
_CONVENTION_KEYS = {
    "compute-dtypes": "compute_dtypes",
    "storage-dtypes": "storage_dtypes",
    "implicit-dtype-bases": "implicit_dtype_bases",
}


def _settings_from_table(table: Mapping[str, Any], path: Path) -> Settings:
    values: dict[str, Any] = {"root": path.parent, "config_path": path}
    for key, value in table.items():
        where = f"{path}: [tool.flaxprec] `{key}`"
        if key in _SELECTOR_KEYS:
            values[_SELECTOR_KEYS[key]] = _selectors(value, where)
        elif key in _PATTERN_KEYS:
            values[_PATTERN_KEYS[key]] = _patterns(value, where)
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected a boolean (true or false), got {_type_name(value)}")
            values[_BOOL_KEYS[key]] = value
        elif key == "per-file-ignores":
            values["per_file_ignores"] = _per_file_ignores(value, where)
        elif key == "layers":
            values["layers"] = _layers(value, where)
        elif key == "conventions":
            values["conventions"] = _conventions(value, where)
        else:
            import difflib  # only a wrong key pays for it

            close = difflib.get_close_matches(key.replace("_", "-"), KNOWN_KEYS, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ConfigError(
                f"{path}: [tool.flaxprec]: unknown key `{key}`{hint} (known keys: {', '.join(KNOWN_KEYS)})"
            )
    return Settings(**values)


def _string_list(value: Any, where: str, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of {what}, got {_describe(value)}")
    return value


def _selectors(value: Any, where: str) -> tuple[str, ...]:
    items = _string_list(value, where, 'rule codes or prefixes (e.g. ["FLX001", "FLX1"])')
    for item in items:
        _check_selector(item, where)
    return tuple(items)


def _check_selector(item: str, where: str) -> None:
    if item == "ALL" or _SELECTOR_RE.match(item):
        return
    hint = f" (codes are upper case: `{item.upper()}`)" if item.upper() != item else ""
    raise ConfigError(
        f"{where}: invalid rule selector `{item}`: expected a code such as `FLX001`, "
        f"a prefix such as `FLX0`, or `ALL`{hint}"
    )


def _cli_selectors(values: Sequence[str], option: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    out: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item:
                _check_selector(item, option)
                out.append(item)
    return tuple(out)


def _compile(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


def _patterns(value: Any, where: str) -> tuple[str, ...]:
    items = _string_list(value, where, "gitignore-style patterns")
    try:
        _compile(items)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: invalid pattern: {exc}") from exc
    return tuple(items)


def _per_file_ignores(value: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of glob -> list of rule codes, got {_describe(value)}")
    out = []
    for pattern, codes in value.items():
        _patterns([pattern.removeprefix("!")], f"{where} (`{pattern}`)")
        out.append((pattern, _selectors(codes, f"{where} (`{pattern}`)")))
    return tuple(out)


def _conventions(value: Any, where: str) -> ConventionsConfig:
    """``compute-dtypes`` / ``storage-dtypes``: attribute names (``fprop_dtype``); ``implicit-dtype-bases``:
    qualified class names (``praxis.base_layer.BaseLayer``). A name cannot be both compute and storage."""
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: expected a table with {', '.join(_CONVENTION_KEYS)}, got {_describe(value)}"
        )
    found: dict[str, tuple[str, ...]] = {}
    for key, items in value.items():
        here = f"{where} (`{key}`)"
        if key not in _CONVENTION_KEYS:
            raise ConfigError(f"{here}: unknown key (known keys: {', '.join(_CONVENTION_KEYS)})")
        if key == "implicit-dtype-bases":
            names = _string_list(items, here, 'qualified class names (e.g. ["praxis.base_layer.BaseLayer"])')
            bad = [name for name in names if not _QUALNAME_RE.match(name)]
            what = "a qualified class name such as `praxis.base_layer.BaseLayer`"
        else:
            names = _string_list(items, here, 'attribute names (e.g. ["fprop_dtype"])')
            bad = [name for name in names if not name.isidentifier()]
            what = "an attribute name such as `fprop_dtype`"
        if bad:
            raise ConfigError(f"{here}: `{bad[0]}` is not {what}")
        found[_CONVENTION_KEYS[key]] = tuple(names)
    both = sorted(set(found.get("compute_dtypes", ())) & set(found.get("storage_dtypes", ())))
    if both:
        raise ConfigError(f"{where}: `{both[0]}` is listed as both a compute and a storage dtype")
    return ConventionsConfig(**found)


def _layers(value: Any, where: str) -> tuple[LayerConfig, ...]:
    from flaxprec.catalogue import KINDS

    shape = "{ dtype = int, param_dtype = int, kind = str }"
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of qualified name -> {shape}, got {_describe(value)}")
    out = []
    for name, spec in value.items():
        here = f"{where} (`{name}`)"
        if not _QUALNAME_RE.match(name):
            raise ConfigError(f"{here}: expected a qualified name such as `mypkg.layers.ParallelDense`")
        if not isinstance(spec, dict):
            raise ConfigError(f"{here}: expected a table {shape}, got {_describe(spec)}")
        for key in spec:
            if key not in _LAYER_KEYS:
                raise ConfigError(f"{here}: unknown key `{key}` (known keys: {', '.join(_LAYER_KEYS)})")
        for key in ("dtype", "param_dtype"):
            index = spec.get(key)
            if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < -1):
                raise ConfigError(
                    f"{here}: `{key}` must be an integer: its positional index (>= 0), "
                    f"or -1 when it is keyword-only; got {_describe(index)}"
                )
        if spec.get("dtype", -1) >= 0 and spec.get("dtype") == spec.get("param_dtype"):
            raise ConfigError(
                f"{here}: `dtype` and `param_dtype` cannot share positional index {spec['dtype']}"
            )
        kind = spec.get("kind")
        if kind is not None and kind not in KINDS:
            raise ConfigError(
                f"{here}: `kind` must be one of {', '.join(sorted(KINDS))}; got {_describe(kind)}"
            )
        out.append(LayerConfig(name, spec.get("dtype"), spec.get("param_dtype"), kind))
    return tuple(out)


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    if isinstance(value, list) and any(not isinstance(v, str) for v in value):
        bad = next(v for v in value if not isinstance(v, str))
        return f"an array containing {_type_name(bad)} ({bad!r})"
    return f"{_type_name(value)} ({value!r})"
