"""Bad input around the files themselves (issue 19, item 8): folders that cannot be listed, files that
cannot be read, links, devices and FIFOs, a cache directory that is a file, a ``click.py`` in the tree.

Each defect of the issue is reproduced here. Tests run as root, for whom permissions stop nothing: the
permission errors are raised by a patched ``os`` call in-process instead. Files that would never end
(``/dev/zero``) or block (a FIFO) are checked in a subprocess with a memory limit and a timeout, so that a
regression fails the test instead of taking the machine.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import FAULTY
from flaxprec.cli import main
from flaxprec.discover import Discovery

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


# -- folders that cannot be listed ---------------------------------------------------------------------


@pytest.mark.parametrize("cache", [["--no-cache"], []], ids=["no-cache", "cache"])
def test_a_folder_that_cannot_be_listed_is_skipped_with_a_warning(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, cache: list[str]
) -> None:
    """ruff warns and goes on; flaxprec skipped it silently. Once per run, with the cache too (whose warm
    path once walked the tree a second time when it missed)."""
    (workdir / "pkg" / "locked").mkdir()
    (workdir / "pkg" / "locked" / "hidden.py").write_text(FAULTY)
    deny(monkeypatch, "scandir", "pkg/locked")
    result = run("check", *cache, "pkg")
    assert result.exit_code == 1
    assert findings(result) == [f"pkg/model.py:{FINDING}"]
    assert result.stderr == "flaxprec: warning: pkg/locked: directory not read (Permission denied); skipped\n"


def test_discovery_records_the_folders_it_could_not_list(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "pkg" / "a").mkdir()
    (workdir / "pkg" / "a" / "x.py").write_text("")
    (workdir / "pkg" / "b").mkdir()
    deny(monkeypatch, "scandir", "pkg/a", "pkg/b")
    discovery = Discovery()
    assert list(discovery.files([Path("pkg")])) == [Path("pkg/model.py")]
    assert discovery.unlisted == [(Path("pkg/a"), "Permission denied"), (Path("pkg/b"), "Permission denied")]


# -- files named on the command line that cannot be read -----------------------------------------------


def test_named_broken_link_and_loop_are_flx900_and_the_run_goes_on(workdir: Path) -> None:
    """pre-commit names files: a broken link or a loop named stopped the run with exit 2, the same files
    found by walking got FLX900."""
    (workdir / "pkg" / "broken.py").symlink_to("nowhere.py")
    (workdir / "pkg" / "loop.py").symlink_to("loop.py")
    expected = [
        "pkg/broken.py:1:1: FLX900 Failed to read: No such file or directory",
        "pkg/loop.py:1:1: FLX900 Failed to read: Too many levels of symbolic links",
        f"pkg/model.py:{FINDING}",
    ]
    named = run("check", "pkg/broken.py", "pkg/loop.py", "pkg/model.py")
    assert (named.exit_code, findings(named)) == (1, expected)
    walked = run("check", "pkg")
    assert (walked.exit_code, findings(walked)) == (1, expected)


def test_named_file_that_cannot_be_reached_is_flx900(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file in a folder without search permission: every ``stat`` of it fails with EACCES (the check
    for a missing path once raised it as a traceback)."""
    (workdir / "pkg" / "secret.py").write_text(FAULTY)
    for name in ("stat", "lstat"):
        deny(monkeypatch, name, "pkg/secret.py")
    result = run("check", "--no-cache", "pkg/secret.py", "pkg/model.py")
    assert result.exit_code == 1
    assert findings(result) == [
        f"pkg/model.py:{FINDING}",
        "pkg/secret.py:1:1: FLX900 Failed to read: Permission denied",
    ]


