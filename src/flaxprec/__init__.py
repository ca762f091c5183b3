"""flaxprec: a mixed-precision linter and codemod for Flax.

The target convention (t5x): parameters stored in float32, computation in the model's half-precision
compute dtype. ``check`` and ``fix`` read source text only; they never import jax, flax or the checked code.

Public API: :func:`check_source`, :func:`fix_source`, :class:`Diagnostic` (imported lazily, so that
``import flaxprec`` stays cheap).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Diagnostic", "__version__", "check_source", "fix_source"]

if TYPE_CHECKING:
    from flaxprec.diagnostics import Diagnostic
    from flaxprec.engine import check_source
    from flaxprec.fixer import fix_source


def __getattr__(name: str) -> Any:
    if name == "check_source":
        from flaxprec.engine import check_source

        return check_source
    if name == "fix_source":
        from flaxprec.fixer import fix_source

        return fix_source
    if name == "Diagnostic":
        from flaxprec.diagnostics import Diagnostic

        return Diagnostic
    raise AttributeError(name)
