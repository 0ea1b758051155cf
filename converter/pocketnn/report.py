"""Tables for `pocketnn verify`, `inspect`, `run --profile` and `demo` (rich, or plain
text with the runtime-only install: pocketnn.console)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from pocketnn.console import Console, print_table
from pocketnn.format.reader import PnnFile, PnnTensor, read_pnn
from pocketnn.runtime import Model

if TYPE_CHECKING:  # verify needs onnxruntime, the [verify] extra
    from pocketnn.verify import VerifyReport

_DTYPE_NAMES = {1: "f32", 2: "f16", 3: "s8", 4: "u8", 5: "s4", 6: "b1", 7: "s32", 8: "s64"}


def print_verify_report(console: Console, report: VerifyReport) -> None:
    kind = "quantized pocketnn vs float onnxruntime" if report.quantized else "pocketnn vs onnxruntime"
    rows = []
    for o in report.outputs:
        accuracy = "" if o.accuracy_pocketnn is None else f"{o.accuracy_reference:.4f} / {o.accuracy_pocketnn:.4f}"
        rows.append([o.name, "x".join(map(str, o.shape)), f"{o.max_abs_error:.3g}", f"{o.max_rel_error:.3g}",
                     f"{o.cosine:.8f}", f"{o.sqnr_db:.1f}",
                     "" if o.top1_agreement is None else f"{o.top1_agreement:.3f}", accuracy])
    print_table(console, f"{kind} ({report.samples} samples)",
                ("output", "shape", "max abs err", "max rel err", "cosine", "SQNR dB", "top-1 agree",
                 "accuracy ort / pnn"), rows)
    if report.sign_zeros:
        values = sum(v for _, v in report.sign_zeros.values())
        console.print(f"Sign(0) positions: {report.sign_zero_positions} of {values} values entering the "
                      f"{len(report.sign_zeros)} Sign node(s) were exactly 0 (ONNX Sign(0) = 0; the binary "
                      "kernels read +1 there)")


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def print_inspection_summary(console: Console, model: Model, data: bytes) -> None:
    ops: dict[str, int] = {}
    for node in model.nodes:
        ops[node.op] = ops.get(node.op, 0) + 1
    console.print(f"file {_fmt_bytes(len(data))}, arena {_fmt_bytes(model.arena_bytes)}, "
                  f"{len(model.nodes)} nodes: " + ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())))


def _storage(tensor: PnnTensor) -> str:
    """'sparse G=4, 10% dense' for a group-sparse weight."""
    sparse = tensor.sparse
    assert sparse is not None
    density = float(np.sum(sparse.group_nnz)) / max(sparse.n_groups * sparse.cols, 1)
    return f"sparse G={sparse.group}, {100 * density:.0f}% dense"


_INT_WEIGHTS = {3: 8, 5: 4}  # s8, s4


def _weight_bits(tensor: PnnTensor) -> str:
    """'s4 (4-bit weights)' for an integer weight: shows the bits mixed quantization chose."""
    return f"{_DTYPE_NAMES[int(tensor.dtype)]} ({_INT_WEIGHTS[int(tensor.dtype)]}-bit weights)"


_MST_METADATA = "mst:"  # pocketnn.binary.mst_choice.METADATA_PREFIX (no scipy import here)
_MST_CHOICES = {0: "plain", 1: "tree-delta"}


def _print_mst(console: Console, parsed: PnnFile, model: Model) -> None:
    """The binary layers' MST choice (the node's `mst` attribute), the kernel the runtime
    took, and what the converter measured (its report in the metadata)."""
    rows = []
    for node, info in zip(parsed.nodes, model.nodes):
        if info.op not in ("BConv2d", "BGemm"):
            continue
        choice = node.attrs.get("mst")
        rows.append([node.name, info.op, "load rule (30% words)" if choice is None else _MST_CHOICES[int(choice)],
                     info.kernel, str(parsed.metadata.get(_MST_METADATA + node.name, "-"))])
    if rows:
        print_table(console, "MST (binary layers)", ("name", "op", "file's choice", "kernel", "converter's report"),
                    rows)


def print_inspection(console: Console, path: str | os.PathLike) -> None:
    with open(path, "rb") as f:
        data = f.read()
    parsed = read_pnn(data)
    model = Model(data)
    console.print(f"[bold]{os.fspath(path)}[/]: format {parsed.header.version_major}.{parsed.header.version_minor}, "
                  f"{_fmt_bytes(len(data))}, arena {_fmt_bytes(model.arena_bytes)} (planned at load)")
    for key, value in parsed.metadata.items():
        if not key.startswith(_MST_METADATA):
            console.print(f"  {key}: {value}")
    for title, infos in (("inputs", model.inputs), ("outputs", model.outputs)):
        console.print(f"{title}: " + ", ".join(f"{i.name} {list(i.shape)} {i.dtype}" for i in infos))
    tensors = parsed.tensors
    rows = []
    total_weights = 0
    for index, (node, info) in enumerate(zip(parsed.nodes, model.nodes)):
        const_bytes = sum(tensors[i].size for i in node.inputs if i >= 0 and tensors[i].is_constant)
        total_weights += const_bytes
        storage = ", ".join([_storage(tensors[i]) for i in node.inputs if i >= 0 and tensors[i].sparse is not None]
                            + [_weight_bits(tensors[i]) for i in node.inputs[1:2]
                               if i >= 0 and tensors[i].is_constant and int(tensors[i].dtype) in _INT_WEIGHTS])
        out = tensors[node.outputs[0]]
        rows.append([str(index), node.name, node.op, info.kernel, "x".join(map(str, out.shape)),
                     _fmt_bytes(const_bytes) if const_bytes else "", storage,
                     _fmt_bytes(info.scratch_bytes) if info.scratch_bytes else ""])
    print_table(console, "layers", ("#", "name", "op", "kernel", "output shape", "weights", "storage", "scratch"),
                rows)
    _print_mst(console, parsed, model)
    counts: dict[str, int] = {}
    for t in parsed.tensors:
        key = f"{'constant' if t.is_constant else 'activation'} {_DTYPE_NAMES.get(int(t.dtype), t.dtype)}"
        counts[key] = counts.get(key, 0) + 1
    console.print(f"tensors: {len(parsed.tensors)} (" + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                  + f"); weights {_fmt_bytes(total_weights)}; parameters "
                  f"{sum(int(np.prod(t.shape)) for t in parsed.tensors if t.is_constant):,}")


def print_profile(console: Console, model: Model, top: int = 25) -> None:
    """The slowest nodes of a profiled Model, then the time per op and kernel."""
    times, runs = model.profile()
    if runs == 0:
        console.print("no runs profiled")
        return
    nodes = model.nodes
    total = sum(times)
    order = sorted(range(len(nodes)), key=lambda i: -times[i])
    rows = [[str(i), nodes[i].name, nodes[i].op, nodes[i].kernel, f"{times[i] / runs:.3f}",
             f"{100 * times[i] / max(total, 1e-12):.1f}"] for i in order[:top]]
    print_table(console, f"time per node, mean of {runs} run(s), {total / runs:.3f} ms in all",
                ("#", "name", "op", "kernel", "ms", "%"), rows, right=("#", "ms", "%"))
    by_kind: dict[tuple[str, str], list[float]] = {}
    for node, t in zip(nodes, times):
        entry = by_kind.setdefault((node.op, node.kernel), [0.0, 0.0])
        entry[0] += t
        entry[1] += 1
    rows = [[op, kernel, str(int(count)), f"{t / runs:.3f}", f"{100 * t / max(total, 1e-12):.1f}"]
            for (op, kernel), (t, count) in sorted(by_kind.items(), key=lambda kv: -kv[1][0])]
    print_table(console, "time per op and kernel", ("op", "kernel", "nodes", "ms", "%"), rows,
                right=("nodes", "ms", "%"))
