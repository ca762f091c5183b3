"""No edit that does not parse is ever produced or advertised (issue 20 item 5).

Two guards (:mod:`flaxprec.fix_guard`): a fix never rewrites what a statement binds (an assignment,
augmented-assignment, ``del``, ``for``, ``with ... as`` or walrus target), and a fix whose text, applied
alone, does not parse is dropped before any report shows it. Tested on their own (synthetic findings,
whatever the rules do today), on flax's masked nnx ``Conv`` (``kernel *= self.mask``, where FLX007's cast
once turned the target into ``jnp.asarray(kernel, self.dtype) *= mask``), over generated programs, and over
every labelled corpus: every fix ``check --output-format json`` advertises, applied alone, parses.
"""

from __future__ import annotations

import ast
import json
import os
import random
import warnings
from pathlib import Path

import libcst as cst
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import LABELLED, labelled_corpus
from flaxprec.cli import main
from flaxprec.diagnostics import (
    Applicability,
    CallEdit,
    Diagnostic,
    Fix,
    Location,
    ReplaceNode,
    SetKeyword,
    TextEdit,
)
from flaxprec.fix_guard import ParseCheck, drop_target_fixes
from flaxprec.fix_text import apply_text
from flaxprec.suppress import split_lines

# -- guard 1: no fix rewrites a binding target -------------------------------------------------------------

BOUND = [
    ("w = x", True),
    ("w: int = x", True),
    ("w *= x", True),
    ("w, y = x", True),
    ("[y, *w] = x", True),
    ("y = w = x", True),
    ("w[0] = x", True),
    ("w.a = x", True),
    ("del w", True),
    ("for w in x:\n    pass", True),
    ("with x as w:\n    pass", True),
    ("with x as (y, w):\n    pass", True),
    ("y = [x for w in x]", True),
    ("y = (w := x)", True),
    ("try:\n    pass\nexcept ValueError as w:\n    pass", True),
    ("y = lambda w: x", True),
    ("y = x * w", False),
    ("y *= w", False),
    ("y[w] = x", True),  # an index of a target is left alone too: the tool cannot tell it apart cheaply
    ("for y in w:\n    pass", False),
    ("with w as y:\n    pass", False),
    ("del y[w.a]", True),
    ("y = [w for y in x]", False),
    ("y = (x := w)", False),
]


def _names(root: cst.CSTNode, name: str) -> list[cst.Name]:
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name) and node.value == name:
            found.append(node)
        stack.extend(node.children)
    return found


@pytest.mark.parametrize("anywhere", [False, True], ids=["statement", "module"])
@pytest.mark.parametrize(("code", "bound"), BOUND, ids=[code for code, _ in BOUND])
def test_a_fix_never_rewrites_a_binding_target(code: str, bound: bool, anywhere: bool) -> None:
    module = cst.parse_module(f"import jax.numpy as jnp\n{code}\n")
    statement = module.body[1]
    (node,) = _names(statement, "w")
    fix = Fix("cast", Applicability.SAFE, (ReplaceNode(node, "jnp.asarray(w, x.dtype)"),))
    # ``anywhere``: the finding's statement is another one: the edit is looked for in the whole module.
    found = Diagnostic("FLX007", "x", "m", "m.py", node, module.body[0] if anywhere else statement, fix=fix)
    drop_target_fixes(module, [found])
    assert (found.fix is None) is bound
    assert found.node is node  # the finding itself stays


def test_a_call_edit_inside_a_target_is_dropped_and_one_beside_it_kept() -> None:
    module = cst.parse_module("f(a).b = g(a)\n")
    statement = module.body[0]
    assign = statement.body[0]
    target_call = assign.targets[0].target.value
    value_call = assign.value
    edits = [CallEdit(call, (SetKeyword("dtype", "x"),)) for call in (target_call, value_call)]
    in_target, beside = (
        Diagnostic("FLX001", "x", "m", "m.py", e.call, statement, fix=Fix("t", Applicability.SAFE, (e,)))
        for e in edits
    )
    drop_target_fixes(module, [in_target, beside])
    assert in_target.fix is None
    assert beside.fix is not None


