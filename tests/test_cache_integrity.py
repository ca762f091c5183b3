"""The cache never crashes a run nor changes its answer (issue 19 item 7): a store of the wrong shape, nested
too deep, with a flipped bit, truncated, or not a readable file is a miss, and the run reports exactly what
it reports without a cache."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_cache import LAYERS, MODEL

from flaxprec import cache as cache_module
from flaxprec.cache import Cache, decode_store, encode_store, sketch_from_text
from flaxprec.cli import main
from flaxprec.diagnostics import Applicability, Diagnostic, Fix, Location, TextEdit
from flaxprec.warm import cached_check

STORES = ("facts", "summaries", "results")
# (exit code, findings as (file, row, column, code)) of the tree, as a run without a cache reports them.
EXPECTED = (
    1,
    [
        ("pkg/broken.py", 1, 7, "FLX900"),
        ("pkg/model.py", 11, 20, "FLX001"),
        ("pkg/model.py", 12, 21, "FLX001"),
    ],
)
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two modules with findings (fixes with text edits) and a file that does not parse (FLX900), cached."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text(LAYERS)
    (package / "model.py").write_text(MODEL)
    (package / "broken.py").write_text("def f(:\n")
    monkeypatch.chdir(tmp_path)
    assert run("--no-cache") == EXPECTED
    assert run() == EXPECTED  # fills the cache
    assert all(decode_store(store(tmp_path, name).read_bytes()) for name in STORES)
    return tmp_path


def run(*args: str) -> tuple[int, list[tuple[str, int, int, str]]]:
    """Exit code and findings of ``check pkg`` (in this process: a crash is an exception, not exit 1)."""
    result = CliRunner().invoke(main, ["check", "pkg", "--output-format", "json-lines", "-j", "1", *args])
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.exc_info
    rows = [json.loads(line) for line in result.output.splitlines()]
    return result.exit_code, [
        (d["filename"], d["location"]["row"], d["location"]["column"], d["code"]) for d in rows
    ]


def signed(payload: bytes) -> bytes:
    """A store file holding ``payload`` under its valid checksum (the format, written out independently)."""
    return hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def store(tree: Path, name: str) -> Path:
    (path,) = (tree / ".flaxprec_cache").glob(f"v*/{name}*.json")
    return path


def rewrite(tree: Path, name: str, change: Callable[[str, Any], Any]) -> None:
    """Replace every entry of a store by ``change(key, entry)``, under a valid checksum: what is tested is
    then the check of each entry's shape."""
    path = store(tree, name)
    entries = decode_store(path.read_bytes())
    path.write_bytes(signed(json.dumps({key: change(key, entry) for key, entry in entries.items()}).encode()))


def assert_runs_as_without_cache(tree: Path) -> None:
    assert run() == EXPECTED
    assert run() == EXPECTED  # from what the first run wrote back
    assert run("--no-cache") == EXPECTED


# -- entries of the wrong shape, under a valid checksum ----------------------------------------------------


def each_finding(change: Callable[[dict[str, Any]], None]) -> Callable[[str, Any], Any]:
    def apply(key: str, entry: list[dict[str, Any]]) -> Any:
        for finding in entry:
            change(finding)
        return entry

    return apply


def each_fix(change: Callable[[dict[str, Any]], None]) -> Callable[[str, Any], Any]:
    return each_finding(lambda finding: finding["fix"] is not None and change(finding["fix"]))


def each_summary(change: Callable[[dict[str, Any]], None]) -> Callable[[str, Any], Any]:
    def apply(key: str, entry: dict[str, Any]) -> Any:
        if "error" not in entry:
            change(entry)
        return entry

    return apply


def each_class(change: Callable[[dict[str, Any]], None]) -> Callable[[str, Any], Any]:
    def apply(summary: dict[str, Any]) -> None:
        for entry in summary["classes"]:
            change(entry)

    return each_summary(apply)


def each_error(change: Callable[[dict[str, Any]], None]) -> Callable[[str, Any], Any]:
    def apply(key: str, entry: dict[str, Any]) -> Any:
        if "error" in entry:
            change(entry["error"])
        return entry

    return apply


def each_sketch(change: Callable[[list[Any]], Any]) -> Callable[[str, Any], Any]:
    """Changes every decoded sketch (a list of statement rows) and stores it back as text."""

    def apply(summary: dict[str, Any]) -> None:
        summary["sketch"] = json.dumps(change(json.loads(summary["sketch"])))

    return each_summary(apply)


