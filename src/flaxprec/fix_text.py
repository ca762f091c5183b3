"""Fixes as text edits, computed where the tree and its positions are already at hand.

A report that shows a fix (``full``, ``json``, ``sarif``, ``--show-fixes``) needs it as text. Rewriting the
whole file per finding costs a transform and a re-parse each; a fix that only changes call arguments is
instead the rewritten call spliced over the call's span, computed right after the rules ran, and a node
replacement is its new expression over the node's span. Fixes that add an import (or write a multi-line
expression) keep ``text=None`` and are rendered by applying them to the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from flaxprec.diagnostics import CallEdit, CallOp, Diagnostic, Location, ReplaceNode, ReplaceText, TextEdit

if TYPE_CHECKING:
    import libcst as cst
    from libcst.metadata import CodeRange

    from flaxprec.positions import NodePositions


def attach_text_edits(
    module: cst.Module,
    text: str,
    positions: NodePositions,
    diagnostics: Iterable[Diagnostic],
    row: Callable[[int], int],
) -> None:
    """Set ``fix.text`` on every finding whose fix is call-argument edits only (``row`` maps slice rows).

    A fix whose text, applied alone, does not parse is dropped here (:mod:`flaxprec.fix_guard`): asked
    once per fix, before any report shows it or the cache keeps it.

    ``text`` is what ``module`` was parsed from: reading its lines costs nothing, printing the module would.
    """
    import libcst as cst

    from flaxprec.call_rewrite import RewriteError, rewrite_call
    from flaxprec.fix_guard import ParseCheck
    from flaxprec.suppress import split_lines

    lines = split_lines(text)
    parses = ParseCheck(text, lines)
    for diagnostic in diagnostics:
        fix = diagnostic.fix
        if fix is None or fix.imports or fix.text is not None:
            continue
        calls: dict[int, tuple[cst.Call, list[CallOp], tuple[str, ...]]] = {}
        comments: list[TextEdit] = []  # rows of the file
        local: list[TextEdit] = []  # rows of ``text``
        for edit in fix.edits:
            if isinstance(edit, CallEdit) and edit.call in positions:
                call, ops, signature = calls.setdefault(id(edit.call), (edit.call, [], edit.signature))
                ops.extend(edit.ops)
                if len(edit.signature) > len(signature):
                    calls[id(edit.call)] = (call, ops, edit.signature)
            elif isinstance(edit, ReplaceText):
                comments.append(edit.as_text())
            elif isinstance(edit, ReplaceNode) and edit.node in positions:
                replaced = _replaced_text(edit, diagnostic.statement_node or module)
                if replaced is None or not _placed(module, lines, edit.node, positions[edit.node]):
                    break
                local.append(_local_edit(positions[edit.node], replaced))  # the node's parentheses stay
            else:
                break
        else:
            try:
                for call, ops, signature in calls.values():
                    new = rewrite_call(call, ops, signature).with_changes(lpar=(), rpar=())
                    span = positions[call]  # excludes the call's own parentheses, as ``new`` now does
                    if not _placed(module, lines, call, span):
                        raise _NoContext
                    content = _in_context(module, lines, call, span, module.code_for_node(new))
                    local.append(_local_edit(span, content))
            except (RewriteError, _NoContext):
                continue
            statement = diagnostic.statement_node
            rows = None
            if isinstance(statement, (cst.BaseStatement, cst.BaseSmallStatement)) and statement in positions:
                rows = (positions[statement].start.line, positions[statement].end.line)
            if not parses(local, rows):
                diagnostic.fix = None  # never advertised, never cached, never applied
                continue
            replacements = comments + [
                TextEdit(
                    Location(row(e.location.row), e.location.column),
                    Location(row(e.end_location.row), e.end_location.column),
                    e.content,
                )
                for e in local
            ]
            diagnostic.fix = dataclasses.replace(
                fix, text=tuple(sorted(replacements, key=lambda e: e.location))
            )


def _placed(module: cst.Module, lines: list[str], node: cst.CSTNode, span: CodeRange) -> bool:
    """Does the text at ``span`` begin and end as ``node`` is printed (without its parentheses)?

    Where libcst does not give a file back exactly (a form feed in an indentation), its columns count the
    text it prints, not the file's: an edit at them would land elsewhere. No text edit is given then.
    """
    if getattr(node, "lpar", None):
        node = node.with_changes(lpar=(), rpar=())  # type: ignore[attr-defined]
    printed = module.code_for_node(node).splitlines() or [""]
    if not 1 <= span.start.line <= span.end.line <= len(lines):
        return False
    first = lines[span.start.line - 1].rstrip("\r\n")
    if span.start.line == span.end.line:
        return len(printed) == 1 and first[span.start.column : span.end.column] == printed[0]
    last = lines[span.end.line - 1].rstrip("\r\n")
    return (
        len(printed) > 1
        and first[span.start.column :] == printed[0]
        and last[: span.end.column].endswith(printed[-1])
    )


def _local_edit(span: CodeRange, content: str) -> TextEdit:
    """``content`` over ``span`` (rows of the parsed text, 1-based columns)."""
    start, end = span.start, span.end
    return TextEdit(Location(start.line, start.column + 1), Location(end.line, end.column + 1), content)


def _replaced_text(edit: ReplaceNode, root: cst.CSTNode) -> str | None:
    """What a :class:`ReplaceNode` writes between the node's parentheses, as ``apply_edits`` would; None
    when that cannot be told here (a multi-line value, a node not found under ``root``)."""
    import libcst as cst

    from flaxprec.apply_edits import RewriteError, in_loose_slot, replacement

    if "\n" in edit.value or "\r" in edit.value:
        return None
    parent = _parent(root, edit.node)
    if parent is None:
        return None
    try:
        new = replacement(edit.node, edit.value, in_loose_slot(parent, edit.node))
    except RewriteError:
        return None
    # The node's own parentheses are outside its span: print the replacement without them.
    if edit.node.lpar:
        new = new.with_changes(lpar=new.lpar[len(edit.node.lpar) :], rpar=new.rpar[: -len(edit.node.rpar)])
    return cst.Module([]).code_for_node(new)


def _parent(root: cst.CSTNode, target: cst.CSTNode) -> cst.CSTNode | None:
    """The node under ``root`` (``root`` included) that holds ``target`` as a direct child."""
    stack = [root]
    while stack:
        node = stack.pop()
        children = node.children
        if any(child is target for child in children):
            return node
        stack.extend(children)
    return None


class _NoContext(Exception):
    """The block indentation around a multi-line call could not be worked out: no text edit then."""


def _in_context(module: cst.Module, lines: list[str], call: cst.Call, span: CodeRange, code: str) -> str:
    """``code`` with the enclosing block's indentation on its continuation lines, as the file has it.

    ``code_for_node`` prints a call as if at column 0 of an unindented block; the original call's own
    text beside its printed form tells which prefix the file adds to each continuation line.
    """
    if "\n" not in code and "\r" not in code:
        return code
    printed = module.code_for_node(call.with_changes(lpar=(), rpar=())).splitlines()
    original = lines[span.start.line - 1 : span.end.line]
    if len(printed) < 2 or len(original) != len(printed):
        raise _NoContext
    second, printed_second = original[1].rstrip("\r\n"), printed[1]
    if not second.endswith(printed_second):
        raise _NoContext
    prefix = second[: len(second) - len(printed_second)]
    first, *rest = code.splitlines(keepends=True)
    return first + "".join(prefix + line if line.strip() else line for line in rest)


def apply_text(source: str, edits: Sequence[TextEdit]) -> str:
    """``source`` with non-overlapping ``edits`` applied (rows and columns 1-based, characters)."""
    from flaxprec.suppress import split_lines

    starts = [0]
    for line in split_lines(source):
        starts.append(starts[-1] + len(line))

    def offset(location: Location) -> int:
        return starts[location.row - 1] + location.column - 1

    for edit in sorted(edits, key=lambda e: e.location, reverse=True):
        source = source[: offset(edit.location)] + edit.content + source[offset(edit.end_location) :]
    return source
