"""Seconds per stage of one serial, uncached ``flaxprec check`` of a folder (default: the bench corpus).

``.venv/bin/python bench/stages.py [PATH ...] [--profile]``: runs the checker in-process, like
``flaxprec check --no-cache -j 1 PATH``, with timers around the libcst stages: ``parse``
(``libcst.parse_module``), ``analyse`` (:func:`flaxprec.analysis.analyse`, the model) and ``locate``
(positions and text edits of the files with findings). ``total`` is the whole run, the ``ast`` stage and
the rules included. Wall and CPU seconds are both shown: on a busy machine the CPU time is the steadier.
``--profile`` prints cProfile's top functions instead of only the stage table.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libcst

import flaxprec.analysis
import flaxprec.engine
from flaxprec.discover import Discovery
from flaxprec.engine import Checker

SECONDS: dict[str, float] = defaultdict(float)
CPU: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            SECONDS[name] += time.perf_counter() - start
            CPU[name] += time.process_time() - cpu
            CALLS[name] += 1

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="*", type=Path, default=[Path("/tmp/corp")])
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    libcst.parse_module = timed("parse", libcst.parse_module)
    flaxprec.analysis.analyse = timed("analyse", flaxprec.analysis.analyse)
    flaxprec.engine.locate = timed("locate", flaxprec.engine.locate)
    files = list(Discovery().files(options.paths))
    profile = cProfile.Profile() if options.profile else None
    start, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    found = Checker(jobs=1).check_paths(files)
    if profile is not None:
        profile.disable()
    total, total_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{'stage':8} {'wall s':>7} {'cpu s':>7}")
    for name in ("parse", "analyse", "locate"):
        print(f"{name:8} {SECONDS[name]:7.2f} {CPU[name]:7.2f}  ({CALLS[name]} calls)")
    print(f"{'total':8} {total:7.2f} {total_cpu:7.2f}  ({len(files)} files, {len(found)} findings)")
    if profile is not None:
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
