"""Deeply nested code never crashes a run (issue 19, items 1-2).

Valid code that CPython compiles is analysed, with its real findings, however deep (flaxprec.deep redoes
a file's walks on a large stack); code CPython's parser rejects for depth is FLX900, exactly when
``compile()`` in a script rejects it; a file the tool still fails on is FLX902 and ``check`` exits 2.
Every other file's findings print either way.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import REPO, run_flaxprec
from flaxprec import deep, engine
from flaxprec.cli import main
from flaxprec.deep import TOO_DEEP
from flaxprec.diagnostics import Diagnostic
from flaxprec.engine import Checker, Unit
from flaxprec.fixer import fix_source

GOOD = (REPO / "examples" / "tiny_gpt.py").read_text(encoding="utf-8")
# examples/tiny_gpt.py's findings: (code, row, column)
GOOD_FINDINGS = [
    ("FLX004", 29, 72),
    ("FLX001", 42, 21),
    ("FLX003", 46, 21),
    ("FLX001", 60, 20),
    ("FLX006", 62, 20),
    ("FLX001", 64, 24),
]
TOO_DEEP_MESSAGE = f"Failed to parse: {TOO_DEEP}"
NO_STACK_MESSAGE = (
    "Failed to analyse: out of memory (no room for a thread with a large stack); this file was not checked"
)

# A Module whose ``return`` line has an FLX001 finding (row 11, column 16); the deep expression is the
# statement before it.
OWN_STATEMENT = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp


    class Block(nn.Module):
        dtype: jnp.dtype = jnp.bfloat16

        @nn.compact
        def __call__(self, x):
            y = {expr}
            return nn.Dense(4)(x)
    """
)
# The deep expression in the very statement of the finding (row 10, column 16): its positions need a code
# generation of that statement.
SAME_STATEMENT = textwrap.dedent(
    """\
    import flax.linen as nn
    import jax.numpy as jnp


    class Block(nn.Module):
        dtype: jnp.dtype = jnp.bfloat16

        @nn.compact
        def __call__(self, x):
            return nn.Dense(4)(x), {expr}
    """
)
PLACES = {OWN_STATEMENT: (11, 16), SAME_STATEMENT: (10, 16)}


def rows(diagnostics: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.row, d.location.column) for d in diagnostics]


def check(*texts: str) -> list[list[Diagnostic]]:
    """Each text's findings, all checked in one run (file ``f<i>.py``)."""
    units = [Unit(f"f{i}.py", text, f"f{i}") for i, text in enumerate(texts)]
    found = Checker().check_units(units)
    return [[d for d in found if d.filename == unit.filename] for unit in units]


def lines(output: str) -> list[tuple[str, str, int, int]]:
    """(file, code, row, column) of each finding line of concise output."""
    found = []
    for line in output.splitlines():
        parts = line.split(":", 3)
        if len(parts) == 4 and parts[1].isdigit():
            found.append((parts[0], parts[3].split()[0], int(parts[1]), int(parts[2])))
    return found


GOOD_LINES = [("good.py", code, row, column) for code, row, column in GOOD_FINDINGS]


# -- deep expressions: the generators -------------------------------------------------------------------

# As source, so that a fresh interpreter can build the same texts (the boundary search below).
DEEP_SOURCE = {
    "sum": "lambda n: '+'.join(['a'] * n)",
    "power": "lambda n: '**'.join(['a'] * n)",
    "call chain": "lambda n: 'f' + '()' * n",
    "attribute chain": "lambda n: 'a' + '.b' * n",
    "subscripts": "lambda n: 'a' + '[0]' * n",
    "lambdas": "lambda n: 'lambda: ' * n + 'a'",
    "conditionals": "lambda n: 'a if b else ' * n + 'c'",
    "unary minus": "lambda n: '-' * n + 'a'",
    "not": "lambda n: 'not ' * n + 'a'",
}
DEEP: dict[str, Callable[[int], str]] = {kind: eval(source) for kind, source in DEEP_SOURCE.items()}
MODULE_LEVEL = "y = {expr}\n"

