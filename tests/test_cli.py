"""The ``flaxprec check`` command: exit codes, formats, selection, discovery, bad input, start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from flaxprec.cli import main

FAULTY = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp


    class Block(nn.Module):
        dtype: jnp.dtype = jnp.bfloat16

        @nn.compact
        def __call__(self, x):
            x = nn.Dense(4, param_dtype=jnp.bfloat16)(x)
            return nn.Dense(4, dtype=self.dtype)(x)
    """
)
CLEAN = FAULTY.replace("nn.Dense(4, param_dtype=jnp.bfloat16)", "nn.Dense(4, dtype=self.dtype)")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "faulty.py").write_text(FAULTY)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_findings_exit_1_with_exact_lines(tree: Path) -> None:
    result = run("check", "pkg")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (
        "pkg/faulty.py:10:13: FLX001 [*] `nn.Dense` built without `dtype`: it computes in the promoted dtype "
        "of its inputs and half-precision params although `Block` has a compute dtype (`self.dtype`)"
    )
    # No `[*]`: without a param dtype of the Module's own to forward, float32 is an unsafe fix (issue 14).
    assert lines[1].startswith("pkg/faulty.py:10:37: FLX002 `param_dtype=jnp.bfloat16` stores")
    assert "Found 2 errors." in lines


def test_an_upper_case_noqa_suppresses_as_ruff_s_does(tree: Path) -> None:
    """``# NOQA`` is a directive too (ruff and flake8 read it in any case), in a file with no lower-case
    "noqa" anywhere."""
    line = "x = nn.Dense(4, param_dtype=jnp.bfloat16)(x)"
    (tree / "pkg" / "upper.py").write_text(FAULTY.replace(line, line + "  # NOQA: FLX001, FLX002"))
    assert run("check", "pkg/upper.py").exit_code == 0
    assert run("check", "--no-cache", "pkg/upper.py").exit_code == 0


def test_blanket_noqa_is_reported_only_with_noqa_blanket_unused(tree: Path) -> None:
    """FLX901 leaves a blanket ``# noqa`` to flake8 and ruff unless the project opts in; the option is part
    of the cache key, so a cached run does not answer for the other setting."""
    clean = tree / "pkg" / "clean.py"
    clean.write_text(CLEAN.replace("class Block(nn.Module):", "class Block(nn.Module):  # noqa"))
    assert run("check", "pkg/clean.py", "--extend-select", "FLX901").exit_code == 0
    (tree / "pyproject.toml").write_text("[tool.flaxprec]\nnoqa-blanket-unused = true\n")
    result = run("check", "pkg/clean.py", "--extend-select", "FLX901", "--unsafe-fixes")
    assert result.exit_code == 1
    assert "pkg/clean.py:5:26: FLX901 [*] Unused blanket `noqa` directive" in result.output.splitlines()


def test_clean_exit_0_and_exit_zero(tree: Path) -> None:
    assert run("check", "pkg/clean.py").exit_code == 0
    assert run("check", "pkg", "--exit-zero").exit_code == 0


def test_select_ignore_prefix_and_all(tree: Path) -> None:
    assert [
        d["code"]
        for d in json.loads(run("check", "pkg", "--select", "FLX002", "--output-format", "json").output)
    ] == ["FLX002"]
    assert run("check", "pkg", "--ignore", "FLX0").exit_code == 0
    assert run("check", "pkg", "--select", "ALL", "--ignore", "FLX001,FLX002").exit_code == 0


def test_unknown_code_is_a_usage_error(tree: Path) -> None:
    result = run("check", "pkg", "--select", "FLX999")
    assert result.exit_code == 2
    assert "FLX999" in result.output


def test_json_fields_follow_ruff(tree: Path) -> None:
    diagnostics = json.loads(run("check", "pkg", "--output-format", "json").output)
    first = diagnostics[0]
    assert first["code"] == "FLX001"
    assert first["name"] == "missing-dtype"
    assert first["filename"] == "pkg/faulty.py"
    assert first["location"] == {"row": 10, "column": 13}
    assert first["end_location"] == {"row": 10, "column": 50}
    assert first["fix"]["applicability"] == "safe"


def test_unparsable_file_is_reported_and_the_run_goes_on(tree: Path) -> None:
    (tree / "pkg" / "broken.py").write_text("import flax\ndef f(:\n    pass\n")
    result = run("check", "pkg", "--output-format", "json")
    codes = [(d["filename"], d["code"], d["location"]["row"]) for d in json.loads(result.output)]
    assert codes == [
        ("pkg/broken.py", "FLX900", 2),
        ("pkg/faulty.py", "FLX001", 10),
        ("pkg/faulty.py", "FLX002", 10),
    ]


