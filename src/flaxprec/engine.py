"""The check pipeline: read -> ast stage -> index -> gate -> analyse -> rules -> positions.

Files are summarised with ``ast`` first (the project index, needed across files for custom Modules);
only the statements where a finding is possible are parsed with libcst (:mod:`flaxprec.gate`);
positions are computed only for files that have findings (a code generation each, see
:mod:`flaxprec.positions`). With ``jobs > 1`` both the
``ast`` stage and the libcst stage run in forked worker processes (:mod:`flaxprec.workers`); results are
the same in every mode.

A warm run (every file's class facts and findings cached) reads and hashes bytes, looks its findings up,
and stops: it parses nothing and imports neither the ``ast`` stage's modules nor libcst, which is why the
modules of the later stages are imported inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flaxprec.cache import (
    Cache,
    diagnostic_from_json,
    diagnostic_to_json,
    facts_digest,
    file_key,
    results_key,
    sketch_from_text,
    sketch_text,
)
from flaxprec.cache import (
    index_digest as cache_index_digest,
)
from flaxprec.deep import retry_when_deep
from flaxprec.diagnostics import ANALYSIS_ERROR, CallEdit, Diagnostic, Location, ReplaceNode, is_tool_error
from flaxprec.fix_guard import drop_target_fixes
from flaxprec.fix_text import attach_text_edits
from flaxprec.imports import module_name_for
from flaxprec.rules import Rule, RuleContext, all_rules, rule_by_code
from flaxprec.source_io import SourceError, SourceFile, read_source

if TYPE_CHECKING:
    import libcst as cst

    from flaxprec.analysis import FileModel, StatementPlaces
    from flaxprec.catalogue import Catalogue
    from flaxprec.gate import Slice, StatementSketch
    from flaxprec.positions import NodePositions, StatementPositions
    from flaxprec.project import FileSummary, ProjectIndex

PARSE_ERROR = ("FLX900", "syntax-error")
# Source (bytes) still to parse below which the ast stage stays serial: starting a pool of two costs ~20 ms
# and the stage runs at ~1 MB/s, so below ~50 kB a pool cannot pay for itself; 128 kB leaves a margin.
POOL_MIN_BYTES = 128 * 1024

Selector = Callable[[Rule, str], bool]
AstResult = tuple["FileSummary", "tuple[StatementSketch, ...]"]
FromWorker = tuple["FileSummary | Diagnostic", "str | None"]  # the sketch travels as JSON text


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
    # The sketch as JSON text, when it came from the cache or a worker: decoded by gate_sketch() only if
    # the file is analysed (most of a warm run's files never are).
    stored_sketch: str | None = field(default=None, repr=False)
    # cache.facts_digest of the summary ("": none; None: not computed, as a run without a cache never does)
    facts: str | None = field(default=None, repr=False)
    _key: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str | None:
        """The cache's file key: the file's bytes, name and module name (None for stdin text)."""
        if self._key is None and self.source is not None:
            self._key = file_key(self.source.raw, self.filename, self.module_name, self.is_package)
        return self._key

    def gate_sketch(self) -> tuple[StatementSketch, ...] | None:
        if self.sketch is None and self.stored_sketch is not None:
            self.sketch = sketch_from_text(self.stored_sketch)
        return self.sketch


class Checker:
    """Everything one run shares: the catalogue, the rule selection and per-rule settings.

    ``catalogue`` may be a zero-argument function: it is then called on first use, so that a run served
    entirely from the cache never reads the layer catalogue. ``jobs``: worker processes for the ast and
    libcst stages; ``cache``: per-file summaries and findings of earlier runs (``flaxprec check`` only).
    ``fix_texts``: give call-argument fixes their text edits while the tree is at hand (see
    flaxprec.fix_text); a run whose report shows no fix and that stores nothing in a cache can skip them.
    """

    def __init__(
        self,
        catalogue: Catalogue | Callable[[], Catalogue] | None = None,
        select: Selector = _select_default,
        context: RuleContext | None = None,
        cache: Cache | None = None,
        jobs: int = 1,
        fix_texts: bool = True,
    ) -> None:
        self._catalogue = catalogue
        self.select = select
        self.context = context if context is not None else RuleContext()
        self.cache = cache
        self.jobs = jobs
        self.fix_texts = fix_texts

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            from flaxprec.catalogue import load_catalogue

            self._catalogue = load_catalogue
        if callable(self._catalogue):
            self._catalogue = self._catalogue()
        return self._catalogue

    def rules_for(self, filename: str) -> list[Rule]:
        return [rule for rule in all_rules() if self.select(rule, filename)]

    # -- stages ------------------------------------------------------------------------------------

    def summarize(self, unit: Unit) -> None:
        """The ``ast`` stage of one unit (class summary and gate sketch), from the cache when it has it."""
        if unit.summary is None and unit.error is None and not self._summary_from_cache(unit):
            result = ast_stage(unit.text, unit.filename, unit.module_name, unit.is_package)
            if isinstance(result, Diagnostic):
                self._keep_ast_result(unit, result)
            else:
                self._keep_ast_result(unit, result[0], sketch=result[1])

    def _summary_from_cache(self, unit: Unit) -> bool:
        if self.cache is None or unit.key is None:
            return False
        cached = self.cache.summary(unit.key)
        if cached is None:
            return False
        if isinstance(cached, Diagnostic):
            unit.error, unit.facts = cached, ""
            return True
        unit.summary, unit.stored_sketch = cached
        unit.facts = self.cache.facts(unit.key)
        if unit.facts is None:  # the facts store lost a race with a concurrent run: recompute
            unit.facts = facts_digest(unit.summary)
            self.cache.store_facts(unit.key, unit.facts)
        return True

    def _keep_ast_result(
        self,
        unit: Unit,
        result: FileSummary | Diagnostic,
        sketch: tuple[StatementSketch, ...] | None = None,
        stored: str | None = None,
    ) -> None:
        """Attach a fresh ast stage to ``unit`` (the sketch as objects or as JSON text) and cache it."""
        if isinstance(result, Diagnostic):
            unit.error = result
        else:
            unit.summary, unit.sketch, unit.stored_sketch = result, sketch, stored
        if self.cache is None:
            return  # the facts digest keys cached results: nothing to compute without a cache
        if is_tool_error(result):  # may not happen again (memory): the next run tries the file anew
            unit.facts = ""
            return
        if unit.key is None:  # never cached itself, but its facts are part of the project's digest
            unit.facts = "" if unit.summary is None else facts_digest(unit.summary)
        elif unit.summary is None:
            unit.facts = self.cache.store_summary(unit.key, result)  # type: ignore[arg-type]
        else:
            if stored is None:
                stored = sketch_text(sketch or ())
            unit.facts = self.cache.store_summary(unit.key, (unit.summary, stored))

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
            drop_target_fixes(model.module, diagnostics)  # no fix rewrites what a statement binds
            locate(model.module, text, diagnostics, lines, model.places, texts=self.fix_texts)
        return diagnostics

    def gates(self, filename: str) -> frozenset[str] | None:
        """The gate predicates of the selected rules; None when one of them has none (no skipping)."""
        gates = {rule.gate for rule in self.rules_for(filename) if rule.check is not None}
        return None if None in gates else frozenset(gates)  # type: ignore[arg-type]

    def suspects(self, unit: Unit, index: ProjectIndex) -> tuple[bool, Slice | None]:
        """What libcst reads of ``unit`` (see :mod:`flaxprec.gate`): (False, None) nothing, the gate cleared
        it; (True, a slice) its suspect statements, or all of its statements but the module-level data
        when a selected rule has no gate; (True, None) the whole file."""
        from flaxprec.gate import plan, slice_source, without_data

        statements = unit.gate_sketch()
        if not statements:
            return True, None
        gates = self.gates(unit.filename)
        if gates is None:  # every statement is read, but module-level data tables only as stubs
            everything = without_data(statements)
            return True, None if everything is None else slice_source(unit.text, statements, everything)
        suspects = plan(statements, index, gates)
        if not suspects:
            return False, None
        return True, slice_source(unit.text, statements, suspects)  # type: ignore[arg-type]

    def diagnose(
        self, unit: Unit, index: ProjectIndex, sliced: bool = False
    ) -> tuple[FileModel | None, list[Diagnostic]]:
        """One file's findings after ``# noqa``; the model too, for the fixer (None if not analysed).

        ``sliced``: analyse only the statements the gate suspects (the model is then partial: a fixer
        must not use it). Findings are the same either way; tests/test_gate.py holds the gate to that.
        """
        from flaxprec.suppress import apply_noqa, mentions_noqa, parse_noqa

        if unit.error is not None:
            return None, self.selected_errors([unit.error])
        model: FileModel | Diagnostic | None = None
        found: list[Diagnostic] = []
        if self.might_flag(unit, index):
            analysed, piece = self.suspects(unit, index) if sliced else (True, None)
            if analysed:
                try:
                    analysis = self._libcst_stage(unit, index, piece)
                except (RecursionError, MemoryError) as error:
                    return None, [analysis_error(unit.filename, error)]
                if isinstance(analysis, Diagnostic):
                    return None, self.selected_errors([analysis])
                model, found = analysis

        def enabled(code: str) -> bool:
            rule = rule_by_code(code)
            return rule is not None and self.select(rule, unit.filename)

        # Directives matter when they may suppress a finding, or be reported unused (FLX901): tokenizing a
        # file for its comments costs more than analysing its suspect statements, so only the top-level
        # statements up to the lines that mention "noqa" are tokenized when the sketch tells where they start.
        if (found or enabled("FLX901")) and mentions_noqa(unit.text):
            sketch = unit.gate_sketch() if sliced else None
            starts = [statement.start for statement in sketch] if sketch is not None else None
            noqa = parse_noqa(unit.text, unit.filename, starts)
            kept, unused = apply_noqa(
                found, noqa, is_enabled=enabled, report_blanket=self.context.noqa_blanket_unused
            )
            found = kept + (unused if enabled("FLX901") else [])
        return model, sorted(found, key=Diagnostic.sort_key)

    @retry_when_deep
    def _libcst_stage(
        self, unit: Unit, index: ProjectIndex, piece: Slice | None
    ) -> tuple[FileModel, list[Diagnostic]] | Diagnostic:
        """The file model of ``unit`` (or of ``piece``) and the rules' findings, positions included; or the
        FLX900 finding. Redone on a large stack for a file too deeply nested for this one (flaxprec.deep)."""
        model = self.model(unit, index, piece)
        if isinstance(model, Diagnostic):
            return model
        if piece is not None:
            return model, self.run_rules(model, piece.text, piece.lines)
        return model, self.run_rules(model, unit.text)

    def selected_errors(self, errors: list[Diagnostic]) -> list[Diagnostic]:
        """FLX900 findings, unless the selection (or per-file-ignores) switches FLX900 off; FLX902 always
        (an error of the tool is not the user's to silence, as ruff's are not)."""
        rule = rule_by_code(PARSE_ERROR[0])
        return [
            e
            for e in errors
            if e.code == ANALYSIS_ERROR[0] or (rule is not None and self.select(rule, e.filename))
        ]

    def index_units(self, units: Sequence[Unit]) -> ProjectIndex:
        """The ast stage of every unit (cached, else parsed; in workers when allowed), then the index."""
        from flaxprec.project import ProjectIndex

        todo = [u for u in units if u.summary is None and u.error is None and not self._summary_from_cache(u)]
        results = self._ast_in_workers(todo)
        if results is None:
            for unit in todo:
                self.summarize(unit)
        else:
            for unit, (result, stored) in zip(todo, results, strict=True):
                self._keep_ast_result(unit, result, stored=stored)
        index = ProjectIndex(self.catalogue)
        for unit in units:
            if unit.summary is not None:
                index.add(unit.summary)
        return index

    def _ast_in_workers(self, todo: Sequence[Unit]) -> list[FromWorker] | None:
        """The ast stage of ``todo`` in forked workers, in order; None: do it serially instead.

        Workers send the sketch back as JSON text (cheap to pickle; the cache stores that text, and the
        libcst stage decodes it in its own workers), the summary as it is (small).
        """
        if self.jobs <= 1 or len(todo) < 2 or sum(len(u.text) for u in todo) < POOL_MIN_BYTES:
            return None
        from flaxprec.workers import fork_is_safe, fork_map

        if not fork_is_safe():
            return None
        import flaxprec.gate  # noqa: F401  # imported once here (with project), inherited by every worker

        order = sorted(range(len(todo)), key=lambda i: -len(todo[i].text))
        # libcst and the analysis (~0.3 s to import) are for the libcst stage's workers to inherit: imported
        # here while the ast workers run, once rather than in every worker.
        meanwhile = _import_libcst_stage if self.jobs > 1 else None
        results = fork_map(_ast_in_worker, todo, order, min(self.jobs, len(todo)), meanwhile)
        return None if results is None else [results[i] for i in range(len(todo))]

    def check_units(self, units: Sequence[Unit]) -> list[Diagnostic]:
        """Findings of every unit, in unit order: from the cache, else analysed (in parallel if allowed)."""
        cache = self.cache
        if cache is not None and all(unit.key is not None for unit in units):
            hit = cache.all_findings([(unit.filename, unit.key) for unit in units])  # type: ignore[misc]
            if hit is not None:
                return hit
        with _fewer_collections():
            return self._check_uncached(units)

    def _check_uncached(self, units: Sequence[Unit]) -> list[Diagnostic]:
        cache = self.cache
        index = self.index_units(units)
        digest = index_digest(units) if cache is not None else ""
        keys: list[str | None] = []
        found: list[list[Diagnostic] | None] = []
        for unit in units:
            key = results_key(unit.key, digest) if cache is not None and unit.key is not None else None
            keys.append(key)
            found.append(cache.findings(key) if cache is not None and key is not None else None)
        pending = [i for i, result in enumerate(found) if result is None]
        for i, result in zip(pending, self._analyse_all([units[i] for i in pending], index), strict=True):
            found[i] = result
            if cache is not None and keys[i] is not None and not any(map(is_tool_error, result)):
                cache.store_findings(keys[i], result)  # type: ignore[arg-type]
        if cache is not None:
            cache.save()
        return [d for result in found for d in result or ()]

    def _analyse_all(self, units: Sequence[Unit], index: ProjectIndex) -> list[list[Diagnostic]]:
        """Sliced analysis of ``units``; with ``jobs > 1`` in forked worker processes (same results)."""
        heavy = [u for u in units if u.error is None and self.might_flag(u, index)]
        results = None
        if self.jobs > 1 and len(heavy) >= 2:
            from flaxprec.workers import fork_is_safe, fork_map

            if fork_is_safe():
                import libcst  # noqa: F401  # imported once here, inherited by every forked worker

                # Largest files first: the pool's tail is then short.
                order = sorted(range(len(units)), key=lambda i: -len(units[i].text))
                workers = min(self.jobs, len(heavy))
                results = fork_map(_diagnose_in_worker, (self, index, units), order, workers)
        if results is None:  # serial, or a worker died (out of memory, killed): the same work here
            return [self.diagnose(unit, index, sliced=True)[1] for unit in units]
        return [results[i] for i in range(len(units))]

    # -- entry points ------------------------------------------------------------------------------

    def check_source(self, text: str, filename: str = "<stdin>") -> list[Diagnostic]:
        name = Path(filename).stem if filename != "<stdin>" else "__main__"
        return self.check_units([Unit(filename, text, name)])

    def check_paths(self, files: Iterable[Path], display: Callable[[Path], str] = str) -> list[Diagnostic]:
        units, errors = load_units(files, display)
        return sorted(self.selected_errors(errors) + self.check_units(units), key=Diagnostic.sort_key)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector runs every 100,000 allocations instead of 700 (forked workers too).

    A run allocates millions of syntax-tree nodes that die by reference counting, never in cycles (the
    engine keeps none around them: tests/test_engine_memory.py); the collector's frequent passes over
    them cost ~3% of the CPU. It still runs, so any cycle is freed. The old thresholds come back after.
    """
    import gc

    old = gc.get_threshold()
    gc.set_threshold(100_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _import_libcst_stage() -> None:
    """What the libcst stage's workers would each import on their first file: once here instead."""
    import libcst  # noqa: F401

    import flaxprec.analysis
    import flaxprec.apply_edits
    import flaxprec.call_rewrite
    import flaxprec.positions  # noqa: F401


def ast_stage(text: str, filename: str, module_name: str, is_package: bool) -> AstResult | Diagnostic:
    """Parse with the stdlib ``ast``, summarise the classes, sketch the calls; or the FLX900 finding.

    Code nested deeper than CPython's parser takes is FLX900 too; deep code it takes is read on a large
    stack when this one is too small, and FLX902 if even that fails (see :mod:`flaxprec.deep`).
    """
    from flaxprec.deep import parse_python
    from flaxprec.gate import read_tree

    try:
        tree = parse_python(text, filename)
    except (SyntaxError, ValueError) as error:
        return parse_error(filename, error)
    try:
        return retry_when_deep(read_tree)(tree, module_name, is_package, text)
    except (RecursionError, MemoryError) as error:
        return analysis_error(filename, error)


def _ast_in_worker(units: Sequence[Unit], position: int) -> FromWorker:
    """Runs in a forked worker: one unit's ast stage, the sketch as JSON text (see _ast_in_workers)."""
    unit = units[position]
    result = ast_stage(unit.text, unit.filename, unit.module_name, unit.is_package)
    if isinstance(result, Diagnostic):
        return result, None
    return result[0], sketch_text(result[1])


def _diagnose_in_worker(
    work: tuple[Checker, ProjectIndex, Sequence[Unit]], position: int
) -> list[Diagnostic]:
    """Runs in a forked worker: analyse one unit and return plain findings (no syntax tree crosses)."""
    checker, index, units = work
    found = checker.diagnose(units[position], index, sliced=True)[1]
    return [diagnostic_from_json(diagnostic_to_json(d)) for d in found]


def index_digest(units: Sequence[Unit]) -> str:
    """The project's class-level facts digest (:func:`flaxprec.cache.index_digest`) of indexed units."""
    return cache_index_digest((unit.filename, unit.facts or "") for unit in units)


def load_units(
    files: Iterable[Path], display: Callable[[Path], str] = str
) -> tuple[list[Unit], list[Diagnostic]]:
    """Read every file; one that cannot be read or decoded becomes an FLX900 finding, not a crash.

    Only regular files are opened (a link to ``/dev/zero`` or a FIFO would never end). The message gives
    the reason alone: the finding already names the file, by the name it was walked or given by.
    """
    from flaxprec.discover import require_regular_file

    units: list[Unit] = []
    errors: list[Diagnostic] = []
    for path in files:
        try:
            require_regular_file(path)
            source = read_source(path)
        except SourceError as error:
            errors.append(Diagnostic(*PARSE_ERROR, f"Failed to read: {error.message}", display(path)))
            continue
        except OSError as error:
            reason = error.strerror or str(error)
            errors.append(Diagnostic(*PARSE_ERROR, f"Failed to read: {reason}", display(path)))
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
    module: cst.Module,
    text: str,
    diagnostics: Iterable[Diagnostic],
    lines: tuple[int, ...] | None = None,
    places: StatementPlaces | None = None,
    texts: bool = True,
) -> None:
    """Fill in 1-based rows and columns from libcst's positions (computed once, for this file only).

    ``lines`` maps the rows of a slice back to the file's rows (columns are unchanged: whole lines).
    ``places`` (the analysis's): then only the statements holding the findings are generated, when that
    tells every position a finding needs; else the whole module. ``texts``: attach the fixes' text edits.
    """

    def row(line: int) -> int:
        return lines[line - 1] if lines is not None else line

    diagnostics = list(diagnostics)
    positions = _positions(module, text, diagnostics, places, edits=texts)
    if texts:
        attach_text_edits(module, text, positions, diagnostics, row)
    for diagnostic in diagnostics:
        if diagnostic.node is not None and diagnostic.node in positions:
            span = positions[diagnostic.node]
            diagnostic.location = Location(row(span.start.line), span.start.column + 1)
            diagnostic.end_location = Location(row(span.end.line), span.end.column + 1)
        if diagnostic.statement_node is not None and diagnostic.statement_node in positions:
            diagnostic.statement_row = row(positions[diagnostic.statement_node].start.line)


