"""Files come back byte for byte: encodings, BOM, line endings, and the libcst facts we rely on."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

import libcst as cst
import pytest

from flaxprec.apply_edits import apply_edits
from flaxprec.diagnostics import CallEdit, ImportNeed, SetKeyword
from flaxprec.source_io import SourceError, SourceFile, decode_source, read_source, write_back

JNP = ImportNeed("jax.numpy", "jnp")
DTYPE = SetKeyword("dtype", "self.dtype")


def dense_calls(module: cst.Module) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Collect(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if module.code_for_node(node.func) == "nn.Dense":
                found.append(node)

    module.visit(Collect())
    return found


def fix(source: SourceFile) -> bytes:
    """What ``flaxprec fix`` does to a file: parse, add dtype to every Dense, import jnp, render."""
    module = source.parse()
    edits = [CallEdit(call, (DTYPE,)) for call in dense_calls(module)]
    return source.render(apply_edits(module, edits, [JNP]))


def write(tmp_path: Path, data: bytes, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- what libcst does with newlines (the facts source_io is built on) -------------------------------------


@pytest.mark.parametrize(
    "text",
    ["x = 1\r\ny = (1,\r\n     2)  # c\r\n", "x = 1\ny = 2\r\n", "x = 1\ry = 2\r\n", "x = '''a\r\nb'''\r\n"],
)
def test_libcst_round_trips_crlf_and_mixed_text(text: str) -> None:
    assert cst.parse_module(text).code == text


def test_libcst_default_newline_is_the_first_newline_and_new_code_uses_it() -> None:
    module = cst.parse_module("import os\r\nx = f(\r\n    a,\r\n)\r\n")
    assert module.default_newline == "\r\n"
    line = cst.parse_statement("y = 2\n")  # built with "\n", but its Newline() stores no value
    assert module.with_changes(body=[*module.body, line]).code.endswith("\r\ny = 2\r\n")


def test_libcst_drops_a_final_lone_cr() -> None:
    # The bug SourceFile.parse works around.
    assert cst.parse_module("x = 1\ry = 2\r").code == "x = 1\ry = 2"


def test_libcst_drops_a_bom_given_as_text() -> None:
    # Why SourceFile.text never contains the BOM and encode() puts it back.
    assert cst.parse_module("\ufeffx = 1\n").code == "x = 1\n"


# --- reading -----------------------------------------------------------------------------------------------


def test_read_utf8(tmp_path: Path) -> None:
    source = read_source(write(tmp_path, "s = 'héllo'\n".encode()))
    assert (source.text, source.encoding, source.bom, source.newline) == (
        "s = 'héllo'\n",
        "utf-8",
        False,
        "\n",
    )
    assert source.encode(source.text) == source.raw


def test_read_bom_non_ascii(tmp_path: Path) -> None:
    raw = codecs.BOM_UTF8 + "# ünïcode\r\nπ = 3.14\r\n".encode()
    source = read_source(write(tmp_path, raw))
    assert source.bom and source.encoding == "utf-8" and source.newline == "\r\n"
    assert source.text == "# ünïcode\r\nπ = 3.14\r\n"
    assert source.encode(source.text) == raw
    assert source.render(source.parse()) == raw


def test_read_latin1_coding_cookie(tmp_path: Path) -> None:
    raw = "# -*- coding: latin-1 -*-\nname = 'Müller'  # é\n".encode("latin-1")
    source = read_source(write(tmp_path, raw))
    assert source.encoding == "iso-8859-1" and not source.bom
    assert "Müller" in source.text
    assert source.render(source.parse()) == raw


def test_latin1_file_is_fixed_in_latin1(tmp_path: Path) -> None:
    raw = "# -*- coding: latin-1 -*-\ny = nn.Dense(4)(x)  # café\n".encode("latin-1")
    out = fix(read_source(write(tmp_path, raw)))
    expected = (
        "# -*- coding: latin-1 -*-\nimport jax.numpy as jnp\ny = nn.Dense(4, dtype=self.dtype)(x)  # café\n"
    )
    assert out == expected.encode("latin-1")


@pytest.mark.parametrize(
    ("text", "newline"),
    [("a\r\nb\n", "\r\n"), ("a\nb\r\n", "\n"), ("a\rb", "\r"), ("a = 1", "\n"), ("", "\n")],
)
def test_newline_is_the_first_seen(text: str, newline: str) -> None:
    assert decode_source("<stdin>", text.encode()).newline == newline


@pytest.mark.parametrize(
    "raw",
    [
        b"x = '\xff'\n",  # not UTF-8, no cookie
        b"# coding: ascii\nx = '\xe9'\n",  # not ASCII
        b"# coding: no-such-codec\nx = 1\n",
        codecs.BOM_UTF8 + b"# coding: latin-1\nx = 1\n",  # BOM contradicts the cookie
    ],
)
def test_undecodable_files_raise_source_error(tmp_path: Path, raw: bytes) -> None:
    path = write(tmp_path, raw)
    with pytest.raises(SourceError) as info:
        read_source(path)
    assert info.value.path == path


def test_missing_file_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        read_source(tmp_path / "absent.py")


# --- editing keeps line endings ---------------------------------------------------------------------------


def test_crlf_file_edited_stays_crlf_everywhere(tmp_path: Path) -> None:
    before = (
        '"""Model."""\r\n'
        "import flax.linen as nn\r\n"
        "\r\n"
        "\r\n"
        "class MLP(nn.Module):\r\n"
        "    dtype: jnp.dtype\r\n"
        "\r\n"
        "    @nn.compact\r\n"
        "    def __call__(self, x):\r\n"
        "        x = nn.Dense(4)(x)\r\n"
        "        return nn.Dense(\r\n"
        "            8,  # out\r\n"
        "            # more options here\r\n"
        "        )(x)\r\n"
    )
    after = (
        '"""Model."""\r\n'
        "import flax.linen as nn\r\n"
        "import jax.numpy as jnp\r\n"
        "\r\n"
        "\r\n"
        "class MLP(nn.Module):\r\n"
        "    dtype: jnp.dtype\r\n"
        "\r\n"
        "    @nn.compact\r\n"
        "    def __call__(self, x):\r\n"
        "        x = nn.Dense(4, dtype=self.dtype)(x)\r\n"
        "        return nn.Dense(\r\n"
        "            8,  # out\r\n"
        "            dtype=self.dtype,\r\n"
        "            # more options here\r\n"
        "        )(x)\r\n"
    )
    out = fix(read_source(write(tmp_path, before.encode())))
    assert out == after.encode()
    assert out.count(b"\n") == out.count(b"\r\n")


def test_crlf_docstring_only_file_gets_crlf_import(tmp_path: Path) -> None:
    out = fix(read_source(write(tmp_path, b'"""Doc."""\r\n\r\nx = 1\r\n')))
    assert out == b'"""Doc."""\r\n\r\nimport jax.numpy as jnp\r\n\r\nx = 1\r\n'


def test_cr_only_file_round_trips_and_stays_cr(tmp_path: Path) -> None:
    raw = b"import os\ry = nn.Dense(\r    4,\r)(x)\r"
    source = read_source(write(tmp_path, raw))
    assert source.render(source.parse()) == raw
    assert (
        fix(source)
        == b"import os\rimport jax.numpy as jnp\ry = nn.Dense(\r    4,\r    dtype=self.dtype,\r)(x)\r"
    )


def test_mixed_file_ending_in_lone_cr_round_trips(tmp_path: Path) -> None:
    raw = b"x = 1\r\ny = 2\n# end\r"
    source = read_source(write(tmp_path, raw))
    assert source.render(source.parse()) == raw


def test_file_without_final_newline(tmp_path: Path) -> None:
    source = read_source(write(tmp_path, b"y = nn.Dense(4)(x)"))
    assert fix(source) == b"import jax.numpy as jnp\ny = nn.Dense(4, dtype=self.dtype)(x)"


def test_unencodable_new_text_raises_source_error(tmp_path: Path) -> None:
    source = read_source(write(tmp_path, b"# coding: ascii\nx = 1\n"))
    with pytest.raises(SourceError):
        source.encode("x = 'é'\n")


# --- write_back (the fix path's write; tests/test_fix_robust.py covers races, owners and links) ----------


def test_write_back_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    path = write(tmp_path, b"old\n")
    os.chmod(path, 0o751)
    write_back(read_source(path), b"new\r\n")
    assert path.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert os.listdir(tmp_path) == ["model.py"]


def test_write_back_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    target = write(tmp_path, b"old\n", "real.py")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    write_back(read_source(link), b"new\n")
    assert link.is_symlink() and target.read_bytes() == b"new\n"


def test_write_back_failure_leaves_original_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, b"old\n")
    source = read_source(path)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_back(source, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["model.py"]


def test_write_back_failure_while_writing_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, b"old\n")
    source = read_source(path)

    def broken_fsync(fd: int) -> None:
        raise OSError("fsync failed")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="fsync failed"):
        write_back(source, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["model.py"]
