"""pocketnn.conversion: ONNX model -> .pnn bytes (import, passes, compression, pack).

Stages, in this order: import (frontend) -> the Graph passes (passes.PIPELINE: constant
folding, BatchNorm folding, activation fusion...) -> binary layers to BConv2d / BGemm
(passes.lower_binary, unless binarize="off"; then, when asked, binary.mst_budget's bit
flipping and binary.mst_choice's measured per-layer MST choice) -> compression (sparsity.compress:
channel rearrangement, group pruning, reconstruction; pre-pruned weights marked sparse)
-> optional static quantization of the compressed graph (quantization.quantize_graph:
int8 / int4 integer operators; quantization.mixed: int4/int8 per layer chosen by an ILP;
quantization.joint: per-layer sparsity and bits together under a file budget;
quantization.sparse_storage: which pruned layers stay group-sparse as s8) -> residual
Adds folded into the f32 Convs before them (passes.fuse_residual_add) -> pack
(format.writer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pocketnn.binary.mst_budget import BudgetReport, flip_within_budget, with_speed
from pocketnn.binary.mst_choice import MstReport, apply_mst
from pocketnn.format.opcodes import INTEGER_COMPUTE_OPS
from pocketnn.format.writer import write_pnn
from pocketnn.frontend.folding import DEFAULT_MAX_CONSTANT_ELEMENTS
from pocketnn.frontend.onnx_import import InputBindings, InputShapes, ModelSource, import_onnx, load_model
from pocketnn.ir import Graph
from pocketnn.passes import bounded_pipeline, run_passes
from pocketnn.passes.fuse_residual_add import fuse_residual_add
from pocketnn.passes.lower_binary import lower_binary
from pocketnn.passes.share_constants import share_constants
from pocketnn.progress import reporting, step
from pocketnn.quantization.activations import DEFAULT_CALIB_METHOD, QuantizationError
from pocketnn.quantization.joint import JointResult, compress_joint
from pocketnn.quantization.mixed import quantize_mixed
from pocketnn.quantization.quantize_graph import quantize_static
from pocketnn.quantization.rounding import DEFAULT_ROUNDING
from pocketnn.sparsity import (
    CalibSource,
    SparsityOptions,
    SparsityReport,
    compress,
    load_recipe,
    parse_pattern,
    parse_sparsity,
)
from pocketnn.sparsity.calibration import load_calibration
from pocketnn.sparsity.recipe import Pattern, RecipeSource

PRODUCER = "pocketnn"
BINARIZE_MODES = ("auto", "off")


@dataclass
class Conversion:
    graph: Graph
    data: bytes
    sparsity: SparsityReport
    mst: MstReport | None = None
    mst_budget: BudgetReport | None = None
    joint: JointResult | None = None  # compress_budget: the search's points (front_report)


@dataclass
class _BinaryReports:
    mst: MstReport | None = None
    mst_budget: BudgetReport | None = None


def sparsity_options(sparsity: float | None = None, sparsity_pattern: Pattern | str = "auto",
                     recipe: RecipeSource | None = None) -> SparsityOptions:
    options = SparsityOptions(
        sparsity=None if sparsity is None else parse_sparsity(sparsity, "sparsity"),
        pattern=parse_pattern(sparsity_pattern, "sparsity_pattern"))
    return options.with_recipe(load_recipe(recipe) if recipe is not None else None)


def convert_graph(model: ModelSource, input_shapes: InputShapes | None = None,
                  options: SparsityOptions | None = None, calib: CalibSource | None = None,
                  quantize: str | None = None, calib_method: str = DEFAULT_CALIB_METHOD,
                  size_budget: float = 0.5, latency_budget: float | None = None,
                  first_last_int8: bool = True,
                  max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS,
                  bind: InputBindings | None = None, quiet: bool = False,
                  rounding: str = DEFAULT_ROUNDING, binarize: str = "auto", mst: str | None = None,
                  mst_budget: float | None = None, compress_budget: float | None = None
                  ) -> tuple[Graph, SparsityReport]:
    """The final graph, before packing, and the per-layer sparsity report; progress of
    the long steps on stderr unless `quiet` (pocketnn.progress)."""
    with reporting(quiet):
        return _convert_graph(model, input_shapes, options, calib, quantize, calib_method, size_budget,
                              latency_budget, first_last_int8, max_constant_elements, bind, rounding, binarize,
                              mst, mst_budget, compress_budget)[:2]


def _calib_arrays(calib: CalibSource) -> dict[str, np.ndarray]:
    if isinstance(calib, (str, os.PathLike)):
        with np.load(calib) as data:
            return {k: data[k] for k in data.files}
    return {k: np.asarray(v) for k, v in calib.items()}


def _binary_mst(graph: Graph, model: ModelSource, calib: CalibSource | None, mst: str | None,
                mst_budget: float | None) -> tuple[Graph, _BinaryReports]:
    """The bit flipping of --mst-budget, then the per-layer MST choice (docs/BINARY.md)."""
    reports = _BinaryReports()
    if mst_budget is None:
        if mst is not None:
            graph, reports.mst = _choose_mst(graph, mst)
        return graph, reports
    if calib is None:
        raise ValueError("mst_budget (--mst-budget) needs calibration data (calib / --calib; "
                         "an optional 'labels' array scores accuracy, else top-1 agreement)")
    arrays = _calib_arrays(calib)
    with step("MST bit flipping within the accuracy budget"):
        flipped, budget = flip_within_budget(graph, load_model(model), arrays, mst_budget)
    flipped, reports.mst = _choose_mst(flipped, mst or "auto")
    with step("MST: timing the model before and after the flips"):
        reports.mst_budget = with_speed(budget, graph, flipped, load_calibration(arrays, graph)[0])
    return flipped, reports


def _choose_mst(graph: Graph, mode: str) -> tuple[Graph, MstReport]:
    with step("MST: timing plain and tree-delta kernels"):
        return apply_mst(graph, mode)


def _convert_graph(model: ModelSource, input_shapes: InputShapes | None, options: SparsityOptions | None,
                   calib: CalibSource | None, quantize: str | None, calib_method: str, size_budget: float,
                   latency_budget: float | None, first_last_int8: bool, max_constant_elements: int,
                   bind: InputBindings | None, rounding: str, binarize: str, mst: str | None,
                   mst_budget: float | None, compress_budget: float | None = None
                   ) -> tuple[Graph, SparsityReport, _BinaryReports, JointResult | None]:
    options = options or SparsityOptions()
    if compress_budget is not None and (quantize is not None or options.sparsity is not None or options.rules):
        raise QuantizationError("compress_budget (--compress-budget) chooses every layer's sparsity and bits "
                                "itself: drop quantize / sparsity / recipe layer rules")
    if binarize not in BINARIZE_MODES:
        raise ValueError(f"binarize must be one of {', '.join(BINARIZE_MODES)}, got {binarize!r}")
    if (mst is not None or mst_budget is not None) and binarize != "auto":
        raise ValueError('mst and mst_budget apply to binary layers: they need binarize="auto"')
    if latency_budget is not None and quantize != "mixed" and compress_budget is None:
        raise QuantizationError('a latency budget applies to quantize="mixed" (--quantize mixed) and '
                                'compress_budget (--compress-budget) only')
    if not first_last_int8 and quantize != "mixed":
        raise QuantizationError('first_last_int8=False (--int4-first-last) applies to quantize="mixed" '
                                '(--quantize mixed) only')
    with step("import + graph passes"):
        graph = run_passes(import_onnx(model, input_shapes=input_shapes,
                                       max_constant_elements=max_constant_elements, bind=bind),
                           bounded_pipeline(max_constant_elements))
    binary_reports = _BinaryReports()
    if binarize == "auto":
        graph, binary_reports = _binary_mst(lower_binary(graph), model, calib, mst, mst_budget)
    if quantize is not None and any(node.op in INTEGER_COMPUTE_OPS for node in graph.nodes):
        raise QuantizationError("the model is already quantized (QDQ): its own scales and integer "
                                "weights were imported; convert it without --quantize")
    graph, report = compress(graph, options, calib)
    joint = None
    if compress_budget is not None:
        graph, joint = compress_joint(graph, calib, compress_budget, latency_budget, calib_method, rounding, options)
    elif quantize == "mixed":
        graph = quantize_mixed(graph, calib, size_budget, latency_budget, calib_method, first_last_int8,
                               rounding)[0]
    elif quantize is not None:
        graph = quantize_static(graph, calib, quantize, calib_method, rounding)
    graph = share_constants(fuse_residual_add(graph))
    graph.metadata = {"producer": PRODUCER, **graph.metadata}
    return graph, report, binary_reports, joint


def convert_model(model: ModelSource, input_shapes: InputShapes | None = None,
                  options: SparsityOptions | None = None, calib: CalibSource | None = None,
                  quantize: str | None = None, calib_method: str = DEFAULT_CALIB_METHOD,
                  size_budget: float = 0.5, latency_budget: float | None = None,
                  first_last_int8: bool = True,
                  max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS,
                  bind: InputBindings | None = None, quiet: bool = False,
                  rounding: str = DEFAULT_ROUNDING, binarize: str = "auto", mst: str | None = None,
                  mst_budget: float | None = None, keep_names: bool = False,
                  compress_budget: float | None = None) -> Conversion:
    """The whole conversion, with the packed bytes, the per-layer sparsity report and the
    MST reports (when asked); progress on stderr unless `quiet`. The packed tensors other
    than the graph inputs and outputs are stored under their ids unless `keep_names`
    (node names are kept)."""
    with reporting(quiet):
        graph, report, binary, joint = _convert_graph(model, input_shapes, options, calib, quantize, calib_method,
                                                      size_budget, latency_budget, first_last_int8,
                                                      max_constant_elements, bind, rounding, binarize, mst,
                                                      mst_budget, compress_budget)
        with step("packing"):
            data = write_pnn(graph, short_names=not keep_names)
    return Conversion(graph, data, report, binary.mst, binary.mst_budget, joint)


def convert(model: ModelSource, output: str | os.PathLike[str] | None = None,
            input_shapes: InputShapes | None = None, sparsity: float | None = None,
            sparsity_pattern: Pattern | str = "auto", calib: CalibSource | None = None,
            recipe: RecipeSource | None = None, quantize: str | None = None,
            calib_method: str = DEFAULT_CALIB_METHOD, size_budget: float = 0.5,
            latency_budget: float | None = None, first_last_int8: bool = True,
            max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS,
            bind: InputBindings | None = None, quiet: bool = False, rounding: str = DEFAULT_ROUNDING,
            binarize: str = "auto", mst: str | None = None, mst_budget: float | None = None,
            keep_names: bool = False, compress_budget: float | None = None) -> bytes:
    """Converts an ONNX model (path or ModelProto) to .pnn bytes, also written to
    `output` when given. `input_shapes` fixes symbolic input dims (others default to 1).

    Sparsity (docs/SPARSITY.md): `sparsity` (0.9 = 90% of the weights of every group-1
    Conv and Gemm/MatMul but the first conv set to zero) in groups of `sparsity_pattern` output channels
    ("auto": chosen per layer from measured speed; 1, 2, 4 or 8); `calib` (an .npz path or
    {input name: N samples along the batch axis}) turns on least-squares reconstruction;
    `recipe` (a JSON path or dict) sets per-layer targets. Weights that are already >= 50%
    zero are stored sparse even without `sparsity`.

    Quantization (docs/QUANTIZATION.md): `quantize` "int8" or "int4" (4-bit weights except
    the first and last weighted layers) makes an integer model; it needs `calib` (as
    above; 100-500 samples) and observes activation ranges with `calib_method`
    ("percentile", "mse" or "minmax"). "mixed" picks int4 or int8 per weighted layer
    with the least measured output perturbation such that the weight bytes are at most
    `size_budget` of all-int8's and, when given, the measured latency at most
    `latency_budget` of all-int8's; the first and last weighted layers stay int8 unless
    `first_last_int8` is False, which lets the program make them int4 too. `rounding`
    "gptq" (default) rounds each layer's weights against the Hessian of its calibration
    inputs and corrects the bias for the shift left; "nearest" rounds each weight alone;
    "auto" (default) is gptq for "int4" and "mixed", nearest for "int8".

    `compress_budget` (e.g. 0.15; needs `calib`, not `quantize` or `sparsity`) chooses
    every weighted layer's sparsity (0/50/70/90%) and bits (int4/int8) together so that
    the .pnn is at most that fraction of the float32 weights' bytes (and, with
    `latency_budget`, the measured layer latencies at most that fraction of int8's):
    measured per-layer sensitivity, an ILP, then a search on the whole model
    (quantization.joint; docs/QUANTIZATION.md "Joint sparsity and bits").

    Constant folding (shape subgraphs, ConstantOfShape, Expand of constants...) makes no
    constant over `max_constant_elements` elements (default 2^27, 512 MiB as float32) and
    at most 2x that in all: beyond it a node the runtime computes stays a node, any other
    is a LimitError naming the node, its shape and the limit.

    Binary layers (docs/BINARY.md: a Sign or Where(Less(x, 0), -1, 1) binarizer feeding a
    Conv / Gemm / MatMul with +-a_c weights) run as 1-bit BConv2d / BGemm when `binarize`
    is "auto" (default); "off" keeps them in float. The kernels binarize 0 to +1, where
    ONNX Sign(0) = 0.

    MST (docs/BINARY.md "MST output-channel reordering"): `mst` "auto" times each binary
    layer's plain and tree-delta kernels on this machine and records the faster in the
    file, "on" the tree-delta kernel wherever it is valid, "off" the plain one; None
    (default) records nothing and the runtime decides at load (30% of words touched).
    `mst_budget` (percentage points; needs `calib`, whose optional "labels" array scores
    accuracy, else top-1 agreement with the unflipped model) flips the cheapest latent
    bits of child channels so whole 64-bit words equal their parent's, while the
    calibration score stays within the budget; it implies `mst="auto"` unless given.

    `bind` freezes graph inputs to values ({"sr": 16000}): they become constants, what
    depends on them folds (an If on them takes its branch) and they leave the inputs.

    Steps longer than about a second (import, calibration, pruning, sensitivity, ILP,
    kernel timing, packing) show a progress display on stderr when it is a terminal;
    `quiet` turns it off. Tensors other than the graph inputs and outputs are stored
    under their ids (shorter) unless `keep_names`; node names are always kept."""
    options = sparsity_options(sparsity, sparsity_pattern, recipe)
    data = convert_model(model, input_shapes, options, calib, quantize, calib_method, size_budget,
                         latency_budget, first_last_int8, max_constant_elements, bind, quiet, rounding,
                         binarize, mst, mst_budget, keep_names, compress_budget).data
    if output is not None:
        Path(output).write_bytes(data)
    return data
