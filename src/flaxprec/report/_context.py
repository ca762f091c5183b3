"""What every output format shares: the sorted findings, rule metadata, fix previews and styling.

A fix that comes with its text edits (``fix.text``, computed with the finding) and one made only of
:class:`ReplaceText` edits (``# noqa`` clean-up) are applied here, to a window of lines around them
(:mod:`._fix_window`): a finding costs its fix's lines, not its file's. Other fixes are CST edits only the
fixer can turn into text: for them the report takes a ``fixed_source`` callback (the source of the
finding's file with that one fix applied) and diffs the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flaxprec.diagnostics import Applicability, Diagnostic, ReplaceText, TextEdit
from flaxprec.report.rule_info import RuleInfo

if TYPE_CHECKING:
    from flaxprec.report._fix_window import FileLines, Fixed
    from flaxprec.suppress import NoqaIndex

FixedSource = Callable[[Diagnostic], "str | None"]
FIX_COMMAND = "flaxprec fix --apply"


@dataclass
class RenderContext:
    """The inputs of one :func:`flaxprec.report.render` call, with per-finding facts computed once."""

    diagnostics: list[Diagnostic]
    sources: Mapping[str, str]
    rules: Mapping[str, RuleInfo]
    show_fixes: bool = False
    quiet: bool = False
    color: bool = False
    unsafe_fixes_enabled: bool = False
    root: Path = field(default_factory=Path.cwd)
    fixed_source: FixedSource | None = None
    tool_version: str = ""
    tool_uri: str = ""
    # The last finding's file with its fix applied: renderers ask for a finding's edits or diff one finding
    # after the other, so one copy of a file at a time, not one per finding (6,000 findings of a 200 KB file
    # held 1.2 GB of copies).
    _fixed: tuple[Diagnostic | None, Fixed | None] = field(default=(None, None), repr=False)
    _file: tuple[str | None, FileLines | None] = field(default=(None, None), repr=False)
    _noqa: dict[str, NoqaIndex] = field(default_factory=dict, repr=False)

    # -- fixes ----------------------------------------------------------------------------------------

    def fix_applies(self, diagnostic: Diagnostic) -> bool:
        """Whether ``fix --apply`` would apply this finding's fix under the current unsafe-fixes setting."""
        fix = diagnostic.fix
        if fix is None:
            return False
        return fix.applicability is Applicability.SAFE or self.unsafe_fixes_enabled

    def fixed_text(self, diagnostic: Diagnostic) -> str | None:
        """The finding's file with only its fix applied, or ``None`` when that cannot be computed here."""
        fixed = self._fixed_lines(diagnostic)
        return None if fixed is None else "".join(fixed.line(j) for j in range(len(fixed)))

    def _fixed_lines(self, diagnostic: Diagnostic) -> Fixed | None:
        if self._fixed[0] is not diagnostic:
            self._fixed = (diagnostic, self._compute_fixed(diagnostic))
        return self._fixed[1]

    def source_lines(self, filename: str) -> list[str] | None:
        """The file's lines without their endings, split once for all its findings (``None``: no source)."""
        source = self.sources.get(filename)
        return None if source is None else self._file_lines(filename, source).bodies

    def _file_lines(self, filename: str, source: str) -> FileLines:
        """The file split into lines once for all its findings (they come one file after the other)."""
        from flaxprec.report._fix_window import FileLines  # only a report that shows fixes pays for it

        if self._file[0] != filename or self._file[1] is None or self._file[1].source is not source:
            self._file = (filename, FileLines.of(source))
        assert self._file[1] is not None
        return self._file[1]

    def _compute_fixed(self, diagnostic: Diagnostic) -> Fixed | None:
        from flaxprec.report._fix_window import Fixed, comment_edits

        fix = diagnostic.fix
        source = self.sources.get(diagnostic.filename)
        if fix is None or source is None:
            return None
        text_only = [e for e in fix.edits if isinstance(e, ReplaceText)]
        if fix.edits and len(text_only) == len(fix.edits) and not fix.imports:
            return comment_edits(self._file_lines(diagnostic.filename, source), text_only)
        if fix.text is not None:
            # Text edits computed with the finding: applied to a window of lines around them, so that each
            # finding costs its fix's lines, not the file's. A file ending in a lone carriage return shows
            # none: libcst drops that character, and the preview would not be what ``fix`` writes.
            if source.endswith("\r"):
                return None
            return Fixed.from_edits(self._file_lines(diagnostic.filename, source), fix.text)
        if self.fixed_source is not None:
            fixed = self.fixed_source(diagnostic)
            if fixed is not None:
                return Fixed.whole(self._file_lines(diagnostic.filename, source), fixed)
        return None

    def text_edits(self, diagnostic: Diagnostic) -> list[TextEdit] | None:
        """The fix as minimal text replacements on the original source, ``None`` when unknown."""
        from flaxprec.report._fix_window import text_edits as window_text_edits

        fixed = self._fixed_lines(diagnostic)
        return None if fixed is None else window_text_edits(fixed)

    def fix_diff(self, diagnostic: Diagnostic) -> list[str] | None:
        """Unified-diff lines (hunks only, no file header) of the finding's fix, ``None`` when unknown."""
        from flaxprec.report._fix_window import unified_diff

        fixed = self._fixed_lines(diagnostic)
        if fixed is None:
            return None
        return [self.diff_style(line) for line in unified_diff(fixed)]

    # -- other per-finding facts ----------------------------------------------------------------------

    def rule(self, code: str) -> RuleInfo | None:
        return self.rules.get(code)

    def noqa_row(self, diagnostic: Diagnostic) -> int | None:
        """The row a ``# noqa`` for this finding goes on (as ``--add-noqa`` writes it)."""
        source = self.sources.get(diagnostic.filename)
        if source is None:
            return diagnostic.end_location.row
        from flaxprec.suppress import noqa_row, parse_noqa  # the noqa parser: only formats that show rows

        index = self._noqa.get(diagnostic.filename)
        if index is None:
            index = self._noqa[diagnostic.filename] = parse_noqa(source, diagnostic.filename)
        return noqa_row(diagnostic, index)

    def relative_posix(self, filename: str) -> str | None:
        """``filename`` relative to the root with forward slashes, ``None`` when it is outside the root."""
        path = Path(filename)
        absolute = path if path.is_absolute() else Path.cwd() / path
        try:
            return Path(os.path.normpath(absolute)).relative_to(self.root).as_posix()
        except ValueError:
            return None

    # -- styling --------------------------------------------------------------------------------------

    def style(self, text: str, **styles: object) -> str:
        return click.style(text, **styles) if self.color else text  # type: ignore[arg-type]

    def diff_style(self, line: str) -> str:
        if line.startswith("+"):
            return self.style(line, fg="green")
        if line.startswith("-"):
            return self.style(line, fg="red")
        if line.startswith("@@"):
            return self.style(line, fg="cyan")
        return line


