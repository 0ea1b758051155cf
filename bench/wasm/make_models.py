"""Writes the models of bench.mjs: MobileNet V1, V2 and ResNet-18 at 224x224 from
pocketnn.reference_models, and two binary networks (`bconv`: the 256 -> 256 3x3 56x56
binary conv of bench/b1, one layer reading Where(x < 0, -1, 1); `quicknet`:
reference_models.quicknet_like at 224x224), each as ONNX (for onnxruntime-web, which
runs the binary ones in fp32) and as .pnn (BConv2d for the binary layers).

    python3 bench/wasm/make_models.py [out_dir]      (default: bench/wasm/models)
    node bench/wasm/bench.mjs --models bconv,quicknet
"""

from __future__ import annotations

import sys
from pathlib import Path

import onnx
import pocketnn
from pocketnn.reference_models import MODELS, quicknet_like

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "b1"))
from bench_bconv_op import conv_model  # noqa: E402

BINARY_MODELS = {"bconv": lambda: conv_model(256, 56, 1, binarized=True), "quicknet": quicknet_like}


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    models: dict[str, onnx.ModelProto] = {name: make(resolution=224) for name, make in MODELS.items()}
    models.update({name: make() for name, make in BINARY_MODELS.items()})
    for name, model in models.items():
        (out_dir / f"{name}.onnx").write_bytes(model.SerializeToString())
        pocketnn.convert(model, out_dir / f"{name}.pnn")
        print(f"{name}: {out_dir / name}.onnx / .pnn")


if __name__ == "__main__":
    main()
