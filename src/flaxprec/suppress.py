"""``# noqa`` comments: which findings they suppress, which are unused (FLX901), and ``--add-noqa``.

The syntax is ruff's (and flake8's): ``# noqa`` suppresses everything on its line, ``# noqa: FLX001, FLX002``
(codes separated by commas and/or spaces, ``noqa`` in any case) suppresses those codes. A finding counts as
suppressed by a directive on its first row, its last row (the closing bracket of a multi-line call) or the
first row of its statement. ``# flaxprec: noqa`` / ``# flaxprec: noqa: FLX002`` on a line of its own
exempts the whole file.

Comments are found with :mod:`tokenize`, never with a regex over the text: ``"# noqa"`` inside a string is
not a comment, and a comment cannot be appended to a line that ends inside a multi-line string.
"""

from __future__ import annotations

import bisect
import itertools
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from flaxprec.diagnostics import Applicability, Diagnostic, Fix, Location, ReplaceText

__all__ = [
    "UNUSED_NOQA_CODE",
    "UNUSED_NOQA_NAME",
    "NoqaDirective",
    "NoqaIndex",
    "add_noqa",
    "apply_noqa",
    "apply_text_edits",
    "mentions_noqa",
    "noqa_row",
    "parse_noqa",
    "split_lines",
]

UNUSED_NOQA_CODE = "FLX901"
UNUSED_NOQA_NAME = "unused-noqa"
UNUSED_NOQA_FIX_TITLE = "Remove unused `noqa` directive"

_CODES = r"[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*"
# The keyword must end where it ends ("noqa-ish" is no directive); a colon without codes makes a blanket
# directive, as in flake8.
_NOQA_RE = re.compile(rf"#\s*noqa(?![^\s:])(?:\s*:\s*(?P<codes>{_CODES}))?", re.IGNORECASE)
_FILE_NOQA_RE = re.compile(
    rf"#\s*flaxprec\s*:\s*noqa(?![^\s:])(?:\s*:\s*(?P<codes>{_CODES}))?", re.IGNORECASE
)
_CODE_SPLIT_RE = re.compile(r"[\s,]+")
_CODE_RE = re.compile(r"[A-Za-z]+[0-9]+")
_MENTION_RE = re.compile("noqa", re.IGNORECASE)  # what every directive holds, in any case (upper too)
# Codes of this tool; other codes in a shared directive (E501 next to FLX001) belong to other linters.
_OWN_CODE_RE = re.compile(r"FLX[0-9]+\Z")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# What str.splitlines breaks at besides \r and \n.
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass
class NoqaDirective:
    """One ``# noqa`` directive: ``codes`` is ``None`` for a blanket one (upper-cased otherwise).

    Columns are 0-based character offsets into the line: ``start_col`` is the directive's ``#``, ``end_col``
    is just past its last code (or past ``noqa``). ``comment_col`` is where the whole comment starts (a
    directive may follow other comment text: ``# type: ignore  # noqa``); ``raw_codes`` keeps the codes in
    the order written; ``code_spans`` each code as written (any case, repeats included) with its columns, so
    that a fix removes one code and leaves the others byte for byte.
    """

    row: int
    codes: frozenset[str] | None
    start_col: int
    end_col: int
    comment_col: int = -1
    raw_codes: tuple[str, ...] = ()
    code_spans: tuple[tuple[str, int, int], ...] = ()
    line: str = field(default="", compare=False, repr=False)

    @property
    def is_blanket(self) -> bool:
        return self.codes is None

    def suppresses(self, code: str) -> bool:
        return self.codes is None or code in self.codes


@dataclass
class NoqaIndex:
    """The ``# noqa`` facts of one file, from :func:`parse_noqa`."""

    filename: str
    lines: list[str]
    directives: dict[int, NoqaDirective] = field(default_factory=dict)
    file_directives: list[NoqaDirective] = field(default_factory=list)
    # Rows whose line break lies inside a token (a multi-line string) or after a backslash continuation:
    # a comment cannot be appended there.
    no_comment_rows: frozenset[int] = frozenset()

    def file_suppresses(self, code: str) -> bool:
        return any(d.suppresses(code) for d in self.file_directives)


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where Python sees a line break (``\\r\\n``, ``\\r``, ``\\n``).

    ``str.splitlines`` also splits on form feeds and Unicode separators, which would shift every row: it
    is used (five times faster) only for a text that has none of them.
    """
    if _OTHER_BREAKS.search(text) is None:
        return text.splitlines(keepends=True)
    return _LINE_RE.findall(text)


def mentions_noqa(text: str) -> bool:
    """Could ``text`` hold a directive? (Without "noqa" in some case, it holds none: nothing to tokenize.)"""
    return _MENTION_RE.search(text) is not None


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _parse_codes(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    seen: dict[str, None] = {}
    for code in _CODE_SPLIT_RE.split(text.strip()):
        if code:
            seen.setdefault(code.upper(), None)
    return tuple(seen)


def _tokens(lines: list[str]) -> Iterator[tokenize.TokenInfo]:
    """The file's tokens, stopping quietly where tokenize gives up (a file that does not parse is FLX900)."""
    it = iter(lines)
    try:
        yield from tokenize.generate_tokens(lambda: next(it, ""))
    except (tokenize.TokenError, SyntaxError):
        return


