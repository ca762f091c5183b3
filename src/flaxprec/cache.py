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
Nor may it crash the run or change its answer: a store file starts with the SHA-256 of the rest (its JSON
payload), and a store that is missing, unreadable, not a regular file, fails that checksum or does not
decode is empty (and written anew on save). A bit flipped on disk is then a miss, never a wrong finding.
An entry is checked against the shape its decoder expects (the type of every field) when it is read; one
that does not match is a miss too (:func:`sketch_from_text` checks sketches, which the engine decodes
lazily, and returns None for a bad one: the engine then analyses the whole file, as without a sketch).
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
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, Location, TextEdit

if TYPE_CHECKING:  # the summary types come with the ast stage's modules; a warm run never needs them
    from flaxprec.gate import StatementSketch
    from flaxprec.project import FileSummary

SCHEMA = 7
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
        self._written: dict[str, set[str]] = {name: set() for name in self._paths}

    def _get(self, name: str, key: str) -> Any:
        self._used[name][key] = None
        return self._store(name).get(key)

    def _put(self, name: str, key: str, value: Any) -> None:
        self._used[name][key] = None
        self._written[name].add(key)
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
        return value if type(value) is str else None

    def summary(self, key: str) -> tuple[FileSummary, str] | Diagnostic | None:
        """A file's ``ast`` stage: summary and gate sketch (:func:`sketch_text`), or its FLX900 finding.

        None for an entry of the wrong shape, as for a missing one. The sketch stays text: it is checked
        when :func:`sketch_from_text` decodes it, only for the files that are analysed.
        """
        entry = self._get("summaries", key)
        if type(entry) is not dict:
            return None
        if entry.keys() == {"error"}:
            error = entry["error"]
            return diagnostic_from_json(error) if _is_diagnostic(error) else None
        if not _is_summary(entry):
            return None
        return summary_from_json(entry), entry["sketch"]

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
        """A file's cached findings, or None (also for an entry of the wrong shape)."""
        entry = self._get("results", key)
        if type(entry) is not list or not all(map(_is_diagnostic, entry)):
            return None
        return [diagnostic_from_json(d) for d in entry]

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
        """Write what changed; a cache that cannot be written is not an error (read-only checkouts), nor
        is a store that cannot (a folder in its place): the others are written all the same."""
        if not self._dirty:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            ignore = self.directory.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by flaxprec\n*\n", encoding="utf-8")
        except OSError:
            return
        for name in sorted(self._dirty):
            try:
                _store(self._paths[name], self._stores[name], self._used[name], self._written[name])
            except OSError:
                continue
            self._dirty.discard(name)


# A store file: the SHA-256 of its payload in hex, a newline, then the payload (a JSON object).
_CHECKSUM_SIZE = 64


def encode_store(entries: dict[str, Any]) -> bytes:
    """A store file's bytes: the payload's checksum line, then the entries as compact JSON."""
    payload = json.dumps(entries, separators=(",", ":")).encode()
    return hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def decode_store(data: bytes) -> dict[str, Any]:
    """A store file's entries; empty unless its checksum holds and its payload is a JSON object.

    The checksum goes first: bytes that fail it are never decoded. A payload nested too deep for ``json``
    (RecursionError) is empty too.
    """
    payload = data[_CHECKSUM_SIZE + 1 :]
    if data[_CHECKSUM_SIZE : _CHECKSUM_SIZE + 1] != b"\n":
        return {}
    if hashlib.sha256(payload).hexdigest().encode() != data[:_CHECKSUM_SIZE]:
        return {}
    try:
        entries = json.loads(payload)
    except (ValueError, RecursionError):
        return {}
    return entries if type(entries) is dict else {}


def _load(path: Path) -> dict[str, Any]:
    """A store's entries; empty for one that is missing, unreadable, not a regular file or fails to verify.

    Opened without blocking and checked with ``fstat``: a FIFO or a device (``/dev/zero``) in its place must
    neither hang the run nor fill its memory.
    """
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return {}
    try:
        with open(handle, "rb") as file:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                return {}
            data = file.read()
    except OSError:
        return {}
    return decode_store(data)


