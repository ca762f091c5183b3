"""The pre-commit hooks of ``.pre-commit-hooks.yaml``, run by the real ``pre-commit try-repo``.

``try-repo`` clones this repository at the commit checked out (HEAD: commit a change to the hooks or the
package before these tests can see it) and installs the package into a fresh environment from PyPI, so
these tests need git, pre-commit and the network, and take a while (the environment is built per
``try-repo`` call: it keeps its store in a temporary directory, not in ``PRE_COMMIT_HOME``; pip's cache
makes the later builds quicker).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from flaxprec.cli import main

FAULTY = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp


    class Block(nn.Module):
        dtype: jnp.dtype = jnp.bfloat16

        @nn.compact
        def __call__(self, x):
            x = nn.Dense(4)(x)
            return nn.Dense(4, dtype=self.dtype)(x)
    """
)
FIXED = FAULTY.replace("nn.Dense(4)(x)", "nn.Dense(4, dtype=self.dtype)(x)")
# A first environment build downloads libcst and friends; a slow mirror must not fail the suite.
TIMEOUT = 900

needs_precommit = pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None or shutil.which("git") is None,
    reason="needs pre-commit and git (pip install -e '.[test]')",
)


@pytest.fixture(scope="session")
def precommit_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment for every pre-commit run of the session: its store in one temporary directory.

    pre-commit creates its store (and log) in ``PRE_COMMIT_HOME`` even for ``try-repo``; the tests must not
    write to the user's ``~/.cache/pre-commit``.
    """
    if not (REPO / ".git").exists():
        pytest.skip("the repository is not a git checkout (try-repo clones it)")
    home = tmp_path_factory.mktemp("pre-commit-home")
    return {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}


@pytest.fixture(scope="session")
def head() -> str:
    """The commit to try. Without ``--ref``, try-repo adds modified tracked files but not new untracked
    ones, which makes an inconsistent package whenever a new module is still uncommitted.
    """
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"no commit to try: {result.stderr.strip()}")
    return result.stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh git repository with a faulty model, a clean one, and an excluded (generated) faulty file."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for key, value in (("user.name", "flaxprec tests"), ("user.email", "tests@example.invalid")):
        subprocess.run(["git", "config", key, value], cwd=tmp_path, check=True)
    (tmp_path / "faulty.py").write_text(FAULTY)
    (tmp_path / "clean.py").write_text(FIXED)
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "model.py").write_text(FAULTY)
    (tmp_path / "pyproject.toml").write_text('[tool.flaxprec]\nextend-exclude = ["generated"]\n')
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    return tmp_path


def try_repo(
    project: Path, env: dict[str, str], ref: str, hook: str, *files: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), hook, "--ref", ref]
    return subprocess.run(
        [*command, "--color", "never", "--files", *files],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@needs_precommit
def test_check_hook_fails_on_a_faulty_file(project: Path, precommit_env: dict[str, str], head: str) -> None:
    result = try_repo(project, precommit_env, head, "flaxprec-check", "faulty.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "flaxprec check" in result.stdout and "Failed" in result.stdout
    assert "faulty.py:10:13: FLX001 [*] `nn.Dense` built without `dtype`" in result.stdout


@needs_precommit
def test_check_hook_passes_on_clean_and_excluded_files(
    project: Path, precommit_env: dict[str, str], head: str
) -> None:
    # generated/model.py is faulty, but the config excludes it and the hook passes --force-exclude.
    result = try_repo(project, precommit_env, head, "flaxprec-check", "clean.py", "generated/model.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


@needs_precommit
def test_fix_hook_rewrites_the_faulty_file(project: Path, precommit_env: dict[str, str], head: str) -> None:
    result = try_repo(project, precommit_env, head, "flaxprec-fix", "faulty.py", "generated/model.py")
    # pre-commit fails a hook that modified files, so that the user reviews and stages the fix.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "files were modified by this hook" in result.stdout
    assert (project / "faulty.py").read_text() == FIXED
    assert (project / "generated" / "model.py").read_text() == FAULTY


# pre-commit never runs a file-based hook with no files ("(no files to check)Skipped"). Without paths,
# flaxprec checks the current directory, as ruff does; with paths that are all excluded it checks nothing.


def test_force_exclude_with_every_path_excluded_checks_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["check", "--force-exclude", "--quiet", "generated/model.py"])
    assert (result.exit_code, result.output) == (0, "")


def test_no_paths_means_the_current_directory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["check", "--force-exclude", "--quiet"])
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.output.splitlines()] == ["faulty.py"]
    empty = project / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = CliRunner().invoke(main, ["check", "--force-exclude"])
    assert (result.exit_code, result.output) == (0, "All checks passed!\n")
