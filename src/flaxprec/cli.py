"""The ``flaxprec`` command line (click).

The engine is imported inside the commands so that ``flaxprec --help`` stays cheap; jax/flax are imported
by ``audit`` alone. Exit codes follow ruff: 0 clean, 1 findings (or a diff for ``fix``), 2 usage or
configuration error, or a file the tool failed to analyse (FLX902).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flaxprec import __version__

if TYPE_CHECKING:
    from flaxprec.analysis import FileModel
    from flaxprec.cache import Cache
    from flaxprec.catalogue import Catalogue
    from flaxprec.config import Settings
    from flaxprec.diagnostics import Diagnostic
    from flaxprec.engine import Checker, Unit
    from flaxprec.source_io import SourceFile

OUTPUT_FORMATS = ("concise", "full", "json", "json-lines", "github", "sarif")
DOCS_URL = "https://github.com/flaxprec/flaxprec/blob/main/rules/{code}.md"


class _Commands(click.Group):
    """The command group; ``audit`` (the jax-facing command) is imported only when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "audit"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "audit" and name not in self.commands:
            from flaxprec.audit.command import audit

            self.add_command(audit)
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flaxprec")
def main() -> None:
    """Mixed-precision linter and codemod for Flax: float32 parameters, half-precision computation."""


def run() -> None:
    """The console script (and ``python -m flaxprec``): :func:`main`, then an exit without teardown.

    At interpreter exit CPython frees every object a run made (file texts, summaries, findings, libcst's
    classes): 20-40 ms of a one-second ``check`` of 100 kLOC, spent on a process that is ending. mypy exits
    the same way (``mypy.util.hard_exit``). Output is flushed first; a run under coverage (which saves its
    data at exit) and an error other than ``SystemExit`` end as usual.
    """
    try:
        main()
    except SystemExit as exit_:
        if "coverage" in sys.modules:
            raise
        code = exit_.code
        if code is None:
            status = 0
        elif isinstance(code, int):
            status = code
        else:  # as the interpreter does with ``sys.exit("message")``
            print(code, file=sys.stderr)
            status = 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # the reader went away (``| head``): the interpreter's exit status for that
            status = 120
        os._exit(status)


