"""The ONNX backend node test cases shipped in the onnx package, for every op pocketnn
supports.

pocketnn is a static-shape engine: integer inputs of a case that parametrize an op
(shapes, axes, pads, repeats, K) are made constants before conversion, as a user binds
them when converting; integer and bool inputs that are data (compared, gathered with,
cast, selected by Where...) stay runtime inputs. Cases whose inputs and outputs have
dtypes a runtime value can have (float32, float16, int8, uint8, int32, int64, bool) are
selected. A case the converter refuses must be listed in REFUSED with the reason and be
refused with UnsupportedOpError naming the node; every case converted must match the
expected outputs (integer and bool outputs exactly).
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import pocketnn
from support import run_onnxruntime
from pocketnn.errors import ModelError, UnsupportedOpError
from pocketnn.frontend.lowering import SUPPORTED_ONNX_OPS

# Folded by the converter: fine inside a case, but a case of only these has no runtime work.
_FOLDED_OPS = {"Constant"}


# Float inputs that parametrize an op (not data) are bound as constants too.
# Recurrent layers' weights (W, R, B, peepholes P) are constants in every real model;
# their initial states stay runtime inputs.
_PARAMETER_INPUTS = {"Resize": {1, 2, 3}, "Upsample": {1}, "Clip": {1, 2}, "Pad": {2}, "Range": {0, 1, 2},
                     "LSTM": {1, 2, 3, 7}, "GRU": {1, 2, 3}, "RNN": {1, 2, 3}}


# Where an integer or bool graph input is data, not a parameter: it stays a runtime input
# when every node reading it reads it at one of these positions (None: any position).
_ELEMENTWISE = ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Add",
                "Sub", "Mul", "Div", "Max", "Min", "Sum", "Where", "Concat")
_DATA_POSITION_OPS = ("Not", "Cast", "CastLike", "ArgMax", "ArgMin", "CumSum", "Expand", "Tile", "TopK",
                      "Identity", "Reshape", "Transpose", "Slice", "Split", "Squeeze", "Unsqueeze",
                      "Flatten")
_DATA_INPUTS: dict[str, set[int] | None] = {**{op: None for op in _ELEMENTWISE},
                                            **{op: {0} for op in _DATA_POSITION_OPS}, "Gather": {0, 1},
                                            # u8 activations and their zero points (weights are constants).
                                            "ConvInteger": {0, 2}, "MatMulInteger": {0, 2},
                                            "DynamicQuantizeLinear": {0}}
# dtypes a pocketnn runtime value may have.
_VALUE_DTYPES = {np.dtype(t) for t in (np.float32, np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_)}


def _parameter_names(model: onnx.ModelProto) -> set[str]:
    names = set()
    for node in model.graph.node:
        for index in _PARAMETER_INPUTS.get(node.op_type, ()):
            if index < len(node.input) and node.input[index]:
                names.add(node.input[index])
    return names


def _runtime_data_names(model: onnx.ModelProto) -> set[str]:
    """Graph inputs that every reader reads as data (see _DATA_INPUTS)."""
    verdict: dict[str, bool] = {}
    for node in model.graph.node:
        positions = _DATA_INPUTS.get(node.op_type, set())
        for index, name in enumerate(node.input):
            is_data = positions is None or index in positions
            verdict[name] = verdict.get(name, True) and is_data
    return {name for name, is_data in verdict.items() if is_data}


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
        # Cases about types no runtime value has (float64, strings, bfloat16...) are not ours.
        if not all(np.asarray(e).dtype in _VALUE_DTYPES for e in case.data_sets[0][1]):
            continue
        selected.append(case)
    return selected


CASES = _collect()

# Every case the converter refuses, with the reason (a refusal is not a pass: the test
# fails when a case not listed is refused, or a listed one converts).
_SPATIAL_3D = "3-D pooling/convolution: pocketnn has 1-D and 2-D spatial kernels"
_TRAINING = "training mode: pocketnn is inference only"
_TRAINING_OUTPUT = "a training-only output (Dropout mask, LayerNormalization Mean/InvStdDev)"
_MAXPOOL_INDICES = "MaxPool's Indices output"
_ZERO_SIZED = "zero-sized tensors: the .pnn format needs every dim >= 1"
_RESIZE_MODE = "Resize cubic, tf_crop_and_resize, downsampling antialias or keep_aspect_ratio_policy"
_INT_POW = "Pow of an integer base: the runtime's Pow is float32"
_SCAN_8 = "Scan-8 (batched, with sequence_lens): Scan is unrolled from opset 9 on"
_RUNTIME_TRIP_COUNT = ("Range expanded into a Loop whose trip count is computed from runtime inputs: "
                       "loops are unrolled at convert time only with a static trip count")
_OPSET_1 = "an opset-1 model: pocketnn reads opset 7 and later (refused with ModelError naming the opset)"
REFUSED: dict[str, str] = {
    "test_averagepool_3d_default": _SPATIAL_3D,
    "test_averagepool_3d_dilations_small": _SPATIAL_3D,
    "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True": _SPATIAL_3D,
    "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False": _SPATIAL_3D,
    "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True": _SPATIAL_3D,
    "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False": _SPATIAL_3D,
    "test_batchnorm_example_training_mode": _TRAINING,
    "test_batchnorm_epsilon_training_mode": _TRAINING,
    "test_convtranspose_3d": _SPATIAL_3D,
    "test_dropout_default_mask": _TRAINING_OUTPUT,
    "test_dropout_default_mask_ratio": _TRAINING_OUTPUT,
    "test_training_dropout_default": _TRAINING,
    "test_training_dropout_default_mask": _TRAINING_OUTPUT,
    "test_training_dropout": _TRAINING,
    "test_training_dropout_mask": _TRAINING_OUTPUT,
    "test_training_dropout_zero_ratio": _TRAINING,
    "test_training_dropout_zero_ratio_mask": _TRAINING_OUTPUT,
    "test_layer_normalization_4d_axis0": _TRAINING_OUTPUT,
    "test_layer_normalization_4d_axis_negative_4": _TRAINING_OUTPUT,
    "test_layer_normalization_4d_axis1": _TRAINING_OUTPUT,
    "test_layer_normalization_4d_axis_negative_3": _TRAINING_OUTPUT,
    "test_layer_normalization_4d_axis2": _TRAINING_OUTPUT,
    "test_layer_normalization_4d_axis_negative_2": _TRAINING_OUTPUT,
    "test_layer_normalization_4d_axis3": _TRAINING_OUTPUT,
    "test_layer_normalization_4d_axis_negative_1": _TRAINING_OUTPUT,
    "test_layer_normalization_default_axis": _TRAINING_OUTPUT,
    "test_layer_normalization_2d_axis0": _TRAINING_OUTPUT,
    "test_layer_normalization_2d_axis_negative_2": _TRAINING_OUTPUT,
    "test_layer_normalization_2d_axis1": _TRAINING_OUTPUT,
    "test_layer_normalization_2d_axis_negative_1": _TRAINING_OUTPUT,
    "test_layer_normalization_3d_axis0_epsilon": _TRAINING_OUTPUT,
    "test_layer_normalization_3d_axis_negative_3_epsilon": _TRAINING_OUTPUT,
    "test_layer_normalization_3d_axis1_epsilon": _TRAINING_OUTPUT,
    "test_layer_normalization_3d_axis_negative_2_epsilon": _TRAINING_OUTPUT,
    "test_layer_normalization_3d_axis2_epsilon": _TRAINING_OUTPUT,
    "test_layer_normalization_3d_axis_negative_1_epsilon": _TRAINING_OUTPUT,
    "test_maxpool_with_argmax_2d_precomputed_pads": _MAXPOOL_INDICES,
    "test_maxpool_with_argmax_2d_precomputed_strides": _MAXPOOL_INDICES,
    "test_maxpool_3d_default": _SPATIAL_3D,
    "test_maxpool_3d_dilations": _SPATIAL_3D,
    "test_maxpool_3d_dilations_use_ref_impl": _SPATIAL_3D,
    "test_maxpool_3d_dilations_use_ref_impl_large": _SPATIAL_3D,
    "test_reduce_log_sum_empty_set_expanded": _ZERO_SIZED,
    "test_reduce_log_sum_exp_empty_set_expanded": _ZERO_SIZED,
    "test_reduce_l1_empty_set_expanded": _ZERO_SIZED,
    "test_reduce_l2_empty_set_expanded": _ZERO_SIZED,
    "test_reduce_max_empty_set": _ZERO_SIZED,
    "test_reduce_min_empty_set": _ZERO_SIZED,
    "test_reduce_sum_empty_set": _ZERO_SIZED,
    "test_reduce_sum_empty_set_non_reduced_axis_zero": _ZERO_SIZED,
    "test_reduce_sum_square_empty_set_expanded": _ZERO_SIZED,
    "test_reshape_allowzero_reordered": _ZERO_SIZED,
    "test_resize_upsample_scales_cubic": _RESIZE_MODE,
    "test_resize_upsample_scales_cubic_align_corners": _RESIZE_MODE,
    "test_resize_downsample_scales_cubic": _RESIZE_MODE,
    "test_resize_downsample_scales_cubic_align_corners": _RESIZE_MODE,
    "test_resize_upsample_sizes_cubic": _RESIZE_MODE,
    "test_resize_downsample_sizes_cubic": _RESIZE_MODE,
    "test_resize_upsample_scales_cubic_A_n0p5_exclude_outside": _RESIZE_MODE,
    "test_resize_downsample_scales_cubic_A_n0p5_exclude_outside": _RESIZE_MODE,
    "test_resize_upsample_scales_cubic_asymmetric": _RESIZE_MODE,
    "test_resize_tf_crop_and_resize": _RESIZE_MODE,
    "test_resize_tf_crop_and_resize_extrapolation_value": _RESIZE_MODE,
    "test_resize_downsample_scales_linear_antialias": _RESIZE_MODE,
    "test_resize_downsample_sizes_linear_antialias": _RESIZE_MODE,
    "test_resize_downsample_scales_cubic_antialias": _RESIZE_MODE,
    "test_resize_downsample_sizes_cubic_antialias": _RESIZE_MODE,
    "test_resize_tf_crop_and_resize_axes_2_3": _RESIZE_MODE,
    "test_resize_tf_crop_and_resize_axes_3_2": _RESIZE_MODE,
    "test_resize_upsample_sizes_nearest_not_larger": _RESIZE_MODE,
    "test_resize_upsample_sizes_nearest_not_smaller": _RESIZE_MODE,
    "test_resize_downsample_sizes_nearest_not_larger": _RESIZE_MODE,
    "test_resize_downsample_sizes_nearest_not_smaller": _RESIZE_MODE,
    "test_slice_start_out_of_bounds": _ZERO_SIZED,
    "test_split_zero_size_splits_opset13": _ZERO_SIZED,
    "test_split_zero_size_splits_opset18": _ZERO_SIZED,
    "test_pow_types_int64_float32": _INT_POW,
    "test_pow_types_int32_float32": _INT_POW,
    "test_scan_sum": _SCAN_8,
    "test_range_float_type_positive_delta_expanded": _RUNTIME_TRIP_COUNT,
    "test_range_float16_type_positive_delta_expanded": _RUNTIME_TRIP_COUNT,
    "test_range_int32_type_negative_delta_expanded": _RUNTIME_TRIP_COUNT,
    "test_not_2d": _OPSET_1,
    "test_not_3d": _OPSET_1,
    "test_not_4d": _OPSET_1,
}


def _freeze_integer_inputs(case) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, _ = case.data_sets[0]
    feeds: dict[str, np.ndarray] = {}
    keep = []
    parameters = _parameter_names(model)
    data = _runtime_data_names(model)
    for value_info, array in zip(list(model.graph.input), inputs):
        array = np.asarray(array)
        floating = array.dtype in (np.float32, np.float16)
        runtime = floating or (array.dtype in _VALUE_DTYPES and value_info.name in data)
        if runtime and value_info.name not in parameters:
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
    except ModelError as exc:
        # Only a model pocketnn cannot read at all (its opset) is refused this way.
        assert REFUSED.get(case.name) == _OPSET_1 and "opset" in str(exc), str(exc)
        Tally.refused += 1
        Tally.refused_names.append(case.name)
        return
    except UnsupportedOpError as exc:
        node_names = ({n.name for n in model.graph.node} | {n.op_type for n in model.graph.node}
                      | {i.name for i in model.graph.input})
        assert any(name and name in str(exc) for name in node_names), str(exc)
        assert case.name in REFUSED, f"refused but not listed in REFUSED: {exc}"
        Tally.refused += 1
        Tally.refused_names.append(case.name)
        return
    assert case.name not in REFUSED, f"listed in REFUSED ({REFUSED[case.name]}) but converts now"
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
    def close(a: np.ndarray, e: np.ndarray) -> bool:
        if a.shape != e.shape or a.dtype != e.dtype:
            return False
        if e.dtype.kind in "iub":
            return bool(np.array_equal(a, e))
        return bool(np.allclose(a, e, rtol=rtol, atol=atol))
    return all(close(a, e) for a, e in zip(actual, expected))
