"""Speed benchmark of ``flaxprec check`` against ruff on ~100 kLOC of published Flax code (issue 6).

``.venv/bin/python bench/run.py [--repeat N] [--keep] [--ref COMMIT] [--versus COMMIT]``: the pinned
corpus (transformers 4.46.3 Flax files, flax 0.8.5's package) comes through tests/corpus.py and is copied
to a temporary folder where each command runs as a subprocess N times, in rounds (each command once per
round: the machine's speed drifts, and rows compared with each other then share its conditions). ``--ref``
benchmarks a git commit's src/ and rules/; without it the working tree is used, and the run is declared
invalid if flaxprec's files change meanwhile. ``--versus`` times another commit's cold runs in the same
rounds: two versions measured in separate runs of this script compare the machine's phases as much as
the code (one run of the same commit, slow phase against fast, read x1.44 and x1.61 of ruff).

The design floor row (bench/design_floor.py) times what any implementation of flaxprec's design must do
(Python and click, ``ast`` parsing and one Python pass over every node, libcst's import and its parse of
the slices that hold findings), spread over the cores as ``flaxprec check`` spreads it.

Reading the table: median/min/max are wall seconds over the N runs (parse floors: the parsing loop
alone); ``x ruff`` = median / ruff's median (the verdicts against ruff use the median of the per-round
ratios, "paired"); ``peak MB`` = the largest process's ``ru_maxrss`` (via GNU
time); the "tree" row sums one cold parallel run's processes (sampled from /proc every 20 ms). ``target``
is issue 6's goal, ``verdict`` PASS/FAIL (``-``: no goal; ``not available yet``: ``flaxprec check`` lacks
a flag the row needs and ran without it). Timed runs use the concise output, as ruff does; findings are
then compared (``--output-format json``) across cold serial, cold parallel and warm runs. Exit 1 flags a
difference, a failed run (exit code not 0/1) or an edited tree.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RUFF, PYTHON = str(BIN / "ruff"), sys.executable
# ``python -m flaxprec`` rather than the console script: a ``--ref`` snapshot then runs through its own entry
# point, whatever the installed script names (the same instruction count as the script, to 1 in 170).
FLAXPREC = [PYTHON, "-m", "flaxprec"]
NEW_FLAGS = ("--no-cache", "--cache-dir", "--jobs")  # issue 6 adds them; rows without them still run
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")
SERIAL = ["--no-cache", "--jobs", "1"]
ONE_FILE = "transformers/models/bert/modeling_flax_bert.py"
FLOOR = """import sys, time
parse = __import__("ast").parse if sys.argv[1] == "ast" else __import__("libcst").parse_module
sources = [open(p, "rb").read() for p in open(sys.argv[2]).read().splitlines()]
start = time.perf_counter()
for source in sources:
    parse(source)
