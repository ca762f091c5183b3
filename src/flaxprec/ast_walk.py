"""Fast ``ast`` traversal for the gate and the project index.

``ast.walk``/``ast.NodeVisitor`` spend most of their time in ``iter_fields``/``iter_child_nodes``
generators and in ``getattr(self, "visit_" + name)`` per node: on ~100 kLOC that was two thirds of the
``ast`` stage. Here each node type's fields that can hold nodes are looked up once, and children come
back as plain lists. Order is the same as ``ast.iter_child_nodes`` (field order, then list order).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

# Fields that never hold a node, skipped without a getattr; ``ctx`` and the operators (``op``, ``ops``) hold
# nodes, but empty ones that no reader of this module looks at.
_SCALAR_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "id",
        "attr",
        "arg",
        "name",
        "asname",
        "module",
        "level",
        "kind",
        "type_comment",
        "conversion",
    }
)
_FIELDS: dict[type, tuple[str, ...]] = {}
_AST = ast.AST
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _fields(cls: type) -> tuple[str, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple(f for f in cls._fields if f not in _SCALAR_FIELDS)  # type: ignore[attr-defined]
    return fields


def children(node: ast.AST) -> list[ast.AST]:
    """The direct child nodes of ``node``, in ``ast.iter_child_nodes`` order (less ``ctx`` and operators)."""
    out: list[ast.AST] = []
    for name in _FIELDS.get(type(node)) or _fields(type(node)):
        value = getattr(node, name, None)
        if type(value) is list:
            out.extend(item for item in value if isinstance(item, _AST))
        elif isinstance(value, _AST):
            out.append(value)
    return out


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` (itself included), in no particular order, like ``ast.walk``."""
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        node = pop()
        yield node
        extend(children(node))


def own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function (or class) body, not descending into nested functions, lambdas or classes.

    The nested scopes' own nodes (their names, decorators, bases, defaults...) are yielded, their bodies
    are not: what they bind belongs to them.
    """
    stack = children(scope)
    pop, extend = stack.pop, stack.extend
    while stack:
        node = pop()
        yield node
        if not isinstance(node, _SCOPES):
            extend(children(node))


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None (calls, subscripts, ...)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
