"""TensorFlow-exported NHWC models for tests and benchmarks, made with the exporter users
use (tf2onnx), from models nobody here wrote.

- MediaPipe's BlazeFace short-range face detector (Apache-2.0), the TFLite file inside the
  `mediapipe==0.10.14` wheel, converted by `tf2onnx.convert.from_tflite` (opset 17) to
  tests/fixtures/face_detection_short_range.onnx (418 KB, committed: the conversion needs
  TensorFlow, far too heavy for CI). Also writes a 128x128 face crop of scikit-image's
  `astronaut` photo (NASA, public domain) to tests/fixtures/astronaut_face_128.npz.
- With --resnet50 DIR: Keras' ResNet50 (random weights, seed 0; the architecture and the
  export are what matter for speed) through `tf2onnx.convert.from_keras`, NHWC input
  1x224x224x3, for bench/bench_onnx_file.py. Not committed (100 MB).

Needs `pip install "tensorflow-cpu==2.16.*" tf2onnx scikit-image "onnx==1.16.*"` in a venv of its
own: TensorFlow 2.16 pins ml_dtypes 0.3, which newer onnx releases cannot import.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
MEDIAPIPE = "mediapipe==0.10.14"
BLAZEFACE = "mediapipe/modules/face_detection/face_detection_short_range.tflite"


def export_blazeface(out: Path) -> None:
    import tf2onnx

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--dest", tmp, MEDIAPIPE], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(BLAZEFACE, tmp)
        tf2onnx.convert.from_tflite(str(Path(tmp) / BLAZEFACE), opset=17, output_path=str(out))


def export_face_crop(out: Path) -> None:
    from skimage import data, transform

    photo = data.astronaut()  # 512x512 RGB; the face is around rows 30-230, columns 140-340
    crop = photo[20:260, 130:370]
    small = transform.resize(crop, (128, 128), anti_aliasing=True, preserve_range=True)
    np.savez_compressed(out, image=np.round(small).astype(np.uint8))


def export_resnet50(folder: Path) -> Path:
    import tensorflow as tf
    import tf2onnx

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    spec = (tf.TensorSpec((1, 224, 224, 3), tf.float32, name="input"),)
    path = folder / "keras_resnet50_nhwc.onnx"
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resnet50", type=Path, metavar="DIR",
                        help="also export Keras ResNet50 (NHWC) into DIR")
    args = parser.parse_args()
    export_blazeface(FIXTURES / "face_detection_short_range.onnx")
    export_face_crop(FIXTURES / "astronaut_face_128.npz")
    if args.resnet50:
        args.resnet50.mkdir(parents=True, exist_ok=True)
        print(export_resnet50(args.resnet50))


if __name__ == "__main__":
    main()
