"""ddddocr 1.6.1's DynamicQuantizeLSTM (common_old.onnx: bidirectional, input and hidden
512, int8 W and R) alone: pocketnn's LSTM with an s8 recurrence (format 1.12) against
onnxruntime's DynamicQuantizeLSTM and against pocketnn's float LSTM on the dequantized
weights, interleaved, medians of thread CPU time, 1 thread:

    python bench/bench_dq_lstm.py [--seq 20] [--runs 31]

Prefix bench/avx2_host/run.sh to compare the AVX2 paths of both engines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pocketnn
from onnx import TensorProto, helper, numpy_helper
from timing import host_banner, interleaved, ort_session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from wheel_models import wheel_model  # noqa: E402


def lstm_layer(seq: int) -> onnx.ModelProto:
    """The model's DynamicQuantizeLSTM node with its constants, X [seq, 1, input] in, Y out
    (its initial states, zeros made by ConstantOfShape, left to their default: zeros)."""
    source = onnx.load(wheel_model("ddddocr==1.6.1", "ddddocr/common_old.onnx"))
    node = next(n for n in source.graph.node if n.op_type == "DynamicQuantizeLSTM")
    inits = [t for t in source.graph.initializer if t.name in node.input]
    size = numpy_helper.to_array(next(t for t in inits if t.name == node.input[1])).shape[1]
    lstm = helper.make_node(node.op_type, ["X"] + list(node.input[1:5]) + ["", ""] + list(node.input[7:]), ["Y"],
                            domain=node.domain,
                            name="lstm", **{a.name: helper.get_attribute_value(a) for a in node.attribute})
    graph = helper.make_graph([lstm], "lstm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [seq, 1, size])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=list(source.opset_import))
    model.ir_version = source.ir_version
    return model


def float_layer(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same layer as a float ONNX LSTM (W, R dequantized), what pocketnn ran before 1.12."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    node = model.graph.node[0]

    def dequantized(i: int, s: int, z: int) -> np.ndarray:
        w, scale, zero = inits[node.input[i]], inits[node.input[s]], inits[node.input[z]]
        d = w.shape[0]
        real = (w.astype(np.float32) - zero.reshape(d, 1, -1).astype(np.float32)) * scale.reshape(d, 1, -1)
        return np.ascontiguousarray(real.transpose(0, 2, 1))

    consts = [numpy_helper.from_array(dequantized(1, 8, 9), "W"), numpy_helper.from_array(dequantized(2, 10, 11), "R"),
              numpy_helper.from_array(inits[node.input[3]], "B")]
    lstm = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y"],
                            **{a.name: helper.get_attribute_value(a) for a in node.attribute})
    graph = helper.make_graph([lstm], "lstm", list(model.graph.input), list(model.graph.output), consts)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    result.ir_version = 8
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, default=20)
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    model = lstm_layer(args.seq)
    int8 = pocketnn.Model(pocketnn.convert(model))
    float32 = pocketnn.Model(pocketnn.convert(float_layer(model)))
    ort = ort_session(model.SerializeToString(), 1)
    size = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    x = np.random.default_rng(1).standard_normal((args.seq, 1, size)).astype(np.float32)
    feeds = {"X": x}
    times = interleaved({"int8": lambda: int8.run(feeds), "float": lambda: float32.run(feeds),
                         "onnxruntime": lambda: ort.run(None, feeds)}, args.runs, 3, time.thread_time)
    print(host_banner())
    print(f"DynamicQuantizeLSTM seq {args.seq}: pocketnn int8 {times['int8']:.3f} ms "
          f"({[n.kernel for n in int8.nodes]}), pocketnn float {times['float']:.3f} ms, "
          f"onnxruntime {times['onnxruntime']:.3f} ms; int8 / onnxruntime {times['int8'] / times['onnxruntime']:.2f} "
          f"(medians of {args.runs}, 1 thread, thread CPU time)")


if __name__ == "__main__":
    main()
