"""What the report needs to know about a rule, independent of how the rule registry stores it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleInfo:
    """One rule's metadata: the registry builds these, the report formats read them.

    ``summary`` is one sentence (SARIF's short description, the statistics table); ``fixable`` whether the
    rule can offer a fix at all; ``default_on`` whether it runs without being selected; ``doc_url`` where
    its documentation lives (the JSON ``url`` and SARIF ``helpUri``).
    """

    code: str
    name: str
    summary: str
    fixable: bool
    default_on: bool
    doc_url: str