# compile() as a script calls it at its top level, at CPython's defaults: exit 0 accepted, else the error.
ORACLE = textwrap.dedent(
    """\
    import sys
    text = sys.stdin.read()
    try:
        compile(text, "f.py", "exec")
    except SyntaxError as error:
        print(error.lineno, error.offset, error.msg)
        sys.exit(1)
    except (RecursionError, MemoryError):
        sys.exit(2)
    """
)


def oracle(text: str) -> tuple[int, str]:
    """(0, ""): CPython compiles ``text``; (1, "row col message"): a SyntaxError; (2, ""): too deep."""
    done = subprocess.run(
        [sys.executable, "-c", ORACLE], input=text, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout.strip()


# The same, bisecting the depth: each compile() is that script's first call of it at its top level (a
# call the interpreter has specialised counts one level more, see flaxprec.deep).
BOUNDARY = textwrap.dedent(
    """\
    import subprocess, sys
    make, template = eval(sys.argv[1]), sys.stdin.read()
    probe = "import sys\\ntry:\\n    compile(sys.stdin.read(), 'f.py', 'exec')\\n"
    probe += "except Exception:\\n    sys.exit(1)\\n"
    lo, hi = 1, 8000
    while hi - lo > 1:
        middle = (lo + hi) // 2
        text = template.format(expr=make(middle))
        if subprocess.run([sys.executable, "-c", probe], input=text, text=True).returncode == 0:
            lo = middle
        else:
            hi = middle
    print(lo)
    """
)


@functools.cache
def deepest_compiled(kind: str, template: str = MODULE_LEVEL) -> int:
    """The deepest ``kind`` in ``template`` that ``compile()`` takes in a script at its top level."""
    done = subprocess.run(
        [sys.executable, "-c", BOUNDARY, DEEP_SOURCE[kind]],
        input=template,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


# -- issue 19 item 1: deep valid code, analysed ------------------------------------------------------------


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("exit_zero", [False, True])
def test_a_990_term_sum_is_checked_and_the_next_file_s_findings_print(cwd: Path, exit_zero: bool) -> None:
    (cwd / "deep.py").write_text("x = " + "+".join(["a"] * 990) + "\n")
    options = ["--exit-zero"] if exit_zero else []
    done = run_flaxprec("check", "--no-cache", *options, "deep.py", "good.py", cwd=cwd)
    assert done.stderr == ""
    assert lines(done.stdout) == GOOD_LINES
    assert done.returncode == (0 if exit_zero else 1)


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "lambda: " * 490 + "a\n",
        "x = " + "a if b else " * 980 + "c\n",
        OWN_STATEMENT.format(expr="lambda: " * 490 + "a").replace(
            "nn.Dense(4)", "nn.Dense(4, dtype=self.dtype)"
        ),
    ],
    ids=["490 lambdas", "980 conditionals", "490 lambdas in a Module"],
)
def test_deep_valid_code_has_no_findings_and_others_keep_theirs(text: str) -> None:
    deep_found, good_found = check(text, GOOD)
    assert deep_found == []
    assert rows(good_found) == GOOD_FINDINGS


@pytest.mark.parametrize(
    "expr", ["x" + " + x" * 485, "x" + ".T" * 485], ids=["485-term sum", "485 attributes"]
)
def test_a_deep_statement_with_a_finding_gets_its_position(cwd: Path, expr: str) -> None:
    """The finding's statement is generated again for its positions (libcst code generation recurses)."""
    (cwd / "model.py").write_text(SAME_STATEMENT.format(expr=expr), encoding="utf-8")
    done = run_flaxprec("check", "--no-cache", "model.py", "good.py", cwd=cwd)
    assert done.stderr == ""
    assert lines(done.stdout) == [*GOOD_LINES, ("model.py", "FLX001", 10, 16)]
    assert done.returncode == 1


