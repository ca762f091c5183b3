"""Which files a run reads: Python files under the given paths, minus what git and the config ignore.

Directories are walked with every ``.gitignore`` on the way applied (pathspec's git semantics, nested files
included); hidden folders and the usual virtualenv/build folders are skipped. A file named explicitly is
always read unless ``force_exclude`` is set (pre-commit passes files explicitly, so its excludes need it).

Each file is yielded under the name it was walked or given by (a linked file is not renamed to its
target), and each real file once: two names of one file (an in-tree link to a file of the tree, a folder
named twice through a link) would report its findings twice, and ``fix --apply`` would write it twice;
the first name in the walk's order wins. Links to folders are not followed (as ruff and git do). A folder
that cannot be listed is skipped and recorded in :attr:`Discovery.unlisted`, for the caller to warn about.
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


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether the entry is a folder, links followed; a loop or a dangling link is not (as in os.walk)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _git_spec(patterns: Iterable[str]) -> pathspec.PathSpec:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


@dataclass
class Discovery:
    """One walk; the config's ``exclude``/``extend-exclude`` (defaults included) come from ``settings``."""

    settings: Settings = field(default_factory=Settings)
    force_exclude: bool = False
    # Folders that could not be listed, with the reason (``strerror``), in the walk's order.
    unlisted: list[tuple[Path, str]] = field(default_factory=list)
    # folder -> the .gitignore specs that apply inside it, from the repository root down (memoised).
    _chains: dict[str, tuple[tuple[str, pathspec.PathSpec], ...]] = field(default_factory=dict)
    # folder as given -> its real path (links resolved), for the files named on the command line.
    _real_folders: dict[str, str] = field(default_factory=dict)

    def files(self, paths: Iterable[Path]) -> Iterator[Path]:
        """Python files to check, each real file once, in a stable order (sorted within each directory).

        A path given that is not a directory is yielded as it is (when not excluded), whatever it is: a
        broken link, a loop or a FIFO is reported by the reader, never silently dropped.
        """
        seen: set[str] = set()
        for path in paths:
            found: Iterable[tuple[Path, str]]
            if os.path.isdir(path):  # links followed: a link to a folder named explicitly is walked
                found = self._walk(path)
            elif self.force_exclude and self._excluded(path, is_dir=False):
                continue
            else:
                found = ((path, self._real_named(path)),)
            for file, real in found:
                if real not in seen:
                    seen.add(real)
                    yield file

    def _real_named(self, path: Path) -> str:
        """The real path of a file given explicitly: its folder's (memoised), unless it is a link itself."""
        if os.path.islink(path):
            return os.path.realpath(path)
        folder, name = os.path.split(os.path.abspath(path))
        if folder not in self._real_folders:
            self._real_folders[folder] = os.path.realpath(folder)
        return os.path.join(self._real_folders[folder], name)

    def _walk(self, top: Path) -> Iterator[tuple[Path, str]]:
        """Files under ``top`` with their real paths, depth first, each folder's files before its folders.

        Iterative (a deep tree cannot exhaust the stack). A folder is entered only if it is not a link, so
        a file's real path is its folder's real path and its name: one ``realpath`` per walk, and one per
        linked file. ``os.scandir`` tells links and regular files apart without a ``stat``.
        """
        if self.force_exclude and self._excluded(top, is_dir=True):
            return
        stack = [(os.fspath(top), os.path.realpath(top))]
        while stack:
            folder, real_folder = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda entry: entry.name)
            except OSError as error:
                self.unlisted.append((Path(folder), error.strerror or str(error)))
                continue
            base = Path(folder)
            folders = []
            for entry in entries:
                if _is_dir(entry):  # links followed, as os.walk classifies them; never entered
                    if (
                        not entry.is_symlink()
                        and not entry.name.startswith(".")
                        and not self._excluded(base / entry.name, is_dir=True)
                    ):
                        folders.append((entry.path, os.path.join(real_folder, entry.name)))
                elif entry.name.endswith((".py", ".pyi")) and not self._excluded(
                    base / entry.name, is_dir=False
                ):
                    real = (
                        os.path.realpath(entry.path)
                        if entry.is_symlink()
                        else os.path.join(real_folder, entry.name)
                    )
                    yield base / entry.name, real
            stack.extend(reversed(folders))

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
