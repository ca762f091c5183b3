"""Dtype roles read from use (issue 14): what the index records, how it classifies, and the conventions a
project declares in ``[tool.flaxprec.conventions]``. The rules' behaviour on roles is in the fixtures
(``fixtures/FLX001/dtype_roles.py``, ``fixtures/FLX004/param_dtype.py``)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from conftest import run_flaxprec
from flaxprec.catalogue import load_catalogue
from flaxprec.gate import read_tree
from flaxprec.project import ProjectIndex, summarize
from flaxprec.roles import COMPUTE_TARGET, STORAGE_TARGET, DtypeUse, Role

SOURCE = textwrap.dedent(
    """\
    import functools
    import flax.linen as nn
    import jax.numpy as jnp
    from flax import nnx


    class Table(nn.Module):
        dtype: jnp.dtype = jnp.float32
        kernel_dtype: jnp.dtype = jnp.int8

        def setup(self):
            self.table = self.param("t", nn.initializers.zeros, (4,), self.dtype)


    class Block(nn.Module):
        dtype: jnp.dtype = jnp.float32
        param_dtype: jnp.dtype = jnp.float32

        @nn.compact
        def __call__(self, x):
            dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype)
            x = dense(4)(x.astype(self.config.dtype))
            return Table(self.dtype)(x)


    class Linear(nnx.Module):
        def __init__(self, dtype, param_dtype, rngs):
            self.w = nnx.Param(nnx.initializers.zeros(rngs.params(), (3,), param_dtype))
            self.dtype = dtype
    """
)


def _summary(walked: bool):
    tree = ast.parse(SOURCE)
    return read_tree(tree, "m")[0] if walked else summarize(tree, "m")


@pytest.mark.parametrize("walked", [True, False], ids=["gate-pass", "summarize"])
def test_uses_are_recorded_per_class(walked: bool) -> None:
    """The gate's single pass and the stand-alone summary record the same uses."""
    classes = {c.name: c for c in _summary(walked).classes}
    assert classes["Table"].dtype_uses == (DtypeUse("dtype", STORAGE_TARGET, "dtype", 12, "`self.param`"),)
    assert classes["Table"].quantized == frozenset({"kernel_dtype"})
    assert sorted(classes["Block"].dtype_uses) == sorted(
        [
            DtypeUse("dtype", "flax.linen.Dense", "dtype", 21, "`nn.Dense(dtype=...)`"),
            DtypeUse("param_dtype", STORAGE_TARGET, "param_dtype", 21, "`param_dtype=`"),
            DtypeUse("config.dtype", COMPUTE_TARGET, 0, 22, "`.astype`"),
            DtypeUse("dtype", "m.Table", 0, 23, "`Table(...)`"),
        ]
    )
    linear = DtypeUse("param_dtype", STORAGE_TARGET, "dtype", 28, "`nnx.Param`")
    assert classes["Linear"].dtype_uses == (linear,)


def test_roles_follow_values_into_children() -> None:
    index = ProjectIndex(load_catalogue())
    index.add(_summary(True))
    roles = index.roles
    assert roles.evidence("m.Block", "dtype").role is Role.COMPUTE  # nn.Dense's dtype
    assert roles.evidence("m.Block", "param_dtype").role is Role.STORAGE
    assert roles.evidence("m.Block", "config.dtype").role is Role.COMPUTE
    # Table stores its parameter in its `dtype`, and Block passes its compute dtype into it: both.
    table = roles.role("m.Table", "dtype")
    assert table.role is Role.BOTH
    assert table.why_compute() == "`Block` passes its compute dtype into `dtype` at line 23"
    assert roles.evidence("m.Table", "kernel_dtype").role is Role.STORAGE  # jnp.int8: quantized
    # Nothing in Linear's code uses `dtype`: its name is the prior.
    assert roles.evidence("m.Linear", "dtype").role is Role.UNKNOWN
    linear = roles.role("m.Linear", "dtype")
    assert (linear.role, linear.from_name) == (Role.COMPUTE, True)


