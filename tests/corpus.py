"""The real-code corpus: pinned releases of published Flax code, downloaded into a cache on demand.

Archives are fetched with ``pip download --no-deps`` (PyPI is the only network these tests use), checked
against pinned sha256 digests, and their Flax files extracted once. Offline, the tests that need them are
skipped with the reason.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("FLAXPREC_CORPUS_CACHE", Path.home() / ".cache" / "flaxprec-corpus"))


@dataclass(frozen=True)
class Archive:
    requirement: str
    filename: str
    sha256: str
    members: tuple[str, ...]  # path fragments of the files to extract

    @property
    def name(self) -> str:
        return self.requirement.replace("==", "-")


ARCHIVES = {
    "transformers-4.21.0": Archive(
        "transformers==4.21.0",
        "transformers-4.21.0-py3-none-any.whl",
        "e2eb3576aeee931ed636286ff2942f6d9ae75e0219030493479e744a4aa34653",
        ("/modeling_flax_",),
    ),
    "transformers-4.46.3": Archive(
        "transformers==4.46.3",
        "transformers-4.46.3-py3-none-any.whl",
        "a12ef6f52841fd190a3e5602145b542d03507222f2c64ebb7ee92e8788093aef",
        ("/modeling_flax_",),
    ),
    "diffusers-0.30.3": Archive(
        "diffusers==0.30.3",
        "diffusers-0.30.3-py3-none-any.whl",
        "1b70209e4d2c61223b96a7e13bc4d70869c8b0b68f54a35ce3a67fcf813edeee",
        ("_flax.py",),
    ),
    "flax-0.8.5": Archive(
        "flax==0.8.5",
        "flax-0.8.5.tar.gz",
        "4a9cb7950ece54b0addaa73d77eba24e46138dbe783d01987be79d20ccb2b09b",
        ("/examples/", "/flax/"),
    ),
}


def _download(archive: Archive) -> Path | None:
    target = CACHE / archive.filename
    if not target.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        if archive.filename.endswith(".whl"):
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        try:
            subprocess.run(
                [*command, archive.requirement, "-d", str(CACHE), "-q"],
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (subprocess.SubprocessError, OSError):
            return None
    if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != archive.sha256:
        return None
    return target


def corpus(name: str) -> Path:
    """Root folder of the extracted Flax files of ``name`` (a key of ARCHIVES); skips when offline."""
    archive = ARCHIVES[name]
    root = CACHE / "extracted" / archive.name
    done = root / ".complete"
    if done.is_file():
        return root
    downloaded = _download(archive)
    if downloaded is None:
        pytest.skip(f"cannot download {archive.requirement} from PyPI (offline?) or its digest differs")
    root.mkdir(parents=True, exist_ok=True)
    if downloaded.suffix == ".whl":
        with zipfile.ZipFile(downloaded) as wheel:
            for member in wheel.namelist():
                if member.endswith(".py") and any(m in member for m in archive.members):
                    wheel.extract(member, root)
    else:
        with tarfile.open(downloaded) as sdist:
            for member in sdist.getmembers():
                if (
                    member.isfile()
                    and member.name.endswith(".py")
                    and any(m in member.name for m in archive.members)
                ):
                    sdist.extract(member, root, filter="data")
    done.write_text("ok\n")
    return root


def flax_files(name: str) -> list[Path]:
    return sorted(p for p in corpus(name).rglob("*.py"))
