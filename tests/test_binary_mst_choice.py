"""The converter's MST choice and budget (docs/BINARY.md, "MST output-channel reordering"):
`mst` "on" / "off" / "auto" recorded per binary layer and followed by the runtime (kernel
name `+mst` or not), the same bits on every choice and equal to the simulator, the
loader refusing a corrupt choice, the per-layer report with measured times (convert and
inspect), and --mst-budget's bit flipping on the latent-weight fixture, checked on the
held-out test digits."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pocketnn
import pytest
from pocketnn import cli
from pocketnn.binary.mst_budget import latent_in_bit_layout
from pocketnn.binary.mst_choice import AUTO_MARGIN, METADATA_PREFIX, MST_ATTR
from pocketnn.conversion import convert_graph, convert_model
from pocketnn.datasets import load_digits_fixture
from pocketnn.format.reader import read_pnn
from pocketnn.format.writer import write_pnn
from support import run_onnxruntime
from test_binary_mst_runtime import clustered_signs, conv_model, kernels, simulate_convs
from test_binary_ops import _assert_close_to_onnxruntime, _no_zeros, isa  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"
LATENT = FIXTURES / "bnn" / "bnn_latent.onnx"
SHAPE = (1, 64, 9, 8)


def _clustered(seed: int = 21) -> tuple[onnx.ModelProto, list]:
    rng = np.random.default_rng(seed)
    return conv_model([clustered_signs(rng, 96, 64, 9), clustered_signs(rng, 40, 96, 9)], SHAPE, 1)


def _random(seed: int = 22) -> tuple[onnx.ModelProto, list]:
    rng = np.random.default_rng(seed)
    return conv_model([rng.choice(np.array([-1.0, 1.0], np.float32), (48, 64, 3, 3))], SHAPE, 1)


# The choice is the file's, so every ISA path follows it (the timing used this host's best).
@pytest.mark.parametrize("make", [_clustered, _random], ids=["clustered", "random"])
def test_choice_is_followed_and_every_choice_gives_the_same_bits(make, isa: str) -> None:
    model, params = make()
    x = _no_zeros(np.random.default_rng(7), SHAPE)
    simulated = simulate_convs(params, x, 1, False)
    outputs = {}
    for mode in ("on", "off", "auto"):
        result = convert_model(model, input_shapes={"x": SHAPE}, quiet=True, mst=mode)
        names = kernels(pocketnn.Model(result.data, isa=isa))
        chosen = [layer.choice for layer in result.mst.layers]
        assert [n.attrs[MST_ATTR] for n in result.graph.nodes] == [int(c == "mst") for c in chosen]
        # The runtime follows the file, whatever its own 30%-words rule would say.
        assert [name.endswith("+mst") for name in names] == [c == "mst" for c in chosen], (mode, names)
        if mode != "auto":
            assert chosen == ["mst" if mode == "on" else "plain"] * len(chosen)
        outputs[mode] = pocketnn.Model(result.data, isa=isa).run({"x": x})["y"]
        np.testing.assert_array_equal(outputs[mode], simulated)
    _assert_close_to_onnxruntime(outputs["on"], run_onnxruntime(model, {"x": x})[0])


def test_auto_takes_what_measured_faster() -> None:
    model, _ = _clustered()
    report = convert_model(model, input_shapes={"x": SHAPE}, quiet=True, mst="auto").mst
    for layer in report.layers:
        assert layer.ms_plain > 0 and layer.ms_mst > 0
        assert (layer.choice == "mst") == (layer.ms_mst <= layer.ms_plain * (1 - AUTO_MARGIN))


def test_file_without_a_choice_keeps_the_load_rule() -> None:
    graph = convert_graph(_clustered()[0], input_shapes={"x": SHAPE}, quiet=True)[0]
    assert all(MST_ATTR not in n.attrs for n in graph.nodes)
    assert all(name.endswith("+mst") for name in kernels(pocketnn.Model(write_pnn(graph))))
    graph = convert_graph(_random()[0], input_shapes={"x": SHAPE}, quiet=True)[0]
    assert not any(name.endswith("+mst") for name in kernels(pocketnn.Model(write_pnn(graph))))


@pytest.mark.parametrize("value", [2, -1, 1 << 40, 0.5])
def test_loader_rejects_a_corrupt_choice(value: object) -> None:
    graph = convert_graph(_clustered()[0], input_shapes={"x": SHAPE}, quiet=True)[0]
    graph.nodes[0].attrs[MST_ATTR] = value  # type: ignore[assignment]
    with pytest.raises(pocketnn.NativeError, match="mst"):
        pocketnn.Model(write_pnn(graph))


def test_report_holds_the_measured_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, _ = _clustered()
    source, out = tmp_path / "m.onnx", tmp_path / "m.pnn"
    onnx.save(model, source)
    assert cli.main(["convert", str(source), "-o", str(out), "--input-shape", "x=1x64x9x8", "--mst", "on"]) == 0
    printed = capsys.readouterr().out
    assert "MST per binary layer" in printed and "ms plain" in printed
    parsed = read_pnn(out.read_bytes())
    summaries = [str(parsed.metadata[METADATA_PREFIX + n.name]) for n in parsed.nodes]
    for summary in summaries:
        plain = float(summary.split("ms plain ")[1].split(",")[0])
        touched = float(summary.split("words touched ")[1].split("%")[0])
        assert plain > 0 and 0 < touched <= 30  # near-copies: few words differ along an edge
    assert cli.main(["inspect", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "MST (binary layers)" in shown and "tree-delta" in shown and "+mst" in shown
    assert shown.count("ms plain") == len(summaries)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (*load_digits_fixture("calib", FIXTURES), *load_digits_fixture("test", FIXTURES))


def _accuracy(data: bytes, images: np.ndarray, labels: np.ndarray) -> float:
    model = pocketnn.Model(data)
    predicted = [int(np.argmax(model.run({"input": images[i:i + 1]})["logits"])) for i in range(len(images))]
    return 100.0 * float(np.mean(np.array(predicted) == labels))


@pytest.mark.parametrize("form,points", [("bnn_latent", 0.5), ("bnn_latent", 1.0), ("bnn_qonnx", 1.0)])
def test_budget_keeps_held_out_accuracy_and_saves_words(form: str, points: float, digits) -> None:
    """Latent weights as Sign(W) (PyTorch) and as BipolarQuant(W, a) (QONNX)."""
    calib_x, calib_y, test_x, test_y = digits
    source = str(FIXTURES / "bnn" / f"{form}.onnx")
    plain = convert_model(source, quiet=True)
    flipped = convert_model(source, quiet=True, calib={"input": calib_x, "labels": calib_y}, mst_budget=points)
    budget = flipped.mst_budget
    assert budget.metric == "accuracy" and budget.samples == len(calib_y)
    assert budget.score_after >= budget.score_before - points
    assert budget.words_flipped > 0
    assert budget.ms_before > 0 and budget.ms_after > 0  # the speed change is measured
    before = sum(layer.words_touched_before for layer in budget.layers)
    after = sum(layer.words_touched_after for layer in budget.layers)
    assert after < before
    # The flipped words really are gone from the file's trees (not only from the report).
    assert flipped.mst is not None and sum(layer.words_touched for layer in flipped.mst.layers) == pytest.approx(after)
    held_out = _accuracy(plain.data, test_x, test_y), _accuracy(flipped.data, test_x, test_y)
    assert held_out[1] >= held_out[0] - points, held_out


def test_budget_without_labels_scores_agreement(digits) -> None:
    calib_x = digits[0][:60]
    budget = convert_model(str(LATENT), quiet=True, calib={"input": calib_x}, mst_budget=0.0).mst_budget
    assert budget.metric == "top-1 agreement" and budget.score_before == 100.0 and budget.score_after == 100.0


def test_budget_needs_latent_weights(digits) -> None:
    with pytest.raises(ValueError, match="latent"):
        convert_model(str(FIXTURES / "bnn" / "bnn_frozen.onnx"), quiet=True,
                      calib={"input": digits[0][:8]}, mst_budget=1.0)


def test_latent_weights_found_in_every_lowered_layout() -> None:
    """OIHW conv weights and dense weights either way round, a row negated (a negative
    folded BN scale) included; signs that do not match are not taken."""
    rng = np.random.default_rng(5)
    conv = rng.standard_normal((6, 70, 3, 3))
    bits = np.pad(np.transpose(conv < 0, (0, 2, 3, 1)), [(0, 0)] * 3 + [(0, 58)]).reshape(6, -1)
    bits[2] = ~bits[2] & np.pad(np.ones((3, 3, 70), bool), [(0, 0), (0, 0), (0, 58)]).reshape(-1)
    magnitude = latent_in_bit_layout(conv, bits)
    assert magnitude is not None and magnitude.shape == bits.shape
    np.testing.assert_array_equal(magnitude[:, :70], np.abs(conv[:, :, 0, 0]))
    assert not magnitude[:, 70:128].any()  # padding bits cost nothing (never differ)
    dense = rng.standard_normal((100, 5))  # MatMul's B: [K, M]
    dense_bits = np.pad(dense.T < 0, [(0, 0), (0, 28)])
    np.testing.assert_array_equal(latent_in_bit_layout(dense, dense_bits)[:, :100], np.abs(dense.T))
    dense_bits[0, 3] = ~dense_bits[0, 3]
    assert latent_in_bit_layout(dense, dense_bits) is None
