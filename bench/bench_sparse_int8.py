"""Sparse + int8 (224x224, single thread): pocketnn's u8 x s8 group-sparse kernels against
pocketnn's dense int8 and onnxruntime's int8 (QDQ) on the same pruned model.

For each sparsity S, pocketnn.convert(sparsity=S, quantize="int8") prunes the 1x1
convolutions and the classifier (channel rearrangement off, so the zeros map one to one
onto the ONNX initializers) and quantizes the pruned graph; the layers whose int8 form
runs faster group-sparse keep sparse s8 storage (quantization.sparse_storage). The same
zeros are written into a copy of the float ONNX model, which onnxruntime quantizes with
quantize_static (QDQ, per-channel s8 weights, u8 activations) on the same calibration
images: it has no sparse int8 kernels, so it runs the zeros densely. pocketnn's dense
int8 conversion of the unpruned model is the baseline. All run interleaved on one input;
medians. Sizes are against the float ONNX file. Agreement: pocketnn's sparse int8 model
against pocketnn's sparse float model (the same pruning and least-squares reconstruction
on the same calibration images; --pattern fixes G so both get the same masks) on
held-out photos: worst cosine / SQNR dB, the cost of quantization alone.

    python bench/bench_sparse_int8.py [--models mobilenet_v1] [--sparsities 0.7,0.8,0.9] [--runs 30]
        [--pattern 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import onnx
import pocketnn
from bench_int8 import CALIB_PHOTOS, EVAL_PHOTOS, _Reader, photo_crops
from bench_sparse import prune_onnx_like
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
from pocketnn.conversion import convert_model, sparsity_options
from pocketnn.reference_models import MODELS
from rich.console import Console
from rich.table import Table
from timing import host_banner, interleaved, ort_session


@dataclass
class Row:
    model: str
    sparsity: float
    sparse_ms: float
    dense_ms: float
    ort_ms: float
    sparse_layers: int
    pruned_layers: int
    size: float
    cosine: float
    sqnr_db: float


def qdq(float_path: str, out_path: str, calib: np.ndarray) -> str:
    quantize_static(float_path, out_path, _Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out_path


def agreement(reference: pocketnn.Model, ours: pocketnn.Model, inputs: np.ndarray) -> tuple[float, float]:
    """(worst cosine, SQNR dB) of ours against reference over the samples."""
    cosines, signal, noise = [], 0.0, 0.0
    for sample in inputs:
        feeds = {"input": sample[None]}
        r = next(iter(reference.run(feeds).values())).astype(np.float64).ravel()
        p = next(iter(ours.run(feeds).values())).astype(np.float64).ravel()
        cosines.append(float(r @ p) / max(float(np.linalg.norm(r) * np.linalg.norm(p)), 1e-300))
        signal += float(r @ r)
        noise += float((r - p) @ (r - p))
    return min(cosines), 10.0 * float(np.log10(signal / max(noise, 1e-300)))


def bench_model(name: str, sparsities: list[float], pattern: str, runs: int, warmup: int, calib: np.ndarray,
                eval_inputs: np.ndarray, workdir: str) -> list[Row]:
    model = MODELS[name]()
    float_size = len(model.SerializeToString())
    dense = pocketnn.Model(pocketnn.convert(model, quantize="int8", calib={"input": calib}, calib_method="minmax"))
    feeds = {"input": eval_inputs[:1]}
    rows = []
    for sparsity in sparsities:
        options = sparsity_options(sparsity, pattern, {"rearrange": False, "scope": "pointwise"})
        conv = convert_model(model, options=options, calib={"input": calib}, quantize="int8",
                             calib_method="minmax")
        reference = pocketnn.Model(convert_model(model, options=options, calib={"input": calib}).data)
        pruned_layers = [r.node for r in conv.sparsity.layers if r.group > 0]
        pruned = prune_onnx_like(model, conv.graph, pruned_layers)
        float_path = os.path.join(workdir, f"{name}_{sparsity:.2f}.onnx")
        onnx.save(pruned, float_path)
        session = ort_session(qdq(float_path, float_path.replace(".onnx", ".qdq.onnx"), calib), 1)
        ours = pocketnn.Model(conv.data)
        t = interleaved({"sparse": lambda: ours.run(feeds), "dense": lambda: dense.run(feeds),
                         "onnxruntime": lambda: session.run(None, feeds)}, runs, warmup)
        cosine, sqnr_db = agreement(reference, ours, eval_inputs)
        sparse_layers = sum(1 for n in ours.nodes if n.kernel.startswith("u8spmm/"))
        rows.append(Row(name, sparsity, t["sparse"], t["dense"], t["onnxruntime"], sparse_layers,
                        len(pruned_layers), len(conv.data) / float_size, cosine, sqnr_db))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mobilenet_v1")
    parser.add_argument("--sparsities", default="0.7,0.8,0.9")
    parser.add_argument("--pattern", default="4", help="G of the pruned groups: 1, 2, 4, 8 or auto")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--calib", type=int, default=16, help="calibration images")
    parser.add_argument("--eval", type=int, default=8, help="evaluation images (agreement)")
    args = parser.parse_args()
    print(host_banner())
    calib = photo_crops(CALIB_PHOTOS, args.calib, seed=0)
    eval_inputs = photo_crops(EVAL_PHOTOS, args.eval, seed=1)
    sparsities = [float(s) for s in args.sparsities.split(",")]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models.split(","):
            rows += bench_model(name, sparsities, args.pattern, args.runs, args.warmup, calib, eval_inputs, workdir)
    table = Table(title=f"sparse + int8, 1 thread, 224x224, median of {args.runs} interleaved runs "
                        f"(load average {os.getloadavg()[0]:.1f})")
    for column in ("model", "sparsity", "pnn sparse int8 ms", "pnn dense int8 ms", "ort int8 (pruned) ms",
                   "sparse / ort", "sparse / dense", "sparse layers", "pnn size", "cosine / SQNR dB"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.model, f"{r.sparsity:.0%}", f"{r.sparse_ms:.2f}", f"{r.dense_ms:.2f}", f"{r.ort_ms:.2f}",
                      f"{r.sparse_ms / r.ort_ms:.2f}", f"{r.sparse_ms / r.dense_ms:.2f}",
                      f"{r.sparse_layers}/{r.pruned_layers}", f"{r.size:.3f}", f"{r.cosine:.4f} / {r.sqnr_db:.1f}")
    Console(width=max(Console().width, 160)).print(table)


if __name__ == "__main__":
    main()
