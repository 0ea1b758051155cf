"""The converter's per-layer MST choice (docs/BINARY.md, "MST output-channel reordering").

For every BConv2d / BGemm of a lowered graph: the MST plan of its weight rows
(pocketnn.binary.mst: the paper's bit-operation saving of the whole tree, the words the
runtime's forest touches), the plain and the tree-delta kernel timed on this machine
through the runtime (the layer alone, one thread, the thread's CPU time, interleaved
rounds, medians), and the choice written into the node as the optional attribute `mst`
(0 plain, 1 tree-delta; docs/OPS.md), which the runtime follows instead of its load-time
30%-words rule. Modes: "auto" takes the tree where it measured faster, "on" wherever the
plan is valid (one group, a plan the runtime affords to build), "off" never.

The timed copy of a layer reads and writes f32 (a graph input cannot be bit-packed): the
input packing and output transform it adds cost the same on both paths, so they shift
both times alike and leave the faster path the faster one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from pocketnn.binary import mst
from pocketnn.binary.simulate import pack_bits, words
from pocketnn.ir import AttrValue, DType, Graph, Node, Tensor
from pocketnn.passes.graph_utils import copy_graph

MST_MODES = ("auto", "on", "off")
MST_ATTR = "mst"
PLAIN, TREE = 0, 1
# The runtime's cap on the plan's build (BCONV_MST_MAX_COMPARES, runtime/src/ops/bconv.c):
# a bigger layer never gets a plan, whatever the file asks.
MAX_COMPARES = 1 << 26
# "auto" takes the tree only when it is at least this much faster: closer is timing noise.
AUTO_MARGIN = 0.03
METADATA_PREFIX = "mst:"  # + node name: the layer's MstLayer.summary(), for `pocketnn inspect`
_BINARY_OPS = ("BConv2d", "BGemm")


@dataclass(frozen=True)
class MstLayer:
    """One binary layer's plan, timings and choice."""
    node: str
    op: str
    out_channels: int
    words: int                  # kw, 64-bit words per weight row
    valid: bool                 # the runtime can run it with a plan (one group, affordable)
    bitop_saving: float         # the paper's measure, whole tree
    words_touched: float        # the forest the runtime builds (edges touching every word cut)
    roots: int                  # of that forest
    ms_plain: float | None
    ms_mst: float | None
    choice: str                 # "mst" or "plain"

    def cells(self) -> list[str]:
        """The report's table cells after the layer's name and op."""
        ms = ("-", "-", "-") if self.ms_plain is None or self.ms_mst is None else (
            f"{self.ms_plain:.4f}", f"{self.ms_mst:.4f}", f"{self.ms_mst / self.ms_plain:.2f}")
        return [f"{self.bitop_saving:.1%}", f"{self.words_touched:.1%}", f"{self.roots}/{self.out_channels}", *ms,
                self.choice if self.valid else "plain (no valid plan)"]

    def summary(self) -> str:
        saving, touched, roots, plain, tree, ratio, choice = self.cells()
        return (f"bit-op saving {saving}, words touched {touched}, roots {roots}, ms plain {plain}, "
                f"ms mst {tree} (x{ratio}), choice {choice}")


@dataclass
class MstReport:
    mode: str
    layers: list[MstLayer] = field(default_factory=list)


def packed_rows(bits: NDArray[np.bool_] | NDArray[np.uint8]) -> NDArray[np.uint64]:
    """[M, kw] uint64 rows of a b1 weight held as bits ([M, ..., 64 * words], True = -1)."""
    flat = np.asarray(bits, dtype=bool).reshape(bits.shape[0], -1)
    return pack_bits(flat)


