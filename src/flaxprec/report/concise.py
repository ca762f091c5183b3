"""``concise`` (the default): one ``path:row:col: CODE [*] message`` line per finding, then ruff's summary."""

from __future__ import annotations

from flaxprec.report._context import RenderContext, fix_help_lines, header, summary_lines


def render(ctx: RenderContext) -> str:
    lines: list[str] = []
    for diagnostic in ctx.diagnostics:
        lines.append(header(ctx, diagnostic))
        if ctx.show_fixes:
            lines.extend(fix_help_lines(ctx, diagnostic, "  "))
    lines.extend(summary_lines(ctx))
    return "\n".join(lines) + "\n" if lines else ""
