"""A finding's fixed file as its original lines with a window of them replaced, and the fix read off it.

A report that shows fixes (``json``, ``sarif``, ``full``, ``--show-fixes``) turns each finding's fix into
minimal text edits and a unified-diff hunk. Rebuilding and diffing the whole file per finding made the
report quadratic in the findings of one file (6,000 findings took 148 s of ``full``, issue 19): a fix that
comes as text edits changes a few lines, so the fixed file is kept as the original's lines (split once per
file) with the edited lines swapped for a window, and the edits and the hunk are computed from the window,
their rows offset back to the file's.

Both read the fixed file through :class:`Fixed`, whether it is a window or a whole fixed text (a fix the
fixer had to apply to the whole file): one algorithm, so a window gives what the whole file gives.
"""

from __future__ import annotations

import bisect
import difflib  # imported with this module: only by a report that shows fixes
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flaxprec.diagnostics import Location, ReplaceText, TextEdit
from flaxprec.suppress import split_lines

# Unchanged lines kept on each side of the edited ones; the window grows past them only where a line
# break would join across its edge (a lone ``\r`` meeting a ``\n``).
CONTEXT = 1


@dataclass
class FileLines:
    """A checked file split once: what every finding's window of that file is cut from."""

    source: str
    lines: list[str]  # with their endings
    starts: list[int]  # each line's offset, then the length of the source
    _bodies: list[str] | None = field(default=None, repr=False)
    _counts: Counter[str] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, source: str) -> FileLines:
        lines = split_lines(source)
        return cls(source, lines, list(itertools.accumulate(map(len, lines), initial=0)))

    @property
    def bodies(self) -> list[str]:
        """The lines without their endings, as the diff compares them."""
        if self._bodies is None:
            self._bodies = [line.rstrip("\r\n") for line in self.lines]
        return self._bodies

    @property
    def counts(self) -> Counter[str]:
        """How often each body occurs: the lines ``difflib`` junks in a file of 200 lines or more."""
        if self._counts is None:
            self._counts = Counter(self.bodies)
        return self._counts


@dataclass
class Fixed:
    """The fixed file: ``old``'s lines with lines ``a:b`` replaced by ``window`` (lines with endings)."""

    old: FileLines
    a: int
    b: int
    window: list[str]

    @classmethod
    def whole(cls, old: FileLines, fixed: str) -> Fixed:
        """A fixed text given whole (a fix only the fixer can apply): the window is the file."""
        return cls(old, 0, len(old.lines), split_lines(fixed))

    @classmethod
    def from_edits(cls, old: FileLines, edits: Sequence[TextEdit]) -> Fixed:
        """``old`` with ``edits`` applied as :func:`flaxprec.fix_text.apply_text` applies them, to a window
        of lines around them; to the whole file when they overlap or point outside it (then a window would
        not be what ``apply_text`` makes)."""
        ordered = sorted(edits, key=lambda e: e.location, reverse=True)  # apply_text's order
        spans = _spans(old, ordered)
        if spans is None:
            from flaxprec.fix_text import apply_text

            return cls.whole(old, apply_text(old.source, edits))
        n = len(old.lines)
        if not spans:
            return cls(old, 0, 0, [])
        lowest, highest = spans[-1][0], spans[0][1]
        a = max(0, min(bisect.bisect_right(old.starts, lowest) - 1, n - 1) - CONTEXT)
        b = min(n, bisect.bisect_right(old.starts, highest) + CONTEXT)
        while True:
            first, last = old.starts[a], old.starts[b]
            text = old.source[first:last]
            for start, end, content in spans:
                text = text[: start - first] + content + text[end - first :]
            if (a == 0 or _joins(old.source[first - 1], text[:1] or old.source[last : last + 1])) and (
                b == n or _joins(text[-1:] or old.source[first - 1 : first], old.source[last])
            ):
                return cls(old, a, b, split_lines(text))
            a, b = max(0, a - 1), min(n, b + 1)

    def __len__(self) -> int:
        return len(self.old.lines) - (self.b - self.a) + len(self.window)

    def line(self, j: int) -> str:
        """Line ``j`` (0-based) of the fixed file, with its ending."""
        if j < self.a:
            return self.old.lines[j]
        if j - self.a < len(self.window):
            return self.window[j - self.a]
        return self.old.lines[j - len(self.window) + self.b - self.a]

    def body(self, j: int) -> str:
        """Line ``j`` of the fixed file without its ending."""
        if j < self.a:
            return self.old.bodies[j]
        if j - self.a < len(self.window):
            return self.window[j - self.a].rstrip("\r\n")
        return self.old.bodies[j - len(self.window) + self.b - self.a]


