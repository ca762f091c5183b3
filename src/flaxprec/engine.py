"""The check pipeline: read -> gate -> index -> analyse -> rules -> positions.

Files are summarised with ``ast`` first (the project index, needed across files for custom Modules);
only files where a finding is possible are parsed with libcst; positions are computed only for files
that have findings (position metadata costs several parses' worth of time).
"""

from __future__ import annotations

import ast
import hashlib
import json
import multiprocessing
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flaxprec.cache import Cache, content_key, diagnostic_from_json, diagnostic_to_json, summary_to_json
from flaxprec.catalogue import Catalogue, load_catalogue
from flaxprec.diagnostics import Diagnostic, Location
from flaxprec.fix_text import attach_text_edits
from flaxprec.gate import Slice, StatementSketch, plan, read_tree, slice_source
from flaxprec.imports import module_name_for
from flaxprec.project import FileSummary, ProjectIndex
from flaxprec.rules import Rule, RuleContext, all_rules, rule_by_code
from flaxprec.source_io import SourceError, SourceFile, read_source
from flaxprec.suppress import apply_noqa, parse_noqa

if TYPE_CHECKING:
    import libcst as cst

    from flaxprec.analysis import FileModel

PARSE_ERROR = ("FLX900", "syntax-error")

Selector = Callable[[Rule, str], bool]


def _select_default(rule: Rule, filename: str) -> bool:
    return rule.default_on


@dataclass
class Unit:
    """One file (or stdin text) going through the pipeline."""

    filename: str
    text: str
    module_name: str
    is_package: bool = False
    summary: FileSummary | None = None
    sketch: tuple[StatementSketch, ...] | None = None  # the gate's view of the file (from the ast stage)
    error: Diagnostic | None = None
    source: SourceFile | None = None  # how to write the file back (None for stdin)


