"""One ONNX file, whole model: pocketnn vs onnxruntime, interleaved, medians of the
calling thread's CPU time. Random inputs of the bound shapes (symbolic dims 1 unless
--input-shape binds them). For models nobody here wrote, such as a wheel's:

    python bench/bench_onnx_file.py ~/.cache/pocketnn/wheels/ddddocr-1.6.1/ddddocr/common.onnx \
        --input-shape input1=1x1x64x160 [--runs 15] [--threads 1]

`--bind NAME=INT` freezes an integer input at convert time (pocketnn) and feeds the same
value to onnxruntime, e.g. Silero VAD's `--bind sr=16000`.

Prefix bench/avx2_host/run.sh to compare the AVX2 paths of both engines.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnx
import pocketnn
from timing import host_banner, ort_session


def parse_shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for item in items:
        name, _, dims = item.partition("=")
        shapes[name] = tuple(int(d) for d in dims.split("x"))
    return shapes


def input_shapes(model: onnx.ModelProto, bound: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    initializers = {t.name for t in model.graph.initializer}
    shapes = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = bound.get(value.name, tuple(d.dim_value or 1 for d in dims))
    return shapes


def input_dtype(model: onnx.ModelProto, name: str) -> np.dtype:
    elem = next(v.type.tensor_type.elem_type for v in model.graph.input if v.name == name)
    return onnx.helper.tensor_dtype_to_np_dtype(elem)


def random_input(rng: np.random.Generator, model: onnx.ModelProto, name: str,
                 shape: tuple[int, ...]) -> np.ndarray:
    """Uniform floats in [-1, 1), or byte values 0..255 for an integer input (magika's bytes)."""
    dtype = input_dtype(model, name)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 256, shape).astype(dtype)
    return rng.uniform(-1.0, 1.0, shape).astype(dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--input-shape", action="append", default=[], metavar="NAME=DxD...")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bind", action="append", default=[], metavar="NAME=INT")
    args = parser.parse_args()
    print(host_banner())
    model = onnx.load(args.model)
    bound = {name: int(value) for name, _, value in (item.partition("=") for item in args.bind)}
    shapes = {name: shape for name, shape in input_shapes(model, parse_shapes(args.input_shape)).items()
              if name not in bound}
    ours = pocketnn.Model(pocketnn.convert(args.model, input_shapes=shapes, bind=bound or None),
                          threads=args.threads)
    theirs = ort_session(model.SerializeToString(), args.threads)
    rng = np.random.default_rng(0)
    feeds = {name: random_input(rng, model, name, shape) for name, shape in shapes.items()}
    their_feeds = {**feeds, **{name: np.array(value, input_dtype(model, name)) for name, value in bound.items()}}
    a, b = [], []
    for i in range(args.runs + 2):  # two warm-up rounds
        t0 = time.thread_time()
        ours.run(feeds)
        t1 = time.thread_time()
        theirs.run(None, their_feeds)
        t2 = time.thread_time()
        if i >= 2:
            a.append((t1 - t0) * 1e3)
            b.append((t2 - t1) * 1e3)
    pnn_ms, ort_ms = statistics.median(a), statistics.median(b)
    print(f"{args.model}: pocketnn {pnn_ms:.2f} ms, onnxruntime {ort_ms:.2f} ms, ratio {pnn_ms / ort_ms:.2f} "
          f"(medians of {args.runs}, {args.threads} thread(s))")


if __name__ == "__main__":
    main()
