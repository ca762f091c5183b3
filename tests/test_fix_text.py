"""Text edits computed with the findings equal the reference rewrite (apply_edits) of the same fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, cst_subtree
from flaxprec.apply_edits import apply_edits
from flaxprec.diagnostics import ReplaceText
from flaxprec.engine import Checker, Unit
from flaxprec.fix_text import apply_text
from flaxprec.suppress import apply_text_edits

CASES = sorted(p for p in FIXTURES.rglob("*.py") if not p.name.endswith(".fixed.py"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_text_edits_match_the_rewriter(path: Path) -> None:
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    checker = Checker(select=lambda rule, filename: True)  # the opt-in rules' fixes too
    unit = Unit(path.name, text, path.stem)
    model, found = checker.diagnose(unit, checker.index_units([unit]))
    with_text = [d for d in found if d.fix is not None and d.fix.text is not None]
    for diagnostic in with_text:
        assert model is not None and diagnostic.fix is not None and diagnostic.fix.text is not None
        edits = diagnostic.fix.edits
        if all(
            isinstance(edit, ReplaceText) for edit in edits
        ):  # comment edits (FLX901), as the fixer applies them
            expected = apply_text_edits(text, edits)  # type: ignore[arg-type]
        else:
            expected = apply_edits(model.module, edits, diagnostic.fix.imports).code
        assert apply_text(text, diagnostic.fix.text) == expected, (diagnostic.code, diagnostic.location)


def test_node_replacements_have_text() -> None:
    """FLX106's ``jnp.finfo`` fix replaces a constant: it comes with text edits too (no re-analysis)."""
    found = [d for path in sorted((FIXTURES / "FLX106").glob("*.py")) for d in _findings(path)]
    fixes = [d.fix for d in found if d.code == "FLX106" and d.fix is not None]
    assert fixes and all(fix.text is not None for fix in fixes)


def _findings(path: Path) -> list:
    if path.name.endswith(".fixed.py"):
        return []
    return Checker().check_source(path.read_text(encoding="utf-8"), path.name)


def test_every_call_argument_fix_has_text() -> None:
    """FLX001/5/6 fixes only touch arguments: all of them come with text edits."""
    checker = Checker()
    source = (FIXTURES / "FLX001" / "compact_and_setup.py").read_text(encoding="utf-8")
    found = checker.check_source(source, "compact_and_setup.py")
    assert found and all(d.fix is not None and d.fix.text is not None for d in found)


def test_parallel_equals_serial() -> None:
    """In fresh processes: the pool only forks a process without jax loaded (this one may have it)."""
    outputs = []
    for jobs in ("1", "2"):
        command = [
            sys.executable,
            "-m",
            "flaxprec",
            "check",
            ".",
            "--no-cache",
            "-j",
            jobs,
            "--output-format",
            "json",
        ]
        result = subprocess.run(command, cwd=FIXTURES, capture_output=True, text=True, check=False)
        assert result.returncode == 1, result.stderr
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 50


TIED = """\
import flax.linen as nn
import jax.numpy as jnp


class Decoder(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16

    def setup(self):
        self.embed = nn.Embed(10, 4)

    def __call__(self, x):
        return self.embed.attend(x)


class Encoder(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16
    embed: nn.Module = None

    def __call__(self, ids):
        return self.embed(ids)
"""


def test_positions_come_from_the_statements_a_finding_needs() -> None:
    """Only the statement holding the finding is generated, unless its fix edits elsewhere (here the tied
    embedding's lookup in ``Encoder``): then the whole module is."""
    from libcst.metadata import CodeRange

    from flaxprec.engine import _positions
    from flaxprec.positions import NodePositions, StatementPositions

    checker = Checker()
    unit = Unit("tied.py", TIED, "tied")
    model, found = checker.diagnose(unit, checker.index_units([unit]))
    assert model is not None
    assert [(d.code, d.location.row, d.location.column) for d in found] == [("FLX001", 9, 22)]
    (finding,) = found
    decoder, encoder = model.module.body[2:]
    setup = decoder.body.body[1]
    statement = setup.body.body[0]
    assert finding.statement_node is statement
    assert model.places.tops[id(statement)] is decoder and model.places.members[id(statement)] is setup
    assert model.places.indents[id(statement)] == " " * 8 and model.places.indents[id(setup)] == " " * 4
    assert finding.fix is not None and finding.fix.edits[0].node in cst_subtree(encoder)
    whole = _positions(model.module, TIED, found, model.places)
    assert isinstance(whole, NodePositions)
    # A report without fix texts needs no position of what the fix edits: the own statement is enough.
    narrow = _positions(model.module, TIED, found, model.places, edits=False)
    assert isinstance(narrow, StatementPositions) and statement in narrow and encoder not in narrow
    finding.fix = None  # without the edit in Encoder, its own statement tells every position
    own = _positions(model.module, TIED, found, model.places)
    assert isinstance(own, StatementPositions)
    assert own[finding.node] == whole[finding.node] == CodeRange((9, 21), (9, 36))
    assert statement in own and setup not in own and encoder not in own


TWINS = """\
import flax.linen as nn
import jax.numpy as jnp


class Encoder(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16

    def setup(self):
        self.embed = nn.Embed(10, 4)
        self.dense = nn.Dense(4)

    def __call__(self, x):
        return self.dense(self.embed(x))


class Decoder(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16

    def setup(self):
        self.embed = nn.Embed(10, 4)
        self.out = nn.Dense(4)

    def __call__(self, x):
        return self.out(self.embed(x))
"""


def test_a_statement_written_twice_places_only_its_findings_by_their_method() -> None:
    """``self.embed = nn.Embed(10, 4)`` occurs twice, so its code cannot say where it is: its two findings
    are placed by their ``setup`` methods, the ``nn.Dense`` findings still by their own statements."""
    from flaxprec.engine import _positions
    from flaxprec.positions import StatementPositions, node_positions

    checker = Checker()
    unit = Unit("twins.py", TWINS, "twins")
    model, found = checker.diagnose(unit, checker.index_units([unit]))
    assert model is not None
    assert [(d.code, d.location.row, d.location.column) for d in found] == [
        ("FLX001", 9, 22),
        ("FLX001", 10, 22),
        ("FLX001", 20, 22),
        ("FLX001", 21, 20),
    ]
    encoder, decoder = model.module.body[2:]
    setups = [cls.body.body[1] for cls in (encoder, decoder)]
    embeds = [setup.body.body[0] for setup in setups]
    denses = [setup.body.body[1] for setup in setups]
    assert [d.statement_node for d in found] == [embeds[0], denses[0], embeds[1], denses[1]]
    positions = _positions(model.module, TWINS, found, model.places)
    assert isinstance(positions, StatementPositions)
    # One part per statement generated, in the findings' order: a setup, a Dense line, and again.
    parts = [part for part, _ in positions.parts]
    assert len(parts) == 4
    assert [setups[0] in parts[0], denses[0] in parts[1], setups[1] in parts[2], denses[1] in parts[3]] == [
        True
    ] * 4
    assert setups[0] not in parts[1] and setups[1] not in parts[3]
    assert not any(cls in part for part in parts for cls in (encoder, decoder))
    whole = node_positions(model.module)
    for diagnostic in found:
        for node in (diagnostic.node, diagnostic.statement_node):
            assert positions[node] == whole[node]
