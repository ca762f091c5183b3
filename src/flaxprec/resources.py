"""Where flaxprec's data files (the layer catalogue, the rule docs) live."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def rules_dir() -> Path:
    """The directory holding ``layers.toml`` and the rule docs.

    The files live once, in the repository's top-level ``rules/``, so that they are plain data that the
    generator, the docs and the tests share. The wheel ships that directory as ``flaxprec/_rules`` (hatch
    force-include), so an installed package finds it beside its modules; an editable or source checkout has
    no ``_rules`` and reads the repository copy instead.
    """
    packaged = importlib.resources.files("flaxprec") / "_rules"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "rules"
