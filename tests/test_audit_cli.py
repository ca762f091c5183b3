"""``flaxprec audit`` end to end on our own small models, with real jax/flax on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys

import flax.linen as nn
import pytest
from audit_models.harness import REPO, audit, site, target

LEAKY_LEAKS = [
    # (path, class, dtype, cause, site marker, inputs, contains)
    ("embed", "Embed", "float32", "missing-dtype", "embed", [], []),
    ("norm", "RMSNorm", "float32", "param-upcast", "norm", ["bfloat16"], []),
    ("mlp", "MLP", "float32", "missing-dtype", "mlp", ["bfloat16"], ["mlp/up", "mlp/down"]),
    (
        "MultiHeadDotProductAttention_0",
        "MultiHeadDotProductAttention",
        "float32",
        "missing-dtype",
        "attention",
        ["bfloat16"],
        [f"MultiHeadDotProductAttention_0/{name}" for name in ("query", "key", "value", "out")],
    ),
    ("Softmax32_0", "Softmax32", "float32", "float32-compute", "softmax", ["bfloat16"], []),
    ("head", "Dense", "float32", "missing-dtype", "head", ["bfloat16"], []),
]


def test_leaky_model_reports_each_leak_at_its_construction_line():
    result = audit(target("leaky"), "--output-format", "json")
    assert result.exit_code == 1
    records = result.records
    leaks = [r for r in records if r["kind"] == "compute-leak"]
    expected = []
    for path, cls, dtype, cause, marker, inputs, contains in LEAKY_LEAKS:
        record = {
            "kind": "compute-leak",
            "path": path,
            "class": cls,
            "dtype": dtype,
            "expected": "bfloat16",
            "site": site("leaky", marker),
            "cause": cause,
            "method": "__call__",
            "inputs": inputs,
            "contains": contains,
        }
        if cause == "param-upcast":
            record["params"] = {"weight": "float32"}
        expected.append(record)
    assert leaks == expected


def test_leaky_model_reports_half_precision_params_per_leaf():
    records = audit(target("leaky"), "--output-format", "json").records
    params = [r for r in records if r["kind"] == "param-dtype"]
    proj = site("leaky", "proj")
    assert params == [
        {
            "kind": "param-dtype",
            "path": "proj/bias",
            "class": "Dense",
            "dtype": "bfloat16",
            "expected": "float32",
            "site": proj,
        },
        {
            "kind": "param-dtype",
            "path": "proj/kernel",
            "class": "Dense",
            "dtype": "bfloat16",
            "expected": "float32",
            "site": proj,
        },
    ]


def _row(text: str, first_cell: str) -> list[str]:
    rows = [line.split() for line in text.splitlines() if line.startswith(f"  {first_cell} ")]
    assert len(rows) == 1, text
    return rows[0]


def test_text_output_groups_leaks_by_cause_with_sites():
    result = audit(target("leaky"))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "flaxprec audit tests/audit_models/leaky.py:make",
        "compute dtype: bfloat16 (Leaky.dtype); 14 module calls traced",
    ]
    headers = [line for line in lines if line and not line.startswith(" ")][2:]
    assert headers == [
        "compute-leak (missing-dtype): dtype is None: computes in the dtype of its float32 params",
        "compute-leak (param-upcast): a float32 param promotes its output",
        "compute-leak (float32-compute): computes in float32 itself (a cast or a float32 constant)",
        "param-dtype: parameters not stored in float32",
        "8 findings: 6 compute-leak, 2 param-dtype",
    ]
    text = result.stdout
    assert _row(text, "embed") == ["embed", "Embed", "-", "float32", site("leaky", "embed")]
    assert _row(text, "mlp") == [
        "mlp",
        "MLP",
        "bfloat16",
        "float32",
        site("leaky", "mlp"),
        "(and",
        "inside:",
        "up,",
        "down)",
    ]
    assert _row(text, "norm") == ["norm", "RMSNorm", "bfloat16", "float32", site("leaky", "norm")]
    assert _row(text, "proj/kernel") == ["proj/kernel", "Dense", "bfloat16", site("leaky", "proj")]


def test_clean_model_gives_nothing():
    result = audit(target("clean"), "--output-format", "json")
    assert (result.exit_code, result.records) == (0, [])
    text = audit(target("clean")).stdout
    assert text.splitlines()[-1] == "no findings: parameters are float32 and no layer leaves bfloat16"


def test_dtype_option_sets_the_root_and_adopted_submodules():
    result = audit(target("clean"), "--dtype", "fp16")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == "compute dtype: float16 (--dtype); 14 module calls traced"


def test_float32_compute_dtype_reports_params_only():
    records = audit(target("leaky"), "--dtype", "float32", "--output-format", "json").records
    assert [(r["kind"], r["path"]) for r in records] == [
        ("param-dtype", "proj/bias"),
        ("param-dtype", "proj/kernel"),
    ]


def test_model_without_dtype_reports_params_and_says_why_leaks_are_unchecked():
    result = audit(target("sites_model"))
    assert result.stdout.splitlines()[1] == (
        "compute dtype: unknown (Sites has no dtype (pass --dtype)); 16 module calls traced"
    )


def test_audit_restores_the_flax_hooks():
    post_init, clone = nn.Module.__dict__["__post_init__"], nn.Module.__dict__["clone"]
    audit(target("leaky"))
    audit(target("bad_targets", "raises"))
    assert nn.Module.__dict__["__post_init__"] is post_init
    assert nn.Module.__dict__["clone"] is clone


BAD = "tests/audit_models/bad_targets.py"
SHAPES = "(module, args), (module, args, kwargs) or (module, args, kwargs, loss_fn)"


@pytest.mark.parametrize(
    ("target_arg", "message"),
    [
        ("no_colon", "TARGET must be 'path/to/file.py:factory' or 'package.module:factory', got 'no_colon'"),
        ("tests/audit_models/missing.py:make", "cannot import tests/audit_models/missing.py: no such file"),
        (
            "tests/audit_models/broken_import.py:make",
            "cannot import tests/audit_models/broken_import.py: "
            "ModuleNotFoundError: No module named 'flaxprec_no_such_module'",
        ),
        (
            "flaxprec_no_such_pkg.models:make",
            "cannot import flaxprec_no_such_pkg.models: ModuleNotFoundError: "
            "No module named 'flaxprec_no_such_pkg'",
        ),
        (f"{BAD}:missing", f"{BAD} has no attribute 'missing'"),
        (f"{BAD}:NOT_CALLABLE", f"{BAD}:NOT_CALLABLE is not callable (got int)"),
        (f"{BAD}:raises", f"{BAD}:raises() raised ValueError: boom"),
        (f"{BAD}:not_a_tuple", f"{BAD}:not_a_tuple() must return {SHAPES}; got int"),
        (f"{BAD}:too_short", f"{BAD}:too_short() must return {SHAPES}; got a 1-tuple"),
        (f"{BAD}:not_a_module", f"{BAD}:not_a_module() must return a flax.linen Module first; got str"),
        (
            f"{BAD}:args_not_a_tuple",
            f"{BAD}:args_not_a_tuple() must return the positional inputs as a tuple; got ArrayImpl",
        ),
        (
            f"{BAD}:kwargs_not_a_dict",
            f"{BAD}:kwargs_not_a_dict() must return the keyword inputs as a dict; got list",
        ),
        (
            f"{BAD}:init_fails",
            f"{BAD}:init_fails: module.init failed: TypeError: "
            "Dense.__call__() takes 2 positional arguments but 3 were given",
        ),
    ],
)
def test_bad_target_exits_2_with_a_message_and_no_traceback(target_arg, message):
    result = audit(target_arg)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"flaxprec audit: error: {message}\n"


def test_verbose_shows_the_traceback():
    result = audit(target("bad_targets", "raises"), "--verbose")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raise ValueError("boom")' in result.stderr
    assert result.stderr.endswith(
        f"flaxprec audit: error: {target('bad_targets', 'raises')}() raised ValueError: boom\n"
    )


def _python(code: str, cwd: os.PathLike[str] | str = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_package_module_target_in_a_subprocess():
    code = "import sys; from flaxprec.cli import main; main(['audit', 'audit_models.clean:make'])"
    result = _python(code, cwd=REPO / "tests")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "flaxprec audit audit_models.clean:make"


def test_cli_and_audit_command_import_neither_jax_nor_flax():
    code = (
        "import sys\n"
        "import flaxprec.cli, flaxprec.audit, flaxprec.audit.command\n"
        "try:\n"
        "    flaxprec.cli.main(['audit', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'jax', 'jaxlib', 'flax'}))\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
    assert "Usage: " in result.stdout