def each_call(change: Callable[[list[Any]], None]) -> Callable[[str, Any], Any]:
    def apply(rows: list[Any]) -> list[Any]:
        for row in rows:
            for call in row[4]:
                change(call)
        return rows

    return each_sketch(apply)


def setter(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda entry: entry.__setitem__(key, value)


def deleter(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda entry: entry.__delitem__(key)


WRONG_SHAPES: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    # results: a file's findings
    "results entry not a list": ("results", lambda key, entry: {"findings": entry}),
    "results entry a number": ("results", lambda key, entry: 3),
    "finding not an object": ("results", lambda key, entry: [None, *entry]),
    "finding without location": ("results", each_finding(deleter("location"))),
    "finding with an extra key": ("results", each_finding(setter("extra", 1))),
    "code a number": ("results", each_finding(setter("code", 1))),
    "message null": ("results", each_finding(setter("message", None))),
    "location of one number": ("results", each_finding(setter("location", [11]))),
    "location of three numbers": ("results", each_finding(setter("location", [11, 20, 1]))),
    "location of strings": ("results", each_finding(setter("end_location", ["11", "33"]))),
    "location of booleans": ("results", each_finding(setter("location", [True, True]))),
    "location an object": ("results", each_finding(setter("location", {"row": 11, "column": 20}))),
    "statement row a string": ("results", each_finding(setter("statement_row", "11"))),
    "fix a string": ("results", each_finding(setter("fix", "safe"))),
    "fix without text": ("results", each_fix(deleter("text"))),
    "fix title null": ("results", each_fix(setter("title", None))),
    "applicability unknown": ("results", each_fix(setter("applicability", "maybe"))),
    "applicability a list": ("results", each_fix(setter("applicability", ["safe"]))),
    "text edit of three fields": ("results", each_fix(setter("text", [[11, 20, 11]]))),
    "text edit with a string column": ("results", each_fix(setter("text", [[11, "20", 11, 33, "x"]]))),
    "text edit content null": ("results", each_fix(setter("text", [[11, 20, 11, 33, None]]))),
    "text edits an object": ("results", each_fix(setter("text", {"edits": []}))),
    # summaries: a file's class summary and gate sketch, or its FLX900 finding
    "summary entry a list": ("summaries", lambda key, entry: [entry]),
    "summary without classes": ("summaries", each_summary(deleter("classes"))),
    "summary without sketch": ("summaries", each_summary(deleter("sketch"))),
    "module name null": ("summaries", each_summary(setter("module_name", None))),
    "imports a list": ("summaries", each_summary(setter("imports", [["nn", "flax.linen"]]))),
    "import target a number": ("summaries", each_summary(setter("imports", {"nn": 1}))),
    "classes an object": ("summaries", each_summary(setter("classes", {}))),
    "class a string": ("summaries", each_summary(setter("classes", ["Model"]))),
    "class without bases": ("summaries", each_class(deleter("bases"))),
    "bases a string": ("summaries", each_class(setter("bases", "flax.linen.Module"))),
    "field names numbers": ("summaries", each_class(setter("fields", [1]))),
    "has_init a number": ("summaries", each_class(setter("has_init", 0))),
    "error finding without code": ("summaries", each_error(deleter("code"))),
    "error finding location short": ("summaries", each_error(setter("location", [1]))),
    "error and summary": ("summaries", each_error(setter("module_name", "pkg.broken"))),
    # sketches: decoded when a file is analysed (here every file: the results store is removed)
    "sketch a number": ("summaries", each_summary(setter("sketch", 5))),
    "sketch not JSON": ("summaries", each_summary(setter("sketch", "[[1,"))),
    "sketch an object": ("summaries", each_sketch(lambda rows: {"rows": rows})),
    "sketch row short": ("summaries", each_sketch(lambda rows: [row[:4] for row in rows])),
    "sketch row long": ("summaries", each_sketch(lambda rows: [[*row, 0] for row in rows])),
    "sketch row a number": ("summaries", each_sketch(lambda rows: [*rows, 7])),
    "sketch start a string": (
        "summaries",
        each_sketch(lambda rows: [[str(row[0]), *row[1:]] for row in rows]),
    ),
    "sketch tied a number": (
        "summaries",
        each_sketch(lambda rows: [[*row[:8], 1, *row[9:]] for row in rows]),
    ),
    "sketch calls an object": (
        "summaries",
        each_sketch(lambda rows: [[*row[:4], {}, *row[5:]] for row in rows]),
    ),
    "sketch member short": (
        "summaries",
        each_sketch(lambda rows: [[*row[:7], [[1]], *row[8:]] for row in rows]),
    ),
    "sketch call short": ("summaries", each_call(lambda call: call.pop())),
    "sketch call positional a string": ("summaries", each_call(lambda call: call.__setitem__(2, "1"))),
    "sketch call keywords numbers": ("summaries", each_call(lambda call: call.__setitem__(1, [1]))),
    "sketch call a string": (
        "summaries",
        each_sketch(lambda rows: [[*r[:4], ["x"] * len(r[4]), *r[5:]] for r in rows]),
    ),
    # facts: a file's class-facts digest
    "facts a number": ("facts", lambda key, entry: 5),
    "facts null": ("facts", lambda key, entry: None),
    "facts a list": ("facts", lambda key, entry: [entry]),
}


@pytest.mark.parametrize("case", WRONG_SHAPES)
def test_an_entry_of_the_wrong_shape_is_a_miss(tree: Path, case: str) -> None:
    name, change = WRONG_SHAPES[case]
    rewrite(tree, name, change)
    if name == "summaries":  # read only when findings are not cached
        store(tree, "results").unlink()
    assert_runs_as_without_cache(tree)


def test_the_summaries_sketches_are_read_when_results_are_missing(tree: Path) -> None:
    """What the summaries cases rely on: without the results store, the sketches decide what is analysed.
    A sketch that clears every statement (no calls, no members) loses model.py's findings, so it is read."""

    def clear(rows: list[Any]) -> list[Any]:
        return [[*row[:4], [], row[5], row[6], [], row[8], [], [], *row[11:]] for row in rows]

    rewrite(tree, "summaries", each_sketch(clear))
    store(tree, "results").unlink()
    assert run() == (1, [("pkg/broken.py", 1, 7, "FLX900")])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        "[1]",
        "[[]]",
        '[[1,1,"import","nn",[],[],[],[],false,[]]]',  # a field short
        '[[1,1,"import","nn",[],[],[],[],0,[],[]]]',  # tied: 0, not false
        '[[true,1,"import","nn",[],[],[],[],false,[],[]]]',  # start: true, not a number
        '[[1,1,"import","nn",[],[],[],[],false,[],["x"]]]',  # huge_members: strings
        '[[1,1,"class","C",[[null]],[],[],[],false,[],[]]]',  # a call row short
        '[[1,1,"class","C",[],[],[],[[1,2,"def"]],false,[],[]]]',  # a member row short
        '[[1,1,"class","C",[],[],[],[[1,2,"def",7]],false,[],[]]]',  # member name: a number
        DEEP,
    ],
)
def test_a_sketch_of_another_shape_decodes_to_none(text: str) -> None:
    assert sketch_from_text(text) is None


