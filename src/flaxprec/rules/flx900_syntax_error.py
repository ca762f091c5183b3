"""FLX900 syntax-error: a file that cannot be read or parsed.

It is reported with the parser's location and skipped; the run goes on with the other files. The engine
produces it (no file model exists to run a rule on).
"""

from __future__ import annotations

from flaxprec.rules.base import Rule

RULE = Rule(
    code="FLX900",
    name="syntax-error",
    summary="File cannot be read or parsed",
    check=None,
    fixable=False,
)
