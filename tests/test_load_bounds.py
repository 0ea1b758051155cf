"""Bounded cost at load: the memory planner is not quadratic in the number of tensors
(a long chain of nodes, many graph inputs), and convolution scratch is sized by what the
op touches (huge kernels and pads), with outputs checked against onnxruntime or numpy."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np

import pocketnn
from pocketnn.format import spec
from pocketnn.format.opcodes import OP_CODES
from pocketnn.format.writer import write_pnn
from pocketnn.ir import DType, Graph, Node, Tensor

# Generous: the planner of 2026-12 loads these in 0.2-2 s on a busy 2-core box; the
# quadratic one it replaced took 30 s for a 10^5 chain and 48 s for 262,144 inputs.
LOAD_SECONDS = 20.0
FLOATS = 16  # every tensor of the crafted graphs is f32 [16]


def _name(prefix: str, i: int) -> str:
    return f"{prefix}{i:07d}"


def chain_graph(n: int) -> Graph:
    """x -> Relu -> ... -> Relu (n nodes) -> y."""
    t = {_name("t", i): Tensor(_name("t", i), DType.F32, (FLOATS,)) for i in range(n + 1)}
    nodes = [Node("Relu", _name("r", i), [_name("t", i)], [_name("t", i + 1)]) for i in range(n)]
    return Graph(t, nodes, [_name("t", 0)], [_name("t", n)], {})


def inputs_graph(n: int) -> Graph:
    """n graph inputs, one Relu reading the first."""
    t = {_name("x", i): Tensor(_name("x", i), DType.F32, (FLOATS,)) for i in range(n)}
    t[_name("y", 0)] = Tensor(_name("y", 0), DType.F32, (FLOATS,))
    nodes = [Node("Relu", _name("r", 0), [_name("x", 0)], [_name("y", 0)])]
    return Graph(t, nodes, [_name("x", i) for i in range(n)], [_name("y", 0)], {})


def fast_pnn(tensor_names: list[str], nodes: list[tuple[str, int, int]], inputs: list[int],
             outputs: list[int]) -> bytes:
    """The bytes write_pnn gives for f32 [16] activations and one-in one-out Relu nodes
    (name, input id, output id), built without the IR so 10^5-10^6 nodes take seconds;
    checked against write_pnn on small graphs below."""
    tensor = struct.Struct("<I8sBBBBqQQ")
    node = struct.Struct("<HI8sIiIiI")
    relu = OP_CODES["Relu"]
    parts = [tensor.pack(8, n.encode(), int(DType.F32), spec.ENCODING_DENSE, spec.KIND_ACTIVATION, 1, FLOATS, 0, 0)
             for n in tensor_names]
    parts += [node.pack(relu, 8, name.encode(), 1, i, 1, o, 0) for name, i, o in nodes]
    parts.append(struct.pack(f"<{len(inputs)}i", *inputs))
    parts.append(struct.pack(f"<{len(outputs)}i", *outputs))
    body = b"".join(parts)
    data_offset = spec.align(spec.HEADER_SIZE + len(body))
    header = spec.HEADER.pack(spec.MAGIC, spec.VERSION_MAJOR, 0, 0, spec.HEADER_SIZE, data_offset,
                              0, len(tensor_names), len(nodes), len(inputs), len(outputs), 0, data_offset, 0)
    out = bytearray(header + body)
    out += b"\0" * (data_offset - len(out))
    struct.pack_into("<I", out, spec.CHECKSUM_OFFSET, spec.checksum(out))
    return bytes(out)


def fast_chain(n: int) -> bytes:
    return fast_pnn([_name("t", i) for i in range(n + 1)], [(_name("r", i), i, i + 1) for i in range(n)], [0], [n])


def fast_inputs(n: int) -> bytes:
    return fast_pnn([_name("x", i) for i in range(n)] + [_name("y", 0)], [(_name("r", 0), 0, n)],
                    list(range(n)), [n])


def test_fast_writer_matches_write_pnn() -> None:
    assert fast_chain(5) == write_pnn(chain_graph(5))
    assert fast_inputs(7) == write_pnn(inputs_graph(7))


def _timed_load(path: Path) -> tuple[pocketnn.Model, float]:
    start = time.perf_counter()
    model = pocketnn.Model(str(path))
    return model, time.perf_counter() - start


def test_long_chain_loads_in_near_linear_time(tmp_path: Path) -> None:
    n = 200_000
    path = tmp_path / "chain.pnn"
    path.write_bytes(fast_chain(n))
    model, seconds = _timed_load(path)
    assert seconds < LOAD_SECONDS, f"a {n}-node chain took {seconds:.1f} s to load"
    # Two tensors alternate along the chain, the graph input stays: three tensors.
    assert model.arena_bytes == 3 * spec.align(4 * FLOATS)
    x = np.linspace(-1, 1, FLOATS, dtype=np.float32)
    (y,) = model.run({_name("t", 0): x}).values()
    np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_many_graph_inputs_load_in_near_linear_time(tmp_path: Path) -> None:
    n = 262_144
    path = tmp_path / "inputs.pnn"
    path.write_bytes(fast_inputs(n))
    model, seconds = _timed_load(path)
    assert seconds < LOAD_SECONDS, f"{n} graph inputs took {seconds:.1f} s to load"
    # Every input lives for the whole run; the output may not share with any of them.
    assert model.arena_bytes == (n + 1) * spec.align(4 * FLOATS)
