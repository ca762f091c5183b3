"""``--cross-check``: which runtime leaks do the static rules explain?"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from audit_models.harness import HERE, audit, line_of, site, target

from flaxprec.audit import crosscheck
from flaxprec.diagnostics import Diagnostic, Location

LEAKY = HERE / "leaky.py"


def _diag(code: str, row: int, end_row: int | None = None, filename: Path = LEAKY) -> Diagnostic:
    return Diagnostic(
        code,
        "name",
        "message",
        str(filename),
        location=Location(row, 1),
        end_location=Location(end_row or row, 9),
    )


def _statuses(records):
    return {r["path"]: r["static"] for r in records if r["kind"] == "compute-leak"}


@pytest.fixture
def fake_engine(monkeypatch):
    """Stand in for the static engine; records the paths it was given."""
    seen: list[list[Path]] = []

    def install(diagnostics):
        def check_paths(paths):
            seen.append(list(paths))
            return diagnostics

        monkeypatch.setattr(crosscheck, "static_diagnostics", check_paths)
        return seen

    return install


def test_leaks_are_explained_by_row_range_or_by_flx007_in_the_class_body(fake_engine):
    head = line_of("leaky", "head")
    seen = fake_engine(
        [
            _diag("FLX001", line_of("leaky", "embed")),
            _diag("FLX001", head - 1, head + 1),  # a range that contains the construction line
            _diag(
                "FLX001", line_of("leaky", "mlp"), filename=HERE / "clean.py"
            ),  # the right row, another file
            _diag("FLX002", line_of("leaky", "attention")),  # not a code that explains a leak
            _diag("FLX007", line_of("leaky", "upcast")),  # `weight * x` inside class RMSNorm
        ]
    )
    result = audit(target("leaky"), "--cross-check", "--output-format", "json")
    assert result.exit_code == 1
    assert seen == [[LEAKY]]  # alone, --cross-check checks the files where the leaks are built
    missed = {"status": "missed", "explained_by": []}
    assert _statuses(result.records) == {
        "embed": {"status": "explained", "explained_by": [f"FLX001 {site('leaky', 'embed')}"]},
        "norm": {"status": "explained", "explained_by": [f"FLX007 {site('leaky', 'upcast')}"]},
        "mlp": missed,
        "MultiHeadDotProductAttention_0": missed,
        "Softmax32_0": missed,
        "head": {"status": "explained", "explained_by": [f"FLX001 tests/audit_models/leaky.py:{head - 1}"]},
    }


def test_text_lists_the_leaks_no_static_finding_explains(fake_engine):
    fake_engine([_diag("FLX001", line_of("leaky", "embed"))])
    lines = audit(target("leaky"), "--cross-check", "tests/audit_models/leaky.py").stdout.splitlines()
    start = lines.index("cross-check (static rules on tests/audit_models/leaky.py):")
    assert lines[start + 1] == "  1 of 6 runtime leaks explained by a static finding"
    assert lines[start + 2] == "  not explained:"
    rows = [line.split() for line in lines[start + 3 : start + 8]]
    assert rows == [
        ["norm", "RMSNorm", "param-upcast", site("leaky", "norm"), "missed"],
        ["mlp", "MLP", "missing-dtype", site("leaky", "mlp"), "missed"],
        [
            "MultiHeadDotProductAttention_0",
            "MultiHeadDotProductAttention",
            "missing-dtype",
            site("leaky", "attention"),
            "missed",
        ],
        ["Softmax32_0", "Softmax32", "float32-compute", site("leaky", "softmax"), "missed"],
        ["head", "Dense", "missing-dtype", site("leaky", "head"), "missed"],
    ]


def test_leaks_outside_the_checked_paths_are_not_checked(fake_engine):
    seen = fake_engine([])
    records = audit(
        target("leaky"), "--cross-check", "tests/audit_models/clean.py", "--output-format", "json"
    ).records
    assert seen == [[HERE / "clean.py"]]
    assert {s["status"] for s in _statuses(records).values()} == {"not-checked"}


def test_missing_path_exits_2(fake_engine):
    fake_engine([])
    result = audit(target("leaky"), "--cross-check", "tests/audit_models/nope.py")
    assert result.exit_code == 2
    assert result.stderr == "flaxprec audit: error: --cross-check: no such path: tests/audit_models/nope.py\n"


def test_missing_engine_exits_2(monkeypatch):
    monkeypatch.setitem(sys.modules, "flaxprec.engine", None)
    result = audit(target("leaky"), "--cross-check")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "flaxprec audit: error: --cross-check needs the static engine (flaxprec.engine): "
    )


def _engine_available() -> bool:
    try:
        import flaxprec.engine  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(
    not _engine_available(), reason="flaxprec.engine (the static rules) is not importable yet"
)
def test_real_engine_explains_the_missing_dtype_leaks_it_can_see():
    records = audit(target("leaky"), "--cross-check", "--output-format", "json").records
    static = _statuses(records)
    for path, marker in (("embed", "embed"), ("mlp", "mlp"), ("MultiHeadDotProductAttention_0", "attention")):
        assert static[path] == {"status": "explained", "explained_by": [f"FLX001 {site('leaky', marker)}"]}
    # Built in the factory, outside any module with a compute dtype: only the runtime sees it.
    assert static["head"] == {"status": "missed", "explained_by": []}
    # No static rule flags an explicit float32 cast.
    assert static["Softmax32_0"] == {"status": "missed", "explained_by": []}
