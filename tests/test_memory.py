"""Memory and time per file (issue 19, item 3): data libcst never reads, positions placed without scans.

A module-level data table no rule can flag reaches libcst as a one-line stub (or not at all), with the
findings of whole-file analysis; statements are placed in the text in time linear in the text however
many there are. The issue's 2 MB table is checked here under the address-space limit it once aborted
under; its peak RSS, the 20 MB table and the timing of thousands of findings are measured by
bench/memory.py.
"""

from __future__ import annotations

import ast
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from test_cst_fast import CASES, _statements
from test_gate import TIED_ACROSS, _key, _same_both_ways, gate_module_source

from corpus import ARCHIVES, corpus
from flaxprec.discover import Discovery
from flaxprec.engine import Checker, Unit, load_units
from flaxprec.gate import _is_literal
from flaxprec.positions import CodeFinder, node_positions, statement_positions

HEADER = "import flax.linen as nn\nimport jax.numpy as jnp\n"
ROWS = 5_000


def table_source(rows: int, use: str = "x") -> str:
    """A module-level data table of ``rows`` rows, then a Module with one finding whose input is ``use``."""
    table = "".join(f'    ({i}, {i / 7:.4f}, -{i}.5e-05, "t{i}", [None, True]),\n' for i in range(rows))
    return (
        HEADER
        + f"\nTABLE = [\n{table}]\nNEG_INF = -1e9\nNAMES = {{'a': (1, 2), 'b': {{3}}}}\n"
        + textwrap.dedent(
            f"""

            class Block(nn.Module):
                dtype: jnp.dtype = jnp.bfloat16

                @nn.compact
                def __call__(self, x):
                    x = jnp.where(x > 0, {use}, NEG_INF)
                    return nn.Dense(4)(x)
            """
        )
    )


def _slice(checker: Checker, source: str) -> tuple[Unit, object, list]:
    unit = Unit("table.py", source, "table")
    index = checker.index_units([unit])
    analysed, piece = checker.suspects(unit, index)
    assert analysed and piece is not None
    return unit, piece, checker.diagnose(unit, index, sliced=True)[1]


@pytest.mark.parametrize("use", ["x", "x * jnp.asarray(TABLE)[0][1]"])
def test_a_data_table_never_reaches_libcst(use: str) -> None:
    source = table_source(ROWS, use)
    checker = Checker()
    unit, piece, found = _slice(checker, source)
    # Of the table, its name's stub when the Module mentions it (``NAMES``, never mentioned, not even that).
    table = "TABLE = None\n" if "TABLE" in use else ""
    assert piece.text == HEADER + table + "NEG_INF = None\n" + textwrap.dedent(  # type: ignore[attr-defined]
        f"""\
        class Block(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16
            @nn.compact
            def __call__(self, x):
                x = jnp.where(x > 0, {use}, NEG_INF)
                return nn.Dense(4)(x)
        """
    )
    end = 4 + ROWS + 2  # the row of ``NEG_INF = -1e9``, after the table's rows and its brackets' lines
    stub = (4,) if table else ()
    assert piece.lines == (1, 2, *stub, end, *range(end + 4, end + 6), *range(end + 7, end + 11))  # type: ignore[attr-defined]
    assert [(d.code, d.location.row, d.location.column) for d in found] == [("FLX001", end + 10, 16)]
    index = checker.index_units([unit])
    assert _key(found) == _key(checker.diagnose(unit, index)[1])


def test_rules_without_a_gate_read_every_statement_but_the_data() -> None:
    """FLX101...: no gate, so libcst reads every statement, but a data table only as its stub."""
    source = table_source(ROWS, "jax.nn.softmax(nn.Dense(4, dtype=self.dtype)(x))").replace(
        "import jax.numpy", "import jax\nimport jax.numpy"
    )
    checker = Checker(select=lambda rule, filename: True)
    unit, piece, found = _slice(checker, source)
    end = 5 + ROWS + 2  # the row of ``NEG_INF = -1e9``
    assert piece.lines == (1, 2, 3, end, *range(end + 4, end + 11))  # type: ignore[attr-defined]
    assert piece.text.startswith(HEADER.replace("\n", "\nimport jax\n", 1) + "NEG_INF = None\nclass Block(")  # type: ignore[attr-defined]
    assert [(d.code, d.location.row, d.location.column) for d in found] == [
        ("FLX101", end + 9, 30),
        ("FLX001", end + 10, 16),
    ]
    index = checker.index_units([unit])
    assert _key(found) == _key(checker.diagnose(unit, index)[1])


