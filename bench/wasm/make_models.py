"""Writes the models of bench.mjs: MobileNet V1, V2 and ResNet-18 at 224x224 from
pocketnn.reference_models, each as ONNX (for onnxruntime-web) and as .pnn.

    python3 bench/wasm/make_models.py [out_dir]      (default: bench/wasm/models)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pocketnn
from pocketnn.reference_models import MODELS

HERE = Path(__file__).resolve().parent


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, make in MODELS.items():
        model = make(resolution=224)
        (out_dir / f"{name}.onnx").write_bytes(model.SerializeToString())
        pocketnn.convert(model, out_dir / f"{name}.pnn")
        print(f"{name}: {out_dir / name}.onnx / .pnn")


if __name__ == "__main__":
    main()
