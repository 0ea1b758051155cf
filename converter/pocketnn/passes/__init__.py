"""Graph -> Graph passes on the lowered IR. The order lives in PIPELINE, and only here."""

from __future__ import annotations

from typing import Callable, Sequence

from pocketnn.ir import Graph
from pocketnn.passes.fold_batchnorm import fold_batchnorm
from pocketnn.passes.fold_bias import fold_bias
from pocketnn.passes.fold_constants import fold_constants
from pocketnn.passes.fold_input_affine import fold_input_affine
from pocketnn.passes.fuse_activations import fuse_activations
from pocketnn.passes.fuse_gelu import fuse_gelu
from pocketnn.passes.normalize_binary import normalize_binary
from pocketnn.passes.remove_dead import remove_dead_nodes
from pocketnn.passes.remove_identity import remove_identity
from pocketnn.passes.rotate_column_conv import rotate_column_conv
from pocketnn.passes.sink_transposes import sink_transposes

Pass = Callable[[Graph], Graph]

PIPELINE: list[Pass] = [
    remove_identity,
    fold_constants,
    remove_dead_nodes,
    fuse_gelu,
    sink_transposes,
    remove_dead_nodes,
    normalize_binary,
    remove_dead_nodes,
    fold_input_affine,
    remove_dead_nodes,
    fold_batchnorm,
    fold_bias,
    fuse_activations,
    rotate_column_conv,
    remove_dead_nodes,
]


def bounded_pipeline(max_constant_elements: int) -> list[Pass]:
    """PIPELINE with constant folding bounded by `max_constant_elements` per tensor."""
    def fold(graph: Graph) -> Graph:
        return fold_constants(graph, max_elements=max_constant_elements)

    return [fold if p is fold_constants else p for p in PIPELINE]


def run_passes(graph: Graph, pipeline: Sequence[Pass] = PIPELINE) -> Graph:
    for pass_fn in pipeline:
        graph = pass_fn(graph)
    return graph


__all__ = ["PIPELINE", "Pass", "bounded_pipeline", "run_passes", "fold_batchnorm", "fold_bias", "fold_constants",
           "fold_input_affine", "fuse_activations", "fuse_gelu", "normalize_binary", "remove_dead_nodes", "remove_identity", "rotate_column_conv", "sink_transposes"]
