"""ONNX Loop and Scan with static trip counts, unrolled at convert time.

The runtime has no control flow, so a loop runs as its body repeated: each iteration is
a renamed copy of the body (control_flow.instantiate) whose inputs are bound to the
previous iteration's outputs by Identity nodes, which folding and the planner remove.

- **Loop** is unrolled when its trip count M is a constant, its initial condition is
  absent or a constant true, and the body passes the condition on unchanged (its
  condition output is the condition input, an Identity of it, or a constant true): the
  loops PyTorch exports for `for i in range(n)`. The iteration number is a constant per
  copy. Scan outputs are the per-iteration values stacked on a new axis 0.
- **Scan** (opset 9 and later) is unrolled when every scan input's length along its
  axis is static: iteration t reads element t (or L-1-t for a reverse direction) through
  a Gather with a constant index; scan outputs are stacked along their axes in
  iteration order (reversed for a reverse direction).

Anything else stays, and `loop_problem` says why when the model is refused. Unrolling is
bounded (UNROLL_NODE_LIMIT body nodes in all) so a long loop fails clearly instead of
producing a graph nobody wants.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from pocketnn.frontend.control_flow import instantiate

LOOP_OPS = frozenset({"Loop", "Scan"})
UNROLL_NODE_LIMIT = 20000


def _attr(node: onnx.NodeProto, name: str) -> onnx.AttributeProto | None:
    return next((a for a in node.attribute if a.name == name), None)


def _body(node: onnx.NodeProto) -> onnx.GraphProto:
    attr = _attr(node, "body")
    if attr is None or attr.type != onnx.AttributeProto.GRAPH:
        raise ValueError(f"node '{node.name}' ({node.op_type}) has no body graph")
    return attr.g


def _ints(node: onnx.NodeProto, name: str, count: int) -> list[int]:
    attr = _attr(node, name)
    return list(attr.ints) if attr is not None else [0] * count


def _is_true(value: np.ndarray | None) -> bool:
    return value is not None and value.size == 1 and bool(value.reshape(()).item())


def _passes_condition_on(body: onnx.GraphProto) -> bool:
    """Whether the body's condition output is always its condition input or true."""
    cond_in, cond_out = body.input[1].name, body.output[0].name
    producers = {o: n for n in body.node for o in n.output}
    initializers = {t.name: t for t in body.initializer}
    name = cond_out
    while name != cond_in:
        if name in initializers:
            return _is_true(onnx.numpy_helper.to_array(initializers[name]))
        producer = producers.get(name)
        if producer is None:
            return False
        if producer.op_type == "Identity":
            name = producer.input[0]
        elif producer.op_type == "Constant":
            value = _attr(producer, "value")
            return value is not None and _is_true(onnx.numpy_helper.to_array(value.t))
        else:
            return False
    return True


def _trip_count(node: onnx.NodeProto, constants: dict[str, np.ndarray],
                shapes: dict[str, tuple[int, ...]], opset: int) -> tuple[int | None, str]:
    """The number of iterations, or None and the reason it is not static."""
    body = _body(node)
    if node.op_type == "Loop":
        if not node.input or not node.input[0]:
            return None, "it has no trip count M (a while loop)"
        if node.input[0] not in constants:
            return None, f"its trip count '{node.input[0]}' is not a constant (bind the inputs it depends on)"
        if len(node.input) > 1 and node.input[1] and not _is_true(constants.get(node.input[1])):
            return None, f"its initial condition '{node.input[1]}' is not a constant true"
        if not _passes_condition_on(body):
            return None, "its body computes the loop condition (only a condition passed on unchanged is unrolled)"
        return int(constants[node.input[0]].reshape(()).item()), ""
    if opset < 9:
        return None, "Scan-8 (batched, with sequence_lens) is not unrolled; re-export at opset 9 or later"
    scans = int(_attr(node, "num_scan_inputs").i)  # type: ignore[union-attr]
    axes = _ints(node, "scan_input_axes", scans)
    lengths = set()
    for name, axis in zip(node.input[len(node.input) - scans:], axes):
        shape = shapes.get(name)
        if shape is None:
            return None, f"scan input '{name}' has no static shape"
        lengths.add(shape[axis])
    if len(lengths) != 1:
        return None, f"its scan inputs have different lengths {sorted(lengths)}"
    return lengths.pop(), ""


def loop_problem(node: onnx.NodeProto, constants: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]],
                 opset: int) -> str:
    """Why `node` (a Loop or Scan left in the graph) was not unrolled."""
    count, reason = _trip_count(node, constants, shapes, opset)
    if count is None:
        return f"node '{node.name}' ({node.op_type}) is not unrolled: {reason}"
    if count <= 0:
        return f"node '{node.name}' ({node.op_type}) runs {count} iterations: zero-sized outputs are not supported"
    return (f"node '{node.name}' ({node.op_type}) needs {count} x {len(_body(node).node)} body nodes, "
            f"above the unrolling limit of {UNROLL_NODE_LIMIT}")


