"""Fix fixtures: every ``fixtures/<CODE>/<case>.py`` that has a hand-written fixed twin beside it.

Naming convention (a new case is a new pair of files):

- ``<case>.fixed.py``: the exact bytes ``flaxprec fix --apply`` (safe fixes only) must write;
- ``<case>.unsafe.fixed.py``: the exact bytes ``flaxprec fix --apply --unsafe-fixes`` must write.

Twins are written by hand, as a careful human would fix the file, never copied from the tool's output: a
mismatch is a finding about the tool, not a snapshot to refresh. Both kinds end in ``.fixed.py``, which the
check harness (``tests/test_fixtures.py``) skips; the input keeps its inline markers and ``.expected``
snapshot there. Files are compared as bytes (read through ``source_io``), so CRLF, BOM and tabs count.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import FIXTURES, run_flaxprec
from flaxprec.engine import Checker
from flaxprec.fixer import fix_source, wanted
from flaxprec.rules import all_rules
from flaxprec.source_io import read_source

SAFE_SUFFIX = ".fixed.py"
UNSAFE_SUFFIX = ".unsafe.fixed.py"

# Twins the tool does not produce yet: each is a finding, kept visible (strict: a fix makes them fail).
KNOWN_MISMATCHES: dict[str, str] = {}


@dataclass(frozen=True)
class Pair:
    source: Path
    twin: Path
    unsafe: bool

    @property
    def id(self) -> str:
        return self.twin.relative_to(FIXTURES).as_posix()


def _pairs() -> list[Pair]:
    pairs = []
    for twin in sorted(FIXTURES.glob(f"*/*{SAFE_SUFFIX}")):
        unsafe = twin.name.endswith(UNSAFE_SUFFIX)
        stem = twin.name.removesuffix(UNSAFE_SUFFIX if unsafe else SAFE_SUFFIX)
        pairs.append(Pair(twin.with_name(f"{stem}.py"), twin, unsafe))
    return pairs


PAIRS = _pairs()


def _params(known: dict[str, str] | None = None) -> list:
    known = known or {}
    return [
        pytest.param(pair, id=pair.id, marks=[pytest.mark.xfail(reason=known[pair.id], strict=True)])
        if pair.id in known
        else pytest.param(pair, id=pair.id)
        for pair in PAIRS
    ]


def _checker(path: Path) -> Checker:
    """The default rules plus the rule of the fixture's directory (opt-in rules have fix cases too)."""
    code = path.parent.name
    return Checker(select=lambda rule, filename: rule.default_on or rule.code == code)


# Opt-in rules with fix cases: the command-line test selects them explicitly.
OPT_IN = sorted({p.source.parent.name for p in PAIRS} - {r.code for r in all_rules() if r.default_on})


def _fix_bytes(path: Path, unsafe: bool) -> bytes:
    """What fixing the file gives, encoded like the file (BOM, codec); raises if the fixer refuses."""
    source = read_source(path)
    return source.encode(fix_source(source.text, path.as_posix(), unsafe=unsafe, checker=_checker(path)))


def test_enough_pairs() -> None:
    """Issue #3 asks for at least 20 input/output pairs, and unsafe twins exist (tied embeddings...)."""
    assert len(PAIRS) >= 20
    assert any(pair.unsafe for pair in PAIRS)
    for pair in PAIRS:
        assert pair.source.is_file(), f"{pair.id} has no input {pair.source.name}"
        assert pair.source.with_suffix(".expected").is_file(), f"{pair.source.name} has no check snapshot"


@pytest.mark.parametrize("pair", _params(KNOWN_MISMATCHES))
def test_fix_gives_the_twin(pair: Pair) -> None:
    fixed, twin = _fix_bytes(pair.source, pair.unsafe), pair.twin.read_bytes()
    # Line lists first: a failure then shows the differing lines, not two long byte strings.
    assert fixed.splitlines(keepends=True) == twin.splitlines(keepends=True)
    assert fixed == twin


