"""rotate_column_conv: a [kh, 1] convolution over a width-1 input runs as a [1, kh] one
over the same bytes; the converted model matches onnxruntime, and the pass leaves
convolutions it cannot rotate as they are."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from pocketnn.frontend import import_onnx
from pocketnn.passes import rotate_column_conv
from support import assert_matches_onnxruntime, make_model

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("attrs, groups", [
    ({}, 1),
    ({"pads": [2, 0, 1, 0], "strides": [2, 1]}, 1),
    ({"dilations": [3, 1], "pads": [1, 0, 3, 0]}, 1),
    ({"pads": [1, 0, 1, 0]}, 3),
])
def test_rotated_column_conv_matches_onnxruntime(attrs: dict, groups: int) -> None:
    w = RNG.standard_normal((6, 9 // groups, 5, 1)).astype(np.float32)
    b = RNG.standard_normal(6).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], group=groups, **attrs),
             helper.make_node("Relu", ["c"], ["y"])]
    model = make_model(nodes, {"x": [2, 9, 23, 1]}, ["y"], {"w": w, "b": b})
    rotated = rotate_column_conv(import_onnx(model))
    assert [n.op for n in rotated.nodes] == ["Reshape", "Conv", "Reshape", "Relu"]
    conv = rotated.nodes[1]
    assert rotated.tensors[conv.inputs[0]].shape == (2, 9, 1, 23)
    assert rotated.tensors[conv.inputs[1]].shape == (6, 9 // groups, 1, 5)
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize("x_shape, w_shape, pads", [
    ([1, 4, 8, 3], (5, 4, 3, 1), [0, 0, 0, 0]),  # wider than one column
    ([1, 4, 8, 1], (5, 4, 1, 1), [0, 0, 0, 0]),  # 1x1: nothing to gain
    ([1, 4, 8, 1], (5, 4, 3, 1), [0, 1, 0, 1]),  # padded across the width
])
def test_other_convs_stay(x_shape: list[int], w_shape: tuple[int, ...], pads: list[int]) -> None:
    w = RNG.standard_normal(w_shape).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"], pads=pads)], {"x": x_shape}, ["y"], {"w": w})
    assert [n.op for n in rotate_column_conv(import_onnx(model)).nodes] == ["Conv"]
    assert_matches_onnxruntime(model)