@pytest.mark.parametrize("terms", [320, 485])
def test_fix_rewrites_a_file_with_a_deep_sum(cwd: Path, terms: int) -> None:
    """libcst's transformer recurses over the whole module, the deep statement included (from ~320 terms),
    and so does the code generation that writes the file back (from ~485)."""
    text = OWN_STATEMENT.format(expr="x" + " + x" * (terms - 1))
    fixed = text.replace("return nn.Dense(4)(x)", "return nn.Dense(4, dtype=self.dtype)(x)")
    assert fixed != text
    assert fix_source(text, "model.py") == fixed
    (cwd / "model.py").write_text(text, encoding="utf-8")
    shown = run_flaxprec("fix", "model.py", cwd=cwd)
    assert shown.returncode == 1
    assert (
        "-        return nn.Dense(4)(x)\n+        return nn.Dense(4, dtype=self.dtype)(x)\n" in shown.stdout
    )
    applied = run_flaxprec("fix", "--apply", "model.py", cwd=cwd)
    assert (applied.returncode, applied.stderr) == (0, "Fixed 1 error.\n")
    assert (cwd / "model.py").read_text(encoding="utf-8") == fixed


def test_check_shows_the_fix_of_a_finding_in_a_deep_statement(cwd: Path) -> None:
    """The report's preview: the fix's text edit is generated from the deep statement (libcst recurses)."""
    (cwd / "model.py").write_text(SAME_STATEMENT.format(expr="x" + " + x" * 485), encoding="utf-8")
    done = run_flaxprec("check", "--no-cache", "--show-fixes", "model.py", cwd=cwd)
    assert done.returncode == 1
    assert "\n    +        return nn.Dense(4, dtype=self.dtype)(x), x + x + x" in done.stdout


# -- issue 19 item 2: code CPython rejects for depth is FLX900 -----------------------------------------------

REJECTED = {
    "5,000-term sum": "x = " + "+".join(["a"] * 5000) + "\n",
    "5,000 powers": "x = " + "**".join(["a"] * 5000) + "\n",
    "5,000 unary minus": "x = " + "-" * 5000 + "a\n",
    "5,000 not": "x = " + "not " * 5000 + "a\n",
    "5,000 calls": "x = f" + "()" * 5000 + "\n",
    "5,000 lambdas": "x = " + "lambda: " * 5000 + "a\n",
}


@pytest.mark.parametrize("text", REJECTED.values(), ids=REJECTED.keys())
def test_code_cpython_rejects_for_depth_is_flx900(cwd: Path, text: str) -> None:
    assert oracle(text) == (2, "")  # CPython itself: RecursionError or MemoryError
    (cwd / "deep.py").write_text(text, encoding="utf-8")
    done = run_flaxprec("check", "--no-cache", "deep.py", "good.py", cwd=cwd)
    assert done.stderr == ""
    assert lines(done.stdout) == [("deep.py", "FLX900", 1, 1), *GOOD_LINES]
    assert f"deep.py:1:1: FLX900 {TOO_DEEP_MESSAGE}\n" in done.stdout
    assert done.returncode == 1


def test_nested_calls_past_the_parser_s_bracket_limit_are_its_syntax_error() -> None:
    text = "x = " + "f(" * 5000 + ")" * 5000 + "\n"
    assert oracle(text) == (1, "1 406 too many nested parentheses")
    ((found,),) = check(text)
    assert (found.code, found.location.row, found.location.column) == ("FLX900", 1, 406)
    assert found.message == "Failed to parse: too many nested parentheses"


def ast_verdicts(kind: str, deepest: int) -> tuple[bool, bool]:
    """Is ``kind`` nested ``deepest`` and ``deepest + 1`` deep an FLX900 finding of the ast stage?"""
    texts = (MODULE_LEVEL.format(expr=DEEP[kind](n)) for n in (deepest, deepest + 1))
    return tuple(isinstance(engine.ast_stage(t, "f.py", "f", False), Diagnostic) for t in texts)  # type: ignore[return-value]