def _positions(
    module: cst.Module,
    text: str,
    diagnostics: list[Diagnostic],
    places: StatementPlaces | None,
    edits: bool = True,
) -> NodePositions | StatementPositions:
    """PositionProvider's ranges of the nodes ``diagnostics`` name (with ``edits``, those their fixes edit
    too): for each finding, from the narrowest statement around it that tells all of its nodes (its own
    statement, else the class member holding it, else the top-level statement: a fix may edit elsewhere,
    as a tied embedding's lookups), else from the whole module.

    Each finding picks its own level: a statement whose code occurs twice in the file (the same line in
    an encoder and a decoder) sends only its own findings to the method around it.
    """
    # PositionProvider's ranges, without its cost
    from flaxprec.positions import CodeFinder, StatementPositions, node_positions, statement_positions

    if places is None:
        return node_positions(module)
    # A statement is generated on its own only with its exact indentation (a top-level one has none).
    own = {
        id(statement): statement
        for statement in (d.statement_node for d in diagnostics)
        if statement is not None
        and (id(statement) in places.indents or places.tops.get(id(statement)) is statement)
    }
    finder = CodeFinder(module, text)  # shared: placing thousands of statements stays linear in the text
    generated: dict[int, StatementPositions | None] = {}  # by statement id; None: not placed
    chosen: dict[int, StatementPositions] = {}
    for diagnostic in diagnostics:
        needed = list(_nodes(diagnostic, edits))
        for container in (own, places.members, places.tops):
            statement = container.get(id(diagnostic.statement_node))
            if statement is None:
                continue
            if id(statement) not in generated:
                generated[id(statement)] = statement_positions(module, finder, [statement], places.indents)
            found = generated[id(statement)]
            if found is not None and all(node in found for node in needed):
                chosen[id(found)] = found
                break
        else:
            return node_positions(module)
    return StatementPositions(module, [part for found in chosen.values() for part in found.parts])