@pytest.mark.parametrize("pair", _params())
def test_fixing_the_twin_changes_nothing(pair: Pair) -> None:
    assert _fix_bytes(pair.twin, pair.unsafe) == pair.twin.read_bytes()


@pytest.mark.parametrize("pair", _params())
def test_twin_has_nothing_left_to_fix(pair: Pair) -> None:
    source = read_source(pair.twin)
    found = _checker(pair.twin).check_source(source.text, pair.twin.as_posix())
    left = [d for d in found if wanted(d, pair.unsafe)]
    assert [(d.location.row, d.code, d.fix.title if d.fix else None) for d in left] == []


# --- the real command line ----------------------------------------------------------------------------------


def _flat_name(pair: Pair) -> str:
    return pair.id.replace("/", "_").removesuffix(UNSAFE_SUFFIX if pair.unsafe else SAFE_SUFFIX) + ".py"


CLEAN = '"""Nothing to fix here."""\n\nimport flax.linen as nn\n\n\nclass Plain(nn.Module):\n    pass\n'


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_cli_fix_apply_writes_the_twins(tmp_path: Path, unsafe: bool) -> None:
    """``flaxprec fix --apply`` on copies of every input: twin bytes, file mode kept, clean files untouched.

    Runs the installed command line, so the real reading, encoding and atomic writing are tested (CRLF,
    BOM, tabs). A clean file keeps its mtime: the fixer must not rewrite what it does not change.
    """
    pairs = [pair for pair in PAIRS if pair.unsafe == unsafe]
    for pair in pairs:
        target = tmp_path / _flat_name(pair)
        shutil.copyfile(pair.source, target)
        os.chmod(target, 0o640)
    clean = tmp_path / "clean.py"
    clean.write_bytes(CLEAN.replace("\n", "\r\n").encode())
    os.utime(clean, (1_000_000_000, 1_000_000_000))

    selected = [f"--extend-select={code}" for code in OPT_IN]
    args = ["fix", "--apply", *(["--unsafe-fixes"] if unsafe else []), *selected, "."]
    result = run_flaxprec(*args, cwd=tmp_path)
    # Both leave findings with no fix at all: FLX004 on a value the module computes and stores with and
    # no storage dtype of its own to forward (fix_params.py:35, fix_nnx_params.py:20). A safe run also
    # leaves the unsafe fixes (a tied embedding's lookups, float32 for a module without a param dtype).
    assert result.returncode == 1, result.stderr
    assert result.stderr.endswith(" 2 remaining.\n") is unsafe, result.stderr

    mismatched = []
    for pair in pairs:
        target = tmp_path / _flat_name(pair)
        if target.read_bytes() != pair.twin.read_bytes():
            mismatched.append(pair.id)
        assert stat.S_IMODE(target.stat().st_mode) == 0o640, pair.id
    assert sorted(mismatched) == sorted(set(KNOWN_MISMATCHES) & {pair.id for pair in pairs})
    assert clean.stat().st_mtime == 1_000_000_000
    assert clean.read_bytes() == CLEAN.replace("\n", "\r\n").encode()

    # The fixed files: ``flaxprec check`` finds nothing the same run could still fix.
    checked = run_flaxprec("check", "--output-format", "json", *selected, ".", cwd=tmp_path)
    left = [
        (d["filename"], d["location"]["row"], d["code"])
        for d in json.loads(checked.stdout)
        if d["fix"] is not None and (unsafe or d["fix"]["applicability"] == "safe")
    ]
    assert left == []

    # A second run has nothing to write, and leaves every file's mtime alone.
    for path in tmp_path.glob("*.py"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    again = run_flaxprec(*args, cwd=tmp_path)
    assert again.returncode == result.returncode
    assert again.stdout == ""
    assert all(path.stat().st_mtime == 1_000_000_000 for path in tmp_path.glob("*.py"))