print(time.perf_counter() - start)
"""


@dataclass
class Run:
    seconds: float
    rss_mb: float
    stdout: str


@dataclass
class Row:
    name: str
    runs: list[Run]
    missing: list[str] = field(default_factory=list)  # flags this flaxprec lacks, dropped from the run
    cmd: list[str] = field(default_factory=list)
    target: str = "info"
    passed: bool | None = None  # None: no goal for this row

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)


def run_once(cmd: list[str], cwd: Path) -> Run:
    """One subprocess: wall time, and peak RSS via GNU time (a ~1 MB parent, as Linux counts the forking
    process's RSS in the child's ``ru_maxrss``); without /usr/bin/time, ``wait4``'s upper bound."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as d:
        rss_file = Path(d, "rss")
        full = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd] if GNU_TIME else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        rss_kb = int(rss_file.read_text().split()[-1]) if GNU_TIME and proc.returncode in (0, 1) else 0
    if proc.returncode not in (0, 1):
        sys.exit(f"\n!!! FAILED (exit {proc.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    return Run(seconds, (rss_kb or usage.ru_maxrss) / 1024, stdout)


def tree_rss_mb(pid: int) -> float:
    """Resident MB of ``pid`` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        with contextlib.suppress(OSError, IndexError, ValueError):  # not a process, or gone
            parents[int(entry.name)] = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
    tree, pages = {pid}, 0
    while grown := {p for p, parent in parents.items() if parent in tree} - tree:
        tree |= grown
    for p in tree:
        with contextlib.suppress(OSError, IndexError, ValueError):
            pages += int(Path(f"/proc/{p}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def sampled_peak_mb(cmd: list[str], cwd: Path) -> float:
    """Peak summed RSS of the process tree of one (untimed) run."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak, done = 0.0, threading.Event()
    threading.Thread(target=lambda: (proc.wait(), done.set()), daemon=True).start()
    while not done.wait(0.02):
        peak = max(peak, tree_rss_mb(proc.pid))
    return peak


def copy_corpus(files: list[tuple[Path, str]], dest: Path) -> tuple[int, int]:
    """Copy (source, relative name) pairs under ``dest``; returns (files, lines)."""
    lines = 0
    for source, name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        lines += source.read_bytes().count(b"\n")
    return len(files), lines


def corpus_files() -> dict[str, list[tuple[Path, str]]]:
    """The pinned corpus from tests/corpus.py: {part: [(file, name relative to the copy)]}."""
    sys.path.insert(0, str(ROOT / "tests"))
    import pytest

    from corpus import corpus

    try:
        roots = {
            "transformers 4.46.3 (modeling_flax_*)": corpus("transformers-4.46.3") / "transformers",
            "flax 0.8.5 (flax/)": corpus("flax-0.8.5") / "flax-0.8.5" / "flax",
        }
    except pytest.skip.Exception as error:
        sys.exit(f"bench: cannot get the corpus: {error}")
    return {
        part: [(p, p.relative_to(root.parent).as_posix()) for p in sorted(root.rglob("*.py"))]
        for part, root in roots.items()
    }


def source_digest() -> str:
    """Digest of the installed flaxprec package's files, to notice edits made while the benchmark runs."""
    spec = importlib.util.find_spec("flaxprec")
    package = Path(spec.origin if spec and spec.origin else __file__).parent
    files = sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def snapshot(ref: str, dest: Path) -> Path:
    """``ref``'s src/ and rules/ unpacked under ``dest``, compiled (as an install would be); its src/."""
    archive = dest.with_suffix(".tar")
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), ref, "src", "rules"], check=True)
    shutil.unpack_archive(archive, dest)
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(dest / "src")], check=True)
    return dest / "src"


def findings(stdout: str) -> list[dict]:
    """JSON findings sorted by (filename, row, column, code); the whole record breaks ties."""

    def key(f: dict) -> tuple:
        return f["filename"], f["location"]["row"], f["location"]["column"], f["code"], json.dumps(f)

    return sorted(json.loads(stdout), key=key)


