"""Joint per-layer sparsity and bits under a file-size budget (quantization.joint,
--compress-budget) and its front report (front_report, --report): the knapsack on a
hand-made problem whose answer is known; on a tiny MLP the refinement against every
assignment evaluated; on the digits CNN the budget in the packed file, accuracy on the
held-out digits, and the HTML page (each point present, the chosen one on the front)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.cli import main
from pocketnn.conversion import convert_model
from pocketnn.datasets import accuracy, load_digits_fixture
from pocketnn.front_report import dominated
from pocketnn.frontend.onnx_import import import_onnx
from pocketnn.passes import run_passes
from pocketnn.quantization.activations import QuantizationError
from pocketnn.quantization.joint import (
    JointSearch,
    LayerOptions,
    Option,
    compress_joint,
    evolve,
    exhaustive,
    measure_layers,
    solve_options,
)
from pocketnn.quantization.quantize_graph import calibrate
from pocketnn.sparsity.calibration import load_calibration
from pocketnn.sparsity.recipe import SparsityOptions

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODEL = FIXTURES / "digits_cnn.onnx"
# Issue 14: 70% + int8 within 1.5 points at <= 0.15x the ONNX; here the search picks the
# mix. The budget counts the float32 weights (158 kB), the ONNX file is 184 kB: 0.17 of
# the weights keeps the file under 0.15x the ONNX.
BUDGET = 0.17


def _layer(name: str, errors: tuple[float, ...], nbytes: tuple[int, ...]) -> LayerOptions:
    options = tuple(Option(0.0, 8) for _ in errors)
    return LayerOptions(name, options, errors, nbytes, (1.0,) * len(errors))


def test_knapsack_picks_one_option_per_layer_within_the_bytes() -> None:
    # Options (error, bytes): a: (0, 100) (1, 50) (4, 20); b: (0, 200) (2.5, 100) (3, 60).
    # Within 180 bytes: a100 + b60 (160 bytes, error 3) beats a50 + b100 (150, 3.5) and
    # a50 + b60 (110, 4); within 155 only the last two fit.
    layers = [_layer("a", (0.0, 1.0, 4.0), (100, 50, 20)), _layer("b", (0.0, 2.5, 3.0), (200, 100, 60))]
    assert solve_options(layers, 180) == (0, 2)      # 160 bytes, error 3.0
    assert solve_options(layers, 155) == (1, 1)      # 150 bytes, error 3.5
    assert solve_options(layers, 1000) == (0, 0)
    assert solve_options(layers, 79) is None         # the smallest is 20 + 60


def _tiny_mlp(path: Path) -> None:
    rng = np.random.default_rng(3)
    sizes = [(24, 32), (32, 32), (32, 8)]
    nodes, inits, x = [], [], "input"
    for i, (k, n) in enumerate(sizes):
        inits += [numpy_helper.from_array((rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.standard_normal(n).astype(np.float32) * 0.1, f"b{i}")]
        y = f"h{i}" if i < len(sizes) - 1 else "logits"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y + "_pre" if y != "logits" else y],
                                      name=f"fc{i}", transB=1))
        if y != "logits":
            nodes.append(helper.make_node("Relu", [y + "_pre"], [y], name=f"relu{i}"))
        x = y
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 24])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_refinement_on_a_tiny_model_against_every_assignment(tmp_path) -> None:
    path = tmp_path / "tiny.onnx"
    _tiny_mlp(path)
    graph = run_passes(import_onnx(str(path)))
    calib = {"input": np.random.default_rng(4).standard_normal((96, 24)).astype(np.float32)}
    qparams, rounding = calibrate(graph, calib, "minmax", "auto", may_be_int4=True)
    search = JointSearch(graph, qparams, rounding, load_calibration(calib, graph), SparsityOptions())
    layers, int8 = measure_layers(search, measure_latency=False)
    assert [len(layer.options) for layer in layers] == [5, 5, 5]  # a Gemm reading the input is prunable
    weights = sum(layer.nbytes[0] for layer in layers)
    byte_limit = 0.45 * weights  # about half int8's weight bytes
    file_limit = int8.file_bytes - weights + byte_limit
    pick = solve_options(layers, byte_limit)
    assert pick is not None
    ilp = search.evaluate(pick, "ilp")
    best = exhaustive(search, layers, byte_limit, file_limit, None)
    assert best is not None and best.error <= ilp.error
    feasible = sorted(p.error for p in search.seen.values() if p.file_bytes <= file_limit
                      and sum(layer.nbytes[j] for layer, j in zip(layers, p.choice)) <= byte_limit)
    found = evolve(search, layers, ilp, byte_limit, file_limit, None, evaluations=60)
    assert found.file_bytes <= file_limit and found.error <= ilp.error
    # 60 evaluations from the ILP's pick reach the exact optimum of all 125 here (on this
    # host); allowed: one of the three best, as float rounding differs between ISAs.
    assert found.error <= feasible[min(2, len(feasible) - 1)], (found, best, ilp)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str] = []
        self.circles: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        point = dict(attrs).get("data-point")
        if tag == "tr" and point is not None:
            self.rows.append(point)
        if tag == "circle" and point is not None:
            self.circles.append(point)


@pytest.fixture(scope="module")
def digits_joint(tmp_path_factory) -> dict:
    calib, calib_labels = load_digits_fixture("calib", FIXTURES)
    result = convert_model(str(MODEL), calib={"input": calib, "labels": calib_labels}, quiet=True,
                           compress_budget=BUDGET)
    return {"result": result, "calib": {"input": calib, "labels": calib_labels}}


def test_compress_budget_on_digits(digits_joint) -> None:
    import json

    result = digits_joint["result"]
    joint = result.joint
    assert joint is not None
    assert len(result.data) <= BUDGET * joint.fp32_bytes
    assert len(result.data) == joint.chosen.file_bytes
    options = joint.options_of(joint.chosen)
    assert any(o.sparsity > 0 for o in options) and any(o.bits == 4 for o in options), options
    images, labels = load_digits_fixture("test", FIXTURES)
    model = pocketnn.Model(result.data)
    acc = accuracy(lambda x: model.run({"input": x})["logits"], images, labels)
    recorded = json.loads((FIXTURES / "digits_cnn.json").read_text())["onnxruntime_test_accuracy"]
    print(f"digits CNN, compress budget {BUDGET}: {acc:.3f} (float {recorded:.3f}), file "
          f"{len(result.data) / MODEL.stat().st_size:.3f}x the ONNX; {[o.label for o in options]}")
    assert acc >= recorded - 0.015
    assert len(result.data) <= 0.15 * MODEL.stat().st_size
    assert joint.chosen.error <= joint.ilp.error


def test_front_report_lists_every_point_and_marks_the_chosen_on_the_front(digits_joint, tmp_path) -> None:
    from pocketnn.front_report import write_front_report

    joint = digits_joint["result"].joint
    path = tmp_path / "front.html"
    rows = write_front_report(path, joint, digits_joint["calib"], "digits_cnn")
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    expected = [str(i) for i in range(len(joint.points))]
    assert sorted(page.rows, key=int) == expected
    assert sorted(page.circles, key=int) == sorted(expected * 2, key=int)  # both panels
    chosen = [i for i, r in enumerate(rows) if r.chosen]
    assert len(chosen) == 1 and rows[chosen[0]].on_front
    # On the front of the searched objectives, computed here from the points alone.
    objectives = [(p.error, float(p.file_bytes)) for p in joint.points]
    assert not dominated(objectives, chosen[0])
    assert all(0 <= r.score <= 1 and r.latency_ms > 0 for r in rows)


def test_cli_report_needs_compress_budget_and_budget_errors(tmp_path, capsys) -> None:
    assert main(["convert", str(MODEL), "-o", str(tmp_path / "m.pnn"), "--report", str(tmp_path / "f.html")]) == 2
    assert "give --compress-budget" in capsys.readouterr().out
    graph = run_passes(import_onnx(str(MODEL)))
    calib, _ = load_digits_fixture("calib", FIXTURES)
    with pytest.raises(QuantizationError, match="compress budget must be > 0"):
        compress_joint(graph, {"input": calib[:8]}, 0.0)
    with pytest.raises(QuantizationError, match="drop quantize"):
        convert_model(str(MODEL), calib={"input": calib[:8]}, quantize="int8", compress_budget=0.2, quiet=True)


def test_cli_compress_budget_writes_the_model_and_the_front(tmp_path, capsys) -> None:
    path, calib_path = tmp_path / "tiny.onnx", tmp_path / "calib.npz"
    _tiny_mlp(path)
    rng = np.random.default_rng(5)
    np.savez(calib_path, input=rng.standard_normal((64, 24)).astype(np.float32), labels=rng.integers(0, 8, 64))
    out, report = tmp_path / "tiny.pnn", tmp_path / "front.html"
    assert main(["convert", str(path), "-o", str(out), "--calib", str(calib_path), "--compress-budget", "0.35",
                 "--report", str(report), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "compress budget 0.35" in printed and "wrote" in printed
    assert out.stat().st_size <= 0.35 * 4 * (24 * 32 + 32 * 32 + 32 * 8)
    page = _Page()
    page.feed(report.read_text(encoding="utf-8"))
    assert page.rows and "<th>accuracy</th>" in report.read_text(encoding="utf-8")
