"""Writes the fixtures of wasm/test/node_test.mjs: small models converted to .pnn,
a random input for each and the NATIVE runtime's outputs (the reference the wasm
build must match).

    python3 wasm/test/make_fixtures.py [out_dir]     (default: wasm/test/fixtures)

out_dir/manifest.json lists, per fixture: the .pnn file, the inputs and outputs
(name, shape, raw little-endian float32 file).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pocketnn
from onnx import TensorProto, helper
from pocketnn import reference_models

HERE = Path(__file__).resolve().parent


def _tensor(name: str, value: np.ndarray) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.FLOAT, value.shape, value.astype(np.float32).ravel())


def _single_op(name: str, op: str, x_shape: tuple[int, ...], y_shape: tuple[int, ...],
               weights: dict[str, np.ndarray], inputs: list[str], **attrs: object) -> onnx.ModelProto:
    """One node `op`(x, *weights) -> y."""
    node = helper.make_node(op, ["x", *inputs], ["y"], **attrs)
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y_shape))],
        initializer=[_tensor(k, v) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _conv(name: str, c: int, m: int, hw: tuple[int, int], k: int, stride: int, pad: int,
          group: int = 1, dilation: int = 1, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, c // group, k, k)).astype(np.float32) / np.sqrt(c // group * k * k)
    b = rng.standard_normal(m).astype(np.float32) * 0.1
    oh = (hw[0] + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    ow = (hw[1] + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    return _single_op(name, "Conv", (1, c, *hw), (1, m, oh, ow), {"w": w, "b": b}, ["w", "b"],
                      kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                      group=group, dilations=[dilation, dilation])


def _conv_act(name: str, act: str) -> onnx.ModelProto:
    """Conv 1x1 (the GEMM path, odd sizes) followed by an activation the converter fuses."""
    base = _conv(name, 13, 21, (7, 9), 1, 1, 0, seed=3)
    graph = base.graph
    graph.node[0].output[0] = "conv_out"
    graph.node.append(helper.make_node(act, ["conv_out"], ["y"]))
    onnx.checker.check_model(base)
    return base


def _gemm(name: str, m: int, k: int, seed: int = 4) -> onnx.ModelProto:
    """Fully connected, batch 1: the N == 1 GEMV path."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, k)).astype(np.float32) / np.sqrt(k)
    b = rng.standard_normal(m).astype(np.float32)
    return _single_op(name, "Gemm", (1, k), (1, m), {"w": w, "b": b}, ["w", "b"], transB=1)


def _matmul(name: str, rows: int, k: int, n: int, seed: int = 5) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((k, n)).astype(np.float32) / np.sqrt(k)
    return _single_op(name, "MatMul", (rows, k), (rows, n), {"w": w}, ["w"])


FIXTURES: dict[str, Callable[[], onnx.ModelProto]] = {
    "mobilenet_v2_96_w050": lambda: reference_models.mobilenet_v2(resolution=96, width=0.5),
    "resnet18_64_w025": lambda: reference_models.resnet18(resolution=64, width=0.25),
    "mobilenet_v1_64_w025": lambda: reference_models.mobilenet_v1(resolution=64, width=0.25),
    "conv3x3_s1": lambda: _conv("conv3x3_s1", 5, 11, (13, 17), 3, 1, 1),
    "conv3x3_s2": lambda: _conv("conv3x3_s2", 3, 9, (15, 10), 3, 2, 1, seed=1),
    "conv5x5_dil2": lambda: _conv("conv5x5_dil2", 4, 6, (19, 21), 5, 1, 3, dilation=2, seed=2),
    "dwconv3x3_s1": lambda: _conv("dwconv3x3_s1", 7, 7, (11, 23), 3, 1, 1, group=7, seed=6),
    "dwconv3x3_s2": lambda: _conv("dwconv3x3_s2", 6, 6, (17, 14), 3, 2, 1, group=6, seed=7),
    "dwconv5x5_s2": lambda: _conv("dwconv5x5_s2", 5, 5, (12, 19), 5, 2, 2, group=5, seed=8),
    "dwconv3x3_s3_nopad": lambda: _conv("dwconv3x3_s3_nopad", 3, 3, (10, 11), 3, 3, 0, group=3, seed=9),
    "conv1x1_hardswish": lambda: _conv_act("conv1x1_hardswish", "HardSwish"),
    "conv1x1_sigmoid": lambda: _conv_act("conv1x1_sigmoid", "Sigmoid"),
    "gemm_fc": lambda: _gemm("gemm_fc", 37, 301),
    "matmul": lambda: _matmul("matmul", 5, 19, 23),
}
# Converted other than plainly: the integer and sparse integer kernels in a whole model.
PACKED: dict[str, Callable[[], bytes]] = {
    "mobilenet_v1_64_w025_sparse_int8": lambda: reference_models.sparse_int8(
        reference_models.mobilenet_v1(resolution=64, width=0.25)),
}


def write_fixtures(out_dir: Path) -> list[dict[str, object]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest: list[dict[str, object]] = []
    rng = np.random.default_rng(1234)
    packed = {name: (lambda make=make: pocketnn.convert(make())) for name, make in FIXTURES.items()} | PACKED
    for name, pack in packed.items():
        data = pack()
        (out_dir / f"{name}.pnn").write_bytes(data)
        model = pocketnn.Model(data)
        feeds = {t.name: rng.standard_normal(t.shape).astype(np.float32) for t in model.inputs}
        outputs = model.run(feeds)
        entry: dict[str, object] = {"name": name, "model": f"{name}.pnn", "inputs": [], "outputs": []}
        for kind, tensors in (("inputs", feeds), ("outputs", outputs)):
            for index, (tensor_name, value) in enumerate(tensors.items()):
                file = f"{name}.{kind}.{index}.f32"
                np.ascontiguousarray(value, dtype="<f4").tofile(out_dir / file)
                entry[kind].append({"name": tensor_name, "shape": list(value.shape), "file": file})  # type: ignore[union-attr]
        manifest.append(entry)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "fixtures"
    manifest = write_fixtures(out_dir)
    print(f"wrote {len(manifest)} fixtures to {out_dir}")


if __name__ == "__main__":
    main()
