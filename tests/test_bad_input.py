"""Bad input around the files themselves (issue 19, item 8): folders that cannot be listed, files that
cannot be read, links, devices and FIFOs, a cache directory that is a file, a ``click.py`` in the tree.

Each defect of the issue is reproduced here. Tests run as root, for whom permissions stop nothing: the
permission errors are raised by a patched ``os`` call in-process instead. Files that would never end
(``/dev/zero``) or block (a FIFO) are checked in a subprocess with a memory limit and a timeout, so that a
regression fails the test instead of taking the machine.
"""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flaxprec.cli import main

FAULTY = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp


    class Block(nn.Module):
        dtype: jnp.dtype = jnp.bfloat16

        @nn.compact
        def __call__(self, x):
            return nn.Dense(4)(x)
    """
)
FINDING = (
    "10:16: FLX001 [*] `nn.Dense` built without `dtype`: it computes in float32 although `Block` has a "
    "compute dtype (`self.dtype`)"
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text(FAULTY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FLAXPREC_CACHE_DIR", raising=False)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def findings(result: Result) -> list[str]:
    """The concise report's finding lines (the summary lines after them left out)."""
    return [line for line in result.stdout.splitlines() if ": FLX" in line]


def deny(monkeypatch: pytest.MonkeyPatch, name: str, *denied: str) -> None:
    """Make ``os.<name>`` fail with EACCES for the ``denied`` paths (relative to the working directory),
    as it does for a user without permission; every other path goes to the real call."""
    real = getattr(os, name)
    targets = {os.path.abspath(path) for path in denied}

    def call(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(path, (str, os.PathLike)) and os.path.abspath(path) in targets:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, call)


# -- devices and FIFOs -----------------------------------------------------------------------------------


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def flaxprec_limited(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m flaxprec`` under a 2 GB address-space limit and a timeout: reading ``/dev/zero`` then
    fails fast (MemoryError), and a blocked read of a FIFO ends in ``TimeoutExpired``."""
    return subprocess.run(
        [sys.executable, "-m", "flaxprec", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limited,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"), reason="POSIX only")
def test_devices_and_fifos_are_never_read(workdir: Path) -> None:
    """A ``*.py`` link to /dev/zero exhausted memory; a FIFO blocks whoever opens it. Both warm (cache) and
    cold paths read files; named or walked, the same findings."""
    (workdir / "pkg" / "zero.py").symlink_to("/dev/zero")
    os.mkfifo(workdir / "pkg" / "pipe.py")
    expected = [
        f"pkg/model.py:{FINDING}",
        "pkg/pipe.py:1:1: FLX900 Failed to read: Not a regular file (a FIFO)",
        "pkg/zero.py:1:1: FLX900 Failed to read: Not a regular file (a character device)",
    ]
    for args in (["pkg"], ["pkg"], ["--no-cache", "pkg"], ["pkg/zero.py", "pkg/pipe.py", "pkg/model.py"]):
        result = flaxprec_limited("check", *args, cwd=workdir)
        assert result.returncode == 1, result.stderr
        assert [line for line in result.stdout.splitlines() if ": FLX" in line] == expected
    fixed = flaxprec_limited("fix", "pkg", cwd=workdir)
    assert fixed.returncode == 1, fixed.stderr
    assert fixed.stdout.startswith("--- a/pkg/model.py\n+++ b/pkg/model.py\n")
