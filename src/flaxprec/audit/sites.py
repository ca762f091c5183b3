"""Construction sites: the source line that built each linen Module object.

Linen modules are dataclasses whose generated ``__init__`` ends in ``Module.__post_init__``, so wrapping
that one method sees every construction: in a factory, in ``setup`` and inside compact ``__call__`` alike.
The site is the first frame, walking outwards, that is not the object's own ``__init__``/``__post_init__``
(frames whose ``self`` is the new object, which covers user overrides too) and not the standard library.
Two cases need more than the stack:

- a module built *inside* flax or jax code (the ``DenseGeneral`` layers of ``MultiHeadDotProductAttention``)
  gets its parent's site, and is marked internal: the user wrote the parent, not the child;
- flax clones modules (``apply`` clones the root, adopted submodules are cloned into their parent), and a
  clone inherits the site of the module it was cloned from, so the line stays the one the user wrote.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import sysconfig
from collections.abc import Iterator
from types import FrameType
from typing import Any

from flaxprec.audit.records import Site

_AUDIT_DIR = os.path.dirname(os.path.abspath(__file__))


def _package_dir(name: str) -> str | None:
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(file)) + os.sep if file else None


class SiteRecorder:
    """Maps module objects (by identity, holding a reference so ids stay unique) to their sites."""

    def __init__(self) -> None:
        self._sites: dict[int, tuple[Any, Site | None, bool]] = {}
        self._library: tuple[str, ...] = ()
        stdlib = sysconfig.get_paths().get("stdlib")
        self._stdlib = os.path.abspath(stdlib) + os.sep if stdlib else None

    def site_of(self, module: Any) -> tuple[Site | None, bool]:
        """``(site, internal)``; ``(None, False)`` for a module built before the hooks were installed."""
        entry = self._sites.get(id(module))
        return (entry[1], entry[2]) if entry is not None else (None, False)

    def _skipped(self, filename: str) -> bool:
        if filename.startswith(_AUDIT_DIR + os.sep):
            return True
        in_site_packages = "site-packages" in filename or "dist-packages" in filename
        return bool(self._stdlib and filename.startswith(self._stdlib) and not in_site_packages)

    def _record(self, module: Any, frame: FrameType | None) -> None:
        internal = False
        site = None
        while frame is not None:
            filename = os.path.abspath(frame.f_code.co_filename)
            if frame.f_locals.get("self") is module or self._skipped(filename):
                frame = frame.f_back
                continue
            if filename.startswith(self._library):
                if not internal:
                    internal = True
                    parent_site, _ = self.site_of(getattr(module, "parent", None))
                    if parent_site is not None:
                        site = parent_site
                        break
                frame = frame.f_back
                continue
            site = Site(filename, frame.f_lineno)
            break
        self._sites[id(module)] = (module, site, internal)

    def _inherit(self, original: Any, clone: Any) -> None:
        # Always overwrite: the stack seen by the clone's __post_init__ is flax's, not the user's.
        _, site, internal = self._sites.get(id(original), (None, None, False))
        self._sites[id(clone)] = (clone, site, internal)

    @contextlib.contextmanager
    def installed(self) -> Iterator[SiteRecorder]:
        """Wrap ``Module.__post_init__`` and ``Module.clone`` for the duration of the audit."""
        import flax.linen as nn

        self._library = tuple(d for d in map(_package_dir, ("flax", "jax", "jaxlib")) if d)
        orig_post_init = nn.Module.__dict__["__post_init__"]
        orig_clone = nn.Module.__dict__["clone"]
        recorder = self

        @functools.wraps(orig_post_init)
        def __post_init__(module: Any) -> None:
            orig_post_init(module)
            # Flax calls __post_init__ a second time when setup() attaches a child; keep the first site.
            if id(module) not in recorder._sites:
                recorder._record(module, sys._getframe(1))

        @functools.wraps(orig_clone)
        def clone(module: Any, *args: Any, **kwargs: Any) -> Any:
            new = orig_clone(module, *args, **kwargs)
            recorder._inherit(module, new)
            return new

        nn.Module.__post_init__ = __post_init__
        nn.Module.clone = clone
        try:
            yield self
        finally:
            nn.Module.__post_init__ = orig_post_init
            nn.Module.clone = orig_clone
