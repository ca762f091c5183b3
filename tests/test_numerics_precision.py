"""Precision of FLX007 and the numerics rules (FLX1xx) on published Flax code, from reviewed labels.

``tests/realcode/labels.tsv`` holds every finding these rules make on the pinned corpus (transformers
4.46.3, diffusers 0.30.3, flax 0.8.5: ``tests/corpus.py``), each read in the source and labelled true or
false with a one-line reason. The corpus test asserts that the findings *are* the labelled set: a new
finding must be reviewed and labelled, a lost one explained. Precision per rule comes from the labels, and
it decides the default: a rule is on by default only at >= 90% precision with at least ``MIN_TRUE`` true
findings (fewer measure nothing); otherwise it is opt-in and its doc says so, quoting the numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from corpus import corpus, flax_files
from flaxprec.engine import Checker
from flaxprec.resources import rules_dir
from flaxprec.rules import rule_by_code

LABELS = Path(__file__).parent / "realcode" / "labels.tsv"
RELEASES = ("transformers-4.46.3", "diffusers-0.30.3", "flax-0.8.5")
CODES = ("FLX007", "FLX101", "FLX102", "FLX103", "FLX104", "FLX105", "FLX106", "FLX107")
MIN_PRECISION = 0.9
MIN_TRUE = 5

Key = tuple[str, str, str]  # (release, "path:line", code)


@dataclass(frozen=True)
class Label:
    release: str
    location: str
    code: str
    true: bool
    reason: str

    @property
    def key(self) -> Key:
        return (self.release, self.location, self.code)


@functools.cache
def labels() -> dict[Key, Label]:
    found: dict[Key, Label] = {}
    for number, line in enumerate(LABELS.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        assert len(fields) == 5, f"labels.tsv:{number}: five tab-separated fields expected"
        release, location, code, verdict, reason = fields
        assert release in RELEASES, f"labels.tsv:{number}: unknown release {release}"
        assert code in CODES, f"labels.tsv:{number}: not a numerics rule: {code}"
        assert verdict in ("true", "false"), f"labels.tsv:{number}: true or false, not {verdict!r}"
        assert reason.strip(), f"labels.tsv:{number}: the reason is missing"
        path, _, row = location.rpartition(":")
        assert path and row.isdigit(), f"labels.tsv:{number}: path:line expected, got {location!r}"
        label = Label(release, location, code, verdict == "true", reason)
        assert label.key not in found, f"labels.tsv:{number}: labelled twice"
        found[label.key] = label
    return found


@functools.cache
def findings(release: str) -> frozenset[Key]:
    root = corpus(release)  # skips when the pinned archive cannot be downloaded
    checker = Checker(select=lambda rule, filename: rule.code in CODES)
    diagnostics = checker.check_paths(flax_files(release), display=lambda p: p.relative_to(root).as_posix())
    return frozenset((release, f"{d.filename}:{d.location.row}", d.code) for d in diagnostics)


def measured(code: str) -> tuple[int, int]:
    """(true findings, all findings) of ``code`` on the corpus, from the labels."""
    mine = [label for label in labels().values() if label.code == code]
    return sum(label.true for label in mine), len(mine)


def test_labels_are_well_formed() -> None:
    assert labels()


@pytest.mark.parametrize("release", RELEASES)
def test_findings_are_exactly_the_labelled_ones(release: str) -> None:
    labelled = {key for key in labels() if key[0] == release}
    found = findings(release)
    assert sorted(found - labelled) == [], "new findings: review them and label them in labels.tsv"
    assert sorted(labelled - found) == [], "labelled findings no longer reported"


@pytest.mark.parametrize("code", CODES)
def test_default_on_follows_the_measured_precision(code: str) -> None:
    true, total = measured(code)
    earned = true >= MIN_TRUE and true / total >= MIN_PRECISION
    rule = rule_by_code(code)
    assert rule is not None
    print(f"{code}: {true} true of {total} findings", f"({true / total:.0%})" if total else "")
    assert rule.default_on == earned


@pytest.mark.parametrize("code", CODES)
def test_doc_quotes_the_measured_precision(code: str) -> None:
    """Each doc states its corpus numbers; an opt-in rule's doc says that it is opt-in and why."""
    true, total = measured(code)
    doc = (rules_dir() / f"{code}.md").read_text(encoding="utf-8")
    assert f"{true} true of {total} findings" in doc
    rule = rule_by_code(code)
    assert rule is not None
    assert ("opt-in" in doc) is not rule.default_on