def test_the_issues_2_mb_table_under_a_1_5_gb_address_space_limit(tmp_path: Path) -> None:
    """41,000 rows (2 MB) beside one Module once took 2.0 GB, and aborted under this limit printing
    nothing; now about 300 MB, CPython's own ``ast.parse`` of it."""
    path = tmp_path / "table.py"
    path.write_text(table_source(41_000))
    assert path.stat().st_size > 2_000_000
    limit = int(1.5 * 2**30)
    done = subprocess.run(
        [sys.executable, "-m", "flaxprec", "check", "--no-cache", "--output-format", "concise", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
    )
    row = 4 + 41_000 + 2 + 10
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout.splitlines()[0] == (
        f"table.py:{row}:16: FLX001 [*] `nn.Dense` built without `dtype`: it computes in float32 although "
        "`Block` has a compute dtype (`self.dtype`)"
    )


def test_data_naming_a_tied_embedding_stays_out() -> None:
    """Statements mentioning a tied embedding are kept whole (its finding depends on its lookups), but a
    table whose strings name it neither builds nor looks it up."""
    words = "".join(f'    "shared",\n    "w{i}",\n' for i in range(2_000))
    source = HEADER + f"VOCAB = [\n{words}]\n\n\n" + TIED_ACROSS
    checker = Checker()
    unit, piece, found = _slice(checker, source)
    assert unit.sketch is not None
    assert [s.name for s in unit.sketch if s.tied] == ["Decoder", "Encoder"]
    assert piece.lines[:3] == (1, 2, 4 + 4_000 + 3)  # type: ignore[attr-defined]  # then Decoder, whole
    assert "VOCAB" not in piece.text  # type: ignore[attr-defined]
    shift = 4_000 + 2 + 2 - 1  # VOCAB's lines and two blank ones, for the ``from functools`` line
    assert [(d.code, d.location.row, d.location.column) for d in found] == [
        ("FLX001", 8 + shift, 23),
        ("FLX001", 9 + shift, 22),
    ]
    index = checker.index_units([unit])
    assert _key(found) == _key(checker.diagnose(unit, index)[1])


@pytest.mark.parametrize("every_rule", [False, True])
def test_data_in_a_class_body_is_a_stub(every_rule: bool) -> None:
    """A table in a suspect Module's body: a stub in the slice, whether the class is kept member by member
    (the call rules) or whole (a rule without a gate)."""
    rows = "".join(f"        ({i}, {i / 7:.4f}),\n" for i in range(ROWS))
    source = HEADER + (
        "\n\nclass Block(nn.Module):\n    dtype: jnp.dtype = jnp.bfloat16\n    TABLE = [\n"
        + rows
        + "    ]\n    SIZES = A = (4, 8)\n\n    @nn.compact\n    def __call__(self, x):\n"
        + "        return nn.Dense(self.SIZES[0])(x) * self.TABLE[0][1]\n"
    )
    checker = Checker(select=lambda rule, filename: True) if every_rule else Checker()
    unit, piece, found = _slice(checker, source)
    assert piece.text == HEADER + textwrap.dedent(  # type: ignore[attr-defined]
        """\
        class Block(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16
            TABLE = None
            SIZES = A = None
            @nn.compact
            def __call__(self, x):
                return nn.Dense(self.SIZES[0])(x) * self.TABLE[0][1]
        """
    )
    end = 7 + ROWS + 2  # the row of ``SIZES = A = (4, 8)``
    assert piece.lines == (1, 2, 5, 6, 7, end, end + 2, end + 3, end + 4)  # type: ignore[attr-defined]
    assert [(d.code, d.location.row, d.location.column) for d in found] == [("FLX001", end + 4, 16)]
    index = checker.index_units([unit])
    assert _key(found) == _key(checker.diagnose(unit, index)[1])


def test_annotated_data_needs_no_stub() -> None:
    """The analysis binds nothing for a module-level annotated assignment: a ``Dense = None`` stub would
    unbind the import for the Module above it, and lose its finding."""
    source = HEADER + textwrap.dedent(
        """

        class Block(nn.Module):
            dtype: jnp.dtype = jnp.bfloat16

            def __call__(self, x):
                return Dense(4)(x)


        from flax.linen import Dense
        Dense: list = [1, 2]
        SIZES: tuple = (4, 8)
        """
    )
    checker = Checker()
    unit, piece, found = _slice(checker, source)
    assert piece.lines == (1, 2, 5, 6, 8, 9, 12)  # type: ignore[attr-defined]
    assert piece.text.endswith("from flax.linen import Dense\n")  # type: ignore[attr-defined]
    assert [(d.code, d.location.row, d.location.column) for d in found] == [("FLX001", 9, 16)]
    index = checker.index_units([unit])
    assert _key(found) == _key(checker.diagnose(unit, index)[1])


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ('"text" "more"', True),
        ("-1e9", True),
        ("2**16", True),
        ("[(1, -2.5, 'a', b'b', None, True, ...), [], ()]", True),
        ("{'a': [1, {2, 3}], 4: {}}", True),
        ("~1 + (not 0)", True),
        ("[1, x]", False),  # a name: it may be a layer or a dtype
        ("[jnp.bfloat16]", False),
        ("[float('inf')]", False),  # a call
        ("[*rows]", False),
        ("{**base, 'a': 1}", False),
        ("f'{x}'", False),
        ("[1 if a else 2]", False),
        ("[i for i in range(3)]", False),
        ("(lambda: 1)", False),
    ],
)
def test_what_counts_as_data(value: str, literal: bool) -> None:
    assert _is_literal(ast.parse(f"X = {value}").body[0].value) is literal  # type: ignore[attr-defined]


