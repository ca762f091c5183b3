"""Start-up cost: what merely listing or selecting rules imports.

``flaxprec check`` on a warm cache never builds a syntax tree, so the rule registry (needed for
selection) must not import libcst (~0.2 s): rule modules import the analysis types under
``TYPE_CHECKING`` only and libcst lazily.
"""

from __future__ import annotations

import subprocess
import sys


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_rule_registry_imports_no_libcst() -> None:
    modules = _imported_after("from flaxprec.rules import all_rules; all_rules()")
    assert "libcst" not in modules
    assert not {"jax", "flax", "numpy"} & modules


def test_cli_import_is_light() -> None:
    modules = _imported_after("import flaxprec.cli")
    assert not {"libcst", "jax", "flax", "numpy"} & modules


WARM_RUN = """
import sys
from flaxprec.cli import main

try:
    main(["check", "--cache-dir", "cache", "-q", "pkg"])
except SystemExit as exit:
    print(exit.code)
"""

# What a run served entirely from the cache must not import: the ast stage (project summaries, gate
# sketches, the layer catalogue) and libcst; nor the worker pool's machinery.
COLD_ONLY = {"libcst", "flaxprec.gate", "flaxprec.project", "flaxprec.catalogue"}


def test_a_fully_cached_run_imports_no_analysis(tmp_path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "model.py").write_text(
        "import flax.linen as nn\nimport jax.numpy as jnp\n\n\nclass Model(nn.Module):\n"
        "    dtype: jnp.dtype = jnp.bfloat16\n\n    @nn.compact\n    def __call__(self, x):\n"
        "        return nn.Dense(4)(x)\n"
    )

    def run() -> tuple[str, set[str]]:
        probe = f"{WARM_RUN}\nprint(' '.join(sorted(sys.modules)))"
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
        )
        *output, modules = result.stdout.splitlines()
        return "\n".join(output), set(modules.split())

    cold_output, cold_modules = run()
    assert "pkg/model.py:10:16: FLX001" in cold_output
    assert cold_modules >= COLD_ONLY  # the probe sees them when they are imported
    assert not {"jax", "flax", "numpy"} & cold_modules  # the analysis reads the code, never imports it
    warm_output, warm_modules = run()
    assert warm_output == cold_output
    assert not (COLD_ONLY | {"multiprocessing", "concurrent.futures"}) & warm_modules
    # Served by flaxprec.warm from bytes alone: neither the engine nor the source decoder is loaded.
    assert "flaxprec.warm" in warm_modules
    assert not {"flaxprec.engine", "flaxprec.source_io"} & warm_modules
    assert not {"jax", "flax", "numpy"} & warm_modules