def _store(path: Path, data: dict[str, Any], used: dict[str, None], written: set[str]) -> None:
    merged = {**_load(path), **data}  # keep what a concurrent run added since we loaded
    for key in used:  # least recently used first: this run's entries go last, in the order of use
        if key in merged:
            merged[key] = merged.pop(key)
    excess = len(merged) - max(MAX_ENTRIES, 4 * len(used))
    for key in list(merged)[: max(excess, 0)]:  # never one of this run's (they are last)
        del merged[key]
    try:
        content = encode_store(merged)
    except RecursionError:
        # An entry nested close to the interpreter's limit decoded, but does not encode from deeper in the
        # stack (a hand-made store: flaxprec nests a few levels): keep only the entries this run wrote.
        content = encode_store({key: data[key] for key in used if key in written})
    import tempfile  # only a run that writes pays for it (with shutil, random, ...)

    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
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
                "quantized": sorted(c.quantized),
                "normalises": c.normalises,
                "dtype_uses": [list(use) for use in c.dtype_uses],
            }
            for c in summary.classes
        ],
    }


def summary_from_json(entry: dict[str, Any]) -> FileSummary:
    from flaxprec.imports import ImportMap
    from flaxprec.project import ClassSummary, FileSummary
    from flaxprec.roles import DtypeUse

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
            quantized=frozenset(c["quantized"]),
            normalises=c["normalises"],
            dtype_uses=tuple(DtypeUse(*use) for use in c["dtype_uses"]),
        )
        for c in entry["classes"]
    ]
    return FileSummary(entry["module_name"], ImportMap(dict(entry["imports"])), classes)


# Sketches are stored as JSON arrays of their named tuples (:mod:`flaxprec.gate`), fields in declaration
# order, so that the codec needs no hand-kept field list (a changed gate.py changes the build id, and with
# it the cache directory, so rows of an older field order are never read). Each field is read as its
# annotation says: plain values are checked by type, fields annotated as tuples come back as tuples (JSON
# has only lists), and ``tuple[CallSketch, ...]`` or ``tuple[Member, ...]`` hold rows of those types.

_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),  # type() is compared, not isinstance: JSON's true is no row number
    "bool": (bool,),
    "str": (str,),
    "str | None": (str, type(None)),
}


class _BadRow(Exception):
    """A sketch row without the shape of its named tuple."""


@functools.cache
def _row_reader(cls: Any) -> Callable[[Any], Any]:
    """Reads a JSON row into a named tuple of :mod:`flaxprec.gate`, checking every field; raises _BadRow.

    Reuses the row's list. An annotation without a reader here is a programming error (a new kind of field
    in gate.py): TypeError, which tests/test_cache.py's round trip of a sketch meets first.
    """
    import itertools

    from flaxprec import gate

    field_types: list[tuple[type, ...]] = []  # of each field's JSON value
    plain_tuples: list[tuple[int, frozenset[type]]] = []
    nested: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(cls._fields):
        annotation = cls.__annotations__[name]  # ForwardRef objects (gate.py has postponed annotations)
        text = str(getattr(annotation, "__forward_arg__", annotation))
        item = text.removeprefix("tuple[").removesuffix(", ...]")
        if text in _PLAIN_TYPES:
            field_types.append(_PLAIN_TYPES[text])
            continue
        if item == text:
            raise TypeError(f"the cache cannot read {cls.__name__}.{name}: {text}")
        field_types.append((list,))
        if item in _PLAIN_TYPES:
            plain_tuples.append((i, frozenset(_PLAIN_TYPES[item])))
        else:
            nested.append((i, _row_reader(getattr(gate, item))))
    # Every admissible sequence of field types (a few dozen: the optional fields'), so that a row's plain
    # fields are checked in one set lookup; sketches are decoded by the thousand.
    shapes = frozenset(itertools.product(*field_types))

    def read(row: Any) -> Any:
        if type(row) is not list or tuple(map(type, row)) not in shapes:
            raise _BadRow
        for i, types in plain_tuples:
            values = row[i]
            if values:
                if not types.issuperset(map(type, values)):
                    raise _BadRow
                row[i] = tuple(values)
            else:
                row[i] = ()
        for i, read_item in nested:
            row[i] = tuple(map(read_item, row[i]))
        return cls._make(row)

    return read


def sketch_text(statements: tuple[StatementSketch, ...]) -> str:
    """A gate sketch as compact JSON text: how the cache stores it and how workers send it back.

    Text, not nested lists: the summaries store then parses fast (one string per file), pickling it is a
    copy, and only the files that are analysed ever pay for :func:`sketch_from_text`.
    """
    return json.dumps(statements, separators=(",", ":"))


