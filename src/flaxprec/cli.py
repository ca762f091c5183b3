"""The ``flaxprec`` command line (click).

Imports of the engine happen inside the commands so that ``flaxprec --help`` and every command pay only
for what they use; jax/flax are imported by ``audit`` alone.
"""

from __future__ import annotations

import click

from flaxprec import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flaxprec")
def main() -> None:
    """Mixed-precision linter and codemod for Flax: float32 parameters, half-precision computation."""
