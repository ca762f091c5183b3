"""``--grads``: a real forward/backward pass on the CPU in bfloat16 and in float32."""

from __future__ import annotations

import pytest
from audit_models.harness import audit, line_of, site, target

PARAMS = ["dense/bias", "dense/kernel", "final_logits_bias", "shifted/scale"]


def _by_kind(records, kind):
    return [r for r in records if r["kind"] == kind]


def test_grads_find_the_planted_zero_gradient_and_the_planted_mismatch():
    result = audit(target("grads_model"), "--grads", "--output-format", "json")
    assert result.exit_code == 1
    records = result.records
    root_site = f"tests/audit_models/grads_model.py:{line_of('grads_model', 'root')}"
    [zero] = _by_kind(records, "zero-grad")
    assert zero == {
        "kind": "zero-grad",
        "path": "final_logits_bias",
        "class": "GradModel",
        "dtype": "bfloat16,float32",
        "expected": "nonzero",
        "site": root_site,
        "norm": 0.0,
        "norm_float32": 0.0,
        "rel_diff": 0.0,
    }
    [mismatch] = _by_kind(records, "grad-mismatch")
    assert {k: mismatch[k] for k in ("path", "class", "dtype", "expected", "site", "rtol")} == {
        "path": "shifted/scale",
        "class": "Shifted",
        "dtype": "bfloat16",
        "expected": "float32",
        "site": site("grads_model", "shifted"),
        "rtol": 0.05,
    }
    # Every bfloat16 activation of the gate is exactly 1; in float32 they average 0.75.
    assert mismatch["rel_diff"] == pytest.approx(1 / 3, rel=1e-3)
    norms = _by_kind(records, "grad-norm")
    assert [r["path"] for r in norms] == PARAMS
    dense_kernel = norms[1]
    assert dense_kernel["rel_diff"] < 0.01 and dense_kernel["norm"] > 0


def test_the_factory_loss_fn_is_used():
    records = audit(target("grads_model", "make_with_loss"), "--grads", "--output-format", "json").records
    assert [(r["path"], r["dtype"]) for r in _by_kind(records, "zero-grad")] == [
        ("final_logits_bias", "bfloat16,float32"),
        ("shifted/scale", "bfloat16,float32"),
    ]
    assert _by_kind(records, "grad-mismatch") == []


def test_rtol_raises_the_mismatch_threshold():
    records = audit(target("grads_model"), "--grads", "--rtol", "0.5", "--output-format", "json").records
    assert _by_kind(records, "grad-mismatch") == []
    assert [r["path"] for r in _by_kind(records, "zero-grad")] == ["final_logits_bias"]


def test_grads_table():
    result = audit(target("grads_model"), "--grads")
    lines = result.stdout.splitlines()
    start = lines.index("gradient norms (bfloat16 run vs float32 run, rtol 0.05):")
    assert lines[start + 1].split() == ["path", "norm", "bfloat16", "norm", "float32", "rel", "diff"]
    assert [line.split()[0] for line in lines[start + 2 : start + 6]] == PARAMS
    assert lines[start + 4].split() == ["final_logits_bias", "0", "0", "0"]
    assert lines[start + 5].split() == ["shifted/scale", "45.25", "33.94", "0.3333"]
    assert lines[-1] == "2 findings: 1 zero-grad, 1 grad-mismatch"


def test_grads_need_a_dtype_field():
    result = audit(target("sites_model"), "--grads")
    assert result.exit_code == 2
    assert result.stderr == "flaxprec audit: error: --grads: Sites has no dtype (pass --dtype)\n"


def test_mismatch_needs_to_exceed_the_noise_floor():
    from flaxprec.audit.grads import GradRow, grad_findings

    rows = [
        GradRow(("big", "kernel"), 10.0, 10.0),
        # a bias feeding a norm layer: analytically zero, rounding noise in both runs
        GradRow(("dense", "bias"), 1.2e-6, 1.9e-6),
        GradRow(("other", "kernel"), 1.2, 1.0),
    ]
    findings, norms = grad_findings(rows, {}, "bfloat16", rtol=0.05)
    assert [(f.kind, f.path) for f in findings] == [("grad-mismatch", "other/kernel")]
    assert [f.path for f in norms] == ["big/kernel", "dense/bias", "other/kernel"]