def text_edits(source: str, fixed: str) -> list[TextEdit]:
    """Minimal replacements turning ``source`` into ``fixed`` (see :func:`._fix_window.text_edits`)."""
    from flaxprec.report._fix_window import FileLines, Fixed
    from flaxprec.report._fix_window import text_edits as window_text_edits

    return window_text_edits(Fixed.whole(FileLines.of(source), fixed))


def summary_lines(ctx: RenderContext) -> list[str]:
    """ruff's closing lines: how many findings, how many the fix command would fix, how many it hides.

    Nothing with ``quiet``: the findings are the whole output then.
    """
    if ctx.quiet:
        return []
    count = len(ctx.diagnostics)
    if not count:
        return [ctx.style("All checks passed!", fg="green", bold=True)]
    lines = [f"Found {count} error{'s' if count != 1 else ''}."]
    fixable = sum(1 for d in ctx.diagnostics if ctx.fix_applies(d))
    hidden = sum(1 for d in ctx.diagnostics if d.fix is not None and not ctx.fix_applies(d))
    command = f"`{FIX_COMMAND} --unsafe-fixes`" if ctx.unsafe_fixes_enabled else f"`{FIX_COMMAND}`"
    hint = ""
    if hidden:
        fixes = "fix" if hidden == 1 else "fixes"
        hint = f"({hidden} hidden {fixes} can be enabled with the `--unsafe-fixes` option)"
    marker = ctx.style("[*]", fg="cyan")
    if fixable and hint:
        lines.append(f"{marker} {fixable} fixable with {command} {hint}.")
    elif fixable:
        lines.append(f"{marker} {fixable} fixable with {command}.")
    elif hint:
        lines.append(f"No fixes available {hint}.")
    return lines


def header(ctx: RenderContext, diagnostic: Diagnostic) -> str:
    """``path:row:col: CODE [*] message``, the line both text formats start a finding with."""
    loc = diagnostic.location
    where = f"{ctx.style(diagnostic.filename, bold=True)}:{loc.row}:{loc.column}:"
    marker = f" {ctx.style('[*]', fg='cyan')}" if ctx.fix_applies(diagnostic) else ""
    code = ctx.style(diagnostic.code, fg="red", bold=True)
    return f"{where} {code}{marker} {diagnostic.message}"


def fix_help_lines(ctx: RenderContext, diagnostic: Diagnostic, indent: str) -> list[str]:
    """The fix's title, and its diff when it can be computed (``--show-fixes``, the ``full`` format).

    A fix the report cannot turn into text (CST edits without a ``fixed_source`` callback) shows its title
    only.
    """
    fix = diagnostic.fix
    if fix is None:
        return []
    kind = "safe fix" if fix.applicability is Applicability.SAFE else "unsafe fix"
    lines = [f"{indent}= help: {fix.title} ({kind})"]
    diff = ctx.fix_diff(diagnostic)
    if diff:
        lines.extend(f"{indent}  {line}" for line in diff)
    return lines
