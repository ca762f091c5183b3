"""``# noqa``: each form, where it may sit, what is not a comment, FLX901 and its fix, ``--add-noqa``."""

from __future__ import annotations

import ast
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flaxprec.diagnostics import Applicability, Diagnostic, Location, ReplaceText
from flaxprec.suppress import (
    NoqaDirective,
    add_noqa,
    apply_noqa,
    apply_text_edits,
    noqa_row,
    parse_noqa,
    split_lines,
)


def diag(
    code: str,
    row: int,
    col: int = 1,
    end_row: int | None = None,
    end_col: int | None = None,
    statement_row: int | None = None,
) -> Diagnostic:
    return Diagnostic(
        code=code,
        name="some-rule",
        message=f"{code} message",
        filename="m.py",
        location=Location(row, col),
        end_location=Location(end_row or row, end_col or col + 1),
        statement_row=statement_row if statement_row is not None else row,
    )


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def kept_codes(source: str, diagnostics: list[Diagnostic]) -> list[tuple[str, int]]:
    kept, _ = apply_noqa(diagnostics, parse_noqa(source, "m.py"))
    return [(d.code, d.location.row) for d in kept]


def unused_of(source: str, diagnostics: list[Diagnostic], **kwargs) -> list[Diagnostic]:
    _, unused = apply_noqa(diagnostics, parse_noqa(source, "m.py"), **kwargs)
    return unused


def fix_all(source: str, unused: list[Diagnostic]) -> str:
    edits = [e for d in unused if d.fix for e in d.fix.edits]
    assert all(isinstance(e, ReplaceText) for e in edits)
    return apply_text_edits(source, edits)  # type: ignore[arg-type]


# -- parsing -----------------------------------------------------------------------------------------------


def test_parse_forms() -> None:
    source = src(
        """
        a = 1  # noqa
        b = 2  # noqa: FLX001
        c = 3  # noqa:FLX001,FLX002
        d = 4  # NoQA: flx001 FLX002,  E501
        e = 5  # type: ignore  # noqa: FLX003
        f = 6  # noqa-ish
        g = 7  # not noqa
        h = 8  #noqa
        """
    )
    index = parse_noqa(source, "m.py")
    assert index.directives == {
        1: NoqaDirective(1, None, 7, 13, 7, ()),
        2: NoqaDirective(2, frozenset({"FLX001"}), 7, 21, 7, ("FLX001",), (("FLX001", 15, 21),)),
        3: NoqaDirective(
            3,
            frozenset({"FLX001", "FLX002"}),
            7,
            27,
            7,
            ("FLX001", "FLX002"),
            (("FLX001", 14, 20), ("FLX002", 21, 27)),
        ),
        4: NoqaDirective(
            4,
            frozenset({"FLX001", "FLX002", "E501"}),
            7,
            35,
            7,
            ("FLX001", "FLX002", "E501"),
            (("FLX001", 15, 21), ("FLX002", 22, 28), ("E501", 31, 35)),
        ),
        5: NoqaDirective(5, frozenset({"FLX003"}), 23, 37, 7, ("FLX003",), (("FLX003", 31, 37),)),
        8: NoqaDirective(8, None, 7, 12, 7, ()),
    }
    assert index.file_directives == []


def test_noqa_colon_without_codes_is_blanket() -> None:
    index = parse_noqa("x = 1  # noqa:\n")
    assert index.directives[1].codes is None


def test_noqa_inside_string_is_not_a_comment() -> None:
    source = src(
        '''
        a = "# noqa"
        b = """
        c = 1  # noqa: FLX001
        """
        d = f"{a}  # noqa"
        '''
    )
    assert parse_noqa(source).directives == {}
    diagnostics = [diag("FLX001", 1), diag("FLX001", 3), diag("FLX001", 5)]
    assert kept_codes(source, diagnostics) == [("FLX001", 1), ("FLX001", 3), ("FLX001", 5)]


def test_file_that_does_not_tokenize_keeps_earlier_comments() -> None:
    index = parse_noqa('a = 1  # noqa\nb = """unterminated\n')
    assert list(index.directives) == [1]


# -- suppression -------------------------------------------------------------------------------------------


