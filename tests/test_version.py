"""One version everywhere: the package, the native runtime, the C header, the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pocketnn
from pocketnn.cli import main
from pocketnn.format import spec

ROOT = Path(__file__).resolve().parents[1]


def test_package_and_runtime_versions_agree() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'^version = "([^"]+)"$', pyproject, flags=re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert pocketnn.__version__ == declared
    assert pocketnn.runtime_version() == declared


def test_header_format_version_is_the_one_the_converter_writes() -> None:
    header = (ROOT / "runtime/include/pocketnn.h").read_text(encoding="utf-8")
    major = int(re.search(r"#define PNN_VERSION_MAJOR (\d+)", header).group(1))  # type: ignore[union-attr]
    minor = int(re.search(r"#define PNN_VERSION_MINOR (\d+)", header).group(1))  # type: ignore[union-attr]
    assert (major, minor) == (spec.VERSION_MAJOR, spec.VERSION_MINOR)


def test_runtime_isa_is_a_kernel_path_name() -> None:
    assert pocketnn.runtime_isa() in {"avx512", "avx2", "scalar", "neon", "neondot", "wasmsimd"}


def test_cli_version(capsys) -> None:
    try:
        main(["--version"])
    except SystemExit as stop:
        assert stop.code == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    assert f"pocketnn {pocketnn.__version__}" in out and pocketnn.runtime_isa() in out
    assert f"format {spec.VERSION_MAJOR}.{spec.VERSION_MINOR}" in out


def test_package_ships_type_information() -> None:
    assert (Path(pocketnn.__file__).parent / "py.typed").is_file()
