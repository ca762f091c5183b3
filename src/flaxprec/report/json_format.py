"""``json``: a list of findings with ruff's field names, so tools that read ruff's JSON read ours."""

from __future__ import annotations

import json
from typing import Any

from flaxprec.diagnostics import Diagnostic, Location
from flaxprec.report._context import RenderContext, TextEdit


def _location(location: Location) -> dict[str, int]:
    return {"row": location.row, "column": location.column}


def _edit(edit: TextEdit) -> dict[str, Any]:
    return {
        "content": edit.content,
        "location": _location(edit.location),
        "end_location": _location(edit.end_location),
    }


def diagnostic_object(ctx: RenderContext, diagnostic: Diagnostic) -> dict[str, Any]:
    """One finding as ruff's JSON object (plus ``name``).

    ``fix.edits`` are text replacements on the original file; they are empty when the report could not
    compute the fix's text (a CST fix rendered without the fixer).
    """
    fix: dict[str, Any] | None = None
    if diagnostic.fix is not None:
        edits = ctx.text_edits(diagnostic) or []
        fix = {
            "applicability": diagnostic.fix.applicability.value,
            "message": diagnostic.fix.title,
            "edits": [
                {
                    "content": e.content,
                    "location": _location(e.location),
                    "end_location": _location(e.end_location),
                }
                for e in edits
            ],
        }
    rule = ctx.rule(diagnostic.code)
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "message": diagnostic.message,
        "filename": diagnostic.filename,
        "location": _location(diagnostic.location),
        "end_location": _location(diagnostic.end_location),
        "fix": fix,
        "noqa_row": ctx.noqa_row(diagnostic),
        "url": rule.doc_url if rule is not None and rule.doc_url else None,
    }


def render(ctx: RenderContext) -> str:
    objects = [diagnostic_object(ctx, d) for d in ctx.diagnostics]
    return json.dumps(objects, indent=2, ensure_ascii=False) + "\n"
