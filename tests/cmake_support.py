"""Configures and builds CMake projects for the package and binding tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def require(*tools: str) -> None:
    """Skips the test, naming the tools, when any is not on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH")


def run(cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Runs cmd; fails the test with its output when it exits non-zero."""
    done = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def cmake_build(source: Path, build: Path, options: Sequence[str] = (), targets: Sequence[str] = (),
                env: dict[str, str] | None = None) -> None:
    """Debug builds: the tests check packaging and bindings, and -O0 compiles fastest."""
    run(["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Debug", *options], env=env)
    target_args = ["--target", *targets] if targets else []
    run(["cmake", "--build", str(build), f"-j{os.environ.get('PNN_JOBS', '2')}", *target_args], env=env)
