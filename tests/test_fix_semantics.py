"""What ``fix`` changes at run time, measured with real jax/flax on CPU (issue #3).

A diff that looks right is not proof: this runs ``tests/semantic_models/faulty.py`` before and after
``fix_source`` and checks the promise of the t5x convention. In bfloat16 every parameter is stored in
float32 and every layer outputs bfloat16 (several output float32 before); in float32 the fix changes
nothing at all, bit for bit, so users who do not train in mixed precision are unaffected.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

jax = pytest.importorskip("jax")
nn = pytest.importorskip("flax.linen")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from flaxprec.engine import check_source  # noqa: E402
from flaxprec.fixer import fix_source  # noqa: E402

FAULTY = Path(__file__).parent / "semantic_models" / "faulty.py"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType]]:
    """The faulty module as written, and as ``fix_source`` rewrites it (imported from a temp file)."""
    text = FAULTY.read_text(encoding="utf-8")
    fixed = fix_source(text, str(FAULTY))
    assert fixed != text
    assert not [d for d in check_source(fixed, "faulty_fixed.py") if d.fixable]
    path = tmp_path_factory.mktemp("fixed") / "faulty_fixed.py"
    path.write_text(fixed, encoding="utf-8")
    before, after = _load(FAULTY, "_flaxprec_faulty_before"), _load(path, "_flaxprec_faulty_after")
    yield before, after
    for name in ("_flaxprec_faulty_before", "_flaxprec_faulty_after"):
        sys.modules.pop(name, None)


def test_the_model_has_the_faults_the_tool_fixes() -> None:
    codes = {d.code for d in check_source(FAULTY.read_text(encoding="utf-8"), str(FAULTY))}
    assert {"FLX001", "FLX002", "FLX004"} <= codes


IDS = jnp.arange(8, dtype=jnp.int32).reshape(2, 4)


def _init(model: Any) -> Any:
    return model.init(jax.random.PRNGKey(0), IDS)


def _param_dtypes(params: Any) -> dict[str, str]:
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return {jax.tree_util.keystr(path): str(leaf.dtype) for path, leaf in flat}


def _layer_outputs(model: Any, params: Any) -> dict[str, Any]:
    """Every submodule ``__call__`` output, by module path (``nn.intercept_methods``)."""
    outputs: dict[str, Any] = {}

    def record(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__":
            outputs["/".join(context.module.path) or "<root>"] = out
        return out

    with nn.intercept_methods(record):
        model.apply(params, IDS)
    return outputs


def test_bf16_params_become_float32_and_outputs_become_bf16(models: tuple[ModuleType, ModuleType]) -> None:
    before, after = models
    old, new = before.Faulty(dtype=jnp.bfloat16), after.Faulty(dtype=jnp.bfloat16)
    old_params, new_params = _init(old), _init(new)

    old_dtypes, new_dtypes = _param_dtypes(old_params), _param_dtypes(new_params)
    assert old_dtypes.keys() == new_dtypes.keys()
    assert {k for k, v in old_dtypes.items() if v == "bfloat16"} == {
        "['params']['down']['kernel']",
        "['params']['down']['bias']",
        "['params']['scale']['scale']",
    }
    assert set(new_dtypes.values()) == {"float32"}

    old_out = {k: str(v.dtype) for k, v in _layer_outputs(old, old_params).items()}
    new_out = {k: str(v.dtype) for k, v in _layer_outputs(new, new_params).items()}
    assert old_out.keys() == new_out.keys()
    assert {k for k, v in old_out.items() if v == "float32"} == {"embed", "norm", "up"}
    assert set(new_out.values()) == {"bfloat16"}


def test_float32_model_is_bit_identical_after_the_fix(models: tuple[ModuleType, ModuleType]) -> None:
    before, after = models
    old, new = before.Faulty(dtype=jnp.float32), after.Faulty(dtype=jnp.float32)
    params = _init(old)
    assert _param_dtypes(_init(new)) == _param_dtypes(params)  # same tree, so the same params fit both
    old_out, new_out = _layer_outputs(old, params), _layer_outputs(new, params)
    assert old_out.keys() == new_out.keys()
    for name in old_out:
        assert old_out[name].dtype == new_out[name].dtype == jnp.float32, name
        assert np.array_equal(np.asarray(old_out[name]), np.asarray(new_out[name])), name
