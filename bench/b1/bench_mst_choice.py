"""The converter's MST choice and --mst-budget (issue 13), measured end to end.

1. The latent-weight fixture (tests/fixtures/bnn/bnn_latent.onnx): converted with
   `mst="auto"` (per-layer table: bit-op saving, words touched, ms plain vs MST, the
   choice), then with `mst_budget` 0.5 and 1 point (calibration: the fixture's 250
   labelled training-split digits); for each, the words saved, the accuracy on the 1000
   held-out test digits and the whole model's time against the unflipped file (1 thread,
   the thread's CPU time, interleaved rounds, medians, one image per run).
2. A synthetic layer (256 -> 256, 3x3, 56x56, each channel a copy of an earlier one with
   `--redrawn` of its words redrawn): the same table with `mst="auto"`.

    python bench/b1/bench_mst_choice.py [--redrawn 0.1]
    bench/avx2_host/run.sh python bench/b1/bench_mst_choice.py   # the AVX2 path
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "converter"))

import pocketnn  # noqa: E402
from pocketnn.binary.mst_choice import interleaved_ms  # noqa: E402
from pocketnn.binary.mst_report import print_budget_report, print_mst_report  # noqa: E402
from pocketnn.console import make_console  # noqa: E402
from pocketnn.conversion import convert_model  # noqa: E402
from pocketnn.datasets import load_digits_fixture  # noqa: E402
from pocketnn.runtime import runtime_isa  # noqa: E402
from pocketnn.sparsity.timing import _native_runner  # noqa: E402

LATENT = os.path.join(ROOT, "tests", "fixtures", "bnn", "bnn_latent.onnx")
console = make_console()


def accuracy(data: bytes, images: np.ndarray, labels: np.ndarray) -> float:
    model = pocketnn.Model(data)
    predicted = [int(np.argmax(model.run({"input": images[i:i + 1]})["logits"])) for i in range(len(images))]
    return 100.0 * float(np.mean(np.array(predicted) == labels))


def fixture(rounds: int) -> None:
    calib_x, calib_y = load_digits_fixture("calib")
    test_x, test_y = load_digits_fixture("test")
    base = convert_model(LATENT, quiet=True, mst="auto")
    print_mst_report(console, base.mst)
    base_accuracy = accuracy(base.data, test_x, test_y)
    console.print(f"unflipped: held-out accuracy {base_accuracy:.1f}%")
    for points in (0.5, 1.0):
        flipped = convert_model(LATENT, quiet=True, calib={"input": calib_x, "labels": calib_y}, mst_budget=points)
        print_budget_report(console, flipped.mst_budget)
        print_mst_report(console, flipped.mst)
        models = [pocketnn.Model(d, threads=1) for d in (base.data, flipped.data)]
        ms = interleaved_ms([_native_runner(m, test_x[:1]) for m in models], rounds=rounds, budget_s=4.0)
        console.print(f"budget {points:g}: held-out accuracy {base_accuracy:.1f}% -> "
                      f"{accuracy(flipped.data, test_x, test_y):.1f}%; whole model {ms[0]:.4f} -> {ms[1]:.4f} ms "
                      f"(x{ms[1] / ms[0]:.3f}; median of {rounds} interleaved rounds, thread CPU time)")


def synthetic_model(redrawn: float, seed: int = 0) -> onnx.ModelProto:
    """256 -> 256 3x3 at 56x56, each channel a copy of an earlier one with `redrawn` of its
    words redrawn."""
    rng = np.random.default_rng(seed)
    out_c, in_c, side = 256, 256, 56
    rows = rng.choice(np.array([-1.0, 1.0], np.float32), (out_c, 9, in_c // 64, 64))
    for m in range(1, out_c):
        fresh = rows[m].copy()
        rows[m] = rows[rng.integers(m)]
        words = rng.random((9, in_c // 64)) < redrawn
        rows[m][words] = fresh[words]
    w = rows.reshape(out_c, 3, 3, in_c).transpose(0, 3, 1, 2).copy()
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("zero", 0.0), ("neg", -1.0),
                                                                              ("pos", 1.0))]
    inits += [numpy_helper.from_array(w, "w"), numpy_helper.from_array(rng.standard_normal(out_c).astype(np.float32), "b")]
    nodes = [helper.make_node("Less", ["x", "zero"], ["l"]), helper.make_node("Where", ["l", "neg", "pos"], ["s"]),
             helper.make_node("Conv", ["s", "w", "b"], ["y"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "synthetic",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_c, side, side])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def synthetic(redrawn: float, seed: int = 0) -> None:
    console.print(f"synthetic 256->256 3x3 56x56, {redrawn:.0%} of words redrawn")
    print_mst_report(console, convert_model(synthetic_model(redrawn, seed), quiet=True, mst="auto").mst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redrawn", type=float, action="append", help="synthetic: fraction of words redrawn")
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()
    console.print(f"kernels: {runtime_isa()}")
    fixture(args.rounds)
    for redrawn in args.redrawn or [0.1, 0.3, 0.5]:
        synthetic(redrawn)


if __name__ == "__main__":
    main()
