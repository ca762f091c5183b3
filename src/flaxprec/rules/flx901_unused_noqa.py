"""FLX901 unused-noqa: a ``# noqa`` directive that suppresses nothing.

Stale suppressions hide the next real finding on that line. The engine produces it after suppression
(``flaxprec.suppress``), with a fix that removes the unused code or the whole comment. Only this tool's
codes are judged: a blanket directive or another tool's code is left alone (``noqa-blanket-unused = true``
reports unused blanket directives too); an FLX code that is no rule is always unused.
"""

from __future__ import annotations

from flaxprec.rules.base import Rule

RULE = Rule(
    code="FLX901",
    name="unused-noqa",
    summary="Unused `noqa` directive",
    check=None,
    # Opt-in, like ruff's RUF100: projects that also run flake8/ruff keep their blanket directives.
    default_on=False,
)