@dataclass
class Checker:
    """Everything one run shares: the catalogue, the rule selection and per-rule settings."""

    catalogue: Catalogue = field(default_factory=load_catalogue)
    select: Selector = _select_default
    context: RuleContext = field(default_factory=RuleContext)
    cache: Cache | None = None  # per-file summaries and findings of earlier runs (``flaxprec check`` only)
    jobs: int = 1  # worker processes for the libcst stage

    def rules_for(self, filename: str) -> list[Rule]:
        return [rule for rule in all_rules() if self.select(rule, filename)]

    # -- stages ------------------------------------------------------------------------------------

    def summarize(self, unit: Unit) -> None:
        """The ``ast`` stage: class summaries for the index; a syntax error ends the file's journey here."""
        if unit.summary is not None or unit.error is not None:
            return  # done already (an index is rebuilt from the same units, e.g. for fix previews)
        key = None
        if self.cache is not None and unit.source is not None:
            key = content_key(unit.source.raw, unit.filename, unit.module_name, str(unit.is_package))
            cached = self.cache.summary(key)
            if isinstance(cached, Diagnostic):
                unit.error = cached
                return
            if cached is not None:
                unit.summary, unit.sketch = cached
                return
        try:
            with warnings.catch_warnings():  # invalid escapes etc. are the checked code's business, not ours
                warnings.simplefilter("ignore")
                tree = ast.parse(unit.text, filename=unit.filename)
        except (SyntaxError, ValueError) as error:
            unit.error = parse_error(unit.filename, error)
        else:
            unit.summary, unit.sketch = read_tree(tree, unit.module_name, unit.is_package)
        if key is not None and self.cache is not None:
            self.cache.store_summary(key, unit.error or (unit.summary, unit.sketch))  # type: ignore[arg-type]

    def might_flag(self, unit: Unit, index: ProjectIndex) -> bool:
        """Cheap gate: a file that names neither flax nor a project Module cannot produce a finding."""
        if "flax" in unit.text:
            return True
        summary = unit.summary
        if summary is None:
            return False
        if any(index.facts(cls.qualname) for cls in summary.classes):
            return True
        return any(index.facts(target) for target in summary.imports.bindings.values())

    def model(self, unit: Unit, index: ProjectIndex, piece: Slice | None = None) -> FileModel | Diagnostic:
        """The libcst file model of the whole file, or of ``piece`` of it (see :mod:`flaxprec.gate`)."""
        import libcst as cst  # lazily: a warm run (everything cached) never builds a syntax tree

        from flaxprec.analysis import analyse

        try:
            if piece is not None:
                module = cst.parse_module(piece.text)
            else:
                # SourceFile.parse guarantees that printing the tree gives the file's bytes back.
                module = unit.source.parse() if unit.source is not None else cst.parse_module(unit.text)
        except cst.ParserSyntaxError as error:
            if piece is not None:
                return self.model(unit, index)  # let the whole file say where it breaks
            return _libcst_error(unit.filename, error)
        except SourceError as error:
            return Diagnostic(*PARSE_ERROR, f"Failed to parse: {error}", unit.filename)
        return analyse(module, unit.filename, unit.module_name, index, self.catalogue, unit.is_package)

    def run_rules(
        self, model: FileModel, text: str, lines: tuple[int, ...] | None = None
    ) -> list[Diagnostic]:
        """The selected rules on ``model``, parsed from ``text`` (rows of a slice map back by ``lines``)."""
        rules = [rule for rule in self.rules_for(model.filename) if rule.check is not None]
        diagnostics = [d for rule in rules for d in rule.check(model, self.context)]
        if diagnostics:
            locate(model.module, text, diagnostics, lines)
        return diagnostics

    def gates(self, filename: str) -> frozenset[str] | None:
        """The gate predicates of the selected rules; None when one of them has none (no skipping)."""
        gates = {rule.gate for rule in self.rules_for(filename) if rule.check is not None}
        return None if None in gates else frozenset(gates)  # type: ignore[arg-type]

    def diagnose(
        self, unit: Unit, index: ProjectIndex, sliced: bool = False
    ) -> tuple[FileModel | None, list[Diagnostic]]:
        """One file's findings after ``# noqa``; the model too, for the fixer (None if not analysed).

        ``sliced``: analyse only the statements the gate suspects (the model is then partial: a fixer
        must not use it). Findings are the same either way; tests/test_gate.py holds the gate to that.
        """
        if unit.error is not None:
            return None, self.selected_errors([unit.error])
        model: FileModel | Diagnostic | None = None
        found: list[Diagnostic] = []
        if self.might_flag(unit, index):
            piece = None
            gates = self.gates(unit.filename) if sliced and unit.sketch else None
            suspects = plan(unit.sketch, index, gates) if gates is not None else None  # type: ignore[arg-type]
            if suspects is not None:
                piece = slice_source(unit.text, unit.sketch, suspects) if suspects else None  # type: ignore[arg-type]
            if suspects is None or piece is not None:
                model = self.model(unit, index, piece)
                if isinstance(model, Diagnostic):
                    return None, self.selected_errors([model])
                if piece is not None:
                    found = self.run_rules(model, piece.text, piece.lines)
                else:
                    found = self.run_rules(model, unit.text)
        if found or "noqa" in unit.text:

            def enabled(code: str) -> bool:
                rule = rule_by_code(code)
                return rule is not None and self.select(rule, unit.filename)

            kept, unused = apply_noqa(found, parse_noqa(unit.text, unit.filename), is_enabled=enabled)
            found = kept + (unused if enabled("FLX901") else [])
        return model, sorted(found, key=Diagnostic.sort_key)

    def selected_errors(self, errors: list[Diagnostic]) -> list[Diagnostic]:
        """FLX900 findings, unless the selection (or per-file-ignores) switches FLX900 off."""
        rule = rule_by_code(PARSE_ERROR[0])
        return [e for e in errors if rule is not None and self.select(rule, e.filename)]

    def index_units(self, units: Sequence[Unit]) -> ProjectIndex:
        index = ProjectIndex(self.catalogue)
        for unit in units:
            self.summarize(unit)
            if unit.summary is not None:
                index.add(unit.summary)
        return index

    def check_units(self, units: Sequence[Unit]) -> list[Diagnostic]:
        """Findings of every unit, in unit order: from the cache, else analysed (in parallel if allowed)."""
        index = self.index_units(units)
        cache = self.cache
        digest = index_digest(units) if cache is not None else ""
        keys: list[str | None] = []
        found: list[list[Diagnostic] | None] = []
        for unit in units:
            key = None
            if cache is not None and unit.source is not None:
                key = content_key(unit.source.raw, unit.filename, digest)
            keys.append(key)
            found.append(cache.findings(key) if cache is not None and key is not None else None)
        pending = [i for i, result in enumerate(found) if result is None]
        for i, result in zip(pending, self._analyse_all([units[i] for i in pending], index), strict=True):
            found[i] = result
            if cache is not None and keys[i] is not None:
                cache.store_findings(keys[i], result)  # type: ignore[arg-type]
        if cache is not None:
            cache.save()
        return [d for result in found for d in result or ()]

    def _analyse_all(self, units: Sequence[Unit], index: ProjectIndex) -> list[list[Diagnostic]]:
        """Sliced analysis of ``units``; with ``jobs > 1`` in forked worker processes (same results)."""
        heavy = [u for u in units if u.error is None and self.might_flag(u, index)]
        if self.jobs <= 1 or len(heavy) < 2 or not _fork_is_safe():
            return [self.diagnose(unit, index, sliced=True)[1] for unit in units]
        import libcst  # noqa: F401  # imported once here, inherited by every forked worker

        global _WORK
        _WORK = (self, index, units)
        try:
            context = multiprocessing.get_context("fork")
            workers = min(self.jobs, len(heavy))
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                # Largest files first: the pool's tail is then short.
                order = sorted(range(len(units)), key=lambda i: -len(units[i].text))
                chunks = pool.map(_diagnose_in_worker, order, chunksize=1)
                results: dict[int, list[Diagnostic]] = dict(zip(order, chunks, strict=True))
        except (BrokenProcessPool, OSError):
            # A worker died (out of memory, killed): the same work, serially, rather than no answer.
            return [self.diagnose(unit, index, sliced=True)[1] for unit in units]
        finally:
            _WORK = None
        return [results[i] for i in range(len(units))]

    # -- entry points ------------------------------------------------------------------------------

    def check_source(self, text: str, filename: str = "<stdin>") -> list[Diagnostic]:
        name = Path(filename).stem if filename != "<stdin>" else "__main__"
        return self.check_units([Unit(filename, text, name)])

    def check_paths(self, files: Iterable[Path], display: Callable[[Path], str] = str) -> list[Diagnostic]:
        units, errors = load_units(files, display)
        return sorted(self.selected_errors(errors) + self.check_units(units), key=Diagnostic.sort_key)


