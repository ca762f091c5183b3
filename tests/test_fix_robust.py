"""``fix`` never loses an edit (issue #19, items 4-6).

Each reproduction of the issue is a test: a file edited or deleted while the run fixes it is left as its
user left it; owner, group, mode and hard links survive a write; a read-only file is refused; only written
fixes are counted; no temporary file outlives the write, and a stale one changes nothing; a finding whose
fix cannot be made is printed with the reason; one fix revealing another finding is fixed on the next
pass instead of cancelling the file. Concurrent edits are simulated deterministically, from inside the
run (a wrapped fixer or write step), never with sleeps.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import flaxprec.engine
import flaxprec.fixer
import flaxprec.rules.flx001_missing_dtype as flx001
import flaxprec.source_io
import flaxprec.suppress
from conftest import FAULTY, FIXED, REPO
from flaxprec.analysis import FileModel
from flaxprec.cli import main
from flaxprec.diagnostics import CallEdit, Diagnostic, SetKeyword
from flaxprec.rules import RuleContext, all_rules
from flaxprec.source_io import NotWritten, read_source, write_back

USER_EDIT = FAULTY.replace("nn.Dense(4)", "nn.Dense(8)")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(directory: Path, text: str, name: str = "model.py") -> Path:
    path = directory / name
    path.write_bytes(text.encode("utf-8"))
    return path


def run(*args: str) -> tuple[int, str, str]:
    """The CLI in this process, so that a test can wrap the fixer's steps."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _after_fixing(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """Run ``action`` after the fixer has fixed a file and before ``fix`` writes it: a user's edit
    landing in the window between the read and the write."""
    original = flaxprec.fixer.fix_unit

    def fix_unit(*args, **kwargs):
        result = original(*args, **kwargs)
        action()
        return result

    monkeypatch.setattr(flaxprec.fixer, "fix_unit", fix_unit)


# -- item 4: what is on disk ------------------------------------------------------------------------------


def test_a_file_edited_during_the_run_is_not_written(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(workdir, FAULTY)
    _after_fixing(monkeypatch, lambda: path.write_text(USER_EDIT, encoding="utf-8"))
    code, stdout, stderr = run("fix", "--apply", "model.py")
    assert (code, stdout) == (1, "")
    assert stderr == "model.py: changed while fixing, not written\nFixed 0 errors, 1 remaining.\n"
    assert path.read_text(encoding="utf-8") == USER_EDIT
    assert os.listdir(workdir) == ["model.py"]


def test_an_edit_during_the_temporary_write_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes are compared after the temporary file is written, just before the rename."""
    path = _write(tmp_path, FAULTY)
    source = read_source(path)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        path.write_text(USER_EDIT, encoding="utf-8")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(NotWritten, match="changed while fixing, not written"):
        write_back(source, FIXED.encode())
    assert path.read_text(encoding="utf-8") == USER_EDIT
    assert os.listdir(tmp_path) == ["model.py"]


def test_a_file_deleted_during_the_run_is_not_recreated(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(workdir, FAULTY)
    other = _write(workdir, FAULTY, "other.py")
    _after_fixing(monkeypatch, lambda: path.unlink(missing_ok=True))
    code, _, stderr = run("fix", "--apply", "model.py", "other.py")
    assert code == 1
    assert stderr == "model.py: deleted while fixing, not written\nFixed 1 error, 1 remaining.\n"
    assert sorted(os.listdir(workdir)) == ["other.py"]
    assert other.read_text(encoding="utf-8") == FIXED


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root"
)
def test_owner_group_and_mode_are_kept(workdir: Path) -> None:
    path = _write(workdir, FAULTY)
    os.chown(path, 4321, 8765)
    os.chmod(path, 0o640)
    code, _, stderr = run("fix", "--apply", "model.py")
    assert (code, stderr) == (0, "Fixed 1 error.\n")
    status = path.stat()
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (4321, 8765, 0o640)
    assert path.read_text(encoding="utf-8") == FIXED


