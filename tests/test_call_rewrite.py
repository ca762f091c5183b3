"""Byte-exact call rewriting and edit application: every layout case is a before -> after pair."""

from __future__ import annotations

import difflib

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flaxprec.apply_edits import apply_edits
from flaxprec.call_rewrite import RewriteError, rewrite_call
from flaxprec.diagnostics import (
    CallEdit,
    CallOp,
    ImportNeed,
    PositionalToKeyword,
    ReplaceArgument,
    ReplaceNode,
    SetKeyword,
)

DTYPE = SetKeyword("dtype", "self.dtype")
DENSE_SIGNATURE = ("features", "use_bias", "dtype", "param_dtype", "precision")
JNP = ImportNeed("jax.numpy", "jnp")


def calls_in(module: cst.Module) -> list[cst.Call]:
    """Every call of the module, outer before inner (source order)."""
    found: list[cst.Call] = []

    class Collect(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            found.append(node)

    module.visit(Collect())
    return found


def find_call(module: cst.Module, func: str) -> cst.Call:
    return next(c for c in calls_in(module) if module.code_for_node(c.func) == func)


def rewrite(source: str, ops: list[CallOp], signature: tuple[str, ...] = (), func: str = "nn.Dense") -> str:
    module = cst.parse_module(source)
    call = find_call(module, func)
    return module.deep_replace(call, rewrite_call(call, ops, signature)).code


# --- adding a keyword, layout by layout ------------------------------------------------------------------

LAYOUT_CASES = {
    "one-line": ("y = nn.Dense(4)(x)\n", "y = nn.Dense(4, dtype=self.dtype)(x)\n"),
    "one-line-trailing-comma": ("y = nn.Dense(4,)(x)\n", "y = nn.Dense(4, dtype=self.dtype,)(x)\n"),
    "one-line-comma-space": ("y = nn.Dense(4, )(x)\n", "y = nn.Dense(4, dtype=self.dtype, )(x)\n"),
    "no-arg": ("y = nn.Dense()(x)\n", "y = nn.Dense(dtype=self.dtype)(x)\n"),
    "one-line-keywords": (
        "y = nn.Dense(features=4, use_bias=False)(x)\n",
        "y = nn.Dense(features=4, use_bias=False, dtype=self.dtype)(x)\n",
    ),
    "exploded-trailing-comma": (
        "y = nn.Dense(\n    4,\n    use_bias=False,\n)(x)\n",
        "y = nn.Dense(\n    4,\n    use_bias=False,\n    dtype=self.dtype,\n)(x)\n",
    ),
    "exploded-no-trailing-comma": (
        "y = nn.Dense(\n    4,\n    use_bias=False\n)(x)\n",
        "y = nn.Dense(\n    4,\n    use_bias=False,\n    dtype=self.dtype,\n)(x)\n",
    ),
    "comment-after-argument": (
        "y = nn.Dense(\n    4,  # features\n    use_bias=False,  # no bias\n)(x)\n",
        "y = nn.Dense(\n    4,  # features\n    use_bias=False,  # no bias\n    dtype=self.dtype,\n)(x)\n",
    ),
    "comment-after-last-argument-no-comma": (
        "y = nn.Dense(\n    4  # features\n)(x)\n",
        "y = nn.Dense(\n    4,  # features\n    dtype=self.dtype,\n)(x)\n",
    ),
    "comment-line-before-closing-bracket": (
        "y = nn.Dense(\n    4,\n    # use_bias=False,\n)(x)\n",
        "y = nn.Dense(\n    4,\n    dtype=self.dtype,\n    # use_bias=False,\n)(x)\n",
    ),
    "comment-on-opening-line": (
        "y = nn.Dense(  # the head\n    4,\n)(x)\n",
        "y = nn.Dense(  # the head\n    4,\n    dtype=self.dtype,\n)(x)\n",
    ),
    "only-argument-exploded": (
        "y = nn.Dense(\n        4\n)(x)\n",
        "y = nn.Dense(\n        4,\n        dtype=self.dtype,\n)(x)\n",
    ),
    "several-arguments-per-line": (
        "y = nn.Dense(\n    4, use_bias=False,\n)(x)\n",
        "y = nn.Dense(\n    4, use_bias=False,\n    dtype=self.dtype,\n)(x)\n",
    ),
    "hugging": (
        "y = nn.Dense(4,\n             use_bias=False)(x)\n",
        "y = nn.Dense(4,\n             use_bias=False, dtype=self.dtype)(x)\n",
    ),
    "hugging-exploded-trailing-comma": (
        "y = nn.Dense(4,\n             use_bias=False,\n)(x)\n",
        "y = nn.Dense(4,\n             use_bias=False,\n             dtype=self.dtype,\n)(x)\n",
    ),
    "first-line-then-break": (
        "y = nn.Dense(4,  # c\n)(x)\n",
        "y = nn.Dense(4, dtype=self.dtype,  # c\n)(x)\n",
    ),
    "no-arg-comment": ("y = nn.Dense(  # c\n)(x)\n", "y = nn.Dense(dtype=self.dtype  # c\n)(x)\n"),
    "before-kwargs": ("y = nn.Dense(4, **kw)(x)\n", "y = nn.Dense(4, dtype=self.dtype, **kw)(x)\n"),
    "only-kwargs": ("y = nn.Dense(**kw)(x)\n", "y = nn.Dense(dtype=self.dtype, **kw)(x)\n"),
    "exploded-before-kwargs": (
        "y = nn.Dense(\n    4,\n    # the rest\n    **kw,\n)(x)\n",
        "y = nn.Dense(\n    4,\n    dtype=self.dtype,\n    # the rest\n    **kw,\n)(x)\n",
    ),
    "exploded-only-kwargs": (
        "y = nn.Dense(\n    **kw\n)(x)\n",
        "y = nn.Dense(\n    dtype=self.dtype,\n    **kw\n)(x)\n",
    ),
    "after-star-args": ("y = nn.Dense(*a)(x)\n", "y = nn.Dense(*a, dtype=self.dtype)(x)\n"),
    "indented-block": (
        "class M(nn.Module):\n"
        "    def __call__(self, x):\n"
        "        return nn.Dense(\n"
        "            4,\n"
        "        )(x)\n",
        "class M(nn.Module):\n"
        "    def __call__(self, x):\n"
        "        return nn.Dense(\n"
        "            4,\n"
        "            dtype=self.dtype,\n"
        "        )(x)\n",
    ),
    "tabs": (
        "class M(nn.Module):\n"
        "\tdef __call__(self, x):\n"
        "\t\treturn nn.Dense(\n"
        "\t\t\t4,  # features\n"
        "\t\t\tuse_bias=False\n"
        "\t\t)(x)\n",
        "class M(nn.Module):\n"
        "\tdef __call__(self, x):\n"
        "\t\treturn nn.Dense(\n"
        "\t\t\t4,  # features\n"
        "\t\t\tuse_bias=False,\n"
        "\t\t\tdtype=self.dtype,\n"
        "\t\t)(x)\n",
    ),
    "crlf": (
        "y = nn.Dense(\r\n    4,  # c\r\n)(x)\r\n",
        "y = nn.Dense(\r\n    4,  # c\r\n    dtype=self.dtype,\r\n)(x)\r\n",
    ),
}


@pytest.mark.parametrize("case", LAYOUT_CASES)
def test_set_keyword_layout(case: str) -> None:
    before, after = LAYOUT_CASES[case]
    assert rewrite(before, [DTYPE]) == after
    # Fix twice == fix once.
    assert rewrite(after, [DTYPE]) == after


def test_new_line_copies_the_neighbours_newline_in_a_mixed_file() -> None:
    # The file's first newline is LF, the call's lines are CRLF: the added line follows the call.
    before = "import os\ny = nn.Dense(\r\n    4,\r\n)(x)\r\n"
    after = "import os\ny = nn.Dense(\r\n    4,\r\n    dtype=self.dtype,\r\n)(x)\r\n"
    assert rewrite(before, [DTYPE]) == after


def test_two_new_keywords_keep_order() -> None:
    before = "y = nn.Dense(\n    4,\n)(x)\n"
    after = "y = nn.Dense(\n    4,\n    dtype=self.dtype,\n    param_dtype=self.param_dtype,\n)(x)\n"
    assert rewrite(before, [DTYPE, SetKeyword("param_dtype", "self.param_dtype")]) == after


# --- replacing values --------------------------------------------------------------------------------------


def test_set_keyword_replaces_existing_value_in_place() -> None:
    before = "y = nn.Dense(4, dtype=None,  # compute\n    use_bias=False)(x)\n"
    after = "y = nn.Dense(4, dtype=self.dtype,  # compute\n    use_bias=False)(x)\n"
    assert rewrite(before, [DTYPE]) == after


def test_replace_keyword_value() -> None:
    before = "y = nn.Dense(4, param_dtype = jnp.bfloat16, )(x)\n"
    after = "y = nn.Dense(4, param_dtype = jnp.float32, )(x)\n"
    assert rewrite(before, [ReplaceArgument("jnp.float32", keyword="param_dtype")]) == after


def test_replace_positional_value() -> None:
    before = "y = nn.Dense(4, True, jnp.bfloat16,  # bf16\n    jnp.bfloat16)(x)\n"
    after = "y = nn.Dense(4, True, jnp.bfloat16,  # bf16\n    jnp.float32)(x)\n"
    assert rewrite(before, [ReplaceArgument("jnp.float32", index=3)]) == after


def test_swap_two_keywords_in_one_rewrite() -> None:
    before = "y = nn.Dense(4, dtype=self.param_dtype, param_dtype=self.dtype)(x)\n"
    after = "y = nn.Dense(4, dtype=self.dtype, param_dtype=self.param_dtype)(x)\n"
    ops: list[CallOp] = [
        ReplaceArgument("self.dtype", keyword="dtype"),
        SetKeyword("param_dtype", "self.param_dtype"),
    ]
    assert rewrite(before, ops) == after
    assert rewrite(after, ops) == after


def test_set_keyword_of_a_parameter_passed_positionally_edits_it_in_place() -> None:
    before = "y = nn.Dense(4, True, None)(x)\n"
    after = "y = nn.Dense(4, True, self.dtype)(x)\n"
    assert rewrite(before, [DTYPE], DENSE_SIGNATURE) == after


def test_tuple_value_is_parenthesised() -> None:
    assert rewrite("nn.Dense(4)\n", [SetKeyword("k", "1, 2")]) == "nn.Dense(4, k=(1, 2))\n"


def test_bare_generator_argument_gets_parentheses() -> None:
    assert rewrite("f(x for x in y)\n", [SetKeyword("k", "1")], func="f") == "f((x for x in y), k=1)\n"


def test_call_spanning_lines_of_its_parent_brackets() -> None:
    before = 'raise E(\n    "a "\n    "{}".format(x)\n)\n'
    after = 'raise E(\n    "a "\n    "{}".format(x, k=1)\n)\n'
    assert rewrite(before, [SetKeyword("k", "1")], func='"a "\n    "{}".format') == after


def test_unchanged_value_keeps_its_node() -> None:
    module = cst.parse_module("nn.Dense(4, dtype=self.dtype)\n")
    call = find_call(module, "nn.Dense")
    assert rewrite_call(call, [DTYPE]) is call


def test_conflicting_values_are_refused() -> None:
    with pytest.raises(RewriteError, match="conflicting"):
        rewrite("nn.Dense(4, dtype=None)\n", [DTYPE, ReplaceArgument("jnp.float32", keyword="dtype")])
    with pytest.raises(RewriteError, match="conflicting"):
        rewrite("nn.Dense(4)\n", [DTYPE, SetKeyword("dtype", "jnp.float32")])


def test_missing_argument_and_bad_value_are_refused() -> None:
    with pytest.raises(RewriteError, match="no positional argument"):
        rewrite("nn.Dense(4)\n", [ReplaceArgument("x", index=2)])
    with pytest.raises(RewriteError, match="no argument"):
        rewrite("nn.Dense(4)\n", [ReplaceArgument("x", keyword="dtype")])
    with pytest.raises(RewriteError, match="not a Python expression"):
        rewrite("nn.Dense(4)\n", [SetKeyword("dtype", "jnp.")])


# --- positional -> keyword ---------------------------------------------------------------------------------


def test_positional_to_keyword_converts_later_positionals() -> None:
    before = "y = nn.Dense(4, True, jnp.bfloat16, jnp.float32)(x)\n"
    after = "y = nn.Dense(4, True, dtype=jnp.bfloat16, param_dtype=jnp.float32)(x)\n"
    assert rewrite(before, [PositionalToKeyword(2, "dtype")], DENSE_SIGNATURE) == after
    assert rewrite(after, [PositionalToKeyword(2, "dtype")], DENSE_SIGNATURE) == after


def test_positional_to_keyword_keeps_layout() -> None:
    before = "y = nn.Dense(\n    4,\n    True,\n    jnp.bfloat16,  # compute\n    jnp.float32\n)(x)\n"
    after = (
        "y = nn.Dense(\n    4,\n    True,\n    dtype=jnp.bfloat16,  # compute\n"
        "    param_dtype=jnp.float32\n)(x)\n"
    )
    assert rewrite(before, [PositionalToKeyword(2, "dtype")], DENSE_SIGNATURE) == after


def test_positional_to_keyword_then_set_value_of_converted_argument() -> None:
    # Swapped positional dtypes: named and swapped back in one rewrite.
    before = "y = nn.Dense(4, True, jnp.float32, jnp.bfloat16)(x)\n"
    after = "y = nn.Dense(4, True, dtype=jnp.bfloat16, param_dtype=jnp.float32)(x)\n"
    ops: list[CallOp] = [
        PositionalToKeyword(2, "dtype"),
        SetKeyword("dtype", "jnp.bfloat16"),
        ReplaceArgument("jnp.float32", index=3),
    ]
    assert rewrite(before, ops, DENSE_SIGNATURE) == after


def test_positional_to_keyword_without_signature_for_the_last_argument() -> None:
    before = "y = nn.Dense(4, True, jnp.bfloat16)(x)\n"
    after = "y = nn.Dense(4, True, dtype=jnp.bfloat16)(x)\n"
    assert rewrite(before, [PositionalToKeyword(2, "dtype")]) == after


def test_positional_to_keyword_refusals() -> None:
    with pytest.raises(RewriteError, match=r"\*args"):
        rewrite("nn.Dense(4, *rest)\n", [PositionalToKeyword(0, "features")], DENSE_SIGNATURE)
    with pytest.raises(RewriteError, match=r"\*args"):
        rewrite("nn.Dense(*a, jnp.bfloat16)\n", [PositionalToKeyword(1, "use_bias")], DENSE_SIGNATURE)
    with pytest.raises(RewriteError, match="no parameter name"):
        rewrite("nn.Dense(4, True, jnp.bfloat16, jnp.float32)\n", [PositionalToKeyword(2, "dtype")])
    with pytest.raises(RewriteError, match="signature"):
        rewrite("nn.Dense(4, True, jnp.bfloat16)\n", [PositionalToKeyword(2, "param_dtype")], DENSE_SIGNATURE)
    with pytest.raises(RewriteError, match="twice"):
        rewrite(
            "nn.Dense(4, True, jnp.bfloat16, dtype=x)\n", [PositionalToKeyword(2, "dtype")], DENSE_SIGNATURE
        )


# --- apply_edits: several edits, nesting, ReplaceNode, imports ---------------------------------------------


def test_nested_edited_calls() -> None:
    module = cst.parse_module("y = nn.gelu(nn.Dense(4)(x))\n")
    edits = [
        CallEdit(find_call(module, "nn.Dense"), (DTYPE,)),
        CallEdit(find_call(module, "nn.gelu"), (SetKeyword("approximate", "False"),)),
    ]
    assert (
        apply_edits(module, edits).code
        == "y = nn.gelu(nn.Dense(4, dtype=self.dtype)(x), approximate=False)\n"
    )


def test_edited_call_inside_an_edited_argument_of_another_call() -> None:
    module = cst.parse_module("y = nn.Sequential([nn.Dense(4), nn.Dense(8)], name='s')\n")
    inner = [c for c in calls_in(module) if module.code_for_node(c.func) == "nn.Dense"]
    edits = [CallEdit(c, (DTYPE,)) for c in inner]
    edits.append(CallEdit(find_call(module, "nn.Sequential"), (SetKeyword("name", "'seq'"),)))
    expected = (
        "y = nn.Sequential([nn.Dense(4, dtype=self.dtype), nn.Dense(8, dtype=self.dtype)], name='seq')\n"
    )
    assert apply_edits(module, edits).code == expected


def test_call_edits_for_one_call_are_merged() -> None:
    module = cst.parse_module("y = nn.Dense(4, True, jnp.bfloat16, jnp.bfloat16)(x)\n")
    call = find_call(module, "nn.Dense")
    edits = [
        CallEdit(call, (PositionalToKeyword(2, "dtype"),), DENSE_SIGNATURE[:3]),
        CallEdit(call, (ReplaceArgument("jnp.float32", keyword="param_dtype"),), DENSE_SIGNATURE),
        CallEdit(call, (PositionalToKeyword(2, "dtype"),)),
    ]
    expected = "y = nn.Dense(4, True, dtype=jnp.bfloat16, param_dtype=jnp.float32)(x)\n"
    assert apply_edits(module, edits).code == expected


def test_replace_node_keeps_precedence_and_parentheses() -> None:
    module = cst.parse_module("a = w * x\nb = (x)\nc = f(x)\n")
    xs = [n for n in _names(module) if n.value == "x"]
    edits = [ReplaceNode(x, "x.astype(jnp.float32) + 1") for x in xs]
    assert apply_edits(module, edits).code == (
        "a = w * (x.astype(jnp.float32) + 1)\n"
        "b = (x.astype(jnp.float32) + 1)\n"
        "c = f(x.astype(jnp.float32) + 1)\n"
    )


def test_replace_node_atom() -> None:
    module = cst.parse_module("logits = self.param('w', init, shape, self.dtype)\n")
    target = find_call(module, "self.param").args[3].value
    edits = [ReplaceNode(target, "jnp.float32")]
    assert apply_edits(module, edits, [JNP]).code == (
        "import jax.numpy as jnp\nlogits = self.param('w', init, shape, jnp.float32)\n"
    )


def test_edit_inside_a_replaced_node_is_refused() -> None:
    module = cst.parse_module("y = f(g(x))\n")
    outer, inner = find_call(module, "f"), find_call(module, "g")
    with pytest.raises(RewriteError, match="inside"):
        apply_edits(module, [ReplaceNode(outer.args[0].value, "z"), ReplaceNode(inner.args[0].value, "w")])
    with pytest.raises(RewriteError, match="inside an argument"):
        apply_edits(module, [CallEdit(outer, (ReplaceArgument("z", index=0),)), CallEdit(inner, (DTYPE,))])
    with pytest.raises(RewriteError, match="both"):
        apply_edits(module, [ReplaceNode(inner, "z"), CallEdit(inner, (DTYPE,))])


def test_edit_of_a_foreign_node_is_refused() -> None:
    module = cst.parse_module("y = nn.Dense(4)(x)\n")
    other = cst.parse_module("y = nn.Dense(4)(x)\n")
    with pytest.raises(RewriteError, match="not part of this module"):
        apply_edits(module, [CallEdit(find_call(other, "nn.Dense"), (DTYPE,))])


IMPORT_CASES = {
    "after-last-import": (
        '"""Doc."""\n\nimport os\nimport flax.linen as nn\n\nx = 1\n\nimport late\n',
        '"""Doc."""\n\nimport os\nimport flax.linen as nn\nimport jax.numpy as jnp\n\nx = 1\n\nimport late\n',
    ),
    "after-docstring-only": (
        '"""Doc."""\n\nx = 1\n',
        '"""Doc."""\n\nimport jax.numpy as jnp\n\nx = 1\n',
    ),
    "after-future-import": (
        '"""Doc."""\nfrom __future__ import annotations\n\nx = 1\n',
        '"""Doc."""\nfrom __future__ import annotations\nimport jax.numpy as jnp\n\nx = 1\n',
    ),
    "below-header-comments": (
        "#!/usr/bin/env python\n# Copyright\n\nx = 1\n",
        "#!/usr/bin/env python\n# Copyright\n\nimport jax.numpy as jnp\nx = 1\n",
    ),
    "existing-alias": ("import jax.numpy as jnp\n\nx = 1\n", "import jax.numpy as jnp\n\nx = 1\n"),
    "existing-from-import": (
        "from jax import numpy as jnp\nx = 1\n",
        "from jax import numpy as jnp\nx = 1\n",
    ),
    "existing-in-try": (
        "try:\n    import jax.numpy as jnp\nexcept ImportError:\n    jnp = None\n",
        "try:\n    import jax.numpy as jnp\nexcept ImportError:\n    jnp = None\n",
    ),
    "other-alias-of-same-module": (
        "import jax.numpy as np\n\nx = 1\n",
        "import jax.numpy as jnp\nimport jax.numpy as np\n\nx = 1\n",  # isort's order: jnp < np
    ),
    "plain-import-binds-package-only": (
        "import jax.numpy\n",
        "import jax.numpy\nimport jax.numpy as jnp\n",
    ),
    "empty-file": ("", "import jax.numpy as jnp\n"),
    "crlf": ("import os\r\n\r\nx = 1\r\n", "import os\r\nimport jax.numpy as jnp\r\n\r\nx = 1\r\n"),
}


@pytest.mark.parametrize("case", IMPORT_CASES)
def test_import_insertion(case: str) -> None:
    before, after = IMPORT_CASES[case]
    assert apply_edits(cst.parse_module(before), [], [JNP, JNP]).code == after


def test_import_of_a_plain_module_and_several_needs() -> None:
    before = "import os\nx = 1\n"
    after = "import os\nimport jax.numpy as jnp\nimport jax\nx = 1\n"
    assert apply_edits(cst.parse_module(before), [], [JNP, ImportNeed("jax", "jax")]).code == after


def test_import_alias_bound_to_another_module_is_refused() -> None:
    with pytest.raises(RewriteError, match="already bound"):
        apply_edits(cst.parse_module("import numpy as jnp\n"), [], [JNP])


def test_no_edits_returns_the_module() -> None:
    module = cst.parse_module("x = 1\n")
    assert apply_edits(module, []) is module


def _names(module: cst.Module) -> list[cst.Name]:
    found: list[cst.Name] = []

    class Collect(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            found.append(node)

    module.visit(Collect())
    return found


# --- property: any layout, the keyword appears once, the diff is minimal, twice == once --------------------

_ARG = st.sampled_from(["a", "1", "b.c", "g(h)", "[1, 2]", "k=v", "use_bias=False", "dtype=None", "*rest"])


@st.composite
def calls(draw: st.DrawFn) -> str:
    args = draw(st.lists(_ARG, max_size=4, unique=True))
    args.sort(key=lambda a: "=" in a)  # positionals (and *rest) before keywords
    if draw(st.booleans()):
        args.append("**kw")
    layout = draw(st.sampled_from(["one-line", "exploded", "hugging"]))
    trailing = draw(st.booleans()) and bool(args)
    indent = draw(st.sampled_from(["    ", "\t", "  ", "        "]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    if layout == "one-line" or not args:
        call = "f(" + ", ".join(args) + ("," if trailing else "") + ")"
    elif layout == "hugging":
        call = "f(" + ("," + newline + "  ").join(args) + ("," if trailing else "") + ")"
    else:
        lines = ["f("]
        for i, arg in enumerate(args):
            comma = "," if i < len(args) - 1 or trailing else ""
            comment = f"  # c{i}" if draw(st.booleans()) else ""
            lines.append(f"{indent}{arg}{comma}{comment}")
        if draw(st.booleans()):
            lines.append(f"{indent}# closing")
        lines.append(")")
        call = newline.join(lines)
    return f"def m():{newline}{indent}y = {call}{newline}"


def _dtype_keywords(module: cst.Module) -> int:
    return sum(
        1
        for call in calls_in(module)
        for arg in call.args
        if arg.keyword is not None and arg.keyword.value == "dtype"
    )


@settings(max_examples=300, deadline=None)
@given(calls())
def test_set_keyword_property(source: str) -> None:
    op = SetKeyword("dtype", "jnp.bfloat16")
    once = rewrite(source, [op], func="f")
    module = cst.parse_module(once)  # parses
    assert _dtype_keywords(module) == 1
    assert once.count("#") == source.count("#")  # no comment lost or duplicated
    removed = [
        line for line in difflib.ndiff(source.splitlines(), once.splitlines()) if line.startswith("- ")
    ]
    assert len(removed) <= 1  # at most the previous argument's line changes
    assert rewrite(once, [op], func="f") == once
