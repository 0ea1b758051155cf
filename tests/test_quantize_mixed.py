"""Mixed int4/int8 quantization (quantization.mixed): the ILP on hand-made problems
whose answer is known, and on the digits fixture: accuracy, the size budget in the
packed file, first/last layers int8, the infeasible-budget error, the CLI and inspect,
and half of int8's weight size with the first and last layers free (first_last_int8=False,
--int4-first-last) within 1 point of the float model's accuracy in onnxruntime (issue 14;
the conv3x3 CNN's rows are in tests/test_digits_conv3x3.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pocketnn
import pytest
from pocketnn.cli import main
from pocketnn.format.writer import write_pnn
from pocketnn.ir import Graph
from pocketnn.quantization.activations import QuantizationError
from pocketnn.datasets import digits_metadata
from pocketnn.quantization.mixed import LayerCost, packed_weights, quantize_mixed, solve_bits
from pocketnn.quantization.quantize_graph import quantize_static
from pocketnn.quantization.simulate_graph import simulate_graph
from support import digits_float_setup

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# By default the digits CNN cannot reach 0.5: its first and last layers stay int8, so the
# smallest size is 0.518 of int8's weight bytes; 0.6 makes the ILP choose.
DIGITS_BUDGET = 0.6
# Issue 14: mixed at half of int8's weight size loses at most 1 point against float32
# (issue 5 asked for 1.5). Reachable only with the first and last layers free; every
# digits layer has an even weight count, so exactly half leaves one choice, every layer
# int4, which GPTQ (mixed's default rounding) keeps at float's accuracy.
HALF = 0.5


def _cost(sensitivity: float, bytes8: int, seconds8: float = 1.0, seconds4: float = 1.0) -> LayerCost:
    return LayerCost(f"layer{bytes8}", sensitivity, bytes8, (bytes8 + 1) // 2, seconds8, seconds4)


def test_ilp_picks_the_least_sensitive_layers_that_fit() -> None:
    # int8 total 1000 bytes. Budget 0.75 = 750: must save >= 250 bytes. Int4 on the
    # 400-byte layer saves 200 (not enough alone); 400 + 200 saves 300 at cost 3.0;
    # 400 + 300 saves 350 at cost 2.5 (best); 200 + 300 saves 250 at cost 3.5.
    costs = [_cost(9.0, 100), _cost(1.0, 400), _cost(2.0, 200), _cost(1.5, 300)]
    assert solve_bits(costs, 0.75) == [8, 4, 8, 4]
    # The first layer fixed int8 changes nothing here; fixing layer 1 forces 2 + 3.
    assert solve_bits(costs, 0.75, fixed_int8=(0,)) == [8, 4, 8, 4]
    assert solve_bits(costs, 0.75, fixed_int8=(1,)) == [8, 8, 4, 4]
    # A loose budget costs no accuracy: everything stays int8.
    assert solve_bits(costs, 1.0) == [8, 8, 8, 8]


def test_ilp_respects_a_latency_budget() -> None:
    # Here int4 is faster on layer 2 only (hypothetical timings): a latency budget of
    # 0.9 forces it to int4 although it is the most sensitive.
    costs = [_cost(1.0, 100, 1.0, 1.0), _cost(1.0, 100, 1.0, 1.0), _cost(5.0, 100, 1.0, 0.5)]
    assert solve_bits(costs, 1.0, latency_budget=0.9) == [8, 8, 4]
    assert solve_bits(costs, 1.0) == [8, 8, 8]
    with pytest.raises(QuantizationError, match="latency budget 0.5.*latency 0.833"):
        solve_bits(costs, 1.0, latency_budget=0.5)


def test_infeasible_size_budget_names_the_smallest_reachable_size() -> None:
    costs = [_cost(1.0, 100), _cost(1.0, 200), _cost(1.0, 100)]
    # First and last int8: 100 + 100 + 200 / 2 = 300 of 400.
    with pytest.raises(QuantizationError, match="layer100 and layer100 kept int8 the smallest reachable size "
                                                "is 0.750.*--int4-first-last"):
        solve_bits(costs, 0.7, fixed_int8=(0, 2))
    with pytest.raises(QuantizationError, match="budget 0.4: the smallest reachable size is 0.500"):
        solve_bits(costs, 0.4)
    assert solve_bits(costs, 0.75, fixed_int8=(0, 2)) == [8, 4, 8]
    with pytest.raises(QuantizationError, match="size budget must be > 0"):
        solve_bits(costs, 0.0)


@pytest.fixture(scope="module")
def digits() -> dict:
    setup = digits_float_setup(FIXTURES)
    graph, calib = setup["graph"], setup["calib"]
    mixed, choice = quantize_mixed(graph, {"input": calib}, DIGITS_BUDGET, latency_budget=1.5)
    half, half_choice = quantize_mixed(graph, {"input": calib}, HALF, first_last_int8=False)
    return {**setup, "mixed": mixed, "choice": choice, "half": half, "half_choice": half_choice,
            "int8": quantize_static(graph, {"input": calib}, "int8")}


def _accuracy(graph: Graph, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(simulate_graph(graph, {"input": images})["logits"].argmax(1) == labels))


def test_mixed_accuracy_and_size_on_digits(digits) -> None:
    accuracy = _accuracy(digits["mixed"], digits["images"], digits["labels"])
    int8_accuracy = _accuracy(digits["int8"], digits["images"], digits["labels"])
    mixed_bytes = sum(b for b, _ in packed_weights(write_pnn(digits["mixed"])))
    int8_bytes = sum(b for b, _ in packed_weights(write_pnn(digits["int8"])))
    print(f"digits: float {digits['float_accuracy']:.3f}, int8 {int8_accuracy:.3f}, mixed at size budget "
          f"{DIGITS_BUDGET} {accuracy:.3f} (bits {digits['choice'].bits}); .pnn weight bytes mixed "
          f"{mixed_bytes:,} vs int8 {int8_bytes:,} ({mixed_bytes / int8_bytes:.3f})")
    assert accuracy >= digits["float_accuracy"] - 0.015
    assert mixed_bytes <= DIGITS_BUDGET * int8_bytes
    assert math.isclose(mixed_bytes / int8_bytes, digits["choice"].size_fraction)


def test_mixed_keeps_the_first_and_last_layers_int8_and_uses_int4(digits) -> None:
    bits = digits["choice"].bits
    assert bits[0] == bits[-1] == 8 and 4 in bits
    dtypes = [dtype for _, dtype in packed_weights(write_pnn(digits["mixed"]))]
    assert dtypes == [5 if b == 4 else 3 for b in bits]  # s4 / s8 in the file
    costs = digits["choice"].costs
    assert all(c.sensitivity > 0 and c.seconds8 > 0 and c.seconds4 > 0 for c in costs)


def test_digits_half_size_is_infeasible_with_first_and_last_int8(digits) -> None:
    costs = digits["choice"].costs
    with pytest.raises(QuantizationError, match="smallest reachable size is 0.518"):
        solve_bits(costs, 0.5, fixed_int8=(0, len(costs) - 1))


def test_mixed_at_half_the_int8_size_loses_at_most_one_point(digits) -> None:
    accuracy = _accuracy(digits["half"], digits["images"], digits["labels"])
    half_bytes = sum(b for b, _ in packed_weights(write_pnn(digits["half"])))
    int8_bytes = sum(b for b, _ in packed_weights(write_pnn(digits["int8"])))
    print(f"digits: float {digits['float_accuracy']:.3f}, mixed at size budget {HALF} with int4 first/last "
          f"{accuracy:.3f} (bits {digits['half_choice'].bits}); .pnn weight bytes {half_bytes:,} vs int8 "
          f"{int8_bytes:,} ({half_bytes / int8_bytes:.3f})")
    assert half_bytes <= HALF * int8_bytes
    assert accuracy >= digits_metadata(FIXTURES)["onnxruntime_test_accuracy"] - 0.010


def test_int4_first_and_last_layers_run_bit_exact(digits) -> None:
    # The int4 scheme never makes the first conv (one input channel) or the Gemm int4.
    model = pocketnn.Model(write_pnn(digits["half"]))
    images = digits["images"][:200]
    logits = np.concatenate([model.run({"input": image[None]})["logits"] for image in images])
    assert np.array_equal(logits, simulate_graph(digits["half"], {"input": images})["logits"])


def test_first_last_int8_false_needs_mixed(digits) -> None:
    with pytest.raises(QuantizationError, match="--int4-first-last.*mixed"):
        pocketnn.convert(str(digits["path"]), quantize="int8", calib={"input": digits["calib"]},
                         first_last_int8=False)


def test_cli_mixed_and_inspect_shows_the_bits(digits, tmp_path, capsys) -> None:
    np.savez(tmp_path / "calib.npz", input=digits["calib"])
    pnn = tmp_path / "mixed.pnn"
    assert main(["convert", str(digits["path"]), "-o", str(pnn), "--quantize", "mixed",
                 "--calib", str(tmp_path / "calib.npz"), "--size-budget", str(DIGITS_BUDGET)]) == 0
    # The fixture's latency budget 1.5 does not bind (int4 and int8 layers time about alike): the same choice.
    assert [4 if d == 5 else 8 for _, d in packed_weights(pnn.read_bytes())] == digits["choice"].bits
    capsys.readouterr()
    assert main(["inspect", str(pnn)]) == 0
    out = capsys.readouterr().out
    assert out.count("s4 (4-bit weights)") == digits["choice"].bits.count(4)
    assert out.count("s8 (8-bit weights)") == digits["choice"].bits.count(8)


def test_latency_budget_needs_mixed(digits) -> None:
    with pytest.raises(QuantizationError, match="mixed"):
        pocketnn.convert(str(digits["path"]), quantize="int8", calib={"input": digits["calib"]},
                         latency_budget=0.9)


def test_cli_int4_first_last_reaches_half_size(digits, tmp_path, capsys) -> None:
    np.savez(tmp_path / "calib.npz", input=digits["calib"])
    pnn = tmp_path / "half.pnn"
    convert_args = ["convert", str(digits["path"]), "-o", str(pnn), "--quantize", "mixed",
                    "--calib", str(tmp_path / "calib.npz"), "--size-budget", str(HALF)]
    assert main(convert_args) == 2
    error = " ".join(capsys.readouterr().out.split())
    assert "smallest reachable size is 0.518" in error and "--int4-first-last" in error
    assert main(convert_args + ["--int4-first-last"]) == 0
    assert [4 if d == 5 else 8 for _, d in packed_weights(pnn.read_bytes())] == digits["half_choice"].bits
