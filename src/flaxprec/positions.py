"""libcst's ``PositionProvider`` ranges, at the price of one code generation (or of a few statements').

Why: the checker needs the positions of a handful of nodes per file (its findings, their statements, the
calls a fix rewrites), but ``MetadataWrapper(...).resolve(PositionProvider)`` computes a ``CodeRange`` for
every node, splitting every generated token with a regular expression to track the line and column; that
costs several times the code generation it rides on.

How: :func:`node_positions` generates the module's code once with a :class:`CodegenState` that notes, per
node, only *token indices*: how many tokens had been generated when the node started and ended (and the
same for the narrower "syntactic" span a node declares with ``record_syntactic_position``, including the
bounds it hoists from a child). A line and column is worked out only for a node that is asked for, from
the generated text. ``PositionProvider`` tracks its line and column over every token generated, so a
position is a function of the token count alone, which is what makes indices enough.
:func:`statement_positions` does the same for a few statements only (those holding the findings), each
generated on its own and placed by finding its code in the text.

Exactly the same ranges as ``PositionProvider`` (same start/end rules, the same "first one recorded wins"
for the whole-node span, the same override by the syntactic span): tests/test_cst_fast.py compares
every node of real files. The hooks are libcst's private codegen protocol (``CodegenState``, stable since
libcst 0.3); that test is what notices if a libcst release changes it.
"""

from __future__ import annotations

import bisect
import re
from itertools import accumulate
from types import TracebackType
from typing import TYPE_CHECKING

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

NEWLINE = re.compile(r"\r\n?|\n")  # PositionProvider's own line-break pattern


class _TokenSpanState(CodegenState):
    """Records ``(first token, end token)`` per node id instead of lines and columns.

    Mirrors ``PositionProvidingCodegenState``: ``before_codegen``/``after_codegen`` give a node's whole span
    unless one was recorded already; ``record_syntactic_position`` always (re)records the syntactic one.
    ``pop_trailing_newline`` keeps the token: PositionProvider's line and column never move back either,
    so indices stay aligned with its positions (the text is cut back in :class:`NodePositions`).
    """

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.spans: dict[int, tuple[int, int]] = {}
        self.starts: list[int] = []

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.starts.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self.starts.pop()
        key = id(node)
        if key not in self.spans:
            self.spans[key] = (start, len(self.tokens))

    def pop_trailing_newline(self) -> None:
        pass

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Syntactic:
        return _Syntactic(self, node, start_node, end_node)


class _Syntactic:
    """The context manager ``record_syntactic_position`` returns (a class: cheaper than a generator)."""

    __slots__ = ("end_node", "node", "start", "start_node", "state")

    def __init__(
        self,
        state: _TokenSpanState,
        node: cst.CSTNode,
        start_node: cst.CSTNode | None,
        end_node: cst.CSTNode | None,
    ) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node
        self.start = 0

    def __enter__(self) -> None:
        self.start = len(self.state.tokens)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        spans = self.state.spans
        start = spans[id(self.start_node)][0] if self.start_node is not None else self.start
        end = spans[id(self.end_node)][1] if self.end_node is not None else len(self.state.tokens)
        spans[id(self.node)] = (start, end)


class NodePositions:
    """``PositionProvider``'s ``CodeRange`` of any node of one module, computed when asked for.

    Supports what the checker uses of the metadata mapping: ``node in positions`` and ``positions[node]``.
    Holds the module, so the node ids it is keyed by stay valid.
    """

    def __init__(self, module: cst.Module, spans: dict[int, tuple[int, int]], tokens: Sequence[str]) -> None:
        self.module = module
        self._spans = spans
        self._tokens = tokens
        self._lookup: _Lines | None = None

    def __contains__(self, node: object) -> bool:
        return id(node) in self._spans

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        start, end = self._spans[id(node)]
        if self._lookup is None:
            self._lookup = _Lines(self._tokens)
        return CodeRange(self._lookup.position(start), self._lookup.position(end))

    def __len__(self) -> int:
        return len(self._spans)


class _Lines:
    """Token index -> ``CodePosition``, as PositionProvider counts lines: per token, ``\\r\\n?|\\n``."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = tokens
        self.offsets = [0, *accumulate(map(len, tokens))]  # character offset of each token boundary
        self.text = text = "".join(tokens)
        self.exact: list[CodePosition] | None = None
        if "\r" in text:
            # A token ending in "\r" before one starting with "\n" is two line breaks for PositionProvider
            # (it splits token by token) but one in the joined text: count token by token, as it does.
            self.exact = _per_token_positions(tokens)
        else:
            self.line_starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def position(self, index: int) -> CodePosition:
        if self.exact is not None:
            return self.exact[index]
        offset = self.offsets[index]
        line = bisect.bisect_right(self.line_starts, offset)  # lines starting at or before ``offset``
        return CodePosition(line, offset - self.line_starts[line - 1])


def _per_token_positions(tokens: Sequence[str]) -> list[CodePosition]:
    """PositionProvider's ``_update_position``, token by token: the position after each token count."""
    line, column = 1, 0
    found = [CodePosition(line, column)]
    for token in tokens:
        segments = NEWLINE.split(token)
        if len(segments) == 1:
            column += len(token)
        else:
            line += len(segments) - 1
            column = len(segments[-1])
        found.append(CodePosition(line, column))
    return found