def test_a_sketch_row_decodes_to_its_named_tuples() -> None:
    from flaxprec.gate import CallSketch, Member, StatementSketch

    text = (
        '[[7,12,"class","Model",[["flax.linen.Dense",["dtype"],1,false,null,null,"pkg.Model",false,"",1,'
        'false,false,false]],["pkg.Model"],["nn.Module"],[[8,8,"other",null]],true,[0],[0],false]]'
    )
    call = CallSketch("flax.linen.Dense", ("dtype",), 1, False, None, None, "pkg.Model", False, "", 1)
    members = (Member(8, 8, "other", None),)
    assert sketch_from_text(text) == (
        StatementSketch(
            7, 12, "class", "Model", (call,), ("pkg.Model",), ("nn.Module",), members, True, (0,), (0,)
        ),
    )


# -- nesting, truncation, bit flips -------------------------------------------------------------------------


@pytest.mark.parametrize("name", STORES)
def test_a_store_nested_100_000_deep_is_empty(tree: Path, name: str) -> None:
    path = store(tree, name)
    path.write_bytes(signed(DEEP.encode()))
    assert decode_store(path.read_bytes()) == {}
    assert_runs_as_without_cache(tree)


@pytest.mark.parametrize("name", STORES)
def test_an_entry_nested_100_000_deep_is_a_miss(tree: Path, name: str) -> None:
    path = store(tree, name)
    payload = "{" + ",".join(f'"{key}":{DEEP}' for key in decode_store(path.read_bytes())) + "}"
    path.write_bytes(signed(payload.encode()))
    if name == "summaries":
        store(tree, "results").unlink()
    assert_runs_as_without_cache(tree)


