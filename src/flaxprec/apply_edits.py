"""Apply every edit of one file in a single pass, then add the imports the new code needs.

Edits name their target by node identity (the nodes of the module the analysis saw), so two rules that
touch the same call are merged into one rewrite instead of racing on text offsets. The result is parsed
again before it is returned: the fixer never gets code that does not parse.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import libcst as cst

from flaxprec.call_rewrite import RewriteError, parse_value, rewrite_call_unchecked, value_positions
from flaxprec.deep import retry_when_deep
from flaxprec.diagnostics import CallEdit, CallOp, Edit, ImportNeed, ReplaceNode
from flaxprec.dtypes import dotted

__all__ = ["RewriteError", "apply_edits"]


def apply_edits(module: cst.Module, edits: Sequence[Edit], imports: Sequence[ImportNeed] = ()) -> cst.Module:
    """Return ``module`` with ``edits`` applied and ``imports`` added, re-parsed from its new code.

    Raises :class:`RewriteError` when an edit targets a node that is not in ``module``, when two edits
    conflict (different values for one argument, an edit inside a node another edit replaces, an import
    alias already bound to another module), when the result does not parse, or when the module is too
    deeply nested to rewrite even on a large stack (libcst's transformer recurses; see flaxprec.deep).
    """
    try:
        return _apply_edits(module, edits, imports)
    except (RecursionError, MemoryError) as error:
        reason = "out of memory" if isinstance(error, MemoryError) else "too deeply nested"
        raise RewriteError(f"cannot rewrite this file: {reason}") from None


@retry_when_deep
def _apply_edits(module: cst.Module, edits: Sequence[Edit], imports: Sequence[ImportNeed]) -> cst.Module:
    calls: dict[int, tuple[list[CallOp], tuple[str, ...]]] = {}
    replacements: dict[int, str] = {}
    for edit in edits:
        if isinstance(edit, CallEdit):
            ops, signature = calls.get(id(edit.call), ([], ()))
            ops.extend(op for op in edit.ops if op not in ops)
            calls[id(edit.call)] = (ops, _merge_signatures(signature, edit.signature))
        elif isinstance(edit, ReplaceNode):
            if replacements.get(id(edit.node), edit.value) != edit.value:
                raise RewriteError("two edits replace the same node with different values")
            replacements[id(edit.node)] = edit.value
        else:
            raise RewriteError(f"unknown edit {edit!r}")
    if calls.keys() & replacements.keys():
        raise RewriteError("a call is both replaced and edited")

    new = module
    if calls or replacements:
        transformer = _EditTransformer(calls, replacements)
        new = module.visit(transformer)
        if transformer.applied != calls.keys() | replacements.keys():
            raise RewriteError("an edit targets a node that is not part of this module")
    if imports:
        new = _add_imports(new, imports)
    if new is module:
        return module
    try:
        return cst.parse_module(new.code)
    except cst.ParserSyntaxError as exc:
        raise RewriteError(f"the fixed code does not parse: {exc.message}") from exc


def _merge_signatures(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """Two edits of one call may know its signature to different lengths, never differently."""
    short, long = sorted((tuple(a), tuple(b)), key=len)
    if long[: len(short)] != short:
        raise RewriteError(f"conflicting signatures for one call: {a} and {b}")
    return long


# --- the edit pass ---------------------------------------------------------------------------------------

# Atoms bind tighter than any operator, so they can replace any expression without parentheses.
_ATOMS = (
    cst.Name,
    cst.Attribute,
    cst.Call,
    cst.Subscript,
    cst.Integer,
    cst.Float,
    cst.Imaginary,
    cst.SimpleString,
    cst.ConcatenatedString,
    cst.FormattedString,
    cst.Ellipsis,
    cst.List,
    cst.Dict,
    cst.Set,
    cst.ListComp,
    cst.DictComp,
    cst.SetComp,
    cst.GeneratorExp,
)


# Parents whose ``value`` slot takes any expression without parentheses (``*x`` and ``**x`` are not among
# them: their value binds tighter).
_LOOSE_PARENTS = (
    cst.Assign,
    cst.AnnAssign,
    cst.AugAssign,
    cst.Return,
    cst.Expr,
    cst.Element,
    cst.DictElement,
    cst.Index,
)


class _EditTransformer(cst.CSTTransformer):
    """One traversal that rewrites edited calls and replaces nodes, innermost first.

    It keeps the chain of open nodes so that an edit can mark its ancestors as holding a nested edit;
    replacing such an ancestor wholesale would silently drop that edit, so it is refused instead.
    """

    def __init__(self, calls: dict[int, tuple[list[CallOp], tuple[str, ...]]], replacements: dict[int, str]):
        super().__init__()
        self._calls = calls
        self._replacements = replacements
        self._open: list[int] = []
        self._holds_edit: set[int] = set()
        # Expressions whose slot does not bind tighter than any expression (argument values, right-hand
        # sides, elements): a replacement there needs no parentheses.
        self._loose_slots: set[int] = set()
        self.applied: set[int] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        self._open.append(id(node))
        value = getattr(node, "value", None)
        if self._replacements and isinstance(value, cst.CSTNode) and in_loose_slot(node, value):
            self._loose_slots.add(id(value))
        return True

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:
        self._open.pop()
        key = id(original_node)
        if key in self._replacements:
            if key in self._holds_edit:
                raise RewriteError("an edit lies inside a node that another edit replaces")
            updated_node = self._replace(original_node, self._replacements[key])
            self._mark_applied(key)
        elif key in self._calls:
            if not isinstance(original_node, cst.Call) or not isinstance(updated_node, cst.Call):
                raise RewriteError(f"a call edit targets a {type(original_node).__name__}")
            ops, signature = self._calls[key]
            for pos in value_positions(original_node, ops, signature):
                if id(original_node.args[pos].value) in self._holds_edit:
                    raise RewriteError("an edit lies inside an argument that another edit replaces")
            # apply_edits re-parses the whole result, which also checks each call.
            updated_node = rewrite_call_unchecked(updated_node, ops, signature)
            self._mark_applied(key)
        return updated_node

    def _mark_applied(self, key: int) -> None:
        self.applied.add(key)
        self._holds_edit.add(key)
        self._holds_edit.update(self._open)

    def _replace(self, original: cst.CSTNode, value: str) -> cst.BaseExpression:
        return replacement(original, value, id(original) in self._loose_slots)


def replacement(original: cst.CSTNode, value: str, loose: bool) -> cst.BaseExpression:
    """The expression that replaces ``original`` (a :class:`ReplaceNode` edit), parenthesised as needed.

    ``loose``: ``original`` sits in a slot that binds no tighter than any expression (an argument, a
    right-hand side, an element), where ``b + c`` needs no parentheses.
    """
    if not isinstance(original, cst.BaseExpression):
        raise RewriteError(f"cannot replace a {type(original).__name__} by an expression")
    new = parse_value(value)
    if original.lpar:
        # The original's own parentheses stay, and they protect the new expression.
        return new.with_changes(lpar=[*original.lpar, *new.lpar], rpar=[*new.rpar, *original.rpar])
    if not new.lpar and not isinstance(new, _ATOMS) and not loose:
        # ``a * x`` with x -> ``b + c`` must become ``a * (b + c)``.
        return new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return new


def in_loose_slot(parent: cst.CSTNode, node: cst.CSTNode) -> bool:
    """Is ``node``, a child of ``parent``, in a slot where any expression goes without parentheses?"""
    loose = (isinstance(parent, cst.Arg) and not parent.star) or isinstance(parent, _LOOSE_PARENTS)
    return loose and getattr(parent, "value", None) is node


# --- imports ---------------------------------------------------------------------------------------------


def _add_imports(module: cst.Module, imports: Sequence[ImportNeed]) -> cst.Module:
    """Add ``import module as alias`` lines that are missing, after the module's leading imports.

    Written by hand rather than with libcst's AddImportsVisitor: that one costs ~0.4 s of import, does
    not see that ``from jax import numpy as jnp`` already binds ``jnp``, and puts the import right
    under a docstring without a blank line.
    """
    bound = _top_level_bindings(module)
    missing: list[ImportNeed] = []
    for need in imports:
        current = bound.get(need.alias)
        if current == need.module or need in missing:
            continue
        if current is not None:
            raise RewriteError(f"{need.alias!r} is already bound to {current!r}, not {need.module!r}")
        missing.append(need)
    if not missing:
        return module

    body = list(module.body)
    start = 1 if body and _is_docstring(body[0]) else 0
    end = start
    while end < len(body) and _is_import_line(body[end]):
        end += 1
    # Lines end like the line above them (the module's default newline when there is none).
    above = body[end - 1] if end else None
    newline = (
        cst.Newline(above.trailing_whitespace.newline.value)
        if isinstance(above, cst.SimpleStatementLine)
        else cst.Newline()
    )
    new_lines = [_import_line(need, newline) for need in missing]
    at = _sorted_position(body, start, end, (missing[0].module.lower(), missing[0].alias.lower()))
    if at < end:
        # Before an existing import: the new line takes over the blank lines and comments above it.
        new_lines[0] = new_lines[0].with_changes(leading_lines=body[at].leading_lines)
        body[at] = body[at].with_changes(leading_lines=())
    elif end == start == 1:
        # Only a docstring above: keep a blank line between it and the new import.
        new_lines[0] = new_lines[0].with_changes(leading_lines=[cst.EmptyLine(newline=newline)])
    body[at:at] = new_lines
    # An empty file gets a complete line; otherwise a missing final newline stays missing.
    return module.with_changes(body=body, has_trailing_newline=module.has_trailing_newline or not module.body)


def _import_line(need: ImportNeed, newline: cst.Newline) -> cst.SimpleStatementLine:
    names = need.module.split(".")
    dotted: cst.Name | cst.Attribute = cst.Name(names[0])
    for name in names[1:]:
        dotted = cst.Attribute(value=dotted, attr=cst.Name(name))
    asname = None if need.alias == need.module else cst.AsName(name=cst.Name(need.alias))
    return cst.SimpleStatementLine(
        body=[cst.Import(names=[cst.ImportAlias(name=dotted, asname=asname)])],
        trailing_whitespace=cst.TrailingWhitespace(newline=newline),
    )


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _sorted_position(body: list[cst.BaseStatement], start: int, end: int, key: tuple[str, str]) -> int:
    """Where isort's default order puts ``import module as alias`` (``key``) among ``body[start:end]``.

    Within the third-party section plain imports come first, sorted, then ``from`` imports. A block with
    no third-party import gets the new line at its end.
    """
    plain: list[tuple[int, tuple[str, str]]] = []
    froms: list[int] = []
    for i in range(start, end):
        for stmt in body[i].body:  # type: ignore[attr-defined]
            if isinstance(stmt, cst.Import):
                first = stmt.names[0]
                name = _dotted(first.name)
                alias = (
                    first.asname.name.value
                    if first.asname and isinstance(first.asname.name, cst.Name)
                    else ""
                )
                if _third_party(name):
                    plain.append((i, (name.lower(), alias.lower())))
            elif isinstance(stmt, cst.ImportFrom) and not stmt.relative and stmt.module is not None:
                froms.extend([i] if _third_party(_dotted(stmt.module)) else [])
    if plain:
        before = [i for i, existing in plain if existing < key]
        return before[-1] + 1 if before else plain[0][0]
    return froms[0] if froms else end


def _third_party(name: str) -> bool:
    root = name.split(".")[0]
    return root != "__future__" and root not in sys.stdlib_module_names


def _is_import_line(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _dotted(node: cst.BaseExpression) -> str:
    return dotted(node) or ""


def _top_level_bindings(module: cst.Module) -> dict[str, str]:
    """Names bound by module-level imports (also inside top-level ``if``/``try``) -> the module bound."""
    bound: dict[str, str] = {}

    def scan(statements: Sequence[cst.BaseStatement]) -> None:
        for stmt in statements:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Import):
                        for alias in small.names:
                            full = _dotted(alias.name)
                            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                                bound[alias.asname.name.value] = full
                            else:
                                head = full.split(".")[0]
                                bound[head] = head
                    elif (
                        isinstance(small, cst.ImportFrom)
                        and not small.relative
                        and small.module is not None
                        and not isinstance(small.names, cst.ImportStar)
                    ):
                        base = _dotted(small.module)
                        for alias in small.names:
                            name = _dotted(alias.name)
                            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                                bound[alias.asname.name.value] = f"{base}.{name}"
                            else:
                                bound[name] = f"{base}.{name}"
            elif isinstance(stmt, (cst.If, cst.Try, cst.With)):
                for suite in _suites(stmt):
                    scan(_statements(suite))

    scan(module.body)
    return bound


def _suites(stmt: cst.If | cst.Try | cst.With) -> Iterator[cst.BaseSuite]:
    """The blocks of a top-level compound statement whose imports bind module-level names."""
    yield stmt.body
    if isinstance(stmt, cst.If):
        if isinstance(stmt.orelse, cst.If):
            yield from _suites(stmt.orelse)
        elif isinstance(stmt.orelse, cst.Else):
            yield stmt.orelse.body
    elif isinstance(stmt, cst.Try):
        yield from (handler.body for handler in stmt.handlers)
        yield from (part.body for part in (stmt.orelse, stmt.finalbody) if part is not None)


def _statements(suite: cst.BaseSuite) -> Sequence[cst.BaseStatement]:
    if isinstance(suite, cst.IndentedBlock):
        return suite.body
    # ``if x: import y`` keeps its small statements in the suite itself.
    return [cst.SimpleStatementLine(body=cst.ensure_type(suite, cst.SimpleStatementSuite).body)]
