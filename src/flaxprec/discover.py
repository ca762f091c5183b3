"""Which files a run reads: Python files under the given paths, minus what git and the config ignore.

Directories are walked with every ``.gitignore`` on the way applied (pathspec's git semantics, nested files
included); hidden folders and the usual virtualenv/build folders are skipped. A file named explicitly is
always read unless ``force_exclude`` is set (pre-commit passes files explicitly, so its excludes need it).
Only regular files are read (:func:`require_regular_file`): a ``*.py`` link to ``/dev/zero`` or a FIFO
would never end.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flaxprec.config import Settings

if TYPE_CHECKING:  # imported when a .gitignore is found: a tree without one never pays for pathspec
    import pathspec


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


class NotRegularFileError(OSError):
    """The path (links followed) is not a regular file: a device, FIFO or socket is never opened."""


def require_regular_file(path: str | os.PathLike[str]) -> None:
    """Raise :class:`OSError` unless ``path``, links followed, is a regular file.

    Reading ``/dev/zero`` never ends (and fills memory), opening a FIFO blocks until a writer comes, and
    opening some devices has effects: so the file's kind is checked before it is opened. Costs one
    ``stat`` (about 2 microseconds), next to the read that follows.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "of an unknown kind")
        raise NotRegularFileError(f"Not a regular file ({kind})")  # capitalised as strerror is


def _git_spec(patterns: Iterable[str]) -> pathspec.PathSpec:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


@dataclass
class Discovery:
    """One walk; the config's ``exclude``/``extend-exclude`` (defaults included) come from ``settings``."""

    settings: Settings = field(default_factory=Settings)
    force_exclude: bool = False
    # folder -> the .gitignore specs that apply inside it, from the repository root down (memoised).
    _chains: dict[str, tuple[tuple[str, pathspec.PathSpec], ...]] = field(default_factory=dict)

    def files(self, paths: Iterable[Path]) -> Iterator[Path]:
        """Python files to check, each once, in a stable order (sorted within each directory)."""
        seen: set[str] = set()
        for path in paths:
            if path.is_dir():
                found: Iterable[Path] = self._walk(path)
            elif self.force_exclude and self._excluded(path, is_dir=False):
                continue
            else:
                found = (path,)
            for file in found:
                key = os.path.abspath(file)
                if key not in seen:
                    seen.add(key)
                    yield file

    def _walk(self, top: Path) -> Iterator[Path]:
        if self.force_exclude and self._excluded(top, is_dir=True):
            return
        for folder, dirnames, filenames in os.walk(top):
            base = Path(folder)
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and not self._excluded(base / d, is_dir=True)
            )
            for name in sorted(filenames):
                if name.endswith((".py", ".pyi")) and not self._excluded(base / name, is_dir=False):
                    yield base / name

    def _excluded(self, path: Path, is_dir: bool) -> bool:
        if self.settings.is_excluded(path, is_dir=is_dir):
            return True
        return self.settings.respect_gitignore and self._gitignored(os.path.abspath(path), is_dir)

    def _gitignored(self, path: str, is_dir: bool) -> bool:
        """Apply every ``.gitignore`` from the repository root down to ``path``'s folder."""
        suffix = "/" if is_dir else ""
        for base, spec in self._chain(os.path.dirname(path)):
            if spec.match_file(path[len(base) :].lstrip(os.sep).replace(os.sep, "/") + suffix):
                return True
        return False

    def _chain(self, folder: str) -> tuple[tuple[str, pathspec.PathSpec], ...]:
        if folder not in self._chains:
            parent = os.path.dirname(folder)
            at_root = parent == folder or os.path.isdir(os.path.join(folder, ".git"))
            chain = () if at_root else self._chain(parent)
            ignore = os.path.join(folder, ".gitignore")
            if os.path.isfile(ignore):
                with open(ignore, encoding="utf-8", errors="replace") as file:
                    chain = (*chain, (folder, _git_spec(file.read().splitlines())))
            self._chains[folder] = chain
        return self._chains[folder]
