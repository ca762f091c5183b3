"""The result cache: warm runs report exactly what cold runs report, and nothing stale survives a change."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from flaxprec.cli import main

LAYERS = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp


    class FeedForward(nn.Module):
        dtype: jnp.dtype = jnp.float32

        @nn.compact
        def __call__(self, x):
            return nn.Dense(4, dtype=self.dtype)(x)
    """
)
MODEL = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp

    from .layers import FeedForward


    class Model(nn.Module):
        dtype: jnp.dtype = jnp.bfloat16

        def setup(self):
            self.ffn = FeedForward()
            self.head = nn.Dense(4)
    """
)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text(LAYERS)
    (package / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def findings(*args: str) -> list[tuple[str, int, str]]:
    result = CliRunner().invoke(main, ["check", "pkg", "--output-format", "json-lines", *args])
    assert result.exit_code in (0, 1), result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    return [(d["filename"], d["location"]["row"], d["code"]) for d in rows]


def test_warm_equals_cold_and_uses_the_cache(tree: Path) -> None:
    cold = findings("--no-cache")
    assert cold == [("pkg/model.py", 11, "FLX001"), ("pkg/model.py", 12, "FLX001")]
    assert findings() == cold  # fills the cache
    cache_files = sorted(p.name for p in (tree / ".flaxprec_cache").rglob("*.json"))
    assert any(name.startswith("results-") for name in cache_files)
    assert "summaries.json" in cache_files
    assert findings() == cold  # served from it


def test_editing_a_file_invalidates_its_findings(tree: Path) -> None:
    findings()
    model = tree / "pkg" / "model.py"
    model.write_text(model.read_text().replace("nn.Dense(4)", "nn.Dense(4, dtype=self.dtype)"))
    assert findings() == [("pkg/model.py", 11, "FLX001")]


def test_a_class_change_elsewhere_invalidates_dependent_files(tree: Path) -> None:
    findings()
    layers = tree / "pkg" / "layers.py"
    layers.write_text(layers.read_text().replace("    dtype: jnp.dtype = jnp.float32\n", ""))
    # FeedForward no longer takes a dtype: building it without one is fine now.
    assert findings() == [("pkg/model.py", 12, "FLX001")]


def test_settings_are_part_of_the_key(tree: Path) -> None:
    findings()
    assert findings("--select", "FLX002") == []


def test_a_corrupt_cache_is_ignored(tree: Path) -> None:
    findings()
    for path in (tree / ".flaxprec_cache").rglob("*.json"):
        path.write_text("{not json")
    assert findings() == [("pkg/model.py", 11, "FLX001"), ("pkg/model.py", 12, "FLX001")]


def test_cache_dir_option(tree: Path) -> None:
    findings("--cache-dir", "elsewhere")
    assert (tree / "elsewhere").is_dir()
    assert not (tree / ".flaxprec_cache").exists()
