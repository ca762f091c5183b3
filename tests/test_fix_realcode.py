"""``flaxprec fix --apply`` on published Flax code: transformers 4.21.0 (the release before PR #18462).

Real files have layouts our fixtures do not (black's hugged arguments, long argument lists, project Module
classes built with a positional dtype). The fix must leave every file compiling, a second run must find
nothing to change, and whatever is left must be what the tool itself calls unsafe or unfixable.

The counts below were reviewed by reading the diff of the run: every FLX001 fix adds ``dtype=self.dtype``
to an ``nn.*`` layer or a project Module of a class that declares ``dtype`` (Embed tables, OPT's
project_in/project_out, classification heads, FlaxOPTLearnedPositionalEmbedding); every FLX006 fix turns
``*LayerCollection(self.config, self.dtype)`` into ``(self.config, dtype=self.dtype)``. No vocabulary head
or tied embedding is left: 4.21.0 already builds its ``lm_head`` with ``dtype=self.dtype``.

The run is in-process (click's runner on the real command) so that the findings the fixer saw before and
after can be counted without paying for extra ``check`` runs over the corpus.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus import corpus, flax_files
from flaxprec.cli import main
from flaxprec.diagnostics import Diagnostic
from flaxprec.engine import Checker, Unit
from flaxprec.project import ProjectIndex

RELEASE = "transformers-4.21.0"
# code -> (findings before, fixed by `fix --apply`, left after); reviewed, see the module docstring.
EXPECTED = {
    "FLX001": (59, 59, 0),
    "FLX006": (15, 15, 0),
    # Safe: ViT's cls token and position embeddings, CLIP's class embedding cast to self.dtype where they
    # meet the patch embeddings, wav2vec2's masked_spec_embed written into the feature projection's output
    # (unpacked from the project block built with dtype: the compute dtype). Left: T5/LongT5 norms (unsafe
    # fixes only). wav2vec2's codevectors product (probabilities float32 by construction) is not reported.
    "FLX007": (6, 4, 2),
    "FLX106": (20, 0, 20),  # the mask constants' fix (jnp.finfo(dtype).min) is unsafe
}


class _FirstFindings:
    """Per file, the findings of the first ``Checker.diagnose`` of a run: where the fixer started."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.first: dict[str, list[Diagnostic]] = {}
        original = Checker.diagnose

        def diagnose(checker: Checker, unit: Unit, index: ProjectIndex):
            model, found = original(checker, unit, index)
            self.first.setdefault(unit.filename, found)
            return model, found

        monkeypatch.setattr(Checker, "diagnose", diagnose)

    def take(self) -> list[Diagnostic]:
        found = [d for diagnostics in self.first.values() for d in diagnostics]
        self.first = {}
        return found


def _counts(diagnostics: list[Diagnostic]) -> Counter[str]:
    return Counter(d.code for d in diagnostics)


def test_fix_apply_on_transformers_4_21_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = corpus(RELEASE)  # skips when the pinned wheel cannot be downloaded
    root = tmp_path / RELEASE
    for file in flax_files(RELEASE):
        target = root / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    monkeypatch.chdir(root)
    recorder = _FirstFindings(monkeypatch)
    runner = CliRunner()

    first = runner.invoke(main, ["fix", "--apply", "."], catch_exceptions=False)
    before = recorder.take()
    assert "not fixed" not in first.stderr and "not written" not in first.stderr, first.stderr

    stamps = {path: path.stat().st_mtime_ns for path in root.rglob("*.py")}
    second = runner.invoke(main, ["fix", "--apply", "."], catch_exceptions=False)
    after = recorder.take()
    assert second.stdout == ""
    assert second.stderr.startswith("Fixed 0 errors")
    assert {path: path.stat().st_mtime_ns for path in root.rglob("*.py")} == stamps, "a second run wrote"

    for path in stamps:
        compile(path.read_bytes(), str(path), "exec")

    # What is left is only what the tool itself cannot or may not fix in a safe run.
    assert [f"{d.filename}:{d.location.row} {d.code}" for d in after if d.fixable] == []
    fixed = _counts(before) - _counts(after)
    table = {
        code: (_counts(before)[code], fixed[code], _counts(after)[code])
        for code in sorted(_counts(before) | _counts(after))
    }
    print(f"\n{RELEASE} fix --apply (before, fixed, left):")
    for code, numbers in table.items():
        print(f"  {code}: {numbers}")
    for d in after:
        print(f"  left: {d.filename}:{d.location.row} {d.code} {d.message}")
    assert table == EXPECTED
    assert first.exit_code == (1 if after else 0)
    assert f"Fixed {sum(fixed.values())} errors" in first.stderr
