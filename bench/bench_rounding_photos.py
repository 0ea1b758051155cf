"""GPTQ against round-to-nearest at 224x224 on photos, dense and after 70% pruning
(docs/SPARSITY.md, "Rounding after pruning at 224x224").

A 224x224 reference model (random weights) is calibrated on scikit-image photo crops
(bench_int8.photo_crops, --calib of them) and compared with the float model on --eval
held-out crops of other photos (pocketnn.verify: worst cosine, SQNR, top-1 agreement) for
int8 with each rounding, and for `--sparsity S` (pruned once: the sparsity stage, then
each rounding of the same pruned graph, as convert() does it) float and int8 (dense int4
and mixed: bench_photo_rounding.py). CPU
seconds are time.process_time of each step (the conversion runs on one BLAS thread).

    python bench/bench_rounding_photos.py [--models mobilenet_v1,resnet18] [--calib 16] [--eval 32]
        [--sparsity 0.7]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import onnx
from bench_int8 import CALIB_PHOTOS, EVAL_PHOTOS, photo_crops
from pocketnn.format.writer import write_pnn
from pocketnn.frontend.onnx_import import import_onnx
from pocketnn.ir import Graph
from pocketnn.passes import run_passes
from pocketnn.passes.fuse_residual_add import fuse_residual_add
from pocketnn.passes.graph_utils import copy_graph
from pocketnn.passes.share_constants import share_constants
from pocketnn.quantization.activations import DEFAULT_CALIB_METHOD
from pocketnn.quantization.quantize_graph import quantize_static
from pocketnn.reference_models import MODELS
from pocketnn.sparsity import SparsityOptions, compress
from pocketnn.verify import verify

ROUNDINGS = ("nearest", "gptq")


def _timed(fn: Callable[[], Graph]) -> tuple[Graph, float]:
    start = time.process_time()
    graph = fn()
    return graph, time.process_time() - start


def _packed(graph: Graph) -> bytes:
    """The last passes of a conversion (conversion._convert_graph) and the packing."""
    return write_pnn(share_constants(fuse_residual_add(copy_graph(graph))))


def bench_model(name: str, calib_count: int, eval_count: int, sparsity: float) -> None:
    model = MODELS[name]()
    onnx_bytes = len(model.SerializeToString())
    calib = {"input": photo_crops(CALIB_PHOTOS, calib_count, seed=0)}
    held_out = {"input": photo_crops(EVAL_PHOTOS, eval_count, seed=1)}
    dense = run_passes(import_onnx(onnx.load_from_string(model.SerializeToString())))

    def row(label: str, graph: Graph, seconds: float) -> None:
        data = _packed(graph)
        report = verify(model, data, held_out).outputs[0]
        print(f"| {name} | {label} | {report.top1_agreement:.2f} | {report.sqnr_db:.1f} | {report.cosine:.4f} | "
              f"{len(data) / onnx_bytes:.3f}x | {seconds:.0f} |", flush=True)

    print("| model | weights | top-1 agreement | SQNR dB | worst cosine | file / ONNX | CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for rounding in ROUNDINGS:
        row(f"int8 {rounding}", *_timed(lambda: quantize_static(copy_graph(dense), calib, "int8",
                                                                DEFAULT_CALIB_METHOD, rounding)))
    pruned, prune_seconds = _timed(lambda: compress(copy_graph(dense), SparsityOptions(sparsity=sparsity), calib)[0])
    row(f"{sparsity:.0%} float", pruned, prune_seconds)
    for rounding in ROUNDINGS:
        row(f"{sparsity:.0%} + int8 {rounding} (CPU s: quantization)",
            *_timed(lambda: quantize_static(copy_graph(pruned), calib, "int8", DEFAULT_CALIB_METHOD, rounding)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mobilenet_v1")
    parser.add_argument("--calib", type=int, default=16)
    parser.add_argument("--eval", type=int, default=32)
    parser.add_argument("--sparsity", type=float, default=0.7)
    args = parser.parse_args()
    for name in args.models.split(","):
        bench_model(name, args.calib, args.eval, args.sparsity)


if __name__ == "__main__":
    main()
