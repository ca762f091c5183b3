"""The ast stage in forked workers gives what the serial stage gives, and a broken pool changes nothing.

Run in fresh processes: the engine forks only a process without jax loaded, and this one may have it.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import FIXTURES

PROBE = """
import json, os, sys
from pathlib import Path

from flaxprec import engine, workers
from flaxprec.cache import diagnostic_to_json
from flaxprec.discover import Discovery

pools = []
fork_map = workers.fork_map


def counting_fork_map(task, state, order, count, meanwhile=None):
    results = fork_map(task, state, order, count, meanwhile)
    pools.append((task.__name__, results is not None))
    return results


workers.fork_map = counting_fork_map
engine.POOL_MIN_BYTES = 0  # the fixtures are small: pool them anyway
if sys.argv[2] == "broken":

    def _ast_in_worker(units, position):
        os._exit(3)  # every worker of the ast stage dies

    engine._ast_in_worker = _ast_in_worker

files = list(Discovery().files([Path(sys.argv[1])]))
runs = []
for jobs in (1, 2):
    units, _ = engine.load_units(files)
    checker = engine.Checker(jobs=jobs)
    index = checker.index_units(units)
    runs.append({
        "classes": index.classes,
        "units": [(u.filename, u.summary, u.gate_sketch(), u.error) for u in units],
        # As reported (a finding from a worker carries its fix as text edits, without syntax nodes).
        "findings": [diagnostic_to_json(d) for d in checker.check_units(units)],
    })
print(json.dumps({"same": runs[0] == runs[1], "pools": pools, "units": len(runs[0]["units"])}))
"""


def _probe(mode: str) -> dict:
    command = [sys.executable, "-c", PROBE, str(FIXTURES), mode]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_parallel_ast_stage_equals_serial() -> None:
    outcome = _probe("working")
    assert outcome["units"] > 50
    assert outcome["same"]
    # -j 2: the ast stage and then the libcst stage each ran in a working pool.
    assert outcome["pools"] == [["_ast_in_worker", True], ["_diagnose_in_worker", True]]


def test_a_broken_ast_pool_falls_back_to_serial() -> None:
    outcome = _probe("broken")
    assert outcome["same"]
    assert outcome["pools"] == [["_ast_in_worker", False], ["_diagnose_in_worker", True]]


MAP_PROBE = """
import json, os, sys
from flaxprec.workers import fork_map

def square(state, i):
    if state == "raise" and i == 7:
        raise ValueError("task failed")
    if state == "exit" and i == 7:
        os._exit(0)  # a worker gone without a word: its items are missing
    return i * i

order = list(range(int(sys.argv[2])))[::-1]
seen = []

def meanwhile():
    seen.append(True)
    if sys.argv[1] == "interrupted":
        raise KeyboardInterrupt

try:
    results = fork_map(square, sys.argv[1], order, 2, meanwhile=meanwhile)
except KeyboardInterrupt:
    results = "interrupted"
try:
    os.waitpid(-1, os.WNOHANG)
    children = "left behind"
except ChildProcessError:
    children = "none"
print(json.dumps({
    "results": results if results is None or isinstance(results, str) else sorted(results.items()),
    "meanwhile": seen,
    "children": children,
}))
"""


def _map(state: str, items: int) -> dict:
    command = [sys.executable, "-c", MAP_PROBE, state, str(items)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(result.stdout)


def test_fork_map_hands_out_every_item_once() -> None:
    # 20,000 item numbers are 80 kB: more than a pipe holds, written in several atomic pieces.
    outcome = _map("ok", 20_000)
    assert outcome["results"] == [[i, i * i] for i in range(20_000)]
    assert outcome["meanwhile"] == [True]
    assert outcome["children"] == "none"  # every worker reaped


def test_fork_map_returns_none_when_a_task_raises_or_a_worker_vanishes() -> None:
    assert _map("raise", 50)["results"] is None
    assert _map("exit", 50) == {"results": None, "meanwhile": [True], "children": "none"}


def test_an_interrupted_fork_map_leaves_no_worker_behind() -> None:
    assert _map("interrupted", 50) == {"results": "interrupted", "meanwhile": [True], "children": "none"}
