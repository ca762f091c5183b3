"""The one error type the command turns into exit status 2 with a plain message."""

from __future__ import annotations


class AuditError(Exception):
    """The target cannot be imported, called or traced; ``str()`` is the message shown to the user.

    The exception that caused it is chained (``raise ... from exc``) so ``--verbose`` can show it.
    """
