"""The cost floor of flaxprec's design on a corpus: what any implementation of the design must do, no more.

That is: start Python and import click (the CLI); read every file, parse it with ``ast`` and visit each of
its nodes once in Python (the gate's single pass); import libcst; parse with libcst the slices that hold
findings (the judge's input). The work is spread as ``flaxprec check`` spreads it: forked workers for the
two stages, the parent importing libcst while the ``ast`` workers run. Left out is everything flaxprec
does with what it parses: the sketch's resolution, the project index, the libcst analysis, the rules,
positions, fixes and the report. The bench times this script like a ``flaxprec check`` run; the gap
between the two is what flaxprec's own logic costs, and this row against ruff is the best the design
could do on the machine.

``python bench/design_floor.py FILES SLICES``: FILES lists the corpus files, one per line; SLICES is a
folder of slice texts. ``python bench/design_floor.py --write-slices FILES SLICES`` writes them, with
flaxprec's gate (the slices the libcst stage of ``flaxprec check --no-cache`` parses for those files).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def write_slices(files: list[str], out: Path) -> int:
    """The gate's slices of ``files`` (default rule selection) as numbered files in ``out``; their count."""
    from flaxprec.engine import Checker, load_units

    units, _ = load_units([Path(f) for f in files])
    checker = Checker(jobs=1)
    index = checker.index_units(units)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for unit in units:
        analysed, piece = checker.suspects(unit, index) if checker.might_flag(unit, index) else (False, None)
        if analysed:
            (out / f"{count:04d}.py").write_text(piece.text if piece is not None else unit.text)
            count += 1
    return count


def _parse_and_walk(files: list[str], i: int) -> int:
    import ast

    from flaxprec.ast_walk import walk

    nodes = 0
    for _ in walk(ast.parse(Path(files[i]).read_bytes())):
        nodes += 1
    return nodes


def _libcst_parse(slices: list[str], i: int) -> int:
    import libcst

    return len(libcst.parse_module(Path(slices[i]).read_text()).body)


def _import_libcst() -> None:
    import libcst  # noqa: F401


def main() -> int:
    if sys.argv[1] == "--write-slices":
        print(write_slices(Path(sys.argv[2]).read_text().splitlines(), Path(sys.argv[3])))
        return 0
    import click  # noqa: F401  # every ``flaxprec`` run imports its CLI

    from flaxprec.workers import fork_map

    files = Path(sys.argv[1]).read_text().splitlines()
    slices = sorted(str(p) for p in Path(sys.argv[2]).iterdir())
    jobs = os.cpu_count() or 1
    by_size = sorted(range(len(files)), key=lambda i: -os.path.getsize(files[i]))
    walked = fork_map(_parse_and_walk, files, by_size, jobs, _import_libcst)
    parsed = fork_map(_libcst_parse, slices, range(len(slices)), jobs)
    if walked is None or parsed is None:
        return 1
    print(sum(walked.values()), sum(parsed.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