def _common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by ``check`` and ``fix`` (selection, config, discovery)."""
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        click.option(
            "--select", multiple=True, help="Rule codes or prefixes to enable (replaces the default set)."
        ),
        click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition."),
        click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable."),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="pyproject.toml to read [tool.flaxprec] from (default: found upward).",
        ),
        click.option("--force-exclude", is_flag=True, help="Apply excludes to paths given explicitly too."),
        click.option("--stdin-filename", help="Read source from stdin and report it under this name."),
        click.option(
            "--unsafe-fixes", is_flag=True, default=None, help="Include fixes that may change behaviour."
        ),
        click.option("--preview", is_flag=True, default=None, help="Enable preview rules."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _fail(message: str) -> None:
    click.echo(f"flaxprec: error: {message}", err=True)
    sys.exit(2)


def _settings(
    paths: Sequence[Path],
    config_path: Path | None,
    select: Sequence[str],
    extend_select: Sequence[str],
    ignore: Sequence[str],
    unsafe_fixes: bool | None,
    preview: bool | None,
) -> Settings:
    from flaxprec.config import ConfigError, load_settings
    from flaxprec.rules import all_rules

    start = paths[0] if paths else Path.cwd()
    try:
        # os.path.isdir, not Path.is_dir: a path that cannot be searched (EACCES) is no error here
        settings = load_settings(config_path, start=start if os.path.isdir(start) else start.parent)
        settings = settings.with_overrides(
            select=select or None,
            extend_select=extend_select or None,
            ignore=ignore or None,
            unsafe_fixes=unsafe_fixes,
            preview=preview,
        )
        settings.validate(rule.code for rule in all_rules())
    except ConfigError as error:
        _fail(str(error))
    return settings


def _checker(settings: Settings) -> Checker:
    """The run's checker. Without configured layers, the layer catalogue is read only when some file is
    analysed (a warm run never reads it); configured layers are checked against it at once (exit 2)."""
    from flaxprec.engine import Checker
    from flaxprec.rules import RuleContext

    catalogue: Catalogue | None = None  # None: the engine loads the built-in one when it needs it
    extra = settings.catalogue_extra()
    conventions = settings.conventions
    if extra or conventions:
        from flaxprec.catalogue import CatalogueError, load_catalogue

        try:
            catalogue = load_catalogue().with_extra(extra)
        except CatalogueError as error:
            _fail(str(error))
        if conventions:
            extended = catalogue.conventions.extended(
                conventions.compute_dtypes, conventions.storage_dtypes, conventions.implicit_dtype_bases
            )
            catalogue = catalogue.with_conventions(extended)
    return Checker(
        catalogue=catalogue,
        select=lambda rule, filename: settings.is_selected(rule.code, rule.default_on, filename=filename),
        context=RuleContext(
            allow_half_params=settings.allow_half_params, noqa_blanket_unused=settings.noqa_blanket_unused
        ),
    )


def _display_names() -> Callable[[Path], str]:
    """How files are named in reports: by the name they were walked or given by, relative to the working
    directory (the folder's links resolved, as ``Path.resolve`` does), else as given.

    A linked file keeps its own name, as ruff reports it: named by its target, an in-tree link would
    report the target's findings twice under one name. Resolving a folder costs an ``lstat`` per path
    component; a tree's files share folders, so each folder is resolved once.
    """
    cwd = os.path.realpath(os.getcwd())
    prefix = cwd if cwd.endswith(os.sep) else cwd + os.sep
    folders: dict[str, str] = {}

    def display(path: Path) -> str:
        folder, name = os.path.split(os.fspath(path))
        if folder not in folders:
            folders[folder] = os.path.realpath(folder or ".")
        real = os.path.join(folders[folder], name)
        if real.startswith(prefix):
            return real[len(prefix) :].replace(os.sep, "/")
        return "." if real == cwd else path.as_posix()

    return display


def _files(paths: Sequence[Path], settings: Settings, force_exclude: bool) -> list[Path]:
    """The files a run reads. A path given that does not exist, not even as a link, is a usage error
    (exit 2: a typo must not pass for a clean run); one that exists but cannot be read (a broken link, a
    loop, no permission, a FIFO) is kept, and the reader reports it as FLX900, as it does the same file
    found by walking (pre-commit names files: it sees what a walk sees). A folder that cannot be listed
    is skipped with a warning on stderr, as ruff does."""
    from flaxprec.discover import Discovery

    for path in paths:
        try:
            os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            _fail(f"{path}: no such file or directory")
        except OSError:  # e.g. a folder on the way cannot be searched: reported when the file is read
            pass
    discovery = Discovery(settings, force_exclude=force_exclude)
    files = list(discovery.files(paths or [Path(".")]))
    for folder, reason in discovery.unlisted:
        click.echo(f"flaxprec: warning: {folder}: directory not read ({reason}); skipped", err=True)
    return files


def _units(
    paths: Sequence[Path],
    settings: Settings,
    force_exclude: bool,
    stdin_filename: str | None,
    files: list[Path] | None = None,
) -> tuple[list[Unit], list[Diagnostic]]:
    """The run's units and the files that could not be read (FLX900); ``files``: already discovered."""
    from flaxprec.engine import Unit, load_units
    from flaxprec.imports import module_name_for

    if stdin_filename is not None:
        text = sys.stdin.read()
        path = Path(stdin_filename)
        return [Unit(stdin_filename, text, module_name_for(path), path.name == "__init__.py")], []
    if files is None:
        files = _files(paths, settings, force_exclude)
    return load_units(files, _display_names())


def _usable_cache_dir(directory: Path) -> bool:
    """Whether the cache can live in ``directory`` (a folder, or nothing yet: it is made when written).

    A cache is an optimisation: one that cannot be used (the path is a file, a folder on the way is not
    searchable) is reported on stderr and the run goes on without it, whether the directory was given
    (``--cache-dir``, ``FLAXPREC_CACHE_DIR``) or is the default, as ruff does.
    """
    try:
        is_dir = stat.S_ISDIR(os.stat(directory).st_mode)
    except FileNotFoundError:
        return True
    except OSError as error:
        reason = error.strerror or str(error)
    else:
        if is_dir:
            return True
        reason = "Not a directory"  # as strerror says it
    message = f"cache directory {directory}: {reason}; running without the cache"
    click.echo(f"flaxprec: warning: {message}", err=True)
    return False


def _rule_infos():
    from flaxprec.report.rule_info import RuleInfo
    from flaxprec.rules import all_rules

    return [
        RuleInfo(r.code, r.name, r.summary, r.fixable, r.default_on, DOCS_URL.format(code=r.code))
        for r in all_rules()
    ]


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@main.command()
@_common_options
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default="concise", show_default=True)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Count findings per rule.")
@click.option("--show-fixes", is_flag=True, help="Show the fix of each finding.")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary.")
@click.option(
    "--add-noqa", is_flag=True, help="Write a `# noqa: CODE` comment for every current finding (a baseline)."
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), help="Worker processes for analysis (default: the CPU count)."
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),  # not file_okay=False: a cache that cannot be used is a warning
    envvar="FLAXPREC_CACHE_DIR",
    help="Cache directory (default: .flaxprec_cache beside the config, or in the working directory).",
)
def check(
    paths: tuple[Path, ...],
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    config_path: Path | None,
    force_exclude: bool,
    stdin_filename: str | None,
    unsafe_fixes: bool | None,
    preview: bool | None,
    output_format: str,
    exit_zero: bool,
    statistics: bool,
    show_fixes: bool,
    quiet: bool,
    add_noqa: bool,
    no_cache: bool,
    jobs: int | None,
    cache_dir: Path | None,
) -> None:
    """Report mixed-precision problems in PATHS (default: the current directory)."""
    from flaxprec.diagnostics import Diagnostic
    from flaxprec.report import render, shows_fixes

    if add_noqa and stdin_filename is not None:
        _fail("--add-noqa writes files; it cannot be combined with --stdin-filename")
    settings = _settings(paths, config_path, select, extend_select, ignore, unsafe_fixes, preview)
    cache: Cache | None = None
    directory = cache_dir or settings.root / ".flaxprec_cache"
    if not no_cache and stdin_filename is None and _usable_cache_dir(directory):
        from flaxprec.cache import Cache

        cache = Cache(directory, settings.cache_key())
    served = None
    files: list[Path] | None = None  # discovered once, for the warm path and the engine alike
    if cache is not None and not add_noqa:  # everything cached: answered without the engine
        from flaxprec.warm import cached_check

        files, display = _files(paths, settings, force_exclude), _display_names()
        served = cached_check(files, display, cache)
    if served is not None:
        found, sources = served
        diagnostics = sorted(found, key=Diagnostic.sort_key)

        def engine() -> tuple[Checker, Sequence[Unit]]:
            from flaxprec.engine import load_units

            checker = _checker(settings)
            checker.cache = cache
            assert files is not None
            return checker, load_units(files, display)[0]

    else:
        checker = _checker(settings)
        checker.jobs = jobs or os.cpu_count() or 1
        checker.cache = cache
        # Text edits of fixes: for a report that prints them, or a cache that keeps them for one that will.
        checker.fix_texts = cache is not None or shows_fixes(
            output_format, show_fixes=show_fixes, statistics=statistics
        )
        units, errors = _units(paths, settings, force_exclude, stdin_filename, files)
        found = checker.check_units(units)
        diagnostics = sorted(checker.selected_errors(errors) + found, key=Diagnostic.sort_key)
        if add_noqa:
            _write_noqa(units, diagnostics)
        sources = {unit.filename: unit.text for unit in units}

        def engine() -> tuple[Checker, Sequence[Unit]]:
            return checker, units

    output = render(
        diagnostics,
        output_format,
        sources=sources,
        rules=_rule_infos(),
        show_fixes=show_fixes,
        statistics=statistics,
        quiet=quiet,
        color=_color(),
        unsafe_fixes_enabled=settings.unsafe_fixes,
        fixed_source=_fixed_source(engine),
    )
    if output:
        click.echo(output, nl=not output.endswith("\n"))
    sys.exit(_check_status(diagnostics, exit_zero))


