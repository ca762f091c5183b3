"""Precision of every rule on every labelled corpus, from tests/realcode/labels.tsv (issue 14).

Runs ``check --select ALL`` (in-process, as tests/labels.py does) on each release of tests/corpus.py's
LABELLED and prints, per rule and corpus, ``true/reported`` with the precision; a finding without a label
is counted apart (``?``), and the run exits 1 while any is left. ``--todo`` lists those findings with
their messages and source lines instead, ready to be read and labelled.

    .venv/bin/python bench/precision.py [--todo] [RELEASE ...]
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from corpus import LABELLED, labelled_corpus  # noqa: E402
from labels import findings, labels  # noqa: E402


def table(releases: list[str]) -> int:
    """Print the precision table; returns the number of unlabelled findings."""
    known = labels()
    cells: dict[tuple[str, str], Counter[str]] = {}
    for release in releases:
        for key in findings(release):
            label = known.get(key)
            verdict = "?" if label is None else "true" if label.true else "false"
            cells.setdefault((key[2], release), Counter())[verdict] += 1
    codes = sorted({code for code, _ in cells})
    width = max(len(r) for r in releases)
    print(f"{'rule':<8} {'corpus':<{width}}  true/reported  precision  unlabelled")
    unlabelled = 0
    for code in codes:
        totals: Counter[str] = Counter()
        for release in releases:
            counts = cells.get((code, release))
            if counts is None:
                continue
            totals += counts
            unlabelled += counts["?"]
            print(_row(code, release, counts, width))
        print(_row(code, "all", totals, width))
    return unlabelled


def _row(code: str, release: str, counts: Counter[str], width: int) -> str:
    judged = counts["true"] + counts["false"]
    precision = f"{counts['true'] / judged:.0%}" if judged else "-"
    ratio = f"{counts['true']:>4}/{judged:<4}"
    return f"{code:<8} {release:<{width}}  {ratio}     {precision:>6}  {counts['?']:>6}"


def todo(releases: list[str]) -> int:
    """Print every unlabelled finding with its message and line; returns how many."""
    from flaxprec.discover import Discovery
    from flaxprec.engine import Checker

    known = labels()
    count = 0
    for release in releases:
        root = labelled_corpus(release)
        checker = Checker(select=lambda rule, filename: True, jobs=2)
        display = lambda path, root=root: path.relative_to(root).as_posix()  # noqa: E731
        for d in checker.check_paths(Discovery().files([root]), display=display):
            location = f"{d.filename}:{d.location.row}:{d.location.column}"
            if (release, location, d.code) in known:
                continue
            count += 1
            line = (root / d.filename).read_text(encoding="utf-8", errors="replace").splitlines()
            text = line[d.location.row - 1].strip() if d.location.row <= len(line) else ""
            print(f"{release}\t{location}\t{d.code}\t{d.message}\n    {text}")
    return count


def main() -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("releases", nargs="*", help="releases of tests/corpus.py LABELLED (default: all)")
    parser.add_argument("--todo", action="store_true", help="list the unlabelled findings instead")
    args = parser.parse_args()
    releases = args.releases or list(LABELLED)
    unknown = sorted(set(releases) - set(LABELLED))
    if unknown:
        parser.error(f"unknown release(s): {', '.join(unknown)}")
    left = todo(releases) if args.todo else table(releases)
    if left:
        print(f"{left} finding(s) without a label", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
