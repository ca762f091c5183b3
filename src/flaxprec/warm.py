"""A ``check`` served entirely from the cache, without the engine.

On an unchanged tree every file's findings are in the cache, keyed by the file's bytes and the project's
class facts (:mod:`flaxprec.cache`). Finding them needs the bytes, not the text: so this path reads and
hashes files, looks their findings up and stops, without decoding a file or importing the engine. Any
miss (a new or edited file, a file that cannot be read, new settings) returns None, and the caller runs
the engine, which reaches the same keys through :class:`flaxprec.engine.Unit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from flaxprec.cache import Cache, file_key
from flaxprec.diagnostics import Diagnostic
from flaxprec.discover import require_regular_file
from flaxprec.imports import module_name_for


class Texts(Mapping[str, str]):
    """Reported name -> decoded text of the files read, decoded on first access (a report asks only for
    the files with findings, and only in some formats)."""

    def __init__(self, files: dict[str, tuple[Path, bytes]]) -> None:
        self._files = files
        self._texts: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name not in self._texts:
            from flaxprec.source_io import SourceError, decode_source

            path, raw = self._files[name]
            try:
                self._texts[name] = decode_source(path, raw).text
            except SourceError:  # cached findings imply it decodes, unless the cache was made by hand
                raise KeyError(name) from None  # a report then shows the finding without its source
        return self._texts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def cached_check(
    files: Iterable[Path], display: Callable[[Path], str], cache: Cache
) -> tuple[list[Diagnostic], Texts] | None:
    """Every file's cached findings (in file order) and their texts, or None if any file misses."""
    read: dict[str, tuple[Path, bytes]] = {}
    keys: list[tuple[str, str]] = []
    for path in files:
        try:
            require_regular_file(path)  # a link to /dev/zero or a FIFO: never read
            raw = path.read_bytes()
        except OSError:
            return None  # reported by the engine's path
        name = display(path)
        read[name] = (path, raw)
        keys.append((name, file_key(raw, name, module_name_for(path), path.name == "__init__.py")))
    found = cache.all_findings(keys)
    return None if found is None else (found, Texts(read))
