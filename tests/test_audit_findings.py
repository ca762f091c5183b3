"""The analysis on hand-built traces: where a leak is reported, where it is folded, where it is not."""

from __future__ import annotations

from flaxprec.audit.findings import analyse, leak_findings, param_findings
from flaxprec.audit.records import CallRecord, ModuleInfo, Site, Trace

BF16, F32 = "bfloat16", "float32"


def _info(
    path, cls="Dense", dtype=None, has_dtype=True, internal=False, line=1, cls_module="flax.linen.linear"
):
    return ModuleInfo(tuple(path), cls, cls_module, Site("/m.py", line), internal, has_dtype, dtype)


def _trace(infos, calls, params=(), compute=BF16):
    modules = {info.path: info for info in infos}
    return Trace("Root", compute, "Root.dtype", modules, calls, list(params))


def _call(path, inputs=(BF16,), outputs=(F32,), params=None, children=()):
    return CallRecord(
        tuple(path), "__call__", tuple(inputs), tuple(outputs), dict(params or {}), list(children)
    )


def _summary(findings):
    return [
        (f.kind, f.path, f.cause, f.site.line if f.site else None, f.extra.get("contains")) for f in findings
    ]


def test_a_leak_is_reported_where_it_starts_not_where_it_flows():
    child = _call(["block", "dense"])
    passthrough = _call(["block", "dropout"], inputs=(F32,))
    block = _call(["block"], children=[child, passthrough])
    root = _call([], inputs=(), children=[block])
    trace = _trace(
        [
            _info([], "Root", BF16, cls_module="model"),
            _info(["block"], "Block", BF16, cls_module="model", line=2),
            _info(["block", "dense"], line=3),
            _info(["block", "dropout"], "Dropout", has_dtype=False, line=4),
        ],
        [root, block, child, passthrough],
    )
    assert _summary(leak_findings(trace)) == [("compute-leak", "block/dense", "missing-dtype", 3, [])]


def test_explicit_float32_dtype_is_the_authors_choice():
    head = _call(["lm_head"])
    trace = _trace(
        [_info([], "Root", BF16), _info(["lm_head"], dtype=F32)], [_call([], children=[head]), head]
    )
    assert leak_findings(trace) == []


def test_internal_modules_fold_into_a_leaking_parent_only():
    query = _call(["attn", "query"])
    attn = _call(["attn"], children=[query])
    infos = [
        _info([], "Root", BF16),
        _info(["attn"], "MHA", line=5),
        _info(["attn", "query"], internal=True, line=5),
    ]
    trace = _trace(infos, [_call([], children=[attn]), attn, query])
    assert _summary(leak_findings(trace)) == [("compute-leak", "attn", "missing-dtype", 5, ["attn/query"])]
    # The same child under a parent that does not leak (its output is cast back) is reported itself.
    quiet = _call(["attn"], outputs=(BF16,), children=[query])
    infos[1] = _info(["attn"], "MHA", dtype=BF16, line=5)
    trace = _trace(infos, [_call([], outputs=(BF16,), children=[quiet]), quiet, query])
    assert _summary(leak_findings(trace)) == [("compute-leak", "attn/query", "missing-dtype", 5, [])]


def test_causes_of_custom_modules():
    norm = _call(["norm"], params={"weight": F32})
    cast = _call(["softmax"])
    infos = [
        _info([], "Root", BF16),
        _info(["norm"], "RMSNorm", BF16, cls_module="model", line=7),
        _info(["softmax"], "Softmax32", has_dtype=False, cls_module="model", line=8),
    ]
    trace = _trace(infos, [_call([], children=[norm, cast]), norm, cast])
    assert _summary(leak_findings(trace)) == [
        ("compute-leak", "norm", "param-upcast", 7, []),
        ("compute-leak", "softmax", "float32-compute", 8, []),
    ]
    assert leak_findings(trace)[0].extra["params"] == {"weight": F32}


def test_a_module_called_twice_is_reported_once():
    first, second = _call(["embed"], inputs=()), _call(["embed"])
    trace = _trace([_info([], "Root", BF16), _info(["embed"], "Embed", line=9)], [first, second])
    assert _summary(leak_findings(trace)) == [("compute-leak", "embed", "missing-dtype", 9, [])]


def test_no_half_compute_dtype_no_leaks_but_params_still_checked():
    dense = _call(["dense"])
    params = [(("dense", "kernel"), BF16), (("dense", "bias"), F32), (("lost", "inner", "w"), "float16")]
    trace = _trace([_info([], "Root", F32, line=1), _info(["dense"], line=3)], [dense], params, compute=F32)
    assert _summary(analyse(trace)) == [
        ("param-dtype", "dense/kernel", None, 3, None),
        # an owner the trace never saw: attributed to the nearest recorded ancestor (here the root)
        ("param-dtype", "lost/inner/w", None, 1, None),
    ]
    assert [(f.cls, f.dtype, f.expected) for f in param_findings(trace)] == [
        ("Dense", BF16, F32),
        ("Root", "float16", F32),
    ]