def _check_status(diagnostics: Sequence[Diagnostic], exit_zero: bool) -> int:
    """``check``'s exit status: 2 when the tool failed on a file (FLX902: that file was not checked, whatever
    ``--exit-zero`` says, as ruff exits 2 on its internal errors), else 1 for findings, else 0."""
    from flaxprec.diagnostics import is_tool_error

    if any(map(is_tool_error, diagnostics)):
        return 2
    return 0 if exit_zero or not diagnostics else 1


def _fixed_source(engine: Callable[[], tuple[Checker, Sequence[Unit]]]) -> Callable[[Diagnostic], str | None]:
    """The report's ``fixed_source``: a finding's file with only that finding's fix applied, for the fixes
    the report cannot apply itself (CST edits without text edits: an added import, a multi-line value).

    Findings may come from the cache, without edits (edits point into a syntax tree), so a file whose fix
    is shown is analysed again on demand, once, and the finding matched by code and span. ``engine`` gives
    the checker and the units, on the first preview (a warm run has not built them). A file ending in
    a lone carriage return is left out: libcst drops that character, and the preview would show a change
    the fix does not make.
    """
    state: dict[str, Any] = {}  # checker, units by name, the index: made on the first preview
    analysed: dict[str, tuple[FileModel | None, list[Diagnostic]]] = {}

    def unit_named(filename: str) -> Unit | None:
        if not state:
            state["checker"], units = engine()
            state["units"] = units
            state["by_name"] = {unit.filename: unit for unit in units}
        return state["by_name"].get(filename)

    def fresh(diagnostic: Diagnostic) -> tuple[FileModel | None, Diagnostic | None]:
        checker: Checker = state["checker"]
        unit = state["by_name"][diagnostic.filename]
        if "index" not in state:
            state["index"] = checker.index_units(state["units"])
        if unit.filename not in analysed:
            analysed[unit.filename] = checker.diagnose(unit, state["index"])
        model, found = analysed[unit.filename]
        span = (diagnostic.code, diagnostic.location, diagnostic.end_location)
        return model, next((d for d in found if (d.code, d.location, d.end_location) == span), None)

    def fixed_source(diagnostic: Diagnostic) -> str | None:
        if diagnostic.fix is None:
            return None
        unit = unit_named(diagnostic.filename)
        if unit is None or unit.text.endswith("\r"):
            return None
        model, match = fresh(diagnostic)
        fix = match.fix if match is not None else None
        if model is None or fix is None:
            return None
        # Imported here: only a report that shows a fix pays for libcst.
        from flaxprec.apply_edits import RewriteError, apply_edits
        from flaxprec.deep import retry_when_deep
        from flaxprec.diagnostics import ReplaceText

        edits = [edit for edit in fix.edits if not isinstance(edit, ReplaceText)]

        @retry_when_deep  # libcst's code generation recurses: a deep file's on a large stack
        def fixed_code() -> str:
            return apply_edits(model.module, edits, fix.imports).code

        try:
            return fixed_code()
        except (RewriteError, RecursionError, MemoryError):
            return None

    return fixed_source


