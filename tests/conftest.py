"""Session-wide reporting for the test suite."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter) -> None:
    module = sys.modules.get("test_onnx_node_cases")
    tally = getattr(module, "Tally", None)
    if tally is None or not (tally.ran or tally.refused):
        return
    terminalreporter.write_line(
        f"ONNX backend node test cases for supported ops: {tally.selected} selected, "
        f"{tally.ran} converted and ran, {tally.passed} passed, {tally.refused} refused by the "
        f"converter with a clear error" + (f": {', '.join(tally.refused_names)}" if tally.refused_names else ""))
    if tally.onnxruntime_semantics:
        terminalreporter.write_line(
            "  passed by matching onnxruntime where it departs from the onnx reference data: "
            + ", ".join(tally.onnxruntime_semantics))