def test_blanket_and_coded_suppression() -> None:
    source = src(
        """
        a = 1  # noqa
        b = 2  # noqa: FLX001
        c = 3  # noqa: FLX002, FLX003
        d = 4
        """
    )
    diagnostics = [
        diag("FLX001", 1),
        diag("FLX002", 1),
        diag("FLX001", 2),
        diag("FLX002", 2),
        diag("FLX001", 3),
        diag("FLX003", 3),
        diag("FLX001", 4),
    ]
    assert kept_codes(source, diagnostics) == [("FLX002", 2), ("FLX001", 3), ("FLX001", 4)]


def test_noqa_keyword_and_codes_are_case_insensitive() -> None:
    source = "a = 1  # NOQA: flx001\nb = 2  # NoQa\n"
    assert kept_codes(source, [diag("FLX001", 1), diag("FLX002", 2)]) == []


def test_multiline_call_noqa_on_closing_bracket() -> None:
    source = src(
        """
        layer = nn.Dense(
            features=4,
        )  # noqa: FLX001
        other = nn.Dense(
            features=4,
        )
        """
    )
    diagnostics = [diag("FLX001", 1, 9, end_row=3, end_col=2), diag("FLX001", 4, 9, end_row=6, end_col=2)]
    assert kept_codes(source, diagnostics) == [("FLX001", 4)]


def test_multiline_call_noqa_on_first_line() -> None:
    source = "layer = nn.Dense(  # noqa: FLX001\n    features=4,\n)\n"
    assert kept_codes(source, [diag("FLX001", 1, 9, end_row=3, end_col=2)]) == []


def test_noqa_on_statement_row() -> None:
    # The finding is an argument on row 3; the directive is on the statement's first row.
    source = src(
        """
        x = nn.Dense(  # noqa: FLX002
            4,
            param_dtype=jnp.bfloat16,
        )(x)
        """
    )
    diagnostics = [diag("FLX002", 3, 17, end_row=3, end_col=29, statement_row=1)]
    assert kept_codes(source, diagnostics) == []
    # A directive on an unrelated row inside the statement does not count.
    source2 = source.replace("(  # noqa: FLX002", "(").replace("4,", "4,  # noqa: FLX002")
    assert kept_codes(source2, diagnostics) == [("FLX002", 3)]


def test_file_level_exemptions() -> None:
    source = src(
        """
        # flaxprec: noqa: FLX002, FLX003
        a = 1
        """
    )
    diagnostics = [diag("FLX001", 2), diag("FLX002", 2), diag("FLX003", 2)]
    assert kept_codes(source, diagnostics) == [("FLX001", 2)]
    assert kept_codes("# FlaxPrec: NOQA\na = 1\n", diagnostics) == []


def test_file_level_must_be_on_its_own_line() -> None:
    source = "a = 1  # flaxprec: noqa\n"
    index = parse_noqa(source)
    assert index.file_directives == []
    assert index.directives == {}
    assert kept_codes(source, [diag("FLX001", 1)]) == [("FLX001", 1)]


def test_file_level_inside_string_is_ignored() -> None:
    source = 'doc = """\n# flaxprec: noqa\n"""\n'
    assert kept_codes(source, [diag("FLX001", 1)]) == [("FLX001", 1)]


# -- FLX901 unused-noqa ------------------------------------------------------------------------------------


def test_blanket_and_other_tools_directives_are_left_alone() -> None:
    """A blanket directive is every linter's (flake8's ``# noqa E722`` and ``# noqa #type:ignore`` are
    blanket too), and one naming only other tools' codes is theirs: no finding, whatever the line holds."""
    source = src(
        """
        a = 1  # noqa
        b = 2  # NOQA
        c = 3  #noqa
        d = 4  # noqa: E501
        e = 5  # noqa E722
        f = 6  # noqa F403
        g = 7  # noqa #type:ignore
        h = 8  # noqa: E501, W291
        i = 9  # noqa FLX001
        """
    )
    assert unused_of(source, [diag("FLX001", 10)]) == []
    assert unused_of(source, [], is_enabled=lambda code: True) == []


