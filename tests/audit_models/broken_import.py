"""A target whose import fails."""

import flaxprec_no_such_module  # noqa: F401