def test_unreadable_file_is_flx900(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that can be seen but not opened (mode 000 for a user who is not root)."""
    (workdir / "pkg" / "secret.py").write_text(FAULTY)
    real_open = io.open

    def open_(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(file, (str, os.PathLike)) and os.path.basename(file) == "secret.py":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", open_)  # what Path.open calls
    monkeypatch.setattr(builtins, "open", open_)
    for named in (["pkg/secret.py", "pkg/model.py"], ["pkg"]):
        result = run("check", "--no-cache", *named)
        assert result.exit_code == 1
        assert findings(result) == [
            f"pkg/model.py:{FINDING}",
            "pkg/secret.py:1:1: FLX900 Failed to read: Permission denied",
        ]


def test_a_path_that_does_not_exist_stays_a_usage_error(workdir: Path) -> None:
    """Not even a link by that name: a typo, exit 2 (ruff reports E902 and exits 1, as if it were a
    finding; a CI job then cannot tell a mistyped path from a finding)."""
    result = run("check", "pkg/model.py", "pkg/nope.py")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "flaxprec: error: pkg/nope.py: no such file or directory\n"


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


# -- links -----------------------------------------------------------------------------------------------


def test_a_linked_file_is_reported_under_its_own_name_once(workdir: Path) -> None:
    """Its findings printed under the resolved target, and twice for an in-tree link; ruff prints the
    walked name. Each real file is read once, under the first name the walk meets."""
    (workdir / "outside").mkdir()
    (workdir / "outside" / "other.py").write_text(FAULTY)
    (workdir / "pkg" / "external.py").symlink_to(workdir / "outside" / "other.py")
    (workdir / "pkg" / "alias.py").symlink_to("model.py")  # sorts before its target
    result = run("check", "pkg")
    assert result.exit_code == 1
    assert findings(result) == [f"pkg/alias.py:{FINDING}", f"pkg/external.py:{FINDING}"]
    named = run("check", "pkg/model.py", "pkg/alias.py", "pkg/external.py")
    assert findings(named) == [f"pkg/external.py:{FINDING}", f"pkg/model.py:{FINDING}"]


def test_a_folder_named_twice_through_a_link_is_read_once(workdir: Path) -> None:
    (workdir / "same").symlink_to("pkg")
    result = run("check", "pkg", "same", "same/model.py", "pkg/../pkg/model.py")
    assert result.exit_code == 1
    assert findings(result) == [f"pkg/model.py:{FINDING}"]


def test_discovery_walk_order_and_link_dedup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of a folder (sorted), then its folders (sorted), depth first; a real file under the first
    name met; links to folders not entered."""
    monkeypatch.chdir(tmp_path)
    for name in ("b/z.py", "b/a/y.py", "a.py", "c/x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "b" / "link.py").symlink_to("../c/x.py")  # walked before c/x.py: that name wins
    (tmp_path / "b" / "d").symlink_to("../c", target_is_directory=True)  # links to folders: not followed
    found = list(Discovery().files([Path(".")]))
    assert found == [Path("a.py"), Path("b/link.py"), Path("b/z.py"), Path("b/a/y.py")]


# -- the cache directory -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "shown"),
    [
        (["--cache-dir", "taken"], {}, "taken"),
        ([], {"FLAXPREC_CACHE_DIR": "taken"}, "taken"),
        (["--cache-dir", "taken/sub"], {}, "taken/sub"),
        ([], {}, "{root}/.flaxprec_cache"),
    ],
    ids=["option", "environment", "under-a-file", "default"],
)
def test_a_cache_directory_that_is_a_file_is_a_warning(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], shown: str
) -> None:
    """``--cache-dir FILE`` exited 2 while the same default was ignored: both warn and run uncached."""
    (workdir / "taken").write_text("not a folder\n")
    (workdir / ".flaxprec_cache").write_text("not a folder\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run("check", *args, "pkg")
    assert result.exit_code == 1
    assert findings(result) == [f"pkg/model.py:{FINDING}"]
    warning = f"cache directory {shown.format(root=workdir)}: Not a directory; running without the cache"
    assert result.stderr == f"flaxprec: warning: {warning}\n"
    assert (workdir / "taken").read_text() == (workdir / ".flaxprec_cache").read_text() == "not a folder\n"


def test_a_missing_cache_directory_is_created_without_a_warning(workdir: Path) -> None:
    result = run("check", "--cache-dir", "new/cache", "pkg")
    assert (result.exit_code, result.stderr) == (1, "")
    assert (workdir / "new" / "cache").is_dir()


# -- python -m flaxprec beside a click.py -----------------------------------------------------------------

SHADOW = "raise SystemExit('the click.py of the checked repository was imported')\n"


def test_python_dash_m_imports_a_click_py_of_the_working_directory(workdir: Path) -> None:
    """Why the README says ``flaxprec`` or ``python -P -m flaxprec``: ``-m`` puts the working directory
    first on ``sys.path``, and the checked repository's ``click.py`` shadows click."""
    (workdir / "click.py").write_text(SHADOW)
    plain = subprocess.run([sys.executable, "-m", "flaxprec", "check", "pkg"], capture_output=True, text=True)
    assert (plain.returncode, plain.stderr) == (1, "the click.py of the checked repository was imported\n")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="python -P is new in 3.11")
def test_python_dash_p_and_the_console_script_ignore_it(workdir: Path) -> None:
    (workdir / "click.py").write_text(SHADOW)
    commands = [[sys.executable, "-P", "-m", "flaxprec"]]
    script = Path(sys.executable).parent / "flaxprec"
    if script.exists():
        commands.append([str(script)])
    for command in commands:
        result = subprocess.run([*command, "check", "--no-cache", "pkg"], capture_output=True, text=True)
        assert result.returncode == 1, (command, result.stderr)
        assert result.stdout.splitlines()[0] == f"pkg/model.py:{FINDING}"
