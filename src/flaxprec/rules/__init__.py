"""The rule registry: every module in this package that defines ``RULE`` is a rule.

Discovery walks the package, so adding a rule is adding a file (no hand-kept list to forget).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from flaxprec.rules.base import Rule, RuleContext

__all__ = ["Rule", "RuleContext", "all_rules", "rule_by_code"]


@functools.cache
def all_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("flx"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            rules.append(module.RULE)
    return tuple(sorted(rules, key=lambda rule: rule.code))


def rule_by_code(code: str) -> Rule | None:
    return next((rule for rule in all_rules() if rule.code == code), None)