def test_a_swapped_call_is_not_evidence() -> None:
    """``Dense(dtype=self.param_dtype, param_dtype=self.dtype)`` is FLX003's question, not an answer."""
    source = textwrap.dedent(
        """\
        import flax.linen as nn

        class M(nn.Module):
            dtype: object = None
            param_dtype: object = None

            def setup(self):
                self.d = nn.Dense(4, dtype=self.param_dtype, param_dtype=self.dtype)
        """
    )
    index = ProjectIndex(load_catalogue())
    index.add(read_tree(ast.parse(source), "m")[0])
    assert index.roles.evidence("m.M", "dtype").role is Role.UNKNOWN
    assert index.roles.role("m.M", "dtype").role is Role.COMPUTE


# -- [tool.flaxprec.conventions] --------------------------------------------------------------------------

BASE = """\
import flax.linen as nn
import jax.numpy as jnp


class Layer(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16
    act_dtype: jnp.dtype = jnp.bfloat16
    master_dtype: jnp.dtype = jnp.float32

    def cast(self, x):
        return x.astype(self.dtype)


class Child(Layer):
    @nn.compact
    def __call__(self, x):
        w = self.param("w", nn.initializers.ones, (4,), self.dtype)
        return nn.Dense(4)(self.cast(x)) * w
"""


def _project(tmp_path: Path, conventions: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.flaxprec.conventions]\n{conventions}\n")
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text(BASE)


def test_default_conventions(tmp_path: Path) -> None:
    _project(tmp_path, "")
    args = ("check", "--select", "FLX001,FLX004", "--output-format", "concise", ".")
    result = run_flaxprec(*args, cwd=tmp_path)
    assert result.stdout.splitlines()[:2] == [
        "mypkg/layers.py:17:57: FLX004 Parameter created in `self.dtype` (the compute dtype: `dtype` reaches "
        "`.astype` at line 11): it is stored that way and loses small updates; create it in the param dtype "
        "and cast it where it is used",
        "mypkg/layers.py:18:16: FLX001 `nn.Dense` built without `dtype`: it computes in float32 although "
        "`Child` has a compute dtype (`self.dtype`) (`dtype` reaches `.astype` at line 11, but it also "
        "stores parameters in it)",
    ]


def test_a_declared_storage_dtype_is_forwarded(tmp_path: Path) -> None:
    _project(tmp_path, 'storage-dtypes = ["master_dtype"]')
    result = run_flaxprec("fix", "--select", "FLX004", ".", cwd=tmp_path)
    assert '-        w = self.param("w", nn.initializers.ones, (4,), self.dtype)' in result.stdout
    assert '+        w = self.param("w", nn.initializers.ones, (4,), self.master_dtype)' in result.stdout