def test_undecodable_file_is_reported(tree: Path) -> None:
    (tree / "pkg" / "latin.py").write_bytes(b"x = '\xff'\n")
    codes = [d["code"] for d in json.loads(run("check", "pkg", "--output-format", "json").output)]
    assert codes == ["FLX001", "FLX002", "FLX900"]


def test_gitignore_and_hidden_folders_are_skipped(tree: Path) -> None:
    (tree / ".gitignore").write_text("pkg/faulty.py\n")
    (tree / ".hidden").mkdir()
    (tree / ".hidden" / "x.py").write_text(FAULTY)
    (tree / ".venv").mkdir()
    (tree / ".venv" / "y.py").write_text(FAULTY)
    assert run("check", ".").exit_code == 0
    # Named explicitly, a file is checked unless --force-exclude applies the excludes to it.
    assert run("check", "pkg/faulty.py").exit_code == 1
    assert run("check", "pkg/faulty.py", "--force-exclude").exit_code == 0


def test_stdin(tree: Path) -> None:
    result = run("check", "--stdin-filename", "model.py", input=FAULTY)
    assert result.exit_code == 1
    assert result.output.startswith("model.py:10:13: FLX001")


def test_missing_path_is_a_usage_error(tree: Path) -> None:
    assert run("check", "nope").exit_code == 2


def test_check_never_imports_jax_or_flax(tree: Path) -> None:
    """Start-up time: reading Flax code must not import Flax (nor jax, nor numpy)."""
    code = textwrap.dedent(
        """
        import sys
        from flaxprec.cli import main
        try:
            main(["check", "pkg", "--output-format", "json"])
        except SystemExit:
            pass
        print(sorted(m for m in ("jax", "flax", "numpy") if m in sys.modules), file=sys.stderr)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr.strip().splitlines()[-1] == "[]"
    assert json.loads(result.stdout)[0]["code"] == "FLX001"


def test_python_dash_m(tree: Path) -> None:
    """The console entry point ends without interpreter teardown (cli.run): exit statuses and the whole
    output (here 600 findings as JSON, past any pipe buffer) must still come through."""

    def flaxprec(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "flaxprec", *args]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    result = flaxprec("check", "pkg")
    assert result.returncode == 1
    assert "FLX001" in result.stdout
    assert flaxprec("check", "pkg/clean.py").returncode == 0
    usage = flaxprec("check", "--select", "NOPE1", "pkg")
    assert usage.returncode == 2 and "NOPE1" in usage.stderr
    many = FAULTY.split("        x = nn.Dense")[0] + "        x = nn.Dense(4)(x)\n" * 600
    (tree / "pkg" / "many.py").write_text(many + "        return x\n")
    big = flaxprec("check", "--select", "FLX001", "--no-cache", "--output-format", "json", "pkg/many.py")
    assert big.returncode == 1, big.stderr
    assert len(json.loads(big.stdout)) == 600


def test_run_exits_with_main_s_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run`` turns ``main``'s ``SystemExit`` into ``os._exit`` with the interpreter's status for it; under
    coverage (which saves at exit) it lets the exit happen as usual."""
    import flaxprec.cli

    class Exited(Exception):
        pass

    def fake_exit(status: int) -> None:
        raise Exited(status)

    monkeypatch.setattr(flaxprec.cli.os, "_exit", fake_exit)
    monkeypatch.delitem(sys.modules, "coverage", raising=False)
    statuses = []
    for code in (None, 0, 3, "a message"):

        def main(code: object = code) -> None:
            raise SystemExit(code)

        monkeypatch.setattr(flaxprec.cli, "main", main)
        with pytest.raises(Exited) as exited:
            flaxprec.cli.run()
        statuses.append(exited.value.args[0])
    assert statuses == [0, 0, 3, 1]
    assert capsys.readouterr().err == "a message\n"
    monkeypatch.setitem(sys.modules, "coverage", sys)
    with pytest.raises(SystemExit) as plain:
        flaxprec.cli.run()
    assert plain.value.code == "a message"


def test_display_names_resolve_folder_links_as_path_resolve_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports name files relative to the working directory, folder links resolved (one realpath per
    folder); a linked file keeps its own name, as ruff reports it."""
    from flaxprec.cli import _display_names

    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (real / "sub" / "a.py").write_text("")
    (tmp_path / "link").symlink_to(real)
    (real / "b.py").symlink_to(real / "sub" / "a.py")
    monkeypatch.chdir(real)
    display = _display_names()
    cases = {
        "sub/a.py": "sub/a.py",
        "./sub/a.py": "sub/a.py",
        "b.py": "b.py",  # a linked file is named by its own name, not its target's
        "../link/sub/a.py": "sub/a.py",
        "../link/sub/../b.py": "b.py",  # ".." after a link leaves the link's target
        str(tmp_path / "elsewhere.py"): str(tmp_path / "elsewhere.py"),  # outside: as given
    }
    assert {given: display(Path(given)) for given in cases} == cases
