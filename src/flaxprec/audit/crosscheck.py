"""Static-vs-runtime cross-check: which runtime leaks do the static rules explain?

A leak is explained by an FLX001/FLX007 diagnostic in the same file whose row range contains the leak's
construction line (the call that builds the layer without ``dtype=``). A ``param-upcast`` or
``float32-compute`` leak is also explained by an FLX007 diagnostic inside the leaking module's class
body, because that is where the upcasting expression lives, not at the construction line. What is left
over is the measure of what static analysis misses.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flaxprec.audit.errors import AuditError
from flaxprec.audit.records import Finding, ModuleInfo, ModulePath, Site

EXPLAINING_CODES = frozenset({"FLX001", "FLX007"})


def static_diagnostics(paths: Sequence[Path]) -> list[Any]:
    """Run the static rules; the single place that knows the engine's entry point."""
    try:
        from flaxprec.engine import check_paths
    except ImportError as exc:
        raise AuditError(f"--cross-check needs the static engine (flaxprec.engine): {exc}") from exc
    return list(check_paths(list(paths)))


def default_paths(findings: Sequence[Finding], modules: dict[ModulePath, ModuleInfo]) -> list[Path]:
    """Without explicit paths, check the files where the leaks were constructed or defined."""
    files: dict[str, None] = {}
    for finding in findings:
        if finding.kind != "compute-leak":
            continue
        if finding.site is not None:
            files[finding.site.filename] = None
        info = modules.get(finding.module_path)
        if info is not None and info.class_source is not None:
            files[info.class_source[0]] = None
    return [Path(f) for f in files if os.path.isfile(f)]


def _norm(filename: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.realpath(filename))


def _covered(filename: str, paths: Sequence[Path]) -> bool:
    name = _norm(filename)
    for path in paths:
        root = _norm(path)
        if name == root or name.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def _explains(diag: Any, finding: Finding, info: ModuleInfo | None) -> bool:
    if diag.code not in EXPLAINING_CODES:
        return False
    file = _norm(diag.filename)
    first, last = diag.location.row, diag.end_location.row
    site = finding.site
    if site is not None and file == _norm(site.filename) and first <= site.line <= last:
        return True
    if diag.code == "FLX007" and finding.cause != "missing-dtype" and info and info.class_source:
        src_file, start, end = info.class_source
        return file == _norm(src_file) and start <= first and last <= end
    return False


def cross_check(
    findings: Sequence[Finding],
    modules: dict[ModulePath, ModuleInfo],
    paths: Sequence[Path],
    diagnostics: Sequence[Any],
) -> None:
    """Annotate every compute leak with ``static``: its status and the diagnostics that explain it.

    Status is ``explained``, ``missed`` (its file was checked and nothing explains it) or ``not-checked``
    (its construction line lies outside the checked paths, so the static rules could not have seen it).
    """
    for finding in findings:
        if finding.kind != "compute-leak":
            continue
        info = modules.get(finding.module_path)
        explaining = [d for d in diagnostics if _explains(d, finding, info)]
        if explaining:
            status = "explained"
        elif finding.site is not None and _covered(finding.site.filename, paths):
            status = "missed"
        else:
            status = "not-checked"
        finding.extra["static"] = {
            "status": status,
            "explained_by": [f"{d.code} {Site(d.filename, d.location.row).render()}" for d in explaining],
        }