def test_implicit_dtype_bases(tmp_path: Path) -> None:
    _project(tmp_path, 'implicit-dtype-bases = ["mypkg.layers.Layer"]')
    result = run_flaxprec("check", "--select", "FLX001", "--output-format", "concise", ".", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "All checks passed!\n"), result.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('compute-dtypes = "act_dtype"', "expected a list of attribute names"),
        ('compute-dtypes = ["act.dtype"]', "`act.dtype` is not an attribute name such as `fprop_dtype`"),
        ('implicit-dtype-bases = ["BaseLayer"]', "`BaseLayer` is not a qualified class name"),
        ('storage-dtype = ["w"]', "(`storage-dtype`): unknown key (known keys: compute-dtypes,"),
        (
            'compute-dtypes = ["x_dtype"]\nstorage-dtypes = ["x_dtype"]',
            "`x_dtype` is listed as both a compute and a storage dtype",
        ),
    ],
)
def test_bad_conventions_exit_2(tmp_path: Path, body: str, message: str) -> None:
    _project(tmp_path, body)
    result = run_flaxprec("check", ".", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "[tool.flaxprec] `conventions`" in result.stderr


def test_a_project_module_computing_norm_statistics_is_a_norm() -> None:
    """A project RMSNorm (easydel's) is a norm for FLX001 by what it computes: ``var``, or ``mean`` with
    ``rsqrt``; an attention block's ``rsqrt(depth)`` alone does not make one."""
    source = textwrap.dedent(
        """\
        import flax.linen as nn
        import jax
        import jax.numpy as jnp

        class RMSNorm(nn.Module):
            dtype: jnp.dtype = jnp.float32

            def __call__(self, x):
                variance = jnp.mean(jnp.square(x.astype(jnp.float32)), axis=-1, keepdims=True)
                return (x * jax.lax.rsqrt(variance + 1e-6)).astype(self.dtype)

        class Attention(nn.Module):
            dtype: jnp.dtype = jnp.float32

            def __call__(self, q, k):
                return nn.Dense(4, dtype=self.dtype)(q @ k.T * jax.lax.rsqrt(64.0))

        class Subclass(RMSNorm):
            pass
        """
    )
    for walked in (True, False):
        tree = ast.parse(source)
        index = ProjectIndex(load_catalogue())
        index.add(read_tree(tree, "m")[0] if walked else summarize(tree, "m"))
        kinds = {
            name: index.facts(f"m.{name}").as_layer_spec().kind
            for name in ("RMSNorm", "Attention", "Subclass")
        }
        assert kinds == {"RMSNorm": "norm", "Attention": "block", "Subclass": "norm"}


def test_evidence_from_another_module_names_its_class() -> None:
    """A line number of another file would mislead: the evidence names the class whose code it is."""
    base = textwrap.dedent(
        """\
        import flax.linen as nn

        class Base(nn.Module):
            dtype: object = None

            def cast(self, x):
                return x.astype(self.dtype)
        """
    )
    child = textwrap.dedent(
        """\
        import flax.linen as nn
        from pkg.base import Base

        class Child(Base):
            @nn.compact
            def __call__(self, x):
                return x * self.param("w", nn.initializers.ones, (4,), self.dtype)
        """
    )
    index = ProjectIndex(load_catalogue())
    index.add(read_tree(ast.parse(base), "pkg.base")[0])
    index.add(read_tree(ast.parse(child), "pkg.child")[0])
    child_role = index.roles.role("pkg.child.Child", "dtype")
    assert child_role.role is Role.BOTH
    assert child_role.why_compute() == "`dtype` reaches `.astype` at line 7 of `pkg.base.Base`"
    assert index.roles.role("pkg.base.Base", "dtype").why_compute() == "`dtype` reaches `.astype` at line 7"


def test_a_block_misusing_its_dtype_does_not_make_the_caller_s_a_storage_dtype() -> None:
    """The shipped example: ``RMSNorm`` computes with its ``dtype`` and stores its scale in it (its own
    FLX004); ``Block`` passing its compute dtype there still computes with it, nothing more."""
    source = (Path(__file__).parent.parent / "examples" / "tiny_gpt.py").read_text(encoding="utf-8")
    index = ProjectIndex(load_catalogue())
    index.add(read_tree(ast.parse(source), "tiny_gpt")[0])
    assert index.roles.role("tiny_gpt.RMSNorm", "dtype").role is Role.BOTH
    assert index.roles.role("tiny_gpt.Block", "dtype").role is Role.COMPUTE
    assert index.roles.role("tiny_gpt.TinyGPT", "dtype").role is Role.COMPUTE


def test_the_readme_counts_the_example_s_findings() -> None:
    """README's first command promises the example's exit code and number of findings."""
    from click.testing import CliRunner

    from flaxprec.cli import main

    root = Path(__file__).parent.parent
    result = CliRunner().invoke(main, ["check", "--no-cache", str(root / "examples")])
    found = result.stdout.splitlines()[-2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    count = found.removeprefix("Found ").removesuffix(" errors.")
    assert result.exit_code == 1
    assert f"exit code 1, {count} findings)" in readme
