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


# -- what a warm run recomputes ---------------------------------------------------------------------------


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Records which files go through the ast stage and which are analysed (in this process: -j 1)."""
    from flaxprec import engine

    seen: dict[str, list[str]] = {"ast": [], "analysed": []}
    ast_stage, diagnose = engine.ast_stage, engine.Checker.diagnose

    def recording_ast_stage(text, filename, *args):
        seen["ast"].append(filename)
        return ast_stage(text, filename, *args)

    def recording_diagnose(self, unit, *args, **kwargs):
        seen["analysed"].append(unit.filename)
        return diagnose(self, unit, *args, **kwargs)

    monkeypatch.setattr(engine, "ast_stage", recording_ast_stage)
    monkeypatch.setattr(engine.Checker, "diagnose", recording_diagnose)
    return seen


COLD = [("pkg/model.py", 11, "FLX001"), ("pkg/model.py", 12, "FLX001")]


def test_a_warm_run_parses_and_analyses_nothing(tree: Path, work: dict[str, list[str]]) -> None:
    assert findings("-j", "1") == COLD
    assert sorted(work["ast"]) == ["pkg/__init__.py", "pkg/layers.py", "pkg/model.py"]
    work["ast"].clear(), work["analysed"].clear()
    assert findings("-j", "1") == COLD
    assert work == {"ast": [], "analysed": []}


def test_a_method_body_edit_reanalyses_that_file_only(tree: Path, work: dict[str, list[str]]) -> None:
    findings("-j", "1")
    work["ast"].clear(), work["analysed"].clear()
    layers = tree / "pkg" / "layers.py"
    layers.write_text(layers.read_text().replace("dtype=self.dtype)(x)", "dtype=self.dtype)(nn.Dense(8)(x))"))
    # A new finding in layers.py (a Dense without dtype in a Module with a dtype field); no class fact
    # changed (the method still reads self.dtype), so model.py's findings come from the cache.
    expected = [("pkg/layers.py", 10, "FLX001"), *COLD]
    assert findings("-j", "1") == expected
    assert work == {"ast": ["pkg/layers.py"], "analysed": ["pkg/layers.py"]}
    assert findings("--no-cache") == expected


def test_a_class_level_edit_reanalyses_every_file(tree: Path, work: dict[str, list[str]]) -> None:
    findings("-j", "1")
    work["ast"].clear(), work["analysed"].clear()
    layers = tree / "pkg" / "layers.py"
    field = "    dtype: jnp.dtype = jnp.float32\n"
    layers.write_text(layers.read_text().replace(field, field + "    param_dtype: jnp.dtype = jnp.float32\n"))
    expected = [("pkg/layers.py", 11, "FLX005"), *COLD]  # its Dense does not get the new param_dtype
    assert findings("-j", "1") == expected
    # FeedForward gained a field, a class-level fact: model.py's cached findings may be stale, so redone.
    assert work["ast"] == ["pkg/layers.py"]
    assert work["analysed"] == ["pkg/__init__.py", "pkg/layers.py", "pkg/model.py"]
    assert findings("--no-cache") == expected


def test_lost_summaries_are_recomputed(tree: Path, work: dict[str, list[str]]) -> None:
    """A concurrent run may drop entries: a summary missing behind a known facts digest is a miss."""
    findings("-j", "1")
    next((tree / ".flaxprec_cache").rglob("summaries.json")).unlink()
    model = tree / "pkg" / "model.py"
    model.write_text(model.read_text().replace("nn.Dense(4)", "nn.Dense(4, dtype=self.dtype)"))
    work["ast"].clear()
    assert findings("-j", "1") == [("pkg/model.py", 11, "FLX001")]
    assert sorted(work["ast"]) == ["pkg/__init__.py", "pkg/layers.py", "pkg/model.py"]


def test_concurrent_saves_keep_both_runs_entries(tmp_path: Path) -> None:
    from flaxprec.cache import Cache

    first, second = Cache(tmp_path, "context"), Cache(tmp_path, "context")
    first.store_facts("a", "1")
    second.store_facts("b", "2")
    first.save()
    second.save()
    assert (Cache(tmp_path, "context").facts("a"), Cache(tmp_path, "context").facts("b")) == ("1", "2")


def test_facts_digest_covers_class_facts_only() -> None:
    import ast

    from flaxprec.cache import facts_digest
    from flaxprec.project import summarize

    def digest(source: str) -> str:
        return facts_digest(summarize(ast.parse(textwrap.dedent(source)), "pkg.layers"))

    base = digest(LAYERS)
    assert digest(LAYERS.replace("(x)", "(nn.Dense(8)(x))")) == base
    assert digest(LAYERS.replace("nn.Dense(4, dtype=self.dtype)", "nn.Dense(8)")) != base  # self.dtype read
    assert digest(LAYERS + "\n\nx = 1\n") == base
    assert digest(LAYERS.replace("dtype: jnp.dtype", "param_dtype: jnp.dtype")) != base
    assert digest(LAYERS.replace("(nn.Module)", "(nn.Dense)")) != base
    assert digest(LAYERS.replace("return nn.Dense", "self.compute_dtype\n        return nn.Dense")) != base


def test_sketches_survive_the_cache_unchanged() -> None:
    import ast

    from flaxprec.cache import sketch_from_text, sketch_text
    from flaxprec.gate import sketch
    from flaxprec.project import summarize

    tree = ast.parse(MODEL)
    statements = sketch(tree, summarize(tree, "pkg.model").imports, "pkg.model")
    assert any(statement.calls for statement in statements)
    assert sketch_from_text(sketch_text(statements)) == statements


@pytest.mark.parametrize(
    "options",
    [
        ["--output-format", "concise", "--show-fixes"],
        ["--output-format", "full"],
        ["--output-format", "json"],
        ["--output-format", "sarif"],
        ["--output-format", "github"],
        ["--statistics"],
    ],
)
def test_a_warm_report_is_the_cold_report(tree: Path, options: list[str]) -> None:
    """Served from the cache (without the engine), every format shows what a cold run shows, fixes too."""

    def output(*extra: str) -> str:
        result = CliRunner().invoke(main, ["check", "pkg", *options, *extra])
        assert result.exit_code == 1, result.output
        return result.output

    cold = output("--no-cache")
    assert "FLX001" in cold
    output()  # fills the cache
    assert output() == cold


def test_unreadable_and_broken_files_warm_and_cold(tree: Path) -> None:
    """A file that cannot be decoded is never cached (the run takes the engine's path), one that does
    not parse is: both are reported the same way in every run."""
    (tree / "pkg" / "latin.py").write_bytes(b"# coding: ascii\nname = '\xe9'\n")
    (tree / "pkg" / "broken.py").write_text("def f(:\n")
    cold = findings("--no-cache")
    assert [f for f in cold if f[2] == "FLX900"] == [
        ("pkg/broken.py", 1, "FLX900"),
        ("pkg/latin.py", 1, "FLX900"),
    ]
    assert findings() == cold
    assert findings() == cold


def test_an_unused_noqa_keeps_its_fix_warm(tree: Path) -> None:
    """FLX901's fix is made after positions are known: its text form must cross the cache too."""
    model = tree / "pkg" / "model.py"
    model.write_text(MODEL.replace("self.ffn = FeedForward()", "self.ffn = FeedForward()  # noqa: FLX002"))

    def report(*extra: str) -> list[dict]:
        options = ["--extend-select", "FLX901", "--output-format", "json", *extra]
        result = CliRunner().invoke(main, ["check", "pkg", *options])
        assert result.exit_code == 1, result.output
        return json.loads(result.output)

    cold = report("--no-cache")
    unused = [d for d in cold if d["code"] == "FLX901"]
    assert [(d["location"]["row"], d["fix"]["edits"]) for d in unused] == [
        (
            11,
            [
                {
                    "content": "",
                    "location": {"row": 11, "column": 33},
                    "end_location": {"row": 11, "column": 49},
                }
            ],
        )
    ]
    report()  # fills the cache
    assert report() == cold


def test_a_store_drops_its_least_recently_used_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the cap, a written store keeps this run's entries and the newest others; a read is a use."""
    from flaxprec import cache as cache_module
    from flaxprec.cache import Cache

    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 4)

    def run(reads: list[str], writes: list[str]) -> None:
        store = Cache(tmp_path, "ctx")
        for key in reads:
            assert store.findings(key) is not None, key
        for key in writes:
            store.store_findings(key, [])
        store.save()

    run([], ["a", "b", "c", "d"])
    run(["a"], ["e"])  # five entries, within four times the two this run used; a (read) moves last
    run([], ["f"])  # six entries, one used: the two least recently used, b and c, go
    (results,) = tmp_path.glob("v*/results-*.json")
    assert list(cache_module.decode_store(results.read_bytes())) == ["d", "a", "e", "f"]
