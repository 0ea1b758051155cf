"""Binary weights stored as tree deltas (format 1.10, encoding 5), and what `--mst auto`
costs at convert time.

1. File size with and without deltas (`write_pnn(..., b1_deltas=False)`), per b1 weight
   tensor and for the whole file: the latent-weight fixture unflipped and with
   `mst_budget` 0.5 and 1 point, and the synthetic clustered 256 -> 256 3x3 layers of
   bench_mst_choice.py (10%, 30%, 50% of words redrawn).
2. Convert time (this process's CPU time) of the fixture and of the QuickNet-like network
   with `mst` unset (the runtime's 30% rule) and `mst="auto"` (both kernels timed per layer).

    python bench/b1/bench_delta_size.py
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "b1"))

from bench_mst_choice import LATENT, synthetic_model  # noqa: E402
from pocketnn.conversion import Conversion, convert_model  # noqa: E402
from pocketnn.datasets import load_digits_fixture  # noqa: E402
from pocketnn.format import spec  # noqa: E402
from pocketnn.format.reader import read_pnn  # noqa: E402
from pocketnn.format.writer import write_pnn  # noqa: E402
from pocketnn.ir import DType  # noqa: E402
from pocketnn.reference_models import quicknet_like  # noqa: E402


def sizes(label: str, conversion: Conversion) -> None:
    graph = conversion.graph
    stored = {t.name: t for t in read_pnn(write_pnn(graph)).tensors}
    for name, tensor in graph.tensors.items():
        if not (tensor.is_constant and tensor.dtype == DType.B1):
            continue
        dense = spec.dense_nbytes(DType.B1, int(np.prod(tensor.shape)))
        entry = stored[name]
        kept = (f"{entry.size:,} bytes ({entry.size / dense:.3f}x)" if entry.encoding == spec.ENCODING_B1_DELTA
                else "dense")
        print(f"  {label:36} {name:24} {list(tensor.shape)!s:20} dense {dense:9,}  deltas: {kept}")
    plain = write_pnn(graph, short_names=True, b1_deltas=False)
    deltas = write_pnn(graph, short_names=True)
    print(f"  {label:36} whole file: {len(plain):,} -> {len(deltas):,} bytes ({len(deltas) / len(plain):.3f}x)")


def cpu_seconds(make: Callable[[], Conversion]) -> tuple[float, Conversion]:
    start = time.process_time()
    result = make()
    return time.process_time() - start, result


def main() -> None:
    calib_x, calib_y = load_digits_fixture("calib")
    calib = {"input": calib_x, "labels": calib_y}
    print("1. sizes (format 1.10 deltas where smaller; short tensor names)")
    sizes("fixture bnn_latent, unflipped", convert_model(LATENT, quiet=True))
    for points in (0.5, 1.0):
        sizes(f"fixture, mst_budget {points:g}", convert_model(LATENT, quiet=True, calib=calib, mst_budget=points))
    for redrawn in (0.1, 0.3, 0.5):
        sizes(f"synthetic 256->256 3x3, {redrawn:.0%} redrawn", convert_model(synthetic_model(redrawn), quiet=True))
    print("2. convert CPU seconds, mst unset (30% rule at load) vs mst='auto' (both kernels timed per layer)")
    for label, source in (("fixture bnn_latent", LATENT), ("QuickNet-like 224x224", quicknet_like())):
        unset, _ = cpu_seconds(lambda source=source: convert_model(source, quiet=True))
        auto, result = cpu_seconds(lambda source=source: convert_model(source, quiet=True, mst="auto"))
        layers = result.mst.layers if result.mst else []
        chosen = sum(1 for layer in layers if layer.choice == "mst")
        print(f"  {label:24} unset {unset:7.2f} s   auto {auto:7.2f} s   (+{auto - unset:.2f} s; "
              f"layers choosing the tree: {chosen} of {len(layers)})")


if __name__ == "__main__":
    main()
