"""Memory and time per file of ``flaxprec check`` on large generated files (issue 19, item 3).

``.venv/bin/python bench/memory.py [--repeat N] [--keep] [--ref COMMIT] [--skip-large] [--limit-gb G]``:
generates, in a temporary folder,

- a Flax file whose module-level data table (``TABLE = [...]``, 41,000 rows, 2 MB) sits beside one
  Module with one finding, and the same with 410,000 rows (20 MB; ``--skip-large`` leaves it out);
- files of Modules with one finding per statement, 1,500 findings and two and four times as many;

and runs ``python -m flaxprec check --no-cache FILE`` on each in a subprocess, as bench/run.py does (the
findings files in the concise, json, sarif and full formats):
wall seconds, and the child's peak RSS via GNU time (``ru_maxrss`` of the largest process). Every run is
made under an address-space limit (``--limit-gb``, default 8): a version that needs more aborts, which is
reported as a failure with its exit status, instead of swapping the machine (the 20 MB table once grew
past 19 GB). The 2 MB table also runs under a 1.5 GB limit, where it once aborted with nothing printed.

Targets (issue 19): the 2 MB table within 600 MB, the 20 MB one completes within 4 GB (CPython's own
``ast.parse`` of it, shown as a floor, takes about 3 GB); time linear in the findings of one file, in every
format (the median of 2x and 4x within 10% of twice and four times 1x's: startup makes the real ratios
smaller).
Each run must report exactly the findings planted in its file. Exit 1 when a run fails or a target is
missed. ``--ref`` benchmarks a git commit's src/ and rules/ (``--ref 84ff6d6`` for the numbers before the
fix); ``--keep`` keeps the generated files.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from dataclasses import dataclass
from pathlib import Path

from run import GNU_TIME, PYTHON, ROOT, snapshot

FLAXPREC = [PYTHON, "-m", "flaxprec", "check", "--no-cache"]
HEADER = "import flax.linen as nn\nimport jax.numpy as jnp\n"
MODULE = """

class Block(nn.Module):
    dtype: jnp.dtype = jnp.bfloat16

    @nn.compact
    def __call__(self, x):
        return nn.Dense(4)(x)
