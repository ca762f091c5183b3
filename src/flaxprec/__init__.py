"""flaxprec: a mixed-precision linter and codemod for Flax.

The target convention (t5x): parameters stored in float32, computation in the model's half-precision
compute dtype. ``check`` and ``fix`` read source text only; they never import jax, flax or the checked code.
"""

__version__ = "0.1.0"
