"""The sparsity stage (converter/pocketnn/sparsity, docs/SPARSITY.md).

Pruning patterns and exact per-layer sparsity for every G; channel rearrangement keeps
the network's function (checked in pocketnn, weights stored dense) and raises group-mask
agreement; pre-pruned detection; reconstruction lowers the layer error; recipe errors;
the API and CLI. The digits accuracy tests at the end run the sparse .pnn in pocketnn,
so they need the runtime's sparse Conv (they fail, not skip, until it exists).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pocketnn
import pytest
from onnx import helper
from pocketnn.cli import main
from pocketnn.datasets import accuracy, digits_model_path, load_digits_fixture
from pocketnn.format.reader import read_pnn
from pocketnn.format.writer import write_pnn
from pocketnn.frontend.onnx_import import import_onnx
from pocketnn.ir import Graph
from pocketnn.passes import run_passes
from pocketnn.runtime import Model
from pocketnn.sparsity import (
    RecipeError,
    SparsityOptions,
    compress,
    load_recipe,
    parse_recipe,
)
from pocketnn.sparsity.calibration import CalibrationError, dense_copy, load_calibration
from pocketnn.sparsity.layers import find_layers, unit_scores, weight_matrix
from pocketnn.sparsity.prune import (
    apply_mask,
    exact_group,
    expand_mask,
    group_mask,
    retained_energy,
    sparsity_of,
)
from pocketnn.sparsity.rearrange import (
    Target,
    build_components,
    group_by_masks,
    rearrange,
)
from pocketnn.sparsity.reconstruct import Pruned, get_bias, reconstruct
from pocketnn.sparsity.timing import choose, choose_pruned, clear_cache, measure
from support import make_model

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GROUPS = (1, 2, 4, 8)
RNG = np.random.default_rng(0)


def rand(*shape: int, scale: float = 0.3) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def graph_of(model: object) -> Graph:
    return run_passes(import_onnx(model))  # type: ignore[arg-type]


def run_graph(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return Model(write_pnn(dense_copy(graph))).run(feeds)


def conv(name: str, x: str, w: str, b: str, y: str, **attrs: object) -> object:
    return helper.make_node("Conv", [x, w, b], [y], name=name, **attrs)


def residual_model() -> object:
    """pw conv -> relu -> depthwise -> pw conv -> Add(residual with a pw conv branch) ->
    Concat with another branch -> relu -> pw conv -> GlobalAveragePool -> Flatten -> Gemm."""
    c, m, e = 8, 32, 48
    inits = {
        "w0": rand(m, c, 1, 1), "b0": rand(m),
        "wd": rand(m, 1, 3, 3), "bd": rand(m),
        "w1": rand(e, m, 1, 1), "b1": rand(e),
        "w2": rand(e, m, 1, 1), "b2": rand(e),
        "w3": rand(24, m, 1, 1), "b3": rand(24),
        "mul": rand(1, e, 1, 1),
        "w4": rand(40, e + 24, 1, 1), "b4": rand(40),
        "wg": rand(10, 40 * 1), "bg": rand(10),
    }
    nodes = [
        conv("first", "x", "w0", "b0", "a0"),
        helper.make_node("Relu", ["a0"], ["r0"], name="relu0"),
        conv("dw", "r0", "wd", "bd", "d0", group=m, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["d0"], ["r1"], name="relu1"),
        conv("pw1", "r1", "w1", "b1", "p1"),
        conv("pw2", "r0", "w2", "b2", "p2"),
        helper.make_node("Add", ["p1", "p2"], ["s"], name="add"),
        helper.make_node("Mul", ["s", "mul"], ["sm"], name="scale"),
        conv("pw3", "r0", "w3", "b3", "p3"),
        helper.make_node("Concat", ["sm", "p3"], ["cat"], name="cat", axis=1),
        helper.make_node("Relu", ["cat"], ["rc"], name="relu2"),
        conv("pw4", "rc", "w4", "b4", "p4"),
        helper.make_node("GlobalAveragePool", ["p4"], ["gp"], name="gap"),
        helper.make_node("Flatten", ["gp"], ["fl"], name="flatten"),
        helper.make_node("Gemm", ["fl", "wg", "bg"], ["y"], name="fc", transB=1),
    ]
    return make_model(nodes, {"x": (1, c, 6, 6)}, ["y"], inits)


# ------------------------------------------------------------------------- pruning


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("sparsity", [0.5, 0.7, 0.9])
def test_group_pattern_and_exact_sparsity(group: int, sparsity: float) -> None:
    rows, channels, kernel = 64, 40, 9
    w = rand(rows, channels * kernel)
    scores = np.sqrt((w.reshape(rows, channels, kernel) ** 2).sum(axis=2))
    mask = group_mask(scores, group, sparsity)
    assert mask.shape == (rows // group, channels)
    pruned = apply_mask(w, mask, group, kernel)
    assert sparsity_of(pruned) == pytest.approx(sparsity, abs=1.0 / (rows // group * channels))
    nz = (pruned != 0).reshape(rows // group, group, channels, kernel)
    # every row of a group shares the input-channel mask, over all kernel positions
    assert np.array_equal(nz.all(axis=(1, 3)), mask) and np.array_equal(nz.any(axis=(1, 3)), mask)
    # the kept units are those of the largest group norms
    gnorm = np.sqrt((scores.reshape(rows // group, group, channels) ** 2).sum(axis=1))
    assert gnorm[mask].min() >= gnorm[~mask].max()


def test_partial_last_group_and_ties() -> None:
    w = np.zeros((13, 6), np.float32)  # all ties: the count still comes out exact
    mask = group_mask(np.abs(w), 4, 0.5)
    assert mask.sum() == round(0.5 * mask.size)
    w = rand(13, 6)
    for g in GROUPS:
        m = group_mask(np.abs(w), g, 0.7)
        assert m.shape == (-(-13 // g), 6)
        assert expand_mask(m, 13, g, 1).shape == (13, 6)


def test_layer_selection_and_sparsity_per_layer() -> None:
    g = graph_of(residual_model())
    for group in GROUPS:
        out, report = compress(g, SparsityOptions(sparsity=0.75, pattern=group, rearrange=False))
        by_name = {r.node: r for r in report.layers}
        assert by_name["first"].reason == "skipped: first convolution"
        assert "dw" not in by_name  # depthwise: never a candidate
        for name in ("pw1", "pw2", "pw3", "pw4", "fc"):  # scope "all": the small Gemm head too
            r = by_name[name]
            layer = next(x for x in find_layers(out) if x.node == name)
            w = weight_matrix(out, layer)
            assert r.group == group and out.tensors[layer.weight].sparse_group == group
            units = -(-layer.rows // group) * layer.channels
            partial = (layer.rows % group) / layer.rows  # a partial last group's units hold fewer weights
            assert abs(sparsity_of(w) - 0.75) <= 1.0 / units + partial + 1e-9, name
            assert r.sparsity == pytest.approx(sparsity_of(w))
        assert report.pruned_fraction == pytest.approx(0.75, abs=0.02)
        assert out.tensors["w0"].sparse_group == 0 and g.tensors["w1"].sparse_group == 0  # input untouched
    _, report = compress(g, SparsityOptions(sparsity=0.75, pattern=4, scope="pointwise"))
    assert next(r for r in report.layers if r.node == "fc").reason.startswith("skipped: tiny")


# --------------------------------------------------------------- rearrangement


def test_rearrangement_keeps_the_function_and_groups_masks() -> None:
    g = graph_of(residual_model())
    targets = {layer.node: Target(unit_scores(weight_matrix(g, layer), layer), 0.8, 4)
               for layer in find_layers(g) if layer.node in ("pw1", "pw2", "pw3", "pw4")}
    out, permuted = rearrange(g, targets)
    # the residual pair shares one order; pw3 (Concat) and pw4 (Flatten->Gemm) too
    assert {"pw1", "pw2", "pw4"} <= set(permuted), permuted
    assert not np.array_equal(out.constant("w4"), g.constant("w4"))
    x = RNG.standard_normal((1, 8, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(run_graph(out, {"x": x})["y"], run_graph(g, {"x": x})["y"], rtol=1e-5, atol=1e-5)
    gained = 0
    for layer in find_layers(g):
        if layer.node in permuted and layer.node in targets:
            before = retained_energy(unit_scores(weight_matrix(g, layer), layer), 4, 0.8)
            after = retained_energy(unit_scores(weight_matrix(out, layer), layer), 4, 0.8)
            gained += after > before
    assert gained >= 1


def test_rearrangement_blocked_at_graph_outputs() -> None:
    """A layer whose output is a graph output cannot be permuted."""
    model = make_model([conv("a", "x", "w", "b", "y")], {"x": (1, 16, 4, 4)}, ["y"],
                       {"w": rand(32, 16, 1, 1), "b": rand(32)})
    g = graph_of(model)
    comps = build_components(g)
    assert comps.root("y") in comps.blocked
    out, permuted = rearrange(g, {"a": Target(np.abs(rand(32, 16)), 0.8, 4)})
    assert permuted == [] and np.array_equal(out.constant("w"), g.constant("w"))


def test_group_by_masks_finds_planted_groups() -> None:
    base = RNG.random((4, 64)) < 0.3
    rows = np.repeat(base, 4, axis=0)  # 4 groups of 4 identical masks
    shuffle = RNG.permutation(16)
    perm = group_by_masks(rows[shuffle], 4)
    grouped = rows[shuffle][perm].reshape(4, 4, 64)
    assert all((grp == grp[0]).all() for grp in grouped)
    assert sorted(perm.tolist()) == list(range(16))


def test_full_stage_keeps_function_at_zero_sparsity() -> None:
    """Rearrangement inside compress, pruning nothing: outputs unchanged."""
    g = graph_of(residual_model())
    out, _ = compress(g, SparsityOptions(sparsity=0.0, pattern=4))
    x = RNG.standard_normal((1, 8, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(run_graph(out, {"x": x})["y"], run_graph(g, {"x": x})["y"], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ pre-pruned


def test_prepruned_weights_are_detected() -> None:
    w_exact = rand(32, 24, 1, 1)
    w_exact[:, ::3] = 0
    w_exact.reshape(8, 4, 24)[:, :, 1::3] = 0  # ~67% zero, whole groups of 4 rows
    w_rows = rand(32, 24, 1, 1)
    w_rows[RNG.random(w_rows.shape) < 0.6] = 0   # ~60% zero, no group structure
    w_dense = rand(32, 32, 1, 1)
    w_dense[:, :8] = 0                            # 25%: stays dense
    nodes = [conv("a", "x", "wa", "ba", "ya"), helper.make_node("Relu", ["ya"], ["ra"], name="r"),
             conv("b", "ra", "wb", "bb", "yb"), conv("c", "yb", "wc", "bc", "y")]
    model = make_model(nodes, {"x": (1, 24, 4, 4)}, ["y"],
                       {"wa": w_exact.reshape(32, 24, 1, 1)[:, :24], "ba": rand(32),
                        "wb": np.concatenate([w_rows, w_rows[:, :8]], axis=1), "bb": rand(32),
                        "wc": w_dense, "bc": rand(32)})
    g = graph_of(model)
    out, report = compress(g, SparsityOptions())  # no --sparsity
    assert exact_group(w_exact.reshape(32, 24)) == 8 or exact_group(w_exact.reshape(32, 24)) == 4
    assert out.tensors["wa"].sparse_group == exact_group(w_exact.reshape(32, 24)) > 1
    assert out.tensors["wb"].sparse_group == 1
    assert out.tensors["wc"].sparse_group == 0
    assert {r.node for r in report.layers} == {"a", "b"}
    assert np.array_equal(out.constant("wa"), g.constant("wa"))  # detection never changes values
    f = read_pnn(write_pnn(out))
    np.testing.assert_array_equal(f.tensor("wa").data, g.constant("wa"))


def test_exact_group() -> None:
    w = np.zeros((8, 5), np.float32)
    assert exact_group(w) == 8
    w[0, 0] = 1
    assert exact_group(w) == 1
    w[:2, 0] = 1
    assert exact_group(w) == 2
    w = np.ones((6, 3), np.float32)  # partial last groups need no padding values
    assert exact_group(w) == 8


# -------------------------------------------------------------- reconstruction


def _digits() -> tuple[Graph, np.ndarray]:
    g = run_passes(import_onnx(digits_model_path(FIXTURES)))
    x, _ = load_digits_fixture("calib", FIXTURES)
    return g, x


def test_reconstruction_lowers_the_layer_error() -> None:
    g, x = _digits()
    layer = next(layer for layer in find_layers(g) if layer.node == "/features/features.6/body/body.6/Conv")
    w = weight_matrix(g, layer)
    mask = group_mask(unit_scores(w, layer), 4, 0.7)
    pruned = dense_copy(g)
    item = Pruned(layer, w.copy(), get_bias(g, layer), 0.7, 4, mask)
    from pocketnn.sparsity.layers import set_weight_matrix
    set_weight_matrix(pruned, layer, apply_mask(w, mask, 4, layer.kernel))
    feeds = load_calibration({"input": x[:64]}, g)
    out, results = reconstruct(g, pruned, [item], feeds)
    (r,) = results
    assert r.error_after < 0.6 * r.error_before, r
    refit = weight_matrix(out, layer)
    assert np.array_equal(refit != 0, apply_mask(w, mask, 4, layer.kernel) != 0)  # same pattern


def test_calibration_errors_are_clear() -> None:
    g, x = _digits()
    with pytest.raises(CalibrationError, match="lacks input"):
        load_calibration({"image": x}, g)
    with pytest.raises(CalibrationError, match="N x 1 x 28 x 28"):
        load_calibration({"input": x[:, 0]}, g)
    assert len(load_calibration({"input": x[:5]}, g)) == 5


# ---------------------------------------------------------------------- recipe


@pytest.mark.parametrize("recipe, message", [
    ({"sparsity": 1.5}, r"\[0, 1\)"),
    ({"sparsity": "high"}, "number"),
    ({"scope": "kxk"}, r"scope.*\['all', 'pointwise'\]"),
    ({"method": "wanda"}, "method.*sparsegpt"),
    ({"include_kxk": True}, "unknown key"),
    ({"pattern": 3}, "pattern"),
    ({"sparsty": 0.5}, "unknown key.*sparsty"),
    ({"layers": {"match": "x"}}, "list"),
    ({"layers": [{"sparsity": 0.5}]}, r"layers\[0\].*match"),
    ({"layers": [{"match": "a", "skip": "yes"}]}, "true or false"),
    ({"layers": [{"match": "a"}]}, "sets nothing"),
    ({"layers": [{"match": "a", "groups": 4}]}, "unknown key"),
    ({"min_channels": 0}, "positive"),
])
def test_recipe_errors(recipe: dict, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        parse_recipe(recipe)


def test_recipe_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{\"sparsity\": 0.5,}")
    with pytest.raises(RecipeError, match="not valid JSON.*line 1"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="cannot read recipe"):
        load_recipe(tmp_path / "missing.json")


def test_recipe_rules_apply() -> None:
    g = graph_of(residual_model())
    recipe = parse_recipe({"sparsity": 0.5, "pattern": 2, "rearrange": False, "layers": [
        {"match": "pw[12]", "sparsity": 0.8}, {"match": "pw2", "pattern": 8},
        {"match": "pw3", "skip": True}, {"match": "fc", "sparsity": 0.6, "pattern": 1}]})
    _, report = compress(g, SparsityOptions().with_recipe(recipe))
    by = {r.node: r for r in report.layers}
    assert (by["pw1"].group, round(by["pw1"].sparsity, 2)) == (2, 0.8)
    assert (by["pw2"].group, round(by["pw2"].sparsity, 2)) == (8, 0.8)
    assert "pw3" not in by or by["pw3"].group == 0
    assert (by["pw4"].group, round(by["pw4"].sparsity, 2)) == (2, 0.5)
    assert (by["fc"].group, round(by["fc"].sparsity, 2)) == (1, 0.6)  # named: not "tiny" any more
    with pytest.raises(RecipeError, match="matches no prunable layer"):
        compress(g, SparsityOptions().with_recipe(parse_recipe({"layers": [{"match": "nope*", "skip": True}]})))


def test_timing_choice() -> None:
    assert choose({0: 1.0, 1: 0.5, 4: 0.4}) == 4
    assert choose({0: 1.0, 1: 0.99, 4: 1.2}) == 0  # not faster by the margin: dense
    # Within 5% of the fastest, the finer group wins (it keeps more weight energy)...
    assert choose({0: 1.0, 1: 0.6, 2: 0.52, 4: 0.5, 8: 0.51}) == 2
    # ...but only if it also beats dense by the margin.
    assert choose({0: 1.0, 1: 0.975, 4: 0.95}) == 4
    assert choose({0: 1.0}) == 0


def test_storage_of_layers_pruned_anyway() -> None:
    """Scope "all" prunes whatever the timing; below half density sparse storage is kept
    unless it is more than SPARSE_SLOWDOWN_LIMIT (1.25x) slower than dense."""
    assert choose_pruned({0: 1.0, 1: 0.5, 4: 0.4}, 0.7) == 4  # faster: as choose
    assert choose_pruned({0: 1.0, 1: 1.3, 4: 1.2, 8: 1.22}, 0.7) == 4  # slower, but within the limit
    assert choose_pruned({0: 1.0, 1: 1.3, 4: 1.3}, 0.7) == 0  # much slower: dense
    assert choose_pruned({0: 1.0, 4: 1.1}, 0.4) == 0  # above half density: only if faster


def test_auto_pattern_times_sparse_layers() -> None:
    """With the runtime's sparse kernels, "auto" measures every G (no fallback warning)."""
    clear_cache()
    g = graph_of(residual_model())
    layer = next(la for la in find_layers(g) if la.rows >= 32 and la.kind == "conv1x1")
    timings = measure(g, layer, 0.8, budget_s=0.05)
    assert timings is not None and set(timings) == {0, *GROUPS}
    assert all(t > 0 for t in timings.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, report = compress(g, SparsityOptions(sparsity=0.8))
    assert not report.warnings
    assert all(r.timings is not None for r in report.layers if r.reason.startswith(("pruned", "kept dense")))


def test_auto_pattern_falls_back_with_a_warning() -> None:
    g = graph_of(residual_model())
    with pytest.warns(UserWarning, match="G=4"):
        _, report = compress(g, SparsityOptions(sparsity=0.5, timing=False))
    assert {r.group for r in report.layers if r.reason.startswith("pruned")} == {4}


# ----------------------------------------------------------------- API and CLI


def test_convert_api_and_cli(tmp_path: Path) -> None:
    model = residual_model()
    data = pocketnn.convert(model, sparsity=0.8, sparsity_pattern=2, keep_names=True)
    f = read_pnn(data)
    assert f.tensor("w4").sparse is not None and f.tensor("w4").sparse.group == 2  # type: ignore[union-attr]
    with pytest.raises(RecipeError):
        pocketnn.convert(model, sparsity=1.0)
    with pytest.raises(RecipeError):
        pocketnn.convert(model, sparsity=0.5, sparsity_pattern="3")
    import onnx
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))  # type: ignore[arg-type]
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"layers": [{"match": "pw4", "sparsity": 0.9}]}))
    calib = tmp_path / "c.npz"
    np.savez(calib, x=RNG.standard_normal((6, 8, 6, 6)).astype(np.float32))
    out = tmp_path / "m.pnn"
    assert main(["convert", str(path), "-o", str(out), "--sparsity", "0.6", "--sparsity-pattern", "4",
                 "--calib", str(calib), "--recipe", str(recipe), "--keep-names"]) == 0
    f = read_pnn(out.read_bytes())
    assert f.tensor("w4").sparse is not None and f.tensor("w4").sparse.group == 4  # type: ignore[union-attr]
    assert sparsity_of(f.tensor("w4").data) == pytest.approx(0.9, abs=0.02)  # type: ignore[arg-type]
    assert main(["convert", str(path), "-o", str(out), "--sparsity", "2"]) == 2
    assert main(["convert", str(path), "-o", str(out), "--sparsity", "0.5", "--recipe", str(tmp_path / "no")]) == 2