# -- guard 2: an advertised fix parses ---------------------------------------------------------------------

SOURCE = "class A:\n    def f(self, x):\n        y = g(x,\n              x)\n        return y\n"


@pytest.mark.parametrize(
    ("edit", "statement", "parses"),
    [
        (TextEdit(Location(3, 13), Location(3, 14), "h"), (3, 4), True),
        (TextEdit(Location(3, 13), Location(3, 14), "h"), None, True),
        (TextEdit(Location(3, 9), Location(3, 10), "h(y)"), (3, 4), False),
        (TextEdit(Location(3, 9), Location(3, 10), "h(y)"), None, False),
        (TextEdit(Location(4, 15), Location(4, 16), "x, z"), (3, 4), True),
        (TextEdit(Location(4, 15), Location(4, 17), "x"), (3, 4), False),  # the closing parenthesis goes
        (TextEdit(Location(5, 9), Location(5, 15), "yield"), (5, 5), True),
        # the rows given are not the edited statement's: the whole text is read
        (TextEdit(Location(3, 9), Location(3, 10), "h(y)"), (5, 5), False),
    ],
)
def test_the_parse_check(edit: TextEdit, statement: tuple[int, int] | None, parses: bool) -> None:
    check = ParseCheck(SOURCE, split_lines(SOURCE))
    assert check([edit], statement) is parses
    assert _parses(apply_text(SOURCE, [edit])) is parses


def test_the_parse_check_asks_libcst_where_python_cannot_read_the_file() -> None:
    # The unedited text does not parse with Python's parser (libcst may read syntax newer than the running
    # Python): the check answers as libcst does for the fixed text (here: it does not parse either).
    text = "print x\n"
    check = ParseCheck(text, split_lines(text))
    assert check([TextEdit(Location(1, 7), Location(1, 8), "y")]) is False


def _parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in the corpora
            ast.parse(text)
    except SyntaxError:
        return False
    return True


# -- what ``check`` advertises -----------------------------------------------------------------------------


def _advertised(root: Path, *paths: str) -> list[tuple[str, dict]]:
    """Every finding with a fix in ``check --select ALL --unsafe-fixes --output-format json``, as (file text,
    finding). SARIF and ``--show-fixes`` render the same edits (``RenderContext.text_edits``)."""
    runner = CliRunner()
    args = ["check", "--no-cache", "--exit-zero", "--select", "ALL", "--unsafe-fixes"]
    args += ["--output-format", "json"]
    result = runner.invoke(main, [*args, *paths], catch_exceptions=False)
    found = json.loads(result.output)
    texts: dict[str, str] = {}
    advertised = []
    for finding in found:
        if finding["fix"] is None:
            continue
        name = finding["filename"]
        if name not in texts:
            raw = (root / name).read_bytes() if not Path(name).is_absolute() else Path(name).read_bytes()
            texts[name] = raw.decode("utf-8")
        advertised.append((texts[name], finding))
    return advertised


def _applied(text: str, fix: dict) -> str:
    edits = [
        TextEdit(Location(**e["location"]), Location(**e["end_location"]), e["content"]) for e in fix["edits"]
    ]
    return apply_text(text, edits)


def _broken(advertised: list[tuple[str, dict]]) -> list[str]:
    """The advertised fixes that, applied alone, do not parse (where the original does)."""
    broken = []
    for text, finding in advertised:
        if finding["fix"]["edits"] and _parses(text) and not _parses(_applied(text, finding["fix"])):
            where = f"{finding['filename']}:{finding['location']['row']}:{finding['location']['column']}"
            broken.append(f"{where} {finding['code']} {finding['fix']['edits']}")
    return broken


