"""The C library as a package: installed and found with find_package(pocketnn), built
into a consumer with add_subdirectory, described by pkg-config, and a shared library
that exports only the pnn_* API of runtime/include/pocketnn.h. The consumer,
examples/c/classify.c, runs a model the converter made and its output is compared with
onnxruntime's."""

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

EXAMPLE = REPO / "examples/c"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A small Conv + Relu + Gemm model and onnxruntime's output for an input of ones."""
    rng = np.random.default_rng(3)
    model = make_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("Flatten", ["r"], ["f"]), helper.make_node("Gemm", ["f", "g"], ["y"])],
        {"x": (1, 3, 5, 5)}, ["y"],
        {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
         "g": rng.standard_normal((100, 7)).astype(np.float32)})
    path = tmp_path_factory.mktemp("model") / "small.pnn"
    path.write_bytes(pocketnn.convert(model))
    expected = run_onnxruntime(model, {"x": np.ones((1, 3, 5, 5), np.float32)})[0].ravel()
    return path, expected


def check_consumer_output(exe: Path, model: tuple[Path, np.ndarray], env: dict[str, str] | None = None) -> None:
    path, expected = model
    lines = run([str(exe), str(path)], env=env).split()
    assert lines[0] == pocketnn.runtime_version()
    assert int(lines[1]) == expected.size
    np.testing.assert_allclose(np.array(lines[2:], np.float32), expected, rtol=1e-4, atol=1e-4)


def defined_dynamic_symbols(library: Path) -> set[str]:
    listing = run(["nm", "-D", "--defined-only", str(library)])
    return {line.split()[-1] for line in listing.splitlines() if line.strip()}


def declared_functions() -> set[str]:
    header = (REPO / "runtime/include/pocketnn.h").read_text()
    return set(re.findall(r"^PNN_API [^;(]*?\b(pnn_\w+)\(", header, re.MULTILINE))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared library built standalone (not top-level: no tests) and installed."""
    require("cmake", "cc", "nm")
    root = tmp_path_factory.mktemp("install")
    prefix = root / "prefix"
    cmake_build(REPO, root / "build", ["-DBUILD_SHARED_LIBS=ON", f"-DCMAKE_INSTALL_PREFIX={prefix}",
                                       "-DPOCKETNN_BUILD_TESTS=OFF"], ["pocketnn"])
    run(["cmake", "--install", str(root / "build")])
    return prefix


def test_installed_shared_library_exports_only_the_api(installed: Path) -> None:
    library = next((installed / "lib").glob("libpocketnn.so.*.*.*"))
    assert (installed / "include/pocketnn.h").is_file()
    declared = declared_functions()
    assert "pnn_session_run" in declared and "pnn_runtime_version" in declared
    # Every public function is exported (a new one without PNN_API would be hidden) and
    # nothing else is (no kernels, no internal helpers).
    assert defined_dynamic_symbols(library) == declared


def test_find_package_consumer_runs_a_model(installed: Path, model_file: tuple[Path, np.ndarray],
                                            tmp_path: Path) -> None:
    cmake_build(EXAMPLE, tmp_path / "build", [f"-DCMAKE_PREFIX_PATH={installed}"])
    exe = tmp_path / "build/classify"
    # Linked with the installed shared library (CMake puts its directory in the RPATH).
    assert str(installed / "lib/libpocketnn.so") in run(["ldd", str(exe)])
    check_consumer_output(exe, model_file)


def test_pkg_config_compiles_a_consumer(installed: Path, model_file: tuple[Path, np.ndarray],
                                        tmp_path: Path) -> None:
    require("pkg-config")
    env = {**os.environ, "PKG_CONFIG_PATH": str(installed / "lib/pkgconfig")}
    assert run(["pkg-config", "--modversion", "pocketnn"], env=env).strip() == pocketnn.runtime_version()
    flags = run(["pkg-config", "--cflags", "--libs", "pocketnn"], env=env).split()
    assert f"-I{installed / 'include'}" in flags and f"-L{installed / 'lib'}" in flags and "-lpocketnn" in flags
    exe = tmp_path / "classify"
    run(["cc", "-std=c11", "-Wall", "-Werror", str(EXAMPLE / "classify.c"), "-o", str(exe), *flags])
    check_consumer_output(exe, model_file, env={**os.environ, "LD_LIBRARY_PATH": str(installed / "lib")})


def test_add_subdirectory_builds_only_the_library(model_file: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    require("cmake", "cc")
    build = tmp_path / "build"
    cmake_build(EXAMPLE, build, [f"-DPOCKETNN_SOURCE_DIR={REPO}"])
    check_consumer_output(build / "classify", model_file)
    # The project's own programs, its forced build type and its -Werror stay out of a
    # consumer's build.
    targets = run(["cmake", "--build", str(build), "--target", "help"])
    assert "pocketnn_objects" in targets
    assert "pnn_run" not in targets and "test_planner" not in targets and "fuzz_load_run" not in targets
    assert "-Werror" not in "".join(flags.read_text() for flags in build.rglob("flags.make"))


def test_clang_module_map_serves_objective_c_and_swift_imports(installed: Path, model_file: tuple[Path, np.ndarray],
                                                               tmp_path: Path) -> None:
    """bindings/apple/module.modulemap beside the installed header, as the xcframework
    ships them: clang builds the PocketNN module (the mechanism Swift's `import PocketNN`
    and Objective-C's `@import PocketNN;` go through), the example compiled as
    Objective-C reaches the header through that module, links and runs."""
    require("clang")
    headers = tmp_path / "headers"
    headers.mkdir()
    for source in (installed / "include/pocketnn.h", REPO / "bindings/apple/module.modulemap"):
        (headers / source.name).write_bytes(source.read_bytes())
    cache = tmp_path / "module-cache"
    flags = ["clang", "-x", "objective-c", "-fmodules", f"-fmodules-cache-path={cache}", "-Wall", "-Wextra",
             "-Werror", f"-I{headers}"]
    exe = tmp_path / "classify"
    run([*flags, str(EXAMPLE / "classify.c"), f"-L{installed / 'lib'}", "-lpocketnn", "-o", str(exe)])
    # With -fmodules the #include became an import of the module, built once into the cache.
    assert list(cache.rglob("PocketNN-*.pcm")), "clang did not build the PocketNN module"
    check_consumer_output(exe, model_file, env={**os.environ, "LD_LIBRARY_PATH": str(installed / "lib")})
    explicit_import = tmp_path / "import.m"
    explicit_import.write_text("@import PocketNN;\nint main(void) { return pnn_runtime_version()[0] == '\\0'; }\n")
    run([*flags, "-c", str(explicit_import), "-o", str(tmp_path / "import.o")])
