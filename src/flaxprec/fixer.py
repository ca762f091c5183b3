"""``flaxprec fix``: apply the fixes of one file in one pass, verify, and only then hand back new text.

All edits of a file are applied together (the rewriter merges the edits of one call into one). The result
must parse and is analysed again; a fix whose finding is still there, or a rewrite that does not
converge, is an error and the file is left alone. A few passes are allowed because one fix can make
another possible (a positional ``param_dtype`` becomes a keyword, then its value is fixed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from flaxprec.apply_edits import apply_edits
from flaxprec.call_rewrite import RewriteError
from flaxprec.deep import parse_python, retry_when_deep
from flaxprec.diagnostics import Applicability, Diagnostic, Edit, ImportNeed, ReplaceText
from flaxprec.engine import Checker, Unit
from flaxprec.project import ProjectIndex
from flaxprec.suppress import apply_text_edits

MAX_PASSES = 4


@dataclass
class FileFix:
    unit: Unit
    fixed: str
    applied: list[Diagnostic] = field(default_factory=list)
    remaining: list[Diagnostic] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.error is None and self.fixed != self.unit.text


def wanted(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and (fix.applicability is Applicability.SAFE or unsafe)


@retry_when_deep  # libcst's walks of a deeply nested file: redone on a large stack (flaxprec.deep)
def fix_unit(checker: Checker, unit: Unit, index: ProjectIndex, unsafe: bool = False) -> FileFix:
    """Fix one file of the indexed tree (its summary is in ``index``; a fix never changes class facts)."""
    text = unit.text
    applied: list[Diagnostic] = []
    current = unit
    last_pass: tuple[list[Diagnostic], list[Diagnostic]] | None = None
    for _ in range(MAX_PASSES):
        model, diagnostics = checker.diagnose(current, index)
        if last_pass is not None and (code := _left_in_place(*last_pass, diagnostics)) is not None:
            return FileFix(unit, unit.text, applied, diagnostics, f"a fix left its finding in place ({code})")
        todo = [d for d in diagnostics if wanted(d, unsafe)]
        # Comment edits address rows of the current text: apply them in a pass without CST edits.
        cst_todo = [d for d in todo if not _text_only(d)]
        todo = cst_todo or todo
        if not todo:
            return FileFix(unit, text, applied, diagnostics)
        try:
            new_text = _apply(model, text, todo)
        except (RewriteError, ValueError) as error:
            return FileFix(unit, unit.text, applied, diagnostics, f"cannot apply fixes: {error}")
        try:
            parse_python(new_text)
        except SyntaxError as error:
            return FileFix(unit, unit.text, applied, diagnostics, f"fixed code would not parse: {error.msg}")
        if new_text == text:
            return FileFix(unit, unit.text, applied, diagnostics, "fixes made no change")
        applied.extend(todo)
        last_pass = (diagnostics, todo)
        text = new_text
        current = Unit(unit.filename, text, unit.module_name, unit.is_package, unit.summary)
    _, diagnostics = checker.diagnose(current, index)
    leftover = [d for d in diagnostics if wanted(d, unsafe)]
    return FileFix(
        unit, unit.text, applied, diagnostics, f"fixes did not converge ({leftover[0].code} remains)"
    )


def _left_in_place(before: list[Diagnostic], fixed: list[Diagnostic], after: list[Diagnostic]) -> str | None:
    """A code with more findings after a pass than before it minus the ones the pass fixed, if any.

    Findings cannot be matched one to one across a rewrite (rows move), so they are counted per code. The
    leftover may offer no fix any more, so waiting for the loop to stall would not catch it.
    """
    counts_before, counts_after = Counter(d.code for d in before), Counter(d.code for d in after)
    for code, count in Counter(d.code for d in fixed).items():
        if counts_after[code] > counts_before[code] - count:
            return code
    return None


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
    """The fixed text of one source (default rule selection); raises ValueError when fixing fails."""
    from pathlib import Path

    checker = checker or Checker()
    unit = Unit(filename, text, Path(filename).stem if filename != "<stdin>" else "__main__")
    result = fix_unit(checker, unit, checker.index_units([unit]), unsafe=unsafe)
    if result.error is not None:
        raise ValueError(result.error)
    return result.fixed