def test_data_nested_deeper_than_the_recursion_limit() -> None:
    value: ast.expr = ast.Constant(1)
    for _ in range(5_000):  # deeper than the parser allows; a tree built otherwise may hold it
        value = ast.List([value, ast.Constant(2)], ast.Load())
    assert _is_literal(value)
    assert not _is_literal(ast.List([value, ast.Name("x", ast.Load())], ast.Load()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gate_module_source())
def test_generated_modules_with_every_rule(source: str) -> None:
    """With rules that have no gate, the slice (every statement, data as stubs) finds what the file does."""
    _same_both_ways(Checker(select=lambda rule, filename: True), [Unit("generated.py", source, "generated")])


@pytest.mark.parametrize("release", sorted(ARCHIVES))
def test_real_corpus_with_every_rule(release: str) -> None:
    """Published files hold string constants (``_CHECKPOINT_FOR_DOC = "..."``): read as stubs when every
    rule is selected, with the findings of the whole files."""
    units, _ = load_units(Discovery().files([corpus(release)]))
    _same_both_ways(Checker(select=lambda rule, filename: True), units)


# -- positions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["find", "map"])
def test_the_code_finder_places_a_code_at_its_one_line_start(mode: str) -> None:
    text = "x = 1\n# note\nx = 1\ny = 2\nay = 2\n"
    finder = CodeFinder(cst.parse_module(text), text)
    if mode == "map":
        finder._budget = 0  # as after many statements: the map of lines answers
    assert finder.place("x = 1\n") is None  # at two line starts
    assert finder.place("# note\nx = 1\n") == (6, 1)
    assert finder.place("y = 2\n") == (19, 3)  # ``ay = 2`` holds it mid-line: no statement starts there
    assert finder.place("z = 3\n") is None
    assert finder.place("y = 2\nay") == (19, 3)  # its last line unfinished: looked for as a whole
    assert finder.place("") is None
    crlf = "x = 1\r\n"
    assert CodeFinder(cst.parse_module(crlf), crlf).place("x = 1\r\n") is None  # PositionProvider's counting


def _finder_differences(module: cst.Module, text: str) -> tuple[list[str], int]:
    """As test_cst_fast.statement_differences, with one :class:`CodeFinder` in its map mode shared by
    every statement: ranges that differ from :func:`node_positions`, and how many of the top-level
    statements and class members it placed."""
    whole, finder, found, placed = node_positions(module), CodeFinder(module, text), [], 0
    finder._budget = 0
    for statement, indent, is_outer in _statements(module):
        ours = statement_positions(module, finder, [statement], {id(statement): indent})
        if ours is None:
            continue
        placed += is_outer
        for node in _nodes(statement):
            if ours[node] != whole[node]:
                found.append(f"{type(node).__name__}: ours {ours[node]}, whole {whole[node]}")
    return found, placed


def _nodes(root: cst.CSTNode) -> list[cst.CSTNode]:
    found, todo = [], [root]
    while todo:
        node = todo.pop()
        found.append(node)
        todo += node.children
    return found


@pytest.mark.parametrize("name", [name for name in CASES if "\r" not in CASES[name]])
def test_shared_finder_positions_are_libcsts(name: str) -> None:
    module = cst.parse_module(CASES[name])
    found, placed = _finder_differences(module, CASES[name])
    assert found == []
    assert placed == len([s for s in _statements(module) if s[2]])  # every top-level one is unique here


def test_shared_finder_positions_on_real_code() -> None:
    root = corpus("transformers-4.46.3")
    files = sorted(Discovery().files([root / "transformers" / "models" / "bert"]))
    assert files
    for path in files:
        text = path.read_text()
        found, placed = _finder_differences(cst.parse_module(text), text)
        assert found == [], path
        assert placed > 50


def test_many_findings_each_at_its_place() -> None:
    """A statement per finding, hundreds of them: each finding's exact row and column (the positions come
    from one shared finder, its map of lines answering once the text has been searched a few times)."""
    body = "".join(f"        x = nn.Dense({n})(x)\n" for n in range(1, 301))
    source = HEADER + (
        "\n\nclass Block(nn.Module):\n    dtype: jnp.dtype = jnp.bfloat16\n\n"
        "    @nn.compact\n    def __call__(self, x):\n" + body + "        return x\n"
    )
    found = Checker().check_source(source, "many.py")
    assert [(d.code, d.location.row, d.location.column, d.end_location.column) for d in found] == [
        ("FLX001", 10 + n, 13, 23 + len(str(n + 1))) for n in range(300)
    ]
