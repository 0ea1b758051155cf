"""Builds the demo page's model and photo (no hand steps: wasm/build.sh runs it).

    python3 wasm/demo/make_assets.py [out_dir]     (default: wasm/demo/assets)

Writes:
  mobilenet_v2.pnn  MobileNet V2 (224x224, 1000 classes) built in code and converted;
                    its weights are seeded, not trained (nothing can be downloaded
                    here), so the classes are indices, not ImageNet names
  photo.png         scikit-image's `chelsea` photo (a cat), centre-cropped and resized to
                    224x224, RGB, no gamma/ICC chunks so browsers decode the exact bytes
  manifest.json     the preprocessing the page applies (ImageNet mean/std, NCHW) and
                    onnxruntime's top-5 on that input: the reference the browser check
                    (wasm/demo/browser_check.mjs) compares the page against
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pocketnn
from pocketnn.reference_models import mobilenet_v2
from skimage import data, io, transform

HERE = Path(__file__).resolve().parent
SIZE = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def demo_photo() -> np.ndarray:
    """The cat photo as 224x224x3 uint8: centre square, then an antialiased resize."""
    photo = data.chelsea()
    h, w = photo.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = photo[top:top + side, left:left + side]
    resized = transform.resize(square, (SIZE, SIZE), anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """What demo.mjs does to the decoded pixels: x / 255, minus mean, over std, NCHW f32."""
    x = (rgb.astype(np.float32) / np.float32(255) - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model = mobilenet_v2(resolution=SIZE)
    onnx_path = out / "mobilenet_v2.onnx"
    onnx.save(model, onnx_path)
    pocketnn.convert(str(onnx_path), str(out / "mobilenet_v2.pnn"), quiet=True)
    rgb = demo_photo()
    io.imsave(out / "photo.png", rgb, check_contrast=False)
    assert np.array_equal(io.imread(out / "photo.png")[..., :3], rgb)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: preprocess(rgb)})[0].ravel()
    onnx_path.unlink()
    top5 = np.argsort(-logits, kind="stable")[:5]
    manifest = {
        "model": "mobilenet_v2.pnn",
        "photo": "photo.png",
        "photo_source": "skimage.data.chelsea(), centre crop, resized to 224x224",
        "weights": "seeded, untrained: classes are indices",
        "input": {"name": session.get_inputs()[0].name, "shape": [1, 3, SIZE, SIZE], "mean": MEAN, "std": STD},
        "onnxruntime_top5": [{"class": int(i), "logit": float(logits[i])} for i in top5],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "assets")
