"""``--statistics``: how many findings per rule, most frequent first (instead of the findings)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from flaxprec.report._context import FIX_COMMAND, RenderContext


@dataclass(frozen=True)
class Statistic:
    code: str
    name: str
    count: int
    fixable: bool


def statistics(ctx: RenderContext) -> list[Statistic]:
    """Counts per code, by count (descending) then code; ``fixable`` when any of them can be fixed."""
    counts: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for d in ctx.diagnostics:
        entry = counts.setdefault(d.code, [0, 0])
        entry[0] += 1
        entry[1] += ctx.fix_applies(d)
        rule = ctx.rule(d.code)
        names.setdefault(d.code, rule.name if rule is not None else d.name)
    stats = [Statistic(code, names[code], total, fixable > 0) for code, (total, fixable) in counts.items()]
    return sorted(stats, key=lambda s: (-s.count, s.code))


def render_text(ctx: RenderContext) -> str:
    stats = statistics(ctx)
    if not stats:
        return ""
    count_width = max(len(str(s.count)) for s in stats)
    code_width = max(len(s.code) for s in stats)
    any_fixable = any(s.fixable for s in stats)
    lines = []
    for s in stats:
        marker = ("[*] " if s.fixable else "[ ] ") if any_fixable else ""
        count = ctx.style(f"{s.count:>{count_width}}", bold=True)
        code = ctx.style(f"{s.code:<{code_width}}", fg="red", bold=True)
        lines.append(f"{count}\t{code}\t{marker}{s.name}")
    if any_fixable:
        lines.append(f"[*] fixable with `{FIX_COMMAND}`")
    return "\n".join(lines) + "\n"


def render_json(ctx: RenderContext, *, lines: bool = False) -> str:
    objects = [dataclasses.asdict(s) for s in statistics(ctx)]
    if lines:
        return "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objects)
    return json.dumps(objects, indent=2) + "\n"
