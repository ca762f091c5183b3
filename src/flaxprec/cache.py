"""A content-addressed cache of per-file work, so that an unchanged tree is checked without parsing.

Three stores, each one JSON file written atomically (temporary file + ``os.replace``), so concurrent runs
never corrupt them; the worst a race does is drop the other run's new entries (a missing entry is a miss,
never a wrong answer: every entry is keyed by everything it depends on).

- ``facts``: per file (its *file key*: bytes, name, module name), a digest of its class-level facts (the
  summary the project index is built from), ``""`` for a file the ``ast`` stage rejected. It is tiny, so a
  warm run computes the project's :func:`index_digest`, and from it every file's results key, without
  decoding a single summary.
- ``summaries``: the ``ast`` stage of a file: its summary (the project index's input) and its gate
  sketch, or the FLX900 finding it ended with. Read only when some file must be analysed again; the
  sketches (most of the bytes) are decoded only for the files that are.
- ``results-<context>``: a file's findings, keyed by its file key and the index digest (a finding can
  depend on a class defined in another file). ``context`` covers the effective settings, so a different
  selection or config never reads stale findings; the directory name covers the tool build.

JSON, not pickle: the cache directory lives in the checked tree, and loading it must never run code.
Cached findings carry their fix's title, applicability and text edits, not its syntax-tree edits; a report
that shows a fix without text asks the engine to analyse that file again.

Every edit of a file adds entries (a new file key), and every class-level edit a new set of results: a
store that grows past :data:`MAX_ENTRIES` (and past four times what one run used) drops its least
recently used entries when it is next written. A run's own entries move to the end as it writes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, Location, TextEdit

if TYPE_CHECKING:  # the summary types come with the ast stage's modules; a warm run never needs them
    from flaxprec.gate import StatementSketch
    from flaxprec.project import FileSummary

SCHEMA = 5
MAX_ENTRIES = 20_000  # per store; see the module docstring


def build_id() -> str:
    """Identifies this flaxprec build: version plus the state of its sources and shipped data.

    An editable install changes without a version bump; stat-ing ~50 files costs well under a millisecond.
    """
    from flaxprec import __version__
    from flaxprec.resources import rules_dir

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{SCHEMA}:{__version__}".encode())
    for path in sorted([*package.rglob("*.py"), rules_dir() / "layers.toml"]):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def content_key(data: bytes, *parts: str) -> str:
    digest = hashlib.sha256(data)
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def file_key(raw: bytes, filename: str, module_name: str, is_package: bool) -> str:
    """What a file's ast stage depends on: its bytes, the name it is reported under, its module name."""
    return content_key(raw, filename, module_name, str(is_package))


def results_key(key: str, digest: str) -> str:
    """A file's findings depend on its file key and on the project's :func:`index_digest`."""
    return content_key(key.encode(), digest)


def index_digest(files: Iterable[tuple[str, str]]) -> str:
    """Digest of every class-level fact of the tree, from ``(file name, facts digest)`` pairs.

    What one file's findings may depend on elsewhere. Built from per-file digests (in file name order), so
    a warm run gets it from the facts store without decoding a summary; a method body edit leaves it as it
    was, so the other files' cached findings stay valid. Files without a summary (``""``) do not count.
    """
    digest = hashlib.sha256()
    for filename, facts in sorted(files):
        if facts:
            digest.update(f"{filename}\0{facts}\0".encode())
    return digest.hexdigest()


