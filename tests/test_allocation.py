"""Per-layer sparsity allocation (pocketnn.sparsity.allocate; docs/SPARSITY.md,
"Allocation"): the knapsack against brute force, the recipe keys and the printed report.
The allocation on real models is asserted by its accuracy in tests/test_digits.py and
tests/test_digits_conv3x3.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pocketnn.sparsity.allocate import CANDIDATES, WIDE_CANDIDATES, WIDE_COLUMNS, layer_candidates, solve_allocation
from pocketnn.sparsity.layers import Layer
from pocketnn.sparsity.pipeline import LayerReport, SparsityReport
from pocketnn.sparsity.recipe import RecipeError, SparsityOptions, parse_recipe
from pocketnn.sparsity.report import print_sparsity_report
from rich.console import Console


def _brute_force(errors: dict[str, dict[float, float]], sizes: dict[str, int], sparsity: float) -> float:
    names = list(errors)
    total = sum(sizes.values())
    best = np.inf
    for choice in itertools.product(*(sorted(errors[n]) for n in names)):
        if sum(s * sizes[n] for n, s in zip(names, choice)) >= sparsity * total - 1e-9:
            best = min(best, sum(errors[n][s] for n, s in zip(names, choice)))
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sparsity", [0.5, 0.7, 0.85])
def test_knapsack_is_exact(seed: int, sparsity: float) -> None:
    rng = np.random.default_rng(seed)
    candidates = (0.0, 0.3, 0.5, 0.7, 0.9)
    sizes = {f"layer{i}": int(rng.integers(50, 5000)) for i in range(4)}
    errors = {}
    for name in sizes:  # growing with sparsity, at different rates per layer
        steps = np.cumsum(rng.random(len(candidates)) * rng.random() * 3)
        errors[name] = {s: float(e - steps[0]) for s, e in zip(candidates, steps)}
    chosen = solve_allocation(errors, sizes, sparsity)
    total = sum(sizes.values())
    assert sum(chosen[n] * sizes[n] for n in sizes) >= sparsity * total - 1e-9
    assert sum(errors[n][chosen[n]] for n in sizes) == pytest.approx(_brute_force(errors, sizes, sparsity))


def test_knapsack_moves_sparsity_to_the_cheap_big_layer() -> None:
    errors = {"big": {0.0: 0.0, 0.5: 0.01, 0.7: 0.02, 0.9: 0.05},
              "small": {0.0: 0.0, 0.5: 0.2, 0.7: 0.5, 0.9: 1.0}}
    # 70% of 10,000 weights: uniform costs 0.52; the big layer at 90% alone holds 8,100 zeros.
    assert solve_allocation(errors, {"big": 9000, "small": 1000}, 0.7) == {"big": 0.9, "small": 0.0}


def test_target_above_every_candidate_takes_the_sparsest() -> None:
    errors = {"a": {0.0: 0.0, 0.5: 1.0}, "b": {0.0: 0.0, 0.5: 2.0}}
    assert solve_allocation(errors, {"a": 10, "b": 10}, 0.9) == {"a": 0.5, "b": 0.5}


def test_candidates_span_dense_to_very_sparse() -> None:
    assert CANDIDATES[0] == 0.0 and max(CANDIDATES) >= 0.9 and list(CANDIDATES) == sorted(CANDIDATES)


def test_recipe_allocation_key() -> None:
    assert SparsityOptions().allocation == "sensitivity"
    options = SparsityOptions(sparsity=0.7).with_recipe(parse_recipe({"allocation": "uniform"}))
    assert options.allocation == "uniform"
    with pytest.raises(RecipeError, match="allocation"):
        parse_recipe({"allocation": "evenly"})


def test_recipe_ridge_key() -> None:
    assert SparsityOptions().with_recipe(parse_recipe({"ridge": 0.001})).ridge == 0.001
    for bad in (0, -1, "0.1", True, 11):
        with pytest.raises(RecipeError, match="ridge"):
            parse_recipe({"ridge": bad})


def test_report_prints_the_measured_errors() -> None:
    report = SparsityReport(layers=[LayerReport("conv", "conv1x1", 8, 8, 0.5, 4, "pruned"),
                                    LayerReport("head", "gemm", 8, 8, 0.0, 0, "pruned")],
                            allocation_errors={"conv": {0.0: 0.0, 0.5: 0.0123}, "head": {0.0: 0.0, 0.5: 0.25}})
    console = Console(width=160, record=True)
    print_sparsity_report(console, report)
    text = console.export_text()
    assert "sparsity allocation" in text and "1.23e-02" in text and "2.50e-01" in text
    assert "25.0% of their weights are zero" in text


def test_wide_layers_try_fewer_candidates() -> None:
    """Only layers of WIDE_COLUMNS or more columns drop to the coarse grid (the digits CNNs
    have at most 576), and a caller's own short list is left alone."""
    def layer(cols: int) -> Layer:
        return Layer("n", "conv1x1", "w", None, 64, cols, 1, False)

    assert layer_candidates(layer(WIDE_COLUMNS - 1), CANDIDATES) == list(CANDIDATES)
    assert layer_candidates(layer(WIDE_COLUMNS), CANDIDATES) == list(WIDE_CANDIDATES)
    assert layer_candidates(layer(WIDE_COLUMNS), (0.0, 0.6)) == [0.0, 0.6]
