"""``flaxprec check`` for adoption and tooling: ``--add-noqa``, fix previews in the reports, ``--quiet``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flaxprec.cli import main

MODEL = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp


    class Block(nn.Module):
        dtype: jnp.dtype = jnp.bfloat16

        @nn.compact
        def __call__(self, x):
            x = nn.Dense(4)(x)
            y = nn.Dense(
                4,
            )(x)
            return nn.Dense(4, dtype=self.dtype)(y)
    """
)
MESSAGE = (
    "`nn.Dense` built without `dtype`: it computes in float32 although `Block` has a compute dtype "
    "(`self.dtype`)"
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- --add-noqa --------------------------------------------------------------------------------------------


def test_add_noqa_writes_directives_and_the_next_check_is_clean(workdir: Path) -> None:
    (workdir / "model.py").write_text(MODEL)
    result = run("check", "model.py", "--add-noqa")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "Added 2 noqa directives.\n"
    # The one-line call gets it on its line; the multi-line one on its closing bracket.
    assert (workdir / "model.py").read_text() == MODEL.replace(
        "nn.Dense(4)(x)\n", "nn.Dense(4)(x)  # noqa: FLX001\n"
    ).replace("        )(x)\n", "        )(x)  # noqa: FLX001\n")
    assert run("check", "model.py").exit_code == 0


def test_add_noqa_is_idempotent(workdir: Path) -> None:
    (workdir / "model.py").write_text(MODEL)
    run("check", "model.py", "--add-noqa")
    once = (workdir / "model.py").read_bytes()
    result = run("check", "model.py", "--add-noqa")
    assert result.exit_code == 0
    assert result.stderr == "Added 0 noqa directives.\n"
    assert (workdir / "model.py").read_bytes() == once


def test_add_noqa_keeps_crlf_and_extends_an_existing_directive(workdir: Path) -> None:
    source = MODEL.replace("nn.Dense(4)(x)\n", "nn.Dense(4)(x)  # noqa: E501\n")
    (workdir / "model.py").write_bytes(source.replace("\n", "\r\n").encode())
    result = run("check", "model.py", "--add-noqa")
    assert result.stderr == "Added 2 noqa directives.\n"
    expected = source.replace("# noqa: E501", "# noqa: E501, FLX001").replace(
        "        )(x)\n", "        )(x)  # noqa: FLX001\n"
    )
    assert (workdir / "model.py").read_bytes() == expected.replace("\n", "\r\n").encode()


def test_add_noqa_refuses_stdin(workdir: Path) -> None:
    result = CliRunner().invoke(main, ["check", "--add-noqa", "--stdin-filename", "m.py"], input=MODEL)
    assert result.exit_code == 2
    assert "--add-noqa" in result.stderr


# -- fix previews --------------------------------------------------------------------------------------------

ONE = MODEL.replace("nn.Dense(\n            4,\n        )(x)", "nn.Dense(4, dtype=self.dtype)(x)")


def test_full_format_shows_the_fix_as_a_diff(workdir: Path) -> None:
    (workdir / "model.py").write_text(ONE)
    result = run("check", "model.py", "--output-format", "full")
    assert result.exit_code == 1
    assert result.stdout == textwrap.dedent(
        f"""\
        model.py:10:13: FLX001 [*] {MESSAGE}
           |
        10 |         x = nn.Dense(4)(x)
           |             ^^^^^^^^^^^
           |
           = help: Add `dtype=self.dtype` (safe fix)
             @@ -9,3 +9,3 @@
                  def __call__(self, x):
             -        x = nn.Dense(4)(x)
             +        x = nn.Dense(4, dtype=self.dtype)(x)
                      y = nn.Dense(4, dtype=self.dtype)(x)

        Found 1 error.
        [*] 1 fixable with `flaxprec fix --apply`.
        """
    )


def test_json_format_has_the_fix_edits(workdir: Path) -> None:
    (workdir / "model.py").write_text(ONE)
    result = run("check", "model.py", "--output-format", "json")
    assert json.loads(result.stdout) == [
        {
            "code": "FLX001",
            "name": "missing-dtype",
            "message": MESSAGE,
            "filename": "model.py",
            "location": {"row": 10, "column": 13},
            "end_location": {"row": 10, "column": 24},
            "fix": {
                "applicability": "safe",
                "message": "Add `dtype=self.dtype`",
                "edits": [
                    {
                        "content": ", dtype=self.dtype",
                        "location": {"row": 10, "column": 23},
                        "end_location": {"row": 10, "column": 23},
                    }
                ],
            },
            "noqa_row": 10,
            "url": "https://github.com/flaxprec/flaxprec/blob/main/rules/FLX001.md",
        }
    ]


def test_sarif_and_show_fixes_carry_the_fix(workdir: Path) -> None:
    (workdir / "model.py").write_text(ONE)
    sarif = json.loads(run("check", "model.py", "--output-format", "sarif").stdout)
    [fix] = sarif["runs"][0]["results"][0]["fixes"]
    [change] = fix["artifactChanges"]
    [replacement] = change["replacements"]
    assert replacement["insertedContent"] == {"text": ", dtype=self.dtype"}
    concise = run("check", "model.py", "--show-fixes").stdout
    assert "    +        x = nn.Dense(4, dtype=self.dtype)(x)\n" in concise


def test_fix_preview_with_an_added_import(workdir: Path) -> None:
    """A fix that schedules ``import jax.numpy as jnp`` shows that line in its edits too."""
    source = textwrap.dedent(
        """\
        import flax.linen as nn


        class Block(nn.Module):
            dtype: str = "bfloat16"

            @nn.compact
            def __call__(self, x):
                return nn.Dense(4, dtype=self.dtype, param_dtype=self.dtype)(x)
        """
    )
    (workdir / "model.py").write_text(source)
    [finding] = json.loads(run("check", "model.py", "--output-format", "json").stdout)
    edits = [(e["location"]["row"], e["content"]) for e in finding["fix"]["edits"]]
    assert edits == [(2, "import jax.numpy as jnp\n"), (9, "jnp.float32")]


# -- --quiet -------------------------------------------------------------------------------------------------


def test_quiet_prints_findings_only(workdir: Path) -> None:
    (workdir / "model.py").write_text(ONE)
    result = run("check", "model.py", "--quiet")
    assert result.exit_code == 1
    assert result.stdout == f"model.py:10:13: FLX001 [*] {MESSAGE}\n"
    full = run("check", "model.py", "-q", "--output-format", "full").stdout
    assert full == textwrap.dedent(
        f"""\
        model.py:10:13: FLX001 [*] {MESSAGE}
           |
        10 |         x = nn.Dense(4)(x)
           |             ^^^^^^^^^^^
           |
           = help: Add `dtype=self.dtype` (safe fix)
             @@ -9,3 +9,3 @@
                  def __call__(self, x):
             -        x = nn.Dense(4)(x)
             +        x = nn.Dense(4, dtype=self.dtype)(x)
                      y = nn.Dense(4, dtype=self.dtype)(x)
        """
    )


def test_quiet_prints_nothing_when_clean(workdir: Path) -> None:
    (workdir / "model.py").write_text(ONE.replace("nn.Dense(4)(x)", "nn.Dense(4, dtype=self.dtype)(x)"))
    for output_format in ("concise", "full"):
        result = run("check", "model.py", "--quiet", "--output-format", output_format)
        assert (result.exit_code, result.output) == (0, "")
