"""``json-lines``: the ``json`` format's objects, one compact object per line (streams and ``jq -c``)."""

from __future__ import annotations

import json

from flaxprec.report._context import RenderContext
from flaxprec.report.json_format import diagnostic_object


def render(ctx: RenderContext) -> str:
    return "".join(
        json.dumps(diagnostic_object(ctx, d), ensure_ascii=False, separators=(",", ":")) + "\n"
        for d in ctx.diagnostics
    )