def parse_noqa(source_text: str, filename: str = "-", starts: Sequence[int] | None = None) -> NoqaIndex:
    """Find every ``# noqa`` and ``# flaxprec: noqa`` comment of ``source_text``.

    ``starts``: rows where a top-level statement begins, where tokenizing can start afresh (no string or
    bracket is open there). With them, only the stretches from such a row to a row that mentions ``noqa``
    are tokenized: the directives are the same, for a fraction of the time on a large file, but
    ``no_comment_rows`` stays empty (``--add-noqa`` reads it, and passes no ``starts``).
    """
    lines = split_lines(source_text)
    bom = 1 if source_text.startswith("\ufeff") else 0
    token_lines = [lines[0][bom:], *lines[1:]] if lines else []
    index = NoqaIndex(filename=filename, lines=lines)
    no_comment: set[int] = set()
    comment_rows: set[int] = set()
    windows = [(1, len(token_lines))] if starts is None else _windows(lines, starts)
    for first, last in windows:
        for tok in _tokens(token_lines[first - 1 : last]):
            (srow, scol), (erow, _ecol) = tok.start, tok.end
            srow, erow = srow + first - 1, erow + first - 1
            if erow > srow and tok.type not in (tokenize.NL, tokenize.NEWLINE):
                no_comment.update(range(srow, erow))
            if tok.type == tokenize.COMMENT:
                comment_rows.add(srow)
                _directive(index, tok.string, srow, scol + (bom if srow == 1 else 0), lines[srow - 1])
    if starts is None:
        for row, line in enumerate(lines, start=1):
            if _body(line).endswith("\\") and row not in comment_rows:
                no_comment.add(row)
        index.no_comment_rows = frozenset(no_comment)
    return index


def _windows(lines: list[str], starts: Sequence[int]) -> list[tuple[int, int]]:
    """(first, last) rows to tokenize: from the statement start at or before each row that mentions
    ``noqa`` (any case) to the last such row after that start."""
    ordered = sorted(set(starts))
    windows: dict[int, int] = {}
    for row, line in enumerate(lines, start=1):
        if mentions_noqa(line):
            at = bisect.bisect_right(ordered, row) - 1
            windows[ordered[at] if at >= 0 else 1] = row
    return sorted(windows.items())


def _spans(match: re.Match[str], col: int) -> tuple[tuple[str, int, int], ...]:
    """Each code of a directive match, upper-cased, with its columns in the line (``col``: the comment's)."""
    if match.group("codes") is None:
        return ()
    base = col + match.start("codes")
    return tuple(
        (m.group().upper(), base + m.start(), base + m.end()) for m in _CODE_RE.finditer(match["codes"])
    )


def _directive(index: NoqaIndex, comment: str, row: int, col: int, line: str) -> None:
    """Record the directives of one comment (``col``: its column in the line, a BOM counted)."""
    line = _body(line)
    own_line = not line[:col].strip(" \t\f\ufeff")
    file_match = _FILE_NOQA_RE.match(comment)
    if file_match and own_line:
        codes = _parse_codes(file_match.group("codes"))
        index.file_directives.append(
            NoqaDirective(
                row,
                frozenset(codes) if codes else None,
                col,
                col + file_match.end(),
                col,
                codes,
                _spans(file_match, col),
                line,
            )
        )
    # After a file-level directive, the same comment may still hold a line one (``--add-noqa`` appends).
    match = _NOQA_RE.search(comment, file_match.end() if file_match else 0)
    if match:
        codes = _parse_codes(match.group("codes"))
        index.directives[row] = NoqaDirective(
            row=row,
            codes=frozenset(codes) if codes else None,
            start_col=col + match.start(),
            end_col=col + match.end(),
            comment_col=col,
            raw_codes=codes,
            code_spans=_spans(match, col),
            line=line,
        )


def _rows(diagnostic: Diagnostic) -> list[int]:
    rows = [diagnostic.location.row, diagnostic.end_location.row]
    if diagnostic.statement_row is not None:
        rows.append(diagnostic.statement_row)
    return list(dict.fromkeys(rows))


