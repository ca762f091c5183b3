"""``sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

What GitHub code scanning reads: ``$schema``/``version``/``runs``; ``tool.driver.name``; per rule ``id``,
``shortDescription``, ``fullDescription``, ``help``, ``helpUri`` and ``defaultConfiguration.level``; per
result ``ruleId``, ``message.text`` and one location with a relative ``artifactLocation.uri`` and a
``region`` with start and end line and column. ``partialFingerprints`` are left to the upload action,
which computes them from the checked-out files (a different hash here would stop it from doing so).
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from flaxprec.diagnostics import Diagnostic, Location
from flaxprec.report._context import RenderContext
from flaxprec.report.rule_info import RuleInfo

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"


def _artifact_location(ctx: RenderContext, filename: str) -> dict[str, str]:
    relative = ctx.relative_posix(filename)
    if relative is None:
        return {"uri": Path(filename).absolute().as_uri()}
    return {"uri": urllib.parse.quote(relative), "uriBaseId": SRCROOT}


def _region(start: Location, end: Location) -> dict[str, int]:
    # Columns count code points (``run.columnKind``); SARIF's endColumn is exclusive, like ours.
    return {
        "startLine": start.row,
        "startColumn": start.column,
        "endLine": end.row,
        "endColumn": end.column,
    }


def _rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    help_text = rule.summary + (f"\nDocumentation: {rule.doc_url}" if rule.doc_url else "")
    descriptor: dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": "error"},
        "properties": {"fixable": rule.fixable, "defaultOn": rule.default_on},
    }
    if rule.doc_url:
        descriptor["helpUri"] = rule.doc_url
        descriptor["help"]["markdown"] = f"{rule.summary}\n\n[Documentation]({rule.doc_url})"
    return descriptor


def _fixes(ctx: RenderContext, diagnostic: Diagnostic) -> list[dict[str, Any]] | None:
    # A SARIF fix must carry its replacements: a fix whose text the report cannot compute is left out.
    if diagnostic.fix is None:
        return None
    edits = ctx.text_edits(diagnostic)
    if not edits:
        return None
    replacements = [
        {"deletedRegion": _region(e.location, e.end_location), "insertedContent": {"text": e.content}}
        for e in edits
    ]
    return [
        {
            "description": {"text": diagnostic.fix.title},
            "artifactChanges": [
                {
                    "artifactLocation": _artifact_location(ctx, diagnostic.filename),
                    "replacements": replacements,
                }
            ],
        }
    ]


def sarif_log(ctx: RenderContext) -> dict[str, Any]:
    """The SARIF log as a dict (the tests validate it against the schema)."""
    rules = dict(ctx.rules)
    for d in ctx.diagnostics:  # a finding without registry metadata still needs a descriptor to point at
        rules.setdefault(d.code, RuleInfo(d.code, d.name, d.name, d.fix is not None, True, ""))
    ordered = sorted(rules.values(), key=lambda r: r.code)
    rule_index = {rule.code: i for i, rule in enumerate(ordered)}
    results = []
    for d in ctx.diagnostics:
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": rule_index[d.code],
            "level": "error",
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact_location(ctx, d.filename),
                        "region": _region(d.location, d.end_location),
                    }
                }
            ],
        }
        fixes = _fixes(ctx, d)
        if fixes:
            result["fixes"] = fixes
        results.append(result)
    driver: dict[str, Any] = {"name": "flaxprec", "version": ctx.tool_version}
    if ctx.tool_uri:
        driver["informationUri"] = ctx.tool_uri
    driver["rules"] = [_rule_descriptor(rule) for rule in ordered]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "originalUriBaseIds": {SRCROOT: {"uri": ctx.root.as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render(ctx: RenderContext) -> str:
    return json.dumps(sarif_log(ctx), indent=2, ensure_ascii=False) + "\n"
