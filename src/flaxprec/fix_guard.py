"""Two guards every fix passes before a report, the cache or the fixer sees it (issue 20 item 5).

1. A fix never rewrites what a statement binds: an edit of a node that is (in) the target of an assignment,
   an annotated or augmented assignment, ``del``, ``for`` (statement or comprehension), ``with ... as`` /
   ``except ... as`` / ``import ... as``, a walrus, a parameter's name or a ``case`` pattern. Replacing
   ``kernel`` in ``kernel *= mask`` by ``jnp.asarray(kernel, dtype)`` gives code that does not parse; in
   ``x[i] = v`` it would store elsewhere. :func:`drop_target_fixes` runs on every file's findings right
   after the rules (``Checker.run_rules``): such a finding is kept, without its fix.
2. An advertised fix, applied alone, parses. :func:`fix_parses` is asked once per fix, where its text
   edits are computed (:func:`flaxprec.fix_text.attach_text_edits`); a fix that fails is dropped there, so
   no report shows it and the cache never keeps it. Fixes without text edits (an added import) are only
   ever applied by :func:`flaxprec.apply_edits.apply_edits`, which parses its result and refuses otherwise.

Both cost nothing on findings without a fix. The parse check reads the edited statement on its own (a few
lines, Python's own parser) and the whole file only when the statement cannot be read alone.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from flaxprec.diagnostics import CallEdit, Diagnostic, Fix, Location, ReplaceNode, TextEdit

if TYPE_CHECKING:
    import libcst as cst


def edit_nodes(fix: Fix) -> Iterator[cst.CSTNode]:
    """The syntax-tree nodes ``fix`` rewrites (comment edits name none)."""
    for edit in fix.edits:
        if isinstance(edit, CallEdit):
            yield edit.call
        elif isinstance(edit, ReplaceNode):
            yield edit.node


def _target_children(node: cst.CSTNode) -> tuple[cst.CSTNode, ...]:
    """The children of ``node`` that a statement binds (stores, deletes, names)."""
    import libcst as cst

    if isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.Del, cst.For, cst.CompFor)):
        return (node.target,)
    if isinstance(node, cst.NamedExpr):
        return (node.target,)
    if isinstance(node, cst.AsName):
        return (node.name,)
    if isinstance(node, cst.Param):
        return (node.name,)
    if isinstance(node, cst.MatchCase):
        return (node.pattern,)
    return ()


def _in_targets(root: cst.CSTNode, wanted: set[int]) -> dict[int, bool]:
    """For each node of ``wanted`` (ids) found under ``root``: whether it is (in) a binding target."""
    found: dict[int, bool] = {}
    stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
    while stack and len(found) < len(wanted):
        node, in_target = stack.pop()
        if id(node) in wanted:
            found[id(node)] = in_target
            if in_target:
                continue  # anything below is in a target as well; nothing more to learn here
        targets = _target_children(node)
        for child in node.children:
            stack.append((child, in_target or any(child is target for target in targets)))
    return found


def drop_target_fixes(module: cst.Module, diagnostics: Iterable[Diagnostic]) -> None:
    """Remove the fix of every finding that edits a binding target (the finding stays).

    Each fix is looked for under its finding's statement first (a few nodes); edits found nowhere there
    (a fix editing another statement) are looked for in one walk of the module, only then.
    """
    pending: list[tuple[Diagnostic, set[int], dict[int, bool]]] = []
    for diagnostic in diagnostics:
        if diagnostic.fix is None:
            continue
        wanted = {id(node) for node in edit_nodes(diagnostic.fix)}
        if not wanted:
            continue
        root = diagnostic.statement_node
        found = _in_targets(root, wanted) if root is not None else {}
        if any(found.values()):
            diagnostic.fix = None
        elif len(found) < len(wanted):
            pending.append((diagnostic, wanted - found.keys(), found))
    if not pending:
        return
    everywhere = _in_targets(module, set().union(*(missing for _, missing, _ in pending)))
    for diagnostic, missing, _ in pending:
        if any(everywhere.get(key, False) for key in missing):
            diagnostic.fix = None


# -- the parse check ------------------------------------------------------------------------------------


def _ast_parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like: a warning, not an error
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _libcst_parses(text: str) -> bool:
    import libcst as cst

    try:
        cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return False
    return True


class ParseCheck:
    """Does ``text`` (a file, or the slice of it that was analysed) still parse with one fix applied?

    ``lines``: ``text`` split by :func:`flaxprec.suppress.split_lines`. One instance serves every fix of the
    text; whether the unedited text parses with Python's parser (it may hold syntax newer than the running
    Python, which libcst reads) is found out at most once.
    """

    def __init__(self, text: str, lines: Sequence[str]) -> None:
        self.text = text
        self.lines = lines
        self._original: bool | None = None

    def __call__(self, edits: Sequence[TextEdit], statement: tuple[int, int] | None = None) -> bool:
        """Whether ``text`` with ``edits`` (rows and columns of ``text``) applied parses.

        ``statement``: the first and last row of the complete statement that holds the edits, when known.
        Its lines with the edits applied are parsed alone first (in an ``if`` block when indented): lines
        that start a statement and end one, balanced on their own, can replace the original lines.
        """
        from flaxprec.fix_text import apply_text

        if not edits:
            return True
        if statement is not None:
            first, last = statement
            if all(first <= e.location.row and e.end_location.row <= last for e in edits):
                piece = "".join(self.lines[first - 1 : last])
                shifted = [
                    TextEdit(
                        Location(e.location.row - first + 1, e.location.column),
                        Location(e.end_location.row - first + 1, e.end_location.column),
                        e.content,
                    )
                    for e in edits
                ]
                fixed = apply_text(piece, shifted)
                if fixed[:1] in (" ", "\t", "\f"):
                    fixed = "if 1:\n" + fixed
                if _ast_parses(fixed):
                    return True
        fixed = apply_text(self.text, edits)
        if _ast_parses(fixed):
            return True
        if self._original is None:
            self._original = _ast_parses(self.text)
        # Python's parser reads the unedited file: the fixed one does not parse. Otherwise ask libcst,
        # which read the file (syntax newer than the running Python).
        return False if self._original else _libcst_parses(fixed)