def comment_edits(old: FileLines, edits: Sequence[ReplaceText]) -> Fixed | None:
    """``old`` with comment edits (``# noqa`` clean-up) applied, ``None`` where
    :func:`flaxprec.suppress.apply_text_edits` rejects them: from a window, unless two start at one place
    (which ``apply_text_edits`` orders otherwise than ``apply_text``) or they break its rules."""
    bodies = old.bodies
    spans = sorted((edit.row, edit.start_col, edit.end_col) for edit in edits)
    for row, start, end in spans:
        if not 1 <= row <= len(bodies) or not 0 <= start <= end <= len(bodies[row - 1]):
            return None
    pairs = [(row, end, next_row, start) for (row, _, end), (next_row, start, _) in itertools.pairwise(spans)]
    if any(row == next_row and start < end for row, end, next_row, start in pairs):
        return None  # overlapping
    if any((row, end) == (next_row, start) for row, end, next_row, start in pairs):
        from flaxprec.suppress import apply_text_edits

        return Fixed.whole(old, apply_text_edits(old.source, edits))
    return Fixed.from_edits(old, [edit.as_text() for edit in edits])


def _spans(old: FileLines, ordered: Sequence[TextEdit]) -> list[tuple[int, int, str]] | None:
    """Each edit's character span in ``old.source`` (last first), None unless they are all inside it, in
    order and apart."""
    rows = len(old.starts)
    spans = []
    limit = len(old.source)
    for edit in ordered:
        if not (1 <= edit.location.row <= rows and 1 <= edit.end_location.row <= rows):
            return None
        start = old.starts[edit.location.row - 1] + edit.location.column - 1
        end = old.starts[edit.end_location.row - 1] + edit.end_location.column - 1
        if not 0 <= start <= end <= limit:
            return None
        limit = start
        spans.append((start, end, edit.content))
    return spans


def _joins(before: str, after: str) -> bool:
    """Do lines split apart at this boundary stay apart when joined? (``before``: the last character on
    the left, ``after``: the first on the right; a line ending must be on the left, and no ``\\r\\n`` may
    form across it.)"""
    return not before or not after or (before in ("\r", "\n") and not (before == "\r" and after == "\n"))


# -- the fix read off the fixed file --------------------------------------------------------------------


def _head(old: Callable[[int], str], new: Callable[[int], str], size: int, known: int) -> int:
    """How many leading lines the two files share (``known``: at least that many)."""
    k = known
    while k < size and old(k) == new(k):
        k += 1
    return k


def _tail(
    old: Callable[[int], str], new: Callable[[int], str], lengths: tuple[int, int], head: int, known: int
) -> int:
    """How many trailing lines the two files share after the first ``head`` (``known``: at least that many
    unless ``head`` cuts into them)."""
    la, lb = lengths
    size = min(la, lb) - head
    k = min(known, size)
    while k < size and old(la - 1 - k) == new(lb - 1 - k):
        k += 1
    return k


def text_edits(fixed: Fixed) -> list[TextEdit]:
    """Minimal replacements turning the original file into ``fixed``.

    Changed blocks of lines, each trimmed to the characters that differ, so that adding ``dtype=...`` to a
    call is one insertion rather than a rewritten line, and an added import is an edit of its own. The
    lines both files begin and end with are left out of the diff: SequenceMatcher's time grows with the
    square of the lines it is given when many are alike (600 findings on 600 equal lines took 30 s).
    """
    old = fixed.old
    la, lb = len(old.lines), len(fixed)
    head = _head(old.lines.__getitem__, fixed.line, min(la, lb), fixed.a)
    tail = _tail(old.lines.__getitem__, fixed.line, (la, lb), head, la - fixed.b)
    new = [fixed.line(j) for j in range(head, lb - tail)]
    matcher = difflib.SequenceMatcher(a=old.lines[head : la - tail], b=new, autojunk=False)
    edits = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        a, b = "".join(old.lines[head + i1 : head + i2]), "".join(new[j1:j2])
        prefix = _common_prefix(a, b)
        suffix = _common_prefix(a[prefix:][::-1], b[prefix:][::-1])
        start, end = old.starts[head + i1] + prefix, old.starts[head + i2] - suffix
        content = b[prefix : len(b) - suffix]
        edits.append(TextEdit(_location(old, start), _location(old, end), content))
    return edits


