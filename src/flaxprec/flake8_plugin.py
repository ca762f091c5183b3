"""flake8 plugin: flaxprec's findings as flake8 violations (``FLX`` codes; lint only, no fixes).

Registered under the ``flake8.extension`` entry point group with the code prefix ``FLX``, so flake8's own
``--select`` / ``--extend-select`` / ``--ignore`` / ``per-file-ignores`` decide what is shown. flaxprec's
default rule set runs (opt-in rules such as FLX901 do not: flake8 judges its own ``noqa`` comments), and
``[tool.flaxprec]`` is not read: flake8's configuration is the one that applies under flake8.

flake8 hands each file over alone, so project Modules defined in *other* files are unknown here (FLX001
on your own Module classes across files needs ``flaxprec check``, which indexes the whole tree). flaxprec's
``# noqa`` placement rules still apply, so a directive that ``flaxprec check --add-noqa`` wrote on the
closing bracket of a multi-line call is honoured under flake8 too.

Like ``flaxprec check``, this never imports jax or flax: it reads the source.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flaxprec import __version__

if TYPE_CHECKING:
    from flaxprec.diagnostics import Diagnostic
    from flaxprec.engine import Checker

__all__ = ["Plugin"]


@functools.cache
def _checker() -> Checker:
    """One checker per process: loading the layer catalogue once, not once per file."""
    from flaxprec.engine import Checker

    return Checker()


class Plugin:
    """A flake8 "tree" plugin: flake8 requires the ``tree`` parameter; ``lines`` is the text we analyse."""

    name = "flaxprec"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: Sequence[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type[Plugin]]]:
        """``(row, col_offset, "FLXnnn message", type)``; flake8 shows ``col_offset + 1``."""
        last_row = max(len(self.lines), 1)
        for diagnostic in self._diagnostics():
            row = min(max(diagnostic.location.row, 1), last_row)
            # flaxprec's columns are 1-based characters; flake8 wants 0-based offsets.
            col = max(diagnostic.location.column - 1, 0)
            yield row, col, f"{diagnostic.code} {diagnostic.message}", type(self)

    def _diagnostics(self) -> list[Diagnostic]:
        from flaxprec.engine import Unit
        from flaxprec.imports import module_name_for
        from flaxprec.project import ProjectIndex, summarize

        checker = _checker()
        path = Path(self.filename)
        unit = Unit(self.filename, "".join(self.lines), module_name_for(path), path.name == "__init__.py")
        if isinstance(self.tree, ast.Module):
            # flake8 already parsed the file: its tree serves for the project index (one parse saved).
            index = ProjectIndex(checker.catalogue)
            unit.summary = summarize(self.tree, unit.module_name, unit.is_package)
            index.add(unit.summary)
        else:
            index = checker.index_units([unit])  # a syntax error ends up as FLX900 here
        return checker.diagnose(unit, index)[1]
