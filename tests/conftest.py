"""Shared test helpers: the fixture tree, the on-purpose regeneration switch, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
# FLAXPREC_UPDATE_FIXTURES=1 rewrites expectation snapshots instead of comparing (review the diff!).
UPDATE = os.environ.get("FLAXPREC_UPDATE_FIXTURES") == "1"

# The smallest faulty model: a Dense built without the module's compute dtype (one safely fixable FLX001).
FAULTY = """\
import flax.linen as nn
import jax.numpy as jnp


class Block(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16

    @nn.compact
    def __call__(self, x):
        return nn.Dense(4)(x)
"""
FIXED = FAULTY.replace("nn.Dense(4)", "nn.Dense(4, dtype=self.dtype)")


def run_flaxprec(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m flaxprec ARGS`` in a fresh process (what a user's shell runs), text in UTF-8."""
    return subprocess.run(
        [sys.executable, "-m", "flaxprec", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        encoding="utf-8",
    )


def cst_subtree(root: object) -> list:
    """Every libcst node under ``root`` (itself included), by ``children``: the slow, obvious way."""
    nodes, stack = [], [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.children)  # type: ignore[attr-defined]
    return nodes
