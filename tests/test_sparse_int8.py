"""Sparsity and integer quantization together (issue 5): pruned layers keep group-sparse
storage as s8 (format 1.3) where the int8 SpMM pays, the runtime stays bit-exact with the
numpy simulator, and quantizing a pruned model costs no more accuracy than quantizing a
dense one (measured on the digits fixture against the same pruned float model)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pocketnn
import pytest
from pocketnn.conversion import convert_graph, sparsity_options
from pocketnn.format import spec
from pocketnn.format.writer import write_pnn
from pocketnn.ir import DType, Graph
from pocketnn.quantization import mixed
from pocketnn.quantization.simulate_graph import simulate_graph
from pocketnn.quantization.sparse_storage import SparseStorage
from support import digits_float_setup, sparse_int8_kernels_pay

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Fixed G, so the float and the int8 conversions prune the same weights.
# Every pruned layer 70% sparse (the allocation by sensitivity would vary it per layer).
OPTIONS = sparsity_options(0.7, 4, {"allocation": "uniform"})


@pytest.fixture(scope="module")
def digits() -> dict:
    setup = digits_float_setup(FIXTURES)
    calib = {"input": setup["calib"]}
    sparse_float, _ = convert_graph(str(setup["path"]), options=OPTIONS, calib=calib)
    with sparse_int8_kernels_pay():
        sparse_int8, report = convert_graph(str(setup["path"]), options=OPTIONS, calib=calib, quantize="int8")
    return {**setup, "sparse_float": sparse_float, "sparse_int8": sparse_int8, "report": report}


def _weights(graph: Graph) -> list:
    return [graph.tensors[n.inputs[1]] for n in graph.nodes if n.op in ("QConv", "QGemm")]


def _runtime_logits(data: bytes, images: np.ndarray, threads: int = 1) -> np.ndarray:
    model = pocketnn.Model(data, threads=threads)
    return np.concatenate([model.run({"input": images[i:i + 1]})["logits"] for i in range(len(images))])


def test_pruned_layers_are_stored_group_sparse_s8(digits) -> None:
    pruned = [layer.node for layer in digits["report"].layers if layer.group]
    assert len(pruned) >= 3
    sparse = [t for t in _weights(digits["sparse_int8"]) if t.sparse_group]
    assert sparse and all(t.dtype == DType.S8 and t.sparse_group == 4 for t in sparse)
    for t in sparse:  # the pruning survived quantization: at least 70% zeros
        assert np.mean(t.data == 0) >= 0.69, t.name
    data = write_pnn(digits["sparse_int8"])
    assert struct.unpack_from("<H", data, 6)[0] == spec.MINOR_SPARSE_BITMASK  # bitmasks (1.9)
    data = write_pnn(digits["sparse_int8"], sparse_bitmask=False)
    assert struct.unpack_from("<H", data, 6)[0] == spec.MINOR_NARROW_INT  # s16 / s8 tables (1.8)
    wide = write_pnn(digits["sparse_int8"], narrow_ints=False, sparse_bitmask=False)
    assert struct.unpack_from("<H", wide, 6)[0] == spec.MINOR_SPARSE16  # 16-bit indices (1.7)
    assert struct.unpack_from("<H", write_pnn(digits["sparse_int8"], sparse16=False, narrow_ints=False), 6)[0] \
        == spec.MINOR_SPARSE_S8
    kernels = [n.kernel for n in pocketnn.Model(data).nodes if n.op in ("QConv", "QGemm")]
    assert sum(k.startswith("u8spmm/") for k in kernels) == len(sparse)


def test_sparse_int8_is_smaller_than_dense_int8(digits) -> None:
    dense_int8, _ = convert_graph(str(digits["path"]), calib={"input": digits["calib"]}, quantize="int8")
    sparse_size, dense_size = len(write_pnn(digits["sparse_int8"])), len(write_pnn(dense_int8))
    print(f"digits int8: dense {dense_size:,} bytes, 70% sparse {sparse_size:,}")
    assert sparse_size < 0.85 * dense_size


def test_runtime_gives_exactly_the_simulator_outputs(digits) -> None:
    images = digits["images"][:200]
    expected = simulate_graph(digits["sparse_int8"], {"input": images})["logits"]
    data = write_pnn(digits["sparse_int8"])
    for threads in (1, 2):
        assert np.array_equal(_runtime_logits(data, images, threads), expected), f"{threads} threads"


def test_quantizing_the_pruned_model_costs_at_most_half_a_point(digits) -> None:
    images, labels = digits["images"], digits["labels"]
    float_acc = float(np.mean(_runtime_logits(write_pnn(digits["sparse_float"]), images).argmax(1) == labels))
    int8_acc = float(np.mean(simulate_graph(digits["sparse_int8"], {"input": images})["logits"].argmax(1) == labels))
    print(f"digits 70% sparse: float {float_acc:.3f}, int8 {int8_acc:.3f} (dense float {digits['float_accuracy']:.3f})")
    assert int8_acc >= float_acc - 0.005
    assert float_acc >= digits["float_accuracy"] - 0.03  # the pruning itself is reconstructed, not ruinous


@pytest.mark.parametrize("dense_s, sparse_s, dense_b, sparse_b, keep", [
    (1.0, 0.5, 100, 40, True),    # faster and smaller
    (1.0, 0.9, 100, 120, True),   # faster, even if larger
    (1.0, 1.04, 100, 60, True),   # a tie within timing noise, smaller
    (1.0, 1.04, 100, 120, False),  # a tie, larger
    (1.0, 1.2, 100, 40, False),   # clearly slower
])
def test_keep_sparse_rule(dense_s, sparse_s, dense_b, sparse_b, keep) -> None:
    assert SparseStorage("n", 4, dense_b, sparse_b, dense_s, sparse_s).keep_sparse is keep


def _convert_with_timing(digits, monkeypatch, seconds: list[float], quantize: str, **kwargs) -> Graph:
    """A conversion in which every int8 layer timing returns `seconds` (dense, sparse)."""
    monkeypatch.setattr(mixed, "time_layer", lambda variants, *a, **k: list(seconds[:len(variants)]))
    graph, _ = convert_graph(str(digits["path"]), options=OPTIONS, calib={"input": digits["calib"]},
                             quantize=quantize, **kwargs)
    return graph


def test_layers_where_sparse_int8_is_slower_are_stored_dense(digits, monkeypatch) -> None:
    graph = _convert_with_timing(digits, monkeypatch, [1.0, 2.0], "int8")
    weights = _weights(graph)
    assert not any(t.sparse_group for t in weights)
    assert sum(np.mean(t.data == 0) >= 0.69 for t in weights) >= 3  # still pruned, stored dense
    assert struct.unpack_from("<H", write_pnn(graph, narrow_ints=False), 6)[0] == 2


def test_int4_keeps_sparse_layers_at_8_bits(digits, monkeypatch) -> None:
    graph = _convert_with_timing(digits, monkeypatch, [2.0, 1.0], "int4")
    weights = _weights(graph)
    sparse = [t for t in weights if t.sparse_group]
    assert sparse and all(t.dtype == DType.S8 for t in sparse)
    middle_dense = [t for t in weights[1:-1] if not t.sparse_group]
    assert middle_dense and all(t.dtype == DType.S4 for t in middle_dense)
    images = digits["images"][:50]
    expected = simulate_graph(graph, {"input": images})["logits"]
    assert np.array_equal(_runtime_logits(write_pnn(graph), images), expected)


def test_mixed_fixes_sparse_layers_at_8_bits(digits, monkeypatch) -> None:
    graph = _convert_with_timing(digits, monkeypatch, [2.0, 1.0], "mixed", size_budget=0.97)
    sparse = [t for t in _weights(graph) if t.sparse_group]
    assert sparse and all(t.dtype == DType.S8 for t in sparse)


def test_cli_converts_sparse_int8(digits, tmp_path) -> None:
    from pocketnn.cli import main

    np.savez(tmp_path / "calib.npz", input=digits["calib"])
    out = tmp_path / "digits_sparse_int8.pnn"
    with sparse_int8_kernels_pay():
        assert main(["convert", str(digits["path"]), "-o", str(out), "--sparsity", "0.7", "--sparsity-pattern", "4",
                     "--quantize", "int8", "--calib", str(tmp_path / "calib.npz")]) == 0
    kernels = [n.kernel for n in pocketnn.Model(out).nodes]
    assert any(k.startswith("u8spmm/") for k in kernels)