def test_unused_blanket_with_the_option() -> None:
    source = "a = 1  # noqa\nb = 2\n"
    [finding] = unused_of(source, [diag("FLX001", 2)], report_blanket=True)
    assert (finding.code, finding.name, finding.filename) == ("FLX901", "unused-noqa", "m.py")
    assert finding.message == "Unused blanket `noqa` directive"
    assert (finding.location, finding.end_location) == (Location(1, 8), Location(1, 14))
    assert finding.fix is not None
    assert finding.fix.title == "Remove unused `noqa` directive"
    # Other linters honour a blanket directive too: removing it is not safe.
    assert finding.fix.applicability is Applicability.UNSAFE
    assert fix_all(source, [finding]) == "a = 1\nb = 2\n"
    # Still only directives that suppress nothing; codes of other tools stay theirs.
    assert unused_of("a = 1  # noqa\n", [diag("FLX001", 1)], report_blanket=True) == []
    assert unused_of("a = 1  # noqa: E501\n", [], report_blanket=True) == []


def test_used_blanket_is_not_reported() -> None:
    assert unused_of("a = 1  # noqa\n", [diag("FLX001", 1)]) == []


def test_unused_code() -> None:
    source = "a = 1  # noqa: FLX001, FLX002\n"
    [finding] = unused_of(source, [diag("FLX001", 1)])
    assert finding.message == "Unused `noqa` directive (unused: `FLX002`)"
    assert finding.fix is not None
    assert finding.fix.applicability is Applicability.SAFE
    assert finding.fix.edits == (ReplaceText(1, 15, 29, "FLX001"),)
    assert fix_all(source, [finding]) == "a = 1  # noqa: FLX001\n"


@pytest.mark.parametrize(
    ("line", "fixed"),
    [
        ("a = 1  # noqa: E501, FLX001\n", "a = 1  # noqa: E501\n"),
        ("a = 1  # noqa: FLX001, E501\n", "a = 1  # noqa: E501\n"),
        ("a = 1  # noqa:e501 ,  flx001,W291  # why\n", "a = 1  # noqa:e501,W291  # why\n"),
        ("a = 1  # NoQA: E501,FLX001 FLX002  W291\n", "a = 1  # NoQA: E501  W291\n"),
        ("a = 1  # noqa: FLX001, E501, FLX001\n", "a = 1  # noqa: E501\n"),
    ],
)
def test_mixed_directive_keeps_other_tools_codes_as_written(line: str, fixed: str) -> None:
    [finding] = unused_of(line, [])
    assert "E501" not in finding.message and "W291" not in finding.message
    assert finding.fix is not None
    assert finding.fix.applicability is Applicability.SAFE
    assert fix_all(line, [finding]) == fixed


def test_unknown_flx_code_is_reported() -> None:
    source = "a = 1  # noqa: FLX999, E501\nb = 2  # noqa: FLX001, FLX01\n"
    first, second = unused_of(source, [diag("FLX001", 2)], is_enabled=lambda code: False)
    assert first.message == "Unused `noqa` directive (not a flaxprec code: `FLX999`)"
    assert second.message == "Unused `noqa` directive (not a flaxprec code: `FLX01`)"
    assert fix_all(source, [first, second]) == "a = 1  # noqa: E501\nb = 2  # noqa: FLX001\n"
    [both] = unused_of("a = 1  # noqa: FLX002, FLX999\n", [])
    assert both.message == "Unused `noqa` directive (unused: `FLX002`; not a flaxprec code: `FLX999`)"
    assert fix_all("a = 1  # noqa: FLX002, FLX999\n", [both]) == "a = 1\n"


def test_all_codes_unused_removes_the_comment() -> None:
    source = "a = 1  # noqa: FLX001,FLX002\n"
    [finding] = unused_of(source, [])
    assert finding.message == "Unused `noqa` directive (unused: `FLX001`, `FLX002`)"
    assert finding.fix is not None
    assert finding.fix.applicability is Applicability.SAFE
    assert fix_all(source, [finding]) == "a = 1\n"


def test_other_tools_codes_are_never_unused() -> None:
    source = "a = 1  # noqa: E501, FLX001\nb = 2  # noqa: E501\n"
    [finding] = unused_of(source, [])
    assert finding.message == "Unused `noqa` directive (unused: `FLX001`)"
    assert fix_all(source, [finding]) == "a = 1  # noqa: E501\nb = 2  # noqa: E501\n"


def test_non_enabled_codes_are_not_unused() -> None:
    source = "a = 1  # noqa: FLX001, FLX005\n"
    [finding] = unused_of(source, [], is_enabled=lambda code: code != "FLX005")
    assert finding.message == "Unused `noqa` directive (unused: `FLX001`)"
    assert fix_all(source, [finding]) == "a = 1  # noqa: FLX005\n"


