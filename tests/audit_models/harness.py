"""Shared test helpers for the audit: inline expectations and an in-process ``flaxprec audit`` runner.

A construction line that a test expects in a report carries ``# audit: <marker>``; tests look the line
up instead of hard-coding numbers, so editing a model cannot silently shift what they check.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def line_of(model: str, marker: str) -> int:
    """The 1-based line of ``audit_models/<model>.py`` that ends with ``# audit: <marker>``."""
    lines = (HERE / f"{model}.py").read_text().splitlines()
    hits = [i for i, line in enumerate(lines, start=1) if line.rstrip().endswith(f"# audit: {marker}")]
    assert len(hits) == 1, f"marker {marker!r} found {len(hits)} times in {model}.py"
    return hits[0]


def site(model: str, marker: str) -> str:
    """The site string the audit prints when run from the repository root."""
    return f"tests/audit_models/{model}.py:{line_of(model, marker)}"


def target(model: str, factory: str = "make") -> str:
    return f"tests/audit_models/{model}.py:{factory}"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def records(self) -> list[dict[str, Any]]:
        return json.loads(self.stdout)


def audit(*args: str) -> Result:
    """Run ``flaxprec audit ARGS`` in this process, from the repository root."""
    from flaxprec.cli import main

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        result = CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)
    finally:
        os.chdir(cwd)
    return Result(result.exit_code, result.stdout, result.stderr)
