"""Output formats of ``flaxprec check`` (``--output-format``), one small module per format.

:func:`render` is pure: it gets the findings, the checked sources (for snippets and fix previews) and the
rule metadata, and returns the text to print. Whether to colour is the CLI's decision (a TTY and no
``NO_COLOR``); the report only obeys ``color``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from flaxprec.diagnostics import Diagnostic
from flaxprec.report._context import RenderContext, TextEdit, text_edits
from flaxprec.report.rule_info import RuleInfo

__all__ = [
    "DEFAULT_TOOL_URI",
    "OUTPUT_FORMATS",
    "RuleInfo",
    "TextEdit",
    "render",
    "shows_fixes",
    "text_edits",
]

# Format -> the module rendering it, imported when that format is asked for (a run prints one format).
_RENDERERS: dict[str, str] = {
    "concise": "concise",
    "full": "full",
    "json": "json_format",
    "json-lines": "json_lines",
    "github": "github",
    "sarif": "sarif",
}
OUTPUT_FORMATS: tuple[str, ...] = tuple(_RENDERERS)
# Formats that print what each fix changes (a diff, or its edits); ``concise`` does with ``--show-fixes``.
_FIX_FORMATS = frozenset({"full", "json", "json-lines", "sarif"})
DEFAULT_TOOL_URI = "https://pypi.org/project/flaxprec/"


def shows_fixes(output_format: str, *, show_fixes: bool = False, statistics: bool = False) -> bool:
    """Does this report print what a fix changes? The others read only whether a finding has a fix, so
    the engine need not work out fixes' text edits for them (tests/test_report.py holds every format to
    this answer)."""
    if statistics:
        return False
    return output_format in _FIX_FORMATS or (show_fixes and output_format == "concise")


def render(
    diagnostics: Sequence[Diagnostic],
    output_format: str = "concise",
    *,
    sources: Mapping[str, str],
    rules: Sequence[RuleInfo],
    show_fixes: bool = False,
    statistics: bool = False,
    quiet: bool = False,
    color: bool = False,
    unsafe_fixes_enabled: bool = False,
    root: Path | None = None,
    fixed_source: Callable[[Diagnostic], str | None] | None = None,
    tool_version: str | None = None,
    tool_uri: str = DEFAULT_TOOL_URI,
) -> str:
    """The report of ``diagnostics`` in ``output_format``, ending with a newline (or empty).

    ``sources`` maps each finding's ``filename`` to the text checked (snippets, fix previews, ``noqa_row``);
    ``root`` is what SARIF URIs are relative to (default: the working directory); ``fixed_source`` returns
    a finding's file with only that finding's fix applied (the fixer), so that CST fixes without text edits
    (``fix.text``) can be shown as diffs and edits; without it they show their title only. ``statistics``
    replaces the findings by counts per rule (JSON for the JSON formats), as ruff's ``--statistics`` does.
    ``quiet`` drops the text formats' closing summary, so a clean run prints nothing at all (pre-commit and
    editors show only findings).
    """
    if output_format not in _RENDERERS:
        raise ValueError(f"unknown output format {output_format!r} (known: {', '.join(OUTPUT_FORMATS)})")
    if tool_version is None:
        from flaxprec import __version__ as tool_version
    ctx = RenderContext(
        diagnostics=sorted(diagnostics, key=Diagnostic.sort_key),
        sources=sources,
        rules={rule.code: rule for rule in rules},
        show_fixes=show_fixes,
        quiet=quiet,
        color=color,
        unsafe_fixes_enabled=unsafe_fixes_enabled,
        root=Path(root).absolute() if root is not None else Path.cwd(),
        fixed_source=fixed_source,
        tool_version=tool_version,
        tool_uri=tool_uri,
    )
    if statistics:
        from flaxprec.report import statistics as stats_format

        if output_format in ("json", "json-lines"):
            return stats_format.render_json(ctx, lines=output_format == "json-lines")
        return stats_format.render_text(ctx)
    renderer: Callable[[RenderContext], str] = importlib.import_module(
        f"{__name__}.{_RENDERERS[output_format]}"
    ).render
    return renderer(ctx)
