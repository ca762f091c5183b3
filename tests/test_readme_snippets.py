"""README's "Configuration, suppression and integrations" snippets do what the text around them says.

Each fenced block is taken from README.md as it is, so an edit that breaks a snippet breaks this test.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import FAULTY, REPO
from flaxprec.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SECTION = "## Configuration, suppression and integrations"


def blocks(language: str) -> list[str]:
    """The ``language`` code blocks of the section, in order."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start : end if end != -1 else None]
    return re.findall(rf"^```{language}\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_config_snippet_uses_every_key_and_works(workdir: Path) -> None:
    from flaxprec.config import KNOWN_KEYS

    [toml] = blocks("toml")
    assert set(tomllib.loads(toml)["tool"]["flaxprec"]) == set(KNOWN_KEYS)
    write(workdir / "pyproject.toml", toml)
    model = textwrap.dedent(
        """\
        import flax.linen as nn
        import jax.numpy as jnp
        from mypkg.layers import ParallelDense


        class Block(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            @nn.compact
            def __call__(self, x):
                x = ParallelDense(4)(x)
                x = nn.Dense(4, True, jnp.bfloat16)(x)
                return nn.Dense(4, dtype=self.dtype)(x)  # noqa: FLX003
        """
    )
    write(workdir / "src" / "model.py", model)
    half = FAULTY.replace("nn.Dense(4)(x)", "nn.Dense(4, dtype=self.dtype, param_dtype=jnp.bfloat16)(x)")
    write(workdir / "tests" / "test_model.py", half)  # per-file-ignores: FLX002 off in tests/
    write(workdir / "generated" / "model.py", FAULTY)  # extend-exclude
    write(workdir / "build" / "model.py", FAULTY)  # exclude
    write(workdir / "scratch.py", FAULTY)  # respect-gitignore
    write(workdir / ".gitignore", "scratch.py\n")
    result = run("check", ".")
    # `layers` makes ParallelDense a dtype-carrying layer; FLX006 (the positional dtype) is ignored;
    # FLX901 is selected and finds the stale directive.
    assert result.exit_code == 1
    assert [line.split(" ")[:2] for line in result.output.splitlines()[:-2]] == [
        ["src/model.py:11:13:", "FLX001"],
        ["src/model.py:13:50:", "FLX901"],
    ]


def test_noqa_snippet_is_clean_and_every_directive_is_used(workdir: Path) -> None:
    [python] = blocks("python")
    write(workdir / "model.py", python)
    assert run("check", "model.py", "--extend-select", "FLX901").output == "All checks passed!\n"
    # Without its directives the same code has five findings: each directive form silences something.
    write(workdir / "model.py", re.sub(r"  # noqa.*|# flaxprec: noqa.*\n", "", python))
    codes = [d["code"] for d in json.loads(run("check", "model.py", "--output-format", "json").output)]
    assert codes == ["FLX004", "FLX001", "FLX001", "FLX002", "FLX001"]


def test_add_noqa_snippet(workdir: Path) -> None:
    [command] = [line for block in blocks("console") for line in block.splitlines() if "--add-noqa" in line]
    args = shlex.split(command.removeprefix("$ "), comments=True)
    write(workdir / "src" / "model.py", FAULTY)
    result = run(*args[1:])
    assert (result.exit_code, result.stderr) == (0, "Added 1 noqa directive.\n")
    assert run("check", "src/").exit_code == 0


@pytest.mark.skipif(importlib.util.find_spec("pre_commit") is None, reason="needs pre-commit")
def test_pre_commit_snippet_is_a_valid_config_naming_our_hooks(tmp_path: Path) -> None:
    from pre_commit.clientlib import load_config, load_manifest

    config_block = next(block for block in blocks("yaml") if block.startswith("repos:"))
    # The commented-out alternative must be valid too.
    for text in (config_block, config_block.replace("# - id: flaxprec-fix", "- id: flaxprec-fix")):
        write(tmp_path / ".pre-commit-config.yaml", text)
        config = load_config(str(tmp_path / ".pre-commit-config.yaml"))
        ids = {hook["id"] for hook in config["repos"][0]["hooks"]}
        assert ids <= {hook["id"] for hook in load_manifest(str(REPO / ".pre-commit-hooks.yaml"))}
    assert ids == {"flaxprec-check", "flaxprec-fix"}


def test_github_actions_snippet_commands(workdir: Path) -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit")
    workflow = yaml.safe_load(next(block for block in blocks("yaml") if "jobs:" in block))
    steps = workflow["jobs"]["flaxprec"]["steps"]
    assert workflow["jobs"]["flaxprec"]["permissions"]["security-events"] == "write"
    [upload] = [step for step in steps if "upload-sarif" in step.get("uses", "")]
    write(workdir / "src" / "model.py", FAULTY)
    commands = [step["run"] for step in steps if step.get("run", "").startswith("flaxprec ")]
    assert len(commands) == 2
    # The SARIF step must not fail the job (the upload comes after it) and writes the uploaded file.
    sarif_args = shlex.split(commands[0], comments=True)
    redirect = sarif_args.index(">")
    result = run(*sarif_args[1:redirect])
    assert result.exit_code == 0
    assert sarif_args[redirect + 1] == upload["with"]["sarif_file"]
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"][0]["ruleId"] == "FLX001"
    annotations = run(*shlex.split(commands[1], comments=True)[1:])
    assert annotations.exit_code == 1
    assert annotations.stdout.startswith("::error title=flaxprec (FLX001),file=src/model.py,line=10,col=16,")


@pytest.mark.skipif(importlib.util.find_spec("flake8") is None, reason="needs flake8")
def test_flake8_snippet(workdir: Path) -> None:
    [command] = [line for block in blocks("console") for line in block.splitlines() if "flake8" in line]
    args = shlex.split(command.removeprefix("$ "), comments=True)
    write(workdir / "src" / "model.py", FAULTY)
    result = subprocess.run([sys.executable, "-m", *args, "--isolated"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stdout.startswith("src/model.py:10:16: FLX001 ")
