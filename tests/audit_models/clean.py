"""A model that follows the target convention: float32 params, bfloat16 compute, float32 logits.

Mixes setup and compact submodules, a custom norm that casts its weight, an adopted submodule and a
Python flag among the inputs; the audit must find nothing.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class RMSNorm(nn.Module):
    dtype: Any = jnp.bfloat16

    @nn.compact
    def __call__(self, x):
        weight = self.param("weight", nn.initializers.ones, (x.shape[-1],))
        variance = jnp.mean(jnp.square(x.astype(jnp.float32)), axis=-1, keepdims=True)
        x = x * jax.lax.rsqrt(variance + 1e-6)
        return weight.astype(self.dtype) * x.astype(self.dtype)


class Block(nn.Module):
    dtype: Any = jnp.bfloat16

    @nn.compact
    def __call__(self, x, deterministic: bool):
        h = nn.LayerNorm(dtype=self.dtype)(x)
        h = nn.MultiHeadDotProductAttention(num_heads=2, dtype=self.dtype)(h, deterministic=deterministic)
        x = x + nn.Dropout(0.1)(h, deterministic=deterministic)
        h = RMSNorm(dtype=self.dtype)(x)
        return x + nn.Dense(8, dtype=self.dtype)(nn.gelu(nn.Dense(16, dtype=self.dtype)(h)))


class Clean(nn.Module):
    block: Block
    dtype: Any = jnp.bfloat16

    def setup(self):
        self.embed = nn.Embed(32, 8, dtype=self.dtype)
        self.lm_head = nn.Dense(32, dtype=jnp.float32)

    def __call__(self, ids, deterministic: bool = True):
        x = self.embed(ids)
        x = self.block(x, deterministic)
        return self.lm_head(x)


def make():
    model = Clean(block=Block(dtype=jnp.bfloat16))
    return model, (jax.ShapeDtypeStruct((2, 5), jnp.int32),), {"deterministic": True}
