"""Every fixture under ``fixtures/<CODE>/`` is a case: inline markers + an exact snapshot.

A marker is a comment naming codes on the line they are expected (``nn.Dense(4)  # FLX001``); lines
without one must stay silent. The ``.expected`` snapshot beside each case holds the exact
``path:line:col: CODE message`` lines, so columns and messages are asserted too.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from conftest import FIXTURES, UPDATE
from flaxprec.discover import Discovery
from flaxprec.engine import Checker

MARKER = re.compile(r"\bFLX\d{3}\b")
NOQA_MARKER = re.compile(r"\s*FLX\d{3}(?:[\s,]+FLX\d{3})*\s*")


def _cases() -> list[Path]:
    cases = []
    for code_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for path in sorted(code_dir.iterdir()):
            if path.is_dir() or (path.suffix == ".py" and not path.name.endswith(".fixed.py")):
                cases.append(path)
    return cases


def _markers(path: Path) -> set[tuple[str, int, str]]:
    """(file, line, code) for every code named in a comment (tokenize: strings never count)."""
    found = set()
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for file in files:
        if file.name.endswith(".fixed.py"):
            continue
        tokens = tokenize.generate_tokens(io.StringIO(file.read_text(encoding="utf-8-sig")).readline)
        for token in tokens:
            if token.type != tokenize.COMMENT:
                continue
            # The codes of a noqa directive are not markers; a line with one is marked in a last comment
            # part that holds only codes (the directive, then two blanks, a hash and FLX901).
            text = token.string if "noqa" not in token.string.lower() else token.string.rsplit("#", 1)[1]
            if "noqa" in token.string.lower() and not NOQA_MARKER.fullmatch(text):
                continue
            for code in MARKER.findall(text):
                found.add((_rel(file), token.start[0], code))
    return found


def _rel(file: Path) -> str:
    return file.relative_to(FIXTURES).as_posix()


def _diagnostics(path: Path):
    files = Discovery().files([path])
    # A case runs the default rules plus its own directory's rule: opt-in rules have fixtures too.
    code = path.relative_to(FIXTURES).parts[0]
    checker = Checker(select=lambda rule, filename: rule.default_on or rule.code == code)
    return checker.check_paths(files, display=lambda p: _rel(p.resolve()))


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_fixture(case: Path) -> None:
    diagnostics = _diagnostics(case)
    got = {(d.filename, d.location.row, d.code) for d in diagnostics}
    assert got == _markers(case)
    rendered = "".join(
        f"{d.filename}:{d.location.row}:{d.location.column}: {d.code} {d.message}\n" for d in diagnostics
    )
    snapshot = case.with_suffix(".expected") if case.is_file() else case / "expected.txt"
    if UPDATE:
        snapshot.write_text(rendered, encoding="utf-8")
    assert snapshot.read_text(encoding="utf-8") == rendered


def test_every_rule_has_enough_fixtures() -> None:
    """Issue #2: FLX001 >= 15 positive and 15 negative cases, the other rules >= 4 positive each."""
    positives: dict[str, int] = {}
    for case in _cases():
        for _, _, code in _markers(case):
            positives[code] = positives.get(code, 0) + 1
    assert positives.get("FLX001", 0) >= 15
    for code in ("FLX002", "FLX003", "FLX004", "FLX005", "FLX006"):
        assert positives.get(code, 0) >= 4, code
