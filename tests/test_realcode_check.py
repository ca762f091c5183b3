"""``flaxprec check`` on published Flax code: the exact findings, each verified by reading the code.

``tests/realcode/<release>.check.txt`` lists ``path:line:col CODE`` for every finding; each one was read in
the source (the review notes are in the file's header lines). A new finding or a lost one fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import corpus

DATA = Path(__file__).parent / "realcode"


def _expected(release: str) -> list[str]:
    lines = (DATA / f"{release}.check.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("release", ["transformers-4.21.0", "transformers-4.46.3"])
def test_transformers_findings(release: str) -> None:
    root = corpus(release)
    result = subprocess.run(
        [sys.executable, "-m", "flaxprec", "check", ".", "--output-format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    found = [
        f"{d['filename']}:{d['location']['row']}:{d['location']['column']} {d['code']}"
        for d in json.loads(result.stdout)
    ]
    assert found == _expected(release)