"""
TABLE_ROWS = {"2 MB": 41_000, "20 MB": 410_000}
FINDINGS = 1_500  # of the 1x file; 50 per Module
PER_MODULE = 50
MB = 2**20
# The findings files' reports: concise, and those that show every fix (its edits or its diff), which once
# diffed the whole file per finding (6,000 findings: 36 s of json, over 148 s of full).
OUTPUT_FORMATS = ("concise", "json", "sarif", "full")


@dataclass
class Run:
    seconds: float
    rss_mb: float
    status: int  # the exit status, negative for a signal
    stdout: str


def table_source(rows: int) -> str:
    """A module-level data table of ``rows`` rows (about 51 bytes each) and one Module with one finding."""
    lines = [
        f'    ({i}, {i % 1000 / 997:.6f}, -{i % 89}.5e-05, "tok_{i:06d}", {i % 97}),' for i in range(rows)
    ]
    return HEADER + "\nTABLE = [\n" + "\n".join(lines) + "\n]\n" + MODULE


def findings_source(count: int) -> str:
    """Modules with ``count`` findings (FLX001), one per statement, every statement written differently."""
    parts = [HEADER]
    for number in range(count // PER_MODULE):
        parts.append(f"\n\nclass Block{number}(nn.Module):\n    dtype: jnp.dtype = jnp.bfloat16\n\n")
        parts.append("    @nn.compact\n    def __call__(self, x):\n")
        parts += [f"        x = nn.Dense({number * PER_MODULE + i + 1})(x)\n" for i in range(PER_MODULE)]
        parts.append("        return x\n")
    return "".join(parts)


def run_once(cmd: list[str], limit_bytes: int) -> Run:
    """One subprocess under an address-space limit: wall time, peak RSS (GNU time) and exit status."""
    with tempfile.TemporaryDirectory() as d:
        rss_file = Path(d, "rss")
        full = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd] if GNU_TIME else cmd

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

        start = time.perf_counter()
        proc = subprocess.run(full, capture_output=True, text=True, preexec_fn=limit)
        seconds = time.perf_counter() - start
        status, rss_kb = proc.returncode, 0
        # GNU time's file: "Command terminated by signal N" or "... exited with non-zero status N", then %M.
        words = rss_file.read_text().split() if GNU_TIME and rss_file.exists() else []
        if words and words[-1].isdigit():
            rss_kb = int(words[-1])
        if "signal" in words:
            status = -int(words[words.index("signal") + 1])
    if not rss_kb:
        rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # an upper bound
    return Run(seconds, rss_kb / 1024, status, proc.stdout)


def found(stdout: str) -> int:
    """The number of findings a concise report lists."""
    return sum(1 for line in stdout.splitlines() if ": FLX" in line)


def reported(stdout: str, output_format: str) -> int:
    """The number of findings a report in ``output_format`` lists (``full`` heads each with its location);
    -1 for a JSON report that does not parse."""
    try:
        if output_format == "json":
            return len(json.loads(stdout))
        if output_format == "sarif":
            return len(json.loads(stdout)["runs"][0]["results"])
    except (ValueError, KeyError, IndexError):
        return -1
    return found(stdout)


def main() -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per findings file (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--ref", help="benchmark this git commit of src/ and rules/, not the working tree")
    parser.add_argument("--skip-large", action="store_true", help="leave out the 20 MB table")
    parser.add_argument("--limit-gb", type=float, default=8.0, help="address-space limit per run (GB)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="flaxprec-memory-"))
    if args.ref:
        os.environ["PYTHONPATH"] = str(snapshot(args.ref, tmp / "snapshot"))
    else:
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    print(f"flaxprec: {f'git {args.ref}' if args.ref else 'working tree'}; files in {tmp}")
    limit = int(args.limit_gb * 2**30)
    rows: list[tuple[str, Run, str, bool | None]] = []  # name, run, target, verdict (None: no goal)

    tables = {k: v for k, v in TABLE_ROWS.items() if not (args.skip_large and k == "20 MB")}
    for size, count in tables.items():
        path = tmp / f"table_{count}.py"
        path.write_text(table_source(count))
        print(f"  {path.name}: {path.stat().st_size / MB:.1f} MB, {count} rows")
        floor = run_once([PYTHON, "-c", f"import ast; ast.parse(open({str(path)!r}).read())"], limit)
        rows.append((f"ast.parse floor, {size} table", floor, "floor", None))
        run = run_once([*FLAXPREC, str(path)], limit)
        goal = 600 if size == "2 MB" else 4096
        ok = run.status == 1 and found(run.stdout) == 1 and run.rss_mb <= goal
        rows.append((f"check, {size} table", run, f"<= {goal} MB, 1 finding", ok))
        if size == "2 MB":
            low = run_once([*FLAXPREC, str(path)], int(1.5 * 2**30))
            ok = low.status == 1 and found(low.stdout) == 1
            rows.append((f"check, {size} table, 1.5 GB limit", low, "completes, 1 finding", ok))

    paths = {}
    for scale in (1, 2, 4):
        paths[scale] = tmp / f"findings_{FINDINGS * scale}.py"
        paths[scale].write_text(findings_source(FINDINGS * scale))
    for output_format in OUTPUT_FORMATS:
        medians: dict[int, float] = {}
        for scale in (1, 2, 4):
            count = FINDINGS * scale
            cmd = [*FLAXPREC, "--output-format", output_format, str(paths[scale])]
            runs = [run_once(cmd, limit) for _ in range(args.repeat)]
            medians[scale] = statistics.median(r.seconds for r in runs)
            run = min(runs, key=lambda r: abs(r.seconds - medians[scale]))
            run.seconds = medians[scale]
            exact = all(r.status == 1 and reported(r.stdout, output_format) == count for r in runs)
            name = f"check {output_format}, {count} findings ({scale}x)"
            if scale == 1:
                rows.append((name, run, f"{count} findings", exact))
            else:
                ratio = medians[scale] / medians[1]
                ok = exact and ratio <= scale * 1.10
                rows.append((name, run, f"x{ratio:.2f} of 1x <= x{scale * 1.1:.1f}", ok))

    header = f"{'name':38} {'seconds':>8} {'peak MB':>8} {'exit':>5}  {'target':28} verdict"
    print("\n" + header + "\n" + "-" * len(header))
    for name, run, target, ok in rows:
        verdict = "-" if ok is None else "PASS" if ok else "FAIL"
        print(f"{name:38} {run.seconds:8.2f} {run.rss_mb:8.1f} {run.status:5}  {target:28} {verdict}")
    if args.keep:
        print(f"\nkept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(ok is not False for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
