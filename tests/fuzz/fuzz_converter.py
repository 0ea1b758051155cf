"""Fuzzer for the converter: mutated ONNX models into pocketnn's import, passes and pack.

Contract under test: for any model, ``convert_model`` either returns a .pnn that the
runtime loads (or refuses only for its memory limit), or raises a PocketnnError subclass
with a message. Any other exception (numpy, onnx, KeyError, IndexError, MemoryError...),
a crash, a hang or runaway memory is a finding.

Each input byte string drives a deterministic mutation program over one of a few small
valid seed models: structural edits of the protobuf (dims, attributes, element types,
node inputs/outputs, op types, initializer bytes, node order, opset) and, sometimes, raw
byte edits of the serialized model, which then goes through the file loader.

    # coverage-guided, with atheris (pip install ".[fuzz]"); libFuzzer flags pass through
    python tests/fuzz/fuzz_converter.py -max_total_time=600 -timeout=20 -rss_limit_mb=3072

    # no atheris needed: CASES pseudo-random inputs from SEED, stopping after SECONDS
    python tests/fuzz/fuzz_converter.py --random CASES --seed SEED [--seconds SECONDS]

The --random mode sets its own per-case timeout (SIGALRM) and an address-space limit, so
it is what tests/test_converter_fuzz.py runs in CI. A finding prints the case's seed and
index (re-run with --replay SEED:INDEX) and exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
import warnings
from typing import Callable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CASE_TIMEOUT_S = 20
ADDRESS_SPACE_LIMIT = 6 << 30  # the converter itself stays far below; numpy+onnx map ~1.5 GiB
# A small constant limit keeps the cases fast; the limit logic is what is exercised.
MAX_CONSTANT_ELEMENTS = 1 << 22
# The runtime refuses a model over its memory limit (PNN_ERR_LIMIT) on purpose.
RUNTIME_LIMIT_STATUS = "PNN_ERR_LIMIT"  # NativeError.status: the C enum name

OPS = ("Relu", "Add", "Mul", "Conv", "MatMul", "Gemm", "Reshape", "Transpose", "Concat", "Slice",
       "Gather", "Expand", "Tile", "Range", "ConstantOfShape", "Resize", "Pad", "Split", "Squeeze",
       "Unsqueeze", "Flatten", "Shape", "Size", "Cast", "Softmax", "MaxPool", "AveragePool",
       "GlobalAveragePool", "BatchNormalization", "Clip", "Sum", "Mean", "Where", "Einsum", "TopK",
       "NonZero", "OneHot", "ReduceSum", "ReduceMean", "If", "Loop", "Identity", "Dropout", "Sigmoid",
       "QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvTranspose", "LayerNormalization",
       "Upsample", "CumSum", "Trilu", "Constant", "Div", "Pow", "Sqrt", "Erf", "MaxUnpool", "EyeLike")
INTERESTING_INTS = (0, 1, -1, 2, 3, 4, 7, 16, 255, -2, 1 << 15, 1 << 20, (1 << 31) - 1, 1 << 31,
                    (1 << 40), -(1 << 31), (1 << 63) - 1, -(1 << 63))
INTERESTING_FLOATS = (0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-30, 1e30, float("inf"), float("-inf"),
                      float("nan"), 3.4e38)
STRINGS = ("", "NOTSET", "SAME_UPPER", "VALID", "linear", "nearest", "cubic", "constant", "reflect",
           "edge", "half_pixel", "asymmetric", "tanh", "none", "x" * 300)
ELEM_TYPES = tuple(range(0, 24))


class Bytes:
    """Reads choices from a fuzz input; returns zeros once it is exhausted."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def below(self, n: int) -> int:
        if n <= 1:
            return 0
        value = self.byte() | (self.byte() << 8) if n > 256 else self.byte()
        return value % n

    def pick(self, items: Sequence[object]) -> object:
        return items[self.below(len(items))]

    def remaining(self) -> bool:
        return self.pos < len(self.data)


# ---- seed models ------------------------------------------------------------------------

