"""The ``flaxprec audit`` click command. Imports only click at import time: jax and flax load when it runs."""

from __future__ import annotations

import sys
import traceback

import click

DTYPES = {"bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}
DTYPES |= {"float32": "float32", "fp32": "float32"}


@click.command()
@click.argument("target")
@click.option(
    "--dtype",
    type=click.Choice(sorted(DTYPES)),
    help="Compute dtype to expect, and to set on the root module's dtype field [default: the root's dtype].",
)
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--cross-check",
    "cross_check",
    multiple=True,
    is_flag=False,
    flag_value="",
    metavar="[PATH]",
    help="Run the static rules on PATH (repeatable; alone: the files where the leaks are built) "
    "and list the runtime leaks that no static finding explains.",
)
@click.option(
    "--grads",
    is_flag=True,
    help="Compare gradient norms of a real CPU run in the compute dtype and in float32.",
)
@click.option(
    "--rtol", type=float, default=0.05, show_default=True, help="Relative difference that --grads reports."
)
@click.option(
    "--verbose", "-v", is_flag=True, help="Show the traceback when the target cannot be loaded or run."
)
def audit(
    target: str,
    dtype: str | None,
    output_format: str,
    cross_check: tuple[str, ...],
    grads: bool,
    rtol: float,
    verbose: bool,
) -> None:
    """Prove at run time that a model computes in half precision with float32 weights.

    TARGET is path/to/file.py:factory or package.module:factory; factory() returns (module, args) or
    (module, args, kwargs) with example inputs (arrays or jax.ShapeDtypeStruct). Exit status: 0 clean,
    1 with findings, 2 when the target cannot be imported, called or run.
    """
    from flaxprec.audit.errors import AuditError
    from flaxprec.audit.render import render_json, render_text
    from flaxprec.audit.run import AuditOptions, run_audit

    options = AuditOptions(target, DTYPES[dtype] if dtype else None, cross_check, grads, rtol)
    try:
        report = run_audit(options)
    except AuditError as exc:
        if verbose:
            traceback.print_exception(exc, file=sys.stderr)
        click.echo(f"flaxprec audit: error: {exc}", err=True)
        sys.exit(2)
    click.echo(render_json(report) if output_format == "json" else render_text(report))
    sys.exit(1 if report.failed else 0)