def test_unused_directive_keeps_other_comment_text() -> None:
    source = src(
        """
        a = 1  # type: ignore  # noqa: FLX001
        b = 2  # noqa: FLX001  # keep me
        c = 3  # noqa: FLX001 reason given
        # noqa
        """
    )
    unused = unused_of(source, [], report_blanket=True)
    assert [d.location.row for d in unused] == [1, 2, 3, 4]
    assert fix_all(source, unused) == "a = 1  # type: ignore\nb = 2  # keep me\nc = 3  # reason given\n\n"


def test_unused_noqa_can_be_suppressed() -> None:
    assert unused_of("a = 1  # noqa: FLX001, FLX901\n", []) == []
    assert unused_of("# flaxprec: noqa: FLX901\na = 1  # noqa: FLX001\n", []) == []


def test_unused_file_level_codes() -> None:
    source = "# flaxprec: noqa: FLX001, E501, FLX002\na = 1\n"
    [finding] = unused_of(source, [diag("FLX001", 2)])
    assert finding.message == "Unused `noqa` directive (unused: `FLX002`)"
    assert finding.location == Location(1, 1)
    assert fix_all(source, [finding]) == "# flaxprec: noqa: FLX001, E501\na = 1\n"
    [finding] = unused_of("# flaxprec: noqa: FLX001\na = 1\n", [])
    assert fix_all("# flaxprec: noqa: FLX001\na = 1\n", [finding]) == "\na = 1\n"
    # A blanket file-level directive exempts the file from FLX901 too.
    assert unused_of("# flaxprec: noqa\na = 1\n", [], report_blanket=True) == []


def test_file_level_suppression_does_not_use_line_directives() -> None:
    source = "# flaxprec: noqa: FLX001\na = 1  # noqa: FLX001\n"
    kept, unused = apply_noqa([diag("FLX001", 2)], parse_noqa(source, "m.py"))
    assert kept == []
    assert [d.message for d in unused] == ["Unused `noqa` directive (unused: `FLX001`)"]


def test_unused_fix_preserves_crlf() -> None:
    source = "a = 1  # noqa: FLX001\r\nb = 2\r\n"
    assert fix_all(source, unused_of(source, [])) == "a = 1\r\nb = 2\r\n"


# -- apply_text_edits --------------------------------------------------------------------------------------