def _write_noqa(units: Sequence[Unit], diagnostics: Sequence[Diagnostic]) -> None:
    """``--add-noqa``: write a directive for every finding into its file, then report the count and exit 0.

    Written through the file's :class:`SourceFile`, so encoding, BOM and line endings stay as they were,
    and by :func:`~flaxprec.source_io.write_back`: a file edited during the run is left as its user saved
    it. Files that did not parse (FLX900) are left alone, as ruff does.
    """
    from flaxprec.engine import PARSE_ERROR
    from flaxprec.source_io import SourceError, write_back
    from flaxprec.suppress import add_noqa, split_lines

    by_file: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        if diagnostic.code != PARSE_ERROR[0]:
            by_file.setdefault(diagnostic.filename, []).append(diagnostic)
    added = 0
    failed = False
    for unit in units:
        if unit.source is None or unit.filename not in by_file:
            continue
        new_text = add_noqa(unit.text, by_file[unit.filename])
        if new_text == unit.text:
            continue
        try:
            write_back(unit.source, unit.source.encode(new_text), during="adding noqa directives")
        except (OSError, SourceError) as error:
            failed = True
            click.echo(f"{unit.filename}: {_write_failure(error)}", err=True)
            continue
        # add_noqa edits lines in place, so each changed line is one directive added (or extended).
        added += sum(
            old != new for old, new in zip(split_lines(unit.text), split_lines(new_text), strict=True)
        )
    click.echo(f"Added {added} noqa directive{'s' if added != 1 else ''}.", err=True)
    sys.exit(1 if failed else 0)


def _write_failure(error: Exception) -> str:
    """What follows ``FILE: `` when a file is not written: the refusal as it is, else the system's reason."""
    from flaxprec.source_io import NotWritten, SourceError

    if isinstance(error, NotWritten):
        return error.message
    if isinstance(error, SourceError):
        return f"not written: {error.message}"
    return f"not written: {getattr(error, 'strerror', None) or error}"


