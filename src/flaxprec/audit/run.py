"""One audit from start to end: load the target under the site hooks, trace, analyse, cross-check, grads.

Kept apart from the click command so the command module imports nothing but click, and so tests can call
the audit without a command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from flaxprec.audit.errors import AuditError
from flaxprec.audit.records import Finding, Trace

NOT_FINDINGS = frozenset({"grad-norm"})


@dataclass
class AuditOptions:
    target: str
    dtype: str | None = None
    cross_check: tuple[str, ...] = ()
    grads: bool = False
    rtol: float = 0.05


@dataclass
class Report:
    label: str
    trace: Trace
    findings: list[Finding]
    grad_norms: list[Finding] = field(default_factory=list)
    checked_paths: list[Path] | None = None
    rtol: float | None = None

    @property
    def failed(self) -> bool:
        return any(f.kind not in NOT_FINDINGS for f in self.findings)


def _cross_check(options: AuditOptions, report: Report) -> None:
    from flaxprec.audit.crosscheck import cross_check, default_paths, static_diagnostics

    paths = [Path(p) for p in options.cross_check if p]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise AuditError(f"--cross-check: no such path: {', '.join(missing)}")
    if "" in options.cross_check:
        paths += default_paths(report.findings, report.trace.modules)
    unique = list(dict.fromkeys(Path(os.path.abspath(p)) for p in paths))
    try:
        diagnostics = static_diagnostics(unique)
    except AuditError:
        raise
    except Exception as exc:
        raise AuditError(f"--cross-check: the static rules failed: {type(exc).__name__}: {exc}") from exc
    cross_check(report.findings, report.trace.modules, unique, diagnostics)
    report.checked_paths = unique


def run_audit(options: AuditOptions) -> Report:
    """Everything but rendering; raises :class:`AuditError` for whatever should exit with status 2."""
    from flaxprec.audit.findings import analyse
    from flaxprec.audit.sites import SiteRecorder
    from flaxprec.audit.target import load_target
    from flaxprec.audit.tracer import resolve_compute_dtype, trace_model

    recorder = SiteRecorder()
    with recorder.installed():
        target = load_target(options.target)
        try:
            module, compute, source = resolve_compute_dtype(target.module, options.dtype)
        except Exception as exc:
            raise AuditError(f"{options.target}: cannot set dtype: {type(exc).__name__}: {exc}") from exc
        trace = trace_model(target, module, compute, source, recorder)
    report = Report(options.target, trace, analyse(trace))
    if options.cross_check:
        _cross_check(options, report)
    if options.grads:
        from flaxprec.audit.grads import grad_findings, gradient_rows

        if compute is None:
            raise AuditError(f"--grads: {source}")
        rows = gradient_rows(target, module, target.loss_fn)
        findings, norms = grad_findings(rows, trace.modules, compute, options.rtol)
        report.findings += findings
        report.grad_norms = norms
        report.rtol = options.rtol
    return report
