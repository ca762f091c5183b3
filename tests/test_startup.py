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
