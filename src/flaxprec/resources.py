"""Where flaxprec's data files (the layer catalogue, the rule docs) live."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_RULES = PACKAGE_DIR.parents[1] / "rules"  # src/flaxprec -> the repository's rules/


def rules_dir() -> Path:
    """The directory holding ``layers.toml`` and the rule docs.

    The files live once, in the repository's top-level ``rules/``, so that they are plain data that the
    generator, the docs and the tests share. The wheel ships that directory as ``flaxprec/_rules`` (hatch
    force-include), so an installed package finds it beside its modules; an editable or source checkout has
    no ``_rules`` and reads the repository copy instead. (The package is a folder on disk, so it is found
    beside this file; ``importlib.resources`` would cost more to import than the whole lookup.)
    """
    packaged = PACKAGE_DIR / "_rules"
    return packaged if packaged.is_dir() else CHECKOUT_RULES