def unified_diff(fixed: Fixed) -> list[str]:
    """The hunks (no file header) of ``difflib.unified_diff(old, new, n=1, lineterm="")`` over the files'
    lines without their endings, computed from the lines that differ when that gives the same.

    ``difflib`` matches the longest stretch first, looking for its start among the lines it does not junk
    (junk: those in more than 1% of a file of 200 lines or more), then recurses on both sides. When no line
    of the changed middle occurs elsewhere in the file (junk aside) and none equals a line beside the
    middle, it can only match the lines both files begin and end with as they are, and the middle on its
    own: then it is asked about the middle only, with the whole file's junk. Otherwise (a fix inside one of
    two equal stretches, a line inserted beside an equal one) its answer may depend on any stretch of the
    file, and it gets the whole file, as before.
    """
    old = fixed.old
    la, lb = len(old.lines), len(fixed)
    head = _head(old.bodies.__getitem__, fixed.body, min(la, lb), fixed.a)
    tail = _tail(old.bodies.__getitem__, fixed.body, (la, lb), head, la - fixed.b)
    before, after = old.bodies[head : la - tail], [fixed.body(j) for j in range(head, lb - tail)]
    if not before and not after:
        return []
    popular = _popular(old, lb, before, after)
    beside = {old.bodies[head - 1]} if head else set()
    if tail:
        beside.add(old.bodies[la - tail])
    in_middle = Counter(before)
    if any(
        line in beside or (old.counts[line] != in_middle[line] and not popular(line))
        for line in itertools.chain(in_middle, after)
    ):
        new = [fixed.body(j) for j in range(lb)]
        return list(difflib.unified_diff(old.bodies, new, n=1, lineterm=""))[2:]
    if tail and all(map(popular, itertools.islice(old.bodies, la - tail, la))):
        # Junk lines only at the end: difflib finds no match to start from there, so it never matches them
        # apart from the lines before; they go to the middle (the unseeded end is short, as junk is common).
        tail = 0
        before, after = old.bodies[head:], [fixed.body(j) for j in range(head, lb)]
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for line in [line for line in matcher.b2j if popular(line)]:
        del matcher.b2j[line]
    opcodes = [("equal", 0, head, 0, head)] if head else []
    opcodes += [
        (tag, head + i1, head + i2, head + j1, head + j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes()
    ]
    if tail:
        opcodes.append(("equal", la - tail, la, lb - tail, lb))
    lines = []
    for group in _Grouped(opcodes).get_grouped_opcodes(1):
        first, last = group[0], group[-1]
        lines.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(" " + old.bodies[i] for i in range(i1, i2))
                continue
            lines.extend("-" + old.bodies[i] for i in range(i1, i2))
            lines.extend("+" + fixed.body(j) for j in range(j1, j2))
    return lines


def _popular(old: FileLines, lb: int, before: list[str], after: list[str]) -> Callable[[str], bool]:
    """Which lines difflib's autojunk leaves out of its matches in the fixed file (``lb`` lines, which differ
    from ``old`` by ``before`` becoming ``after``): those in more than 1% of a file of 200 lines or more."""
    if lb < 200:
        return lambda line: False
    most = lb // 100 + 1
    change = Counter(after)
    change.subtract(before)
    return lambda line: old.counts[line] + change[line] > most


class _Grouped(difflib.SequenceMatcher):
    """A matcher that already knows its opcodes: ``difflib``'s own grouping of them into hunks."""

    def __init__(self, opcodes: list[tuple[str, int, int, int, int]]) -> None:
        super().__init__(None, "", "")
        self.opcodes = opcodes


def _range(start: int, stop: int) -> str:
    """A hunk header's range, as ``difflib`` prints it: an empty range names the line before it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    """How many leading items (characters of two texts) ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _location(old: FileLines, offset: int) -> Location:
    """1-based row and column of character ``offset`` of the original file."""
    index = bisect.bisect_right(old.starts, offset) - 1
    if index == len(old.starts) - 1 and old.source and not old.source.endswith(("\n", "\r")):
        index -= 1  # the end of a last line without a line break is still on that line
    return Location(index + 1, offset - old.starts[index] + 1)