class _Unrolling:
    """Collects the nodes and constants that replace one Loop or Scan."""

    def __init__(self, node: onnx.NodeProto, taken: set[str], opset: int) -> None:
        self.node, self.taken, self.opset = node, taken, opset
        self.nodes: list[onnx.NodeProto] = []
        self.constants: dict[str, np.ndarray] = {}

    def fresh(self, hint: str) -> str:
        name, k = f"{self.node.name}/{hint}", 1
        while name in self.taken:
            name, k = f"{self.node.name}/{hint}_{k}", k + 1
        self.taken.add(name)
        return name

    def constant(self, hint: str, value: np.ndarray) -> str:
        name = self.fresh(hint)
        self.constants[name] = value
        return name

    def add(self, op: str, inputs: list[str], outputs: list[str], **attrs: object) -> None:
        self.nodes.append(helper.make_node(op, inputs, outputs, name=self.fresh(f"{op}_{len(self.nodes)}"), **attrs))

    def iteration(self, index: int, bound: list[str]) -> list[str]:
        """One renamed body whose i-th input is a copy of the value `bound[i]`; returns
        the names of its outputs."""
        body, nodes, constants = instantiate(_body(self.node), f"{self.node.name}/iter{index}/", self.taken)
        self.constants.update(constants)
        for value_info, source in zip(body.input, bound):
            self.add("Identity", [source], [value_info.name])
        self.nodes.extend(nodes)
        return [o.name for o in body.output]

    def stack(self, parts: list[str], axis: int, output: str) -> None:
        """`output` = the per-iteration values `parts` stacked on a new axis."""
        expanded = []
        for part in parts:
            expanded.append(self.fresh("unsqueezed"))
            if self.opset >= 13:  # Unsqueeze's axes became an input in opset 13
                self.add("Unsqueeze", [part, self.constant("axes", np.array([axis], dtype=np.int64))], [expanded[-1]])
            else:
                self.add("Unsqueeze", [part], [expanded[-1]], axes=[axis])
        self.add("Concat", expanded, [output], axis=axis)


def _unroll_loop(u: _Unrolling, count: int) -> None:
    node, body = u.node, _body(u.node)
    carried = len(node.input) - 2
    values = list(node.input[2:])
    scan_parts: list[list[str]] = [[] for _ in range(len(body.output) - 1 - carried)]
    for i in range(count):
        iteration_inputs = [u.constant(f"iter{i}/iteration_num", np.array(i, dtype=np.int64)),
                              u.constant(f"iter{i}/condition", np.array(True))]
        outputs = u.iteration(i, iteration_inputs + values)
        values = outputs[1:1 + carried]
        for parts, name in zip(scan_parts, outputs[1 + carried:]):
            parts.append(name)
    for value, out in zip(values, node.output[:carried]):
        if out:
            u.add("Identity", [value], [out])
    for parts, out in zip(scan_parts, node.output[carried:]):
        if out:
            u.stack(parts, 0, out)


def _unroll_scan(u: _Unrolling, count: int, shapes: dict[str, tuple[int, ...]]) -> None:
    node = u.node
    scans = int(_attr(node, "num_scan_inputs").i)  # type: ignore[union-attr]
    states = len(node.input) - scans
    scan_outputs = len(_body(node).output) - states
    in_axes = _ints(node, "scan_input_axes", scans)
    in_dirs = _ints(node, "scan_input_directions", scans)
    out_axes = _ints(node, "scan_output_axes", scan_outputs)
    out_dirs = _ints(node, "scan_output_directions", scan_outputs)
    values = list(node.input[:states])
    scan_parts: list[list[str]] = [[] for _ in range(scan_outputs)]
    for t in range(count):
        elements = []
        for name, axis, reverse in zip(node.input[states:], in_axes, in_dirs):
            rank = len(shapes[name])
            index = u.constant(f"iter{t}/index", np.array(count - 1 - t if reverse else t, dtype=np.int64))
            elements.append(u.fresh(f"iter{t}/element"))
            u.add("Gather", [name, index], [elements[-1]], axis=axis + rank if axis < 0 else axis)
        outputs = u.iteration(t, values + elements)
        values = outputs[:states]
        for parts, name in zip(scan_parts, outputs[states:]):
            parts.append(name)
    for value, out in zip(values, node.output[:states]):
        if out:
            u.add("Identity", [value], [out])
    # A negative scan output axis counts from the back of the stacked output, as the
    # axes of Unsqueeze and Concat do.
    for parts, out, axis, reverse in zip(scan_parts, node.output[states:], out_axes, out_dirs):
        if out:
            u.stack(parts[::-1] if reverse else parts, axis, out)


def unroll_static_loops(nodes: list[onnx.NodeProto], constants: dict[str, np.ndarray],
                        shapes: dict[str, tuple[int, ...]], opset: int,
                        taken: set[str]) -> tuple[list[onnx.NodeProto], bool]:
    """Replaces every top-level Loop/Scan with a static trip count by its unrolled body
    (adding the bodies' constants to `constants`); returns the nodes and whether any
    loop was unrolled."""
    result: list[onnx.NodeProto] = []
    changed = False
    for node in nodes:
        if node.op_type not in LOOP_OPS or node.domain not in ("", "ai.onnx"):
            result.append(node)
            continue
        count, _ = _trip_count(node, constants, shapes, opset)
        if count is None or count <= 0 or count * len(_body(node).node) > UNROLL_NODE_LIMIT:
            result.append(node)
            continue
        u = _Unrolling(node, taken, opset)
        if node.op_type == "Loop":
            _unroll_loop(u, count)
        else:
            _unroll_scan(u, count, shapes)
        constants.update(u.constants)
        result.extend(u.nodes)
        changed = True
    return result, changed
