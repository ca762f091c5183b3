"""Every rule's documentation in ``rules/``: ruff's sections, and examples the suite runs.

A doc cannot lie about its examples: the *Example* block yields the rule (and the findings it quotes,
exactly), the *Use instead* block yields nothing under every rule, and for fixable rules ``fix(Example)``
is the *Use instead* block byte for byte. The docs ship in the wheel as ``flaxprec/_rules``.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from flaxprec import deep, resources
from flaxprec.cli import main
from flaxprec.engine import Checker
from flaxprec.fixer import fix_source
from flaxprec.resources import rules_dir
from flaxprec.rules import Rule, all_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SECTIONS = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead:",
    "Fix safety",
    "Options",
    "References",
)
# Codes an Example may yield besides its own rule's. Empty: every example shows its rule alone.
ALSO_ALLOWED: dict[str, frozenset[str]] = {}
FILENAME = "example.py"
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<code>.*?)^(?P=indent)```$", re.MULTILINE | re.DOTALL
)
RULES = all_rules()
# Codes whose Example fails only where flaxprec gets no large stack for deep code (FLX902: every file CPython
# compiles is analysed otherwise): their doc tests run where thread stacks cannot be that large.
NO_LARGE_STACK = frozenset({"FLX902"})


@pytest.fixture(autouse=True)
def _no_large_stack_for_tool_errors(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    callspec = getattr(request.node, "callspec", None)
    rule = callspec.params.get("rule") if callspec is not None else None
    if isinstance(rule, Rule) and rule.code in NO_LARGE_STACK:
        monkeypatch.setattr(deep, "DEEP_STACK_BYTES", 1 << 62)  # more address space than any machine has


@functools.cache
def checker() -> Checker:
    """Every rule selected, opt-in ones (FLX901) included: a Use instead block must be clean under all."""
    return Checker(select=lambda rule, filename: True)


def doc_path(rule: Rule) -> Path:
    return rules_dir() / f"{rule.code}.md"


def parse(text: str) -> tuple[str, dict[str, str], list[str]]:
    """The title, each ``##`` section's body, and the section headings in order (fences are skipped)."""
    title = ""
    order: list[str] = []
    bodies: dict[str, list[str]] = {}
    in_fence = False
    for line in text.splitlines(keepends=True):
        if line.lstrip(" ").startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("# ") and not title and not order:
            title = line[2:].strip()
            continue
        elif not in_fence and line.startswith("## "):
            order.append(line[3:].strip())
            bodies[order[-1]] = []
            continue
        if order:
            bodies[order[-1]].append(line)
    return title, {name: "".join(body) for name, body in bodies.items()}, order


def blocks(body: str, lang: str) -> list[str]:
    return [m.group("code") for m in FENCE.finditer(body) if m.group("lang") == lang]


def only_block(rule: Rule, section: str, lang: str) -> str:
    _, sections, _ = parse(doc_path(rule).read_text(encoding="utf-8"))
    found = blocks(sections[section], lang)
    assert len(found) == 1, f"{rule.code}: `## {section}` needs exactly one ```{lang} block"
    return found[0]


def example(rule: Rule) -> str:
    return only_block(rule, "Example", "python")


def use_instead(rule: Rule) -> str:
    return only_block(rule, "Use instead:", "python")


def rendered(text: str) -> str:
    diagnostics = checker().check_source(text, FILENAME)
    return "".join(
        f"{FILENAME}:{d.location.row}:{d.location.column}: {d.code} {d.message}\n" for d in diagnostics
    )


by_code = pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)


@by_code
def test_doc_has_ruff_sections_in_order(rule: Rule) -> None:
    path = doc_path(rule)
    assert path.is_file(), f"missing {path}"
    title, _, order = parse(path.read_text(encoding="utf-8"))
    assert title == f"{rule.code} {rule.name}"
    assert tuple(order) == SECTIONS


@by_code
def test_example_yields_the_rule(rule: Rule) -> None:
    codes = {d.code for d in checker().check_source(example(rule), FILENAME)}
    assert rule.code in codes
    assert codes <= {rule.code} | ALSO_ALLOWED.get(rule.code, frozenset())


@by_code
def test_example_findings_are_quoted_exactly(rule: Rule) -> None:
    """The ```text block of the Example section is what the tool reports, message for message."""
    assert rendered(example(rule)) == only_block(rule, "Example", "text")


@by_code
def test_use_instead_yields_nothing(rule: Rule) -> None:
    assert checker().check_source(use_instead(rule), FILENAME) == []


@pytest.mark.parametrize("rule", [r for r in RULES if r.fixable], ids=lambda rule: rule.code)
def test_fix_turns_example_into_use_instead(rule: Rule) -> None:
    found = [d for d in checker().check_source(example(rule), FILENAME) if d.code == rule.code]
    # A rule whose fixes are all unsafe (its Fix safety says why) shows them applied: --unsafe-fixes.
    unsafe = all(d.fix is not None and not d.fixable for d in found)
    assert fix_source(example(rule), FILENAME, checker=checker(), unsafe=unsafe) == use_instead(rule)


@pytest.mark.parametrize("rule", [r for r in RULES if not r.fixable], ids=lambda rule: rule.code)
def test_unfixable_example_is_left_alone(rule: Rule) -> None:
    text = example(rule)
    assert fix_source(text, FILENAME, checker=checker(), unsafe=True) == text


def test_every_doc_belongs_to_a_rule() -> None:
    docs = {path.stem for path in rules_dir().glob("*.md")}
    assert docs == {rule.code for rule in RULES}


# -- the command line ------------------------------------------------------------------------------------


@by_code
def test_rule_command_prints_the_doc(rule: Rule) -> None:
    result = CliRunner().invoke(main, ["rule", rule.code.lower()])
    assert result.exit_code == 0, result.output
    assert result.stdout == doc_path(rule).read_text(encoding="utf-8")


def test_rule_command_unknown_code_exits_2() -> None:
    result = CliRunner().invoke(main, ["rule", "FLX999"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "unknown rule code: FLX999" in result.stderr


def test_rules_command_lists_every_code_with_its_name() -> None:
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if line.strip()}
    assert listed == {rule.code: rule.name for rule in RULES}


# -- packaging ---------------------------------------------------------------------------------------------


def test_wheel_config_ships_the_rules_directory() -> None:
    """hatch ships the top-level ``rules/`` as ``flaxprec/_rules``, where rules_dir() looks first."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"]["rules"] == "flaxprec/_rules"
    assert "src/flaxprec" in wheel["packages"]
    assert (rules_dir() / "layers.toml").is_file()


def test_rules_dir_prefers_the_packaged_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "_rules").mkdir()
    monkeypatch.setattr(resources, "PACKAGE_DIR", tmp_path)
    assert rules_dir() == tmp_path / "_rules"


def test_rules_dir_falls_back_to_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "PACKAGE_DIR", tmp_path)
    assert rules_dir() == REPO / "rules"


def test_package_dir_is_where_importlib_resources_finds_the_package() -> None:
    assert Path(str(importlib.resources.files("flaxprec"))).resolve() == resources.PACKAGE_DIR


@pytest.mark.skipif(
    os.environ.get("FLAXPREC_TEST_WHEEL") != "1",
    reason="builds a wheel (needs network): FLAXPREC_TEST_WHEEL=1",
)
def test_built_wheel_contains_the_rule_docs(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(REPO)],
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("flaxprec-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for source in [*(REPO / "rules").glob("*.md"), REPO / "rules" / "layers.toml"]:
            assert archive.read(f"flaxprec/_rules/{source.name}") == source.read_bytes()
