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
from dataclasses import dataclass, replace
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


# Every ``.py`` file (``__init__.py`` included) of the releases whose findings are labelled, one by one, in
# tests/realcode/labels.tsv (issue 14): the corpora precision is measured on. "" matches every member.
_EVERY = ("",)


def _wheel(name: str, version: str, sha256: str) -> Archive:
    """A pure-Python wheel on PyPI (``pip download --only-binary``), every ``.py`` file of it."""
    return Archive(
        f"{name}=={version}", f"{name.replace('-', '_')}-{version}-py3-none-any.whl", sha256, _EVERY
    )


LABELLED = {
    "transformers-4.21.0": replace(ARCHIVES["transformers-4.21.0"], members=_EVERY),
    "transformers-4.46.3": replace(ARCHIVES["transformers-4.46.3"], members=_EVERY),
    "diffusers-0.30.3": replace(ARCHIVES["diffusers-0.30.3"], members=_EVERY),
    "flax-0.8.5": replace(ARCHIVES["flax-0.8.5"], members=_EVERY),
    "flax-0.12.8": _wheel(
        "flax", "0.12.8", "807931d369cbc716fc447801ab39cd6c3c2614d573387a2319a028675dd34fe5"
    ),
    "easydel-0.0.80": _wheel(
        "easydel", "0.0.80", "b699f55dc766159fb322bd4b7c9165e119bb67f6d637e18405993b003db9202d"
    ),
    "flaxdiff-0.2.11": _wheel(
        "flaxdiff", "0.2.11", "ddc833f6aa80692cf367331f84d9c85c7745bb40cf33c9827edfa9f355ade1d0"
    ),
    "praxis-1.4.0": _wheel(
        "praxis", "1.4.0", "787bbc11d65e4a60a2240cc7ae78e56b81cbd99f88fd27da474c730fc8b3b2f3"
    ),
    "kauldron-1.4.4": _wheel(
        "kauldron", "1.4.4", "6d586b65de003369101c73bd55bbb64df38a396e511257be5a6e08658019fbc8"
    ),
    "brax-0.14.2": _wheel(
        "brax", "0.14.2", "d33b7b222ba5d85fd0fc4d4c59aa46feb978684107ad3f79de6bfef97ab06693"
    ),
    "recurrentgemma-1.0.1": _wheel(
        "recurrentgemma", "1.0.1", "6d6b513766f559807c43fd98a205d05ece54a329efe3842a5a033e35dee42b4e"
    ),
    "flaxmodels-0.1.3": _wheel(
        "flaxmodels", "0.1.3", "fc560089f2dcc46e04c99f7e44619f532bb7a436ef29409b5a84a63074e445da"
    ),
    "dalle-mini-0.1.5": _wheel(
        "dalle-mini", "0.1.5", "f4c81f114b8efdb192ac306d33f235a414bce3ea3f5dba91d59fb8bc66048380"
    ),
    "fjformer-0.0.91": _wheel(
        "fjformer", "0.0.91", "725012e850cd899ee828a2ebea9d85c88106151b10810cbee1d02b8ff7314d74"
    ),
}


def _download(archive: Archive) -> Path | None:
    target = CACHE / archive.filename
    if not target.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        if archive.filename.endswith(".whl"):
            # Some pinned wheels declare Python >= 3.12: ask for 3.12's files whatever runs the tests.
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
            command += ["--python-version", "3.12"]
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
    return _extracted(ARCHIVES[name], CACHE / "extracted" / ARCHIVES[name].name)


def labelled_corpus(name: str) -> Path:
    """Root folder of every ``.py`` file of ``name`` (a key of LABELLED); skips when offline."""
    return _extracted(LABELLED[name], CACHE / "labelled" / name)


def _extracted(archive: Archive, root: Path) -> Path:
    """``root``, holding the archive's ``.py`` files that match its members (extracted once)."""
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
