"""pocketnn int8 and mixed INT4/INT8 vs onnxruntime int8 (QDQ), single thread, in one process.

Both engines quantize the same float model with the same calibration images
(per-channel int8 weights, u8 activations): pocketnn with `convert(quantize="int8")`,
onnxruntime with `quantize_static(..., QuantFormat.QDQ, per_channel=True)`. pocketnn
also converts with `quantize="mixed"` under the size budget that makes its .pnn file at
most --mixed-target of the float ONNX file (issue 5: 0.16); when the first and last
weighted layers cannot stay int8 within it, the ILP may make them int4 too
(first_last_int8=False). The three run interleaved (A, B, C, A, ...) on the same input.

The first table: medians, the ratio pocketnn int8 / onnxruntime (below 1: pocketnn is
faster), pocketnn's fraction of one core's int8 peak (--peak GOP/s, 2 ops per
multiply-accumulate) and the file sizes against the float ONNX file. The second, the
mixed model: its budget, int4 layer count, file size, agreement with the float model
(pocketnn.verify: worst cosine, SQNR, top-1 agreement) beside int8's, its latency
against int8's and its conversion time.

Calibration and evaluation images are scikit-image's sample photos (skimage.data),
random square crops resized to 224x224, ImageNet-normalized; the evaluation crops come
from photos the calibration never sees (needs scikit-image: pip install -e ".[bench]").
The reference models have random weights, so agreement with the float model is the
measure, not accuracy.

    python bench/bench_int8.py [--models mobilenet_v1,resnet18] [--runs 20] [--calib 16] [--eval 16]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import onnx
import pocketnn
import skimage.data
import skimage.transform
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from pocketnn.format.reader import PnnTensor, read_pnn
from pocketnn.ir import DType
from pocketnn.reference_models import MODELS
from pocketnn.verify import OutputReport, verify
from rich.console import Console
from rich.table import Table
from timing import host_banner, interleaved, ort_session

# Multiply-accumulates per inference at 224x224.
MACS = {"mobilenet_v1": 569e6, "mobilenet_v2": 300e6, "resnet18": 1.82e9}
CALIB_PHOTOS = ("astronaut", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel",
                "coins", "brick", "grass", "moon", "clock", "cell", "page", "text")
EVAL_PHOTOS = ("chelsea", "rocket", "camera", "gravel")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# The 64-byte alignment of each weight blob may differ between int8 and packed int4.
ALIGNMENT_SLACK = 64


def photo_crops(names: tuple[str, ...], count: int, seed: int) -> np.ndarray:
    """`count` N x 3 x 224 x 224 inputs: random square crops (half to all of the short
    side, random horizontal flip) of the named skimage.data photos, in turn."""
    rng = np.random.default_rng(seed)
    photos = []
    for name in names:
        image = getattr(skimage.data, name)().astype(np.float32) / 255.0
        photos.append(np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3])
    crops = np.empty((count, 3, 224, 224), dtype=np.float32)
    for index in range(count):
        image = photos[index % len(photos)]
        height, width = image.shape[:2]
        side = int(rng.uniform(0.5, 1.0) * min(height, width))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crop = skimage.transform.resize(image[top:top + side, left:left + side], (224, 224), anti_aliasing=True)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crops[index] = ((crop - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    return crops


class _Reader(CalibrationDataReader):
    def __init__(self, samples: np.ndarray) -> None:
        self._items = iter([{"input": s[None]} for s in samples])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def weight_tensors(packed: bytes) -> list[PnnTensor]:
    """The QConv / QGemm weight tensors of a .pnn file, in graph order."""
    parsed = read_pnn(packed)
    return [parsed.tensors[node.inputs[1]] for node in parsed.nodes if node.op in ("QConv", "QGemm")]


def mixed_budget(int8_packed: bytes, float_size: int, target: float) -> tuple[float, bool]:
    """(size budget as a fraction of the int8 weight bytes, whether the first and last
    weighted layers can stay int8) that keeps the mixed .pnn within `target` x the
    float ONNX file: everything but the weights is as in the int8 file."""
    weights = [tensor.size for tensor in weight_tensors(int8_packed)]
    other = len(int8_packed) - sum(weights)
    budget = (target * float_size - other - ALIGNMENT_SLACK * len(weights)) / sum(weights)
    edges = weights[0] + weights[-1]
    smallest_with_int8_edges = (edges + sum((w + 1) // 2 for w in weights[1:-1])) / sum(weights)
    return budget, budget >= smallest_with_int8_edges


@dataclass
class Result:
    name: str
    int8_ms: float
    mixed_ms: float
    ort_ms: float
    float_size: int
    int8_size: int
    mixed_size: int
    qdq_size: int
    budget: float
    first_last_int8: bool
    int4_layers: int
    layers: int
    convert_s: float
    int8_agreement: OutputReport
    mixed_agreement: OutputReport


def bench_model(name: str, runs: int, warmup: int, calib: np.ndarray, eval_inputs: np.ndarray,
                mixed_target: float, workdir: str) -> Result:
    model = MODELS[name]()
    float_path = os.path.join(workdir, f"{name}.onnx")
    onnx.save(model, float_path)
    float_size = os.path.getsize(float_path)
    int8 = pocketnn.convert(model, quantize="int8", calib={"input": calib}, calib_method="minmax")
    budget, first_last_int8 = mixed_budget(int8, float_size, mixed_target)
    start = time.perf_counter()
    mixed = pocketnn.convert(model, quantize="mixed", calib={"input": calib}, calib_method="minmax",
                             size_budget=budget, first_last_int8=first_last_int8)
    convert_s = time.perf_counter() - start
    qdq_path = os.path.join(workdir, f"{name}.qdq.onnx")
    quantize_static(float_path, qdq_path, _Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    ours8, ours_mixed = pocketnn.Model(int8), pocketnn.Model(mixed)
    session = ort_session(qdq_path, 1)
    feeds = {"input": eval_inputs[:1]}
    t = interleaved({"int8": lambda: ours8.run(feeds), "mixed": lambda: ours_mixed.run(feeds),
                     "onnxruntime": lambda: session.run(None, feeds)}, runs, warmup)
    dtypes = [tensor.dtype for tensor in weight_tensors(mixed)]
    return Result(name, t["int8"], t["mixed"], t["onnxruntime"], float_size, len(int8), len(mixed),
                  os.path.getsize(qdq_path), budget, first_last_int8, dtypes.count(DType.S4), len(dtypes),
                  convert_s,
                  verify(model, ours8, {"input": eval_inputs}).outputs[0],
                  verify(model, ours_mixed, {"input": eval_inputs}).outputs[0])


def _agreement(report: OutputReport) -> str:
    return f"{report.cosine:.4f} / {report.sqnr_db:.1f} / {report.top1_agreement:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--calib", type=int, default=16, help="calibration images")
    parser.add_argument("--eval", type=int, default=16, help="evaluation images (agreement with float)")
    parser.add_argument("--mixed-target", type=float, default=0.16,
                        help="mixed .pnn size as a fraction of the float ONNX file (default 0.16)")
    parser.add_argument("--peak", type=float, default=530.0, help="int8 GOP/s of one core at peak (VNNI)")
    args = parser.parse_args()
    print(host_banner())
    calib = photo_crops(CALIB_PHOTOS, args.calib, seed=0)
    eval_inputs = photo_crops(EVAL_PHOTOS, args.eval, seed=1)
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models.split(","):
            results.append(bench_model(name, args.runs, args.warmup, calib, eval_inputs, args.mixed_target,
                                       workdir))
    int8_table = Table(title=f"int8, 1 thread, 224x224, median of {args.runs} interleaved runs")
    # Sizes are relative to the float ONNX file.
    for column in ("model", "pnn ms", "ort ms", "ratio", "% peak", "pnn size", "QDQ size"):
        int8_table.add_column(column)
    mixed_table = Table(title=f"mixed INT4/INT8 (.pnn <= {args.mixed_target:g} x float ONNX); agreement with "
                              f"float on {args.eval} held-out photos: worst cosine / SQNR dB / top-1")
    for column in ("model", "budget", "first/last", "int4 layers", "pnn size", "mixed agreement",
                   "int8 agreement", "mixed ms", "int8 ms", "mixed/int8", "convert s"):
        mixed_table.add_column(column)
    for r in results:
        peak = 100.0 * 2.0 * MACS.get(r.name, 0.0) / (r.int8_ms * 1e-3) / (args.peak * 1e9)
        int8_table.add_row(r.name, f"{r.int8_ms:.2f}", f"{r.ort_ms:.2f}", f"{r.int8_ms / r.ort_ms:.2f}",
                           f"{peak:.0f}%", f"{r.int8_size / r.float_size:.3f}", f"{r.qdq_size / r.float_size:.3f}")
        mixed_table.add_row(r.name, f"{r.budget:.3f}", "int8" if r.first_last_int8 else "ILP",
                            f"{r.int4_layers}/{r.layers}", f"{r.mixed_size / r.float_size:.4f}",
                            _agreement(r.mixed_agreement), _agreement(r.int8_agreement), f"{r.mixed_ms:.2f}",
                            f"{r.int8_ms:.2f}", f"{r.mixed_ms / r.int8_ms:.2f}", f"{r.convert_s:.0f}")
    console = Console(width=max(Console().width, 170))  # the mixed table's columns untruncated
    console.print(int8_table)
    console.print(mixed_table)


if __name__ == "__main__":
    main()
