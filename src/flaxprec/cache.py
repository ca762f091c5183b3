"""A content-addressed cache of per-file work, so that an unchanged tree is checked without parsing.

Two stores, each one JSON file written atomically (temporary file + ``os.replace``), so concurrent runs
never corrupt them; the worst a race does is drop the other run's new entries.

- ``summaries``: the ``ast`` summary of a file (the project index's input), keyed by the file's bytes and
  module name. With every summary cached, the index is rebuilt without parsing anything.
- ``results-<context>``: a file's findings, keyed by its bytes, its name and a digest of the whole project
  index (a finding can depend on a class defined in another file). ``context`` covers the tool build and
  the effective settings, so a different selection or config never reads stale findings.

Cached findings carry their fix's title and applicability but not its edits (those point into a syntax
tree); a report that shows edits asks the engine to analyse that file again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, Location, TextEdit
from flaxprec.gate import CallSketch, Member, StatementSketch
from flaxprec.imports import ImportMap
from flaxprec.project import ClassSummary, FileSummary

SCHEMA = 4


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


class Cache:
    """One run's view of the cache directory; call :meth:`save` at the end of the run."""

    def __init__(self, directory: Path, context: str) -> None:
        self.directory = directory / f"v{SCHEMA}-{build_id()}"
        self._summaries_path = self.directory / "summaries.json"
        self._results_path = self.directory / f"results-{context[:16]}.json"
        self.summaries: dict[str, Any] = _load(self._summaries_path)
        self.results: dict[str, Any] = _load(self._results_path)
        self._dirty: set[str] = set()

    # -- summaries ---------------------------------------------------------------------------------

    def summary(self, key: str) -> tuple[FileSummary, tuple[StatementSketch, ...]] | Diagnostic | None:
        """A file's ``ast`` stage: its summary and gate sketch, or the FLX900 finding it ended with."""
        entry = self.summaries.get(key)
        if entry is None:
            return None
        if "error" in entry:
            return diagnostic_from_json(entry["error"])
        return summary_from_json(entry), sketch_from_json(entry["sketch"])

    def store_summary(
        self, key: str, value: tuple[FileSummary, tuple[StatementSketch, ...]] | Diagnostic
    ) -> None:
        if isinstance(value, Diagnostic):
            self.summaries[key] = {"error": diagnostic_to_json(value)}
        else:
            self.summaries[key] = {**summary_to_json(value[0]), "sketch": sketch_to_json(value[1])}
        self._dirty.add("summaries")

    # -- results -----------------------------------------------------------------------------------

    def findings(self, key: str) -> list[Diagnostic] | None:
        entry = self.results.get(key)
        return None if entry is None else [diagnostic_from_json(d) for d in entry]

    def store_findings(self, key: str, diagnostics: list[Diagnostic]) -> None:
        self.results[key] = [diagnostic_to_json(d) for d in diagnostics]
        self._dirty.add("results")

    def save(self) -> None:
        """Write what changed; a cache that cannot be written is not an error (read-only checkouts)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            ignore = self.directory.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by flaxprec\n*\n", encoding="utf-8")
            if "summaries" in self._dirty:
                _store(self._summaries_path, self.summaries)
            if "results" in self._dirty:
                _store(self._results_path, self.results)
        except OSError:
            return


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store(path: Path, data: dict[str, Any]) -> None:
    merged = {**_load(path), **data}  # keep what a concurrent run added since we loaded
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


def sketch_to_json(statements: tuple[StatementSketch, ...]) -> list[Any]:
    return [
        [
            s.start,
            s.end,
            s.kind,
            s.name,
            s.attend,
            [list(dataclasses.astuple(c)) for c in s.calls],
            list(s.huge_owners),
            list(s.bases),
            [list(dataclasses.astuple(m)) for m in s.members],
        ]
        for s in statements
    ]


def sketch_from_json(entry: list[Any]) -> tuple[StatementSketch, ...]:
    return tuple(
        StatementSketch(
            start,
            end,
            kind,
            name,
            tuple(CallSketch(callee, tuple(keywords), *rest) for callee, keywords, *rest in calls),
            attend,
            tuple(huge_owners),
            tuple(bases),
            tuple(Member(*m) for m in members),
        )
        for start, end, kind, name, attend, calls, huge_owners, bases, members in entry
    )


def diagnostic_to_json(d: Diagnostic) -> dict[str, Any]:
    fix = None
    if d.fix is not None:
        text = None
        if d.fix.text is not None:
            text = [
                [*dataclasses.astuple(e.location), *dataclasses.astuple(e.end_location), e.content]
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
