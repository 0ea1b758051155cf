"""The wheel as a user gets it: `python -m build`, installed into a fresh venv with no
site packages, runs a .pnn with numpy and cffi only (onnx, onnxruntime, scipy and rich
absent), and the CLI names the extra a command lacks (issue 15, "a lean Python runtime").

Needs the network or pip's cache for numpy, cffi and the build requirements, like any
`pip install`; it builds the native extension once (a few minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import pocketnn

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the pocketnn wheel (and its dependencies) installed."""
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    built = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)], env=env)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels = list((work / "dist").glob("pocketnn-*.whl"))
    assert len(wheels) == 1, wheels
    venv.create(work / "venv", with_pip=True, system_site_packages=False)
    python = work / "venv" / "bin" / "python"
    installed = _run([str(python), "-m", "pip", "install", "-q", str(wheels[0])], env=env)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return work / "venv" / "bin"


def test_wheel_installs_only_the_runtime_dependencies(runtime_venv: Path) -> None:
    probe = ("import importlib.util as u, json; print(json.dumps({m: u.find_spec(m) is not None for m in "
             "('numpy', 'cffi', 'onnx', 'onnxruntime', 'scipy', 'rich')}))")
    found = _run([str(runtime_venv / "python"), "-c", probe])
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == ('{"numpy": true, "cffi": true, "onnx": false, "onnxruntime": false, '
                                    '"scipy": false, "rich": false}')


def test_wheel_extension_is_stripped(runtime_venv: Path) -> None:
    native = list(runtime_venv.parent.glob("lib/python*/site-packages/pocketnn/_native*.so"))
    assert len(native) == 1, native
    sections = _run(["readelf", "-S", "-W", str(native[0])])
    if sections.returncode != 0:
        pytest.skip("readelf is not available to list the extension's sections")
    assert ".debug_info" not in sections.stdout and ".symtab" not in sections.stdout
    assert native[0].stat().st_size < 4 << 20, native[0].stat().st_size


def test_wheel_runs_a_pnn_like_onnxruntime(runtime_venv: Path, tmp_path: Path) -> None:
    model_path = tmp_path / "digits.pnn"
    pocketnn.convert(str(FIXTURES / "digits_cnn.onnx"), str(model_path))
    x = np.load(FIXTURES / "digits_test.npz")["images"][:1, None].astype(np.float32) / 255.0
    np.save(tmp_path / "x.npy", x)
    session = ort.InferenceSession(str(FIXTURES / "digits_cnn.onnx"), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    expected = session.run(None, {input_name: x})[0]

    ran = _run([str(runtime_venv / "pocketnn"), "run", str(model_path), "--input", f"{input_name}={tmp_path / 'x.npy'}",
                "--output", str(tmp_path / "out.npz")])
    assert ran.returncode == 0, ran.stdout + ran.stderr
    got = next(iter(np.load(tmp_path / "out.npz").values()))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)

    inspected = _run([str(runtime_venv / "pocketnn"), "inspect", str(model_path)])
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    assert "layers" in inspected.stdout and "Conv" in inspected.stdout

    version = _run([str(runtime_venv / "pocketnn"), "--version"])
    assert version.returncode == 0 and version.stdout.startswith(f"pocketnn {pocketnn.__version__} ")


@pytest.mark.parametrize(("command", "extra"), [("convert", "convert"), ("verify", "verify"), ("demo", "all")])
def test_wheel_cli_names_the_missing_extra(runtime_venv: Path, tmp_path: Path, command: str, extra: str) -> None:
    args = {"convert": ["convert", str(FIXTURES / "digits_cnn.onnx"), "-o", str(tmp_path / "m.pnn")],
            "verify": ["verify", str(FIXTURES / "digits_cnn.onnx"), str(tmp_path / "m.pnn")],
            "demo": ["demo"]}[command]
    result = _run([str(runtime_venv / "pocketnn"), *args])
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"needs the [{extra}] extra" in result.stdout and f"pip install 'pocketnn[{extra}]'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