def test_an_owner_the_process_cannot_give_is_kept_by_writing_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not root and the file is another user's: chown of the new file fails, so the file is written in
    place (same inode, owner untouched) after the temporary write, and the temporary file is removed."""
    path = _write(tmp_path, FAULTY)
    inode = path.stat().st_ino

    def fchown(fd: int, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", fchown)
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((0o100600, 0, 0, 1, 99999, 99999, 0, 0, 0, 0)))
    write_back(read_source(path), FIXED.encode())
    assert path.stat().st_ino == inode
    assert path.read_text(encoding="utf-8") == FIXED
    assert os.listdir(tmp_path) == ["model.py"]


def test_hard_links_are_kept(workdir: Path) -> None:
    path = _write(workdir, FAULTY)
    link = workdir / "link.py"
    os.link(path, link)
    inode = path.stat().st_ino
    code, _, stderr = run("fix", "--apply", "model.py")
    assert (code, stderr) == (0, "Fixed 1 error.\n")
    assert path.stat().st_ino == link.stat().st_ino == inode
    assert path.stat().st_nlink == 2
    assert link.read_text(encoding="utf-8") == path.read_text(encoding="utf-8") == FIXED
    assert sorted(os.listdir(workdir)) == ["link.py", "model.py"]


def test_a_read_only_file_is_refused_and_only_written_fixes_count(workdir: Path) -> None:
    """0444 is refused even as root (the mode bits decide, as for ruff); the other file's fix counts."""
    locked = _write(workdir, FAULTY, "locked.py")
    os.chmod(locked, 0o444)
    open_file = _write(workdir, FAULTY, "open.py")
    code, _, stderr = run("fix", "--apply", "locked.py", "open.py")
    assert code == 1
    assert stderr == "locked.py: read-only, not written\nFixed 1 error, 1 remaining.\n"
    assert locked.read_text(encoding="utf-8") == FAULTY
    assert stat.S_IMODE(locked.stat().st_mode) == 0o444
    assert open_file.read_text(encoding="utf-8") == FIXED