_WORK: tuple[Checker, ProjectIndex, Sequence[Unit]] | None = None  # what forked workers inherit


def _fork_is_safe() -> bool:
    """Forking a multithreaded process can deadlock the child: only fork a single-threaded one.

    ``flaxprec check`` never imports jax, but a caller embedding the engine (a test, a notebook) may have.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return threading.active_count() == 1 and not any(m in sys.modules for m in ("jax", "torch", "tensorflow"))


def _diagnose_in_worker(position: int) -> list[Diagnostic]:
    """Runs in a forked worker: analyse one unit and return plain findings (no syntax tree crosses)."""
    assert _WORK is not None
    checker, index, units = _WORK
    found = checker.diagnose(units[position], index, sliced=True)[1]
    return [diagnostic_from_json(diagnostic_to_json(d)) for d in found]


def index_digest(units: Sequence[Unit]) -> str:
    """Digest of every class-level fact of the tree: what one file's findings may depend on elsewhere.

    Editing a method body leaves it unchanged, so the other files' cached findings stay valid.
    """
    digest = hashlib.sha256()
    for unit in sorted(units, key=lambda u: u.filename):
        if unit.summary is not None:
            digest.update(json.dumps(summary_to_json(unit.summary), sort_keys=True).encode())
    return digest.hexdigest()


def load_units(
    files: Iterable[Path], display: Callable[[Path], str] = str
) -> tuple[list[Unit], list[Diagnostic]]:
    """Read every file; one that cannot be read or decoded becomes an FLX900 finding, not a crash."""
    units: list[Unit] = []
    errors: list[Diagnostic] = []
    for path in files:
        try:
            source = read_source(path)
        except (OSError, SourceError) as error:
            errors.append(Diagnostic(*PARSE_ERROR, f"Failed to read: {error}", display(path)))
            continue
        unit = Unit(display(path), source.text, module_name_for(path), is_package=path.name == "__init__.py")
        unit.source = source
        units.append(unit)
    return units, errors


def check_source(text: str, filename: str = "<stdin>") -> list[Diagnostic]:
    """Diagnostics for one source text with the default rule selection."""
    return Checker().check_source(text, filename)


def check_paths(paths: Sequence[Path]) -> list[Diagnostic]:
    """Diagnostics for files and directories (walked with the default discovery settings)."""
    from flaxprec.discover import Discovery

    return Checker().check_paths(Discovery().files(paths))


def locate(
    module: cst.Module, text: str, diagnostics: Iterable[Diagnostic], lines: tuple[int, ...] | None = None
) -> None:
    """Fill in 1-based rows and columns from libcst's positions (computed once, for this file only).

    ``lines`` maps the rows of a slice back to the file's rows (columns are unchanged: whole lines).
    """
    from flaxprec.positions import node_positions  # PositionProvider's ranges, without its cost

    def row(line: int) -> int:
        return lines[line - 1] if lines is not None else line

    positions = node_positions(module)
    diagnostics = list(diagnostics)
    attach_text_edits(module, text, positions, diagnostics, row)
    for diagnostic in diagnostics:
        if diagnostic.node is not None and diagnostic.node in positions:
            span = positions[diagnostic.node]
            diagnostic.location = Location(row(span.start.line), span.start.column + 1)
            diagnostic.end_location = Location(row(span.end.line), span.end.column + 1)
        if diagnostic.statement_node is not None and diagnostic.statement_node in positions:
            diagnostic.statement_row = row(positions[diagnostic.statement_node].start.line)


def parse_error(filename: str, error: SyntaxError | ValueError) -> Diagnostic:
    if isinstance(error, SyntaxError):
        row, column = error.lineno or 1, error.offset or 1
        message = f"Failed to parse: {error.msg}"
    else:
        row, column, message = 1, 1, f"Failed to parse: {error}"
    return Diagnostic(
        *PARSE_ERROR, message, filename, location=Location(row, column), end_location=Location(row, column)
    )


def _libcst_error(filename: str, error: cst.ParserSyntaxError) -> Diagnostic:
    location = Location(error.raw_line, error.raw_column + 1)
    message = f"Failed to parse: {error.message}"
    return Diagnostic(*PARSE_ERROR, message, filename, location=location, end_location=location)
