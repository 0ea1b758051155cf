"""Runs tests/fuzz/fuzz_converter.py for a bounded time with a fixed seed (issue 16).

The fuzzer's seeded driver (no atheris needed) mutates small ONNX models and checks that
every conversion either loads in the runtime or fails with a PocketnnError carrying a
message; it runs in a subprocess with its own per-case timeout and address-space limit,
so a crash, hang or runaway allocation fails this test instead of the test session. A
finding prints the --replay SEED:INDEX that reproduces it. Longer coverage-guided runs:
see the fuzzer's docstring (atheris).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FUZZER = Path(__file__).parent / "fuzz" / "fuzz_converter.py"
SEED = 20261206
SECONDS = 30


def test_converter_fuzzer_finds_nothing_in_30_seconds() -> None:
    done = subprocess.run(
        [sys.executable, str(FUZZER), "--random", "1000000", "--seed", str(SEED), "--seconds", str(SECONDS)],
        capture_output=True, timeout=SECONDS + 240)
    out = done.stdout.decode()
    assert done.returncode == 0, out[-4000:] + done.stderr.decode()[-4000:]
    summary = out.strip().splitlines()[-1]
    cases = int(summary.split()[0])
    assert cases >= 100, summary  # the cases really ran
    assert "0 distinct findings" in summary, summary
