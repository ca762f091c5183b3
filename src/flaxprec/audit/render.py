"""Render a :class:`Report` as JSON (a list of records) or as text tables grouped by cause."""

from __future__ import annotations

import json
from collections.abc import Sequence

from flaxprec.audit.findings import CAUSES
from flaxprec.audit.records import Finding, display_path
from flaxprec.audit.run import Report

GROUPS: dict[tuple[str, str | None], str] = {
    **{("compute-leak", cause): f"compute-leak ({cause}): {text}" for cause, text in CAUSES.items()},
    ("param-dtype", None): "param-dtype: parameters not stored in float32",
    ("zero-grad", None): "zero-grad: the gradient is exactly zero (the parameter never reaches the loss)",
    ("grad-mismatch", None): "grad-mismatch: gradient norm differs from the float32 run by more than rtol",
}


def render_json(report: Report) -> str:
    records = [f.to_json() for f in report.findings] + [f.to_json() for f in report.grad_norms]
    return json.dumps(records, indent=2)


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _site(finding: Finding) -> str:
    return finding.site.render() if finding.site else "?"


def _path(finding: Finding) -> str:
    return finding.path or "(root)"


def _number(value: object) -> str:
    return "-" if value is None else f"{value:.4g}"


def _group_lines(kind: str, findings: list[Finding]) -> list[str]:
    if kind == "compute-leak":
        rows = [("path", "class", "in", "out", "site")]
        rows += [(_path(f), f.cls, ",".join(f.extra["inputs"]) or "-", f.dtype, _site(f)) for f in findings]
        lines = _table(rows)
        for i, f in enumerate(findings, start=1):
            inside = [p.removeprefix(f.path + "/") if f.path else p for p in f.extra.get("contains", [])]
            if inside:
                lines[i] += f"  (and inside: {', '.join(inside)})"
        return lines
    if kind == "param-dtype":
        rows = [("path", "class", "dtype", "site")] + [(_path(f), f.cls, f.dtype, _site(f)) for f in findings]
        return _table(rows)
    rows = [("path", "class", "runs" if kind == "zero-grad" else "rel diff", "site")]
    for f in findings:
        rows.append(
            (_path(f), f.cls, f.dtype if kind == "zero-grad" else _number(f.extra["rel_diff"]), _site(f))
        )
    return _table(rows)


def _cross_check_lines(report: Report) -> list[str]:
    leaks = [f for f in report.findings if f.kind == "compute-leak"]
    left = [f for f in leaks if f.extra["static"]["status"] != "explained"]
    checked = ", ".join(display_path(p) for p in report.checked_paths or []) or "nothing"
    lines = [f"cross-check (static rules on {checked}):"]
    lines.append(f"  {len(leaks) - len(left)} of {len(leaks)} runtime leaks explained by a static finding")
    if left:
        lines.append("  not explained:")
        rows = [(_path(f), f.cls, f.cause or "", _site(f), f.extra["static"]["status"]) for f in left]
        lines += _table(rows, indent="    ")
    return lines


def _grad_lines(report: Report) -> list[str]:
    compute = report.trace.compute_dtype
    lines = [f"gradient norms ({compute} run vs float32 run, rtol {report.rtol:g}):"]
    rows = [("path", f"norm {compute}", "norm float32", "rel diff")]
    for f in report.grad_norms:
        rows.append(
            (
                _path(f),
                _number(f.extra["norm"]),
                _number(f.extra["norm_float32"]),
                _number(f.extra["rel_diff"]),
            )
        )
    return lines + _table(rows)


def render_text(report: Report) -> str:
    trace = report.trace
    calls = len(trace.calls)
    lines = [f"flaxprec audit {report.label}"]
    compute = trace.compute_dtype or "unknown"
    lines.append(f"compute dtype: {compute} ({trace.compute_dtype_source}); {calls} module calls traced")
    groups: dict[tuple[str, str | None], list[Finding]] = {}
    for finding in report.findings:
        groups.setdefault((finding.kind, finding.cause), []).append(finding)
    for key in GROUPS:
        if key in groups:
            lines += ["", GROUPS[key], *_group_lines(key[0], groups[key])]
    if report.checked_paths is not None:
        lines += ["", *_cross_check_lines(report)]
    if report.grad_norms:
        lines += ["", *_grad_lines(report)]
    counts: dict[str, int] = {}
    for finding in report.findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    lines.append("")
    if counts:
        total = sum(counts.values())
        detail = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        lines.append(f"{total} finding{'s' if total != 1 else ''}: {detail}")
    else:
        lines.append(f"no findings: parameters are float32 and no layer leaves {compute}")
    return "\n".join(lines)
