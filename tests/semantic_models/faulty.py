"""A small Flax model with the mixed-precision faults ``flaxprec fix`` repairs (test data, issue #3).

Run with ``dtype=bfloat16`` it silently computes most layers in float32 and stores some parameters in
bfloat16: the Embed, LayerNorm and first Dense have no ``dtype`` (float32 tables/params promote the stream
to float32), the last Dense stores its kernel in the compute dtype, and the custom scale creates its
parameter in the compute dtype. ``tests/test_fix_semantics.py`` fixes this file with the tool and runs both.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp


class Scale(nn.Module):
    """A learned per-feature scale, cast at use (the cast is right; the storage dtype is the fault)."""

    dtype: Any = jnp.bfloat16
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        scale = self.param("scale", nn.initializers.ones, (x.shape[-1],), self.dtype)
        return x * scale.astype(self.dtype)


class Faulty(nn.Module):
    vocab_size: int = 32
    hidden: int = 16
    dtype: Any = jnp.bfloat16
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, ids):
        x = nn.Embed(self.vocab_size, self.hidden, name="embed")(ids)
        x = nn.LayerNorm(name="norm")(x)
        x = nn.gelu(nn.Dense(2 * self.hidden, name="up")(x))
        x = nn.Dense(self.hidden, dtype=self.dtype, param_dtype=self.dtype, name="down")(x)
        return Scale(dtype=self.dtype, param_dtype=self.param_dtype, name="scale")(x)
