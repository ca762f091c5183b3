"""Two planted gradient bugs for ``flaxprec audit --grads``.

- ``final_logits_bias`` is a parameter that never reaches the loss (the FlaxBart bug of seed 000): its
  gradient is exactly zero in both runs;
- ``shifted`` adds and removes 128 in the compute dtype. The inputs lie in [0.6, 0.9]; in bfloat16 the
  spacing at 128 is 1, so every activation becomes exactly 1 and the gradient of ``shifted/scale`` is
  about a third larger than in float32, where the activations keep their values.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp


class Shifted(nn.Module):
    dtype: Any = jnp.bfloat16

    @nn.compact
    def __call__(self, x):
        scale = self.param("scale", nn.initializers.ones, (x.shape[-1],))
        x = x.astype(self.dtype)
        return ((x + 128.0) - 128.0) * scale.astype(self.dtype)


class GradModel(nn.Module):
    dtype: Any = jnp.bfloat16

    @nn.compact
    def __call__(self, x):
        self.param("final_logits_bias", nn.initializers.zeros, (4,))
        logits = nn.Dense(4, dtype=self.dtype, name="dense")(x)
        gate = Shifted(dtype=self.dtype, name="shifted")(x)  # audit: shifted
        return logits, gate


def inputs():
    return (jnp.linspace(0.6, 0.9, 128, dtype=jnp.float32).reshape(16, 8),)


def make():
    return GradModel(), inputs()  # audit: root


def logits_loss(outputs):
    logits, _ = outputs
    return jnp.sum(jnp.square(logits.astype(jnp.float32)))


def make_with_loss():
    """The factory's own loss, as a 4th element: it ignores the gate, so ``shifted/scale`` gets none."""
    return GradModel(), inputs(), {}, logits_loss
