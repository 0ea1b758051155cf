"""pocketnn int8 vs onnxruntime int8 (QDQ), single thread, in one process.

Both engines quantize the same float model with the same calibration images
(per-channel int8 weights, u8 activations): pocketnn with `convert(quantize="int8")`,
onnxruntime with `quantize_static(..., QuantFormat.QDQ, per_channel=True)`. They run
interleaved (A, B, A, B, ...) on the same input; the table shows medians, the ratio
pocketnn / onnxruntime (below 1: pocketnn is faster), pocketnn's fraction of one core's
int8 peak (--peak GOP/s, 2 ops per multiply-accumulate) and the file sizes against the
float ONNX file.

    python bench/bench_int8.py [--models mobilenet_v1,resnet18] [--runs 20] [--calib 16]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import pocketnn
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from pocketnn.reference_models import MODELS
from rich.console import Console
from rich.table import Table
from timing import interleaved

# Multiply-accumulates per inference at 224x224.
MACS = {"mobilenet_v1": 569e6, "mobilenet_v2": 300e6, "resnet18": 1.82e9}


class _Reader(CalibrationDataReader):
    def __init__(self, samples: np.ndarray) -> None:
        self._items = iter([{"input": s[None]} for s in samples])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def bench_model(name: str, runs: int, warmup: int, calib_count: int,
                workdir: str) -> tuple[float, float, int, int, int]:
    model = MODELS[name]()
    float_path = os.path.join(workdir, f"{name}.onnx")
    onnx.save(model, float_path)
    # Smooth random images stand in for data: the latency does not depend on them.
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((calib_count, 3, 224, 224)).astype(np.float32)
    packed = pocketnn.convert(model, quantize="int8", calib={"input": calib}, calib_method="minmax")
    qdq_path = os.path.join(workdir, f"{name}.qdq.onnx")
    quantize_static(float_path, qdq_path, _Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    ours = pocketnn.Model(packed)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(qdq_path, options, providers=["CPUExecutionProvider"])
    feeds = {"input": calib[:1]}
    t = interleaved({"pocketnn": lambda: ours.run(feeds), "onnxruntime": lambda: session.run(None, feeds)},
                    runs, warmup)
    return (t["pocketnn"], t["onnxruntime"], len(packed), os.path.getsize(qdq_path),
            os.path.getsize(float_path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--calib", type=int, default=16, help="calibration images")
    parser.add_argument("--peak", type=float, default=530.0, help="int8 GOP/s of one core at peak (VNNI)")
    args = parser.parse_args()
    table = Table(title=f"int8, 1 thread, 224x224, median of {args.runs} interleaved runs")
    # Sizes are relative to the float ONNX file.
    for column in ("model", "pnn ms", "ort ms", "ratio", "% peak", "pnn size", "QDQ size"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models.split(","):
            ours, theirs, pnn_size, qdq_size, float_size = bench_model(name, args.runs, args.warmup, args.calib,
                                                                       workdir)
            peak = 100.0 * 2.0 * MACS.get(name, 0.0) / (ours * 1e-3) / (args.peak * 1e9)
            table.add_row(name, f"{ours:.2f}", f"{theirs:.2f}", f"{ours / theirs:.2f}", f"{peak:.0f}%",
                          f"{pnn_size / float_size:.3f}", f"{qdq_size / float_size:.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
