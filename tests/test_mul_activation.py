"""Mul with a fused activation (format 1.14): Swish after a dequantizing scale Mul, as
onnxruntime's quantize_dynamic writes it (Add -> Cast -> Mul(scale) -> Sigmoid -> Mul in
ddddocr), becomes one Mul with act swish; the runtime's result is checked against
onnxruntime on the original graph for each broadcast form of the scale, and both readers
refuse such a Mul in a file stamped 1.13."""

from __future__ import annotations

import struct

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import helper
from pocketnn.format import spec
from pocketnn.format.opcodes import ACTIVATIONS
from pocketnn.format.reader import PnnFormatError, read_pnn
from support import make_model, run_onnxruntime
from test_format import fix_checksum

RNG = np.random.default_rng(1214)
SHAPE = (1, 6, 5, 7)
# The scale as a scalar, per channel and full-size: each row form of the binary op.
SCALES = {"scalar": (), "per_channel": (6, 1, 1), "full": SHAPE}


def _swish_after_scale(scale_shape: tuple[int, ...]) -> onnx.ModelProto:
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]),
             helper.make_node("Mul", ["sum", "scale"], ["x"]),
             helper.make_node("Sigmoid", ["x"], ["s"]),
             helper.make_node("Mul", ["x", "s"], ["y"])]
    scale = RNG.uniform(0.5, 2.0, scale_shape).astype(np.float32)
    return make_model(nodes, {"a": SHAPE, "b": SHAPE}, ["y"], {"scale": scale})


def _feeds() -> dict[str, np.ndarray]:
    return {name: RNG.normal(0, 3, SHAPE).astype(np.float32) for name in ("a", "b")}


@pytest.mark.parametrize("form", SCALES)
def test_swish_fuses_into_the_scale_mul(form: str) -> None:
    model = _swish_after_scale(SCALES[form])
    packed = pocketnn.convert(model)
    parsed = read_pnn(packed)
    assert [node.op for node in parsed.nodes] == ["Add", "Mul"]
    assert parsed.nodes[1].attrs["act"] == ACTIVATIONS["swish"]
    assert parsed.header.version_minor == spec.MINOR_MUL_ACTIVATION
    feeds = _feeds()
    got = pocketnn.Model(packed).run(feeds)["y"]
    np.testing.assert_allclose(got, run_onnxruntime(model, feeds)[0], rtol=1e-5, atol=1e-5)


def test_a_file_without_a_mul_activation_keeps_its_version() -> None:
    model = make_model([helper.make_node("Mul", ["a", "b"], ["y"])], {"a": SHAPE, "b": SHAPE}, ["y"])
    assert read_pnn(pocketnn.convert(model)).header.version_minor < spec.MINOR_MUL_ACTIVATION


def test_a_mul_activation_in_a_file_stamped_before_1_14_is_refused() -> None:
    packed = bytearray(pocketnn.convert(_swish_after_scale(())))
    struct.pack_into("<H", packed, 6, spec.MINOR_MUL_ACTIVATION - 1)
    message = r"\(Mul\) has a fused activation, which a version 1\.13 file cannot hold"
    with pytest.raises(pocketnn.NativeError, match=message):
        pocketnn.Model(fix_checksum(packed))
    with pytest.raises(PnnFormatError, match=message):
        read_pnn(fix_checksum(packed))
