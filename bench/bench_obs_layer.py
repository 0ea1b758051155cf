"""OBS pruning cost on one wide layer: CPU time of `prune_layer` (gradual OBS mask + refit)
on one layer of a 224x224 reference model, calibrated on scikit-image photo crops, and
the result's relative output error. --proxy also times the allocation's cheaper call
(prune_layer exact=False: a SparseGPT mask keeps its own weights, no refit). With --old FILE (a copy of an earlier
converter/pocketnn/sparsity/reconstruct.py) the same layer and statistics go through
that version too, and the table shows the two masks' agreement and weight difference.

    python bench/bench_obs_layer.py [--model mobilenet_v1] [--layer NAME] [--samples 16]
        [--sparsity 0.7] [--proxy] [--old /tmp/reconstruct_old.py]

Time is thread CPU time (time.thread_time) with BLAS on one thread: honest on a shared host.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from types import ModuleType

import numpy as np
from bench_int8 import CALIB_PHOTOS, photo_crops
from pocketnn.frontend.onnx_import import import_onnx
from pocketnn.passes import run_passes
from pocketnn.reference_models import MODELS
from pocketnn.sparsity import reconstruct
from pocketnn.sparsity.allocate import layer_statistics
from pocketnn.sparsity.blas import single_thread_blas
from pocketnn.sparsity.calibration import load_calibration
from pocketnn.sparsity.layers import Layer, canonicalize_for_sparse, find_layers, weight_matrix


def _load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("reconstruct_old", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _widest(layers: list[Layer], kind: str) -> Layer:
    return max((layer for layer in layers if layer.kind == kind), key=lambda layer: (layer.cols, layer.rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilenet_v1")
    parser.add_argument("--layer", default=None, help="node name (default: the widest 1x1 conv)")
    parser.add_argument("--kind", default="conv1x1", help="layer kind for the default choice")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--sparsity", type=float, default=0.7)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--old", default=None)
    parser.add_argument("--proxy", action="store_true")
    args = parser.parse_args()
    graph = run_passes(import_onnx(MODELS[args.model]()))
    layers = find_layers(graph)
    layer = next(x for x in layers if x.node == args.layer) if args.layer else _widest(layers, args.kind)
    layer = canonicalize_for_sparse(graph, layer)
    feeds = load_calibration({"input": photo_crops(CALIB_PHOTOS, args.samples, seed=0)}, graph)
    with single_thread_blas():
        stats = layer_statistics(graph, layer, feeds)
        print(f"{args.model} {layer.node}: {layer.rows}x{layer.cols} ({layer.kind}), {stats.samples} input "
              f"columns, G={args.group}, sparsity {args.sparsity}")
        results = {}
        runs = [("new", reconstruct, {}), *((("new, exact=False", reconstruct, {"exact": False}),) if args.proxy else ()),
                *((("old", _load(args.old), {}),) if args.old else ())]
        for label, module, options in runs:
            item = module.Pruned(layer, weight_matrix(graph, layer).copy(), reconstruct.get_bias(graph, layer),
                                 args.sparsity, args.group)
            start = time.thread_time()
            w, before, after = module.prune_layer(item, stats, **options)
            seconds = time.thread_time() - start
            results[label] = (item.mask, w)
            print(f"{label}: {seconds:.2f} s CPU, relative error {before:.5f} -> {after:.5f}")
        if "old" in results:
            (new_mask, new_w), (old_mask, old_w) = results["new"], results["old"]
            same = float(np.mean(new_mask == old_mask))
            diff = float(np.max(np.abs(new_w - old_w)) / np.max(np.abs(old_w)))
            print(f"masks agree on {same:.4%} of units; max |w_new - w_old| / max |w_old| = {diff:.2e}")


if __name__ == "__main__":
    main()