def test_apply_text_edits() -> None:
    text = "ab\r\ncd\nef"
    edits = [ReplaceText(3, 2, 2, "!"), ReplaceText(1, 0, 1, "A"), ReplaceText(2, 1, 2, "")]
    assert apply_text_edits(text, edits) == "Ab\r\nc\nef!"


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ([ReplaceText(3, 0, 0, "x")], "outside the text"),
        ([ReplaceText(1, 0, 5, "x")], "outside row 1"),
        ([ReplaceText(1, 0, 2, "x"), ReplaceText(1, 1, 2, "y")], "overlapping"),
    ],
)
def test_apply_text_edits_rejects_bad_edits(edits: list[ReplaceText], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_text_edits("abc\nd\n", edits)


def test_split_lines_only_on_python_line_breaks() -> None:
    assert split_lines("a\fb\r\nc\rd\ne\u2028f") == ["a\fb\r\n", "c\r", "d\n", "e\u2028f"]
    assert split_lines("") == []
    # Without form feeds or Unicode separators (str.splitlines does the work): the same split.
    assert split_lines("a\r\nb\rc\n\nd") == ["a\r\n", "b\r", "c\n", "\n", "d"]


# -- --add-noqa --------------------------------------------------------------------------------------------


def test_add_noqa_appends_and_merges() -> None:
    source = src(
        """
        a = 1
        b = 2  # noqa: FLX003
        c = 3   # a comment
        d = 4
        """
    )
    diagnostics = [
        diag("FLX002", 1),
        diag("FLX001", 1),
        diag("FLX001", 2),
        diag("FLX002", 3),
        diag("FLX002", 1),
    ]
    assert add_noqa(source, diagnostics) == src(
        """
        a = 1  # noqa: FLX001, FLX002
        b = 2  # noqa: FLX001, FLX003
        c = 3   # a comment  # noqa: FLX002
        d = 4
        """
    )


def test_add_noqa_is_idempotent() -> None:
    source = "a = nn.Dense(\n    4,\n)\nb = 1  # noqa: E501\n"
    diagnostics = [diag("FLX001", 1, 5, end_row=3, end_col=2), diag("FLX006", 4)]
    once = add_noqa(source, diagnostics)
    assert once == "a = nn.Dense(\n    4,\n)  # noqa: FLX001\nb = 1  # noqa: E501, FLX006\n"
    assert add_noqa(once, diagnostics) == once
    assert unused_of(once, diagnostics) == []


def test_add_noqa_preserves_crlf_and_trailing_whitespace_elsewhere() -> None:
    source = "a = 1   \r\nb = 2\r\nc = 3"
    result = add_noqa(source, [diag("FLX001", 1), diag("FLX001", 3)])
    assert result == "a = 1  # noqa: FLX001\r\nb = 2\r\nc = 3  # noqa: FLX001"


def test_add_noqa_never_breaks_a_multiline_string() -> None:
    source = src(
        '''
        x = f(
            """
            text
            """,
        )
        y = """
        text""" + g()
        '''
    )
    # The finding ends inside the string (row 3): the directive goes on the statement's first row.
    inside = diag("FLX101", 2, 5, end_row=3, end_col=9, statement_row=1)
    # This one ends on the string's last row, where a comment may follow the closing quotes.
    after = diag("FLX101", 6, 5, end_row=7, end_col=14, statement_row=6)
    result = add_noqa(source, [inside, after])
    assert result == src(
        '''
        x = f(  # noqa: FLX101
            """
            text
            """,
        )
        y = """
        text""" + g()  # noqa: FLX101
        '''
    )
    assert add_noqa(result, [inside, after]) == result


def test_add_noqa_skips_backslash_continuations() -> None:
    source = "x = a + \\\n    b\n"
    assert (
        add_noqa(source, [diag("FLX001", 1, 5, end_row=2, end_col=6)])
        == "x = a + \\\n    b  # noqa: FLX001\n"
    )
    assert add_noqa(source, [diag("FLX001", 1, 5, end_row=1, end_col=6)]) == source


def test_add_noqa_does_not_silence_unused_noqa() -> None:
    source = "a = 1  # noqa: FLX001\n"
    unused = unused_of(source, [])
    assert add_noqa(source, unused) == source


def test_noqa_row_prefers_the_last_row() -> None:
    source = "a = f(\n    1,\n)\n"
    index = parse_noqa(source)
    assert noqa_row(diag("FLX001", 1, 5, end_row=3, end_col=2), index) == 3
    assert noqa_row(diag("FLX001", 9), index) is None


def test_add_noqa_keeps_bom() -> None:
    source = "\ufeffa = 1  # noqa: FLX002\n"
    assert add_noqa(source, [diag("FLX001", 1)]) == "\ufeffa = 1  # noqa: FLX001, FLX002\n"


# -- property: --add-noqa only ever adds comments ---------------------------------------------------------

PROPERTY_SOURCES = [
    'x = f(\n    """\n    a\n    """,  # noqa: E501\n    b,\n)\n',
    "y = a + \\\n    b\nz = [\n    1,\n    2,\n]\n",
    "def g():\n    s = '''x\n# noqa\n'''\n    return s  # comment\n\n\n# flaxprec: noqa: FLX007\n",
    "a = 1\r\nb = (\r\n    2\r\n)\r\n",
    "class M:\n    def f(self):\n        return nn.Dense(\n            4,\n        )(x)  # noqa: FLX002\n",
]


@settings(max_examples=200, deadline=None)
@given(
    source=st.sampled_from(PROPERTY_SOURCES),
    specs=st.lists(
        st.tuples(
            st.integers(1, 8), st.integers(0, 3), st.integers(0, 3), st.sampled_from(["FLX001", "FLX002"])
        ),
        max_size=6,
    ),
)
def test_add_noqa_keeps_the_code_and_is_idempotent(
    source: str, specs: list[tuple[int, int, int, str]]
) -> None:
    n = len(split_lines(source))
    diagnostics = [
        diag(code, min(row, n), 1, end_row=min(row + span, n), statement_row=max(1, min(row, n) - back))
        for row, span, back, code in specs
    ]
    once = add_noqa(source, diagnostics)
    assert ast.dump(ast.parse(once)) == ast.dump(ast.parse(source))
    assert add_noqa(once, diagnostics) == once
    assert once.count("\r\n") == source.count("\r\n")
    placed = [d for d in diagnostics if noqa_row(d, parse_noqa(source)) is not None]
    kept, _ = apply_noqa(placed, parse_noqa(once))
    assert kept == []


COMMENTS = [
    "",
    "  # noqa",
    "  # noqa: FLX001",
    "  # NOQA:FLX001,FLX002",
    "  # noqa: E501, FLX002",
    "  # type: ignore  # noqa: FLX001",
    "  # noqa: FLX002 the reason",
    "  # noqa: FLX001  # keep",
    "\t#noqa:flx001 flx002",
]


@settings(max_examples=200, deadline=None)
@given(
    comments=st.lists(st.sampled_from(COMMENTS), min_size=1, max_size=6),
    used=st.lists(st.tuples(st.integers(1, 6), st.sampled_from(["FLX001", "FLX002"])), max_size=4),
)
def test_unused_noqa_fixes_keep_the_code_and_converge(
    comments: list[str], used: list[tuple[int, str]]
) -> None:
    source = "".join(f"x{i} = {i}{comment}\n" for i, comment in enumerate(comments))
    diagnostics = [diag(code, row) for row, code in used if row <= len(comments)]
    kept, unused = apply_noqa(diagnostics, parse_noqa(source, "m.py"))
    fixed = fix_all(source, unused)
    assert ast.dump(ast.parse(fixed)) == ast.dump(ast.parse(source))
    # The fix removes exactly what was unused: the same findings are suppressed, nothing is left over.
    kept_after, unused_after = apply_noqa(diagnostics, parse_noqa(fixed, "m.py"))
    assert kept_after == kept
    assert unused_after == []


# Top-level statements that hold, hide or fake directives: in strings that span lines, in brackets, after a
# backslash, in f-strings, in decorated and nested code, and as file-level and upper-case forms.
NOQA_PIECES = [
    "x = f(1)  # noqa: FLX001\n",
    "y = 2  # NOQA:flx002\n",
    's = """\n# noqa: FLX001\nnot a comment  # noqa\n"""  # noqa: FLX003\n',
    "z = [\n    1,  # noqa: FLX004\n    2,\n]\n",
    "w = 1 + \\\n    2  # noqa\n",
    "t = f'{1}  # noqa'  # Noqa: FLX005\n",
    "@decorator  # noqa: FLX006\nclass A:\n    def f(self):\n        return '# noqa'  # noqa: FLX001\n",
    "# flaxprec: noqa: FLX007\n",
    "# just a comment\n\n",
    "u = '''a\nb'''\n",
    "if x:\n    v = 1  # noqa\nelse:\n    v = '''\n    # noqa\n'''\n",
]


def _statement_starts(source: str) -> list[int]:
    """As the gate's sketch gives them: each top-level statement's first row, decorators included."""
    return [
        min([s.lineno, *(d.lineno for d in getattr(s, "decorator_list", ()))]) for s in ast.parse(source).body
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(NOQA_PIECES), min_size=1, max_size=8))
def test_directives_from_statement_windows_are_the_whole_file_s(pieces: list[str]) -> None:
    """Tokenizing from the top-level statements before the lines that mention noqa finds what tokenizing
    the whole file finds (rows, codes, columns, file-level directives)."""
    source = "".join(pieces)
    whole = parse_noqa(source, "m.py")
    windowed = parse_noqa(source, "m.py", _statement_starts(source))
    assert windowed.directives == whole.directives
    assert windowed.file_directives == whole.file_directives
    assert windowed.no_comment_rows == frozenset()


def test_directives_from_statement_windows_in_published_code() -> None:
    """The same on the files of the pinned releases that mention noqa (four: they keep Flax files only)."""
    from corpus import ARCHIVES, corpus
    from flaxprec.suppress import mentions_noqa

    paths = [p for release in sorted(ARCHIVES) for p in sorted(corpus(release).rglob("*.py"))]
    files = [p for p in paths if mentions_noqa(p.read_text())]
    assert len(files) >= 4
    for path in files:
        source = path.read_text()
        whole = parse_noqa(source, path.name)
        windowed = parse_noqa(source, path.name, _statement_starts(source))
        assert whole.directives
        assert (windowed.directives, windowed.file_directives) == (whole.directives, whole.file_directives)