# --------------------------------------------- accuracy on real digits (needs sparse Conv)


@pytest.fixture(scope="module")
def digits_accuracy() -> dict[tuple[float, bool], float]:
    """Test accuracy of the digits CNN converted at 50/70/90% sparsity, with and without
    reconstruction on the 250 calibration digits, run in pocketnn from the sparse .pnn
    itself. G = 4 fixed, so the result does not depend on this machine's timings."""
    images, labels = load_digits_fixture("test", FIXTURES)
    calib, _ = load_digits_fixture("calib", FIXTURES)
    path = digits_model_path(FIXTURES)
    results: dict[tuple[float, bool], float] = {}
    for sparsity in (0.5, 0.7, 0.9):
        for with_calib in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                data = pocketnn.convert(path, sparsity=sparsity, sparsity_pattern=4,
                                        calib={"input": calib} if with_calib else None)
            model = Model(data)
            results[(sparsity, with_calib)] = accuracy(lambda x, m=model: m.run({"input": x})["logits"],
                                                       images, labels)
    return results


def test_digits_70_percent_with_reconstruction_loses_at_most_one_point(digits_accuracy) -> None:
    dense = 0.986  # tests/fixtures/digits_cnn.json, and test_digits.py in pocketnn
    assert digits_accuracy[(0.7, True)] >= dense - 0.01, digits_accuracy


def test_digits_reconstruction_helps_at_every_sparsity(digits_accuracy) -> None:
    for sparsity in (0.5, 0.7, 0.9):
        assert digits_accuracy[(sparsity, True)] > digits_accuracy[(sparsity, False)], digits_accuracy
    assert digits_accuracy[(0.5, True)] >= 0.98 and digits_accuracy[(0.9, True)] >= 0.8, digits_accuracy