def main() -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--ref", help="benchmark this git commit of src/ and rules/, not the working tree")
    parser.add_argument(
        "--versus", help="also time this git commit's cold runs in the same rounds, and compare (paired)"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="flaxprec-bench-"))
    if args.ref:  # a snapshot nobody edits meanwhile, imported first through PYTHONPATH
        os.environ["PYTHONPATH"] = str(snapshot(args.ref, tmp / "snapshot"))
    # Bytecode as an installed package has it (pip compiles on install): with PYTHONDONTWRITEBYTECODE set,
    # as on some machines, every run would otherwise recompile flaxprec's sources (~50 ms).
    if not args.ref:
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    help_text = subprocess.run([*FLAXPREC, "check", "--help"], capture_output=True, text=True).stdout
    available = {flag for flag in NEW_FLAGS if flag in help_text}
    digest = None if args.ref else source_digest()
    print(f"flaxprec: {f'git {args.ref}' if args.ref else 'working tree'}; flags: {sorted(available)}")
    cache, parts = tmp / "cache", corpus_files()
    print(f"corpus in {tmp}/corpus")
    counts = {part: copy_corpus(files, tmp / "corpus") for part, files in parts.items()}
    total = [sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())]
    for part, (count, lines) in [*counts.items(), ("total", total)]:
        print(f"  {part}: {count} files, {lines} lines")
    every = sorted((f for files in parts.values() for f in files), key=lambda f: f[1])
    # The corpus twice over: the same mix of files, so a cost linear in the number of files doubles exactly
    # (half the corpus, say, would hold another share of the files libcst reads).
    for copy in ("a", "b"):
        twice = copy_corpus(every, tmp / "twice" / copy)
    print(f"  twice (two copies): {2 * twice[0]} files, {2 * twice[1]} lines")
    (tmp / "files.txt").write_text("\n".join(str(tmp / "corpus" / name) for _, name in every))

    def command(options: list[str], path: str) -> tuple[list[str], list[str]]:
        """``flaxprec check`` with ``options``, less the new flags this flaxprec lacks (also returned)."""
        cmd, missing, i = [*FLAXPREC, "check"], [], 0
        while i < len(options):
            takes = options[i] in ("--cache-dir", "--jobs")
            if options[i] in NEW_FLAGS and options[i] not in available:
                missing.append(options[i])
            else:
                cmd += options[i : i + 1 + takes]
            i += 1 + takes
        return [*cmd, path], missing

    def flaxprec(name: str, options: list[str], path: str) -> Row:
        """A flaxprec row (its runs are made by :func:`round_robin`)."""
        cmd, missing = command(options, path)
        return Row(name, [], missing, cmd)

    def plain(name: str, cmd: list[str], target: str = "info") -> Row:
        return Row(name, [], cmd=cmd, target=target)

    def round_robin(rows: list[Row]) -> None:
        """Each row's command once per round, ``repeat`` rounds: on a shared machine whose speed drifts
        over minutes, rows compared with each other (flaxprec with ruff) then see the same conditions."""
        for _ in range(args.repeat):
            for row in rows:
                if "--no-cache" in row.missing and "--cache-dir" not in row.cmd:
                    for stale in [cache, *tmp.rglob(".flaxprec_cache")]:  # cold without --no-cache
                        shutil.rmtree(stale, ignore_errors=True)
                row.runs.append(run_once(row.cmd, tmp))

    def floor(name: str, kind: str) -> Row:
        row = Row(name, [], target="floor")
        for _ in range(args.repeat):
            run = run_once([PYTHON, "-c", FLOOR, kind, str(tmp / "files.txt")], tmp)
            row.runs.append(Run(float(run.stdout), run.rss_mb, ""))
        return row

    serial, cold_options, warm_options = SERIAL, ["--no-cache"], ["--cache-dir", str(cache)]
    ruff_cmd = [RUFF, "check", "--select", "ALL", "--no-cache", "corpus"]
    ruff = plain("ruff check --select ALL --no-cache", ruff_cmd, target="reference")
    cold_serial = flaxprec("flaxprec cold serial (-j 1)", serial, "corpus")
    cold = flaxprec("flaxprec cold parallel", cold_options, "corpus")
    warm = flaxprec("flaxprec warm (cache hit)", warm_options, "corpus")
    double = flaxprec("flaxprec cold serial, corpus twice", serial, "twice")
    imports = plain('python -c "import libcst, click"', [PYTHON, "-c", "import libcst, click"], "floor")
    design = [str(ROOT / "bench" / "design_floor.py"), str(tmp / "files.txt"), str(tmp / "slices")]
    subprocess.run([PYTHON, design[0], "--write-slices", *design[1:]], check=True, stdout=subprocess.DEVNULL)
    design_floor = plain("design floor (bench/design_floor.py)", [PYTHON, *design], "floor")
    one = flaxprec(f"one file, cold: {Path(ONE_FILE).name}", ["--no-cache"], f"corpus/{ONE_FILE}")
    run_once(warm.cmd, tmp)  # fills the cache the warm runs read
    versus: list[Row] = []
    if args.versus:  # the other commit's cold runs, through ``env`` (one exec more, ~1 ms) for its PYTHONPATH
        other = ["env", f"PYTHONPATH={snapshot(args.versus, tmp / 'versus')}"]
        versus = [
            Row(f"{args.versus} cold serial (-j 1)", [], cmd=[*other, *command(serial, "corpus")[0]]),
            Row(f"{args.versus} cold parallel", [], cmd=[*other, *command(cold_options, "corpus")[0]]),
        ]
    round_robin([ruff, cold_serial, cold, warm, double, imports, one, design_floor, *versus])
    base = ruff.median

    def paired(row: Row, to: Row = ruff) -> float:
        """The median of the per-round ratios to another row's run: the drift of the machine cancels out."""
        return statistics.median(r.seconds / b.seconds for r, b in zip(row.runs, to.runs, strict=True))

    cold.target, cold.passed = f"<= 1.00x ruff (paired x{paired(cold):.2f})", paired(cold) <= 1.0
    warm.target, warm.passed = f"<= 0.25x ruff (paired x{paired(warm):.2f})", paired(warm) <= 0.25
    # Linearity: the corpus twice over against the corpus, serial (10% slack for noise).
    ratio, allowed = double.median / cold_serial.median, 2 * 1.10
    double.target, double.passed = f"twice/once x{ratio:.2f} <= x{allowed:.2f}", ratio <= allowed
    one.target = f"<= 1.5x import (paired x{paired(one, imports):.2f})"
    one.passed = paired(one, imports) <= 1.5
    for row, mine in zip(versus, (cold_serial, cold), strict=False):
        row.target = f"this tree x{paired(mine, row):.2f} of it"
    design_floor.target = f"floor (paired x{paired(design_floor):.2f})"
    rows = [ruff, cold_serial, cold, *versus, design_floor, warm, double, one, imports]
    rows.append(floor("ast.parse floor", "ast"))
    rows.append(floor("libcst.parse_module floor", "libcst"))

    print(f"\nruns per command: {args.repeat}; {os.cpu_count()} cores; times in seconds\n")
    columns = f"{'median':>7} {'min':>7} {'max':>7} {'x ruff':>7} {'peak MB':>8}"
    header = f"{'name':38} {columns}  {'target':28} verdict"
    print(header + "\n" + "-" * len(header))
    for row in rows:
        seconds = [r.seconds for r in row.runs]
        verdict = "-" if row.passed is None else "PASS" if row.passed else "FAIL"
        if row.missing:
            verdict = f"not available yet ({', '.join(row.missing)})"
        print(
            f"{row.name:38} {row.median:7.3f} {min(seconds):7.3f} {max(seconds):7.3f} "
            f"{row.median / base:6.2f}x {max(r.rss_mb for r in row.runs):8.1f}  {row.target:28} {verdict}"
        )
    largest = max(r.rss_mb for row in (cold_serial, cold, warm, double, one) for r in row.runs)
    tree = sampled_peak_mb(command(cold_options, "corpus")[0], tmp)
    for name, mb in (("peak RSS, largest flaxprec process", largest), ("peak RSS, cold parallel tree", tree)):
        print(f"{name:38} {'':31} {mb:8.1f}  {'<= 250 MB':28} {'PASS' if mb <= 250 else 'FAIL'}")

    # Identical findings: concise lines of every timed corpus run, then the JSON reports.
    problems = []
    reference = sorted(cold_serial.runs[0].stdout.splitlines())
    for row in (cold_serial, cold, warm):
        if any(sorted(r.stdout.splitlines()) != reference for r in row.runs):
            problems.append(f"{row.name}: concise output differs from the first cold serial run")
    reports = {}
    for name, options in (("cold serial", serial), ("cold parallel", cold_options), ("warm", warm_options)):
        cmd = command([*options, "--output-format", "json"], "corpus")[0]
        if name == "warm":
            run_once(cmd, tmp)  # the cache then holds this output format's run too
        reports[name] = findings(run_once(cmd, tmp).stdout)
    for name, report in reports.items():
        extra = [f for f in report if f not in reports["cold serial"]]
        lost = [f for f in reports["cold serial"] if f not in report]
        if extra or lost:
            problems.append(f"json {name} vs cold serial: {len(extra)} extra, {len(lost)} missing findings")
            for sign, diff in (("+", extra), ("-", lost)):
                problems += [f"  e.g. {sign} {json.dumps(f)[:400]}" for f in diff[:1]]
    if digest and source_digest() != digest:
        problems.append("flaxprec's files changed during the benchmark: rerun it on a tree nobody edits")
    if not problems:
        print(f"\nidentical findings in every mode: {len(reports['cold serial'])} (json), concise output too")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        print("\n!!! FINDINGS DIFFER OR THE RUN IS INVALID !!!\n" + "\n".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