def test_a_sketch_nested_100_000_deep_is_a_miss(tree: Path) -> None:
    rewrite(tree, "summaries", each_summary(setter("sketch", DEEP)))
    store(tree, "results").unlink()
    assert_runs_as_without_cache(tree)


def test_an_entry_that_decodes_but_does_not_encode_deeper_in_the_stack(tree: Path) -> None:
    """An entry nested just within the interpreter's limit where the store is loaded may not encode where it
    is saved (json counts the frames below it): the save still writes this run's entries, or none."""
    path = store(tree, "results")
    context = path.stem.removeprefix("results-")
    levels = sys.getrecursionlimit() - len(_frames()) - 60
    path.write_bytes(signed(f'{{"old":{"[" * levels}{"]" * levels}}}'.encode()))
    cache = Cache(tree / ".flaxprec_cache", context)
    assert cache.findings("old") is None  # loads the store at this depth
    cache.store_findings("new", [])

    def save_deeper(depth: int) -> None:
        if depth:
            save_deeper(depth - 1)
        else:
            cache.save()

    save_deeper(150)
    assert decode_store(path.read_bytes()).get("new") == []


def _frames() -> list[Any]:
    frame, frames = sys._getframe(1), []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


@pytest.mark.parametrize("name", STORES)
@pytest.mark.parametrize("keep", [0, 1, 64, 65, 0.5, -1])
def test_a_truncated_store_is_empty(tree: Path, name: str, keep: float) -> None:
    path = store(tree, name)
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:cut])
    assert decode_store(path.read_bytes()) == {}
    assert_runs_as_without_cache(tree)


@pytest.fixture
def warm_lookup(tree: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[Diagnostic] | None]:
    """What a warm run finds in the cache as it is on disk now (the warm path, without the CLI around it)."""
    version = next((tree / ".flaxprec_cache").glob("v*")).name
    monkeypatch.setattr(cache_module, "build_id", lambda: version.split("-", 1)[1])  # as the run computed it
    context = store(tree, "results").stem.removeprefix("results-")
    files = sorted(Path("pkg").glob("*.py"))

    def lookup() -> list[Diagnostic] | None:
        served = cached_check(files, Path.as_posix, Cache(tree / ".flaxprec_cache", context))
        return None if served is None else served[0]

    return lookup


FLIP_STRIDE = 13  # every 13th bit: ~600 flips of a 1 kB store, at every bit position of a byte (13 is odd)


