"""Conversion time: pocketnn int8 quantization vs onnxruntime's quantize_static.

Both quantize the same float model (reference_models, random weights) with the same
calibration samples: pocketnn with `convert(quantize="int8")` (its default percentile
observer, or --method), onnxruntime with `quantize_static(..., QuantFormat.QDQ,
per_channel=True)` (MinMax calibration, its default). Runs alternate (pocketnn,
onnxruntime, pocketnn, ...) in one process; the table shows medians in seconds and the
ratio. Calibration inputs are seeded normal noise: the time depends on the sizes, not
on the values. --profile prints pocketnn's cProfile top entries (cumulative time).

--sparsity S times `convert(sparsity=S)` instead (OBS masks + refit, sensitivity
allocation), with --quantize int8 also quantized; onnxruntime has no counterpart, so
it is not run. Calibration then uses scikit-image photo crops (bench_int8.photo_crops):
pruning's cost depends on the values (masks, kept sets). Times are then process CPU
seconds (time.process_time; honest on a shared host as long as the conversion runs on
one thread) next to wall seconds.

    python bench/bench_convert_speed.py [--models resnet50,mobilenet_v1] [--samples 128] [--rounds 1]
    python bench/bench_convert_speed.py --models mobilenet_v1,resnet18 --samples 16 --sparsity 0.7 [--quantize int8]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import onnx
import pocketnn
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from pocketnn.reference_models import MODELS, resnet50
from rich.console import Console
from rich.table import Table
from timing import host_banner

BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {**MODELS, "resnet50": resnet50}


class _Reader(CalibrationDataReader):
    def __init__(self, samples: np.ndarray) -> None:
        self._items = iter([{"input": s[None]} for s in samples])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sparsity_rows(models: list[str], samples: int, sparsity: float, quantize: str | None, rounds: int,
                  table: Table) -> None:
    from bench_int8 import CALIB_PHOTOS, photo_crops

    calib = photo_crops(CALIB_PHOTOS, samples, seed=0)
    for name in models:
        model = BUILDERS[name]()
        cpu: list[float] = []
        wall: list[float] = []
        for _ in range(rounds):
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            pocketnn.convert(model, sparsity=sparsity, quantize=quantize, calib={"input": calib}, quiet=True)
            cpu.append(time.process_time() - start_cpu)
            wall.append(time.perf_counter() - start_wall)
        table.add_row(name, str(samples), f"{sparsity}{' + ' + quantize if quantize else ''}",
                      f"{statistics.median(cpu):.1f}", f"{statistics.median(wall):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet50,mobilenet_v1")
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--method", default=None, help="pocketnn calib_method (default: pocketnn's own)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-ort", action="store_true")
    parser.add_argument("--sparsity", type=float, default=None)
    parser.add_argument("--quantize", default=None, help="with --sparsity: also quantize (int8, mixed, ...)")
    args = parser.parse_args()
    console = Console()
    console.print(host_banner())
    if args.sparsity is not None:
        sparse_table = Table("model", "samples", "sparsity", "pocketnn CPU s", "wall s")
        sparsity_rows(args.models.split(","), args.samples, args.sparsity, args.quantize, args.rounds, sparse_table)
        console.print(sparse_table)
        return
    table = Table("model", "samples", "pocketnn int8 s", "onnxruntime quantize_static s", "ratio")
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models.split(","):
            model = BUILDERS[name]()
            float_path = os.path.join(workdir, f"{name}.onnx")
            onnx.save(model, float_path)
            calib = np.random.default_rng(0).standard_normal((args.samples, 3, 224, 224)).astype(np.float32)
            options = {} if args.method is None else {"calib_method": args.method}

            def run_pocketnn() -> None:
                pocketnn.convert(float_path, quantize="int8", calib={"input": calib}, quiet=True, **options)

            def run_ort() -> None:
                quantize_static(float_path, os.path.join(workdir, f"{name}_qdq.onnx"), _Reader(calib),
                                quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)

            if args.profile:
                profiler = cProfile.Profile()
                profiler.runcall(run_pocketnn)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            times: dict[str, list[float]] = {"pocketnn": [], "ort": []}
            for _ in range(args.rounds):
                times["pocketnn"].append(_seconds(run_pocketnn))
                if not args.skip_ort:
                    times["ort"].append(_seconds(run_ort))
            ours = statistics.median(times["pocketnn"])
            theirs = statistics.median(times["ort"]) if times["ort"] else float("nan")
            table.add_row(name, str(args.samples), f"{ours:.1f}", f"{theirs:.1f}", f"{ours / theirs:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
