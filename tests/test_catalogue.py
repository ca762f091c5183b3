"""The layer catalogue: rules/layers.toml agrees with the installed flax, and the loader's contract."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from flaxprec.catalogue import Catalogue, CatalogueError, LayerSpec, load_catalogue
from flaxprec.resources import rules_dir

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    """tools/gen_layers.py, imported by path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_layers", REPO / "tools" / "gen_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _toml_text() -> str:
    return (rules_dir() / "layers.toml").read_text(encoding="utf-8")


# (a) the data file against the installed flax


def test_layers_toml_matches_installed_flax() -> None:
    flax = pytest.importorskip("flax", reason="flax is not installed: cannot check layers.toml against it")
    expected = {entry["name"]: entry for entry in _generator().collect_layers()}
    actual = {entry["name"]: entry for entry in tomllib.loads(_toml_text())["layer"]}
    stale = f"rules/layers.toml is stale for flax {flax.__version__}: run python tools/gen_layers.py"
    assert sorted(actual) == sorted(expected), stale
    for name, entry in expected.items():
        assert actual[name] == entry, f"{name}: {stale}"


def test_layers_toml_is_exactly_the_generator_output() -> None:
    """No hand edits: regeneration is byte-stable, so a flax upgrade shows up as a clean diff."""
    flax = pytest.importorskip("flax", reason="flax is not installed: cannot regenerate layers.toml")
    gen = _generator()
    text = _toml_text()
    if f"from flax {flax.__version__}." not in text.splitlines()[0]:
        pytest.skip(f"layers.toml was generated from another flax than the installed {flax.__version__}")
    assert gen.render(gen.collect_layers(), flax.__version__) == text


# (b) known facts (design.md section 2)


@pytest.mark.parametrize(
    ("name", "dtype_index", "param_dtype_index"),
    [
        ("flax.linen.Dense", 2, 3),
        ("flax.linen.Embed", 2, 3),
        ("flax.linen.DenseGeneral", 4, 5),
        ("flax.linen.Conv", 9, 10),
        ("flax.linen.LayerNorm", 1, 2),
        ("flax.linen.RMSNorm", 1, 2),
        ("flax.linen.MultiHeadDotProductAttention", 1, 2),
        ("flax.linen.LSTMCell", 6, 7),
        ("flax.linen.GRUCell", 6, 7),
    ],
)
def test_linen_positional_indices(name: str, dtype_index: int, param_dtype_index: int) -> None:
    spec = load_catalogue().lookup(name)
    assert spec is not None
    assert (spec.api, spec.dtype_index, spec.param_dtype_index) == ("linen", dtype_index, param_dtype_index)
    assert spec.signature[dtype_index] == "dtype"
    assert spec.signature[param_dtype_index] == "param_dtype"
    assert (spec.dtype_default, spec.param_dtype_default) == ("None", "float32")


def test_linen_dense_signature_excludes_parent_and_name() -> None:
    spec = load_catalogue().lookup("flax.linen.Dense")
    assert spec is not None
    assert spec.signature[:4] == ("features", "use_bias", "dtype", "param_dtype")
    assert "parent" not in spec.signature and "name" not in spec.signature
    assert spec.kind == "dense" and spec.short_name == "Dense" and spec.public


def test_nnx_dtypes_are_keyword_only() -> None:
    nnx = [spec for spec in load_catalogue() if spec.api == "nnx"]
    assert {"Linear", "Embed", "LayerNorm", "RMSNorm", "Conv", "MultiHeadAttention"} <= {
        spec.short_name for spec in nnx
    }
    for spec in nnx:
        assert spec.dtype_index is None and spec.param_dtype_index is None, spec.name
        assert "dtype" not in spec.signature and "param_dtype" not in spec.signature, spec.name


def test_nnx_simple_cell_is_the_one_float32_dtype_default() -> None:
    catalogue = load_catalogue()
    simple_cell = catalogue.lookup("flax.nnx.SimpleCell")
    assert simple_cell is not None and simple_cell.dtype_default == "float32"
    others = {spec.name for spec in catalogue if spec.has_dtype and spec.dtype_default != "None"}
    assert others == {"flax.nnx.SimpleCell"}


def test_private_bases_and_param_dtype_only_layers() -> None:
    catalogue = load_catalogue()
    conv_base = catalogue.lookup("flax.linen.linear._Conv")
    assert conv_base is not None and not conv_base.public and conv_base.kind == "conv"
    prelu = catalogue.lookup("flax.linen.PReLU")
    assert prelu is not None
    assert (prelu.has_dtype, prelu.has_param_dtype, prelu.param_dtype_index) == (False, True, 0)
    assert prelu.dtype_default is None and prelu.dtype_index is None


# (c) aliases


