"""Reading and writing Python files without losing a byte.

A fix may only change what it means to change, so the bytes around it (encoding, byte order mark, line
endings) must come back exactly as they were. Facts this module is built on (libcst 1.9, tested in
``tests/test_source_io.py``):

- ``libcst.parse_module(text).code == text`` for LF, CRLF and mixed LF/CRLF text; ``Module.default_newline``
  is the first newline of the file, and lines a transformer adds (new statements, and whitespace nodes built
  with ``Newline()``) end with it. So a CRLF file stays CRLF, including added lines.
- libcst drops a lone ``\\r`` that ends the file (``"x = 1\\r"`` comes back as ``"x = 1"``).
  :meth:`SourceFile.parse` works around it; :meth:`SourceFile.render` undoes the workaround.
- Given ``str``, libcst silently drops a leading BOM and ignores the coding cookie (``Module.encoding`` is
  then always ``utf-8``); given ``bytes`` it would decode itself. We decode here (PEP 263, like the
  interpreter), keep the BOM out of ``text`` and put it back in :meth:`SourceFile.encode`.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # libcst is imported only by code that parses: reading files stays cheap.
    from collections.abc import Iterator

    import libcst as cst

__all__ = [
    "NotWritten",
    "SourceError",
    "SourceFile",
    "decode_source",
    "read_source",
    "write_back",
]

TEMP_SUFFIX = (
    ".flaxprec-tmp"  # ``.NAME.XXXX.flaxprec-tmp`` beside the file: never a ``.py``, so never checked
)

_NEWLINE = re.compile(r"\r\n|\r|\n")


class SourceError(Exception):
    """A file cannot be read (or written back) faithfully; it is reported, never rewritten."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)
        self.message = message


class NotWritten(SourceError):
    """:func:`write_back` refused to write: the file changed, went away, or is read-only (the message)."""


@dataclass
class SourceFile:
    """A file's bytes and the decoded text, with what is needed to produce its bytes again.

    ``text`` excludes the BOM and keeps every newline as it is in the file; ``newline`` is the first one
    seen (``"\\n"`` when there is none), the one new lines should use.
    """

    path: Path
    raw: bytes
    text: str
    encoding: str
    bom: bool
    newline: str

    def encode(self, new_text: str) -> bytes:
        """Encode ``new_text`` like the original: same codec, BOM again if the file had one."""
        try:
            data = new_text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise SourceError(self.path, f"the new text cannot be encoded as {self.encoding}: {exc}") from exc
        return codecs.BOM_UTF8 + data if self.bom else data

    def parse(self) -> cst.Module:
        """Parse ``text`` with libcst so that ``render(module)`` of the unchanged module gives ``raw`` back.

        Raises ``libcst.ParserSyntaxError`` for invalid code, :class:`SourceError` if libcst cannot
        reproduce the text exactly (a fix would then rewrite bytes nobody asked to change).
        """
        import libcst as cst

        parse_text = self._parse_text()
        module = cst.parse_module(parse_text)
        if module.code != parse_text:
            raise SourceError(self.path, "libcst does not reproduce this file exactly; not rewriting it")
        return module

    def render(self, module: cst.Module) -> bytes:
        """The bytes of a module obtained from :meth:`parse` (possibly transformed)."""
        return self.encode(self._from_parse_text(module.code))

    # A file ending in a lone "\r" loses it in libcst. A file that uses only "\r" is parsed with "\n"
    # (lossless: it has no "\n", and a "\r" in it can only be a line break); another file ending in a
    # lone "\r" gets a "\n" for that one character.
    def _parse_text(self) -> str:
        text = self.text
        if not text.endswith("\r"):
            return text
        if "\n" not in text:
            return text.replace("\r", "\n")
        return text[:-1] + "\n"

    def _from_parse_text(self, code: str) -> str:
        text = self.text
        if not text.endswith("\r"):
            return code
        if "\n" not in text:
            return code.replace("\n", "\r")
        if code.endswith("\n") and not code.endswith("\r\n"):
            return code[:-1] + "\r"
        return code


