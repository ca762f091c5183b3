"""Shared test helpers: the fixture tree and the on-purpose regeneration switch."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
# FLAXPREC_UPDATE_FIXTURES=1 rewrites expectation snapshots instead of comparing (review the diff!).
UPDATE = os.environ.get("FLAXPREC_UPDATE_FIXTURES") == "1"
