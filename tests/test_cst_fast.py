"""The fast libcst replacements give libcst's own answers: the walk's visit order, and positions.

:mod:`flaxprec.cst_walk` and :mod:`flaxprec.positions` rely on libcst's private protocols; these tests run
the public, slow machinery (``CSTVisitor``, ``PositionProvider``) and the fast one side by side on small
cases and on every node of real Flax files, and describe every difference, so that a libcst upgrade that
breaks either fails here, readably.
"""

from __future__ import annotations

import dataclasses
import os
import typing

import libcst as cst
import pytest
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from conftest import cst_subtree
from corpus import corpus
from flaxprec import cst_walk
from flaxprec.cst_walk import Hooks, Visitor, walk
from flaxprec.positions import node_positions, statement_positions

Event = tuple[str, str, int]  # ("visit" | "leave", node type, id(node))


class LibcstTrace(cst.CSTVisitor):
    """Every visit and leave of libcst's own traversal; ``skip`` types' children are not visited."""

    def __init__(self, skip: tuple[type[cst.CSTNode], ...] = ()) -> None:
        self.events: list[Event] = []
        self.skip = skip

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", type(node).__name__, id(node)))
        return not isinstance(node, self.skip)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", type(original_node).__name__, id(original_node)))


class WalkTrace(Visitor):
    """The same record from :func:`flaxprec.cst_walk.walk` (hooks built per node type, as the Analyzer's)."""

    skip: tuple[type[cst.CSTNode], ...] = ()

    def __init__(self) -> None:
        self.events: list[Event] = []

    @classmethod
    def hooks(cls, node_type: type[cst.CSTNode]) -> Hooks:
        name = node_type.__name__
        skip = issubclass(node_type, cls.skip)

        def visit(self: WalkTrace, node: cst.CSTNode) -> bool:
            self.events.append(("visit", name, id(node)))
            return not skip

        def leave(self: WalkTrace, node: cst.CSTNode) -> None:
            self.events.append(("leave", name, id(node)))

        return visit, leave


class WalkTraceSkippingDefs(WalkTrace):
    skip = (cst.FunctionDef, cst.Lambda, cst.Call)


SKIPPED_DEFS = WalkTraceSkippingDefs.skip


class NonTriviaTrace(WalkTrace):
    """Hooks every node type but the trivia: the walk then does not enter trivia at all."""

    @classmethod
    def hooks(cls, node_type: type[cst.CSTNode]) -> Hooks:
        return (None, None) if issubclass(node_type, cst_walk.TRIVIA) else super().hooks(node_type)


def order_differences(module: cst.Module, skip: bool = False, trivia: bool = True) -> list[str]:
    """Where :func:`walk`'s events differ from ``module.visit``'s (empty when they agree).

    ``skip``: both visitors return False for SKIPPED_DEFS; ``trivia=False``: the walking visitor has no
    trivia hooks, and libcst's events are compared without the trivia's.
    """
    reference = LibcstTrace(SKIPPED_DEFS if skip else ())
    module.visit(reference)
    expected = reference.events
    trace: WalkTrace = WalkTraceSkippingDefs() if skip else WalkTrace()
    if not trivia:
        trace = NonTriviaTrace()
        trivia_names = {t.__name__ for t in cst_walk._trivia_types()}
        expected = [event for event in expected if event[1] not in trivia_names]
    walk(module, trace)
    if trace.events == expected:
        return []
    for index, (ours, theirs) in enumerate(zip(trace.events, expected, strict=False)):
        if ours != theirs:
            return [f"event {index}: walk {ours[:2]}, libcst {theirs[:2]}"]
    return [f"walk has {len(trace.events)} events, libcst {len(expected)}"]