def apply_noqa(
    diagnostics: Iterable[Diagnostic],
    index: NoqaIndex,
    *,
    is_enabled: Callable[[str], bool] | None = None,
    is_known: Callable[[str], bool] | None = None,
    report_blanket: bool = False,
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Split ``diagnostics`` into those no directive suppresses, and FLX901 findings for unused directives.

    Only this tool's directives can be unused: the ``FLX`` codes of a ``# noqa: ...`` and of a
    ``# flaxprec: noqa: ...``. Codes of other tools (``E501``) are never reported and a fix keeps them as
    written; a blanket ``# noqa`` (``# noqa E722`` and ``# noqa #type:ignore`` are blanket too) belongs to
    every linter and is reported only with ``report_blanket`` (``noqa-blanket-unused = true``). A blanket
    ``# flaxprec: noqa`` exempts the file from FLX901 too.

    ``is_enabled`` tells whether a rule ran on this file: a ``# noqa: FLX005`` is not "unused" in a run that
    did not check FLX005 (ruff calls these non-enabled; reporting them would make ``--select`` runs strip
    directives a full run needs). ``is_known`` tells whether a code is a rule of this tool (by default, the
    registry's); an ``FLX`` code that is none (``FLX999``, a typo) suppresses nothing and is always reported.
    Whether FLX901 itself is selected is the caller's business.
    """
    if is_known is None:
        from flaxprec.rules import rule_by_code

        def is_known(code: str) -> bool:
            return rule_by_code(code) is not None

    kept: list[Diagnostic] = []
    used: dict[int, set[str]] = {}
    file_used: list[set[str]] = [set() for _ in index.file_directives]
    for diagnostic in diagnostics:
        exempt = next((i for i, d in enumerate(index.file_directives) if d.suppresses(diagnostic.code)), None)
        if exempt is not None:
            file_used[exempt].add(diagnostic.code)
            continue
        for row in _rows(diagnostic):
            directive = index.directives.get(row)
            if directive is not None and directive.suppresses(diagnostic.code):
                used.setdefault(row, set()).add(diagnostic.code)
                break
        else:
            kept.append(diagnostic)
    if index.file_suppresses(UNUSED_NOQA_CODE):
        return kept, []
    candidates = [
        *((d, u) for d, u in zip(index.file_directives, file_used, strict=True) if not d.is_blanket),
        *((index.directives[row], used.get(row, set())) for row in sorted(index.directives)),
    ]
    unused = [
        finding
        for directive, directive_used in candidates
        if (
            finding := _unused_finding(directive, directive_used, index, is_enabled, is_known, report_blanket)
        )
    ]
    return kept, sorted(unused, key=lambda d: (d.location.row, d.location.column))


def _unused_finding(
    directive: NoqaDirective,
    used: set[str],
    index: NoqaIndex,
    is_enabled: Callable[[str], bool] | None,
    is_known: Callable[[str], bool],
    report_blanket: bool,
) -> Diagnostic | None:
    applicability = Applicability.SAFE
    if directive.is_blanket:
        if used or not report_blanket:
            return None
        message = "Unused blanket `noqa` directive"
        edit = _remove_directive(directive)
        # flake8 and ruff honour a blanket directive too: it may be there for them, not for us.
        applicability = Applicability.UNSAFE
    else:
        if UNUSED_NOQA_CODE in directive.raw_codes:
            return None
        own = [code for code in directive.raw_codes if _OWN_CODE_RE.match(code) and code not in used]
        unknown = [code for code in own if not is_known(code)]
        unused = [code for code in own if code not in unknown and (is_enabled is None or is_enabled(code))]
        if not unused and not unknown:
            return None
        parts = []
        if unused:
            parts.append(f"unused: {', '.join(f'`{c}`' for c in unused)}")
        if unknown:
            parts.append(f"not a flaxprec code: {', '.join(f'`{c}`' for c in unknown)}")
        message = f"Unused `noqa` directive ({'; '.join(parts)})"
        edit = _remove_codes(directive, {*unused, *unknown})
    return Diagnostic(
        code=UNUSED_NOQA_CODE,
        name=UNUSED_NOQA_NAME,
        message=message,
        filename=index.filename,
        location=Location(directive.row, directive.start_col + 1),
        end_location=Location(directive.row, directive.end_col + 1),
        # The text form too: a finding that crosses a process or the cache keeps only that.
        fix=Fix(UNUSED_NOQA_FIX_TITLE, applicability, (edit,), text=(edit.as_text(),)),
        statement_row=directive.row,
    )


def _remove_codes(directive: NoqaDirective, removed: set[str]) -> ReplaceText:
    """The edit that removes the ``removed`` codes of a directive; every other code is kept as written, with
    the separator written before it (``# noqa: E501 ,FLX001, W291`` becomes ``# noqa: E501, W291``). The
    whole directive goes when no code is left."""
    spans = directive.code_spans
    if all(code in removed for code, _, _ in spans):
        return _remove_directive(directive)
    line = directive.line
    out: list[str] = []
    for i, (code, start, end) in enumerate(spans):
        if code in removed:
            continue
        if out:
            out.append(line[spans[i - 1][2] : start])  # the separator written before this code
        out.append(line[start:end])
    return ReplaceText(directive.row, spans[0][1], spans[-1][2], "".join(out))


def _remove_directive(directive: NoqaDirective) -> ReplaceText:
    """The edit that deletes a directive, and the whole comment when the directive is all it says."""
    line = directive.line
    start, end = directive.start_col, directive.end_col
    # Take the blanks before the directive with it, so that no trailing whitespace is left behind.
    ws_start = len(line[:start].rstrip(" \t"))
    rest = line[end:]
    if start == directive.comment_col:
        if not rest.strip():
            return ReplaceText(directive.row, ws_start, len(line), "")
        # A directive followed by an explanation keeps the explanation as a comment.
        stripped = rest.lstrip(" \t")
        skip = len(rest) - len(stripped)
        if _NOQA_RE.match(stripped):
            # A line directive after a file-level one (``--add-noqa`` appends it there) may be removed by
            # the same run: its edit takes the blanks before it, this one must stop short of them.
            return ReplaceText(directive.row, start, end, "")
        return ReplaceText(directive.row, start, end + skip, "" if stripped.startswith("#") else "# ")
    return ReplaceText(directive.row, ws_start, end, "")


def apply_text_edits(text: str, edits: Sequence[ReplaceText]) -> str:
    """``text`` with every edit applied; edits must not overlap. Line endings are left as they are."""
    lines = split_lines(text)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    spans: list[tuple[int, int, str]] = []
    for edit in edits:
        if not 1 <= edit.row <= len(lines):
            raise ValueError(f"edit row {edit.row} outside the text (1..{len(lines)})")
        width = len(_body(lines[edit.row - 1]))
        if not 0 <= edit.start_col <= edit.end_col <= width:
            raise ValueError(
                f"edit columns {edit.start_col}:{edit.end_col} outside row {edit.row} (0..{width})"
            )
        base = starts[edit.row - 1]
        spans.append((base + edit.start_col, base + edit.end_col, edit.value))
    spans.sort(key=lambda s: (s[0], s[1]))
    for (_, prev_end, _), (start, _, _) in itertools.pairwise(spans):
        if start < prev_end:
            raise ValueError("overlapping text edits")
    out: list[str] = []
    pos = 0
    for start, end, value in spans:
        out.append(text[pos:start])
        out.append(value)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def noqa_row(diagnostic: Diagnostic, index: NoqaIndex) -> int | None:
    """The row ``--add-noqa`` writes this finding's directive on (ruff's ``noqa_row``), or ``None``.

    The last row (the closing bracket of a multi-line call) is preferred, so that the first line of a long
    call does not grow; rows that end inside a multi-line string or with a backslash are skipped.
    """
    candidates = [diagnostic.end_location.row, diagnostic.statement_row, diagnostic.location.row]
    for row in candidates:
        if row is not None and 1 <= row <= len(index.lines) and row not in index.no_comment_rows:
            return row
    return None


def add_noqa(source_text: str, diagnostics: Iterable[Diagnostic]) -> str:
    """``source_text`` with a ``# noqa: CODE`` for every finding no directive suppresses yet (idempotent).

    An existing ``# noqa: X`` on the row gains the codes (kept sorted); otherwise ``  # noqa: CODES`` is
    appended after the line's code and any comment it has. Findings that have no row a comment can go on
    are left alone.
    """
    index = parse_noqa(source_text)
    # Silencing FLX901 on the very directive it reports would only pile one directive on another.
    pending, _ = apply_noqa([d for d in diagnostics if d.code != UNUSED_NOQA_CODE], index)
    by_row: dict[int, set[str]] = {}
    for diagnostic in pending:
        row = noqa_row(diagnostic, index)
        if row is not None:
            by_row.setdefault(row, set()).add(diagnostic.code)
    edits: list[ReplaceText] = []
    for row, codes in by_row.items():
        directive = index.directives.get(row)
        body = _body(index.lines[row - 1])
        if directive is not None and directive.codes is not None:
            merged = sorted({*directive.raw_codes, *codes})
            edits.append(
                ReplaceText(row, directive.start_col, directive.end_col, "# noqa: " + ", ".join(merged))
            )
        elif directive is None:
            end = len(body.rstrip(" \t"))
            edits.append(ReplaceText(row, end, len(body), "  # noqa: " + ", ".join(sorted(codes))))
    return apply_text_edits(source_text, edits)