def read_source(path: Path | str) -> SourceFile:
    """Read a Python file and decode it as the interpreter would (BOM, PEP 263 coding cookie)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(path, exc.strerror or str(exc)) from exc
    return decode_source(path, raw)


def decode_source(path: Path | str, raw: bytes) -> SourceFile:
    """Decode bytes that did not come from a file of their own (stdin), as :func:`read_source` does."""
    path = Path(path)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        raise SourceError(path, exc.msg or str(exc)) from exc
    bom = raw.startswith(codecs.BOM_UTF8)
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    try:
        text = raw[len(codecs.BOM_UTF8) if bom else 0 :].decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(path, f"cannot decode as {encoding}: {exc}") from exc
    match = _NEWLINE.search(text)
    source = SourceFile(path, raw, text, encoding, bom, match.group() if match else "\n")
    # Strict UTF-8 always round-trips; some legacy codecs have several byte spellings of one character.
    if encoding != "utf-8" and source.encode(text) != raw:
        raise SourceError(path, f"decoding as {encoding} and encoding again does not give the same bytes")
    return source


def write_back(source: SourceFile, data: bytes, during: str = "fixing") -> None:
    """Write ``data`` over the file ``source`` was read from, only if the file still holds ``source.raw``.

    What a user does to the file while a run fixes it wins: a file whose bytes changed is not written, a
    deleted one is not recreated (:class:`NotWritten`, with the reason; ``during`` names the run's work).
    A file with no write bit is not written either (ruff refuses too; root could, so the mode is looked
    at, not only ``os.access``).

    The data goes to a temporary file beside the target first, flushed to disk and read back; then the
    target's bytes are compared (as late as possible), and the temporary file, given the target's mode,
    owner and group, is renamed over it. A file with several hard links, or whose owner this process
    cannot give to a new file, is written in place instead (after the verified temporary write), so the
    links and the owner stay; the temporary copy is removed once the file holds the new bytes. The
    temporary file is removed on every way out this process controls: an error, Ctrl-C, or SIGTERM during
    the write (the process then ends by that signal, as it would have). A ``kill -9`` can leave one; it is
    never read again (its name does not end in ``.py``).
    """
    path = source.path
    target = Path(os.path.realpath(path))
    try:
        before = os.stat(target)
    except FileNotFoundError:
        raise NotWritten(path, f"deleted while {during}, not written") from None
    except OSError as exc:
        raise SourceError(path, f"not written: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(before.st_mode):
        raise NotWritten(path, "not a regular file any more, not written")
    if not before.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise NotWritten(path, "read-only, not written")
    if not os.access(target, os.W_OK):
        raise NotWritten(path, "permission denied, not written")
    import tempfile  # only a write pays for it

    tmp_name: str | None = None
    with _sigterm_raises():
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
            in_place = _write_temp(fd, data, before) or before.st_nlink > 1
            _check_unchanged(path, target, source.raw, before, during)
            if in_place:
                _write_in_place(target, data, source.raw)
                os.unlink(tmp_name)
            else:
                os.replace(tmp_name, target)
        except BaseException:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
            raise
    _fsync_directory(target.parent)


def _write_temp(fd: int, data: bytes, like: os.stat_result) -> bool:
    """Write, flush and read back the temporary file, with ``like``'s mode, owner and group.

    Returns True when the owner or group cannot be given to it (the file must then be written in place).
    """
    with os.fdopen(fd, "w+b") as tmp:
        tmp.write(data)
        tmp.flush()
        os.fsync(tmp.fileno())
        tmp.seek(0)
        if tmp.read() != data:
            raise OSError("the temporary file does not read back as written")
        owner_kept = True
        if hasattr(os, "fchown") and (like.st_uid, like.st_gid) != _owner(os.fstat(tmp.fileno())):
            try:
                os.fchown(tmp.fileno(), like.st_uid, like.st_gid)
            except PermissionError:
                owner_kept = False
        os.fchmod(tmp.fileno(), stat.S_IMODE(like.st_mode))
    return not owner_kept


def _owner(status: os.stat_result) -> tuple[int, int]:
    return status.st_uid, status.st_gid


def _check_unchanged(path: Path, target: Path, expected: bytes, before: os.stat_result, during: str) -> None:
    """The last look before the file is replaced: same file, same bytes as when it was read."""
    try:
        now = os.stat(target)
        with open(target, "rb") as file:
            current = file.read()
    except FileNotFoundError:
        raise NotWritten(path, f"deleted while {during}, not written") from None
    if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino) or current != expected:
        raise NotWritten(path, f"changed while {during}, not written")


def _write_in_place(target: Path, data: bytes, old: bytes) -> None:
    """Overwrite the file's own inode (hard links and owner stay); on failure, put the old bytes back."""
    with open(target, "r+b") as file:
        try:
            file.write(data)
            file.truncate()
            file.flush()
            os.fsync(file.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                file.seek(0)
                file.write(old)
                file.truncate()
                file.flush()
            raise


class _Terminated(BaseException):
    """SIGTERM arrived during a write: unwinds it (removing the temporary file), then the process ends."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """During the block, SIGTERM unwinds it as an exception, then ends the process as SIGTERM would.

    Only where Python's default (terminate at once) is in force and this is the main thread; a program
    that handles SIGTERM itself keeps its handler.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise _Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); platforms that cannot open a directory skip it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
