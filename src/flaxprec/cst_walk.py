"""A fast read-only walk over a libcst tree, in exactly ``CSTVisitor``'s order.

Why not ``module.visit(visitor)``: libcst's visit is built for transformers. Every node's
``_visit_and_replace_children`` rebuilds the node from its visited children (a dataclass construction and
validation per node) and calls ``on_visit_attribute``/``on_leave_attribute`` around every field, even for a
visitor that changes nothing; on a large file that costs as much as parsing it. :func:`walk` only reads.

Order and hooks are ``CSTVisitor``'s, so a visitor ports by changing its base class:

* pre-order; a node's children in the order libcst visits them, which is source order and *not* the
  dataclass field order (``Call`` declares ``func, args, lpar, ...`` but visits ``lpar, func, ...``);
* ``visit_<Type>(node)`` before the children; returning ``False`` skips the children (``None``/``True``
  visits them); ``leave_<Type>(node)`` after them, also when they were skipped;
* the nodes handed to the hooks are the tree's own (libcst hands a CSTVisitor the originals too), so
  ``id(node)`` and ``is`` comparisons mean the same thing.

Attribute hooks (``visit_<Type>_<field>``) are not supported; nothing here needs them.

The child order of each node type is not written down here: it is learnt from libcst itself, once per
type, by letting the node's own ``_visit_and_replace_children`` announce its fields to a recording visitor
(libcst calls ``on_visit_attribute`` for every visited field, ``None`` and empty ones included). A libcst
release that reorders or adds fields is therefore followed automatically; tests/test_cst_fast.py compares
whole walks with ``CSTVisitor`` on real files, so a change in that private protocol fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import libcst as cst

VisitHook = Callable[[Any, cst.CSTNode], "bool | None"]
LeaveHook = Callable[[Any, cst.CSTNode], None]
Hooks = tuple["VisitHook | None", "LeaveHook | None"]


class Visitor:
    """Base of the visitors :func:`walk` drives: ``visit_<Type>``/``leave_<Type>`` methods, as in libcst.

    A subclass that needs behaviour for whole categories of nodes (every statement, say) overrides
    :meth:`hooks`, which is asked once per (visitor class, node type): the per-node cost stays one
    dictionary lookup and at most two calls, and node types nobody handles cost no call at all.
    """

    _hook_tables: ClassVar[dict[type, tuple[dict[type, Hooks], bool]]] = {}

    @classmethod
    def hooks(cls, node_type: type[cst.CSTNode]) -> Hooks:
        """The (unbound) visit and leave functions for ``node_type``; ``None`` where there is none."""
        name = node_type.__name__
        return getattr(cls, f"visit_{name}", None), getattr(cls, f"leave_{name}", None)

    @classmethod
    def hook_table(cls) -> tuple[dict[type, Hooks], bool]:
        """This class's node type -> hooks table (filled lazily by :func:`walk`), and whether the class
        has no hook for any trivia type (then walks skip trivia: see :data:`TRIVIA`)."""
        found = Visitor._hook_tables.get(cls)
        if found is None:
            skips = not any(
                hook is not None for node_type in _trivia_types() for hook in cls.hooks(node_type)
            )
            found = Visitor._hook_tables[cls] = ({}, skips)
        return found


def walk(root: cst.CSTNode, visitor: Visitor) -> None:
    """Visit ``root`` and everything under it with ``visitor``, as ``root.visit(visitor)`` would.

    Iterative (a deep expression cannot exhaust Python's recursion limit). The stack holds nodes still to
    visit and, below a visited node's children, a ``(leave hook, node)`` pair when the node has one.
    """
    table, skip_trivia = type(visitor).hook_table()
    hooks_of = type(visitor).hooks
    if skip_trivia:
        reversed_fields, kinds = _REVERSED_FIELDS_SKIPPING_TRIVIA, _KINDS_SKIPPING_TRIVIA
    else:
        reversed_fields, kinds = _REVERSED_FIELDS, _KINDS
    stack: list[Any] = [root]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        item = pop()
        if type(item) is tuple:
            item[0](visitor, item[1])
            continue
        node_type = type(item)
        hooks = table.get(node_type)
        if hooks is None:
            hooks = table[node_type] = hooks_of(node_type)
        visit, leave = hooks
        if leave is not None:
            push((leave, item))
        if visit is not None and visit(visitor, item) is False:
            continue
        fields = reversed_fields.get(node_type)
        if fields is None:
            fields = _reversed_fields(item, skip_trivia)
        for name in fields:
            value = getattr(item, name)
            kind = kinds.get(type(value))
            if kind is None:
                kind = _kind(value)
            if kind is _NODE:
                push(value)
            elif kind is _SEQUENCE:
                extend(reversed(value))


# -- trivia ------------------------------------------------------------------------------------------------

# Syntax trivia: whitespace, comments, punctuation and operator tokens, about two nodes in three. Their
# subtrees hold nothing but trivia (tests/test_cst_fast.py checks that against libcst's field annotations),
# so a visitor without a hook for any of them gets exactly the same calls whether the walk enters them or
# not: for such a visitor (all of flaxprec's) the walk does not push them at all.
TRIVIA = (
    cst.BaseParenthesizableWhitespace,  # SimpleWhitespace, ParenthesizedWhitespace
    cst.TrailingWhitespace,
    cst.EmptyLine,
    cst.Comment,
    cst.Newline,
    cst.Comma,
    cst.Dot,
    cst.Colon,
    cst.Semicolon,
    cst.AssignEqual,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.ImportStar,
    cst.Asynchronous,
    cst.BaseBinaryOp,
    cst.BaseBooleanOp,
    cst.BaseCompOp,
    cst.BaseUnaryOp,
    cst.BaseAugOp,
)
_TRIVIA_SET = frozenset(TRIVIA)  # tested against a type's MRO: libcst registers no virtual subclasses
_TRIVIA_TYPES: list[type] = []


def _trivia_types() -> list[type]:
    """Every node class libcst exports that is trivia (what a visitor's hooks are checked against)."""
    if not _TRIVIA_TYPES:
        # By MRO rather than issubclass: several TRIVIA bases are ABCs, whose first issubclass check per
        # class is slow (~30 ms over libcst's ~250 classes, on every start-up); libcst never registers
        # virtual subclasses, so the MRO tells the same.
        exported = (value for value in vars(cst).values() if isinstance(value, type))
        _TRIVIA_TYPES.extend(t for t in exported if not _TRIVIA_SET.isdisjoint(t.__mro__))
    return _TRIVIA_TYPES


# -- learning each node type's child fields from libcst ---------------------------------------------------

# Node type -> (the order seen so far, fields it did not visit because they were None on that node).
_TENTATIVE: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}
# Node type -> the fields libcst visits, *last first* (the order the walk pushes them). A type is missing
# until first seen, and stays missing while its order is not known for sure (see _fields_for).
_REVERSED_FIELDS: dict[type, tuple[str, ...]] = {}
_REVERSED_FIELDS_SKIPPING_TRIVIA: dict[type, tuple[str, ...]] = {}  # the same, but () for trivia

# What a field's value is, by its type (isinstance against the CSTNode ABC is slow): a node, a sequence of
# nodes, or anything else (None, MaybeSentinel, text, flags), which holds no node.
_NODE, _SEQUENCE, _OTHER = "node", "sequence", "other"
_KINDS: dict[type, str] = {tuple: _SEQUENCE, list: _SEQUENCE, type(None): _OTHER, str: _OTHER}
_KINDS_SKIPPING_TRIVIA = dict(_KINDS)  # the same, but a trivia node counts as "other": not pushed


def _kind(value: object) -> str:
    mro = type(value).__mro__  # not isinstance: the first check of a type against an ABC is slow
    kind = _NODE if cst.CSTNode in mro else _OTHER
    _KINDS[type(value)] = kind
    _KINDS_SKIPPING_TRIVIA[type(value)] = _OTHER if not _TRIVIA_SET.isdisjoint(mro) else kind
    return kind


def _reversed_fields(node: cst.CSTNode, skip_trivia: bool) -> tuple[str, ...]:
    """The walk's slow path: a node type whose fields are not cached (yet), or a trivia node in a
    sequence (``lpar``, ``leading_lines``) when trivia are skipped."""
    if skip_trivia and not _TRIVIA_SET.isdisjoint(type(node).__mro__):
        _REVERSED_FIELDS_SKIPPING_TRIVIA[type(node)] = ()
        return ()
    return _fields_for(node)[::-1]


class _FieldRecorder(cst.CSTVisitor):
    """Writes down the fields ``_visit_and_replace_children`` announces, without descending into them."""

    def __init__(self) -> None:
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if attribute not in self.fields:  # ``ImportFrom.names`` is announced by one of two branches
            self.fields.append(attribute)


def _record(node: cst.CSTNode) -> tuple[str, ...]:
    recorder = _FieldRecorder()
    node._visit_and_replace_children(recorder)  # a shallow rebuild of this one node, thrown away
    return tuple(recorder.fields)


def _fields_for(node: cst.CSTNode) -> tuple[str, ...]:
    """The fields libcst visits on ``node``, in order; learnt from libcst and cached per node type.

    libcst announces every field it visits, so one node of a type normally tells the order for all of
    them. The exception: a few nodes skip a field that is ``None`` (``FormattedStringExpression`` visits
    ``format_spec`` only when there is one). A type whose sample left a ``None`` field unannounced is
    therefore only cached tentatively: a later node that holds something other than text or a flag in
    such a field is recorded itself (and becomes the sample if it announced more); the order is final
    once no unannounced ``None`` field is left. Types with an optional text field (``IndentedBlock.indent``)
    may stay tentative: that costs this function's call per such node, not a recording.
    """
    node_type = type(node)
    tentative = _TENTATIVE.get(node_type)
    if tentative is not None:
        fields, unsure = tentative
        if not any(_may_hold_nodes(getattr(node, name)) for name in unsure):
            return fields
    fields = _record(node)
    unannounced = {f.name for f in node.__dataclass_fields__.values()} - set(fields)  # type: ignore[attr-defined]
    unsure = frozenset(name for name in unannounced if getattr(node, name) is None)
    if tentative is not None and not set(tentative[0]) <= set(fields):
        return fields  # this node lacks a field the sample had: right for this node, not for its type
    if unsure:
        _TENTATIVE[node_type] = (fields, unsure)
    else:
        _TENTATIVE.pop(node_type, None)
        _REVERSED_FIELDS[node_type] = fields[::-1]
        _REVERSED_FIELDS_SKIPPING_TRIVIA[node_type] = () if issubclass(node_type, TRIVIA) else fields[::-1]
    return fields


def _may_hold_nodes(value: object) -> bool:
    return value is not None and not isinstance(value, (str, bool))
