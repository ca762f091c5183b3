"""FLX901 unused-noqa: a ``# noqa`` directive that suppresses nothing.

Stale suppressions hide the next real finding on that line. The engine produces it after suppression
(``flaxprec.suppress``), with a fix that removes the unused code or the whole comment.
"""

from __future__ import annotations

from flaxprec.rules.base import Rule

RULE = Rule(
    code="FLX901",
    name="unused-noqa",
    summary="Unused `noqa` directive",
    check=None,
    # Opt-in, like ruff's RUF100: projects that also run flake8/ruff keep blanket ``# noqa`` comments.
    default_on=False,
)
