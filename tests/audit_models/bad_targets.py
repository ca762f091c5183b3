"""Factories that are wrong in every way ``flaxprec audit`` must reject with exit status 2."""

import flax.linen as nn
import jax
import jax.numpy as jnp

NOT_CALLABLE = 3


def raises():
    raise ValueError("boom")


def not_a_tuple():
    return 42


def too_short():
    return (nn.Dense(3),)


def not_a_module():
    return "model", ()


def args_not_a_tuple():
    return nn.Dense(3), jnp.ones((2, 3))


def kwargs_not_a_dict():
    return nn.Dense(3), (jnp.ones((2, 3)),), [1]


def init_fails():
    return nn.Dense(3), (jax.ShapeDtypeStruct((2, 3), jnp.int32), jax.ShapeDtypeStruct((4,), jnp.float32))
