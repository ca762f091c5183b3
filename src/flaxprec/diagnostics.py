"""What a rule reports and how it asks for a fix.

Rules never touch source text. They return :class:`Diagnostic` objects whose :class:`Fix` is a list of
small, declarative operations on call nodes; the fixer (``flaxprec.fix``) merges every operation that
targets the same call into one rewrite, so two rules touching one call never fight over it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: the check path must not import libcst before it needs a tree
    import libcst as cst


class Applicability(enum.Enum):
    """How confident a fix is that it keeps behaviour a user wants (ruff's terms)."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True)
class SetKeyword:
    """Add ``name=value`` at the end of the call, or replace the value where ``name=`` is already there."""

    name: str
    value: str


@dataclass(frozen=True)
class PositionalToKeyword:
    """Turn the positional argument at ``index`` into ``name=<the same value>``.

    The fixer converts every later positional argument too (it needs their names), because a positional
    argument may not follow a keyword one.
    """

    index: int
    name: str


@dataclass(frozen=True)
class ReplaceArgument:
    """Replace the value of an existing argument, chosen by positional index or by keyword name."""

    value: str
    index: int | None = None
    keyword: str | None = None


CallOp = SetKeyword | PositionalToKeyword | ReplaceArgument


@dataclass(frozen=True)
class CallEdit:
    """Operations on the arguments of one call node (identified by object identity).

    ``signature`` lists the call's positional parameter names in order, when known; the fixer needs it to
    name the later positional arguments of a :class:`PositionalToKeyword`.
    """

    call: cst.Call
    ops: tuple[CallOp, ...]
    signature: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplaceNode:
    """Replace one expression node by the expression ``value`` (for fixes that are not about arguments)."""

    node: cst.BaseExpression
    value: str


@dataclass(frozen=True)
class ReplaceText:
    """Replace characters ``start_col:end_col`` of line ``row`` by ``value``.

    For comment-level edits that no CST node holds (removing an unused ``# noqa`` code): libcst keeps
    comments as raw text. ``row`` is 1-based, columns are 0-based character offsets into the line without
    its line ending, ``end_col`` exclusive.
    """

    row: int
    start_col: int
    end_col: int
    value: str

    def as_text(self) -> TextEdit:
        """The same edit as a :class:`TextEdit` (1-based columns), which reports and the cache can hold."""
        return TextEdit(
            Location(self.row, self.start_col + 1), Location(self.row, self.end_col + 1), self.value
        )


Edit = CallEdit | ReplaceNode | ReplaceText


@dataclass(frozen=True)
class ImportNeed:
    """An ``import module as alias`` the fixed code relies on (added once, only if missing)."""

    module: str
    alias: str


@dataclass(frozen=True)
class TextEdit:
    """A fix as text: replace ``location`` (inclusive) .. ``end_location`` (exclusive) by ``content``."""

    location: Location
    end_location: Location
    content: str


@dataclass(frozen=True)
class Fix:
    title: str
    applicability: Applicability
    edits: tuple[Edit, ...]
    imports: tuple[ImportNeed, ...] = ()
    # The same fix as text edits on the file, when the engine could compute them without rewriting the
    # whole file: what reports show and the cache keeps (``edits`` point into a syntax tree).
    text: tuple[TextEdit, ...] | None = None


@dataclass(frozen=True, order=True)
class Location:
    """1-based row and column (columns count characters, as ruff does)."""

    row: int
    column: int


@dataclass
class Diagnostic:
    code: str
    name: str
    message: str
    filename: str
    node: cst.CSTNode | None = field(default=None, compare=False, repr=False)
    statement_node: cst.CSTNode | None = field(default=None, compare=False, repr=False)
    location: Location = field(default_factory=lambda: Location(1, 1))
    end_location: Location = field(default_factory=lambda: Location(1, 1))
    fix: Fix | None = None
    # First row of the statement holding the finding: a suppression comment there applies too.
    statement_row: int | None = None

    @property
    def fixable(self) -> bool:
        return self.fix is not None and self.fix.applicability is Applicability.SAFE

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.filename, self.location.row, self.location.column, self.code)


# FLX902: the tool could not analyse a file (its walks ran out of stack or memory even on a large stack,
# see flaxprec.deep). An error of the tool, not of the code: never cached, never selected away, and
# ``check`` exits 2 on it, as ruff does on its internal errors.
ANALYSIS_ERROR = ("FLX902", "analysis-error")


def is_tool_error(result: object) -> bool:
    """Is ``result`` an FLX902 finding (an error of the tool, not of the checked code)?"""
    return isinstance(result, Diagnostic) and result.code == ANALYSIS_ERROR[0]
