"""Every finding on the labelled corpora is labelled, and every true one is still found (issue 14, item 5).

``tests/realcode/labels.tsv`` (see :mod:`labels`) judges every finding ``check --select ALL`` makes on
fourteen pinned releases of published Flax code. Two things hold today:

- a finding without a label fails: a rule that starts reporting something new has it read and labelled;
- a true label whose finding is gone fails: recall is kept (but for ``labels.KNOWN_MISSES``, each with the
  reason the tool cannot tell; finding one of them again fails too, so the list stays true).

A false label whose finding is gone is progress, not a failure (the label stays: it is a fact about the
code). The precision per rule and corpus is printed by ``bench/precision.py``.
"""

from __future__ import annotations

import pytest

from corpus import LABELLED
from labels import KNOWN_MISSES, findings, labels


def test_labels_are_well_formed() -> None:
    assert {release for release, _, _ in labels()} <= set(LABELLED)


@pytest.mark.slow
@pytest.mark.parametrize("release", sorted(LABELLED))
def test_every_finding_is_labelled_and_every_true_one_found(release: str) -> None:
    found = findings(release)
    mine = {key: label for key, label in labels().items() if key[0] == release}
    assert sorted(found - mine.keys()) == [], "new findings: read them and label them in labels.tsv"
    lost = sorted(key for key, label in mine.items() if label.true and key not in found)
    assert lost == sorted(key for key in KNOWN_MISSES if key[0] == release), (
        "true findings no longer reported"
    )
