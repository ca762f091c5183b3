"""Modules built in every way linen allows, each with bfloat16 params so each shows up with its site.

The root has no ``dtype``, so the audit reports only ``param-dtype`` findings: one per leaf, each with
the construction line marked ``# audit: <marker>`` (for the attention layer: its own line, not the
line inside flax that builds its projections).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

BF16 = jnp.bfloat16
HalfDense = functools.partial(nn.Dense, param_dtype=BF16)


def dense(features):
    return nn.Dense(features, param_dtype=BF16)  # audit: helper


class Scale(nn.Module):
    """Overrides ``__post_init__``: the site must still be the line that builds it, not this class."""

    def __post_init__(self):
        super().__post_init__()

    @nn.compact
    def __call__(self, x):
        return x * self.param("w", nn.initializers.ones, (x.shape[-1],), BF16)


class Sites(nn.Module):
    adopted: nn.Module

    def setup(self):
        self.in_setup = nn.Dense(4, param_dtype=BF16)  # audit: setup
        self.layers = [nn.Dense(4, param_dtype=BF16) for _ in range(2)]  # audit: list

    @nn.compact
    def __call__(self, x):
        self.param("root_bias", nn.initializers.zeros, (4,), BF16)
        x = self.in_setup(x)
        for layer in self.layers:
            x = layer(x)
        x = nn.Dense(4, param_dtype=BF16)(x)  # audit: compact
        x = dense(4)(x)
        x = HalfDense(4)(x)  # audit: partial
        x = Scale()(x)  # audit: custom
        x = nn.remat(nn.Dense)(4, param_dtype=BF16)(x)  # audit: remat
        x = nn.MultiHeadDotProductAttention(num_heads=2, param_dtype=BF16)(x)  # audit: attention
        return self.adopted(x)


def make():
    adopted = nn.Dense(4, param_dtype=BF16)  # audit: adopted
    model = Sites(adopted=adopted)  # audit: root
    return model, (jax.ShapeDtypeStruct((2, 3, 4), jnp.float32),)