# Nested lambdas stop at the parser's own stack, as powers do (cheaper to parse: a 2,983-deep lambda takes
# CPython ~1 s); their 5,000-deep case is above, and the hypothesis test draws them at every depth.
@pytest.mark.parametrize("kind", [kind for kind in DEEP_SOURCE if kind != "lambdas"])
def test_flx900_exactly_where_compile_in_a_script_stops(kind: str) -> None:
    deepest = deepest_compiled(kind)
    assert ast_verdicts(kind, deepest) == (False, True)
    rejected = engine.ast_stage(MODULE_LEVEL.format(expr=DEEP[kind](deepest + 1)), "f.py", "f", False)
    assert rejected.message == TOO_DEEP_MESSAGE  # type: ignore[union-attr]


def test_the_verdict_ignores_the_caller_s_stack_and_recursion_limit() -> None:
    """A test runner's stack and limit are not a script's: the verdict is the script's all the same."""
    deepest = deepest_compiled("sum")

    def nested(depth: int) -> tuple[bool, bool]:
        return ast_verdicts("sum", deepest) if depth == 0 else nested(depth - 1)

    assert nested(300) == (False, True)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)
    try:
        assert ast_verdicts("sum", deepest) == (False, True)
    finally:
        sys.setrecursionlimit(old)
    assert [ast_verdicts("sum", deepest) for _ in range(20)] == [(False, True)] * 20  # once warmed up too


