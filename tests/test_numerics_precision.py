"""Precision of FLX007 and the numerics rules (FLX1xx) on published Flax code, from reviewed labels.

``tests/realcode/labels.tsv`` holds every finding these rules make on the pinned corpus (transformers
4.46.3, diffusers 0.30.3, flax 0.8.5: every ``.py`` file, ``tests/corpus.py``), each read in the source and
labelled true or false with a one-line reason (it labels more releases and rules: test_precision.py). The
corpus test asserts that every finding is labelled (a new one must be reviewed) and every true label still
found; a false label whose finding is gone stays, as a fact about the code. Precision per rule comes from the
labels, and
it decides the default: a rule is on by default only at >= 90% precision with at least ``MIN_TRUE`` true
findings (fewer measure nothing); otherwise it is opt-in and its doc says so, quoting the numbers.
"""

from __future__ import annotations

import pytest

from flaxprec.resources import rules_dir
from flaxprec.rules import rule_by_code
from labels import Key, Label, findings, labels

# The releases and rules this policy was measured on; labels.tsv now covers more of both (test_precision.py),
# and the policy for them is issue 14's to set.
RELEASES = ("transformers-4.46.3", "diffusers-0.30.3", "flax-0.8.5")
CODES = ("FLX007", "FLX101", "FLX102", "FLX103", "FLX104", "FLX105", "FLX106", "FLX107")
MIN_PRECISION = 0.9
MIN_TRUE = 5


def numerics_labels() -> dict[Key, Label]:
    return {key: label for key, label in labels().items() if key[0] in RELEASES and key[2] in CODES}


def measured(code: str) -> tuple[int, int]:
    """(true findings, all findings) of ``code`` on the corpus, from the labels."""
    mine = [label for label in numerics_labels().values() if label.code == code]
    return sum(label.true for label in mine), len(mine)


@pytest.mark.slow
@pytest.mark.parametrize("release", RELEASES)
def test_findings_are_exactly_the_labelled_ones(release: str) -> None:
    labelled = {key for key in numerics_labels() if key[0] == release}
    found = {key for key in findings(release) if key[2] in CODES}
    assert sorted(found - labelled) == [], "new findings: review them and label them in labels.tsv"
    # A false label whose finding is gone is progress (test_precision.py's policy); a true one must stay.
    lost = sorted(key for key in labelled - found if numerics_labels()[key].true)
    assert lost == [], "true findings no longer reported"


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
