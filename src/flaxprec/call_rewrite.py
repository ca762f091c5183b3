"""Byte-exact rewriting of one call's arguments.

Rules describe *what* to change as :mod:`flaxprec.diagnostics` call operations; this module decides *how*
the source changes, with one goal: a reviewer reading ``flaxprec fix``'s diff sees only the argument that
was added or changed. Every whitespace node, comment and comma that is not in the way stays the same object.

libcst keeps the text between two arguments in the comma of the first one (``Comma.whitespace_after``), or
in ``Arg.whitespace_after_arg`` for a last argument without a trailing comma. A line break there is a
:class:`libcst.ParenthesizedWhitespace` that also owns the comment ending the line (``first_line``), the
comment lines after it (``empty_lines``) and the indentation of the next line (``indent`` + ``last_line``).
A new argument therefore splits that node in two instead of copying it: a copy would duplicate a comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from flaxprec.diagnostics import CallOp, PositionalToKeyword, ReplaceArgument, SetKeyword

__all__ = ["RewriteError", "parse_value", "rewrite_call", "rewrite_call_unchecked", "value_positions"]

_Whitespace = cst.BaseParenthesizableWhitespace


class RewriteError(Exception):
    """An edit cannot be applied without changing meaning or producing code that does not parse.

    The fixer reports it and leaves the file untouched: a fix that is not applied is better than a
    wrong one.
    """


def parse_value(value: str) -> cst.BaseExpression:
    """Parse an edit's expression source, parenthesised where an argument slot needs it.

    A bare tuple, walrus or yield would change the call's structure (``f(k=a, b)``), so they get
    parentheses; everything else is inserted exactly as written.
    """
    try:
        node = cst.parse_expression(value)
    except cst.ParserSyntaxError as exc:
        raise RewriteError(f"not a Python expression: {value!r}") from exc
    if isinstance(node, (cst.Tuple, cst.NamedExpr, cst.Yield)) and not node.lpar:
        node = node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return node


def rewrite_call(call: cst.Call, ops: Sequence[CallOp], signature: Sequence[str] = ()) -> cst.Call:
    """Apply every operation on one call together and return the new call.

    Conversions of positional arguments to keywords come first; value operations are then resolved by
    keyword name (or positional index) against the original argument list, so that ``dtype`` and
    ``param_dtype`` can be swapped in one rewrite and a converted argument can get a new value.
    Applying the same operations to the result changes nothing (fix twice == fix once).
    """
    new_call = rewrite_call_unchecked(call, ops, signature)
    if new_call is not call:
        _check_parses(new_call)
    return new_call


def rewrite_call_unchecked(call: cst.Call, ops: Sequence[CallOp], signature: Sequence[str] = ()) -> cst.Call:
    """:func:`rewrite_call` without parsing the result: for callers that re-parse the whole file anyway."""
    plan = _plan(call, ops, signature)
    args = list(call.args)
    changed = False
    for pos, name in plan.renames.items():
        args[pos] = args[pos].with_changes(keyword=cst.Name(name), equal=_assign_equal())
        changed = True
    for pos, value in plan.values.items():
        # An argument that already has this exact value keeps its node (and its spelling).
        if _code(args[pos].value) != value:
            args[pos] = args[pos].with_changes(value=parse_value(value))
            changed = True
    if not changed and not plan.appends:
        return call
    new_call = call.with_changes(args=args)
    for name, value in plan.appends:
        new_call = _insert_arg(new_call, _append_position(new_call), _new_keyword_arg(name, value))
    return new_call


def value_positions(call: cst.Call, ops: Sequence[CallOp], signature: Sequence[str] = ()) -> set[int]:
    """The positions in ``call.args`` whose value nodes the operations replace.

    The fixer uses it to refuse an edit that would silently discard another edit nested in that value.
    """
    return set(_plan(call, ops, signature).values)


# --- planning --------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    renames: dict[int, str] = field(default_factory=dict)
    values: dict[int, str] = field(default_factory=dict)
    appends: list[tuple[str, str]] = field(default_factory=list)


def _plan(call: cst.Call, ops: Sequence[CallOp], signature: Sequence[str]) -> _Plan:
    """Resolve operations to argument positions of ``call`` (positions do not move when renaming)."""
    args = call.args
    positional = [i for i, a in enumerate(args) if a.keyword is None and not a.star]
    first_star = next((i for i, a in enumerate(args) if a.star == "*"), None)
    keywords = {a.keyword.value: i for i, a in enumerate(args) if a.keyword is not None}
    plan = _Plan()

    conversions = [op for op in ops if isinstance(op, PositionalToKeyword)]
    pending = [op for op in conversions if not _already_converted(op, positional, keywords)]
    if pending:
        if first_star is not None:
            raise RewriteError("cannot convert positional arguments of a call with *args to keywords")
        wanted: dict[int, str] = {}
        for op in pending:
            if wanted.setdefault(op.index, op.name) != op.name:
                raise RewriteError(
                    f"positional argument {op.index} named both {wanted[op.index]!r} and {op.name!r}"
                )
        for index, name in wanted.items():
            if index < len(signature) and signature[index] != name:
                raise RewriteError(f"argument {index} is {signature[index]!r} in the signature, not {name!r}")
            if index >= len(positional):
                raise RewriteError(f"the call has no positional argument at index {index}")
        for index in range(min(wanted), len(positional)):
            name = wanted.get(index) or (signature[index] if index < len(signature) else None)
            if name is None:
                raise RewriteError(f"no parameter name known for positional argument {index}")
            if name in keywords or name in plan.renames.values():
                raise RewriteError(f"{name!r} would be passed twice")
            plan.renames[positional[index]] = name
    named = {**keywords, **{name: pos for pos, name in plan.renames.items()}}

    def by_name(name: str) -> int | None:
        if name in named:
            return named[name]
        # A parameter passed positionally (known from the signature) is edited in place, never duplicated.
        if name in signature:
            index = list(signature).index(name)
            if index < len(positional) and (first_star is None or first_star > positional[index]):
                return positional[index]
        return None

    def by_index(index: int) -> int:
        if index >= len(positional):
            raise RewriteError(f"the call has no positional argument at index {index}")
        if first_star is not None and first_star < positional[index]:
            raise RewriteError(f"positional argument {index} follows *args: its parameter is unknown")
        return positional[index]

    for op in ops:
        if isinstance(op, PositionalToKeyword):
            continue
        if isinstance(op, SetKeyword):
            pos = by_name(op.name)
            if pos is None:
                if (op.name, op.value) not in plan.appends:
                    if any(name == op.name for name, _ in plan.appends):
                        raise RewriteError(f"conflicting values for {op.name!r}")
                    plan.appends.append((op.name, op.value))
                continue
            _set_value(plan, pos, op.value)
        elif isinstance(op, ReplaceArgument):
            pos = by_name(op.keyword) if op.keyword is not None else None
            if pos is None and op.index is not None:
                pos = by_index(op.index)
            if pos is None:
                raise RewriteError(f"no argument to replace ({op.keyword=}, {op.index=})")
            _set_value(plan, pos, op.value)
        else:
            raise RewriteError(f"unknown call operation {op!r}")
    return plan


def _already_converted(op: PositionalToKeyword, positional: list[int], keywords: dict[str, int]) -> bool:
    """A conversion already applied (the positional is gone, the keyword is there) is a no-op."""
    return op.index >= len(positional) and op.name in keywords


def _set_value(plan: _Plan, pos: int, value: str) -> None:
    if plan.values.get(pos, value) != value:
        raise RewriteError(f"conflicting values for argument {pos}: {plan.values[pos]!r} and {value!r}")
    plan.values[pos] = value


# --- layout ----------------------------------------------------------------------------------------------


def _append_position(call: cst.Call) -> int:
    """New keywords go last, but before a ``**kwargs`` so that the explicit value is easy to see."""
    return next((i for i, a in enumerate(call.args) if a.star == "**"), len(call.args))


def _assign_equal() -> cst.AssignEqual:
    return cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
    )


def _new_keyword_arg(name: str, value: str) -> cst.Arg:
    return cst.Arg(value=parse_value(value), keyword=cst.Name(name), equal=_assign_equal())


def _trailing(arg: cst.Arg) -> _Whitespace:
    """The whitespace between ``arg`` and what follows it (the next argument or the closing bracket)."""
    return arg.comma.whitespace_after if isinstance(arg.comma, cst.Comma) else arg.whitespace_after_arg


def _line_start(call: cst.Call, index: int) -> cst.ParenthesizedWhitespace | None:
    """The line break that starts the line holding argument ``index`` (None: it is on the ``(`` line)."""
    for j in range(index, -1, -1):
        ws = call.whitespace_before_args if j == 0 else _trailing(call.args[j - 1])
        if isinstance(ws, cst.ParenthesizedWhitespace):
            return ws
    return None


def _split(
    ws: cst.ParenthesizedWhitespace, indent_from: cst.ParenthesizedWhitespace
) -> tuple[_Whitespace, _Whitespace]:
    """Split a line break into (break before a new line, break after it).

    The comment ending the current line stays there; comment lines below it stay just above what
    followed them (the next argument or the closing bracket); the new line is indented like
    ``indent_from`` (copied, so tabs stay tabs) and ends with the same newline characters.
    """
    before = cst.ParenthesizedWhitespace(
        first_line=ws.first_line,
        empty_lines=[],
        indent=indent_from.indent,
        last_line=indent_from.last_line,
    )
    after = cst.ParenthesizedWhitespace(
        first_line=cst.TrailingWhitespace(newline=cst.Newline(ws.first_line.newline.value)),
        empty_lines=ws.empty_lines,
        indent=ws.indent,
        last_line=ws.last_line,
    )
    return before, after


def _insert_arg(call: cst.Call, pos: int, new: cst.Arg) -> cst.Call:
    """Insert ``new`` (without comma or whitespace) before ``call.args[pos]``, in the call's layout."""
    args = list(call.args)
    lead = call.whitespace_before_args
    if len(args) == 1 and isinstance(args[0].value, cst.GeneratorExp) and not args[0].value.lpar:
        # ``f(x for x in y)``: a generator needs its own parentheses once it is not the only argument.
        genexp = args[0].value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        args[0] = args[0].with_changes(value=genexp)
    if not args:
        if isinstance(lead, cst.ParenthesizedWhitespace):
            # ``f(  # comment\n)``: the argument goes on the ``(`` line, the line break after it.
            return call.with_changes(
                whitespace_before_args=cst.SimpleWhitespace(""),
                args=[new.with_changes(whitespace_after_arg=lead)],
            )
        return call.with_changes(args=[new])
    if pos == 0:
        if isinstance(lead, cst.ParenthesizedWhitespace):
            lead, between = _split(lead, lead)
        else:
            between = cst.SimpleWhitespace(" ")
        new = new.with_changes(comma=cst.Comma(whitespace_after=between))
        return call.with_changes(whitespace_before_args=lead, args=[new, *args])

    prev = args[pos - 1]
    sep = _trailing(prev)
    line_start = _line_start(call, pos - 1)
    exploded = isinstance(sep, cst.ParenthesizedWhitespace) and line_start is not None
    if exploded:
        # The new argument gets a line of its own, with a trailing comma like a formatter would write.
        before, after = _split(sep, line_start)
    else:
        # One-line or hugging layout: the new argument joins the previous one's line.
        before, after = cst.SimpleWhitespace(" "), sep
    if isinstance(prev.comma, cst.Comma):
        prev = prev.with_changes(comma=prev.comma.with_changes(whitespace_after=before))
    else:
        prev = prev.with_changes(
            comma=cst.Comma(whitespace_after=before), whitespace_after_arg=cst.SimpleWhitespace("")
        )
    if exploded or isinstance(args[pos - 1].comma, cst.Comma):
        # Before another argument a comma is required; at the end a trailing comma stays one.
        new = new.with_changes(comma=cst.Comma(whitespace_after=after))
    else:
        new = new.with_changes(whitespace_after_arg=after)
    args[pos - 1] = prev
    args.insert(pos, new)
    return call.with_changes(args=args)


_EMPTY_MODULE = cst.Module(body=[])


def _code(node: cst.CSTNode) -> str:
    return _EMPTY_MODULE.code_for_node(node)


def _check_parses(call: cst.Call) -> None:
    """Refuse a rewrite whose call does not parse on its own (the fixer re-parses the file as well).

    The call is checked inside parentheses: in its file it may sit in brackets that allow line breaks
    outside its own (``("a"\n "b".format(x))``).
    """
    try:
        cst.parse_expression(f"({_code(call)})")
    except cst.ParserSyntaxError as exc:
        raise RewriteError(f"rewritten call does not parse: {exc.message}") from exc
