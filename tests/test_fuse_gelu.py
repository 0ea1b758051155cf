"""passes.fuse_gelu: the exact GELU written out as Div/Mul, Erf, Add and two Muls (as
PyTorch exports F.gelu before opset 20, and pipecat-ai 1.14.0's smart-turn encoder has it)
becomes one Gelu node, and the converted model still matches onnxruntime on the original
graph."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import helper
from pocketnn.frontend import import_onnx
from pocketnn.passes import fuse_gelu
from support import make_model, run_onnxruntime, run_pocketnn

SCALARS = {"sqrt2": np.float32(math.sqrt(2.0)), "inv_sqrt2": np.float32(1 / math.sqrt(2.0)),
           "one": np.float32(1.0), "half": np.float32(0.5)}


def gelu_model(order: str, scale: str = "div", half: str = "half", extra_output: str | None = None) -> onnx.ModelProto:
    """y = GELU(x) in one of the three Mul orders, with x / sqrt(2) as Div or as Mul."""
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["s"]) if scale == "div"
             else helper.make_node("Mul", ["inv_sqrt2", "x"], ["s"]),
             helper.make_node("Erf", ["s"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["c"])]
    if order == "x*(0.5*c)":
        nodes += [helper.make_node("Mul", [half, "c"], ["h"]), helper.make_node("Mul", ["x", "h"], ["y"])]
    elif order == "(x*c)*0.5":
        nodes += [helper.make_node("Mul", ["c", "x"], ["h"]), helper.make_node("Mul", ["h", half], ["y"])]
    else:  # (x*0.5)*c
        nodes += [helper.make_node("Mul", ["x", half], ["h"]), helper.make_node("Mul", ["h", "c"], ["y"])]
    consts = dict(SCALARS, not_half=np.float32(0.6))
    return make_model(nodes, {"x": [2, 37]}, ["y"] + ([extra_output] if extra_output else []), consts)


@pytest.mark.parametrize("scale", ["div", "mul"])
@pytest.mark.parametrize("order", ["x*(0.5*c)", "(x*c)*0.5", "(x*0.5)*c"])
def test_written_out_gelu_becomes_one_node_and_matches_onnxruntime(order: str, scale: str) -> None:
    model = gelu_model(order, scale)
    fused = fuse_gelu(import_onnx(model))
    assert [n.op for n in fused.nodes] == ["Gelu"]
    assert fused.nodes[0].inputs == ["x"] and fused.nodes[0].outputs == ["y"]
    x = {"x": np.random.default_rng(3).uniform(-6, 6, (2, 37)).astype(np.float32)}
    np.testing.assert_allclose(run_pocketnn(model, x)[0], run_onnxruntime(model, x)[0], rtol=1e-5, atol=1e-6)


def test_not_fused_when_a_constant_differs_or_an_intermediate_is_read_elsewhere() -> None:
    wrong_half = fuse_gelu(import_onnx(gelu_model("x*(0.5*c)", half="not_half")))
    assert "Gelu" not in [n.op for n in wrong_half.nodes]
    for order in ("x*(0.5*c)", "(x*c)*0.5", "(x*0.5)*c"):
        shared = fuse_gelu(import_onnx(gelu_model(order, extra_output="h")))
        assert "Gelu" not in [n.op for n in shared.nodes], order
    erf_read = fuse_gelu(import_onnx(gelu_model("(x*c)*0.5", extra_output="e")))
    assert [n.op for n in erf_read.nodes] == ["Div", "Erf", "Add", "Mul", "Mul"]