def flips(data: bytes) -> list[tuple[int, bytes]]:
    """Single-bit flips of ``data`` (every :data:`FLIP_STRIDE`-th bit), with their positions."""
    return [
        (bit, data[: bit // 8] + bytes([data[bit // 8] ^ (1 << bit % 8)]) + data[bit // 8 + 1 :])
        for bit in range(0, len(data) * 8, FLIP_STRIDE)
    ]


def test_a_single_bit_flip_of_the_results_store_is_a_miss_or_the_right_answer(
    tree: Path, warm_lookup: Callable[[], list[Diagnostic] | None]
) -> None:
    path = store(tree, "results")
    right = warm_lookup()
    assert right is not None
    assert [(d.filename, d.location, d.code) for d in right] == [
        ("pkg/broken.py", Location(1, 7), "FLX900"),
        ("pkg/model.py", Location(11, 20), "FLX001"),
        ("pkg/model.py", Location(12, 21), "FLX001"),
    ]
    assert right[1].fix == Fix(
        "Add `dtype=self.dtype`",
        Applicability.SAFE,
        (),
        text=(TextEdit(Location(11, 20), Location(11, 33), "FeedForward(dtype=self.dtype)"),),
    )
    data = path.read_bytes()
    assert len(data) > 900  # the three findings, two of them with fixes: ~550 flips
    wrong = []
    for bit, flipped in flips(data):
        path.write_bytes(flipped)
        found = warm_lookup()
        if found is not None and found != right:
            wrong.append(bit)
    assert wrong == []


def test_a_flipped_bit_under_a_recomputed_checksum_never_crashes(
    tree: Path, warm_lookup: Callable[[], list[Diagnostic] | None]
) -> None:
    """Bytes that changed before the checksum was computed (a bug, a hand edit) can only be checked for
    their shape: every flip of the payload gives a miss or findings whose every field has its type."""
    path = store(tree, "results")
    payload = path.read_bytes()[65:]
    for _, flipped in flips(payload):
        path.write_bytes(signed(flipped))
        found = warm_lookup()
        for d in found or ():
            assert all(isinstance(s, str) for s in (d.code, d.name, d.message, d.filename)), d
            assert all(type(n) is int for n in (d.location.row, d.location.column)), d
            assert all(type(n) is int for n in (d.end_location.row, d.end_location.column)), d
            assert d.statement_row is None or type(d.statement_row) is int, d
            if d.fix is not None:
                assert isinstance(d.fix.applicability, Applicability), d
                assert all(type(e.content) is str for e in d.fix.text or ()), d


@pytest.mark.parametrize("bit", [0, 8 * 64 + 1, 8 * 200 + 3, 8 * 400 + 5, -1])
def test_a_flipped_bit_in_the_results_store_gives_the_run_s_findings(tree: Path, bit: int) -> None:
    path = store(tree, "results")
    data = bytearray(path.read_bytes())
    bit %= len(data) * 8
    data[bit // 8] ^= 1 << bit % 8
    path.write_bytes(bytes(data))
    assert_runs_as_without_cache(tree)
    assert decode_store(path.read_bytes())  # written anew


def test_a_store_without_its_checksum_is_not_read(tree: Path) -> None:
    """Plain JSON (the old format, or a hand edit) is not trusted: its findings at other rows are not used."""

    def move(finding: dict[str, Any]) -> None:
        finding["location"] = [finding["location"][0] + 1, 1]

    path = store(tree, "results")
    entries = decode_store(path.read_bytes())
    path.write_text(json.dumps({key: each_finding(move)(key, entry) for key, entry in entries.items()}))
    assert_runs_as_without_cache(tree)


# -- stores that are not readable files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", STORES)
def test_a_store_that_is_a_folder_is_left_alone(tree: Path, name: str) -> None:
    path = store(tree, name)
    path.unlink()
    path.mkdir()
    (path / "keep").write_text("mine")
    store(tree, "results" if name != "results" else "facts").unlink()  # another store to write back
    assert_runs_as_without_cache(tree)
    assert (path / "keep").read_text() == "mine"
    assert list(path.parent.glob("*.tmp")) == []
    other = store(tree, "results" if name != "results" else "facts")
    assert decode_store(other.read_bytes())  # the other stores are written all the same


@pytest.mark.parametrize("name", STORES)
def test_a_store_that_is_a_link_loop_is_empty(tree: Path, name: str) -> None:
    path = store(tree, name)
    path.unlink()
    path.symlink_to(path.name)
    assert_runs_as_without_cache(tree)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_store_that_is_a_pipe_does_not_block_the_run(tree: Path) -> None:
    import subprocess

    for name in ("facts", "results"):
        path = store(tree, name)
        path.unlink()
        os.mkfifo(path)
    source = Path(cache_module.__file__).parents[1]
    command = [sys.executable, "-m", "flaxprec", "check", "pkg", "--output-format", "concise", "-j", "1"]
    env = {**os.environ, "PYTHONPATH": str(source)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    assert [line.split(" ")[:2] for line in result.stdout.splitlines()[:3]] == [
        ["pkg/broken.py:1:7:", "FLX900"],
        ["pkg/model.py:11:20:", "FLX001"],
        ["pkg/model.py:12:21:", "FLX001"],
    ]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
@pytest.mark.parametrize("name", STORES)
def test_an_unreadable_store_is_empty(tree: Path, name: str) -> None:
    path = store(tree, name)
    path.chmod(0)
    try:
        assert_runs_as_without_cache(tree)
    finally:
        path.chmod(0o600)


def test_a_store_file_is_its_payload_s_checksum_then_the_payload(tree: Path) -> None:
    for name in STORES:
        data = store(tree, name).read_bytes()
        entries = decode_store(data)
        assert data == signed(json.dumps(entries, separators=(",", ":")).encode())
        assert encode_store(entries) == data


def test_warm_texts_of_a_file_that_does_not_decode_are_missing(tmp_path: Path) -> None:
    """Cached findings imply the file decodes, unless the cache was made by hand: a report then shows the
    finding without its source lines instead of failing."""
    from flaxprec.warm import Texts

    path = tmp_path / "latin.py"
    texts = Texts({"latin.py": (path, b"# coding: ascii\nname = '\xe9'\n"), "ok.py": (path, b"x = 1\n")})
    assert texts.get("latin.py") is None
    with pytest.raises(KeyError):
        texts["latin.py"]
    assert texts["ok.py"] == "x = 1\n"