def position_differences(module: cst.Module) -> list[str]:
    """Nodes whose :func:`node_positions` range is not ``PositionProvider``'s (empty when all agree)."""
    reference = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    ours = node_positions(module)
    found = [
        f"{type(node).__name__}: ours {ours[node]}, libcst {span}"
        for node, span in reference.items()
        if node in ours and ours[node] != span
    ]
    found += [
        f"{type(node).__name__}: no position (libcst: {span})"
        for node, span in reference.items()
        if node not in ours
    ]
    if len(ours) != len(reference):
        found.append(f"{len(ours)} nodes with positions, libcst has {len(reference)}")
    return found


def statement_differences(module: cst.Module) -> tuple[list[str], int, int]:
    """Nodes of each statement whose :func:`statement_positions` range, with that statement alone
    generated (indented as the analysis records it: its parents' first blocks), is not
    :func:`node_positions`'s; and of the top-level statements and class members, how many it declined
    (None) of how many (a nested one may be declined too: its code may occur twice)."""
    text, whole = module.code, node_positions(module)
    found, declined, outer = [], 0, 0
    for statement, indent, is_outer in _statements(module):
        ours = statement_positions(module, text, [statement], {id(statement): indent})
        outer += is_outer
        if ours is None:
            declined += is_outer
            continue
        nodes = cst_subtree(statement)
        found += [
            f"{type(n).__name__}: ours {ours[n]}, whole {whole[n]}" for n in nodes if ours[n] != whole[n]
        ]
    return found, declined, outer


def _statements(module: cst.Module) -> list[tuple[cst.CSTNode, str, bool]]:
    """Every statement whose indentation the analysis knows (a top-level one, or one of the first block of
    such a statement: not an ``else:``'s), with that indentation, and whether it is a top-level statement
    or a top-level class's member."""
    found: list[tuple[cst.CSTNode, str, bool]] = []
    todo: list[tuple[cst.CSTNode, str, bool]] = [(s, "", True) for s in module.body]
    while todo:
        statement, indent, is_outer = todo.pop()
        found.append((statement, indent, is_outer))
        block = getattr(statement, "body", None)
        if isinstance(block, cst.IndentedBlock):
            inner = indent + (module.default_indent if block.indent is None else block.indent)
            member = is_outer and not indent and isinstance(statement, cst.ClassDef)
            todo += [(s, inner, member) for s in block.body]
    return found


# -- small cases, one behaviour each ---------------------------------------------------------------------


