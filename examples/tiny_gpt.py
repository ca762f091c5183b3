"""A tiny GPT in Flax linen, configured for bfloat16 training, with the classic mixed-precision faults.

Every fault here is one that shipped in published Flax code: run ``flaxprec check examples/`` to see them
and ``flaxprec fix examples/`` for the rewrite to float32 parameters and bfloat16 computation.
"""

from dataclasses import dataclass

import flax.linen as nn
import jax.numpy as jnp


@dataclass(frozen=True)
class Config:
    vocab_size: int = 256
    hidden: int = 64
    heads: int = 4
    layers: int = 2
    dtype: jnp.dtype = jnp.bfloat16


class RMSNorm(nn.Module):
    dim: int
    dtype: jnp.dtype = jnp.bfloat16

    @nn.compact
    def __call__(self, x):
        # Fault: the scale is stored in the compute dtype (bf16 master weight).
        scale = self.param("scale", nn.initializers.ones, (self.dim,), self.dtype)
        variance = jnp.mean(jnp.square(x.astype(jnp.float32)), axis=-1, keepdims=True)
        return (x * jnp.reciprocal(jnp.sqrt(variance + 1e-6))).astype(self.dtype) * scale


class Block(nn.Module):
    config: Config
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        cfg = self.config
        self.norm1 = RMSNorm(cfg.hidden, dtype=self.dtype)
        # Fault: attention computes in float32 (no dtype).
        self.attn = nn.MultiHeadDotProductAttention(num_heads=cfg.heads)
        self.norm2 = RMSNorm(cfg.hidden, dtype=self.dtype)
        self.up = nn.Dense(4 * cfg.hidden, dtype=self.dtype)
        # Fault: dtype and param_dtype swapped (bf16 weights, fp32 compute).
        self.down = nn.Dense(cfg.hidden, dtype=jnp.float32, param_dtype=jnp.bfloat16)

    def __call__(self, x, mask):
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.down(nn.gelu(self.up(self.norm2(x))))


class TinyGPT(nn.Module):
    config: Config
    dtype: jnp.dtype = jnp.bfloat16

    def setup(self):
        cfg = self.config
        # Fault: the embedding has no dtype, so the residual stream starts (and stays) in float32.
        self.wte = nn.Embed(cfg.vocab_size, cfg.hidden)
        # Fault: dtype passed positionally.
        self.wpe = nn.Embed(1024, cfg.hidden, self.dtype)
        # Fault: a block built without dtype computes in its default, float32.
        self.blocks = [Block(cfg) for _ in range(cfg.layers)]
        self.norm = RMSNorm(cfg.hidden, dtype=self.dtype)
        self.lm_head = nn.Dense(cfg.vocab_size, use_bias=False)

    def __call__(self, ids):
        positions = jnp.arange(ids.shape[-1])[None, :]
        x = self.wte(ids) + self.wpe(positions)
        mask = nn.make_causal_mask(ids)
        for block in self.blocks:
            x = block(x, mask)
        return self.lm_head(self.norm(x))
