"""What every output format shares: the sorted findings, rule metadata, fix previews and styling.

A fix is made of CST edits that only the fixer can turn into text, so the report never applies one itself:
it takes a ``fixed_source`` callback (the source of the finding's file with that one fix applied) and
diffs the result. Fixes made only of :class:`ReplaceText` edits (``# noqa`` clean-up) are applied here.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flaxprec.diagnostics import Applicability, Diagnostic, Location, ReplaceText, TextEdit
from flaxprec.report.rule_info import RuleInfo

if TYPE_CHECKING:
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
    _fixed: tuple[Diagnostic | None, str | None] = field(default=(None, None), repr=False)
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
        if self._fixed[0] is not diagnostic:
            self._fixed = (diagnostic, self._compute_fixed(diagnostic))
        return self._fixed[1]

    def _compute_fixed(self, diagnostic: Diagnostic) -> str | None:
        fix = diagnostic.fix
        source = self.sources.get(diagnostic.filename)
        if fix is None or source is None:
            return None
        text_only = [e for e in fix.edits if isinstance(e, ReplaceText)]
        if fix.edits and len(text_only) == len(fix.edits) and not fix.imports:
            from flaxprec.suppress import apply_text_edits

            try:
                return apply_text_edits(source, text_only)
            except ValueError:
                return None
        if self.fixed_source is not None:
            return self.fixed_source(diagnostic)
        return None

    def text_edits(self, diagnostic: Diagnostic) -> list[TextEdit] | None:
        """The fix as minimal text replacements on the original source, ``None`` when unknown."""
        source = self.sources.get(diagnostic.filename)
        fixed = self.fixed_text(diagnostic)
        if source is None or fixed is None:
            return None
        return text_edits(source, fixed)

    def fix_diff(self, diagnostic: Diagnostic) -> list[str] | None:
        """Unified-diff lines (hunks only, no file header) of the finding's fix, ``None`` when unknown."""
        source = self.sources.get(diagnostic.filename)
        fixed = self.fixed_text(diagnostic)
        if source is None or fixed is None:
            return None
        import difflib  # only a report that shows fixes pays for it

        from flaxprec.suppress import split_lines

        old = [line.rstrip("\r\n") for line in split_lines(source)]
        new = [line.rstrip("\r\n") for line in split_lines(fixed)]
        diff = list(difflib.unified_diff(old, new, n=1, lineterm=""))[2:]
        return [self.diff_style(line) for line in diff]

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
    """Minimal replacements turning ``source`` into ``fixed``.

    Changed blocks of lines, each trimmed to the characters that differ, so that adding ``dtype=...`` to a
    call is one insertion rather than a rewritten line, and an added import is an edit of its own.
    """
    import difflib  # only a report that shows fixes pays for it

    from flaxprec.suppress import split_lines

    old, new = split_lines(source), split_lines(fixed)
    starts = [0]
    for line in old:
        starts.append(starts[-1] + len(line))
    # The lines both texts begin and end with are left out of the diff: a fix changes a few lines, and
    # SequenceMatcher's time grows with the square of the lines it is given when many are alike (600
    # findings on 600 equal lines took 30 s of a JSON report).
    head = _common_prefix(old, new)
    tail = _common_prefix(old[head:][::-1], new[head:][::-1])
    edits = []
    matcher = difflib.SequenceMatcher(
        a=old[head : len(old) - tail], b=new[head : len(new) - tail], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        i1, i2, j1, j2 = i1 + head, i2 + head, j1 + head, j2 + head
        a, b = "".join(old[i1:i2]), "".join(new[j1:j2])
        prefix = _common_prefix(a, b)
        suffix = _common_prefix(a[prefix:][::-1], b[prefix:][::-1])
        start, end = starts[i1] + prefix, starts[i2] - suffix
        content = b[prefix : len(b) - suffix]
        edits.append(TextEdit(_location(source, starts, start), _location(source, starts, end), content))
    return edits


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    """How many leading items (characters of two texts, lines of two line lists) ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _location(source: str, starts: Sequence[int], offset: int) -> Location:
    """1-based row and column of character ``offset``; ``starts``: each line's offset, then the length."""
    index = bisect.bisect_right(starts, offset) - 1
    if index == len(starts) - 1 and source and not source.endswith(("\n", "\r")):
        index -= 1  # the end of a last line without a line break is still on that line
    return Location(index + 1, offset - starts[index] + 1)


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
