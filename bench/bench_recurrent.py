"""One recurrent layer: pocketnn's whole-layer operator (op codes 112, 113) against the same
layer unrolled at convert time (what the converter does for layers outside the operator's
scope) and onnxruntime, interleaved, medians, 1 thread. The default shape is ddddocr's
LSTM (common.onnx: bidirectional, hidden 512, input 512, 20 steps):

    python bench/bench_recurrent.py [--op LSTM|GRU] [--hidden 512] [--input 512] [--seq 20]
        [--batch 1] [--direction bidirectional] [--runs 31] [--clock cpu|wall]

Prefix bench/avx2_host/run.sh to compare the AVX2 paths of both engines.
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np
import onnx
import pocketnn
from onnx import TensorProto, helper, numpy_helper
from pocketnn.frontend import recurrent
from timing import host_banner, interleaved, ort_session


def layer(op: str, direction: str, seq: int, batch: int, size: int, hidden: int) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    dirs = 2 if direction == "bidirectional" else 1
    gates = 4 if op == "LSTM" else 3
    inits = [numpy_helper.from_array((rng.standard_normal((dirs, gates * hidden, size)) * 0.05).astype(np.float32), "W"),
             numpy_helper.from_array((rng.standard_normal((dirs, gates * hidden, hidden)) * 0.05).astype(np.float32), "R"),
             numpy_helper.from_array((rng.standard_normal((dirs, 2 * gates * hidden)) * 0.1).astype(np.float32), "B")]
    outputs = ["Y", "Y_h"]
    node = helper.make_node(op, ["X", "W", "R", "B"], outputs, hidden_size=hidden, direction=direction)
    graph = helper.make_graph([node], op, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [seq, batch, size])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--op", default="LSTM", choices=["LSTM", "GRU"])
    parser.add_argument("--direction", default="bidirectional", choices=["forward", "reverse", "bidirectional"])
    parser.add_argument("--seq", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--input", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                        help="cpu: this thread's CPU time (steadier on a loaded host; 1 thread)")
    args = parser.parse_args()
    model = layer(args.op, args.direction, args.seq, args.batch, args.input, args.hidden)
    fused = pocketnn.Model(pocketnn.convert(model))
    with mock.patch.object(recurrent, "fusable", return_value=False):
        unrolled = pocketnn.Model(pocketnn.convert(model))
    ort = ort_session(model.SerializeToString(), 1)
    x = np.random.default_rng(1).standard_normal((args.seq, args.batch, args.input)).astype(np.float32)
    feeds = {"X": x}
    times = interleaved({"fused": lambda: fused.run(feeds), "unrolled": lambda: unrolled.run(feeds),
                         "onnxruntime": lambda: ort.run(None, feeds)}, args.runs, 3,
                        time.thread_time if args.clock == "cpu" else time.perf_counter)
    print(host_banner())
    print(f"{args.op} {args.direction} seq {args.seq} batch {args.batch} input {args.input} hidden {args.hidden}: "
          f"fused {times['fused']:.2f} ms, unrolled {times['unrolled']:.2f} ms, onnxruntime {times['onnxruntime']:.2f} ms; "
          f"fused / onnxruntime {times['fused'] / times['onnxruntime']:.2f} (medians of {args.runs}, 1 thread, {args.clock} time)")


if __name__ == "__main__":
    main()
