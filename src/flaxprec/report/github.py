"""``github``: GitHub Actions workflow commands, so findings show as annotations on the pull request."""

from __future__ import annotations

from flaxprec.report._context import RenderContext


def escape_data(text: str) -> str:
    """The message part: GitHub reads ``%``, CR and LF as escapes there (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A ``key=value`` property: ``:`` and ``,`` delimit properties, so they are escaped too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(ctx: RenderContext) -> str:
    lines = []
    for d in ctx.diagnostics:
        properties = ",".join(
            f"{key}={escape_property(str(value))}"
            for key, value in (
                ("title", f"flaxprec ({d.code})"),
                ("file", d.filename),
                ("line", d.location.row),
                ("col", d.location.column),
                ("endLine", d.end_location.row),
                ("endColumn", d.end_location.column),
            )
        )
        lines.append(f"::error {properties}::{escape_data(d.message)}\n")
    return "".join(lines)