def _lines(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


CASES = {
    "empty": "",
    "no trailing newline": "x = 1",
    "comments only": "# a\n\n# b\n",
    "decorated": _lines(
        "@a.b(c)",
        "@d",
        "class A(B, metaclass=M):",
        "    @property",
        "    def f(self, /, x: int = 1, *a, k, **kw) -> int:",
        "        return x",
    ),
    "compound": _lines(
        "if a:",
        "    pass",
        "elif b:",
        "    x = 1",
        "else:",
        "    y = 2",
        "for i, (j, k) in z:",
        "    continue",
        "else:",
        "    pass",
        "while x:",
        "    break",
        "try:",
        "    f()",
        "except E as e:",
        "    raise",
        "else:",
        "    g()",
        "finally:",
        "    h()",
        "try:",
        "    pass",
        "except* F:",
        "    pass",
        "with a as b, c:",
        "    pass",
        "async def f():",
        "    async with a:",
        "        await b",
        "    async for x in y:",
        "        yield x",
    ),
    "match": _lines(
        "match p:",
        "    case [1, *rest] | {'k': v, **kw} if v:",
        "        pass",
        "    case Point(x=0) as q:",
        "        pass",
        "    case _:",
        "        pass",
    ),
    "expressions": _lines(
        "x = [a for b in c if d] + {e: f for g in h} + {i for j in k} + (l for m in n)",
        "y = lambda a, *b, c=1, **d: (a if b else c)",
        "z = not a and b or c < d <= e is not f in g",
        "w = a[1:2, ::3, ...][x] @ -b ** ~c // d % e",
        "(v := 1); t = *a, b; u = {**a, 'b': 1}",
        "s = 'a' 'b' r'''c'''; t = b'd'; n = 1.5j + 0x1F",
    ),
    "f-strings": _lines('a = f"{x}"', 'b = f"{y:>{w}.{p}f}"', 'c = f"{z!r:^10}" f"{q=}"', 'd = f"{x}"'),
    "imports": _lines("import a.b as c, d", "from . import (e, f as g,)", "from ..h import *", "global k"),
    "semicolons and suites": _lines("a = 1; b = 2", "if c: d = 3; e = 4", "class F: pass"),
    "line continuation": _lines("x = (1 +", "     2) \\", "    + 3", "def f(", "    a,", "    b,", "): ..."),
    "type params": _lines(
        "def f[T: int, *Ts, **P](x: T) -> T: ...", "class C[T = int]: ...", "type A[T] = list[T]"
    ),
    "crlf": "class A:\r\n    def f(self):\r\n        return 1\r\n\r\nx = [\r\n    1,\r\n]\r\n",
    "lone cr": "x = 1\ry = (\r  2)\r",
    "tabs": "if a:\n\tif b:\n\t\tpass\n",
}


@pytest.mark.parametrize("name", CASES)
def test_walk_visits_as_libcst_does(name: str) -> None:
    module = cst.parse_module(CASES[name])
    assert order_differences(module) == []
    assert order_differences(module, skip=True) == []
    assert order_differences(module, trivia=False) == []


@pytest.mark.parametrize("name", CASES)
def test_positions_are_libcsts(name: str) -> None:
    module = cst.parse_module(CASES[name])
    assert position_differences(module) == []
    # One statement generated on its own: the same ranges; declined only for a text with ``\r`` line breaks.
    text = CASES[name]
    found, declined, tried = statement_differences(module)
    assert found == []
    assert declined == (tried if "\r" in text else 0)


def test_statement_positions_decline_what_they_cannot_place() -> None:
    text = "x = 1\n# note\nx = 1\ny = 2\n"
    module = cst.parse_module(text)
    first, second, third = module.body
    assert statement_positions(module, text, [first]) is None  # its code occurs twice
    assert statement_positions(module, text, [second]) is not None  # with its comment line, once
    placed = statement_positions(module, text, [third])
    assert placed is not None and placed[third] == CodeRange((4, 0), (4, 5))
    assert first not in placed and module not in placed
    with pytest.raises(KeyError):
        placed[first]
    assert statement_positions(module, "\ufeff" + text, [third]) is not None
    assert statement_positions(module, "y = 2", [third]) is None  # not the text the module was parsed from
    # Without a final line break the last statement's code is still its own, not a copy's elsewhere.
    text = "if a:\n    y = 2\nif b:\n    y = 2"
    module = cst.parse_module(text)
    last = module.body[1].body.body[0]
    assert statement_positions(module, text, [last], {id(last): "    "}) is None  # its code occurs twice
    placed = statement_positions(module, text, [module.body[1]])
    assert placed is not None and placed[last] == CodeRange((4, 4), (4, 9))


def test_skipped_children_are_left_but_not_visited() -> None:
    module = cst.parse_module("def f(x):\n    return g(x)\n")
    trace = WalkTraceSkippingDefs()
    walk(module, trace)
    assert [(kind, name) for kind, name, _ in trace.events] == [
        ("visit", "Module"),
        ("visit", "FunctionDef"),
        ("leave", "FunctionDef"),
        ("leave", "Module"),
    ]


def test_children_follow_visit_order_not_field_order() -> None:
    """``Call`` declares ``func`` before ``lpar``; libcst (and the walk) visit the parenthesis first."""
    module = cst.parse_module("(f(x))\n")
    trace = WalkTrace()
    walk(module, trace)
    visited = [name for kind, name, _ in trace.events if kind == "visit"]
    call = visited.index("Call")
    assert visited[call + 1] == "LeftParen"
    assert visited.index("LeftParen", call) < visited.index("Name", call)


def test_format_spec_seen_after_an_fstring_without_one() -> None:
    """The first FormattedStringExpression has no format spec (libcst then does not announce the field):
    the walk must still find the nested expression in a later one's spec."""
    cst_walk._REVERSED_FIELDS.pop(cst.FormattedStringExpression, None)
    cst_walk._TENTATIVE.pop(cst.FormattedStringExpression, None)
    module = cst.parse_module('a = f"{x}"\nb = f"{y:{width}}"\nc = f"{z}"\n')
    names: list[str] = []

    class Names(Visitor):
        def visit_Name(self, node: cst.Name) -> None:
            names.append(node.value)

    walk(module, Names())
    assert names == ["a", "x", "b", "y", "width", "c", "z"]


def test_hooks_dispatch_by_type_name() -> None:
    module = cst.parse_module("a.b(c)\n")
    seen: list[str] = []

    class Calls(Visitor):
        def visit_Call(self, node: cst.Call) -> None:
            seen.append(f"visit {cst.Module([]).code_for_node(node)}")

        def leave_Attribute(self, node: cst.Attribute) -> None:
            seen.append(f"leave {node.attr.value}")

    walk(module, Calls())
    assert seen == ["visit a.b(c)", "leave b"]


def test_trivia_is_skipped_only_without_trivia_hooks() -> None:
    assert NonTriviaTrace.hook_table()[1] is True
    assert WalkTrace.hook_table()[1] is False


def _node_types(annotation: object) -> set[type]:
    if isinstance(annotation, type):
        return {annotation} if issubclass(annotation, cst.CSTNode) else set()
    if typing.get_origin(annotation) is typing.Literal:
        return set()
    return {t for arg in typing.get_args(annotation) for t in _node_types(arg)}


def test_trivia_hold_only_trivia() -> None:
    """What makes skipping trivia invisible: by libcst's own field types, nothing but trivia is under one."""
    trivia = cst_walk._trivia_types()
    assert {cst.SimpleWhitespace, cst.Comma, cst.Add, cst.EmptyLine, cst.LeftParen} <= set(trivia)
    inside = {
        f"{node_type.__name__}.{field.name}: {child.__name__}"
        for node_type in trivia
        if dataclasses.is_dataclass(node_type)
        for field in dataclasses.fields(node_type)
        for child in _node_types(typing.get_type_hints(node_type)[field.name])
        if not issubclass(child, cst_walk.TRIVIA)
    }
    assert inside == set()


def test_positions_of_nodes_outside_the_tree() -> None:
    module = cst.parse_module("x = 1\n")
    positions = node_positions(module)
    stranger = cst.Name("x")
    assert stranger not in positions
    with pytest.raises(KeyError):
        positions[stranger]
    assert positions[module.body[0]] == CodeRange((1, 0), (1, 5))


# -- real code: every node of published Flax files ---------------------------------------------------------

# Every STRIDE-th file of each release (sorted by path): both comparisons run libcst's slow machinery, which
# costs about a second per thousand lines. FLAXPREC_TEST_EVERY_FILE=1 checks every file.
STRIDE = 1 if os.environ.get("FLAXPREC_TEST_EVERY_FILE") == "1" else 6


@pytest.mark.parametrize(
    "release", ["transformers-4.46.3", "transformers-4.21.0", "flax-0.8.5", "diffusers-0.30.3"]
)
def test_real_code(release: str) -> None:
    root = corpus(release)
    files = sorted(root.rglob("*.py"))[::STRIDE]
    assert files
    problems: dict[str, list[str]] = {}
    for path in files:
        module = cst.parse_module(path.read_bytes())
        found = order_differences(module) + order_differences(module, trivia=False)
        found += position_differences(module)
        found += statement_differences(module)[0]
        if found:
            problems[str(path.relative_to(root))] = found[:5]
    assert problems == {}
