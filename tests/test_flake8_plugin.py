"""The flake8 plugin, run by the real flake8: exact violation lines, noqa, syntax errors, no jax import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from flaxprec.engine import check_source
from flaxprec.flake8_plugin import Plugin

pytest.importorskip("flake8", reason="flake8 is not installed (pip install -e '.[test]')")

MODEL = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp


    class Block(nn.Module):
        dtype: jnp.dtype = jnp.bfloat16

        @nn.compact
        def __call__(self, x):
            x = nn.Dense(4)(x)
            x = nn.Dense(4, dtype=self.dtype, param_dtype=jnp.bfloat16)(x)
            x = nn.Dense(4)(x)  # noqa: FLX001
            x = nn.Dense(
                4,
            )(x)  # noqa: FLX001
            return nn.Dense(4, dtype=self.dtype)(x)
    """
)


def flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # --isolated: no user or project flake8 configuration may change the selection under test.
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, capture_output=True, text=True
    )


def test_plugin_is_registered_under_the_flx_prefix() -> None:
    [entry] = [e for e in entry_points(group="flake8.extension") if e.name == "FLX"]
    assert entry.value == "flaxprec.flake8_plugin:Plugin"


def test_flake8_reports_exact_lines(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MODEL)
    result = flake8("--select=FLX", "model.py", cwd=tmp_path)
    assert result.stderr == ""
    assert result.returncode == 1
    # The same finding as `flaxprec check` (its message is the rule's business, tested with the rule).
    [half] = [d for d in check_source(MODEL, "model.py") if d.code == "FLX002"]
    # Rows 12 and 13-15 are silenced: the second by a directive on the closing bracket, which flake8 alone
    # would not honour; flaxprec's placement rules apply inside the plugin. Columns are 1-based on screen.
    assert result.stdout.splitlines() == [
        "model.py:10:13: FLX001 `nn.Dense` built without `dtype`: it computes in float32 although `Block` "
        "has a compute dtype (`self.dtype`)",
        f"model.py:11:55: FLX002 {half.message}",
    ]


def test_flake8_selection_and_ignore_decide(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MODEL)
    only = flake8("--select=FLX002", "model.py", cwd=tmp_path)
    assert [line.split()[1] for line in only.stdout.splitlines()] == ["FLX002"]
    assert flake8("--select=FLX", "--extend-ignore=FLX0", "model.py", cwd=tmp_path).stdout == ""


def test_flake8_on_a_syntax_error_reports_e999_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import flax\ndef f(:\n    pass\n")
    (tmp_path / "model.py").write_text(MODEL)
    result = flake8("--select=FLX,E999", "broken.py", "model.py", cwd=tmp_path)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("broken.py:2:") and lines[0].endswith(" E999 SyntaxError: invalid syntax")
    assert [line.split()[1] for line in lines[1:]] == ["FLX001", "FLX002"]


def test_plugin_reports_flx900_inside_the_file() -> None:
    """flake8 does not run tree plugins on files it cannot parse; called anyway, the plugin does not crash."""
    lines = ["import flax\n", "def f(:\n", "    pass\n"]
    assert list(Plugin(None, "broken.py", lines).run()) == [
        (2, 6, "FLX900 Failed to parse: invalid syntax", Plugin)
    ]
    assert list(Plugin(None, "empty.py", []).run()) == []


def test_flake8_with_the_plugin_never_imports_jax_or_flax(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MODEL)
    code = textwrap.dedent(
        """
        import sys
        from flake8.main.application import Application
        app = Application()
        app.run(["--isolated", "--jobs=1", "--select=FLX", "model.py"])
        print(app.result_count, sorted(m for m in ("jax", "flax") if m in sys.modules), file=sys.stderr)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.stderr.strip().splitlines()[-1] == "2 []"