class StatementPositions:
    """:class:`NodePositions` of the nodes of some statements, each generated on its own.

    A statement's code (a top-level one's, or a nested one's generated with its exact indentation) starts
    a line, and the module's code holds it as generated: where that code occurs exactly once in the text
    the module was parsed from, it is there, and its nodes' lines are its own lines shifted by the lines
    before it.
    """

    def __init__(self, module: cst.Module, parts: list[tuple[NodePositions, int]]) -> None:
        self.module = module
        self.parts = parts  # (positions within one statement's code, lines of the text before it)
        # node id -> its part: a lookup is one dict access, not a scan of the parts (a file with thousands
        # of findings has thousands of parts). Built on the first lookup; one part needs none.
        self._owners: dict[int, tuple[NodePositions, int]] | None = None

    def _part(self, node: object) -> tuple[NodePositions, int] | None:
        if len(self.parts) == 1:
            return self.parts[0] if node in self.parts[0][0] else None
        if self._owners is None:
            owners: dict[int, tuple[NodePositions, int]] = {}
            for part in reversed(self.parts):  # the first part holding a node wins, as a scan would have it
                owners.update(dict.fromkeys(part[0]._spans, part))
            self._owners = owners
        return self._owners.get(id(node))

    def __contains__(self, node: object) -> bool:
        return self._part(node) is not None

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._part(node)
        if found is None:
            raise KeyError(node)
        part, before = found
        span = part[node]
        return CodeRange(
            CodePosition(span.start.line + before, span.start.column),
            CodePosition(span.end.line + before, span.end.column),
        )


class CodeFinder:
    """Where a statement's code starts in the text a module was parsed from: the one line start where it
    occurs (None: nowhere, or at several, where the code alone cannot tell which one is the statement's).

    Only line starts count: a statement's code starts a line in the module's code (which is the text), so a
    unique occurrence at a line start is the statement's own, whatever else the text holds mid-line.

    The first statements are looked for with ``str.find``; once those searches have read the text a few
    times over, a map of the text's lines (line -> the rows holding it) takes over and a statement is
    looked for only at the rows holding the rarest of its lines. Placing thousands of statements (a file
    with thousands of findings) then costs time linear in the text and their code, not their number times
    the text; a file with a few findings never builds the map.
    """

    def __init__(self, module: cst.Module, text: str) -> None:
        # A module without a final line break prints its last statement's code without one: with it added,
        # the text holds every statement's code as generated.
        if not module.has_trailing_newline:
            text += "\n"
        self.text = text
        self.usable = "\r" not in text  # PositionProvider counts "\r" line breaks token by token
        self._budget = 4 * len(text) + 4096  # characters ``str.find`` may read before the map is built
        self._starts: list[int] = []  # the offset of each row (0-based), once the map is built
        self._rows: dict[str, list[int]] | None = None  # a line's text (no line break) -> its rows

    def place(self, code: str) -> tuple[int, int] | None:
        """The offset of the one line start where ``code`` occurs, and the number of lines before it."""
        if not code or not self.usable:
            return None
        if self._rows is None and self._budget > 0:
            return self._find(code)
        return self._lookup(code)

    def _find(self, code: str) -> tuple[int, int] | None:
        text = self.text
        found: list[int] = []
        at = text.find(code)
        while at >= 0 and len(found) < 2:
            if at == 0 or text[at - 1] == "\n":
                found.append(at)
            at = text.find(code, at + 1)
        self._budget -= len(text) if at < 0 else at
        if len(found) != 1:
            return None
        self._budget -= found[0]
        return found[0], text.count("\n", 0, found[0])

    def _lookup(self, code: str) -> tuple[int, int] | None:
        rows = self._rows
        if rows is None:
            rows = self._rows = {}
            offset = 0
            for row, line in enumerate(self.text.split("\n")):
                self._starts.append(offset)
                rows.setdefault(line, []).append(row)
                offset += len(line) + 1
        lines = code.split("\n")[:-1]  # its whole lines (each followed by a line break)
        if not lines:
            return self._find(code)
        shift, rarest = min(enumerate(lines), key=lambda item: len(rows.get(item[1], ())))
        found: tuple[int, int] | None = None
        for row in rows.get(rarest, ()):
            start = row - shift
            if start >= 0 and self.text.startswith(code, self._starts[start]):
                if found is not None:
                    return None
                found = self._starts[start], start
        return found


def statement_positions(
    module: cst.Module,
    text: str | CodeFinder,
    statements: Iterable[cst.CSTNode],
    indents: Mapping[int, str] | None = None,
) -> StatementPositions | None:
    """The positions of the nodes of ``statements`` (of ``module``, parsed from ``text``) at the price of
    generating only their code; None when that cannot be told so (the code is not found exactly once at
    a line start, or the text has ``\r`` line breaks, which PositionProvider counts token by token): then
    generate more (:func:`node_positions`). Calls on one module can share one :class:`CodeFinder` of its
    text as ``text``: placing many statements then stays linear.

    A statement is a top-level one, or a nested one indented by ``indents[id(statement)]`` (all of its
    blocks' indentation: its code is generated with it, as the module's would be; a wrong one could
    match another statement's code, so only an exact one may be given).
    """
    finder = text if isinstance(text, CodeFinder) else CodeFinder(module, text)
    if not finder.usable:
        return None
    parts = []
    for statement in statements:
        state = _TokenSpanState(module)
        indent = indents.get(id(statement)) if indents is not None else None
        if indent:
            state.increase_indent(indent)
        statement._codegen(state)
        placed = finder.place("".join(state.tokens))
        if placed is None:
            return None
        parts.append((NodePositions(module, state.spans, state.tokens), placed[1]))
    return StatementPositions(module, parts)


def node_positions(module: cst.Module) -> NodePositions:
    """The positions of ``module``'s nodes, as ``MetadataWrapper(module).resolve(PositionProvider)``.

    Unlike the wrapper, no copy of the module is made (``unsafe_skip_copy``): ask with the module's own
    nodes.
    """
    state = _TokenSpanState(module)
    module._codegen(state)
    return NodePositions(module, state.spans, state.tokens)
