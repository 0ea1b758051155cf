"""The integer operators of format 1.2 (docs/OPS.md "Integer operators") in the C runtime.

Small .pnn files are built directly with the writer and every output is compared
EXACTLY with pocketnn.quantization.simulate (the bit-exact numpy reference): QConv on
every path (GEMM on X, im2col, depthwise, group-sparse s8 weights on the SpMM) and
awkward geometries, QGemm (dense and group-sparse), QAdd, QLookup,
QGlobalAveragePool, QMaxPool, Quantize/DequantizeLinear and Reshape of u8; results
are the same for 1 and 2 threads; hostile attribute and constant values are refused
at load with a message naming the node; the writer stamps 1.2 only on files with
integer operators.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pocketnn
import pytest
from pocketnn.format import spec
from pocketnn.format.reader import read_pnn
from pocketnn.format.writer import write_pnn
from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.quantization import arith, simulate
from pocketnn.runtime import NativeError
from support import run_onnxruntime, single_node_model
from test_format import run_sanitized, sanitized_build

# ---------------------------------------------------------------------------- builders


def _const(name: str, dtype: DType, data: np.ndarray) -> Tensor:
    return Tensor(name, dtype, tuple(int(d) for d in data.shape), data)


def single_op_graph(op: str, inputs: list[Tensor], out_shape: tuple[int, ...], out_dtype: DType,
                    attrs: dict, name: str = "qnode") -> Graph:
    """One node; inputs without data are graph inputs."""
    y = Tensor("y", out_dtype, tuple(int(d) for d in out_shape))
    tensors = {t.name: t for t in inputs}
    tensors["y"] = y
    node = Node(op, name, [t.name for t in inputs], ["y"], dict(attrs))
    graph_inputs = [t.name for t in inputs if t.data is None]
    return Graph(tensors, [node], graph_inputs, ["y"])


def run_graph(graph: Graph, feeds: dict[str, np.ndarray], threads: int = 1) -> np.ndarray:
    model = pocketnn.Model(write_pnn(graph), threads=threads)
    return model.run(feeds)["y"]


def kernel_of(graph: Graph) -> str:
    return pocketnn.Model(write_pnn(graph)).nodes[0].kernel


@dataclass
class ConvCase:
    x_shape: tuple[int, int, int, int]
    out_channels: int
    kernel: tuple[int, int]
    group: int = 1
    strides: tuple[int, int] = (1, 1)
    dilations: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    bits: int = 8
    lo: int = 0
    hi: int = 255
    extremes: bool = False      # weights +-qmax, activations 0/255 only
    wild_requant: bool = False  # random multipliers over the whole range, shifts 1..62
    seed: int = 0
    expect_kernel: str = "s8gemm/"
    sparse_group: int = 0       # > 0: W stored group-sparse with this G (format 1.3)
    density: float = 1.0        # of the stored columns when sparse


def prune_groups(wq: np.ndarray, group: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """wq [M, ...] with whole columns of each group of `group` output channels set to
    zero (each kept with probability `density`); group 0 and the last group are left
    empty, so empty groups and a partial last group are both covered."""
    rows = wq.shape[0]
    matrix = wq.reshape(rows, -1).copy()
    n_groups = -(-rows // group)
    keep = rng.random((n_groups, matrix.shape[1])) < density
    keep[0] = False
    if n_groups > 2:
        keep[-1] = False
    matrix *= np.repeat(keep, group, axis=0)[:rows].astype(np.int8)
    return matrix.reshape(wq.shape)


def random_requant(rng: np.random.Generator, channels: int, taps: int, qmax: int, zero_point: int,
                   lo: int, hi: int, wild: bool) -> arith.Requant:
    if wild:
        multiplier = rng.integers(0, 2**31, channels).astype(np.int32)
        shift = rng.integers(arith.MIN_SHIFT, arith.MAX_SHIFT + 1, channels).astype(np.int32)
        shift[0], shift[-1] = arith.MIN_SHIFT, arith.MAX_SHIFT
        return arith.Requant(multiplier, shift, zero_point, lo, hi)
    # Spread the accumulators (std about sqrt(taps) * qmax/1.7 * 74) over about +-60.
    spread = np.sqrt(taps) * (qmax / 1.7) * 74.0
    real = 60.0 / spread * rng.uniform(0.5, 2.0, channels)
    multiplier, shift = arith.quantize_multipliers(real)
    return arith.Requant(multiplier, shift, zero_point, lo, hi)


def build_conv(case: ConvCase) -> tuple[Graph, np.ndarray, np.ndarray]:
    """(graph, x, expected y) of one QConv."""
    rng = np.random.default_rng(case.seed)
    n, c, h, w = case.x_shape
    m, (kh, kw), g = case.out_channels, case.kernel, case.group
    qmax = arith.weight_qmax(case.bits)
    if case.extremes:
        wq = rng.choice([-qmax, qmax], (m, c // g, kh, kw)).astype(np.int8)
        x = rng.choice([0, 255], case.x_shape).astype(np.uint8)
    else:
        wq = rng.integers(-qmax, qmax + 1, (m, c // g, kh, kw)).astype(np.int8)
        x = rng.integers(0, 256, case.x_shape).astype(np.uint8)
        x.flat[: min(x.size, 7)] = [0, 255, 0, 255, 1, 254, 128][: min(x.size, 7)]
    if case.sparse_group:
        wq = prune_groups(wq, case.sparse_group, case.density, rng)
    x_zp = int(rng.integers(0, 256))
    bias = rng.integers(-5000, 5000, m).astype(np.int32)
    folded = arith.fold_zero_point(wq, x_zp, bias).astype(np.int32)
    requant = random_requant(rng, m, (c // g) * kh * kw, qmax, int(rng.integers(90, 170)), case.lo, case.hi,
                             case.wild_requant)
    expected = simulate.conv2d(x, x_zp, wq, folded, requant, strides=case.strides, dilations=case.dilations,
                               pads=case.pads, group=g)
    w_dtype = DType.S4 if case.bits == 4 else DType.S8
    inputs = [
        Tensor("x", DType.U8, case.x_shape),
        Tensor("w", w_dtype, wq.shape, wq, sparse_group=case.sparse_group),
        _const("b", DType.S32, folded),
        _const("mult", DType.S32, requant.multiplier.astype(np.int32)),
        _const("shift", DType.S32, requant.shift.astype(np.int32)),
    ]
    attrs = {
        "group": g, "strides": list(case.strides), "dilations": list(case.dilations), "pads": list(case.pads),
        "x_zero_point": x_zp, "y_zero_point": requant.zero_point, "lo": case.lo, "hi": case.hi,
    }
    return single_op_graph("QConv", inputs, expected.shape, DType.U8, attrs), x, expected


CONV_CASES: dict[str, ConvCase] = {
    "1x1": ConvCase((1, 16, 7, 9), 24, (1, 1)),
    "1x1_batch2_odd": ConvCase((2, 33, 5, 5), 65, (1, 1), seed=1),
    "1x1_k1": ConvCase((1, 1, 3, 5), 3, (1, 1), seed=2),
    "1x1_column_chunks": ConvCase((1, 128, 50, 50), 8, (1, 1), seed=3),
    "1x1_stride2": ConvCase((1, 9, 9, 8), 5, (1, 1), strides=(2, 2), seed=4),
    "3x3_s1": ConvCase((1, 8, 10, 11), 13, (3, 3), pads=(1, 1, 1, 1), seed=5),
    "3x3_s2_uneven_pads": ConvCase((1, 5, 9, 12), 7, (3, 3), strides=(2, 2), pads=(1, 0, 2, 1), seed=6),
    "3x3_column_chunks": ConvCase((1, 64, 40, 40), 15, (3, 3), pads=(1, 1, 1, 1), seed=7),
    # 1517 pixels in 4 chunks (6 with 3 threads) whose bounds qconv.c rounds to 48-pixel
    # multiples: chunks of unequal width, the last one with a pixel tail.
    "3x3_uneven_column_chunks": ConvCase((1, 64, 37, 41), 15, (3, 3), pads=(1, 1, 1, 1), seed=43),
    "5x5": ConvCase((1, 3, 12, 13), 10, (5, 5), pads=(2, 2, 2, 2), seed=8),
    # Stride 1 with out_w == in_w unfolds a row per copy (qconv.c unfold_columns_same):
    # uneven pads (taps only right of, or mostly above, the pixel) and column chunks
    # that start and end inside an output row.
    "3x3_same_right_pads": ConvCase((1, 6, 7, 9), 5, (3, 3), pads=(1, 0, 1, 2), seed=40),
    "1x5_same_column_chunks": ConvCase((1, 60, 40, 37), 6, (1, 5), pads=(0, 2, 0, 2), seed=41),
    "5x5_same_uneven_column_chunks": ConvCase((1, 30, 20, 19), 7, (5, 5), pads=(3, 1, 1, 3), seed=42),
    "dilation2": ConvCase((1, 6, 11, 10), 9, (3, 3), dilations=(2, 2), pads=(2, 2, 2, 2), seed=9),
    "grouped": ConvCase((1, 12, 6, 7), 9, (3, 3), group=3, pads=(1, 1, 1, 1), seed=10),
    "grouped_1x1": ConvCase((2, 8, 4, 5), 12, (1, 1), group=4, seed=11),
    "rect_kernel": ConvCase((1, 4, 7, 9), 6, (1, 3), strides=(1, 2), pads=(0, 1, 0, 1), seed=12),
    "dw3x3_s1": ConvCase((1, 17, 8, 9), 17, (3, 3), group=17, pads=(1, 1, 1, 1), seed=13,
                         expect_kernel="s8dwconv/"),
    "dw3x3_s2_batch2": ConvCase((2, 19, 11, 10), 19, (3, 3), group=19, strides=(2, 2), pads=(1, 1, 1, 1),
                                seed=14, expect_kernel="s8dwconv/"),
    "dw5x5": ConvCase((1, 6, 7, 7), 6, (5, 5), group=6, pads=(2, 2, 2, 2), seed=15, expect_kernel="s8dwconv/"),
    "dw3x3_dilation2": ConvCase((1, 5, 9, 9), 5, (3, 3), group=5, dilations=(2, 2), pads=(2, 2, 2, 2), seed=16,
                                expect_kernel="s8dwconv/"),
    "int4_3x3": ConvCase((1, 9, 6, 6), 11, (3, 3), pads=(1, 1, 1, 1), bits=4, seed=17, expect_kernel="s4gemm/"),
    "int4_1x1_odd_count": ConvCase((1, 7, 3, 3), 5, (1, 1), bits=4, seed=18, expect_kernel="s4gemm/"),
    "int4_1x1_column_chunks": ConvCase((1, 129, 30, 30), 17, (1, 1), bits=4, seed=26, expect_kernel="s4gemm/"),
    "int4_grouped": ConvCase((1, 12, 6, 7), 9, (3, 3), group=3, pads=(1, 1, 1, 1), bits=4, seed=27,
                             expect_kernel="s4gemm/"),
    "int4_extremes_large_k": ConvCase((1, 255, 6, 6), 12, (3, 3), pads=(1, 1, 1, 1), bits=4, extremes=True,
                                      seed=28, expect_kernel="s4gemm/"),
    "int4_wild_requant": ConvCase((1, 21, 5, 5), 40, (3, 3), pads=(1, 1, 1, 1), bits=4, wild_requant=True,
                                  seed=29, expect_kernel="s4gemm/"),
    "int4_depthwise": ConvCase((1, 7, 6, 6), 7, (3, 3), group=7, pads=(1, 1, 1, 1), bits=4, seed=19,
                               expect_kernel="s8dwconv/"),
    "fused_clamp": ConvCase((1, 8, 6, 6), 10, (3, 3), pads=(1, 1, 1, 1), lo=128, hi=200, seed=20),
    "dw_fused_clamp": ConvCase((1, 8, 6, 6), 8, (3, 3), group=8, pads=(1, 1, 1, 1), lo=100, hi=150, seed=21,
                               expect_kernel="s8dwconv/"),
    "extremes_large_k": ConvCase((1, 256, 6, 6), 12, (3, 3), pads=(1, 1, 1, 1), extremes=True, seed=22),
    "extremes_dw": ConvCase((1, 16, 6, 6), 16, (3, 3), group=16, pads=(1, 1, 1, 1), extremes=True, seed=23,
                            expect_kernel="s8dwconv/"),
    "wild_requant": ConvCase((1, 20, 5, 5), 40, (3, 3), pads=(1, 1, 1, 1), wild_requant=True, seed=24),
    "wild_requant_dw": ConvCase((1, 20, 5, 5), 20, (3, 3), group=20, wild_requant=True, seed=25,
                                expect_kernel="s8dwconv/"),
    # Group-sparse s8 weights: the u8 SpMM on X in place (1x1) or on unfolded columns.
    "sparse_1x1_g4_partial_group": ConvCase((1, 64, 9, 11), 30, (1, 1), sparse_group=4, density=0.3, seed=30,
                                            expect_kernel="u8spmm/"),
    "sparse_1x1_g1_batch2": ConvCase((2, 33, 7, 7), 17, (1, 1), sparse_group=1, density=0.2, seed=31,
                                     expect_kernel="u8spmm/"),
    "sparse_1x1_g8_column_chunks": ConvCase((1, 128, 50, 50), 20, (1, 1), sparse_group=8, density=0.1,
                                            seed=32, expect_kernel="u8spmm/"),
    "sparse_1x1_g2_one_pixel": ConvCase((1, 40, 1, 1), 9, (1, 1), sparse_group=2, density=0.5, seed=33,
                                        expect_kernel="u8spmm/"),
    "sparse_3x3_g2": ConvCase((1, 8, 10, 11), 13, (3, 3), pads=(1, 1, 1, 1), sparse_group=2, density=0.4,
                              seed=34, expect_kernel="u8spmm/"),
    "sparse_3x3_s2_column_chunks": ConvCase((1, 64, 40, 40), 16, (3, 3), strides=(2, 2), pads=(1, 1, 1, 1),
                                            sparse_group=4, density=0.2, seed=35, expect_kernel="u8spmm/"),
    "sparse_1x1_stride2": ConvCase((1, 9, 9, 8), 5, (1, 1), strides=(2, 2), sparse_group=1, density=0.5,
                                   seed=36, expect_kernel="u8spmm/"),
    "sparse_extremes_large_k": ConvCase((1, 256, 6, 6), 12, (3, 3), pads=(1, 1, 1, 1), extremes=True,
                                        sparse_group=4, density=0.5, seed=37, expect_kernel="u8spmm/"),
    "sparse_wild_requant": ConvCase((1, 20, 5, 5), 40, (3, 3), pads=(1, 1, 1, 1), wild_requant=True,
                                    sparse_group=8, density=0.3, seed=38, expect_kernel="u8spmm/"),
    "sparse_fused_clamp": ConvCase((1, 24, 6, 6), 10, (1, 1), lo=128, hi=200, sparse_group=2, density=0.5,
                                   seed=39, expect_kernel="u8spmm/"),
}


@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_qconv_matches_simulator(name: str) -> None:
    case = CONV_CASES[name]
    graph, x, expected = build_conv(case)
    assert kernel_of(graph).startswith(case.expect_kernel)
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)
    # The reference is not degenerate: outputs vary (clamped cases aside).
    assert len(np.unique(expected)) > 2


def build_gemm(batch: int | tuple[int, ...], k: int, m: int, bits: int = 8, seed: int = 0, lo: int = 0,
               hi: int = 255, sparse_group: int = 0, density: float = 1.0
               ) -> tuple[Graph, np.ndarray, np.ndarray]:
    """A QGemm of X [*batch, K] (a tuple: X of rank >= 3, format 1.5)."""
    lead = batch if isinstance(batch, tuple) else (batch,)
    rng = np.random.default_rng(seed)
    qmax = arith.weight_qmax(bits)
    wq = rng.integers(-qmax, qmax + 1, (m, k)).astype(np.int8)
    if sparse_group:
        wq = prune_groups(wq, sparse_group, density, rng)
    x = rng.integers(0, 256, lead + (k,)).astype(np.uint8)
    x_zp = int(rng.integers(0, 256))
    bias = rng.integers(-3000, 3000, m).astype(np.int32)
    folded = arith.fold_zero_point(wq, x_zp, bias).astype(np.int32)
    requant = random_requant(rng, m, k, qmax, 128, lo, hi, False)
    expected = simulate.gemm(x.reshape(-1, k), wq.T.copy(), folded, requant).reshape(lead + (m,))
    inputs = [
        Tensor("x", DType.U8, x.shape),
        Tensor("w", DType.S4 if bits == 4 else DType.S8, wq.shape, wq, sparse_group=sparse_group),
        _const("b", DType.S32, folded),
        _const("mult", DType.S32, requant.multiplier),
        _const("shift", DType.S32, requant.shift),
    ]
    attrs = {"x_zero_point": x_zp, "y_zero_point": 128, "lo": lo, "hi": hi}
    return single_op_graph("QGemm", inputs, expected.shape, DType.U8, attrs), x, expected


@pytest.mark.parametrize("batch,k,m,bits", [(1, 64, 10, 8), (3, 37, 17, 8), (1, 1, 1, 8), (2, 300, 1001, 8),
                                            (1, 1280, 100, 8), (3, 33, 9, 4), (1, 7, 5, 4),
                                            (1, 1023, 70, 4), (2, 1, 3, 4)])
def test_qgemm_matches_simulator(batch: int, k: int, m: int, bits: int) -> None:
    graph, x, expected = build_gemm(batch, k, m, bits, seed=k + m)
    assert kernel_of(graph).startswith("s4gemm/" if bits == 4 else "s8gemm/")
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)


@pytest.mark.parametrize("batch,k,m,group,density", [(1, 64, 10, 4, 0.3), (3, 37, 17, 2, 0.5), (1, 1, 1, 1, 1.0),
                                                    (2, 300, 1001, 1, 0.1), (1, 1280, 100, 8, 0.2),
                                                    (4, 96, 13, 8, 0.05)])
def test_sparse_qgemm_matches_simulator(batch: int, k: int, m: int, group: int, density: float) -> None:
    graph, x, expected = build_gemm(batch, k, m, seed=k + m, sparse_group=group, density=density)
    assert kernel_of(graph).startswith("u8spmm/")
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)


@pytest.mark.parametrize("lead,k,m,bits", [((1, 5, 3), 37, 17, 8), ((1, 400), 384, 384, 8), ((2, 1), 7, 5, 8),
                                           ((1, 65), 64, 33, 8), ((3, 130), 300, 70, 8), ((4, 33), 33, 9, 4),
                                           ((1, 1, 1), 1, 1, 8), ((2, 2, 2, 2), 129, 31, 4)])
def test_qgemm_of_many_rows_matches_simulator(lead: tuple[int, ...], k: int, m: int, bits: int) -> None:
    """X of rank >= 2 with several rows (format 1.5): the rows path through X^T panels."""
    graph, x, expected = build_gemm(lead, k, m, bits, seed=k + m)
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)


def test_qgemm_of_rank_3_is_stamped_format_1_5() -> None:
    """Only a QGemm whose X has rank >= 3 needs 1.5; a rank-2 one stays 1.2 (tables kept
    s32: narrowed ones are 1.8)."""
    def minor(graph: Graph) -> int:
        return read_pnn(write_pnn(graph, narrow_ints=False)).header.version_minor

    assert minor(build_gemm((1, 5), 8, 3)[0]) == spec.MINOR_QGEMM_ROWS
    assert minor(build_gemm(5, 8, 3)[0]) == spec.MINOR_INTEGER_OPS


def test_qgemm_of_many_rows_on_threads_matches_simulator() -> None:
    graph, x, expected = build_gemm((1, 700), 96, 200, seed=3)
    np.testing.assert_array_equal(run_graph(graph, {"x": x}, threads=2), expected)


def test_qgemm_fused_clamp() -> None:
    graph, x, expected = build_gemm(2, 50, 30, seed=5, lo=120, hi=140)
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)


def add_graph(shape: tuple[int, ...], b_shape: tuple[int, ...], scales: tuple[float, float, float],
              zps: tuple[int, int, int], lo: int = 0, hi: int = 255) -> tuple[Graph, arith.AddMultipliers]:
    mults = arith.add_params(*scales)
    attrs = {"a_zero_point": zps[0], "b_zero_point": zps[1], "a_multiplier": mults.a_multiplier,
             "b_multiplier": mults.b_multiplier, "shift": mults.shift, "y_zero_point": zps[2], "lo": lo, "hi": hi}
    graph = single_op_graph("QAdd", [Tensor("a", DType.U8, shape), Tensor("b", DType.U8, b_shape)], shape,
                            DType.U8, attrs)
    return graph, mults


@pytest.mark.parametrize("b_shape", ["same", "scalar"])
@pytest.mark.parametrize("shape", [(2, 5, 7, 9), (1, 3, 130, 131), (1,)])
def test_qadd_matches_simulator(shape: tuple[int, ...], b_shape: str) -> None:
    rng = np.random.default_rng(len(shape))
    bs = shape if b_shape == "same" else (1,)
    for scales, zps, lo, hi in [((0.05, 0.02, 0.04), (128, 100, 120), 0, 255),
                                ((0.01, 0.3, 0.2), (0, 255, 0), 10, 250),
                                ((1.0, 1.0, 1e-3), (3, 7, 128), 0, 255)]:
        graph, mults = add_graph(shape, bs, scales, zps, lo, hi)
        a = rng.integers(0, 256, shape).astype(np.uint8)
        b = rng.integers(0, 256, bs).astype(np.uint8)
        expected = simulate.add(a, zps[0], b, zps[1], mults, zps[2], lo, hi)
        np.testing.assert_array_equal(run_graph(graph, {"a": a, "b": b}), expected)


def test_qlookup_matches_simulator() -> None:
    rng = np.random.default_rng(3)
    table = simulate.build_lut(np.tanh, (0.05, 128), (1 / 128, 128))
    x = rng.integers(0, 256, (2, 3, 17, 19)).astype(np.uint8)
    x.flat[:2] = [0, 255]
    graph = single_op_graph("QLookup", [Tensor("x", DType.U8, x.shape), _const("table", DType.U8, table)],
                            x.shape, DType.U8, {})
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), simulate.lut(x, table))


@pytest.mark.parametrize("shape", [(2, 7, 5, 6), (1, 3, 1, 1), (1, 130, 13, 11)])
def test_qglobal_average_pool_matches_simulator(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(shape[1])
    x = rng.integers(0, 256, shape).astype(np.uint8)
    mult, shift = arith.avgpool_multiplier(0.04, 0.03, shape[2] * shape[3])
    attrs = {"x_zero_point": 77, "multiplier": mult, "shift": shift, "y_zero_point": 100}
    graph = single_op_graph("QGlobalAveragePool", [Tensor("x", DType.U8, shape)], (shape[0], shape[1], 1, 1),
                            DType.U8, attrs)
    expected = simulate.global_avgpool(x, 77, mult, shift, 100)
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)


@pytest.mark.parametrize("kernel,strides,dilations,pads,ceil_mode", [
    ((3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 0),
    ((3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1),
    ((2, 2), (2, 2), (1, 1), (0, 0, 0, 0), 1),
    ((3, 2), (1, 2), (2, 1), (2, 0, 1, 1), 0),
    ((1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 0),
])
def test_qmaxpool_matches_simulator(kernel, strides, dilations, pads, ceil_mode) -> None:
    rng = np.random.default_rng(sum(kernel) + ceil_mode)
    x = rng.integers(0, 256, (2, 3, 9, 8)).astype(np.uint8)
    expected = simulate.maxpool(x, kernel, strides, dilations, pads, bool(ceil_mode))
    attrs = {"kernel": list(kernel), "strides": list(strides), "dilations": list(dilations), "pads": list(pads),
             "ceil_mode": ceil_mode}
    graph = single_op_graph("QMaxPool", [Tensor("x", DType.U8, x.shape)], expected.shape, DType.U8, attrs)
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)


AVGPOOL_CASES = {  # kernel, strides, dilations, pads, ceil_mode, count_include_pad
    "3x3_s2_pad": ((3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 0, 0),
    "3x3_s2_pad_counted": ((3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 0, 1),
    "3x3_s2_ceil": ((3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1, 0),
    "3x3_s2_ceil_counted": ((3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1, 1),
    "2x2_ceil_overhang": ((2, 2), (2, 2), (1, 1), (0, 0, 0, 0), 1, 1),
    "uneven_dilated": ((3, 2), (1, 2), (2, 1), (2, 0, 1, 1), 0, 1),
    "1x1": ((1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 0, 0),
    "7x7_global_like": ((7, 7), (1, 1), (1, 1), (0, 0, 0, 0), 0, 0),
}


def avgpool_graph(x_shape: tuple[int, ...], case: str, scales: tuple[float, float] = (0.05, 0.04),
                  zero_points: tuple[int, int] = (37, 120)) -> tuple[Graph, Callable[[np.ndarray], np.ndarray]]:
    """One QAveragePool and its simulator."""
    kernel, strides, dilations, pads, ceil_mode, include_pad = AVGPOOL_CASES[case]
    params = [arith.avgpool_multiplier(scales[0], scales[1], d) for d in range(1, kernel[0] * kernel[1] + 1)]
    mults, shifts = [m for m, _ in params], [sh for _, sh in params]

    def simulator(x: np.ndarray) -> np.ndarray:
        return simulate.avgpool(x, zero_points[0], kernel, strides, dilations, pads, bool(ceil_mode),
                                bool(include_pad), mults, shifts, zero_points[1])

    out_shape = simulator(np.zeros(x_shape, np.uint8)).shape
    attrs = {"kernel": list(kernel), "strides": list(strides), "dilations": list(dilations), "pads": list(pads),
             "ceil_mode": ceil_mode, "count_include_pad": include_pad, "x_zero_point": zero_points[0],
             "y_zero_point": zero_points[1], "multipliers": mults, "shifts": shifts}
    return single_op_graph("QAveragePool", [Tensor("x", DType.U8, x_shape)], out_shape, DType.U8, attrs), simulator


@pytest.mark.parametrize("case", sorted(AVGPOOL_CASES))
def test_qavgpool_matches_simulator_and_onnxruntime(case: str) -> None:
    rng = np.random.default_rng(len(case))
    x = rng.integers(0, 256, (2, 3, 9, 8) if case != "7x7_global_like" else (1, 4, 7, 7)).astype(np.uint8)
    x.flat[:4] = [0, 255, 0, 255]
    graph, simulator = avgpool_graph(x.shape, case)
    expected = simulator(x)
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)
    # The simulator is the float AveragePool of onnxruntime, requantized: within one step.
    kernel, strides, dilations, pads, ceil_mode, include_pad = AVGPOOL_CASES[case]
    attrs = {"kernel_shape": list(kernel), "strides": list(strides), "pads": list(pads), "ceil_mode": ceil_mode,
             "count_include_pad": include_pad}
    if dilations != (1, 1):
        attrs["dilations"] = list(dilations)
    model = single_node_model("AveragePool", [("x", x.shape)], opset=19, **attrs)
    real = run_onnxruntime(model, {"x": ((x.astype(np.float32) - 37) * 0.05)})[0]
    reference = np.clip(np.rint(real / 0.04) + 120, 0, 255)
    assert np.abs(expected.astype(np.int64) - reference).max() <= 1, case


def quantize_roundtrip_graph(shape: tuple[int, ...], scale: float, zero_point: int) -> Graph:
    """x f32 -> QuantizeLinear -> q (output) -> Reshape -> DequantizeLinear -> y."""
    numel = int(np.prod(shape))
    tensors = {
        "x": Tensor("x", DType.F32, shape),
        "q": Tensor("q", DType.U8, shape),
        "flat": Tensor("flat", DType.U8, (numel,)),
        "y": Tensor("y", DType.F32, (numel,)),
    }
    attrs = {"scale": scale, "zero_point": zero_point}
    nodes = [
        Node("QuantizeLinear", "quant", ["x"], ["q"], dict(attrs)),
        Node("Reshape", "flatten", ["q"], ["flat"]),
        Node("DequantizeLinear", "dequant", ["flat"], ["y"], dict(attrs)),
    ]
    return Graph(tensors, nodes, ["x"], ["q", "y"])


@pytest.mark.parametrize("scale,zero_point", [(0.25, 128), (0.1, 0), (0.0123, 255), (3.0, 17)])
def test_quantize_dequantize_roundtrip(scale: float, zero_point: int) -> None:
    rng = np.random.default_rng(zero_point)
    ties = (np.arange(-300, 300) + 0.5).astype(np.float32) * np.float32(scale)  # x / scale = k + 0.5
    x = np.concatenate([
        ties, rng.normal(0, 40 * scale, 999).astype(np.float32),
        np.array([0.0, -0.0, 1e30, -1e30, np.inf, -np.inf, 1e-30], np.float32),
    ]).reshape(2, -1)
    model = pocketnn.Model(write_pnn(quantize_roundtrip_graph(x.shape, scale, zero_point)))
    out = model.run({"x": x})
    q_expected = arith.quantize_linear(x, scale, zero_point)
    np.testing.assert_array_equal(out["q"], q_expected)
    np.testing.assert_array_equal(out["y"], arith.dequantize_linear(q_expected, scale, zero_point).reshape(-1))
    if scale not in (0.25, 3.0):
        return  # (k + 0.5) * scale / scale is only exactly k + 0.5 for these scales
    # Ties went to even: some halves rounded down, some up.
    tie_q = out["q"].reshape(-1)[: ties.size].astype(np.int64) - zero_point
    inside = (tie_q > -zero_point) & (tie_q < 255 - zero_point)
    assert np.all(tie_q[inside] % 2 == 0)


def test_dequantize_alone_matches_simulator() -> None:
    q = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    graph = single_op_graph("DequantizeLinear", [Tensor("x", DType.U8, q.shape)], q.shape, DType.F32,
                            {"scale": 0.037, "zero_point": 99})
    np.testing.assert_array_equal(run_graph(graph, {"x": q}), simulate.dequantize_linear(q, 0.037, 99))


# ------------------------------------------------------------------------ threads

THREAD_CASES: dict[str, Callable[[], tuple[Graph, dict[str, np.ndarray]]]] = {
    "conv_chunks": lambda: (lambda g, x, _: (g, {"x": x}))(*build_conv(CONV_CASES["3x3_column_chunks"])),
    "conv_uneven_chunks": lambda: (lambda g, x, _: (g, {"x": x}))(*build_conv(CONV_CASES["3x3_uneven_column_chunks"])),
    "conv_1x1_chunks": lambda: (lambda g, x, _: (g, {"x": x}))(*build_conv(CONV_CASES["1x1_column_chunks"])),
    "conv_1x1_batch": lambda: (lambda g, x, _: (g, {"x": x}))(*build_conv(CONV_CASES["1x1_batch2_odd"])),
    "dwconv": lambda: (lambda g, x, _: (g, {"x": x}))(*build_conv(CONV_CASES["dw3x3_s2_batch2"])),
    "gemm": lambda: (lambda g, x, _: (g, {"x": x}))(*build_gemm(1, 500, 777, seed=9)),
    "avgpool": lambda: (avgpool_graph((1, 64, 30, 31), "3x3_s2_ceil_counted")[0],
                        {"x": np.random.default_rng(3).integers(0, 256, (1, 64, 30, 31)).astype(np.uint8)}),
    "sparse_1x1": lambda: (lambda g, x, _: (g, {"x": x}))(*build_conv(CONV_CASES["sparse_1x1_g4_partial_group"])),
    "sparse_3x3": lambda: (lambda g, x, _: (g, {"x": x}))(*build_conv(CONV_CASES["sparse_3x3_s2_column_chunks"])),
    "sparse_gemm": lambda: (lambda g, x, _: (g, {"x": x}))(*build_gemm(3, 500, 777, seed=9, sparse_group=4,
                                                                         density=0.2)),
}


@pytest.mark.parametrize("name", sorted(THREAD_CASES))
def test_results_do_not_depend_on_threads(name: str) -> None:
    graph, feeds = THREAD_CASES[name]()
    one = run_graph(graph, feeds, threads=1)
    two = run_graph(graph, feeds, threads=2)
    three = run_graph(graph, feeds, threads=3)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, three)


def test_elementwise_results_do_not_depend_on_threads() -> None:
    shape = (1, 4, 200, 201)  # several chunks of every element-wise task split
    graph, mults = add_graph(shape, shape, (0.05, 0.02, 0.04), (128, 100, 120))
    rng = np.random.default_rng(0)
    feeds = {"a": rng.integers(0, 256, shape).astype(np.uint8), "b": rng.integers(0, 256, shape).astype(np.uint8)}
    expected = simulate.add(feeds["a"], 128, feeds["b"], 100, mults, 120)
    for threads in (1, 2):
        np.testing.assert_array_equal(run_graph(graph, feeds, threads), expected)


# ----------------------------------------------------------------- hostile files


def _edit(graph: Graph, **changes: object) -> Graph:
    node = graph.nodes[0]
    for key, value in changes.items():
        if value is None:
            node.attrs.pop(key, None)
        else:
            node.attrs[key] = value
    return graph


def _set_const(graph: Graph, name: str, values: np.ndarray, dtype: DType | None = None) -> Graph:
    t = graph.tensors[name]
    graph.tensors[name] = Tensor(name, dtype or t.dtype, tuple(int(d) for d in values.shape), values)
    return graph


def _conv() -> Graph:
    return build_conv(ConvCase((1, 4, 5, 5), 6, (3, 3), pads=(1, 1, 1, 1)))[0]


def _dw() -> Graph:
    return build_conv(ConvCase((1, 4, 5, 5), 4, (3, 3), group=4, pads=(1, 1, 1, 1)))[0]


def _gemm() -> Graph:
    return build_gemm(1, 8, 3)[0]


def _reshaped(graph: Graph, name: str, shape: tuple[int, ...]) -> Graph:
    """The graph with activation `name` declared with another shape."""
    graph.tensors[name] = Tensor(name, graph.tensors[name].dtype, shape)
    return graph


def _sparse(graph: Graph, group: int = 2) -> Graph:
    """The graph with W stored group-sparse (dense values, so every column is stored)."""
    w = graph.tensors["w"]
    graph.tensors["w"] = Tensor("w", w.dtype, w.shape, w.data, sparse_group=group)
    return graph


def _bad_weights(graph: Graph, value: int) -> Graph:
    w = graph.tensors["w"].data.copy()
    w.flat[0] = value
    return _set_const(graph, "w", w)


HOSTILE: dict[str, Callable[[], Graph]] = {
    "conv_shift_0": lambda: _set_const(_conv(), "shift", np.zeros(6, np.int32)),
    "conv_shift_63": lambda: _set_const(_conv(), "shift", np.full(6, 63, np.int32)),
    "conv_negative_multiplier": lambda: _set_const(_conv(), "mult", np.full(6, -1, np.int32)),
    "conv_short_multiplier": lambda: _set_const(_conv(), "mult", np.ones(5, np.int32)),
    "conv_x_zero_point_256": lambda: _edit(_conv(), x_zero_point=256),
    "conv_y_zero_point_negative": lambda: _edit(_conv(), y_zero_point=-1),
    "conv_lo_above_hi": lambda: _edit(_conv(), lo=200, hi=100),
    "conv_hi_256": lambda: _edit(_conv(), hi=256),
    "conv_missing_attribute": lambda: _edit(_conv(), x_zero_point=None),
    "conv_missing_pads": lambda: _edit(_conv(), pads=None),
    "conv_zero_stride": lambda: _edit(_conv(), strides=[0, 1]),
    "conv_weight_minus_128": lambda: _bad_weights(_conv(), -128),
    "dw_weight_minus_128": lambda: _bad_weights(_dw(), -128),
    "conv_int4_minus_8": lambda: _set_const(_conv(), "w", np.full((6, 4, 3, 3), -8, np.int8), DType.S4),
    "conv_bias_overflow": lambda: _set_const(_conv(), "b", np.full(6, 2**31 - 1000, np.int32)),
    "dw_bias_overflow": lambda: _set_const(_dw(), "b", np.full(4, -(2**31) + 10, np.int32)),
    "conv_f32_weights": lambda: _set_const(_conv(), "w", np.ones((6, 4, 3, 3), np.float32), DType.F32),
    "conv_s8_bias": lambda: _set_const(_conv(), "b", np.ones(6, np.int8), DType.S8),
    "gemm_shift_63": lambda: _set_const(_gemm(), "shift", np.full(3, 63, np.int32)),
    "gemm_weight_minus_128": lambda: _bad_weights(_gemm(), -128),
    "gemm_reduction_too_long": lambda: build_gemm(1, 66312, 1)[0],
    "gemm_rows_k_mismatch": lambda: _reshaped(build_gemm((2, 5), 8, 3)[0], "x", (2, 5, 9)),
    "gemm_rows_y_shape": lambda: _reshaped(build_gemm((2, 5), 8, 3)[0], "y", (10, 3)),
    "gemm_rows_y_lead": lambda: _reshaped(build_gemm((2, 5), 8, 3)[0], "y", (5, 2, 3)),
    "gemm_x_rank_1": lambda: _reshaped(_reshaped(build_gemm(1, 8, 3)[0], "x", (8,)), "y", (3,)),
    "sparse_conv_weight_minus_128": lambda: _sparse(_bad_weights(_conv(), -128)),
    "sparse_gemm_weight_minus_128": lambda: _sparse(_bad_weights(_gemm(), -128)),
    "sparse_conv_bias_overflow": lambda: _sparse(_set_const(_conv(), "b", np.full(6, 2**31 - 1000, np.int32))),
    "sparse_grouped_conv": lambda: _sparse(build_conv(ConvCase((1, 4, 5, 5), 6, (3, 3), group=2,
                                                               pads=(1, 1, 1, 1)))[0]),
    "sparse_depthwise_conv": lambda: _sparse(_dw()),
    "sparse_gemm_reduction_too_long": lambda: _sparse(build_gemm(1, 66312, 1)[0], 1),
    "add_shift_0": lambda: _edit(add_graph((4,), (4,), (0.1, 0.1, 0.1), (0, 0, 0))[0], shift=0),
    "add_multiplier_2_31": lambda: _edit(add_graph((4,), (4,), (0.1, 0.1, 0.1), (0, 0, 0))[0],
                                         a_multiplier=2**31),
    "add_b_shape": lambda: add_graph((4, 2), (4,), (0.1, 0.1, 0.1), (0, 0, 0))[0],
    "lookup_table_255": lambda: single_op_graph(
        "QLookup", [Tensor("x", DType.U8, (4,)), _const("table", DType.U8, np.zeros(255, np.uint8))], (4,),
        DType.U8, {}),
    "gap_shift_63": lambda: single_op_graph(
        "QGlobalAveragePool", [Tensor("x", DType.U8, (1, 2, 3, 3))], (1, 2, 1, 1), DType.U8,
        {"x_zero_point": 0, "multiplier": 1, "shift": 63, "y_zero_point": 0}),
    "gap_too_many_pixels": lambda: single_op_graph(
        "QGlobalAveragePool", [Tensor("x", DType.U8, (1, 1, 4097, 2048))], (1, 1, 1, 1), DType.U8,
        {"x_zero_point": 0, "multiplier": 1, "shift": 30, "y_zero_point": 0}),
    "avgpool_short_multipliers": lambda: _edit(avgpool_graph((1, 2, 5, 5), "3x3_s2_pad")[0],
                                               multipliers=[1 << 30] * 8),
    "avgpool_shift_0": lambda: _edit(avgpool_graph((1, 2, 5, 5), "3x3_s2_pad")[0], shifts=[0] * 9),
    "avgpool_missing_shifts": lambda: _edit(avgpool_graph((1, 2, 5, 5), "3x3_s2_pad")[0], shifts=None),
    "avgpool_count_include_pad_2": lambda: _edit(avgpool_graph((1, 2, 5, 5), "3x3_s2_pad")[0], count_include_pad=2),
    "avgpool_pad_as_kernel": lambda: _edit(avgpool_graph((1, 2, 5, 5), "3x3_s2_pad")[0], pads=[3, 0, 0, 0]),
    "maxpool_pad_as_kernel": lambda: single_op_graph(
        "QMaxPool", [Tensor("x", DType.U8, (1, 1, 5, 5))], (1, 1, 7, 7), DType.U8,
        {"kernel": [2, 2], "strides": [1, 1], "dilations": [1, 1], "pads": [2, 2, 2, 2], "ceil_mode": 0}),
    "quantize_scale_zero": lambda: single_op_graph(
        "QuantizeLinear", [Tensor("x", DType.F32, (4,))], (4,), DType.U8, {"scale": 0.0, "zero_point": 0}),
    "quantize_u8_input": lambda: single_op_graph(
        "QuantizeLinear", [Tensor("x", DType.U8, (4,))], (4,), DType.U8, {"scale": 1.0, "zero_point": 0}),
    "dequantize_zero_point_300": lambda: single_op_graph(
        "DequantizeLinear", [Tensor("x", DType.U8, (4,))], (4,), DType.F32, {"scale": 1.0, "zero_point": 300}),
    "reshape_u8_to_f32": lambda: single_op_graph("Reshape", [Tensor("x", DType.U8, (4,))], (2, 2), DType.F32, {}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_values_are_refused_naming_the_node(name: str) -> None:
    graph = HOSTILE[name]()
    data = write_pnn(graph)
    with pytest.raises(NativeError, match=r'qnode'):
        pocketnn.Model(data)


# ----------------------------------------------------------------- format version


def _minor(data: bytes) -> int:
    return struct.unpack_from("<H", data, 6)[0]


def test_integer_files_are_version_1_2_and_float_files_keep_their_version() -> None:
    integer = write_pnn(_conv(), narrow_ints=False)  # narrowed s32 tables would make it 1.8
    assert _minor(integer) == spec.MINOR_INTEGER_OPS == 2
    parsed = read_pnn(integer)
    assert parsed.header.version_minor == 2
    assert [n.op for n in parsed.nodes] == ["QConv"]
    float_graph = single_op_graph("Relu", [Tensor("x", DType.F32, (2, 3))], (2, 3), DType.F32, {})
    data = write_pnn(float_graph)
    assert _minor(data) == 0
    out = pocketnn.Model(data).run({"x": np.array([[-1, 2, -3], [4, -5, 6]], np.float32)})["y"]
    np.testing.assert_array_equal(out, [[0, 2, 0], [4, 0, 6]])


def test_int4_constants_are_stored_two_per_byte() -> None:
    values = np.array([[-7, 7, 0], [1, -1, 5], [3, -3, -2]], np.int8)  # 9 values -> 5 bytes
    graph = _set_const(_gemm(), "w", values, DType.S4)
    parsed = read_pnn(write_pnn(graph))
    stored = parsed.tensor("w").data
    assert stored.nbytes == 5
    np.testing.assert_array_equal(arith.unpack_int4(stored, 9).reshape(3, 3), values)
    assert stored[0] == (0x9 | (0x7 << 4))  # -7 low nibble, 7 high nibble


# ------------------------------------------------------- AddressSanitizer / UBSan


def _sanitized_programs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    build = sanitized_build(tmp_path_factory)
    done = subprocess.run(["cmake", "--build", str(build), "-j2", "--target", "pnn_run"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return build / "pnn_run", build / "pnn_load_files"


def test_sanitized_runs_match_and_hostile_files_are_refused(tmp_path_factory: pytest.TempPathFactory,
                                                           tmp_path: Path) -> None:
    """Every QConv case and a QGemm run by the sanitized C runtime (exact outputs, no
    sanitizer report); the hostile files refused by the sanitized loader."""
    pnn_run, pnn_load_files = _sanitized_programs(tmp_path_factory)
    cases = {name: build_conv(case) for name, case in CONV_CASES.items()}
    cases["gemm"] = build_gemm(3, 37, 17, seed=1)
    cases["gemm_int4"] = build_gemm(2, 33, 9, bits=4, seed=2)
    cases["gemm_rows_rank3"] = build_gemm((2, 70), 37, 17, seed=5)
    cases["sparse_gemm_batch3"] = build_gemm(3, 37, 17, seed=3, sparse_group=2, density=0.5)
    for case in ("3x3_s2_ceil_counted", "uneven_dilated"):
        pool, simulator = avgpool_graph((2, 3, 9, 8), case)
        x = np.random.default_rng(4).integers(0, 256, (2, 3, 9, 8)).astype(np.uint8)
        cases[f"avgpool_{case}"] = (pool, x, simulator(x))
    for name, (graph, x, expected) in cases.items():
        (tmp_path / f"{name}.pnn").write_bytes(write_pnn(graph))
        (tmp_path / f"{name}.in").write_bytes(x.tobytes())
        run_sanitized(pnn_run, [str(tmp_path / f"{name}.pnn"), str(tmp_path / f"{name}.in"), "-o",
                                str(tmp_path / f"{name}.out")])
        actual = np.fromfile(tmp_path / f"{name}.out0.bin", dtype=np.uint8).reshape(expected.shape)
        np.testing.assert_array_equal(actual, expected, err_msg=name)
    paths = []
    for name, make in sorted(HOSTILE.items()):
        path = tmp_path / f"hostile_{name}.pnn"
        path.write_bytes(write_pnn(make()))
        paths.append(str(path))
    lines = run_sanitized(pnn_load_files, paths).stdout.splitlines()
    assert len(lines) == len(paths)
    for line in lines:
        assert "qnode" in line and "run ok" not in line, line