@pytest.mark.parametrize("failure", [OSError("disk on fire"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_the_temporary_file_is_removed_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    path = _write(tmp_path, FAULTY)
    source = read_source(path)

    def broken_replace(src: str, dst: str) -> None:
        assert Path(src).name.endswith(".flaxprec-tmp")  # the temporary file exists at this point
        raise failure

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(type(failure)):
        write_back(source, FIXED.encode())
    assert path.read_text(encoding="utf-8") == FAULTY
    assert os.listdir(tmp_path) == ["model.py"]


def test_a_failed_write_is_reported_and_not_counted(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(workdir, FAULTY)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    code, _, stderr = run("fix", "--apply", "model.py")
    assert code == 1
    assert stderr == "model.py: not written: No space left on device\nFixed 0 errors, 1 remaining.\n"
    assert path.read_text(encoding="utf-8") == FAULTY
    assert os.listdir(workdir) == ["model.py"]


SIGTERM_DURING_WRITE = """\
import os, signal, sys
from flaxprec.source_io import read_source, write_back

source = read_source(sys.argv[1])
real_fsync = os.fsync


def fsync(fd):
    real_fsync(fd)
    os.kill(os.getpid(), signal.SIGTERM)


os.fsync = fsync
write_back(source, b"x = 2\\n")
print("the write went on")
"""


def test_sigterm_during_the_write_removes_the_temporary_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "x = 1\n")
    script = tmp_path.parent / f"{tmp_path.name}_sigterm.py"
    script.write_text(SIGTERM_DURING_WRITE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert done.stdout == ""
    assert path.read_text(encoding="utf-8") == "x = 1\n"
    assert os.listdir(tmp_path) == ["model.py"]


def test_a_stale_temporary_file_is_ignored(workdir: Path) -> None:
    """What a ``kill -9`` can leave beside a file: never checked, reported, fixed or removed."""
    path = _write(workdir, FAULTY)
    stale = _write(workdir, FAULTY[:40], ".model.py.k3j_9x2a.flaxprec-tmp")
    code, stdout, stderr = run("check", "--no-cache", "--output-format", "concise", ".")
    assert code == 1 and "flaxprec-tmp" not in stdout + stderr
    assert stdout.startswith("model.py:10:16: FLX001 ")
    code, stdout, stderr = run("fix", "--apply", ".")
    assert (code, stdout, stderr) == (0, "", "Fixed 1 error.\n")
    assert path.read_text(encoding="utf-8") == FIXED
    assert stale.read_text(encoding="utf-8") == FAULTY[:40]
    assert sorted(os.listdir(workdir)) == [".model.py.k3j_9x2a.flaxprec-tmp", "model.py"]


def test_add_noqa_does_not_overwrite_an_edit_or_a_read_only_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = _write(workdir, FAULTY, "edited.py")
    locked = _write(workdir, FAULTY, "locked.py")
    os.chmod(locked, 0o444)
    original = flaxprec.suppress.add_noqa

    def add_noqa(text, diagnostics):
        if diagnostics[0].filename == "edited.py":
            edited.write_text(USER_EDIT, encoding="utf-8")
        return original(text, diagnostics)

    monkeypatch.setattr(flaxprec.suppress, "add_noqa", add_noqa)
    code, _, stderr = run("check", "--no-cache", "--add-noqa", "edited.py", "locked.py")
    assert code == 1
    assert stderr == (
        "edited.py: changed while adding noqa directives, not written\n"
        "locked.py: read-only, not written\n"
        "Added 0 noqa directives.\n"
    )
    assert edited.read_text(encoding="utf-8") == USER_EDIT
    assert locked.read_text(encoding="utf-8") == FAULTY
    assert sorted(os.listdir(workdir)) == ["edited.py", "locked.py"]


# -- item 5: fixes libcst cannot make ---------------------------------------------------------------------

FORM_FEED = FAULTY.replace(
    "        return nn.Dense(4)(x)\n", "        y = x\n\f        return nn.Dense(4)(y)\n"
)
TRAILING_COMMENTS = FAULTY + "  # a trailing comment\n  # and one more, without a final newline"


@pytest.mark.parametrize(
    ("text", "row"), [(FORM_FEED, 11), (TRAILING_COMMENTS, 10)], ids=["form-feed", "trailing-comments"]
)
@pytest.mark.parametrize("apply", [False, True], ids=["diff", "apply"])
def test_a_fix_libcst_cannot_make_is_reported(workdir: Path, text: str, row: int, apply: bool) -> None:
    path = _write(workdir, text)
    # ``check`` offers the fix (it reads the suspect statement alone, which libcst reproduces)...
    code, stdout, _ = run("check", "--no-cache", "model.py")
    assert code == 1
    assert stdout.startswith(f"model.py:{row}:16: FLX001 [*] `nn.Dense` built without `dtype`: ")
    # ... and ``fix`` says why it does not make it, and exits 1.
    code, stdout, stderr = run("fix", *(["--apply"] if apply else []), "model.py")
    reason = f"model.py:{row}:16: FLX001 not fixed: libcst cannot reproduce this file exactly\n"
    assert (code, stdout) == (1, "")
    assert stderr == reason + ("Fixed 0 errors, 1 remaining.\n" if apply else "")
    assert path.read_bytes() == text.encode("utf-8")


def test_fix_parses_no_file_without_a_possible_finding(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that names neither flax nor a project Module is never analysed, so nothing asks libcst
    whether it could be (a second parse of every such file made ``fix`` 4x slower on diffusers)."""
    _write(workdir, FAULTY)
    _write(workdir, "import torch\n\nx = torch.ones(3)\n", "other.py")
    parsed: list[str] = []
    original = flaxprec.source_io.SourceFile.parse

    def parse(self: flaxprec.source_io.SourceFile):
        parsed.append(self.path.name)
        return original(self)

    monkeypatch.setattr(flaxprec.source_io.SourceFile, "parse", parse)
    assert run("fix", "model.py", "other.py")[0] == 1
    assert sorted(set(parsed)) == ["model.py"]


# -- item 6: a fix that reveals another finding -----------------------------------------------------------

# A real FLX004 case (rules/FLX004.md): `scale` is created in the compute dtype; the safe fix stores it in
# `self.param_dtype` (float32), where it meets the activations uncast: a new FLX007, beside the FLX007 the
# file already has for `bias`. The per-code count took the new FLX007 for the old one left in place.
REVEALING = textwrap.dedent("""\
    import flax.linen as nn
    import jax.numpy as jnp


    class RMSNorm(nn.Module):
        dim: int
        dtype: jnp.dtype = jnp.bfloat16
        param_dtype: jnp.dtype = jnp.float32

        @nn.compact
        def __call__(self, x):
            scale = self.param("scale", nn.initializers.ones, (self.dim,), self.dtype)
            bias = self.param("bias", nn.initializers.zeros, (self.dim,), self.param_dtype)
            return jnp.asarray(x, self.dtype) * scale + bias
    """)
REVEALING_FIXED = REVEALING.replace("(self.dim,), self.dtype)", "(self.dim,), self.param_dtype)").replace(
    "jnp.asarray(x, self.dtype) * scale + bias",
    "jnp.asarray(x, self.dtype) * jnp.asarray(scale, self.dtype) + jnp.asarray(bias, self.dtype)",
)


def test_a_fix_revealing_a_finding_is_followed_by_its_fix(workdir: Path) -> None:
    path = _write(workdir, REVEALING)
    code, stdout, _ = run("check", "--no-cache", "--output-format", "concise", "model.py")
    assert [line[:23] for line in stdout.splitlines()[:2]] == [
        "model.py:12:72: FLX004 ",
        "model.py:14:53: FLX007 ",
    ]
    code, stdout, stderr = run("fix", "--apply", "model.py")
    assert (code, stdout, stderr) == (0, "", "Fixed 3 errors.\n")  # FLX004, FLX007 (bias), the new FLX007
    assert path.read_text(encoding="utf-8") == REVEALING_FIXED
    # Idempotent, and ``check`` finds nothing after it.
    assert run("fix", "--apply", "model.py") == (0, "", "Fixed 0 errors.\n")
    assert run("check", "--no-cache", "model.py")[0] == 0


def test_one_failing_fix_does_not_cancel_the_others(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FLX001's fix is broken (it writes a keyword that does not remove the finding): the FLX004, FLX005 and
    FLX007 fixes of the same file, one of them on the same call, are still made; FLX001 is reported."""
    monkeypatch.setattr(flx001, "SetKeyword", lambda name, value: SetKeyword("precision", "None"))
    body = "jnp.asarray(x, self.dtype) * scale + bias"
    path = _write(workdir, REVEALING.replace(f"return {body}", f"return nn.Dense(4)({body})"))
    code, stdout, stderr = run("fix", "--apply", "model.py")
    assert (code, stdout) == (1, "")
    assert stderr == (
        "model.py:14:16: FLX001 not fixed: the fix leaves its finding in place\n"
        "Fixed 4 errors, 1 remaining.\n"
    )
    fixed_body = "jnp.asarray(x, self.dtype) * jnp.asarray(scale, self.dtype) + jnp.asarray(bias, self.dtype)"
    assert path.read_text(encoding="utf-8") == REVEALING_FIXED.replace(
        f"return {fixed_body}", f"return nn.Dense(4, param_dtype=self.param_dtype)({fixed_body})"
    )


def test_a_chain_of_fixes_stops_at_the_pass_bound(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A (broken) rule whose every fix reveals a new finding: the loop stops after MAX_PASSES passes, keeps
    the verified text of the last one, and says why the finding is left."""
    passes = iter(range(100))

    def check(model: FileModel, context: RuleContext) -> Iterator[Diagnostic]:
        step = next(passes)
        for diagnostic in flx001.check(model, context):
            assert diagnostic.fix is not None
            [edit] = diagnostic.fix.edits
            assert isinstance(edit, CallEdit)
            ops = (SetKeyword("precision", str(step + 1)),)
            diagnostic.fix = dataclasses.replace(diagnostic.fix, edits=(CallEdit(edit.call, ops),))
            diagnostic.message += f" (step {step})"
            yield diagnostic

    rules = tuple(
        dataclasses.replace(rule, check=check) if rule.code == "FLX001" else rule for rule in all_rules()
    )
    monkeypatch.setattr(flaxprec.engine, "all_rules", lambda: rules)
    path = _write(workdir, FAULTY)
    code, _, stderr = run("fix", "--apply", "model.py")
    assert code == 1
    assert stderr == (
        f"model.py:10:16: FLX001 not fixed: fixes did not converge in {flaxprec.fixer.MAX_PASSES} passes\n"
        f"Fixed {flaxprec.fixer.MAX_PASSES} errors, 1 remaining.\n"
    )
    last = flaxprec.fixer.MAX_PASSES
    assert path.read_text(encoding="utf-8") == FAULTY.replace("nn.Dense(4)", f"nn.Dense(4, precision={last})")


def test_a_file_not_written_counts_its_own_findings_as_remaining(workdir: Path) -> None:
    """Three fixes were made in memory (one revealed by another), but the file still has its two findings."""
    path = _write(workdir, REVEALING)
    os.chmod(path, 0o444)
    assert run("fix", "--apply", "model.py") == (
        1,
        "",
        "model.py: read-only, not written\nFixed 0 errors, 2 remaining.\n",
    )
    assert path.read_text(encoding="utf-8") == REVEALING


def test_a_failed_write_in_place_puts_the_old_bytes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard-linked file is written in place; if that write fails, the file gets its old bytes again and
    the temporary copy is removed."""
    path = _write(tmp_path, FAULTY)
    os.link(path, tmp_path / "link.py")
    source = read_source(path)
    real_fsync = os.fsync
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the first is the temporary file's, the second the file's own
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="Input/output error"):
        write_back(source, FIXED.encode())
    assert path.read_text(encoding="utf-8") == FAULTY
    assert sorted(os.listdir(tmp_path)) == ["link.py", "model.py"]


def test_a_file_this_process_may_not_write_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Write bits set, but not for this user: refused before anything is written."""
    path = _write(tmp_path, FAULTY)
    monkeypatch.setattr(os, "access", lambda target, mode: False)
    with pytest.raises(NotWritten, match="permission denied, not written"):
        write_back(read_source(path), FIXED.encode())
    assert path.read_text(encoding="utf-8") == FAULTY
    assert os.listdir(tmp_path) == ["model.py"]
