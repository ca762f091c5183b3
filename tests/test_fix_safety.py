"""Safety of ``flaxprec fix`` (issue #3): nothing broken is ever written, and the exit codes say what is left.

The fixer's promises are only worth something if each has a test that would catch its breach: broken code
must not reach the disk even when the rewriter misbehaves, a fix that does not remove its finding is an
error, a dry run writes nothing, and ``--apply`` exits 1 exactly when something is left to look at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest
from click.testing import CliRunner

import flaxprec.apply_edits
import flaxprec.engine
import flaxprec.fixer
import flaxprec.rules.flx001_missing_dtype as flx001
from conftest import FAULTY, FIXED, run_flaxprec
from flaxprec.analysis import FileModel
from flaxprec.cli import main
from flaxprec.diagnostics import Diagnostic, SetKeyword
from flaxprec.rules import RuleContext, all_rules

# A vocabulary head: its only fix is unsafe, so a safe run leaves the finding in place.
# A tied embedding: its one finding's fix (cast the lookup) is unsafe.
TIED_ONLY = FIXED.replace(
    "return nn.Dense(4, dtype=self.dtype)(x)",
    "embed = nn.Embed(10, 4)\n        return embed.attend(embed(x))",
)


def _write(tmp_path: Path, text: str, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run_in_process(*args: str) -> tuple[int, str, str]:
    """The CLI in this process, so that a test can monkeypatch the fixer's internals."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_rewrite_that_does_not_parse_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The call rewriter produces garbage: ``apply_edits`` re-parses, refuses, the file stays as it was."""

    def broken(call: cst.Call, ops: object, signature: object = ()) -> cst.Call:
        # `lambda(4)` is a valid Name node (an identifier) but not a valid call: it cannot parse.
        return call.with_changes(func=cst.Name("lambda"))

    monkeypatch.setattr(flaxprec.apply_edits, "rewrite_call_unchecked", broken)
    path = _write(tmp_path, FAULTY)
    code, _, stderr = _run_in_process("fix", "--apply", str(path))
    assert code == 1
    assert "not fixed" in stderr and "does not parse" in stderr
    assert path.read_text(encoding="utf-8") == FAULTY


def test_fixed_text_that_does_not_parse_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if the edit layer let broken text through, the fixer's own parse check stops it."""

    class _Broken:
        code = "def broken(:\n    pass\n"

    monkeypatch.setattr(flaxprec.fixer, "apply_edits", lambda module, edits, imports: _Broken())
    path = _write(tmp_path, FAULTY)
    code, _, stderr = _run_in_process("fix", "--apply", str(path))
    assert code == 1
    assert "fixed code would not parse" in stderr
    assert path.read_text(encoding="utf-8") == FAULTY


def test_fix_that_leaves_its_finding_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FLX001's fix writes the wrong keyword: the finding survives the fix, so the fix is an error."""
    monkeypatch.setattr(flx001, "SetKeyword", lambda name, value: SetKeyword("precision", "None"))
    path = _write(tmp_path, FAULTY)
    code, _, stderr = _run_in_process("fix", "--apply", str(path))
    assert code == 1
    reason = f"{path}:10:16: FLX001 not fixed: the fix leaves its finding in place\n"
    assert stderr == reason + "Fixed 0 errors, 1 remaining.\n"
    assert path.read_text(encoding="utf-8") == FAULTY


def test_fix_whose_finding_remains_without_a_fix_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finding survives its fix but no longer offers one: still an error, not a silent partial fix.

    This is how a real rule failed: FLX001's unsafe fix for a tied embedding casts the lookups, and the rule
    went on reporting the embedding without a fix; the fixer wrote the file and called it fixed. The
    re-check therefore cannot rely on the leftover asking for another pass: it counts findings per code.
    """

    def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
        for diagnostic in flx001.check(model, context):
            if "precision=None" in model.module.code:
                diagnostic.fix = None
            yield diagnostic

    rules = tuple(
        dataclasses.replace(rule, check=check) if rule.code == "FLX001" else rule for rule in all_rules()
    )
    monkeypatch.setattr(flaxprec.engine, "all_rules", lambda: rules)
    monkeypatch.setattr(flx001, "SetKeyword", lambda name, value: SetKeyword("precision", "None"))
    path = _write(tmp_path, FAULTY)
    code, _, stderr = _run_in_process("fix", "--apply", str(path))
    assert code == 1
    reason = f"{path}:10:16: FLX001 not fixed: the fix leaves its finding in place\n"
    assert stderr == reason + "Fixed 0 errors, 1 remaining.\n"
    assert path.read_text(encoding="utf-8") == FAULTY


def test_fix_without_apply_prints_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, FAULTY)
    before = path.stat().st_mtime_ns
    result = run_flaxprec("fix", "model.py", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("--- a/model.py\n+++ b/model.py\n@@ ")
    assert (
        "-        return nn.Dense(4)(x)\n+        return nn.Dense(4, dtype=self.dtype)(x)\n" in result.stdout
    )
    assert "Would fix 1 error" in result.stderr
    assert path.read_text(encoding="utf-8") == FAULTY
    assert path.stat().st_mtime_ns == before


def test_fix_without_apply_on_a_clean_file_exits_0(tmp_path: Path) -> None:
    _write(tmp_path, FIXED)
    result = run_flaxprec("fix", "model.py", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")


def test_fix_apply_exits_0_when_nothing_is_left(tmp_path: Path) -> None:
    path = _write(tmp_path, FAULTY)
    result = run_flaxprec("fix", "--apply", "model.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert path.read_text(encoding="utf-8") == FIXED
    assert "Fixed 1 error." in result.stderr


def test_fix_apply_exits_1_when_an_unsafe_only_finding_remains(tmp_path: Path) -> None:
    path = _write(tmp_path, TIED_ONLY)
    result = run_flaxprec("fix", "--apply", "model.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "1 remaining" in result.stderr
    assert path.read_text(encoding="utf-8") == TIED_ONLY
    # With the unsafe fix enabled the lookup is cast (float32 table and logits), and nothing is left.
    unsafe = run_flaxprec("fix", "--apply", "--unsafe-fixes", "model.py", cwd=tmp_path)
    assert unsafe.returncode == 0, unsafe.stderr
    assert "return embed.attend(embed(x).astype(self.dtype))" in path.read_text(encoding="utf-8")


def test_fix_stdin_prints_the_fixed_source(tmp_path: Path) -> None:
    result = run_flaxprec("fix", "--stdin-filename", "x.py", cwd=tmp_path, stdin=FAULTY)
    assert result.stdout == FIXED
    assert result.returncode == 0
    assert list(tmp_path.iterdir()) == []
    # Nothing to fix: the source comes back as it was.
    clean = run_flaxprec("fix", "--stdin-filename", "x.py", cwd=tmp_path, stdin=FIXED)
    assert (clean.returncode, clean.stdout) == (0, FIXED)