def test_definition_module_alias_resolves_to_the_public_spec() -> None:
    catalogue = load_catalogue()
    dense = catalogue.lookup("flax.linen.Dense")
    assert dense is not None
    assert catalogue.lookup("flax.linen.linear.Dense") is dense
    assert "flax.linen.linear.Dense" in catalogue and "flax.linen.linear.Dense" in dense.aliases
    assert catalogue.lookup("flax.nnx.nn.linear.Linear") is catalogue.lookup("flax.nnx.Linear")
    assert catalogue.lookup("flax.linen.Dropout") is None and "flax.linen.Dropout" not in catalogue


def test_every_spec_is_listed_once_and_short_names_cover_it() -> None:
    catalogue = load_catalogue()
    names = [spec.name for spec in catalogue]
    assert len(names) == len(set(names)) == len(catalogue)
    assert {"Dense", "Embed", "Linear", "_Conv"} <= catalogue.short_names()
    assert all(spec.short_name in catalogue.short_names() for spec in catalogue)


# (d) user-declared wrappers


def test_with_extra_adds_project_layers() -> None:
    base = load_catalogue()
    extended = base.with_extra(
        {
            "mypkg.layers.ParallelDense": {"dtype": 2, "param_dtype": 3},
            "mypkg.layers.Block": {"dtype": -1, "kind": "other"},
            "mypkg.layers.Bare": {},
        }
    )
    assert extended.lookup("mypkg.layers.ParallelDense") == LayerSpec(
        name="mypkg.layers.ParallelDense",
        api="project",
        kind="dense",
        signature=(),
        has_dtype=True,
        has_param_dtype=True,
        dtype_index=2,
        param_dtype_index=3,
        dtype_default="None",
        param_dtype_default="float32",
    )
    block = extended.lookup("mypkg.layers.Block")
    assert block is not None and block.kind == "other"
    assert (block.has_dtype, block.dtype_index, block.has_param_dtype) == (True, None, False)
    bare = extended.lookup("mypkg.layers.Bare")
    assert bare is not None and bare.kind == "dense"
    assert (bare.has_dtype, bare.dtype_index, bare.has_param_dtype) == (True, None, False)
    assert {"ParallelDense", "Block", "Bare"} <= extended.short_names()
    assert extended.lookup("flax.linen.Dense") is base.lookup("flax.linen.Dense")
    assert "mypkg.layers.ParallelDense" not in base  # the built-in catalogue is untouched
    assert len(extended) == len(base) + 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mypkg.Dense": {"dtype": 2, "dtpye": 3}}, "unknown key"),
        ({"mypkg.Dense": {"dtype": "2"}}, "dtype must be a positional index"),
        ({"mypkg.Dense": {"param_dtype": 1.0}}, "param_dtype must be a positional index"),
        ({"mypkg.Dense": {"dtype": True}}, "dtype must be a positional index"),
        ({"mypkg.Dense": {"dtype": -2}}, "dtype must be a positional index"),
        ({"mypkg.Dense": {"dtype": 1, "param_dtype": 1}}, "share a positional index"),
        ({"mypkg.Dense": {"kind": "linear"}}, "kind must be one of"),
        ({"mypkg.Dense": 2}, "expected a table"),
        ({"mypkg..Dense": {}}, "dotted Python path"),
        ({"flax.linen.linear.Dense": {"dtype": 2}}, "already a catalogued flax layer"),
    ],
)
def test_with_extra_rejects_malformed_entries(extra: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogueError, match=message) as excinfo:
        load_catalogue().with_extra(extra)  # type: ignore[arg-type]
    assert next(iter(extra)) in str(excinfo.value)  # the offending entry is named
    assert isinstance(excinfo.value, ValueError)


def test_malformed_toml_entry_is_reported() -> None:
    from flaxprec.catalogue import _toml_spec

    with pytest.raises(CatalogueError, match="disagrees with the signature"):
        _toml_spec(
            {
                "name": "flax.linen.X",
                "api": "linen",
                "aliases": [],
                "kind": "dense",
                "signature": ["features", "dtype"],
                "dtype": {"index": 0, "default": "None"},
                "public": True,
            }
        )
    with pytest.raises(CatalogueError, match="malformed"):
        _toml_spec({"name": "flax.linen.X"})


def test_catalogue_rejects_a_name_declared_twice() -> None:
    spec = load_catalogue().lookup("flax.linen.Dense")
    assert spec is not None
    with pytest.raises(CatalogueError, match="declared twice"):
        Catalogue([spec, spec])


# (e) the check path stays free of jax and flax


def test_importing_the_catalogue_imports_neither_jax_nor_flax() -> None:
    code = textwrap.dedent(
        """
        import sys
        from flaxprec.catalogue import load_catalogue
        assert len(load_catalogue()) > 0
        print(sorted(m for m in sys.modules if m.split(".")[0] in {"jax", "jaxlib", "flax", "numpy"}))
        """
    )
    src = str(REPO / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_rules_dir_holds_the_catalogue() -> None:
    assert (rules_dir() / "layers.toml").is_file()
