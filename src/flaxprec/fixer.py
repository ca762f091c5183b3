"""``flaxprec fix``: apply the fixes of one file pass by pass to a fixpoint, verifying each pass.

A pass applies every wanted fix of the current text together (the rewriter merges the edits of one call
into one), and the next pass's analysis is the previous pass's verification: the new text must parse,
libcst must read it, and no finding a fix was meant to remove may still be there. A fix can reveal
another finding (FLX004 stores a parameter in float32, which then meets activations: FLX007), which the
next pass fixes, so the loop runs to a fixpoint, as ruff's does.

A pass that fails is undone and its fixes are tried one by one on the same text: those that fail alone
are set aside with the reason (reported as "not fixed"), the others go on. One bad fix never costs the
file its other fixes. What the caller gets is always a text every accepted pass verified.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from flaxprec.apply_edits import apply_edits
from flaxprec.call_rewrite import RewriteError
from flaxprec.deep import parse_python, retry_when_deep
from flaxprec.diagnostics import Applicability, Diagnostic, Edit, ImportNeed, ReplaceText, is_tool_error
from flaxprec.engine import Checker, Unit
from flaxprec.project import ProjectIndex
from flaxprec.suppress import apply_text_edits

# Passes (analyses of a new text) per file. ruff allows 100 re-lints; a pass here is a full libcst analysis
# of the file, so the bound is set from what the rules need: the longest chain of fixes that reveal one
# another is three passes (FLX006 names a positional dtype, FLX002/FLX003 then fix its value, FLX007 casts
# the parameter now stored in float32) plus the pass that verifies the last one, and every pass that fails
# sets at least one fix aside. Ten leaves room for a few failing fixes and bounds a pathological file.
MAX_PASSES = 10

FindingKey = tuple[str, str]  # (code, message): what identifies a finding across a rewrite (rows move)
SpanKey = tuple[str, str, str]  # (code, message, the text it spans): one fix set aside


@dataclass
class NotFixed:
    """A finding whose fix was offered but is not in the fixed text, and why."""

    diagnostic: Diagnostic
    reason: str


@dataclass
class FileFix:
    """One file's outcome. ``remaining``: the findings of ``fixed`` (what ``check`` reports after the fix);
    ``not_fixed``: those among them that offer a wanted fix, each with the reason it was not made;
    ``found``: the findings of the file as it was (what is left if the fixed text is not written)."""

    unit: Unit
    fixed: str
    applied: list[Diagnostic] = field(default_factory=list)
    remaining: list[Diagnostic] = field(default_factory=list)
    not_fixed: list[NotFixed] = field(default_factory=list)
    found: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.unit.text


def wanted(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and (fix.applicability is Applicability.SAFE or unsafe)


@dataclass
class _State:
    """A verified text with its analysis."""

    text: str
    model: object
    diagnostics: list[Diagnostic]


class _PassFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@retry_when_deep  # libcst's walks of a deeply nested file: redone on a large stack (flaxprec.deep)
def fix_unit(checker: Checker, unit: Unit, index: ProjectIndex, unsafe: bool = False) -> FileFix:
    """Fix one file of the indexed tree (its summary is in ``index``, replaced by the fixed text's after
    each pass: a fix may change a class's dtype roles)."""
    model, diagnostics = checker.diagnose(unit, index)
    # No model: the file was not analysed (it can have no finding: no second parse for it), or libcst
    # could not read it, or the tool failed on it (FLX902). Only the second case is asked about again.
    failed = unit.error is None and unit.source is not None and checker.might_flag(unit, index)
    if model is None and failed and not any(map(is_tool_error, diagnostics)):
        unreadable = _libcst_failure(unit)
        if unreadable is not None:
            # libcst cannot give this file back byte for byte, so nothing is written; the findings are
            # the ones ``check`` reports (it reads suspect statements only), each offered fix not made.
            _, found = checker.diagnose(unit, index, sliced=True)
            not_fixed = [NotFixed(d, unreadable) for d in found if wanted(d, unsafe)]
            return FileFix(unit, unit.text, [], found, not_fixed, found)
    return _Fixer(checker, unit, index, unsafe).run(_State(unit.text, model, diagnostics))


def _libcst_failure(unit: Unit) -> str | None:
    """Why libcst cannot be used on a file the ``ast`` module parsed, if that is why it has no model."""
    import libcst as cst

    from flaxprec.source_io import SourceError

    assert unit.source is not None
    try:
        unit.source.parse()
    except SourceError:
        return "libcst cannot reproduce this file exactly"
    except cst.ParserSyntaxError as error:
        return f"libcst cannot parse this file ({error.message})"
    return None


class _Fixer:
    def __init__(self, checker: Checker, unit: Unit, index: ProjectIndex, unsafe: bool) -> None:
        self.checker, self.unit, self.index, self.unsafe = checker, unit, index, unsafe
        self.applied: list[Diagnostic] = []
        self.set_aside: dict[SpanKey, str] = {}  # fixes that failed alone, with the reason
        self.found: list[Diagnostic] = []

    def run(self, state: _State) -> FileFix:
        self.found = state.diagnostics
        # Each pass applies a fix or sets one aside, so the loop ends; the bound only caps the work.
        for _ in range(MAX_PASSES):
            todo = self._todo(state)
            if not todo:
                break
            try:
                state = self._pass(state, todo)
            except _PassFailed as failure:
                state = self._isolate(state, todo, failure)
            else:
                self.applied.extend(todo)
        return self._result(state)

    def _todo(self, state: _State) -> list[Diagnostic]:
        lines = state.text.splitlines() if self.set_aside else []
        todo = [
            d
            for d in state.diagnostics
            if wanted(d, self.unsafe) and (not lines or _span_key(d, lines) not in self.set_aside)
        ]
        # Comment edits address rows of the current text: apply them in a pass without CST edits.
        return [d for d in todo if not _text_only(d)] or todo

    def _pass(self, state: _State, todo: list[Diagnostic]) -> _State:
        """Apply ``todo`` to ``state`` and verify the result (raises :class:`_PassFailed`)."""
        try:
            new_text = _apply(state.model, state.text, todo)
        except (RewriteError, ValueError) as error:
            raise _PassFailed(f"cannot apply the fix: {error}") from error
        try:
            parse_python(new_text)
        except SyntaxError as error:
            raise _PassFailed(f"fixed code would not parse: {error.msg}") from error
        if new_text == state.text:
            raise _PassFailed("the fix makes no change")
        unit = self.unit
        # A fix changes what the file's classes do with their dtypes (FLX002 moves `self.dtype` out of a
        # `param_dtype=`), and so their roles: the index learns the fixed file's summary before it is read.
        current = Unit(unit.filename, new_text, unit.module_name, unit.is_package)
        self.checker.summarize(current)
        if current.summary is not None:
            self.index.add(current.summary)
        model, diagnostics = self.checker.diagnose(current, self.index)
        if model is None:
            raise _PassFailed("libcst cannot read the fixed code")
        if _left_in_place(state.diagnostics, todo, diagnostics):
            raise _PassFailed("the fix leaves its finding in place")
        return _State(new_text, model, diagnostics)

    def _isolate(self, state: _State, todo: list[Diagnostic], failure: _PassFailed) -> _State:
        """After a failed pass: find the fixes that fail alone by bisection, on the same text, and set them
        aside (about 2 log2 n analyses for one bad fix among n).

        If none fails alone (they only fail together), the first group that works is kept and the others
        wait for the next pass. Either way the loop progresses: a fix is applied or one is set aside.
        """
        lines = state.text.splitlines()
        working: list[tuple[list[Diagnostic], _State]] = []

        def bisect(group: list[Diagnostic], reason: str) -> None:
            if len(group) == 1:
                self.set_aside[_span_key(group[0], lines)] = reason
                return
            for half in (group[: len(group) // 2], group[len(group) // 2 :]):
                try:
                    working.append((half, self._pass(state, half)))
                except _PassFailed as half_failure:
                    bisect(half, half_failure.reason)

        bisect(todo, failure.reason)
        if sum(len(group) for group, _ in working) < len(todo):
            return state  # some were set aside: the next pass applies the others together
        group, after = working[0]
        self.applied.extend(group)
        return after

    def _result(self, state: _State) -> FileFix:
        lines = state.text.splitlines()
        reasons = {key[:2]: reason for key, reason in self.set_aside.items()}
        not_fixed = []
        for diagnostic in state.diagnostics:
            if wanted(diagnostic, self.unsafe):
                key = _span_key(diagnostic, lines)
                reason = self.set_aside.get(key) or reasons.get(key[:2])
                not_fixed.append(
                    NotFixed(diagnostic, reason or f"fixes did not converge in {MAX_PASSES} passes")
                )
        return FileFix(self.unit, state.text, self.applied, state.diagnostics, not_fixed, self.found)


def _left_in_place(
    before: list[Diagnostic], fixed: list[Diagnostic], after: list[Diagnostic]
) -> frozenset[FindingKey]:
    """The findings (code and message) more frequent after a pass than before it minus those it fixed.

    Findings cannot be matched one to one across a rewrite (rows move), so they are counted; the message
    names the layer or parameter, so a finding a fix reveals (FLX007 on the parameter FLX004 made float32)
    is not taken for one a fix of the same code left. The leftover may offer no fix any more, so waiting
    for the loop to stall would not catch it.
    """
    counts_before, counts_after = Counter(map(_finding_key, before)), Counter(map(_finding_key, after))
    return frozenset(
        key
        for key, count in Counter(map(_finding_key, fixed)).items()
        if counts_after[key] > counts_before[key] - count
    )


def _finding_key(diagnostic: Diagnostic) -> FindingKey:
    return diagnostic.code, diagnostic.message


def _span_key(diagnostic: Diagnostic, lines: list[str]) -> SpanKey:
    """A finding's code, message and the text it spans: tells one set-aside fix from its look-alikes."""
    start, end = diagnostic.location, diagnostic.end_location
    rows = lines[start.row - 1 : end.row]
    if not rows:
        return diagnostic.code, diagnostic.message, ""
    if len(rows) == 1:
        span = rows[0][start.column - 1 : end.column - 1]
    else:
        span = "\n".join([rows[0][start.column - 1 :], *rows[1:-1], rows[-1][: end.column - 1]])
    return diagnostic.code, diagnostic.message, span


def _text_only(diagnostic: Diagnostic) -> bool:
    assert diagnostic.fix is not None
    return all(isinstance(edit, ReplaceText) for edit in diagnostic.fix.edits)


def _apply(model, text: str, diagnostics: list[Diagnostic]) -> str:
    """Apply CST edits on the file model's module, then comment-level text edits (noqa removal)."""
    edits: list[Edit] = []
    text_edits: list[ReplaceText] = []
    imports: list[ImportNeed] = []
    for diagnostic in diagnostics:
        assert diagnostic.fix is not None
        for edit in diagnostic.fix.edits:
            (text_edits if isinstance(edit, ReplaceText) else edits).append(edit)
        imports.extend(need for need in diagnostic.fix.imports if need not in imports)
    if edits:
        if model is None:
            raise ValueError("no syntax tree for this file")
        text = apply_edits(model.module, edits, imports).code
    if text_edits:
        text = apply_text_edits(text, text_edits)
    return text


def fix_source(
    text: str, filename: str = "<stdin>", unsafe: bool = False, checker: Checker | None = None
) -> str:
    """The fixed text of one source (default rule selection); raises ValueError when a fix cannot be made."""
    from pathlib import Path

    checker = checker or Checker()
    unit = Unit(filename, text, Path(filename).stem if filename != "<stdin>" else "__main__")
    result = fix_unit(checker, unit, checker.index_units([unit]), unsafe=unsafe)
    if result.not_fixed:
        raise ValueError("; ".join(describe(item) for item in result.not_fixed))
    return result.fixed


def describe(item: NotFixed) -> str:
    """``file:row:col: CODE not fixed: reason``, as ``fix`` prints it."""
    d = item.diagnostic
    return f"{d.filename}:{d.location.row}:{d.location.column}: {d.code} not fixed: {item.reason}"
