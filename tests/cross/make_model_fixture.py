"""Builds the whole-model fixture for the cross-target checks (aarch64 under qemu).

For each reference model: converts it to ``<name>.pnn``, writes one random input as
raw little-endian float32 (``<name>.in<i>.bin``) and the x86 native runtime's outputs
(``<name>.ref<i>.bin``), and lists everything in ``manifest.json``:

    python3 tests/cross/make_model_fixture.py OUT_DIR

The cross-built ``pnn_run`` then runs each model on the same inputs, and
``compare_outputs.py`` checks its outputs against the references.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import numpy as np

import pocketnn
from pocketnn import reference_models

# Small variants: the emulated run stays in seconds, yet every layer type is there
# (strided and depthwise 3x3, 1x1, 7x7 stem, max pool, residual adds, classifier), in
# float and, pruned and quantized, on the integer and sparse integer kernels.
MODELS: dict[str, Callable[[], bytes]] = {
    "mobilenet_v2": lambda: pocketnn.convert(reference_models.mobilenet_v2(resolution=96, width=0.5)),
    "resnet18": lambda: pocketnn.convert(reference_models.resnet18(resolution=64, width=0.25)),
    "mobilenet_v1": lambda: pocketnn.convert(reference_models.mobilenet_v1(resolution=64, width=0.25)),
    "mobilenet_v1_sparse_int8": lambda: reference_models.sparse_int8(
        reference_models.mobilenet_v1(resolution=64, width=0.25)),
}


def write_fixture(name: str, packed: bytes, out_dir: Path, seed: int) -> dict[str, object]:
    """Runs one converted model natively; returns its manifest entry."""
    pnn_path = out_dir / f"{name}.pnn"
    pnn_path.write_bytes(packed)
    runtime = pocketnn.Model(pnn_path)
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    inputs: list[str] = []
    for index, info in enumerate(runtime.inputs):
        value = rng.standard_normal(info.shape).astype("<f4")
        feeds[info.name] = value
        path = out_dir / f"{name}.in{index}.bin"
        path.write_bytes(value.tobytes())
        inputs.append(path.name)
    results = runtime.run(feeds)
    refs: list[str] = []
    for index, info in enumerate(runtime.outputs):
        path = out_dir / f"{name}.ref{index}.bin"
        path.write_bytes(np.ascontiguousarray(results[info.name], dtype="<f4").tobytes())
        refs.append(path.name)
    return {"name": name, "model": pnn_path.name, "inputs": inputs, "refs": refs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    entries = [write_fixture(name, MODELS[name](), args.out_dir, seed)
               for seed, name in enumerate(args.models)]
    (args.out_dir / "manifest.json").write_text(json.dumps(entries, indent=2))
    for entry in entries:
        print(f"fixture {entry['name']}: {entry['model']}, {len(entry['inputs'])} input(s), "
              f"{len(entry['refs'])} output(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
