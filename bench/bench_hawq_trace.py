"""HAWQ's Hessian-trace sensitivity against mixed precision's measured output perturbation
(issue 14; docs/QUANTIZATION.md, "Which sensitivity predicts accuracy").

For each weighted layer of the two digits CNNs, made int4 alone (every other layer int8;
rounded by GPTQ + bias correction, mixed's default, and again by round to nearest):
- measured: quantization.mixed.layer_costs's sensitivity (mean squared change of the
  outputs on 64 calibration digits against all-int8);
- HAWQ: Tr(H) / n * ||Q(W) - W||^2 with the layer-wise Hessian H = 2 X X^T / N of the
  layer's calibration inputs (the statistics GPTQ collects), n = its weight count (per
  output channel the same H, so this is mean(diag H) * ||Q(W) - W||^2);
- the layer-local quadratic form sum_c dW_c H dW_c^T (the layer's own output error)
  as a third predictor;
and the truth: the test accuracy lost on the 1000 held-out digits against all-int8, and
(steadier: one digit is 0.1 point) the mean squared change of the held-out logits.
Prints each predictor's Spearman rank correlation with both over the layers.

    python bench/bench_hawq_trace.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from pocketnn.datasets import load_digits_fixture
from pocketnn.format.writer import write_pnn
from pocketnn.frontend.onnx_import import import_onnx
from pocketnn.passes import run_passes
from pocketnn.quantization.arith import quantize_weights
from pocketnn.quantization.mixed import SENSITIVITY_SAMPLES, layer_costs
from pocketnn.quantization.quantize_graph import _as_weighted, calibrate, quantize_graph, weighted_nodes
from pocketnn.quantization.split_activations import split_lookup_activations
from pocketnn.runtime import Model

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def _logits(data: bytes, images: np.ndarray) -> np.ndarray:
    model = Model(data)
    return np.concatenate([model.run({"input": images[i:i + 1]})["logits"] for i in range(len(images))]).astype(
        np.float64)


def study(name: str, rounding_name: str) -> None:
    images, labels = load_digits_fixture("test", FIXTURES)
    calib, _ = load_digits_fixture("calib", FIXTURES)
    graph = split_lookup_activations(run_passes(import_onnx(str(FIXTURES / f"{name}.onnx"))))
    qparams, rounding = calibrate(graph, {"input": calib}, "percentile", rounding_name, may_be_int4=True)
    if rounding_name == "nearest":  # HAWQ's Hessian needs the input statistics all the same
        rounding.statistics = calibrate(graph, {"input": calib}, "percentile", "gptq", may_be_int4=True)[1].statistics
        rounding_used = None
    else:
        rounding_used = rounding
    nodes = weighted_nodes(graph)
    count = len(nodes)
    base_logits = _logits(write_pnn(quantize_graph(graph, qparams, rounding=rounding_used, layer_bits=[8] * count)),
                          images)
    base = float(np.mean(base_logits.argmax(1) == labels))
    feeds = [{"input": calib[i:i + 1]} for i in range(SENSITIVITY_SAMPLES)]
    measured = [c.sensitivity for c in layer_costs(graph, qparams, feeds, measure_latency=False,
                                                   rounding=rounding_used)]
    hawq, local, loss, held_out = [], [], [], []
    for index, node in enumerate(nodes):
        layer = _as_weighted(graph, node)
        assert layer is not None
        w = layer.weights
        q, scales = quantize_weights(w, 4, axis=0)
        if rounding_used is not None:
            q, _ = rounding_used.round(node.name, w, q, scales, 4)
        delta = (q * scales.reshape((-1,) + (1,) * (w.ndim - 1)) - w).reshape(w.shape[0], -1)
        stats = rounding.statistics[node.name]
        groups = stats.gram.shape[0]
        h = 2 * stats.gram / max(1, stats.count)  # [G, K, K]
        hawq.append(float(np.mean(np.trace(h, axis1=1, axis2=2)) / h.shape[1] * np.sum(delta ** 2)))
        d = delta.reshape(groups, -1, h.shape[1])
        local.append(float(np.einsum("gmk,gkl,gml->", d, h, d)))
        bits = [8] * count
        bits[index] = 4
        logits = _logits(write_pnn(quantize_graph(graph, qparams, rounding=rounding_used, layer_bits=bits)), images)
        loss.append(base - float(np.mean(logits.argmax(1) == labels)))
        held_out.append(float(np.mean((logits - base_logits) ** 2)))
        print(f"  {node.name:40s} loss {100 * loss[-1]:+.1f} pt  held-out logit MSE {held_out[-1]:.3g}  "
              f"measured {measured[index]:.3g}  hawq {hawq[-1]:.3g}  local {local[-1]:.3g}")

    def rho(truth: list[float]) -> str:
        return ", ".join(f"{label} {spearmanr(values, truth).statistic:.2f}" for label, values in
                         (("measured", measured), ("HAWQ trace", hawq), ("layer-local quadratic", local)))

    print(f"{name}, rounding {rounding_name}: int8 {base:.3f}; Spearman over {count} layers vs accuracy loss: "
          f"{rho(loss)}; vs held-out logit MSE: {rho(held_out)}", flush=True)


if __name__ == "__main__":
    for rounding_name in ("gptq", "nearest"):
        for model in ("digits_cnn", "digits_conv3x3"):
            study(model, rounding_name)
