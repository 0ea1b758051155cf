"""Held-out accuracy of int8, int4 and mixed int4/int8 on the two digits CNNs, with and
without each weight-rounding method (docs/QUANTIZATION.md, "Weight rounding"; issue 14):
round to nearest or GPTQ, bias correction off or on.

Both CNNs (tests/fixtures: digits_cnn, MobileNet-style; digits_conv3x3, dense 3x3 convs
with a HardSwish/SqueezeExcite block) are calibrated on the 250 calibration digits
(percentile, the default) and scored on the 1000 held-out test digits in pocketnn's
runtime, against the float model's accuracy in onnxruntime. Weight bytes are the packed
QConv/QGemm weights of the .pnn against all-int8's.

    python bench/bench_quant_methods.py [digits_cnn digits_conv3x3]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pocketnn.datasets import accuracy, load_digits_fixture
from pocketnn.format.reader import read_pnn
from pocketnn.format.writer import write_pnn
from pocketnn.frontend.onnx_import import import_onnx
from pocketnn.ir import Graph
from pocketnn.passes import run_passes
from pocketnn.quantization.mixed import quantize_mixed
from pocketnn.quantization.quantize_graph import quantize_static
from pocketnn.runtime import Model

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
METHODS = {"nearest": ("nearest", False), "nearest + bias correction": ("nearest", True),
           "GPTQ": ("gptq", False), "GPTQ + bias correction": ("gptq", True)}


def configurations(graph: Graph, calib: dict[str, np.ndarray]
                   ) -> dict[str, Callable[[str, bool], Graph]]:
    return {
        "int8": lambda r, b: quantize_static(graph, calib, "int8", rounding=r, bias_correction=b),
        "int4 (first/last int8)": lambda r, b: quantize_static(graph, calib, "int4", rounding=r, bias_correction=b),
        "mixed, size budget 0.6": lambda r, b: quantize_mixed(graph, calib, 0.6, rounding=r, bias_correction=b)[0],
        "mixed, size budget 0.5, first/last free": lambda r, b: quantize_mixed(
            graph, calib, 0.5, first_last_int8=False, rounding=r, bias_correction=b)[0],
    }


def weight_bytes(data: bytes) -> int:
    parsed = read_pnn(data)
    return sum(parsed.tensors[node.inputs[1]].size for node in parsed.nodes if node.op in ("QConv", "QGemm"))


def study(name: str) -> None:
    path = FIXTURES / f"{name}.onnx"
    images, labels = load_digits_fixture("test", FIXTURES)
    calib = {"input": load_digits_fixture("calib", FIXTURES)[0]}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = accuracy(lambda x: session.run(["logits"], {"input": x})[0], images, labels)
    graph = run_passes(import_onnx(str(path)))
    int8_bytes = weight_bytes(write_pnn(quantize_static(graph, calib, "int8", rounding="nearest")))
    print(f"\n{name}: float (onnxruntime) {100 * reference:.1f}%, int8 weight bytes {int8_bytes:,}")
    print("| configuration | weight bytes / int8's | " + " | ".join(METHODS) + " |")
    print("| --- | --- |" + " --- |" * len(METHODS))
    for label, build in configurations(graph, calib).items():
        cells, fractions = [], set()
        for rounding, bias_correction in METHODS.values():
            start = time.process_time()
            data = write_pnn(build(rounding, bias_correction))
            seconds = time.process_time() - start
            model = Model(data)
            acc = accuracy(lambda x, m=model: m.run({"input": x})["logits"], images, labels)
            fractions.add(f"{weight_bytes(data) / int8_bytes:.3f}")
            cells.append(f"{100 * acc:.1f}% ({100 * (acc - reference):+.1f}, {seconds:.1f} s)")
        print(f"| {label} | {' / '.join(sorted(fractions))} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    for model_name in sys.argv[1:] or ("digits_cnn", "digits_conv3x3"):
        study(model_name)
