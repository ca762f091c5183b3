"""``full``: each finding with its source lines, a caret under the span, and the fix as a diff."""

from __future__ import annotations

from flaxprec.diagnostics import Diagnostic
from flaxprec.report._context import RenderContext, fix_help_lines, header, summary_lines

TAB_WIDTH = 4
# Spans longer than this show their first and last two lines only.
MAX_SNIPPET_LINES = 5


def render(ctx: RenderContext) -> str:
    lines: list[str] = []
    for diagnostic in ctx.diagnostics:
        lines.append(header(ctx, diagnostic))
        lines.extend(snippet(ctx, diagnostic))
        # The help line sits under the gutter's bar, as in ruff.
        indent = " " * (len(str(max(diagnostic.location.row, diagnostic.end_location.row))) + 1)
        lines.extend(fix_help_lines(ctx, diagnostic, indent))
        lines.append("")
    summary = summary_lines(ctx)
    if not summary and lines:
        lines.pop()  # quiet: no summary for the blank line to separate from
    lines.extend(summary)
    return "\n".join(lines) + "\n" if lines else ""


def snippet(ctx: RenderContext, diagnostic: Diagnostic) -> list[str]:
    """The span's source lines with a line-number gutter and carets under the reported characters."""
    lines = ctx.source_lines(diagnostic.filename)
    if lines is None:
        return []
    start, end = diagnostic.location, diagnostic.end_location
    first = start.row
    if not 1 <= first <= len(lines):
        return []
    last = min(max(end.row, first), len(lines))
    if last > first and end.row == last and end.column == 1:
        last -= 1  # a span ending at the start of a line stops at the end of the previous one
    rows: list[int | None] = list(range(first, last + 1))
    if len(rows) > MAX_SNIPPET_LINES:
        rows = [*rows[:2], None, *rows[-2:]]
    width = len(str(max(first, end.row)))  # the same width as the help line's indent
    bar = ctx.style(" " * width + " |", fg="blue", bold=True)
    out = [bar]
    for row in rows:
        if row is None:
            out.append(ctx.style("." * width + " |", fg="blue", bold=True))
            continue
        text = lines[row - 1]
        number = ctx.style(f"{row:>{width}} |", fg="blue", bold=True)
        out.append(f"{number} {text.expandtabs(TAB_WIDTH)}".rstrip())
        if not text.strip() and first < row < last:
            continue
        lo = start.column - 1 if row == first else len(text) - len(text.lstrip())
        hi = end.column - 1 if row == end.row else len(text.rstrip())
        lo_display = len(text[:lo].expandtabs(TAB_WIDTH))
        hi_display = len(text[:hi].expandtabs(TAB_WIDTH))
        carets = "^" * max(1, hi_display - lo_display)
        out.append(f"{bar} {' ' * lo_display}{ctx.style(carets, fg='red', bold=True)}")
    out.append(bar)
    return out