def test_forked_workers_judge_depth_as_a_serial_run() -> None:
    """In a fresh interpreter: a suite that has imported jax (the audit tests) may not fork (fork_is_safe)."""
    deepest = deepest_compiled("sum")
    script = textwrap.dedent(
        f"""
        from flaxprec import engine
        from flaxprec.engine import Checker, Unit
        from flaxprec.workers import fork_is_safe
        from test_robust_depth import DEEP, MODULE_LEVEL, TOO_DEEP_MESSAGE

        texts = [MODULE_LEVEL.format(expr=DEEP["sum"](n)) for n in ({deepest}, {deepest + 1}, 990)]
        engine.POOL_MIN_BYTES = 0  # a pool for these few kB
        assert fork_is_safe()
        for jobs in (1, 2):
            units = [Unit(f"f{{i}}.py", text, f"f{{i}}") for i, text in enumerate(texts)]
            Checker(jobs=jobs).index_units(units)
            assert [unit.error is not None for unit in units] == [False, True, False], jobs
            assert units[1].error.message == TOO_DEEP_MESSAGE
        print("same")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "same\n", "")


def test_the_deepest_compiled_expression_is_analysed_in_a_module() -> None:
    deepest = deepest_compiled("unary minus", OWN_STATEMENT)
    (found,) = check(OWN_STATEMENT.format(expr=DEEP["unary minus"](deepest)))
    assert rows(found) == [("FLX001", 11, 16)]
    (found,) = check(OWN_STATEMENT.format(expr=DEEP["unary minus"](deepest + 1)))
    assert rows(found) == [("FLX900", 1, 1)]


# -- a file the tool fails on: FLX902, exit 2 ----------------------------------------------------------------


@pytest.fixture
def no_large_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no thread can get the large stack (an address-space limit): deep files are not analysed."""
    monkeypatch.setattr(deep, "DEEP_STACK_BYTES", 1 << 62)


@pytest.mark.usefixtures("no_large_stack")
@pytest.mark.parametrize("exit_zero", [False, True])
def test_a_file_the_tool_fails_on_is_flx902_and_check_exits_2(cwd: Path, exit_zero: bool) -> None:
    (cwd / "deep.py").write_text("x = " + "+".join(["a"] * 990) + "\n")
    (cwd / "model.py").write_text(SAME_STATEMENT.format(expr="x" + " + x" * 485), encoding="utf-8")
    options = ["--exit-zero"] if exit_zero else []
    result = CliRunner().invoke(
        main, ["check", "--no-cache", *options, "deep.py", "good.py", "model.py"], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert lines(result.stdout) == [("deep.py", "FLX902", 1, 1), *GOOD_LINES, ("model.py", "FLX902", 1, 1)]
    assert f"deep.py:1:1: FLX902 {NO_STACK_MESSAGE}\n" in result.stdout


@pytest.mark.usefixtures("no_large_stack")
@pytest.mark.parametrize("apply", [False, True])
def test_fix_names_a_file_the_tool_fails_on_and_exits_2(cwd: Path, apply: bool) -> None:
    (cwd / "deep.py").write_text("x = " + "+".join(["a"] * 990) + "\n")
    options = ["--apply"] if apply else []
    result = CliRunner().invoke(main, ["fix", *options, "deep.py", "good.py"], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"deep.py: FLX902 {NO_STACK_MESSAGE}\n" in result.stderr
    assert (cwd / "deep.py").read_text() == "x = " + "+".join(["a"] * 990) + "\n"


def test_flx902_is_not_cached_and_ignores_the_selection(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (cwd / "deep.py").write_text("x = " + "+".join(["a"] * 990) + "\n")
    (cwd / "model.py").write_text(SAME_STATEMENT.format(expr="x" + " + x" * 485), encoding="utf-8")
    command = ["check", "--cache-dir", str(cwd / "cache"), "--ignore", "FLX9", "deep.py", "model.py"]
    with monkeypatch.context() as patch:
        patch.setattr(deep, "DEEP_STACK_BYTES", 1 << 62)
        failed = CliRunner().invoke(main, command, catch_exceptions=False)
    assert failed.exit_code == 2
    assert lines(failed.stdout) == [("deep.py", "FLX902", 1, 1), ("model.py", "FLX902", 1, 1)]
    again = CliRunner().invoke(main, command, catch_exceptions=False)  # a large stack again: analysed
    assert again.exit_code == 1
    assert lines(again.stdout) == [("model.py", "FLX001", 10, 16)]


# -- hypothesis: any depth, any construct, next to a real finding --------------------------------------------

BRACKETS = ("[", "]"), ("(", ")"), ("{", "}")
# Depth ranges per construct: up to where libcst stays fast (it parses a 2,000-deep subscript chain in
# ~17 s), and past what CPython takes (~3,000 on 3.11); the boundary itself: the tests above.
CHEAP = {"subscripts": 600, "sum": 900, "power": 900}


@st.composite
def deep_expressions(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from([*DEEP, "unary", "brackets"]))
    if kind == "brackets":  # the parser's own limit is 200 nested brackets
        depth = draw(st.integers(1, 190) | st.integers(190, 260))
        opened = draw(st.lists(st.sampled_from(BRACKETS), min_size=depth, max_size=depth))
        event(f"brackets: {'past the parser' if len(opened) > 200 else 'nested'}")
        return "".join(o for o, _ in opened) + "".join(c for _, c in reversed(opened))
    depth = draw(st.integers(1, 300) | st.integers(300, CHEAP.get(kind, 1200)) | st.integers(3000, 6000))
    event(f"{kind}: {'past CPython' if depth >= 3000 else 'deep' if depth > 300 else 'shallow'}")
    if kind == "unary":
        return "".join(draw(st.lists(st.sampled_from("-+~"), min_size=depth, max_size=depth))) + "a"
    return DEEP[kind](depth)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(expr=deep_expressions(), template=st.sampled_from(list(PLACES)))
def test_deep_expressions_never_crash_and_flx900_is_compile_s_verdict(expr: str, template: str) -> None:
    text = template.format(expr=expr)
    status, error = oracle(text)
    found, good_found = check(text, GOOD)  # raises nothing
    assert rows(good_found) == GOOD_FINDINGS
    if status == 0:
        assert rows(found) == [("FLX001", *PLACES[template])]
    elif status == 2:
        assert [(d.code, d.location.row, d.location.column, d.message) for d in found] == [
            ("FLX900", 1, 1, TOO_DEEP_MESSAGE)
        ]
    else:
        row, column, message = error.split(" ", 2)
        assert [(d.code, d.location.row, d.location.column, d.message) for d in found] == [
            ("FLX900", int(row), int(column), f"Failed to parse: {message}")
        ]
