"""Fix previews from a window of the file equal those from the whole file (issue 19: report time linear).

The reference for the text edits is the whole-file algorithm the report used before windows (kept here as
it was), for the diff ``difflib.unified_diff`` of the whole file, and for the fixed text ``apply_text``.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
from collections.abc import Sequence

from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from flaxprec.apply_edits import RewriteError, apply_edits
from flaxprec.diagnostics import Location, ReplaceText, TextEdit
from flaxprec.engine import Checker, Unit
from flaxprec.fix_text import apply_text
from flaxprec.report import render
from flaxprec.report._fix_window import FileLines, Fixed, comment_edits, text_edits, unified_diff
from flaxprec.suppress import apply_text_edits, split_lines

# -- references: the whole-file computations -------------------------------------------------------------


def whole_file_text_edits(source: str, fixed: str) -> list[TextEdit]:
    """The report's text edits before windows (``report._context.text_edits`` at ddf3b12), verbatim."""
    old, new = split_lines(source), split_lines(fixed)
    starts = [0]
    for line in old:
        starts.append(starts[-1] + len(line))
    head = _common_prefix(old, new)
    tail = _common_prefix(old[head:][::-1], new[head:][::-1])
    edits = []
    matcher = difflib.SequenceMatcher(
        a=old[head : len(old) - tail], b=new[head : len(new) - tail], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        i1, i2, j1, j2 = i1 + head, i2 + head, j1 + head, j2 + head
        a, b = "".join(old[i1:i2]), "".join(new[j1:j2])
        prefix = _common_prefix(a, b)
        suffix = _common_prefix(a[prefix:][::-1], b[prefix:][::-1])
        start, end = starts[i1] + prefix, starts[i2] - suffix
        content = b[prefix : len(b) - suffix]
        edits.append(TextEdit(_location(source, starts, start), _location(source, starts, end), content))
    return edits


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _location(source: str, starts: Sequence[int], offset: int) -> Location:
    index = bisect.bisect_right(starts, offset) - 1
    if index == len(starts) - 1 and source and not source.endswith(("\n", "\r")):
        index -= 1
    return Location(index + 1, offset - starts[index] + 1)


def whole_file_diff(source: str, fixed: str) -> list[str]:
    """The report's diff before windows: ``difflib`` over every line of both files, hunks only."""
    old = [line.rstrip("\r\n") for line in split_lines(source)]
    new = [line.rstrip("\r\n") for line in split_lines(fixed)]
    return list(difflib.unified_diff(old, new, n=1, lineterm=""))[2:]


def location_of(source: str, offset: int) -> Location:
    """Row and column of ``offset`` as an edit names it (one past the last line: its start)."""
    starts = list(itertools.accumulate(map(len, split_lines(source)), initial=0))
    index = bisect.bisect_right(starts, offset) - 1
    return Location(index + 1, offset - starts[index] + 1)


# -- random files and edits ------------------------------------------------------------------------------

BODIES = ["a", "b", "x = nn.Dense(4)(x)", "", "    return x", "c = (", ")"]
ENDINGS = ["\n", "\n", "\n", "\r\n", "\r"]
LINES = st.lists(st.tuples(st.sampled_from(BODIES), st.sampled_from(ENDINGS)), max_size=30)
CONTENT = st.lists(st.sampled_from(["a", "b", "\n", "\r\n", "\r", ", dtype=d", "x = 1\n", ""]), max_size=4)


@st.composite
def files_and_edits(draw: st.DrawFn) -> tuple[str, list[TextEdit]]:
    """A file (CRLF, lone CR, no final line break, empty), and non-overlapping edits anywhere in it:
    insertions (an empty span), deletions (empty content), spans over several lines, at either end."""
    lines = draw(LINES)
    source = "".join(body + ending for body, ending in lines)
    if draw(st.booleans()) and source:
        source = source.rstrip("\r\n") or source  # no final line break
    cuts = sorted(draw(st.lists(st.integers(0, len(source)), max_size=6)))
    if len(cuts) % 2:
        cuts.append(len(source))
    edits = [
        TextEdit(location_of(source, start), location_of(source, end), "".join(draw(CONTENT)))
        for start, end in zip(cuts[::2], cuts[1::2], strict=True)
    ]
    return source, draw(st.permutations(edits))


def check_window(source: str, edits: list[TextEdit]) -> None:
    fixed_text = apply_text(source, edits)
    old = FileLines.of(source)
    window = Fixed.from_edits(old, edits)
    assert "".join(window.line(j) for j in range(len(window))) == fixed_text
    assert text_edits(window) == whole_file_text_edits(source, fixed_text)
    # A diff is not unique where lines repeat ("\n\n\n" with a line inserted among them): difflib over a
    # window and over the whole file may align such lines differently. Both must be right, and the window's
    # no larger; where the whole file's alignment is unambiguous they are the same hunks.
    whole = whole_file_diff(source, fixed_text)
    for diff in (unified_diff(window), unified_diff(Fixed.whole(old, fixed_text))):
        assert apply_hunks(source, diff) == _bodies(fixed_text)
        assert changed_lines(diff) <= changed_lines(whole)
        if len(set(_bodies(source))) == len(_bodies(source)):  # no repeated line: one right alignment
            assert diff == whole


def _bodies(text: str) -> list[str]:
    return [line.rstrip("\r\n") for line in split_lines(text)]


def apply_hunks(source: str, diff: list[str]) -> list[str]:
    """The lines a unified diff (hunks only, as the report prints them) makes of ``source``'s lines."""
    old, new, at = _bodies(source), [], 0
    for line in diff:
        if line.startswith("@@"):
            start = int(line.split()[1].lstrip("-").split(",")[0])
            count = line.split()[1].split(",")
            start = start - 1 if len(count) == 1 or int(count[1]) else start  # "-3,0": after line 3
            new.extend(old[at:start])
            at = start
        elif line.startswith("+"):
            new.append(line[1:])
        else:
            assert old[at] == line[1:], (old[at], line)
            if line.startswith(" "):
                new.append(old[at])
            at += 1
    return new + old[at:]


def changed_lines(diff: list[str]) -> int:
    return sum(1 for line in diff if line[:1] in ("+", "-") and not line.startswith("@@"))


@settings(max_examples=1500, deadline=None)
@given(files_and_edits())
@example(("a\nb\n", [TextEdit(Location(1, 1), Location(1, 1), "i\n")]))  # at the first line
@example(("a\nb", [TextEdit(Location(2, 2), Location(2, 2), "\n")]))  # at the end, no final line break
@example(("a\r\nb\r\n", [TextEdit(Location(1, 2), Location(2, 2), "x\r\ny")]))  # CRLF, several lines
@example(("a\rb\r", [TextEdit(Location(2, 1), Location(2, 1), "\n")]))  # would join "\r" and "\n"
@example(("a\r\n\nb\n", [TextEdit(Location(1, 3), Location(2, 1), "")]))  # "\r" left to meet "\n"
@example(("a\nb\nb\nb\nc\n", [TextEdit(Location(2, 1), Location(2, 1), "b\n")]))  # repeat past the window
@example(("a\nb\nb\nb\nc\n", [TextEdit(Location(2, 1), Location(3, 1), "")]))  # a deletion, the same
@example(("", [TextEdit(Location(1, 1), Location(1, 1), "a\n")]))  # an empty file
@example(("a\nb\n", [TextEdit(Location(1, 1), Location(3, 1), "")]))  # everything deleted
def test_a_window_gives_what_the_whole_file_gives(case: tuple[str, list[TextEdit]]) -> None:
    check_window(*case)


@settings(max_examples=200, deadline=None)
@given(files_and_edits(), st.integers(0, 10))
def test_overlapping_or_outside_edits_are_applied_to_the_whole_file(
    case: tuple[str, list[TextEdit]], row: int
) -> None:
    """Edits a window could not hold (overlapping, past the file) are applied as ``apply_text`` does."""
    source, edits = case
    extra = TextEdit(Location(row, 1), Location(row + 1, 1), "z\n")
    if row > len(split_lines(source)):
        return  # apply_text cannot apply an edit past the file's last line break
    check_window(source, [*edits, extra])


@st.composite
def files_and_comment_edits(draw: st.DrawFn) -> tuple[str, list[ReplaceText]]:
    """Comment edits (``# noqa`` clean-up) in their lines, and a few outside them, overlapping or touching."""
    source = "".join(body + ending for body, ending in draw(LINES))
    bodies = [line.rstrip("\r\n") for line in split_lines(source)]
    edits = []
    for _ in range(draw(st.integers(0, 4))):
        if bodies and draw(st.integers(0, 4)):
            row = draw(st.integers(1, len(bodies)))
            start, end = sorted(draw(st.lists(st.integers(0, len(bodies[row - 1])), min_size=2, max_size=2)))
        else:
            row, start, end = (
                draw(st.integers(0, len(bodies) + 1)),
                draw(st.integers(0, 9)),
                draw(st.integers(0, 9)),
            )
        edits.append(ReplaceText(row, start, end, draw(st.sampled_from(["", "x", "# noqa"]))))
    return source, edits


@settings(max_examples=500, deadline=None)
@given(files_and_comment_edits())
def test_comment_edits_from_a_window(case: tuple[str, list[ReplaceText]]) -> None:
    """``# noqa`` clean-up: what ``apply_text_edits`` makes of the edits (or rejects), read off a window."""
    source, edits = case
    old = FileLines.of(source)
    fixed = comment_edits(old, edits)
    try:
        expected = apply_text_edits(source, edits)
    except ValueError:
        assert fixed is None
        return
    assert fixed is not None
    assert "".join(fixed.line(j) for j in range(len(fixed))) == expected
    assert text_edits(fixed) == whole_file_text_edits(source, expected)
    assert unified_diff(fixed) == whole_file_diff(source, expected)


UNIQUE = st.lists(st.integers(0, 10**6), unique=True, min_size=1, max_size=260)


@st.composite
def distinct_files_and_edits(draw: st.DrawFn) -> tuple[str, list[TextEdit]]:
    """Files of distinct lines, edited with lines found nowhere in them."""
    lines = [f"line{n}\n" for n in draw(UNIQUE)]
    source = "".join(lines)
    starts = list(itertools.accumulate(map(len, lines), initial=0))
    cuts = sorted(draw(st.lists(st.sampled_from(starts), min_size=1, max_size=4, unique=True)))
    if len(cuts) % 2:
        cuts.append(cuts[-1])
    content = st.lists(st.sampled_from(["new\n", "other\n"]), max_size=3).map("".join)
    edits = [
        TextEdit(location_of(source, start), location_of(source, end), draw(content))
        for start, end in zip(cuts[::2], cuts[1::2], strict=True)
    ]
    return source, edits


@settings(max_examples=300, deadline=None)
@given(distinct_files_and_edits())
def test_the_windowed_diff_is_difflibs_whole_file_diff(case: tuple[str, list[TextEdit]]) -> None:
    """Where no line repeats, the diff is computed from the middle (the random files above repeat lines
    often, and are mostly diffed whole): the whole-file ``difflib`` diff, byte for byte."""
    source, edits = case
    assert unified_diff(Fixed.from_edits(FileLines.of(source), edits)) == whole_file_diff(
        source, apply_text(source, edits)
    )


@st.composite
def junk_files_and_rewrites(draw: st.DrawFn) -> tuple[str, list[TextEdit]]:
    """Files of 200 lines or more, distinct lines among lines difflib junks there (a repeated ``return x``,
    blank lines), with lines rewritten as fixes rewrite them: as many lines, the first and the last new."""
    kinds = draw(
        st.lists(st.sampled_from(["unique", "unique", "return", "blank"]), min_size=200, max_size=320)
    )
    bodies = {"return": "    return x", "blank": ""}
    lines = [f"line{n}\n" if kind == "unique" else bodies[kind] + "\n" for n, kind in enumerate(kinds)]
    source = "".join(lines)
    starts = list(itertools.accumulate(map(len, lines), initial=0))
    near_the_end = st.integers(len(lines) - 4, len(lines) - 1)
    rows = sorted(
        draw(st.lists(st.integers(0, len(lines) - 1) | near_the_end, min_size=2, max_size=6, unique=True))
    )
    edits = []
    for n, (first, last) in enumerate(zip(rows[::2], rows[1::2], strict=False)):
        inside = [
            bodies.get(draw(st.sampled_from(["return", "blank", "other"])), "other")
            for _ in range(first, last - 1)
        ]
        content = "".join(f"{body}\n" for body in [f"new{n}", *inside, f"end{n}"][: last - first + 1])
        edits.append(
            TextEdit(location_of(source, starts[first]), location_of(source, starts[last + 1]), content)
        )
    return source, edits


@settings(max_examples=150, deadline=None)
@given(junk_files_and_rewrites())
def test_the_windowed_diff_junks_as_difflib_does(case: tuple[str, list[TextEdit]]) -> None:
    """In a long file, lines difflib junks are matched only as the whole-file diff matches them, down to a
    junk line at the end of the file after the fix (difflib never matches it apart)."""
    source, edits = case
    assert unified_diff(Fixed.from_edits(FileLines.of(source), edits)) == whole_file_diff(
        source, apply_text(source, edits)
    )


def test_a_junk_line_at_the_end_is_not_matched_apart() -> None:
    """The fix of the last finding of bench/memory.py's findings file: the last line, a ``return x`` that
    occurs in more than 1% of the file, is replaced along with the fixed line, as the whole-file diff has
    it."""
    body = "".join(f"    x = f({n})\n    return x\n" for n in range(150))
    source = body + "    x = g()\n    return x\n"
    start = source.index("g()") + len("g(")
    edits = [TextEdit(location_of(source, start), location_of(source, start), "1")]
    diff = unified_diff(Fixed.from_edits(FileLines.of(source), edits))
    assert diff == [
        "@@ -300,3 +300,3 @@",
        "     return x",
        "-    x = g()",
        "-    return x",
        "+    x = g(1)",
        "+    return x",
    ]
    assert diff == whole_file_diff(source, apply_text(source, edits))


def test_junked_lines_are_not_matched_in_a_long_file() -> None:
    """In a file of 200 lines or more a blank line is junk to difflib: the rewritten lines around one are
    one replaced block, as in the whole-file diff (in a short file the blank line would be matched)."""
    source = "".join(f"line{n}\n" if n % 4 else "\n" for n in range(300))
    start, end = source.index("line7\n"), source.index("line9\n") + len("line9\n")
    edits = [TextEdit(location_of(source, start), location_of(source, end), "new7\n\nnew9\n")]
    diff = unified_diff(Fixed.from_edits(FileLines.of(source), edits))
    assert diff == ["@@ -7,5 +7,5 @@", " line6", "-line7", "-", "-line9", "+new7", "+", "+new9", " line10"]
    assert diff == whole_file_diff(source, apply_text(source, edits))
    short = source[: source.index("line21\n")]
    assert unified_diff(Fixed.from_edits(FileLines.of(short), edits)) == [
        "@@ -7,5 +7,5 @@", " line6", "-line7", "+new7", " ", "-line9", "+new9", " line10"
    ]  # fmt: skip


def test_a_fix_in_a_repeated_stretch_is_diffed_over_the_whole_file() -> None:
    """A fix in the first of two identical functions of a 221-line file: difflib matches the unfixed first
    copy to the second (blank lines, junk to it, cut every other match short) and prints a 436-line hunk
    over everything between. The changed line occurs elsewhere: the whole file is diffed, as before."""
    function = "def f():\n    x = nn.Dense(4)(x)\n    y = 1\n    z = 2\n    return x\n"
    others = "".join(f"def g{i}():\n    return {i}\n\n" for i in range(70))
    source = function + "\n" + others + function
    start = source.index("(4)") + len("(4")
    edits = [TextEdit(location_of(source, start), location_of(source, start), ", dtype=d")]
    diff = unified_diff(Fixed.from_edits(FileLines.of(source), edits))
    assert diff[:3] == ["@@ -1 +1,217 @@", "+def f():", "+    x = nn.Dense(4, dtype=d)(x)"]
    assert len(diff) == 436
    assert diff == whole_file_diff(source, apply_text(source, edits))


def test_a_line_inserted_beside_an_equal_one_is_diffed_over_the_whole_file() -> None:
    """Where an inserted line equals its neighbour, difflib's choice of which one is new depends on the
    whole file: here it matched the old blank line to the second new one."""
    edits = [TextEdit(Location(1, 1), Location(1, 1), "new\n\n")]
    assert unified_diff(Fixed.from_edits(FileLines.of("\n"), edits)) == ["@@ -1 +1,3 @@", "+new", " ", "+"]


def test_fixture_fixes_show_the_whole_file_diff() -> None:
    """Every fix of the fixtures: the report's edits and diff are the whole file's, from a window for a fix
    that comes as text, from the fixer's whole fixed file for the others (an added import)."""
    checker = Checker(select=lambda rule, filename: True)
    seen = {"window": 0, "whole": 0}
    for path in sorted(p for p in FIXTURES.rglob("*.py") if not p.name.endswith(".fixed.py")):
        text = path.read_text(encoding="utf-8-sig")
        unit = Unit(path.name, text, path.stem)
        model, found = checker.diagnose(unit, checker.index_units([unit]))
        for diagnostic in found:
            fix = diagnostic.fix
            if fix is None or model is None:
                continue
            if fix.text is not None:
                fixed, window = apply_text(text, fix.text), Fixed.from_edits(FileLines.of(text), fix.text)
            else:
                try:
                    fixed = apply_edits(model.module, fix.edits, fix.imports).code
                except RewriteError:
                    continue
                window = Fixed.whole(FileLines.of(text), fixed)
            where = (path.name, diagnostic.code, diagnostic.location)
            assert text_edits(window) == whole_file_text_edits(text, fixed), where
            assert unified_diff(window) == whole_file_diff(text, fixed), where
            seen["window" if fix.text is not None else "whole"] += 1
    assert seen["window"] > 100 and seen["whole"] > 10, seen


def test_render_shows_text_fixes_without_the_fixer() -> None:
    """A fix that comes as text is shown from its edits: the ``fixed_source`` callback is not asked."""
    source = (
        "import flax.linen as nn\nimport jax.numpy as jnp\n\n\nclass Block(nn.Module):\n"
        "    dtype: jnp.dtype = jnp.bfloat16\n\n    @nn.compact\n    def __call__(self, x):\n"
        "        return nn.Dense(4)(x)\n"
    )
    [diagnostic] = [d for d in Checker().check_source(source, "m.py") if d.code == "FLX001"]
    assert diagnostic.fix is not None and diagnostic.fix.text is not None

    def fixed_source(d: object) -> str | None:
        raise AssertionError("asked the fixer for a fix that has text")

    printed = render([diagnostic], "full", sources={"m.py": source}, rules=[], fixed_source=fixed_source)
    diff = whole_file_diff(source, apply_text(source, diagnostic.fix.text))
    assert diff == [
        "@@ -9,2 +9,2 @@",
        "     def __call__(self, x):",
        "-        return nn.Dense(4)(x)",
        "+        return nn.Dense(4, dtype=self.dtype)(x)",
    ]
    assert (
        "   = help: Add `dtype=self.dtype` (safe fix)\n" + "".join(f"     {line}\n" for line in diff)
        in printed
    )
