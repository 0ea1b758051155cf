"""Sparse MobileNet V1 (224x224): pocketnn's group-sparse kernels vs onnxruntime and MNN.

For each sparsity S the 1x1 convolutions (and the classifier Gemm) are pruned by
pocketnn.convert(sparsity=S) — channel rearrangement off, so that the pruned weights map
one to one onto the ONNX initializers (rearrangement changes which channels share a
group, not how many weights are kept, so the speed is the same). The same zeros are then
written into a copy of the ONNX model (dense storage): onnxruntime runs that copy, and
MNN runs it after its converter with --detectSparseSpeedUp (MNN's sparse engine), in a child
process of a separate venv (--mnn-python). All engines run interleaved on one input
(A, B, C, A, B, C, ...); the tables show medians, ratios and the load average.
File sizes: the ONNX model, pocketnn dense (unpruned) and pocketnn sparse per S.

    python bench/bench_sparse.py [--sparsities 0.7,0.8,0.9] [--runs 40] [--threads 1,2]
        [--pattern auto|1|2|4|8] [--mnn-python /tmp/mnnvenv/bin/python] [--out /tmp/bench_sparse]
        [--breakdown]

The .onnx/.pnn files it leaves in --out also feed the wasm benchmark:
    node bench/wasm/bench.mjs --dir /tmp/bench_sparse \
        --models mobilenet_v1_dense,mobilenet_v1_70,mobilenet_v1_80,mobilenet_v1_90
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pocketnn
from onnx import numpy_helper
from pocketnn.conversion import convert_model, sparsity_options
from pocketnn.format.writer import write_pnn
from pocketnn.ir import Graph, Node
from pocketnn.reference_models import mobilenet_v1
from rich.console import Console
from rich.table import Table
from timing import host_banner, interleaved, ort_session

HERE = Path(__file__).resolve().parent


@dataclass
class Variant:
    label: str
    pnn: bytes
    onnx: bytes
    groups: dict[str, int]  # layer -> G (0: dense)
    zero_fraction: float    # of the 1x1 conv + Gemm weights
    graph: Graph


def prune_onnx_like(model: onnx.ModelProto, graph: Graph, layers: list[str]) -> onnx.ModelProto:
    """A copy of `model` whose named layers' weights are zero where pocketnn's are.

    BatchNorm folding scales whole output channels, so zeros sit at the same places."""
    pruned = onnx.ModelProto()
    pruned.CopyFrom(model)
    inits = {t.name: t for t in pruned.graph.initializer}
    gnodes = {n.name: n for n in graph.nodes}
    for node in pruned.graph.node:
        if node.name not in layers:
            continue
        packed = graph.tensors[gnodes[node.name].inputs[1]].data
        init = inits[node.input[1]]
        w = numpy_helper.to_array(init)
        keep = np.asarray(packed) != 0
        if keep.shape != w.shape:  # Gemm stored transposed by the converter
            keep = keep.reshape(w.shape[::-1]).T
        init.CopyFrom(numpy_helper.from_array((w * keep).astype(np.float32), init.name))
    return pruned


def make_variant(model: onnx.ModelProto, sparsity: float, pattern: str) -> Variant:
    options = sparsity_options(sparsity, pattern, {"rearrange": False, "scope": "pointwise"})
    conv = convert_model(model, options=options)
    pruned = [r.node for r in conv.sparsity.layers if r.group > 0]
    sparse_onnx = prune_onnx_like(model, conv.graph, pruned)
    total = zeros = 0
    for layer in conv.sparsity.layers:
        if layer.kind in ("conv1x1", "gemm"):
            total += layer.rows * layer.cols
            zeros += layer.sparsity * layer.rows * layer.cols
    return Variant(f"{sparsity:.0%}", conv.data, sparse_onnx.SerializeToString(),
                   {r.node: r.group for r in conv.sparsity.layers}, zeros / max(total, 1), conv.graph)


class MnnChild:
    """An MNN session in a child process: one "run" line -> one inference, timed there."""

    def __init__(self, python: str, mnn_path: Path, x_path: Path, threads: int) -> None:
        self.proc = subprocess.Popen([python, str(HERE / "mnn" / "child.py"), str(mnn_path), str(x_path), str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.x_path = x_path
        assert self.proc.stdout is not None
        ready: list[str] = []
        while not ready or ready[0] != "ready":  # MNN prints device info first
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("MNN child failed to start")
            ready = line.split()
        self.version = ready[1] if len(ready) > 1 else "?"

    def _ask(self, cmd: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        while True:  # skip any log lines MNN prints
            reply = self.proc.stdout.readline()
            if not reply:
                raise RuntimeError("MNN child ended")
            reply = reply.strip()
            if cmd != "run" or reply.replace(".", "", 1).isdigit():
                return reply

    def run(self) -> float:
        return float(self._ask("run"))

    def output(self) -> np.ndarray:
        self._ask("out")
        return np.load(str(self.x_path) + ".out.npy")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def mnn_convert(python: str, onnx_path: Path, mnn_path: Path) -> None:
    """MNN's converter through its C extension `_tools`, not the `mnnconvert` script:
    the script's usage logger runs `pip install aliyun-log-python-sdk` with whatever pip
    is first on PATH (it downgraded protobuf in the shared environment once) and sends
    telemetry."""
    argv = ["mnnconvert", "-f", "ONNX", "--modelFile", str(onnx_path), "--MNNModel", str(mnn_path),
            "--bizCode", "pocketnn", "--detectSparseSpeedUp"]
    subprocess.run([python, "-c", "import sys, _tools; _tools.mnnconvert(sys.argv[1:])", *argv],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)




def node_kind(graph: Graph, node: Node) -> str:
    if node.op != "Conv":
        return node.op
    w = graph.tensors[node.inputs[1]]
    if node.attrs.get("group", 1) != 1:
        return "depthwise"
    kind = "conv1x1" if w.shape[2:] == (1, 1) or list(w.shape[2:]) == [1, 1] else "conv kxk"
    return kind + (" sparse" if w.sparse_group else "")


def breakdown(graph: Graph, runs: int) -> dict[str, float]:
    """Median ms of each node run alone (native run only), summed per kind of node."""
    from pocketnn.sparsity.timing import _native_runner

    totals: dict[str, float] = {}
    rng = np.random.default_rng(0)
    for node in graph.nodes:
        names = [n for n in (*node.inputs, *node.outputs) if n]
        tensors = {n: graph.tensors[n] for n in names}
        inputs = [n for n in node.inputs if n and graph.tensors[n].data is None]
        model = pocketnn.Model(write_pnn(Graph(tensors, [node], inputs, list(node.outputs), {})))
        run = _native_runner(model, rng.standard_normal(model.inputs[0].shape).astype(np.float32))
        run()
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            run()
            samples.append((time.perf_counter() - start) * 1e3)
        kind = node_kind(graph, node)
        totals[kind] = totals.get(kind, 0.0) + statistics.median(samples)
    return totals


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sparsities", default="0.7,0.8,0.9")
    parser.add_argument("--pattern", default="auto")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--mnn-python", default="/tmp/mnnvenv/bin/python",
                        help="a Python with the `mnn` package ('' to skip MNN)")
    parser.add_argument("--out", default="/tmp/bench_sparse", help="where the model files are written")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time pocketnn's nodes one by one (1 thread), summed per kind")
    args = parser.parse_args()
    print(host_banner())
    console = Console()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    use_mnn = bool(args.mnn_python) and Path(args.mnn_python).exists()
    if args.mnn_python and not use_mnn:
        console.print(f"[yellow]MNN skipped: {args.mnn_python} not found[/]")

    model = mobilenet_v1()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    x_path = out / "input.npy"
    np.save(x_path, x)
    feeds = {"input": x}

    dense = convert_model(model)
    variants = [Variant("dense", dense.data, model.SerializeToString(), {}, 0.0, dense.graph)]
    for s in (float(v) for v in args.sparsities.split(",")):
        variants.append(make_variant(model, s, args.pattern))
    mnn_paths: dict[str, Path] = {}
    for v in variants:
        stem = f"mobilenet_v1_{v.label.rstrip('%')}"
        (out / f"{stem}.onnx").write_bytes(v.onnx)
        (out / f"{stem}.pnn").write_bytes(v.pnn)
        if use_mnn:
            mnn_paths[v.label] = out / f"{stem}.mnn"
            mnn_convert(args.mnn_python, out / f"{stem}.onnx", mnn_paths[v.label])

    groups = Table(title=f"pattern {args.pattern}: G per pruned layer (0 = kept dense)")
    groups.add_column("sparsity")
    groups.add_column("1x1+Gemm zeros", justify="right")
    groups.add_column("G per layer (conv_2 ... gemm_221)")
    for v in variants[1:]:
        groups.add_row(v.label, f"{v.zero_fraction:.1%}", " ".join(str(g) for g in v.groups.values()))
    console.print(groups)

    mnn_version = "?"
    for threads in (int(t) for t in args.threads.split(",")):
        with_mnn = use_mnn and threads == 1
        table = Table(title=f"MobileNet V1 224x224, {threads} thread(s), median ms of {args.runs} interleaved runs")
        for column in ("model", "pocketnn", "onnxruntime", "ort/pocketnn") + (("MNN", "MNN/pocketnn") if with_mnn else ()) + (
                "max err vs ort" + (" pnn/MNN" if with_mnn else ""), "load avg"):
            table.add_column(column, justify="right")
        for v in variants:
            runtime = pocketnn.Model(v.pnn, threads=threads)
            session = ort_session(v.onnx, threads)
            fns: dict[str, Callable[[], float | None]] = {
                "pocketnn": lambda r=runtime: (r.run(feeds), None)[1],
                "onnxruntime": lambda s=session: (s.run(None, feeds), None)[1],
            }
            child = None
            if with_mnn:
                child = MnnChild(args.mnn_python, mnn_paths[v.label], x_path, threads)
                mnn_version = child.version
                fns["mnn"] = child.run
            t = interleaved(fns, args.runs, args.warmup)
            ref = session.run(None, feeds)[0]
            err = rel_err(next(iter(runtime.run(feeds).values())), ref)
            row = [v.label, f"{t['pocketnn']:.2f}", f"{t['onnxruntime']:.2f}", f"{t['onnxruntime'] / t['pocketnn']:.2f}x"]
            if child is not None:
                mnn_err = rel_err(child.output().reshape(ref.shape), ref)
                row += [f"{t['mnn']:.2f}", f"{t['mnn'] / t['pocketnn']:.2f}x"]
                child.close()
                row.append(f"{err:.0e}/{mnn_err:.0e}")
            else:
                row.append(f"{err:.0e}")
            row.append(f"{os.getloadavg()[0]:.2f}")
            table.add_row(*row)
        console.print(table)
    if use_mnn:
        console.print(f"MNN {mnn_version} (pip `mnn`), converted with mnnconvert --detectSparseSpeedUp, 1 thread")

    if args.breakdown:
        parts = {v.label: breakdown(v.graph, 15) for v in variants}
        kinds = sorted({k for p in parts.values() for k in p}, key=lambda k: -max(p.get(k, 0.0) for p in parts.values()))
        table = Table(title="pocketnn, 1 thread: ms per kind of node, each node run alone (median of 15)")
        for column in ("model", "sum", *kinds):
            table.add_column(column, justify="right")
        for label, part in parts.items():
            table.add_row(label, f"{sum(part.values()):.2f}", *(f"{part.get(k, 0.0):.2f}" for k in kinds))
        console.print(table)

    sizes = Table(title="file sizes (bytes)")
    for column in ("model", "ONNX (dense float)", "pocketnn .pnn", "pnn / ONNX") + (("MNN",) if use_mnn else ()):
        sizes.add_column(column, justify="right")
    for v in variants:
        row = [v.label, f"{len(v.onnx):,}", f"{len(v.pnn):,}", f"{len(v.pnn) / len(v.onnx):.2f}"]
        if use_mnn:
            row.append(f"{mnn_paths[v.label].stat().st_size:,}")
        sizes.add_row(*row)
    console.print(sizes)
    console.print(f"load average at end: {os.getloadavg()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
