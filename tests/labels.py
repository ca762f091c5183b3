"""The labelled corpora: every finding of every rule on pinned published Flax code, read and judged.

``tests/realcode/labels.tsv`` has one row per finding that ``flaxprec check --select ALL`` makes on a
release of :data:`corpus.LABELLED` (every ``.py`` file of the wheel or sdist): the release, the finding's
``path:line:col`` (relative to the release's root), its code, ``true`` or ``false``, and a one-line reason
checked by reading the code. Labels are facts about the code, never edited to make a test pass: a rule
that changes its findings changes which labels are reported, not the labels.

Shared by the tests (``test_precision.py``, ``test_numerics_precision.py``) and ``bench/precision.py``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from corpus import LABELLED, labelled_corpus

LABELS = Path(__file__).parent / "realcode" / "labels.tsv"

Key = tuple[str, str, str]  # (release, "path:line:col", code)


@dataclass(frozen=True)
class Label:
    release: str
    location: str  # path:line:col
    code: str
    true: bool
    reason: str

    @property
    def key(self) -> Key:
        return (self.release, self.location, self.code)


class LabelError(ValueError):
    """A row of labels.tsv that is not well formed (the message names the row)."""


# True findings the tool no longer reports, each with why it cannot tell (the label stays true: a fact about
# the code). The tests fail on any other lost true finding, and on one of these when it is found again.
KNOWN_MISSES: dict[Key, str] = {
    (release, f"transformers/models/big_bird/modeling_flax_big_bird.py:{line}:45", "FLX106"): (
        "FLX106 follows a constant to a softmax-like consumer (issue 20); these QA logits are returned, the "
        "softmax is in a training script elsewhere, and `logits_mask`'s dtype is unknown (float32 would "
        "make the difference float32, no overflow): the tool cannot tell"
    )
    for release, line in (("transformers-4.21.0", 2356), ("transformers-4.46.3", 2408))
}


@functools.cache
def labels() -> dict[Key, Label]:
    """Every label, by key; raises :class:`LabelError` on a malformed or repeated row."""
    found: dict[Key, Label] = {}
    for number, line in enumerate(LABELS.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            raise LabelError(f"labels.tsv:{number}: five tab-separated fields expected")
        release, location, code, verdict, reason = fields
        path, row, column = [*location.rsplit(":", 2), "", ""][:3]
        problems = [
            (release not in LABELLED, f"unknown release {release!r}"),
            (not code.startswith("FLX"), f"not a flaxprec code: {code!r}"),
            (verdict not in ("true", "false"), f"true or false, not {verdict!r}"),
            (not reason.strip(), "the reason is missing"),
            (not (path and row.isdigit() and column.isdigit()), f"path:line:col expected, got {location!r}"),
        ]
        for failed, problem in problems:
            if failed:
                raise LabelError(f"labels.tsv:{number}: {problem}")
        label = Label(release, location, code, verdict == "true", reason)
        if label.key in found:
            raise LabelError(f"labels.tsv:{number}: labelled twice")
        found[label.key] = label
    return found


@functools.cache
def findings(release: str) -> frozenset[Key]:
    """What ``flaxprec check --select ALL`` reports on the release (discovery as the CLI walks its root)."""
    from flaxprec.discover import Discovery
    from flaxprec.engine import Checker

    root = labelled_corpus(release)  # skips when the pinned archive cannot be downloaded
    checker = Checker(select=lambda rule, filename: True, jobs=2)
    diagnostics = checker.check_paths(
        Discovery().files([root]), display=lambda path: path.relative_to(root).as_posix()
    )
    return frozenset(
        (release, f"{d.filename}:{d.location.row}:{d.location.column}", d.code) for d in diagnostics
    )
