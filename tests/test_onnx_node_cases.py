"""The ONNX backend node test cases shipped in the onnx package, for every op pocketnn
supports.

pocketnn is a static-shape engine: integer inputs of a case (shapes, axes, pads,
indices) are made constants before conversion, as a user binds them when converting.
A case the converter refuses must be refused with UnsupportedOpError naming the
node; every case converted must match the expected outputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import pocketnn
from support import run_onnxruntime
from pocketnn.errors import UnsupportedOpError
from pocketnn.frontend.lowering import SUPPORTED_ONNX_OPS

# Folded by the converter: fine inside a case, but a case of only these has no runtime work.
_FOLDED_OPS = {"Constant"}


# Float inputs that parametrize an op (not data) are bound as constants too.
# Recurrent layers' weights (W, R, B, peepholes P) are constants in every real model;
# their initial states stay runtime inputs.
_PARAMETER_INPUTS = {"Resize": {1, 2, 3}, "Upsample": {1}, "Clip": {1, 2}, "Pad": {2},
                     "LSTM": {1, 2, 3, 7}, "GRU": {1, 2, 3}, "RNN": {1, 2, 3}}


def _parameter_names(model: onnx.ModelProto) -> set[str]:
    names = set()
    for node in model.graph.node:
        for index in _PARAMETER_INPUTS.get(node.op_type, ()):
            if index < len(node.input) and node.input[index]:
                names.add(node.input[index])
    return names


def _all_tensors(case) -> bool:
    values = list(case.model.graph.input) + list(case.model.graph.output)
    return all(v.type.HasField("tensor_type") for v in values)


def _collect() -> list:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    selected = []
    for case in cases:
        if case.model is None or not case.data_sets:
            continue
        ops = {n.op_type for n in case.model.graph.node if n.domain in ("", "ai.onnx")}
        if any(n.domain not in ("", "ai.onnx") for n in case.model.graph.node):
            continue
        if not _all_tensors(case):  # sequences and optionals are not tensors
            continue
        if not ops or not ops - _FOLDED_OPS <= set(SUPPORTED_ONNX_OPS) or ops <= _FOLDED_OPS:
            continue
        # pocketnn runs float32 graphs: cases about other output types are not ours.
        if not all(np.asarray(e).dtype == np.float32 for e in case.data_sets[0][1]):
            continue
        selected.append(case)
    return selected


CASES = _collect()


def _freeze_integer_inputs(case) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, _ = case.data_sets[0]
    feeds: dict[str, np.ndarray] = {}
    keep = []
    parameters = _parameter_names(model)
    for value_info, array in zip(list(model.graph.input), inputs):
        array = np.asarray(array)
        if array.dtype == np.float32 and value_info.name not in parameters:
            feeds[value_info.name] = array
            keep.append(value_info)
        else:
            model.graph.initializer.append(numpy_helper.from_array(array, value_info.name))
    del model.graph.input[:]
    model.graph.input.extend(keep)
    return model, feeds


class Tally:
    """Counts printed at the end of the session (tests/conftest.py)."""

    selected = len(CASES)
    ran = passed = refused = 0
    refused_names: list[str] = []
    onnxruntime_semantics: list[str] = []  # passed by matching onnxruntime where it departs from the reference


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case(case) -> None:
    model, feeds = _freeze_integer_inputs(case)
    _, expected_outputs = case.data_sets[0]
    try:
        packed = pocketnn.convert(model, input_shapes={k: v.shape for k, v in feeds.items()})
    except UnsupportedOpError as exc:
        node_names = ({n.name for n in model.graph.node} | {n.op_type for n in model.graph.node}
                      | {i.name for i in model.graph.input})
        assert any(name and name in str(exc) for name in node_names), str(exc)
        Tally.refused += 1
        Tally.refused_names.append(case.name)
        return
    Tally.ran += 1
    outputs = pocketnn.Model(packed).run(feeds)
    rtol, atol = max(case.rtol, 1e-4), max(case.atol, 1e-5)
    actual = [outputs[v.name] for v in case.model.graph.output]
    expected = [np.asarray(e) for e in expected_outputs]
    if not _all_close(actual, expected, rtol, atol):
        # The reference data comes from onnx's Python reference, which disagrees with
        # onnxruntime in a few corners (e.g. align_corners with fractional scales).
        # pocketnn follows onnxruntime: accept only an exact onnxruntime match there.
        theirs = run_onnxruntime(model, feeds)
        assert not _all_close(theirs, expected, rtol, atol), "onnxruntime matches the reference; pocketnn does not"
        assert _all_close(actual, theirs, rtol, atol), "pocketnn matches neither the reference nor onnxruntime"
        Tally.onnxruntime_semantics.append(case.name)
    Tally.passed += 1


def _all_close(actual: list[np.ndarray], expected: list[np.ndarray], rtol: float, atol: float) -> bool:
    return all(a.shape == e.shape and np.allclose(a, e, rtol=rtol, atol=atol) for a, e in zip(actual, expected))