def _nodes(diagnostic: Diagnostic, edits: bool = True) -> Iterator[cst.CSTNode]:
    """The nodes whose positions a finding needs: its own, its statement's, and (``edits``) those its fix
    edits."""
    yield from (n for n in (diagnostic.node, diagnostic.statement_node) if n is not None)
    for edit in diagnostic.fix.edits if edits and diagnostic.fix is not None else ():
        if isinstance(edit, CallEdit):
            yield edit.call
        elif isinstance(edit, ReplaceNode):
            yield edit.node


def parse_error(filename: str, error: SyntaxError | ValueError) -> Diagnostic:
    if isinstance(error, SyntaxError):
        row, column = error.lineno or 1, error.offset or 1
        message = f"Failed to parse: {error.msg}"
    else:
        row, column, message = 1, 1, f"Failed to parse: {error}"
    return Diagnostic(
        *PARSE_ERROR, message, filename, location=Location(row, column), end_location=Location(row, column)
    )


def analysis_error(filename: str, error: RecursionError | MemoryError) -> Diagnostic:
    """FLX902: the tool's walks of the file failed (too deeply nested even for a large stack, or out of
    memory); the file is not checked, the run goes on."""
    if isinstance(error, RecursionError):
        reason = "too deeply nested even for a large stack"
    else:
        reason = f"out of memory ({error})" if str(error) else "out of memory"
    message = f"Failed to analyse: {reason}; this file was not checked"
    location = Location(1, 1)
    return Diagnostic(*ANALYSIS_ERROR, message, filename, location=location, end_location=location)


def _libcst_error(filename: str, error: cst.ParserSyntaxError) -> Diagnostic:
    location = Location(error.raw_line, error.raw_column + 1)
    message = f"Failed to parse: {error.message}"
    return Diagnostic(*PARSE_ERROR, message, filename, location=location, end_location=location)