MASKED_CONV = """\
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.dtypes import promote_dtype


class Conv(nnx.Module):
    def __init__(self, features, *, mask=None, dtype=None, param_dtype=jnp.float32, rngs: nnx.Rngs):
        self.kernel = nnx.Param(jnp.ones((3, features), param_dtype))
        self.mask = mask
        self.dtype = dtype

    def __call__(self, inputs):
        kernel = self.kernel.value
        if self.mask is not None:
            kernel *= self.mask
        inputs, kernel = promote_dtype((inputs, kernel), dtype=self.dtype)
        return inputs @ kernel
"""


def test_the_masked_nnx_conv_is_never_offered_an_edit_of_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("conv.py").write_text(MASKED_CONV, encoding="utf-8")
    advertised = _advertised(tmp_path, "conv.py")
    assert _broken(advertised) == []
    for _, finding in advertised:  # whatever is reported, nothing edits ``kernel *= self.mask``'s target
        assert all(e["location"]["row"] != 15 for e in finding["fix"]["edits"]), finding


# -- generated programs ------------------------------------------------------------------------------------

# Statements of a method where ``w`` is a float32 parameter and ``x`` compute-dtype activations, with ``w``
# (or a layer, or a mask constant) in every kind of binding and using position.
STATEMENTS = (
    "w *= x",
    "w = w * x",
    "w, v = w * x, x",
    "v = w * x",
    "x = x * w",
    "for w in (w * x,):\n{i}    x = x + w",
    "with ctx(w * x) as w:\n{i}    x = x + w",
    "del v",
    "v = (w := w * x)",
    "v = [w * x for w in (x,)]",
    "w[0] = x",
    "x[w] = x * w",
    "v = nn.Dense(4)(x)",
    "x = nn.Dense(4)(x)",
    "x, v = nn.Dense(4)(x), nn.Dense(4)",
    "v = jnp.where(x > 0, x, -1e9)",
    "x = jax.nn.softmax(jnp.where(x > 0, x * w, -1e30))",
    "x -= 1e30",
    "x += w",
    "v = x.astype(jnp.float32) * w",
)
RETURNS = ("return x * w", "return x", "return nn.Dense(4)(x * w)", "return v")


@st.composite
def program(draw: st.DrawFn) -> str:
    body = draw(st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=6))
    indent = "        "
    lines = [
        "import flax.linen as nn",
        "import jax",
        "import jax.numpy as jnp",
        "",
        "",
        "class Block(nn.Module):",
        "    dim: int = 4",
        "    dtype: jnp.dtype = jnp.bfloat16",
        "",
        "    @nn.compact",
        "    def __call__(self, x):",
        f"{indent}w = self.param('w', nn.initializers.ones, (self.dim,))",
        f"{indent}v = x",
    ]
    lines += [indent + statement.format(i=indent) for statement in body]
    lines.append(indent + draw(st.sampled_from(RETURNS)))
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program())
def test_every_advertised_fix_of_a_generated_program_parses(source: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "model.py").write_text(source, encoding="utf-8")
        old = Path.cwd()
        os.chdir(root)
        try:
            advertised = _advertised(root, "model.py")
        finally:
            os.chdir(old)
    assert _parses(source)
    assert _broken(advertised) == []


# -- every labelled corpus ---------------------------------------------------------------------------------

# Files per release read by the default run (a seeded sample of those naming flax, plus the files below):
# every file when FLAXPREC_FIX_PARSE_ALL=1 (about three minutes).
SAMPLE = 20
ALWAYS = {"flax-0.12.8": ["flax/nnx/nn/linear.py"]}  # the masked nnx Conv of issue 20


@pytest.mark.slow
@pytest.mark.parametrize("release", sorted(LABELLED))
def test_every_advertised_fix_on_a_corpus_parses(release: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = labelled_corpus(release)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    files = [f for f in files if "flax" in (root / f).read_text(encoding="utf-8", errors="replace")]
    if not os.environ.get("FLAXPREC_FIX_PARSE_ALL") and len(files) > SAMPLE:
        files = sorted({*random.Random(release).sample(files, SAMPLE), *ALWAYS.get(release, [])})
    monkeypatch.chdir(root)
    advertised = _advertised(root, *files)
    assert _broken(advertised) == []