@main.command()
@_common_options
@click.option("--apply", is_flag=True, help="Write the fixes (default: print the diff, write nothing).")
def fix(
    paths: tuple[Path, ...],
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    config_path: Path | None,
    force_exclude: bool,
    stdin_filename: str | None,
    unsafe_fixes: bool | None,
    preview: bool | None,
    apply: bool,
) -> None:
    """Rewrite PATHS to the t5x convention: float32 parameters, computation in the compute dtype.

    Files are fixed and written one at a time, so that little time passes between the fix and the write;
    a file is written only if it still holds the bytes that were read (see ``source_io.write_back``).
    Each finding whose fix was offered but not made is printed with the reason.
    """
    import difflib

    from flaxprec.deep import retry_when_deep
    from flaxprec.diagnostics import is_tool_error
    from flaxprec.fixer import describe, fix_unit
    from flaxprec.source_io import SourceError, write_back

    settings = _settings(paths, config_path, select, extend_select, ignore, unsafe_fixes, preview)
    checker = _checker(settings)
    units, errors = _units(paths, settings, force_exclude, stdin_filename)
    index = checker.index_units(units)
    if stdin_filename is not None:
        result = fix_unit(checker, units[0], index, unsafe=settings.unsafe_fixes)
        for item in result.not_fixed:
            click.echo(describe(item), err=True)
        click.echo(result.fixed, nl=False)
        sys.exit(1 if result.remaining else 0)
    for error in errors:
        click.echo(f"{error.filename}: {error.message}", err=True)
    failed = False  # a fix not made, or a file not written
    tool_failed = False  # FLX902: a file the tool could not analyse (exit 2, as check)
    fixed_count = 0
    remaining = len(errors)
    would_change = False
    for unit in units:
        result = fix_unit(checker, unit, index, unsafe=settings.unsafe_fixes)
        for item in result.not_fixed:
            click.echo(describe(item), err=True)
        for error in filter(is_tool_error, result.found):
            tool_failed = True
            click.echo(f"{error.filename}: {error.code} {error.message}", err=True)
        failed = failed or bool(result.not_fixed)
        if not result.changed:
            remaining += len(result.remaining)
            continue
        if not apply:
            would_change = True
            fixed_count += len(result.applied)
            remaining += len(result.remaining)
            diff = difflib.unified_diff(
                unit.text.splitlines(keepends=True),
                result.fixed.splitlines(keepends=True),
                fromfile=_diff_name("a", unit.filename),
                tofile=_diff_name("b", unit.filename),
            )
            click.echo("".join(diff), nl=False)
            continue
        assert unit.source is not None
        try:
            # libcst's code generation recurses: a deeply nested file's on a large stack (flaxprec.deep)
            write_back(unit.source, retry_when_deep(_rendered)(unit.source, result.fixed))
        except (OSError, SourceError) as error:
            failed = True
            remaining += len(result.found)  # the file is as it was
            click.echo(f"{unit.filename}: {_write_failure(error)}", err=True)
        except (RecursionError, MemoryError):
            failed = True
            remaining += len(result.found)
            click.echo(f"{unit.filename}: not written: too deeply nested to write back", err=True)
        else:
            fixed_count += len(result.applied)
            remaining += len(result.remaining)
    if apply:
        unfixed = f", {remaining} remaining" if remaining else ""
        click.echo(f"Fixed {fixed_count} error{'s' if fixed_count != 1 else ''}{unfixed}.", err=True)
        sys.exit(2 if tool_failed else 1 if remaining or failed else 0)
    if would_change:
        click.echo(
            f"Would fix {fixed_count} error{'s' if fixed_count != 1 else ''} (run with --apply to write).",
            err=True,
        )
    sys.exit(2 if tool_failed else 1 if would_change or failed else 0)


def _rendered(source: SourceFile, text: str) -> bytes:
    """The bytes of fixed ``text`` for ``source``'s file (its encoding, BOM and line endings)."""
    import libcst as cst

    return source.render(cst.parse_module(text))


def _diff_name(side: str, filename: str) -> str:
    """git-style ``a/`` and ``b/`` prefixes for relative paths; absolute paths are shown as they are."""
    return filename if Path(filename).is_absolute() else f"{side}/{filename}"


@main.command("rules")
def rules_command() -> None:
    """List every rule: code, name, fixable, on by default."""
    from flaxprec.rules import all_rules

    for rule in all_rules():
        fixable = "fixable" if rule.fixable else "-"
        default = "default" if rule.default_on else "opt-in"
        click.echo(f"{rule.code}  {rule.name:<32} {fixable:<8} {default:<8} {rule.summary}")


@main.command("rule")
@click.argument("code")
def rule_command(code: str) -> None:
    """Print the documentation of rule CODE."""
    from flaxprec.resources import rules_dir
    from flaxprec.rules import rule_by_code

    rule = rule_by_code(code.upper())
    if rule is None:
        _fail(f"unknown rule code: {code}")
    doc = rules_dir() / f"{rule.code}.md"
    if not doc.is_file():
        _fail(f"no documentation for {rule.code}")
    click.echo(doc.read_text(encoding="utf-8"), nl=False)