def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _model(nodes: list[onnx.NodeProto], inputs: dict[str, list[int | str]], outputs: list[str],
           inits: dict[str, np.ndarray], opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "seed",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(v, n) for n, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def seed_models() -> list[onnx.ModelProto]:
    rng = np.random.default_rng(0)
    mlp = _model([
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm"),
        helper.make_node("Add", ["h", "b1"], ["h1"], name="add"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("Gemm", ["h2", "w2", "b2"], ["z"], name="gemm", transB=1),
        helper.make_node("Softmax", ["z"], ["y"], name="softmax", axis=-1),
    ], {"x": ["batch", 8]}, ["y"],
        {"w1": _f32(rng, 8, 16), "b1": _f32(rng, 16), "w2": _f32(rng, 4, 16), "b2": _f32(rng, 4)})
    conv = _model([
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], name="bn"),
        helper.make_node("Clip", ["n", "lo", "hi"], ["r"], name="clip"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1),
    ], {"x": [1, 3, 8, 8]}, ["y"],
        {"w": _f32(rng, 4, 3, 3, 3), "b": _f32(rng, 4), "s": _f32(rng, 4) ** 2 + 0.5,
         "bb": _f32(rng, 4), "m": _f32(rng, 4), "v": _f32(rng, 4) ** 2 + 0.5,
         "lo": np.array(0, np.float32), "hi": np.array(6, np.float32), "fw": _f32(rng, 5, 4)})
    shapes = _model([
        helper.make_node("Shape", ["x"], ["sh"], name="shape"),
        helper.make_node("Gather", ["sh", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["r"], name="reshape"),
        helper.make_node("ConstantOfShape", ["cshape"], ["ones"], name="cos",
                         value=numpy_helper.from_array(np.array([1.5], np.float32))),
        helper.make_node("Range", ["start", "limit", "delta"], ["rng"], name="range"),
        helper.make_node("Cast", ["rng"], ["rngf"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Expand", ["rngf", "eshape"], ["ex"], name="expand"),
        helper.make_node("Tile", ["ones", "reps"], ["tiled"], name="tile"),
        helper.make_node("Mul", ["r", "ex"], ["m"], name="mul"),
        helper.make_node("Add", ["m", "tiled"], ["y"], name="add"),
    ], {"x": ["batch", 2, 3, 4]}, ["y"],
        {"zero": np.array(0, np.int64), "axes0": np.array([0], np.int64),
         "minus1": np.array([-1], np.int64), "cshape": np.array([1, 12], np.int64),
         "start": np.array(0, np.int64), "limit": np.array(24, np.int64),
         "delta": np.array(1, np.int64), "eshape": np.array([1, 24], np.int64),
         "reps": np.array([1, 2], np.int64)})
    tensor_ops = _model([
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad", mode="reflect"),
        helper.make_node("Resize", ["p", "", "scales"], ["rs"], name="resize", mode="linear"),
        helper.make_node("Slice", ["rs", "st", "en", "ax", "sp"], ["sl"], name="slice"),
        helper.make_node("Transpose", ["sl"], ["t"], name="transpose", perm=[0, 1, 3, 2]),
        helper.make_node("Split", ["t", "split"], ["a", "b"], name="split", axis=1),
        helper.make_node("Concat", ["b", "a"], ["c"], name="concat", axis=1),
        helper.make_node("ReduceMean", ["c", "rax"], ["y"], name="mean", keepdims=1),
    ], {"x": [1, 4, 6, 6]}, ["y"],
        {"pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64),
         "scales": np.array([1, 1, 2, 2], np.float32), "st": np.array([1, 0], np.int64),
         "en": np.array([15, 12], np.int64), "ax": np.array([2, 3], np.int64),
         "sp": np.array([2, 1], np.int64), "split": np.array([1, 3], np.int64),
         "rax": np.array([2], np.int64)}, opset=18)
    scale, zero = np.array(0.05, np.float32), np.array(128, np.uint8)
    qdq = _model([
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q0"),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq0"),
        helper.make_node("DequantizeLinear", ["wq", "ws"], ["wd"], name="dqw", axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv", kernel_shape=[1, 1]),
        helper.make_node("QuantizeLinear", ["c", "xs", "xz"], ["cq"], name="q1"),
        helper.make_node("DequantizeLinear", ["cq", "xs", "xz"], ["y"], name="dq1"),
    ], {"x": [1, 4, 4, 4]}, ["y"],
        {"xs": scale, "xz": zero, "ws": np.full(4, 0.02, np.float32),
         "wq": rng.integers(-127, 128, (4, 4, 1, 1)).astype(np.int8)})
    return [mlp, conv, shapes, tensor_ops, qdq]


# ---- mutations --------------------------------------------------------------------------

def _names(model: onnx.ModelProto) -> list[str]:
    graph = model.graph
    names = [vi.name for vi in graph.input] + [t.name for t in graph.initializer]
    names += [o for node in graph.node for o in node.output]
    return names + ["", "nowhere"]


def _mutate_dims(b: Bytes, dims: Sequence[int]) -> list[int]:
    out = list(dims)
    choice = b.below(4)
    if choice == 0 and out:
        out[b.below(len(out))] = int(b.pick(INTERESTING_INTS))  # type: ignore[arg-type]
    elif choice == 1:
        out.insert(b.below(len(out) + 1), int(b.pick(INTERESTING_INTS[:10])))  # type: ignore[arg-type]
    elif choice == 2 and out:
        del out[b.below(len(out))]
    else:
        out = out[::-1]
    return out


def _mutate_value_info(b: Bytes, model: onnx.ModelProto) -> None:
    vis = list(model.graph.input) + list(model.graph.output)
    vi = vis[b.below(len(vis))]
    tt = vi.type.tensor_type
    what = b.below(4)
    if what == 0:
        tt.elem_type = int(b.pick(ELEM_TYPES))  # type: ignore[arg-type]
    elif what == 1:
        tt.ClearField("shape")
    else:
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        tt.ClearField("shape")
        new = _mutate_dims(b, dims)
        tt.shape.SetInParent()
        for d in new:
            dim = tt.shape.dim.add()
            if d >= 0 and d < (1 << 63):
                dim.dim_value = d
            else:
                dim.dim_param = "sym"


def _mutate_attribute(b: Bytes, node: onnx.NodeProto) -> None:
    if not node.attribute or b.below(4) == 0:
        name = str(b.pick(("axis", "perm", "kernel_shape", "pads", "strides", "group", "to", "mode",
                           "value", "keepdims", "dilations", "transB", "alpha", "axes", "split")))
        value, attr_type = b.pick((
            (int(b.pick(INTERESTING_INTS)), onnx.AttributeProto.INT),  # type: ignore[arg-type]
            ([int(b.pick(INTERESTING_INTS)) for _ in range(b.below(5))], onnx.AttributeProto.INTS),  # type: ignore[arg-type]
            (float(b.pick(INTERESTING_FLOATS)), onnx.AttributeProto.FLOAT),  # type: ignore[arg-type]
            (str(b.pick(STRINGS)), onnx.AttributeProto.STRING)))  # type: ignore[misc]
        for a in [a for a in node.attribute if a.name == name]:
            node.attribute.remove(a)
        node.attribute.append(helper.make_attribute(name, value, attr_type=attr_type))
        return
    attr = node.attribute[b.below(len(node.attribute))]
    if attr.type == onnx.AttributeProto.INT:
        attr.i = int(b.pick(INTERESTING_INTS))  # type: ignore[arg-type]
    elif attr.type == onnx.AttributeProto.INTS:
        new = _mutate_dims(b, list(attr.ints))
        del attr.ints[:]
        attr.ints.extend(max(min(v, (1 << 63) - 1), -(1 << 63)) for v in new)
    elif attr.type == onnx.AttributeProto.FLOAT:
        attr.f = float(b.pick(INTERESTING_FLOATS))  # type: ignore[arg-type]
    elif attr.type == onnx.AttributeProto.STRING:
        attr.s = str(b.pick(STRINGS)).encode()
    elif attr.type == onnx.AttributeProto.TENSOR:
        _mutate_tensor(b, attr.t)
    else:
        attr.type = int(b.pick((0, 1, 2, 3, 4, 6, 7)))  # type: ignore[assignment]


def _mutate_tensor(b: Bytes, tensor: onnx.TensorProto) -> None:
    what = b.below(8)
    if what == 0:
        new = _mutate_dims(b, list(tensor.dims))
        del tensor.dims[:]
        tensor.dims.extend(max(min(v, (1 << 63) - 1), -(1 << 63)) for v in new)
    elif what == 1:
        tensor.data_type = int(b.pick(ELEM_TYPES))  # type: ignore[arg-type]
    elif what == 2 and tensor.HasField("raw_data"):
        raw = bytearray(tensor.raw_data)
        cut = b.below(len(raw) + 1)
        tensor.raw_data = bytes(raw[:cut]) if b.below(2) else bytes(raw) + bytes(b.below(9))
    elif what == 3 and tensor.HasField("raw_data") and tensor.raw_data:
        raw = bytearray(tensor.raw_data)
        for _ in range(1 + b.below(8)):
            raw[b.below(len(raw))] = b.byte()
        tensor.raw_data = bytes(raw)
    elif what == 4:
        tensor.data_location = onnx.TensorProto.EXTERNAL
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "missing.bin"
    elif what == 5:
        tensor.ClearField("raw_data")
        tensor.float_data.extend([1.0] * b.below(9))
    elif what == 6:
        tensor.int64_data.extend([int(b.pick(INTERESTING_INTS)) for _ in range(b.below(4))])  # type: ignore[misc]
    else:
        # Same bytes, interpreted as another dtype with a consistent size when possible.
        value = numpy_helper.to_array(tensor) if tensor.data_type in (1, 6, 7) else None
        if value is not None and value.size:
            flipped = value.reshape(-1).copy()
            flipped[b.below(flipped.size)] = b.pick(INTERESTING_INTS[:12])  # type: ignore[index]
            tensor.CopyFrom(numpy_helper.from_array(flipped.reshape(value.shape), tensor.name))


def _mutate_node(b: Bytes, model: onnx.ModelProto) -> None:
    graph = model.graph
    if not graph.node:
        return
    node = graph.node[b.below(len(graph.node))]
    what = b.below(10)
    names = _names(model)
    if what == 0:
        node.op_type = str(b.pick(OPS))
    elif what == 1 and node.input:
        node.input[b.below(len(node.input))] = str(b.pick(names))
    elif what == 2:
        node.input.append(str(b.pick(names)))
    elif what == 3 and node.input:
        del node.input[b.below(len(node.input))]
    elif what == 4 and node.output:
        node.output[b.below(len(node.output))] = str(b.pick(names))
    elif what == 5:
        node.output.append(str(b.pick(names + ["extra"])))
    elif what == 6:
        node.domain = str(b.pick(("", "ai.onnx", "com.microsoft", "ai.onnx.ml", "custom")))
    elif what == 7:
        graph.node.remove(node)
    elif what == 8:
        copy = graph.node.add()
        copy.CopyFrom(node)
    else:
        _mutate_attribute(b, node)


def _mutate_graph(b: Bytes, model: onnx.ModelProto) -> None:
    graph = model.graph
    what = b.below(7)
    if what == 0 and len(graph.node) > 1:
        i, j = b.below(len(graph.node)), b.below(len(graph.node))
        a, c = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(graph.node[i])
        c.CopyFrom(graph.node[j])
        graph.node[i].CopyFrom(c)
        graph.node[j].CopyFrom(a)
    elif what == 1 and graph.initializer:
        _mutate_tensor(b, graph.initializer[b.below(len(graph.initializer))])
    elif what == 2:
        model.opset_import[0].version = int(b.pick((1, 6, 7, 9, 10, 11, 13, 17, 18, 21, 99)))  # type: ignore[arg-type]
    elif what == 3 and graph.output:
        graph.output[b.below(len(graph.output))].name = str(b.pick(_names(model)))
    elif what == 4:
        extra = graph.input.add()
        extra.CopyFrom(graph.input[b.below(len(graph.input))] if graph.input
                       else helper.make_tensor_value_info("z", TensorProto.FLOAT, [1]))
        if b.below(2):
            extra.name = str(b.pick(_names(model)))
    elif what == 5 and graph.initializer:
        init = graph.initializer[b.below(len(graph.initializer))]
        init.name = str(b.pick(_names(model)))
    else:
        _mutate_value_info(b, model)


def _mutate_bytes(b: Bytes, blob: bytes) -> bytes:
    data = bytearray(blob)
    for _ in range(1 + b.below(6)):
        if not data:
            break
        what, at = b.below(3), b.below(len(data))
        if what == 0:
            data[at] = b.byte()
        elif what == 1:
            del data[at:at + 1 + b.below(8)]
        else:
            data[at:at] = bytes([b.byte()])
    return bytes(data)


def build_case(data: bytes, seeds: list[onnx.ModelProto]) -> tuple[onnx.ModelProto | bytes, dict[str, list[int]] | None]:
    """The model (a ModelProto, or serialized bytes after raw edits) and input_shapes."""
    b = Bytes(data)
    model = onnx.ModelProto()
    model.CopyFrom(seeds[b.below(len(seeds))])
    for _ in range(1 + b.below(4)):
        kind = b.below(4)
        if kind == 0:
            _mutate_node(b, model)
        elif kind == 1:
            _mutate_graph(b, model)
        elif kind == 2:
            _mutate_value_info(b, model)
        else:
            _mutate_attribute(b, model.graph.node[b.below(len(model.graph.node))]) if model.graph.node else None
    # (Rare choices use the last index: an exhausted input reads as zeros.)
    shapes = None
    if b.below(6) == 5 and model.graph.input:
        vi = model.graph.input[0]
        shapes = {vi.name: [int(b.pick(INTERESTING_INTS[:10])) for _ in range(b.below(5))]}
    if b.below(8) == 7:
        return _mutate_bytes(b, model.SerializeToString()), shapes
    return model, shapes


# ---- the check --------------------------------------------------------------------------

class Finding(Exception):
    """The converter broke its contract on this input."""


class RefusedByRuntime(Finding):
    """The converter wrote a file that the runtime's loader refuses."""


def check_case(data: bytes, seeds: list[onnx.ModelProto]) -> None:
    from pocketnn.conversion import convert_model
    from pocketnn.errors import PocketnnError
    from pocketnn.runtime import Model, NativeError

    try:
        model, shapes = build_case(data, seeds)
    except Exception:  # noqa: BLE001 - onnx's helpers refuse some mutations: no case
        return
    path = None
    if isinstance(model, bytes):
        fd, path = tempfile.mkstemp(suffix=".onnx")
        with os.fdopen(fd, "wb") as f:
            f.write(model)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            packed = convert_model(path if path else model, shapes,  # type: ignore[arg-type]
                                   max_constant_elements=MAX_CONSTANT_ELEMENTS).data
    except PocketnnError as exc:
        if not str(exc).strip():
            raise Finding(f"{type(exc).__name__} without a message") from exc
        return
    except Exception as exc:
        raise Finding(f"{type(exc).__name__} escaped the converter: {exc}") from exc
    finally:
        if path:
            os.unlink(path)
    try:
        Model(packed)
    except NativeError as exc:
        if exc.status != RUNTIME_LIMIT_STATUS:
            raise RefusedByRuntime(str(exc)) from exc


# ---- drivers ----------------------------------------------------------------------------

def _alarm(signum: int, frame: object) -> None:
    raise TimeoutError(f"one case ran over {CASE_TIMEOUT_S} s")


def run_random(cases: int, seed: int, seconds: float, only: int | None = None,
               keep_going: bool = False) -> int:
    """Runs pseudo-random inputs; 0 when all pass, 1 at the first finding (or, with
    `keep_going`, after all cases when there was any)."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    seeds = seed_models()
    rng = random.Random(seed)
    start = time.monotonic()
    done = 0
    findings: dict[str, int] = {}
    for index in range(cases):
        data = rng.randbytes(rng.randrange(4, 96))
        if only is not None and index != only:
            continue
        if only is None and time.monotonic() - start > seconds:
            break
        if os.environ.get("FUZZ_CONVERTER_TRACE"):
            print(f"case {seed}:{index}", file=sys.stderr, flush=True)
        signal.alarm(CASE_TIMEOUT_S)
        try:
            check_case(data, seeds)
        except (Finding, TimeoutError, MemoryError) as exc:
            signal.alarm(0)
            key = f"{type(exc).__name__}: {str(exc)[:120]}"
            if key not in findings:
                if not keep_going:
                    traceback.print_exception(exc.__cause__ or exc)
                print(f"FINDING at --replay {seed}:{index}: {key}", flush=True)
            findings[key] = findings.get(key, 0) + 1
            if not keep_going:
                return 1
        finally:
            signal.alarm(0)
        done += 1
    print(f"{done} cases, seed {seed}, {time.monotonic() - start:.1f} s, {len(findings)} distinct "
          f"findings ({sum(findings.values())} cases)")
    return 1 if findings else 0


def run_atheris(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["pocketnn"]):
        import pocketnn.conversion  # noqa: F401
        import pocketnn.runtime  # noqa: F401
    seeds = seed_models()

    def one_input(data: bytes) -> None:
        check_case(data, seeds)

    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--random", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=float("inf"))
    parser.add_argument("--replay")
    parser.add_argument("--keep-going", action="store_true")
    args, rest = parser.parse_known_args(argv[1:])
    if args.replay:
        seed, index = (int(v) for v in args.replay.split(":"))
        return run_random(index + 1, seed, float("inf"), only=index)
    if args.random is not None:
        return run_random(args.random, args.seed, args.seconds, keep_going=args.keep_going)
    run_atheris([argv[0]] + rest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
