"""onnxruntime's com.microsoft transformer operators (what its transformer optimizer
fuses BERT/GPT graphs into), rewritten by frontend/contrib_ops.py, against onnxruntime's
own kernels for them."""

from __future__ import annotations

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.errors import UnsupportedOpError
from support import run_onnxruntime

BATCH, SEQ, HIDDEN, HEADS = 2, 7, 24, 3
MS = "com.microsoft"


def contrib_model(nodes: list[onnx.NodeProto], inputs: dict[str, list[int]], outputs: list[str],
                  inits: dict[str, np.ndarray], opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "contrib", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    return model


def check(model: onnx.ModelProto, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    rng = np.random.default_rng(3)
    feeds = {vi.name: rng.standard_normal([d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(np.float32)
             for vi in model.graph.input}
    runtime = pocketnn.Model(pocketnn.convert(model))
    ours = runtime.run(feeds)
    for output, expected in zip(model.graph.output, run_onnxruntime(model, feeds)):
        np.testing.assert_allclose(ours[output.name], expected, rtol=rtol, atol=atol, err_msg=output.name)


def _rand(*shape: int, scale: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(sum(shape)).standard_normal(shape) * scale).astype(np.float32)


@pytest.mark.parametrize("op", ["Gelu", "FastGelu", "BiasGelu", "QuickGelu"])
def test_gelu_family(op: str) -> None:
    inputs = ["x"] if op in ("Gelu", "QuickGelu") else ["x", "bias"]
    inits = {} if op in ("Gelu", "QuickGelu") else {"bias": _rand(HIDDEN)}
    node = helper.make_node(op, inputs, ["y"], domain=MS, name=op.lower())
    check(contrib_model([node], {"x": [BATCH, SEQ, HIDDEN]}, ["y"], inits))


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("with_bias", [False, True])
def test_skip_layer_normalization(opset: int, with_bias: bool) -> None:
    """Before opset 17 it becomes the LayerNormalization formula op by op."""
    inputs = ["x", "skip", "gamma", "beta"] + (["bias"] if with_bias else [])
    inits = {"gamma": 1 + _rand(HIDDEN), "beta": _rand(HIDDEN)} | ({"bias": _rand(HIDDEN)} if with_bias else {})
    node = helper.make_node("SkipLayerNormalization", inputs, ["y", "", "", "sum"], domain=MS, epsilon=1e-5,
                            name="sln")
    model = contrib_model([node], {"x": [BATCH, SEQ, HIDDEN], "skip": [BATCH, SEQ, HIDDEN]}, ["y", "sum"],
                          inits, opset)
    check(model)


def test_rms_norms() -> None:
    nodes = [helper.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"], ["a"], domain=MS,
                              epsilon=1e-6, name="skip_rms"),
             helper.make_node("SimplifiedLayerNormalization", ["a", "gamma"], ["y"], epsilon=1e-6,
                              axis=-1, name="rms")]
    check(contrib_model(nodes, {"x": [BATCH, SEQ, HIDDEN], "skip": [BATCH, SEQ, HIDDEN]}, ["y"],
                        {"gamma": 1 + _rand(HIDDEN)}))


@pytest.mark.parametrize("unidirectional", [0, 1])
@pytest.mark.parametrize("masked", [False, True])
def test_attention(unidirectional: int, masked: bool) -> None:
    inits = {"w": _rand(HIDDEN, 3 * HIDDEN), "b": _rand(3 * HIDDEN)}
    inputs = ["x", "w", "b"]
    if masked:
        mask = np.ones((BATCH, SEQ), np.int32)
        mask[0, 5:] = 0  # the first sequence is padded after 5 tokens
        inits["mask"] = mask
        inputs.append("mask")
    node = helper.make_node("Attention", inputs, ["y"], domain=MS, num_heads=HEADS,
                            unidirectional=unidirectional, name="attn")
    model = contrib_model([node], {"x": [BATCH, SEQ, HIDDEN]}, ["y"], {})
    model.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in inits.items())
    check(model)


def test_attention_with_own_scale_and_qkv_sizes() -> None:
    sizes = [HIDDEN, HIDDEN, 2 * HIDDEN]
    node = helper.make_node("Attention", ["x", "w", "b"], ["y"], domain=MS, num_heads=HEADS, scale=0.3,
                            qkv_hidden_sizes=sizes, name="attn")
    check(contrib_model([node], {"x": [BATCH, SEQ, HIDDEN]}, ["y"],
                        {"w": _rand(HIDDEN, sum(sizes)), "b": _rand(sum(sizes))}))


def test_runtime_mask_is_refused_naming_the_node() -> None:
    node = helper.make_node("Attention", ["x", "w", "b", "mask"], ["y"], domain=MS, num_heads=HEADS, name="attn")
    model = contrib_model([node], {"x": [BATCH, SEQ, HIDDEN]}, ["y"],
                          {"w": _rand(HIDDEN, 3 * HIDDEN), "b": _rand(3 * HIDDEN)})
    model.graph.input.append(helper.make_tensor_value_info("mask", TensorProto.INT32, [BATCH, SEQ]))
    with pytest.raises(UnsupportedOpError, match="attn"):
        pocketnn.convert(model)


def encoder_block(seq: int = 16, hidden: int = 64, heads: int = 4) -> onnx.ModelProto:
    """A pre-norm transformer encoder block in plain opset-13 ONNX, written the way
    PyTorch exports it (LayerNorm and erf-Gelu op by op), for onnxruntime's fusions."""
    rng = np.random.default_rng(0)
    inits: dict[str, np.ndarray] = {}
    nodes: list[onnx.NodeProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits[name] = np.asarray(value, np.float32) if np.asarray(value).dtype.kind == "f" else value
        return name

    def weight(name: str, *shape: int) -> str:
        return const(name, (rng.standard_normal(shape) * 0.2).astype(np.float32))

    def node(op: str, inputs: list[str], out: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def layer_norm(x: str, p: str) -> str:
        mean = node("ReduceMean", [x], p + "mean", axes=[-1])
        centered = node("Sub", [x, mean], p + "centered")
        var = node("ReduceMean", [node("Pow", [centered, const(p + "two", np.array(2.0))], p + "sq")], p + "var",
                   axes=[-1])
        std = node("Sqrt", [node("Add", [var, const(p + "eps", np.array(1e-5))], p + "var_eps")], p + "std")
        scaled = node("Mul", [node("Div", [centered, std], p + "normed"), const(p + "g", 1 + rng.standard_normal(hidden) * 0.1)],
                      p + "scaled")
        return node("Add", [scaled, weight(p + "b", hidden)], p + "out")

    def linear(x: str, p: str, k: int, n: int) -> str:
        return node("Add", [node("MatMul", [x, weight(p + "w", k, n)], p + "mm"), weight(p + "bias", n)], p + "out")

    def split_heads(x: str, p: str, perm: list[int]) -> str:
        shaped = node("Reshape", [x, const(p + "shape", np.array([1, seq, heads, hidden // heads], np.int64))], p + "r")
        return node("Transpose", [shaped], p + "t", perm=perm)

    h = layer_norm("x", "ln1_")
    qkv = linear(h, "qkv_", hidden, 3 * hidden)
    parts = []
    for i, name in enumerate("qkv"):
        parts.append(node("Slice", [qkv, const(f"{name}_s", np.array([i * hidden], np.int64)),
                                    const(f"{name}_e", np.array([(i + 1) * hidden], np.int64)),
                                    const(f"{name}_a", np.array([2], np.int64))], name))
    q = split_heads(parts[0], "qh", [0, 2, 1, 3])
    k = split_heads(parts[1], "kh", [0, 2, 3, 1])
    v = split_heads(parts[2], "vh", [0, 2, 1, 3])
    scores = node("Div", [node("MatMul", [q, k], "qk"), const("sqrt_d", np.array(np.sqrt(hidden // heads)))], "scores")
    probs = node("Softmax", [scores], "probs", axis=3)
    context = node("Transpose", [node("MatMul", [probs, v], "ctx0")], "ctx1", perm=[0, 2, 1, 3])
    context = node("Reshape", [context, const("ctx_shape", np.array([1, seq, hidden], np.int64))], "ctx")
    residual = node("Add", ["x", linear(context, "o_", hidden, hidden)], "res")
    f = linear(layer_norm(residual, "ln2_"), "f1_", hidden, 4 * hidden)
    erf = node("Erf", [node("Div", [f, const("sqrt2", np.array(np.sqrt(2.0)))], "f_s")], "erf")
    gelu = node("Mul", [node("Mul", [f, node("Add", [erf, const("one", np.array(1.0))], "erf1")], "f_e"),
                        const("half", np.array(0.5))], "gelu")
    node("Add", [residual, linear(gelu, "f2_", 4 * hidden, hidden)], "y")
    graph = helper.make_graph(nodes, "encoder", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, hidden])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, hidden])],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _ort_graph_optimized(model: onnx.ModelProto, path) -> onnx.ModelProto:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(path)
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return onnx.load(str(path))


def _ort_transformer_optimized(model: onnx.ModelProto, tmp_path) -> onnx.ModelProto:
    from onnxruntime.transformers import optimizer

    onnx.save(model, tmp_path / "plain.onnx")
    optimized = optimizer.optimize_model(str(tmp_path / "plain.onnx"), model_type="bert", num_heads=4,
                                         hidden_size=64, opt_level=0)
    optimized.save_model_to_file(str(tmp_path / "bert.onnx"))
    return onnx.load(str(tmp_path / "bert.onnx"))


@pytest.mark.parametrize("route", ["graph_optimizer", "transformer_optimizer"])
def test_models_fused_by_onnxruntime_convert_and_match(route: str, tmp_path) -> None:
    """onnxruntime's own fusions of an encoder block (level-2 graph optimization: Gelu,
    FusedMatMul, LayerNormalization in an opset-13 model; the transformer optimizer:
    SkipLayerNormalization, BiasGelu) convert and match onnxruntime."""
    plain = encoder_block()
    fused = _ort_graph_optimized(plain, tmp_path / "opt.onnx") if route == "graph_optimizer" \
        else _ort_transformer_optimized(plain, tmp_path)
    contrib = {n.op_type for n in fused.graph.node if n.domain == MS}
    assert contrib, "onnxruntime fused nothing into its contrib ops: the test would prove nothing"
    check(fused, rtol=1e-4, atol=3e-5)