def facts_digest(summary: FileSummary) -> str:
    """Digest of one file's class-level facts: what other files' findings may depend on.

    A method body that changes no class fact (fields, bases, ``__init__`` parameters, ``self.*dtype``
    reads) leaves it unchanged, and with it every other file's results key.
    """
    blob = json.dumps(summary_to_json(summary), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class Cache:
    """One run's view of the cache directory; call :meth:`save` at the end of the run.

    Each store is read on first use: a fully cached run never reads the summaries.
    """

    def __init__(self, directory: Path, context: str) -> None:
        self.directory = directory / f"v{SCHEMA}-{build_id()}"
        self._paths = {
            "facts": self.directory / "facts.json",
            "summaries": self.directory / "summaries.json",
            "results": self.directory / f"results-{context[:16]}.json",
        }
        self._stores: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        # Keys read or written, per store, in the order of use (a dict as an ordered set).
        self._used: dict[str, dict[str, None]] = {name: {} for name in self._paths}

    def _get(self, name: str, key: str) -> Any:
        self._used[name][key] = None
        return self._store(name).get(key)

    def _put(self, name: str, key: str, value: Any) -> None:
        self._used[name][key] = None
        self._store(name)[key] = value
        self._dirty.add(name)

    def _store(self, name: str) -> dict[str, Any]:
        if name not in self._stores:
            self._stores[name] = _load(self._paths[name])
        return self._stores[name]

    # -- the ast stage -----------------------------------------------------------------------------

    def facts(self, key: str) -> str | None:
        """The file's :func:`facts_digest` (``""``: no summary, the file ended in FLX900), or None."""
        value = self._get("facts", key)
        return value if isinstance(value, str) else None

    def summary(self, key: str) -> tuple[FileSummary, str] | Diagnostic | None:
        """A file's ``ast`` stage: summary and gate sketch (:func:`sketch_text`), or its FLX900 finding."""
        entry = self._get("summaries", key)
        if not isinstance(entry, dict):
            return None
        if "error" in entry:
            return diagnostic_from_json(entry["error"])
        sketch = entry.get("sketch")
        return (summary_from_json(entry), sketch) if isinstance(sketch, str) else None

    def store_summary(self, key: str, value: tuple[FileSummary, str] | Diagnostic) -> str:
        """Keep a file's ``ast`` stage; returns its facts digest (``""`` for an FLX900 finding)."""
        if isinstance(value, Diagnostic):
            self._put("summaries", key, {"error": diagnostic_to_json(value)})
            digest = ""
        else:
            summary, sketch = value
            self._put("summaries", key, {**summary_to_json(summary), "sketch": sketch})
            digest = facts_digest(summary)
        self.store_facts(key, digest)
        return digest

    def store_facts(self, key: str, digest: str) -> None:
        if self._get("facts", key) != digest:
            self._put("facts", key, digest)

    # -- results -----------------------------------------------------------------------------------

    def findings(self, key: str) -> list[Diagnostic] | None:
        entry = self._get("results", key)
        return None if not isinstance(entry, list) else [diagnostic_from_json(d) for d in entry]

    def all_findings(self, files: Sequence[tuple[str, str]]) -> list[Diagnostic] | None:
        """Every file's findings, for ``(file name, file key)`` pairs; None at the first file not cached.

        The warm path: the index digest comes from the facts store, then one lookup per file. Nothing is
        parsed and no summary is decoded.
        """
        facts: list[tuple[str, str]] = []
        for filename, key in files:
            digest = self.facts(key)
            if digest is None:
                return None
            facts.append((filename, digest))
        index = index_digest(facts)
        found: list[Diagnostic] = []
        for _, key in files:
            cached = self.findings(results_key(key, index))
            if cached is None:
                return None
            found.extend(cached)
        return found

    def store_findings(self, key: str, diagnostics: list[Diagnostic]) -> None:
        self._put("results", key, [diagnostic_to_json(d) for d in diagnostics])

    def save(self) -> None:
        """Write what changed; a cache that cannot be written is not an error (read-only checkouts)."""
        if not self._dirty:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            ignore = self.directory.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by flaxprec\n*\n", encoding="utf-8")
            for name in sorted(self._dirty):
                _store(self._paths[name], self._stores[name], self._used[name])
        except OSError:
            return
        self._dirty.clear()


def _load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            data = json.loads(file.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store(path: Path, data: dict[str, Any], used: dict[str, None]) -> None:
    merged = {**_load(path), **data}  # keep what a concurrent run added since we loaded
    for key in used:  # least recently used first: this run's entries go last, in the order of use
        if key in merged:
            merged[key] = merged.pop(key)
    excess = len(merged) - max(MAX_ENTRIES, 4 * len(used))
    for key in list(merged)[: max(excess, 0)]:  # never one of this run's (they are last)
        del merged[key]
    import tempfile  # only a run that writes pays for it (with shutil, random, ...)

    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(merged, file, separators=(",", ":"))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def summary_to_json(summary: FileSummary) -> dict[str, Any]:
    return {
        "module_name": summary.module_name,
        "imports": summary.imports.bindings,
        "classes": [
            {
                "qualname": c.qualname,
                "name": c.name,
                "bases": c.bases,
                "fields": c.fields,
                "init_positional": c.init_positional,
                "init_kwonly": c.init_kwonly,
                "has_init": c.has_init,
                "self_assigned": sorted(c.self_assigned),
                "self_dtype_reads": sorted(c.self_dtype_reads),
            }
            for c in summary.classes
        ],
    }


def summary_from_json(entry: dict[str, Any]) -> FileSummary:
    from flaxprec.imports import ImportMap
    from flaxprec.project import ClassSummary, FileSummary

    classes = [
        ClassSummary(
            qualname=c["qualname"],
            name=c["name"],
            bases=tuple(c["bases"]),
            fields=tuple(c["fields"]),
            init_positional=tuple(c["init_positional"]),
            init_kwonly=tuple(c["init_kwonly"]),
            has_init=c["has_init"],
            self_assigned=frozenset(c["self_assigned"]),
            self_dtype_reads=frozenset(c["self_dtype_reads"]),
        )
        for c in entry["classes"]
    ]
    return FileSummary(entry["module_name"], ImportMap(dict(entry["imports"])), classes)


# Sketches are stored as JSON arrays of their named tuples (:mod:`flaxprec.gate`), fields in declaration
# order, so that the codec needs no hand-kept field list (a changed gate.py changes the build id, and with
# it the cache directory, so rows of an older field order are never read). Fields annotated as tuples come
# back as tuples (JSON has only lists); ``calls`` and ``members`` hold rows of
# :class:`~flaxprec.gate.CallSketch` and :class:`~flaxprec.gate.Member`.


@functools.cache
def _tuple_fields(cls: Any) -> tuple[int, ...]:
    """The positions of a sketch type's tuple-typed fields."""
    annotations = cls.__annotations__  # typing.ForwardRef objects (the module has postponed annotations)
    return tuple(
        i
        for i, name in enumerate(cls._fields)
        if str(getattr(annotations[name], "__forward_arg__", annotations[name])).startswith("tuple")
    )


def sketch_text(statements: tuple[StatementSketch, ...]) -> str:
    """A gate sketch as compact JSON text: how the cache stores it and how workers send it back.

    Text, not nested lists: the summaries store then parses fast (one string per file), pickling it is a
    copy, and only the files that are analysed ever pay for :func:`sketch_from_text`.
    """
    return json.dumps(statements, separators=(",", ":"))


def sketch_from_text(text: str) -> tuple[StatementSketch, ...]:
    from flaxprec.gate import CallSketch, Member, StatementSketch

    def decoder(cls: Any) -> Any:
        inner = _tuple_fields(cls)

        def make(row: list[Any]) -> Any:
            for i in inner:
                row[i] = tuple(row[i])
            return cls._make(row)

        return make

    # Tuple fields holding rows of named tuples, by position; the other tuple fields hold plain values.
    names = StatementSketch._fields
    nested = {names.index("calls"): decoder(CallSketch), names.index("members"): decoder(Member)}
    plain = [i for i in _tuple_fields(StatementSketch) if i not in nested]
    statements = []
    for row in json.loads(text):
        for i, make in nested.items():
            row[i] = tuple(map(make, row[i]))
        for i in plain:
            row[i] = tuple(row[i])
        statements.append(StatementSketch._make(row))
    return tuple(statements)


def diagnostic_to_json(d: Diagnostic) -> dict[str, Any]:
    fix = None
    if d.fix is not None:
        text = None
        if d.fix.text is not None:
            text = [
                [e.location.row, e.location.column, e.end_location.row, e.end_location.column, e.content]
                for e in d.fix.text
            ]
        fix = {"title": d.fix.title, "applicability": d.fix.applicability.value, "text": text}
    return {
        "code": d.code,
        "name": d.name,
        "message": d.message,
        "filename": d.filename,
        "location": [d.location.row, d.location.column],
        "end_location": [d.end_location.row, d.end_location.column],
        "statement_row": d.statement_row,
        "fix": fix,
    }


def _fix_from_json(entry: dict[str, Any]) -> Fix:
    text = None
    if entry["text"] is not None:
        text = tuple(
            TextEdit(Location(a, b), Location(c, d), content) for a, b, c, d, content in entry["text"]
        )
    return Fix(entry["title"], Applicability(entry["applicability"]), (), text=text)


def diagnostic_from_json(entry: dict[str, Any]) -> Diagnostic:
    fix = entry["fix"]
    return Diagnostic(
        entry["code"],
        entry["name"],
        entry["message"],
        entry["filename"],
        location=Location(*entry["location"]),
        end_location=Location(*entry["end_location"]),
        statement_row=entry["statement_row"],
        fix=None if fix is None else _fix_from_json(fix),
    )
