"""One planted mixed-precision bug of each kind ``flaxprec audit`` reports.

Every construction line that the audit must name carries ``# audit: <marker>``. Each stage casts its
input back to bfloat16, so every planted leak is an origin rather than a float32 stream passed along.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class RMSNorm(nn.Module):
    """The transformers Flax Llama/T5 norm: the float32 weight multiplies the bfloat16 stream."""

    dtype: Any = jnp.bfloat16
    eps: float = 1e-6

    @nn.compact
    def __call__(self, x):
        weight = self.param("weight", nn.initializers.ones, (x.shape[-1],))
        variance = jnp.mean(jnp.square(x.astype(jnp.float32)), axis=-1, keepdims=True)
        x = (x * jax.lax.rsqrt(variance + self.eps)).astype(self.dtype)
        return weight * x  # audit: upcast


class MLP(nn.Module):
    """A custom block that forwards its dtype: built without one, it and its layers compute in float32."""

    dtype: Any = None

    def setup(self):
        self.up = nn.Dense(16, dtype=self.dtype)
        self.down = nn.Dense(8, dtype=self.dtype)

    def __call__(self, x):
        return self.down(nn.gelu(self.up(x)))


class Softmax32(nn.Module):
    """Computes in float32 on purpose, and hands float32 on."""

    @nn.compact
    def __call__(self, x):
        return jax.nn.softmax(x.astype(jnp.float32))


def to_dtype(x, dtype):
    """A cast the static rules do not see into: FLX001 reads an explicit cast of a layer's output as
    deliberate float32, and the layers of ``Leaky`` must stay planted leaks."""
    return x.astype(dtype)


class Leaky(nn.Module):
    head: nn.Module
    dtype: Any = jnp.bfloat16

    def setup(self):
        self.embed = nn.Embed(32, 8)  # audit: embed
        self.norm = RMSNorm(dtype=self.dtype)  # audit: norm
        self.mlp = MLP()  # audit: mlp
        self.proj = nn.Dense(8, dtype=self.dtype, param_dtype=jnp.bfloat16)  # audit: proj

    @nn.compact
    def __call__(self, ids):
        x = self.embed(ids)
        x = self.norm(to_dtype(x, self.dtype))
        x = self.mlp(to_dtype(x, self.dtype))
        x = nn.MultiHeadDotProductAttention(num_heads=2)(to_dtype(x, self.dtype))  # audit: attention
        x = self.proj(to_dtype(x, self.dtype))
        x = Softmax32()(x)  # audit: softmax
        return self.head(to_dtype(x, self.dtype))


def make():
    model = Leaky(head=nn.Dense(32))  # audit: head
    return model, (jax.ShapeDtypeStruct((2, 5), jnp.int32),)
