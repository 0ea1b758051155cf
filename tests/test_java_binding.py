"""The Java binding (bindings/java: ai.pocketnn.Model over the JNI glue) on the host
JVM: built by CMake with POCKETNN_BUILD_JNI, driven by tests/java/RunModel.java. Its
outputs are compared with onnxruntime's; its errors with the Python runtime's (the same
C message); misuse (wrong sizes and names, a closed model, close twice) gives Java
exceptions, not crashes. Needs a JDK (.ci/require_jdk.sh installs Debian's)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pocketnn
import pytest
from onnx import helper

from cmake_support import REPO, cmake_build, require, run
from support import make_model, run_onnxruntime


# pnn_status of pocketnn.h: name -> code.
STATUS_CODES = {name: int(code) for name, code in
                re.findall(r"(PNN_\w+) = (\d+)", (REPO / "runtime/include/pocketnn.h").read_text())}


@pytest.fixture(scope="module")
def java(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command line that runs RunModel with the binding on its class and library paths."""
    require("cmake", "cc", "javac", "java")
    root = tmp_path_factory.mktemp("jni")
    build = root / "build"
    cmake_build(REPO, build, ["-DPOCKETNN_BUILD_JNI=ON", "-DPOCKETNN_BUILD_TESTS=OFF"],
                ["pocketnn_jni", "pocketnn_jar"])
    jar = build / "bindings/java/pocketnn.jar"
    classes = root / "classes"
    run(["javac", "-Xlint:all", "-Werror", "-cp", str(jar), "-d", str(classes), str(REPO / "tests/java/RunModel.java")])
    return ["java", "-Xcheck:jni", f"-Djava.library.path={build / 'bindings/java'}",
            "-cp", os.pathsep.join([str(jar), str(classes)]), "RunModel"]


def two_input_model() -> object:
    """Two inputs (one through a Conv, one added later) and two outputs."""
    rng = np.random.default_rng(5)
    return make_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
         helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Flatten", ["r"], ["f"]),
         helper.make_node("Gemm", ["f", "g"], ["logits"]), helper.make_node("Add", ["logits", "bias"], ["y"]),
         helper.make_node("Sigmoid", ["y"], ["p"])],
        {"x": (1, 3, 9, 9), "bias": (1, 6)}, ["y", "p"],
        {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
         "g": rng.standard_normal((100, 6)).astype(np.float32)})


def test_java_outputs_match_onnxruntime(java: list[str], tmp_path: Path) -> None:
    model = two_input_model()
    pnn = tmp_path / "m.pnn"
    pnn.write_bytes(pocketnn.convert(model))
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((1, 3, 9, 9)).astype(np.float32),
             "bias": rng.standard_normal((1, 6)).astype(np.float32)}
    inputs = []
    for name, value in feeds.items():
        inputs.append(tmp_path / f"{name}.bin")
        inputs[-1].write_bytes(value.tobytes())
    out = run([*java, "run", str(pnn), str(tmp_path / "out"), *map(str, inputs)])
    assert f"runtime {pocketnn.runtime_version()} {pocketnn.runtime_isa()}" in out
    assert "input x F32[1, 3, 9, 9]" in out and "output p F32[1, 6]" in out
    for index, expected in enumerate(run_onnxruntime(model, feeds)):
        got = np.fromfile(tmp_path / f"out.{index}.bin", np.float32).reshape(expected.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_java_load_error_carries_the_c_message(java: list[str], tmp_path: Path) -> None:
    packed = pocketnn.convert(two_input_model())
    for name, data in {"truncated": packed[: len(packed) // 2], "garbage": b"not a pnn file at all"}.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(pocketnn.NativeError) as python_error:
            pocketnn.Model(data)
        status, message = str(python_error.value).split(": ", 1)
        code = STATUS_CODES[status]
        assert run([*java, "load-error", str(path)]).strip() == f"status {code}: {message}"


def test_java_misuse_throws_java_exceptions(java: list[str], tmp_path: Path) -> None:
    pnn = tmp_path / "m.pnn"
    pnn.write_bytes(pocketnn.convert(two_input_model()))
    lines = dict(line.split(": ", 1) for line in run([*java, "misuse", str(pnn)]).splitlines())
    assert lines["wrong count"] == "IllegalArgumentException: the model has 2 inputs, got 3"
    assert lines["wrong size"].startswith("IllegalArgumentException: input x F32[1, 3, 9, 9] has 243 elements")
    assert lines["unknown name"].startswith("IllegalArgumentException: no value for input x")
    assert lines["heap buffer"] == ("IllegalArgumentException: input x F32[1, 3, 9, 9] needs a direct ByteBuffer"
                                    " of 972 bytes")
    assert lines["zero threads"] == "IllegalArgumentException: threads must be at least 1, got 0"
    assert lines["missing file"].startswith("PocketnnException: ")
    assert "m.pnn.missing" in lines["missing file"]
    assert lines["closed"] == "IllegalStateException: the model is closed"
