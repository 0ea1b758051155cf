"""pocketnn.conversion: ONNX model -> .pnn bytes (import, passes, compression, pack).

Stages, in this order: import (frontend) -> the Graph passes (passes.PIPELINE: constant
folding, BatchNorm folding, activation fusion...) -> binary layers to BConv2d / BGemm
(passes.lower_binary, unless binarize="off") -> compression (sparsity.compress:
channel rearrangement, group pruning, reconstruction; pre-pruned weights marked sparse)
-> optional static quantization of the compressed graph (quantization.quantize_graph:
int8 / int4 integer operators; quantization.mixed: int4/int8 per layer chosen by an ILP;
quantization.sparse_storage: which pruned layers stay group-sparse as s8) -> pack
(format.writer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pocketnn.format.opcodes import INTEGER_COMPUTE_OPS
from pocketnn.format.writer import write_pnn
from pocketnn.frontend.folding import DEFAULT_MAX_CONSTANT_ELEMENTS
from pocketnn.frontend.onnx_import import InputBindings, InputShapes, ModelSource, import_onnx
from pocketnn.ir import Graph
from pocketnn.passes import bounded_pipeline, run_passes
from pocketnn.passes.lower_binary import lower_binary
from pocketnn.progress import reporting, step
from pocketnn.quantization.activations import DEFAULT_CALIB_METHOD, QuantizationError
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
from pocketnn.sparsity.recipe import Pattern, RecipeSource

PRODUCER = "pocketnn"
BINARIZE_MODES = ("auto", "off")


@dataclass
class Conversion:
    graph: Graph
    data: bytes
    sparsity: SparsityReport


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
                  rounding: str = DEFAULT_ROUNDING, binarize: str = "auto") -> tuple[Graph, SparsityReport]:
    """The final graph, before packing, and the per-layer sparsity report; progress of
    the long steps on stderr unless `quiet` (pocketnn.progress)."""
    with reporting(quiet):
        return _convert_graph(model, input_shapes, options, calib, quantize, calib_method, size_budget,
                              latency_budget, first_last_int8, max_constant_elements, bind, rounding, binarize)


def _convert_graph(model: ModelSource, input_shapes: InputShapes | None, options: SparsityOptions | None,
                   calib: CalibSource | None, quantize: str | None, calib_method: str, size_budget: float,
                   latency_budget: float | None, first_last_int8: bool, max_constant_elements: int,
                   bind: InputBindings | None, rounding: str, binarize: str) -> tuple[Graph, SparsityReport]:
    options = options or SparsityOptions()
    if binarize not in BINARIZE_MODES:
        raise ValueError(f"binarize must be one of {', '.join(BINARIZE_MODES)}, got {binarize!r}")
    if latency_budget is not None and quantize != "mixed":
        raise QuantizationError('a latency budget applies to quantize="mixed" (--quantize mixed) only')
    if not first_last_int8 and quantize != "mixed":
        raise QuantizationError('first_last_int8=False (--int4-first-last) applies to quantize="mixed" '
                                '(--quantize mixed) only')
    with step("import + graph passes"):
        graph = run_passes(import_onnx(model, input_shapes=input_shapes,
                                       max_constant_elements=max_constant_elements, bind=bind),
                           bounded_pipeline(max_constant_elements))
    if binarize == "auto":
        graph = lower_binary(graph)
    if quantize is not None and any(node.op in INTEGER_COMPUTE_OPS for node in graph.nodes):
        raise QuantizationError("the model is already quantized (QDQ): its own scales and integer "
                                "weights were imported; convert it without --quantize")
    graph, report = compress(graph, options, calib)
    if quantize == "mixed":
        graph = quantize_mixed(graph, calib, size_budget, latency_budget, calib_method, first_last_int8,
                               rounding)[0]
    elif quantize is not None:
        graph = quantize_static(graph, calib, quantize, calib_method, rounding)
    graph.metadata = {"producer": PRODUCER, **graph.metadata}
    return graph, report


def convert_model(model: ModelSource, input_shapes: InputShapes | None = None,
                  options: SparsityOptions | None = None, calib: CalibSource | None = None,
                  quantize: str | None = None, calib_method: str = DEFAULT_CALIB_METHOD,
                  size_budget: float = 0.5, latency_budget: float | None = None,
                  first_last_int8: bool = True,
                  max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS,
                  bind: InputBindings | None = None, quiet: bool = False,
                  rounding: str = DEFAULT_ROUNDING, binarize: str = "auto", keep_names: bool = False) -> Conversion:
    """The whole conversion, with the packed bytes and the per-layer sparsity report;
    progress on stderr unless `quiet`. The packed tensors other than the graph inputs
    and outputs are stored under their ids unless `keep_names` (node names are kept)."""
    with reporting(quiet):
        graph, report = convert_graph(model, input_shapes, options, calib, quantize, calib_method,
                                      size_budget, latency_budget, first_last_int8, max_constant_elements,
                                      bind, rounding=rounding, binarize=binarize)
        with step("packing"):
            data = write_pnn(graph, short_names=not keep_names)
    return Conversion(graph, data, report)


def convert(model: ModelSource, output: str | os.PathLike[str] | None = None,
            input_shapes: InputShapes | None = None, sparsity: float | None = None,
            sparsity_pattern: Pattern | str = "auto", calib: CalibSource | None = None,
            recipe: RecipeSource | None = None, quantize: str | None = None,
            calib_method: str = DEFAULT_CALIB_METHOD, size_budget: float = 0.5,
            latency_budget: float | None = None, first_last_int8: bool = True,
            max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS,
            bind: InputBindings | None = None, quiet: bool = False, rounding: str = DEFAULT_ROUNDING,
            binarize: str = "auto", keep_names: bool = False) -> bytes:
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

    Constant folding (shape subgraphs, ConstantOfShape, Expand of constants...) makes no
    constant over `max_constant_elements` elements (default 2^27, 512 MiB as float32) and
    at most 2x that in all: beyond it a node the runtime computes stays a node, any other
    is a LimitError naming the node, its shape and the limit.

    Binary layers (docs/BINARY.md: a Sign or Where(Less(x, 0), -1, 1) binarizer feeding a
    Conv / Gemm / MatMul with +-a_c weights) run as 1-bit BConv2d / BGemm when `binarize`
    is "auto" (default); "off" keeps them in float. The kernels binarize 0 to +1, where
    ONNX Sign(0) = 0.

    `bind` freezes graph inputs to values ({"sr": 16000}): they become constants, what
    depends on them folds (an If on them takes its branch) and they leave the inputs.

    Steps longer than about a second (import, calibration, pruning, sensitivity, ILP,
    kernel timing, packing) show a progress display on stderr when it is a terminal;
    `quiet` turns it off. Tensors other than the graph inputs and outputs are stored
    under their ids (shorter) unless `keep_names`; node names are always kept."""
    options = sparsity_options(sparsity, sparsity_pattern, recipe)
    data = convert_model(model, input_shapes, options, calib, quantize, calib_method, size_budget,
                         latency_budget, first_last_int8, max_constant_elements, bind, quiet, rounding,
                         binarize, keep_names).data
    if output is not None:
        Path(output).write_bytes(data)
    return data