def sketch_from_text(text: str) -> tuple[StatementSketch, ...] | None:
    """The sketch :func:`sketch_text` wrote; None for text of another shape (a cache edited by hand).

    The engine then analyses the whole file, as it does for a file without a sketch: the gate only ever
    narrows what is analysed, so the findings are the same.
    """
    from flaxprec.gate import StatementSketch

    read = _row_reader(StatementSketch)
    try:
        rows = json.loads(text)
        return tuple(map(read, rows)) if type(rows) is list else None
    except (ValueError, RecursionError, _BadRow):
        return None


# What the decoders below expect, checked before they run (an entry of another shape is a miss).
_DIAGNOSTIC_FIELDS = frozenset(
    ("code", "name", "message", "filename", "location", "end_location", "statement_row", "fix")
)
_FIX_FIELDS = frozenset(("title", "applicability", "text"))
_APPLICABILITIES = frozenset(a.value for a in Applicability)
_SUMMARY_FIELDS = frozenset(("module_name", "imports", "classes", "sketch"))
_CLASS_NAME_LISTS = (
    "bases",
    "fields",
    "init_positional",
    "init_kwonly",
    "self_assigned",
    "self_dtype_reads",
    "quantized",
)
_CLASS_FIELDS = frozenset(("qualname", "name", "has_init", "normalises", "dtype_uses", *_CLASS_NAME_LISTS))


def _is_dtype_use(value: Any) -> bool:
    """``[key, target, slot, line, what]`` (flaxprec.roles.DtypeUse): the slot a keyword or an index."""
    return (
        type(value) is list
        and len(value) == 5
        and type(value[0]) is str
        and type(value[1]) is str
        and type(value[2]) in (str, int)
        and type(value[3]) is int
        and type(value[4]) is str
    )


def _is_strings(value: Any) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


def _is_location(value: Any) -> bool:
    return type(value) is list and len(value) == 2 and type(value[0]) is int and type(value[1]) is int


def _is_text_edit(value: Any) -> bool:
    return (
        type(value) is list
        and len(value) == 5
        and all(type(number) is int for number in value[:4])
        and type(value[4]) is str
    )


def _is_fix(value: Any) -> bool:
    if type(value) is not dict or value.keys() != _FIX_FIELDS:
        return False
    applicability, text = value["applicability"], value["text"]
    return (
        type(value["title"]) is str
        and type(applicability) is str
        and applicability in _APPLICABILITIES
        and (text is None or (type(text) is list and all(map(_is_text_edit, text))))
    )


def _is_diagnostic(entry: Any) -> bool:
    """Whether ``entry`` has the shape :func:`diagnostic_to_json` gives it, every field's type included."""
    if type(entry) is not dict or entry.keys() != _DIAGNOSTIC_FIELDS:
        return False
    row, fix = entry["statement_row"], entry["fix"]
    return (
        type(entry["code"]) is str
        and type(entry["name"]) is str
        and type(entry["message"]) is str
        and type(entry["filename"]) is str
        and _is_location(entry["location"])
        and _is_location(entry["end_location"])
        and (row is None or type(row) is int)
        and (fix is None or _is_fix(fix))
    )


def _is_class(entry: Any) -> bool:
    return (
        type(entry) is dict
        and entry.keys() == _CLASS_FIELDS
        and type(entry["qualname"]) is str
        and type(entry["name"]) is str
        and type(entry["has_init"]) is bool
        and type(entry["normalises"]) is bool
        and all(_is_strings(entry[name]) for name in _CLASS_NAME_LISTS)
        and type(entry["dtype_uses"]) is list
        and all(_is_dtype_use(use) for use in entry["dtype_uses"])
    )


def _is_summary(entry: dict[str, Any]) -> bool:
    """Whether a summaries entry has the shape :meth:`Cache.store_summary` gives a summary and its sketch
    (the sketch as text: :func:`sketch_from_text` checks it when it is decoded)."""
    if entry.keys() != _SUMMARY_FIELDS:
        return False
    imports, classes = entry["imports"], entry["classes"]
    return (
        type(entry["module_name"]) is str
        and type(entry["sketch"]) is str
        and type(imports) is dict
        and all(type(target) is str for target in imports.values())  # JSON object keys are strings
        and type(classes) is list
        and all(map(_is_class, classes))
    )


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
