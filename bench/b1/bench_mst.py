"""MST output-channel reordering (issue 13): the tree-delta kernel against the plain binary
convolution on the same weights, per layer, interleaved in one process, medians, 1 thread.

Layers: the binary convolutions and the binary Linear of the fixture BNN
(tests/fixtures/bnn/bnn_frozen.onnx; the Linear as a 1x1 convolution over a batch of 1000
rows) and a wide random-weight layer (256 -> 256, 3x3, 56x56). Per layer: the paper's
bit-operation saving and the words touched of the whole tree (pocketnn.binary.mst), the
words touched of the forest the kernel runs (edges that differ in every word cut: those
children run as plain rows), and the measured ms of both kernels for each variant this CPU
can run: plain, the whole tree (every child by its delta) and the forest. The outputs are
compared exactly before timing. Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID):
on a shared, oversubscribed host, wall time mostly measures the wait for a core. Synthetic clustered layers (children that copy a parent
with a fraction of their words redrawn) show where the tree-delta starts to pay. Run
`bench/avx2_host/run.sh python bench/b1/bench_mst.py` for the AVX2 path.

    python bench/b1/bench_mst.py [--runs 20] [--variants avx512vpopcnt,avx2]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tempfile
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "bench", "b1"))
sys.path.insert(0, os.path.join(ROOT, "converter"))
from bench_bconv import build_library  # noqa: E402
from timing import host_banner, interleaved  # noqa: E402

from pocketnn.binary import mst  # noqa: E402
from pocketnn.binary.simulate import pack_conv_weights, words  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "bnn", "bnn_frozen.onnx")
LINEAR_BATCH = 1000


@dataclass
class Layer:
    name: str
    weight: np.ndarray   # OIHW float, two-valued per output channel
    height: int
    width: int
    pad: int


def fixture_layers() -> list[Layer]:
    """The binary layers of the fixture (every Conv/Gemm but the float first and last)."""
    model = onnx.shape_inference.infer_shapes(onnx.load(FIXTURE))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.input)}
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    found = []
    layers = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    for node in layers[1:-1]:
        w = constants[node.input[1]]
        if node.op_type == "Conv":
            _, _, h, wd = shapes[node.input[0]]
            pad = int(next(a.ints[0] for a in node.attribute if a.name == "pads"))
            found.append(Layer(node.name, w, h, wd, pad))
        else:
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            rows = w if trans_b else w.T
            found.append(Layer(f"{node.name} (batch {LINEAR_BATCH})", rows[:, :, None, None], LINEAR_BATCH, 1, 0))
    return found


def random_layer() -> Layer:
    w = np.random.default_rng(0).standard_normal((256, 256, 3, 3)).astype(np.float32)
    return Layer("random 256->256 3x3 56x56", w, 56, 56, 1)


def clustered_layer(redrawn: float) -> Layer:
    """256 -> 256 3x3 56x56 where each channel copies a random earlier one with `redrawn`
    of its 64-channel tap words redrawn at random: weights built for MST (the crossover)."""
    rng = np.random.default_rng(2)
    w = rng.choice([-1.0, 1.0], size=(256, 4, 64, 3, 3)).astype(np.float32)
    for m in range(1, 256):
        fresh = rng.random((4, 1, 3, 3)) < redrawn
        w[m] = np.where(fresh, w[m], w[rng.integers(m)])
    return Layer(f"synthetic 256->256 3x3 56x56, {redrawn:.0%} of words redrawn", w.reshape(256, 256, 3, 3), 56, 56, 1)


def bind(lib: ctypes.CDLL) -> None:
    p = ctypes.c_void_p
    lib.mst_bench_create.restype = p
    lib.mst_bench_create.argtypes = [ctypes.c_char_p] + [ctypes.c_size_t] * 6 + [p, p, p, ctypes.c_size_t] + [p] * 6 + [ctypes.c_size_t]
    lib.mst_bench_run.restype = ctypes.c_double
    lib.mst_bench_run.argtypes = [p, ctypes.c_int]
    lib.mst_bench_output.restype = ctypes.POINTER(ctypes.c_float)
    lib.mst_bench_output.argtypes = [p]
    lib.mst_bench_free.argtypes = [p]


def address(a: np.ndarray) -> int:
    return a.ctypes.data


def check_equal(lib: ctypes.CDLL, ctx: int, count: int, what: str) -> None:
    """The tree-delta output equals the plain kernel's, exactly."""
    lib.mst_bench_run(ctx, 0)
    plain = np.ctypeslib.as_array(lib.mst_bench_output(ctx), (count,)).copy()
    lib.mst_bench_run(ctx, 1)
    if not np.array_equal(plain, np.ctypeslib.as_array(lib.mst_bench_output(ctx), (count,))):
        raise SystemExit(f"{what}: tree-delta output differs from plain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--variants", default="avx512vpopcnt,avx2")
    parser.add_argument("--redrawn", type=float, nargs="*", default=[0.0, 0.1, 0.3, 0.5],
                        help="synthetic clustered layers: fraction of words a child redraws (0: copies, the floor)")
    args = parser.parse_args()
    print(host_banner())
    print(f"1 thread, float output, thread CPU time, medians of {args.runs} interleaved runs", flush=True)
    rng = np.random.default_rng(1)
    rows_out = []
    with tempfile.TemporaryDirectory() as folder:
        lib = build_library(folder)
        bind(lib)
        for layer in [*fixture_layers(), random_layer(), *(clustered_layer(f) for f in args.redrawn)]:
            m, c, k, _ = layer.weight.shape
            packed, tap_pop = pack_conv_weights(layer.weight)
            bits = c * k * k
            paper = mst.build_plan(packed, bits, max_touched=None)
            forest = mst.build_plan(packed, bits)
            plans = {"tree": mst.flatten(paper, packed)}
            if forest.roots > paper.roots:  # else the same plan
                plans["forest"] = mst.flatten(forest, packed)
            pixels = layer.height * layer.width
            x = rng.integers(0, 2**63, size=(pixels, words(c)), dtype=np.uint64, endpoint=True)
            if c % 64:
                x &= np.uint64((1 << (c % 64)) - 1)
            fns = {}
            contexts = []
            for variant in args.variants.split(","):
                for kind, flat in plans.items():
                    ctx = lib.mst_bench_create(
                        variant.encode(), c, layer.height, layer.width, m, k, layer.pad,
                        address(packed), address(tap_pop), address(x), flat.roots, address(flat.order),
                        address(flat.parent), address(flat.delta_bits), address(flat.delta_begin),
                        address(flat.delta_word), address(flat.delta_mask), len(flat.delta_word))
                    if not ctx:
                        print(f"SKIPPED {variant}: this CPU cannot run it (or the plan was refused)")
                        break
                    contexts.append(ctx)
                    check_equal(lib, ctx, m * pixels,  # every layer here keeps its size
                                f"{layer.name} {variant} {kind}")
                    if kind == "tree":
                        fns[f"{variant} plain"] = lambda ctx=ctx: float(lib.mst_bench_run(ctx, 0))
                    fns[f"{variant} {kind}"] = lambda ctx=ctx: float(lib.mst_bench_run(ctx, 1))
            medians = interleaved(fns, runs=args.runs, warmup=2)
            for variant in args.variants.split(","):
                if f"{variant} tree" not in medians:
                    continue
                medians.setdefault(f"{variant} forest", medians[f"{variant} tree"])
                rows_out.append((layer.name, variant, paper.bitop_saving, paper.words_touched,
                                 forest.roots, m, forest.words_touched, medians[f"{variant} plain"],
                                 medians[f"{variant} tree"], medians[f"{variant} forest"]))
            for ctx in contexts:
                lib.mst_bench_free(ctx)
    print("| layer | ISA path | bit-op saving (tree) | words touched (tree) | roots (forest) | words touched (forest) "
          "| ms plain | ms MST tree | ms MST forest | best MST / plain |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, variant, saving, touched, roots, m, forest_touched, plain_ms, tree_ms, forest_ms in rows_out:
        print(f"| {name} | {variant} | {saving:.1%} | {touched:.1%} | {roots}/{m} | {forest_touched:.1%} "
              f"| {plain_ms:.3f} | {tree_ms:.3f} | {forest_ms:.3f} | {min(tree_ms, forest_ms) / plain_ms:.2f} |")

if __name__ == "__main__":
    main()
