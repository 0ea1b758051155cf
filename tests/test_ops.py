"""Every supported op against onnxruntime on random inputs, including broadcasting
and edge shapes. Each case is a one-node model (weights as constants unless said)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
import pocketnn
import pytest

from support import assert_matches_onnxruntime, random_feeds, single_node_model

rng = np.random.default_rng(1234)


def w(*shape: int, scale: float = 0.5) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def f32(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


M = single_node_model
CASES: dict[str, Callable[[], onnx.ModelProto]] = {
    # Convolutions: 1x1, 3x3, depthwise, groups, strides, dilations, pads, auto_pad, 1-D.
    "conv_1x1": lambda: M("Conv", [("x", (1, 16, 7, 9)), ("w", w(24, 16, 1, 1)), ("b", w(24))]),
    "conv_3x3_pad": lambda: M("Conv", [("x", (1, 5, 11, 13)), ("w", w(7, 5, 3, 3)), ("b", w(7))], pads=[1, 1, 1, 1]),
    "conv_3x3_stride2": lambda: M("Conv", [("x", (2, 3, 15, 16)), ("w", w(8, 3, 3, 3))], strides=[2, 2], pads=[1, 1, 1, 1]),
    "conv_7x7_stride2": lambda: M("Conv", [("x", (1, 3, 32, 32)), ("w", w(16, 3, 7, 7))], strides=[2, 2], pads=[3, 3, 3, 3]),
    "conv_dilation": lambda: M("Conv", [("x", (1, 4, 13, 12)), ("w", w(6, 4, 3, 3))], dilations=[2, 3], pads=[2, 1, 0, 3]),
    "conv_depthwise_s1": lambda: M("Conv", [("x", (1, 17, 19, 21)), ("w", w(17, 1, 3, 3)), ("b", w(17))], group=17, pads=[1, 1, 1, 1]),
    "conv_depthwise_s2": lambda: M("Conv", [("x", (1, 32, 28, 27)), ("w", w(32, 1, 3, 3))], group=32, strides=[2, 2], pads=[1, 1, 1, 1]),
    "conv_depthwise_5x5": lambda: M("Conv", [("x", (1, 8, 10, 10)), ("w", w(8, 1, 5, 5))], group=8, pads=[2, 2, 2, 2]),
    "conv_grouped": lambda: M("Conv", [("x", (1, 12, 9, 9)), ("w", w(18, 4, 3, 3))], group=3),
    # Few pixels, channels in 32s: output channels across the vector lanes (AVX-512).
    "conv_1x1_channel_lanes": lambda: M("Conv", [("x", (1, 160, 7, 7)), ("w", w(96, 160, 1, 1)), ("b", w(96))]),
    "conv_3x3_s2_channel_lanes": lambda: M("Conv", [("x", (2, 32, 14, 13)), ("w", w(64, 32, 3, 3)), ("b", w(64))],
                                          strides=[2, 2], pads=[1, 1, 1, 1]),
    "conv_1x1_channel_lanes_tail": lambda: M("Conv", [("x", (1, 130, 3, 5)), ("w", w(33, 130, 1, 1))]),
    # X read in place by the channel-lane GEMM (128 pixels and more): per group and image,
    # and with pixel and channel tails.
    "conv_1x1_channel_lanes_groups": lambda: M("Conv", [("x", (2, 256, 12, 12)), ("w", w(64, 128, 1, 1)),
                                                        ("b", w(64))], group=2),
    "conv_1x1_channel_lanes_in_place": lambda: M("Conv", [("x", (1, 130, 11, 13)), ("w", w(63, 130, 1, 1))]),
    "conv_depth_multiplier": lambda: M("Conv", [("x", (1, 4, 9, 9)), ("w", w(8, 1, 3, 3))], group=4),
    "conv_same_upper": lambda: M("Conv", [("x", (1, 3, 10, 11)), ("w", w(4, 3, 3, 3))], strides=[2, 2], auto_pad="SAME_UPPER"),
    "conv_same_lower": lambda: M("Conv", [("x", (1, 3, 10, 11)), ("w", w(4, 3, 4, 4))], strides=[2, 2], auto_pad="SAME_LOWER"),
    "conv_valid": lambda: M("Conv", [("x", (1, 3, 10, 11)), ("w", w(4, 3, 3, 2))], auto_pad="VALID"),
    "conv_1d": lambda: M("Conv", [("x", (1, 4, 20)), ("w", w(6, 4, 3)), ("b", w(6))], pads=[1, 1], strides=[2]),
    "conv_runtime_weights": lambda: M("Conv", [("x", (1, 3, 8, 8)), ("w", (5, 3, 3, 3))], pads=[1, 1, 1, 1]),
    "conv_one_pixel": lambda: M("Conv", [("x", (1, 64, 1, 1)), ("w", w(10, 64, 1, 1))]),
    "conv_transpose": lambda: M("ConvTranspose", [("x", (1, 4, 5, 6)), ("w", w(4, 3, 3, 3)), ("b", w(3))], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 0]),
    "conv_transpose_group": lambda: M("ConvTranspose", [("x", (1, 4, 5, 5)), ("w", w(4, 2, 2, 2))], strides=[2, 2], group=2),
    "conv_transpose_output_shape": lambda: M("ConvTranspose", [("x", (1, 2, 4, 4)), ("w", w(2, 3, 3, 3))], strides=[2, 2], output_shape=[9, 9]),
    "conv_transpose_dilated": lambda: M("ConvTranspose", [("x", (1, 2, 5, 5)), ("w", w(2, 2, 3, 3))], dilations=[2, 2]),
    # Dense
    "gemm_transb": lambda: M("Gemm", [("a", (3, 17)), ("b", w(9, 17)), ("c", w(9))], transB=1),
    "gemm_alpha_beta": lambda: M("Gemm", [("a", (5, 4)), ("b", w(4, 6)), ("c", w(5, 6))], alpha=0.5, beta=2.0),
    "gemm_transa_scalar_c": lambda: M("Gemm", [("a", (4, 5)), ("b", (4, 6)), ("c", w(1))], transA=1),
    "gemm_no_c": lambda: M("Gemm", [("a", (1, 1000)), ("b", w(1000, 10))]),
    "matmul_2d": lambda: M("MatMul", [("a", (7, 13)), ("b", w(13, 5))]),
    "matmul_batched_broadcast": lambda: M("MatMul", [("a", (2, 3, 4, 5)), ("b", (3, 5, 6))]),
    "matmul_1d_left": lambda: M("MatMul", [("a", (5,)), ("b", (2, 5, 3))]),
    "matmul_1d_right": lambda: M("MatMul", [("a", (2, 4, 5)), ("b", w(5))]),
    "batchnorm": lambda: M("BatchNormalization", [("x", (2, 3, 4, 5)), ("s", w(3)), ("b", w(3)), ("m", w(3)), ("v", np.abs(w(3)) + 0.5)], epsilon=1e-3),
    # Activations
    "relu": lambda: M("Relu", [("x", (2, 3, 5))]),
    "clip_relu6": lambda: M("Clip", [("x", (1, 8, 3, 3)), ("lo", f32(0.0)), ("hi", f32(6.0))]),
    "clip_min_only": lambda: M("Clip", [("x", (4, 5)), ("lo", f32(-0.5)), ("", None)]),
    "leaky_relu": lambda: M("LeakyRelu", [("x", (3, 7))], alpha=0.2),
    "prelu_channel": lambda: M("PRelu", [("x", (1, 4, 3, 3)), ("s", w(4, 1, 1))]),
    "sigmoid": lambda: M("Sigmoid", [("x", (2, 33))]),
    "hard_sigmoid": lambda: M("HardSigmoid", [("x", (2, 33))], alpha=0.3, beta=0.4),
    "hard_swish": lambda: M("HardSwish", [("x", (1, 3, 5, 7))], opset=17),
    "tanh": lambda: M("Tanh", [("x", (17,))]),
    "erf": lambda: M("Erf", [("x", (4, 9))]),
    "gelu": lambda: M("Gelu", [("x", (4, 9))], opset=20),
    "gelu_tanh": lambda: M("Gelu", [("x", (4, 9))], opset=20, approximate="tanh"),
    "exp": lambda: M("Exp", [("x", (3, 4))]),
    "softplus": lambda: M("Softplus", [("x", (3, 4))]),
    "elu": lambda: M("Elu", [("x", (3, 4))], alpha=0.7),
    "abs": lambda: M("Abs", [("x", (6, 5))]),
    "neg": lambda: M("Neg", [("x", (6, 5))]),
    "floor": lambda: M("Floor", [("x", (6, 5))]),
    "ceil": lambda: M("Ceil", [("x", (6, 5))]),
    "sign": lambda: M("Sign", [("x", (6, 5))]),
    "log": lambda: M("Log", [("x", (6, 5))]),  # positive inputs, below
    "reciprocal": lambda: M("Reciprocal", [("x", (6, 5))]),  # positive inputs, below
    # Binary with broadcasting (both sides, constants, scalars)
    "add_same": lambda: M("Add", [("a", (2, 3, 4)), ("b", (2, 3, 4))]),
    "add_bcast_both": lambda: M("Add", [("a", (2, 3, 1)), ("b", (1, 4))]),
    "add_const_channel": lambda: M("Add", [("a", (1, 6, 5, 5)), ("b", w(6, 1, 1))]),
    "sub_scalar_left": lambda: M("Sub", [("a", f32(1.5)), ("b", (3, 4))]),
    "mul_rank5": lambda: M("Mul", [("a", (2, 1, 3, 1, 2)), ("b", (4, 1, 5, 1))]),
    "div": lambda: M("Div", [("a", (3, 4)), ("b", np.abs(w(4)) + 0.5)]),
    "pow": lambda: M("Pow", [("a", (3, 4)), ("b", f32(2.0))]),
    "max_variadic": lambda: M("Max", [("a", (3, 4)), ("b", (4,)), ("c", (3, 1))]),
    "min": lambda: M("Min", [("a", (3, 4)), ("b", (1, 4))]),
    "sum_variadic": lambda: M("Sum", [("a", (2, 3)), ("b", (2, 3)), ("c", (3,))]),
    "sqrt": lambda: M("Sqrt", [("x", (5, 5))]),  # random inputs are made positive below
    # Pooling
    "maxpool_3x3_s2": lambda: M("MaxPool", [("x", (1, 3, 11, 12))], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "maxpool_ceil": lambda: M("MaxPool", [("x", (1, 2, 10, 10))], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    "maxpool_dilated": lambda: M("MaxPool", [("x", (1, 2, 10, 10))], kernel_shape=[2, 2], dilations=[2, 2]),
    "avgpool_include_pad": lambda: M("AveragePool", [("x", (1, 3, 9, 9))], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1),
    "avgpool_exclude_pad_ceil": lambda: M("AveragePool", [("x", (1, 3, 9, 8))], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    "avgpool_same_upper": lambda: M("AveragePool", [("x", (1, 2, 7, 7))], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER"),
    "global_avgpool": lambda: M("GlobalAveragePool", [("x", (2, 5, 7, 3))]),
    "global_maxpool": lambda: M("GlobalMaxPool", [("x", (1, 5, 4, 4))]),
    # Data movement
    "concat_axis1": lambda: M("Concat", [("a", (1, 2, 3, 3)), ("b", (1, 5, 3, 3)), ("c", w(1, 1, 3, 3))], axis=1),
    "concat_neg_axis": lambda: M("Concat", [("a", (2, 3)), ("b", (2, 4))], axis=-1),
    "split_equal": lambda: M("Split", [("x", (2, 6, 4))], n_outputs=3, axis=1, opset=17),
    "split_sizes": lambda: M("Split", [("x", (2, 7)), ("s", i64(2, 5))], n_outputs=2, axis=1, opset=17),
    "slice_steps": lambda: M("Slice", [("x", (6, 8, 5)), ("s", i64(1, -1, 0)), ("e", i64(5, -9, 100)), ("a", i64(0, 1, 2)), ("p", i64(2, -2, 1))]),
    "slice_clamped": lambda: M("Slice", [("x", (4, 10)), ("s", i64(-100)), ("e", i64(3)), ("a", i64(1))]),
    "reshape_infer": lambda: M("Reshape", [("x", (2, 3, 4)), ("s", i64(0, -1))]),
    "flatten": lambda: M("Flatten", [("x", (2, 3, 4, 5))], axis=2),
    "squeeze": lambda: M("Squeeze", [("x", (1, 3, 1, 5)), ("a", i64(0, 2))]),
    "unsqueeze": lambda: M("Unsqueeze", [("x", (3, 5)), ("a", i64(0, -1))]),
    "transpose_nchw_nhwc": lambda: M("Transpose", [("x", (2, 3, 4, 5))], perm=[0, 2, 3, 1]),
    "transpose_default": lambda: M("Transpose", [("x", (2, 3, 4))]),
    "pad_constant": lambda: M("Pad", [("x", (1, 2, 4, 5)), ("p", i64(0, 0, 1, 2, 0, 0, 3, 1)), ("v", f32(0.5))]),
    "pad_reflect": lambda: M("Pad", [("x", (1, 2, 4, 5)), ("p", i64(0, 0, 2, 1, 0, 0, 1, 3))], mode="reflect"),
    "pad_edge_negative": lambda: M("Pad", [("x", (1, 2, 4, 5)), ("p", i64(0, 0, 2, -1, 0, 0, -1, 3))], mode="edge"),
    "resize_nearest_2x": lambda: M("Resize", [("x", (1, 2, 4, 5)), ("", None), ("s", f32(1, 1, 2, 2))], mode="nearest"),
    "resize_nearest_asym_floor": lambda: M("Resize", [("x", (1, 2, 4, 5)), ("", None), ("s", f32(1, 1, 2, 3))], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
    "resize_linear_half_pixel": lambda: M("Resize", [("x", (1, 2, 4, 5)), ("", None), ("s", f32(1, 1, 2, 1.5))], mode="linear"),
    "resize_linear_align_corners_sizes": lambda: M("Resize", [("x", (1, 2, 4, 5)), ("", None), ("", None), ("z", i64(1, 2, 7, 3))], mode="linear", coordinate_transformation_mode="align_corners"),
    "resize_linear_pytorch_half_pixel": lambda: M("Resize", [("x", (1, 3, 6, 6)), ("", None), ("s", f32(1, 1, 0.5, 0.5))], mode="linear", coordinate_transformation_mode="pytorch_half_pixel"),
    "softmax_last": lambda: M("Softmax", [("x", (3, 10))]),
    "softmax_axis1": lambda: M("Softmax", [("x", (2, 5, 3))], axis=1),
    "softmax_opset11": lambda: M("Softmax", [("x", (2, 5, 3))], axis=1, opset=11),
    "log_softmax": lambda: M("LogSoftmax", [("x", (4, 6))]),
    "reduce_mean_keep": lambda: M("ReduceMean", [("x", (2, 3, 4, 5))], axes=[2, 3], keepdims=1, opset=17),
    "reduce_sum_noaxes": lambda: M("ReduceSum", [("x", (2, 3, 4)), ("a", i64(-1))], keepdims=0, opset=17),
    "reduce_max": lambda: M("ReduceMax", [("x", (2, 3, 4))], axes=[0, 2], keepdims=0, opset=17),
    "reduce_min_all": lambda: M("ReduceMin", [("x", (2, 3, 4))], keepdims=1, opset=17),
    "layer_norm": lambda: M("LayerNormalization", [("x", (2, 5, 16)), ("s", w(16)), ("b", w(16))], axis=-1, epsilon=1e-5),
    "layer_norm_axis1": lambda: M("LayerNormalization", [("x", (2, 3, 4)), ("s", w(3, 4))], axis=1),
    "gather_embedding": lambda: M("Gather", [("d", w(10, 8)), ("i", np.array([[1, 9], [-1, 0]], np.int64))], axis=0),
    "gather_axis1_runtime_data": lambda: M("Gather", [("d", (3, 7, 2)), ("i", np.array([6, 0, 2], np.int64))], axis=1),
    "lrn": lambda: M("LRN", [("x", (1, 7, 5, 4))], size=3, alpha=2e-4, beta=0.75, bias=1.5),
    "lrn_size5": lambda: M("LRN", [("x", (2, 6, 3, 3))], size=5),
    "identity": lambda: M("Identity", [("x", (3, 4))]),
    "dropout": lambda: M("Dropout", [("x", (3, 4))]),
}


POSITIVE_INPUTS = {"sqrt", "log", "reciprocal"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_onnxruntime(case: str) -> None:
    model = CASES[case]()
    low = 0.1 if case in POSITIVE_INPUTS else -2.0
    assert_matches_onnxruntime(model, random_feeds(model, low=low))


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_few_pixel_convs_take_the_channel_lane_kernel(isa: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PNN_ISA", isa)
    # 1x1 stride 1 unpadded on 128 pixels or more: X's rows in place.
    expected = {"conv_1x1_channel_lanes": "packed-channels", "conv_3x3_s2_channel_lanes": "packed-channels",
                "conv_1x1_channel_lanes_tail": "packed-channels",
                "conv_1x1_channel_lanes_groups": "packed-channels-in-place",
                "conv_1x1_channel_lanes_in_place": "packed-channels-in-place"}
    for name, path in expected.items():
        model = CASES[name]()
        shapes = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim) for v in model.graph.input
                  if v.name not in {i.name for i in model.graph.initializer}}
        try:
            kernel = pocketnn.Model(pocketnn.convert(model, input_shapes=shapes)).nodes[0].kernel
        except pocketnn.NativeError as error:
            pytest.skip(f"ISA path {isa!r} not run on this host: {error.message}")
        assert kernel == f"{path}/{isa}", (name, kernel)
