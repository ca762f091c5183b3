"""FLX902 analysis-error: a file the tool failed to analyse (an error of flaxprec, not of the code).

Deeply nested code that CPython compiles is analysed on a large stack (:mod:`flaxprec.deep`); a file that
still fails there (out of memory, or no room for that stack) is reported with this code and skipped, and
the run goes on. ``check`` then exits 2, as ruff does on its internal errors, even with ``--exit-zero``.
"""

from __future__ import annotations

from flaxprec.rules.base import Rule

RULE = Rule(
    code="FLX902",
    name="analysis-error",
    summary="File could not be analysed (an error of the tool)",
    check=None,
    fixable=False,
)