def row_bits(node: Node, row_words: int) -> int:
    """K, the real bits of a weight row of `row_words` words: input channels per group
    times the taps."""
    channels = int(node.attrs["channels"]) // int(node.attrs.get("group", 1))  # type: ignore[arg-type]
    return channels * (row_words // words(channels))


def is_valid(node: Node, rows: NDArray[np.uint64]) -> bool:
    count, kw = rows.shape
    return (int(node.attrs.get("group", 1)) == 1 and count >= 2  # type: ignore[arg-type]
            and count * count * kw <= MAX_COMPARES)


def plans(rows: NDArray[np.uint64], bits: int) -> tuple[mst.MstPlan, mst.MstPlan]:
    """(the whole tree, the forest the runtime builds) of a layer's packed rows."""
    return mst.build_plan(rows, bits, max_touched=None), mst.build_plan(rows, bits)


def _f32_shape(t: Tensor, channels: int, conv: bool) -> tuple[int, ...]:
    """The f32 shape of a value that may be bit-packed (b1 NHWC-words -> NCHW)."""
    if t.dtype != DType.B1:
        return tuple(t.shape)
    return (t.shape[0], channels, *t.shape[1:-1]) if conv else (t.shape[0], channels)


def timing_graph(graph: Graph, node: Node, choice: int) -> Graph:
    """The layer alone, f32 in and out, with `mst` = choice."""
    conv = node.op == "BConv2d"
    w = graph.tensors[node.inputs[1]]
    out_c = int(w.shape[0])
    x_shape = _f32_shape(graph.tensors[node.inputs[0]], int(node.attrs["channels"]), conv)  # type: ignore[arg-type]
    y_shape = _f32_shape(graph.tensors[node.outputs[0]], out_c, conv)
    tensors = {
        "x": Tensor("x", DType.F32, x_shape),
        "w": Tensor("w", DType.B1, tuple(w.shape), w.data),
        "a": Tensor("a", DType.F32, (out_c,), np.ones(out_c, np.float32)),
        "b": Tensor("b", DType.F32, (out_c,), np.zeros(out_c, np.float32)),
        "y": Tensor("y", DType.F32, y_shape),
    }
    attrs: dict[str, AttrValue] = {**node.attrs, MST_ATTR: choice}
    return Graph(tensors, [Node(node.op, "timed", ["x", "w", "a", "b"], ["y"], attrs)], ["x"], ["y"],
                 {"producer": "pocketnn-timing"})


def interleaved_ms(runs: list[Callable[[], None]], rounds: int = 21, budget_s: float = 0.5) -> list[float]:
    """Median ms of each call, by the thread's CPU time (wall time on a shared host
    mostly measures the wait for a core), in interleaved rounds (noise hits all alike)."""
    from pocketnn.sparsity.timing import interleaved_medians

    medians = interleaved_medians(runs, rounds, budget_s, sample_s=1e-3, min_rounds=5, clock=time.thread_time)
    return [seconds * 1e3 for seconds in medians]


def time_layer(graph: Graph, node: Node) -> tuple[float, float]:
    """Median ms (plain, tree-delta) of the layer alone, 1 thread."""
    from pocketnn.format.writer import write_pnn
    from pocketnn.runtime import Model
    from pocketnn.sparsity.timing import _native_runner

    models = [Model(write_pnn(timing_graph(graph, node, choice)), threads=1) for choice in (PLAIN, TREE)]
    if not models[1].nodes[0].kernel.endswith("+mst"):
        raise RuntimeError(f"node {node.name!r}: the runtime built no tree-delta plan for mst=1")
    x = np.random.default_rng(0).standard_normal(models[0].inputs[0].shape).astype(np.float32)
    plain, tree = interleaved_ms([_native_runner(m, x) for m in models])
    return plain, tree


def choose(mode: str, valid: bool, timings: tuple[float, float] | None) -> str:
    if not valid or mode == "off":
        return "plain"
    if mode == "on":
        return "mst"
    assert timings is not None
    plain, tree = timings
    return "mst" if tree <= plain * (1 - AUTO_MARGIN) else "plain"


def analyze_layer(graph: Graph, node: Node, mode: str) -> MstLayer:
    rows = packed_rows(graph.tensors[node.inputs[1]].data)
    tree, forest = plans(rows, row_bits(node, rows.shape[1]))
    valid = is_valid(node, rows)
    timings = time_layer(graph, node) if valid and mode != "off" else None
    return MstLayer(node.name, node.op, rows.shape[0], rows.shape[1], valid, tree.bitop_saving,
                    forest.words_touched, forest.roots, None if timings is None else timings[0],
                    None if timings is None else timings[1], choose(mode, valid, timings))


def apply_mst(graph: Graph, mode: str) -> tuple[Graph, MstReport]:
    """A copy of the graph whose binary layers carry the `mst` choice, and the report;
    each layer's summary also goes into the metadata (METADATA_PREFIX + node name) for
    `pocketnn inspect`."""
    if mode not in MST_MODES:
        raise ValueError(f"mst must be one of {', '.join(MST_MODES)}, got {mode!r}")
    g = copy_graph(graph)
    report = MstReport(mode)
    for node in g.nodes:
        if node.op not in _BINARY_OPS:
            continue
        layer = analyze_layer(g, node, mode)
        report.layers.append(layer)
        node.attrs[MST_ATTR] = TREE if layer.choice == "mst" else PLAIN
        g.metadata[METADATA_PREFIX + node.name] = layer.summary()
    return g, report
