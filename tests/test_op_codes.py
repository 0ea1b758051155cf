"""The op codes have one source in the runtime (runtime/src/ops/ops.def); the converter's
table (format/opcodes.py) and the spec (docs/OPS.md) must say the same."""

from __future__ import annotations

import re
from pathlib import Path

from pocketnn.format.opcodes import OP_CODES

ROOT = Path(__file__).resolve().parents[1]


def runtime_codes() -> dict[str, int]:
    text = (ROOT / "runtime/src/ops/ops.def").read_text(encoding="utf-8")
    rows = re.findall(r'^PNN_OP\((\d+), (\w+), "(\w+)", (\w+)\)$', text, flags=re.MULTILINE)
    assert rows, "ops.def lists no op"
    identifiers = [row[1] for row in rows]
    assert len(set(identifiers)) == len(identifiers), "an identifier appears twice in ops.def"
    codes = {name: int(code) for code, _, name, _ in rows}
    assert len(codes) == len(rows), "a name appears twice in ops.def"
    return codes


def spec_codes() -> dict[str, int]:
    """The rows `| code | Name ...` of docs/OPS.md's operator tables ("(format 1.3)" notes dropped)."""
    text = (ROOT / "docs/OPS.md").read_text(encoding="utf-8")
    codes: dict[str, int] = {}
    for code, name in re.findall(r"^\| (\d+) \| ([A-Z]\w+)(?: \(format [\d.]+\))? \|", text, flags=re.MULTILINE):
        assert name not in codes, f"docs/OPS.md lists {name} twice"
        codes[name] = int(code)
    return codes


def test_runtime_converter_and_spec_agree() -> None:
    runtime = runtime_codes()
    assert runtime == OP_CODES
    assert spec_codes() == OP_CODES


def test_codes_are_unique() -> None:
    codes = list(runtime_codes().values())
    assert len(set(codes)) == len(codes)
