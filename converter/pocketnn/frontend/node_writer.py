"""Writes the ONNX nodes that replace one node (an unrolled LSTM, an expanded contrib
op): fresh names under the replaced node's name, new constants, and emitted nodes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper


def onnx_attrs(node: onnx.NodeProto) -> dict[str, object]:
    """The node's attributes as Python values."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


@dataclass
class NodeWriter:
    node: onnx.NodeProto               # the node being replaced
    constants: dict[str, np.ndarray]   # where new constants go (the import's constants)
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    count: int = 0

    def fresh(self, what: str) -> str:
        self.count += 1
        return f"{self.node.name}/{what}_{self.count}"

    def constant(self, what: str, value: np.ndarray) -> str:
        name = self.fresh(what)
        self.constants[name] = value
        return name

    def scalar(self, value: float) -> str:
        return self.constant("c", np.array(value, np.float32))

    def emit(self, op: str, inputs: list[str], what: str = "t", out: str | None = None, **attrs: object) -> str:
        out = out or self.fresh(what)
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.fresh(op), **attrs))
        return out

    def emit_many(self, op: str, inputs: list[str], count: int, what: str, **attrs: object) -> list[str]:
        outs = [self.fresh(what) for _ in range(count)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.fresh(op), **attrs))
        return outs

    def split(self, x: str, sizes: list[int], axis: int, what: str, opset: int) -> list[str]:
        """Split of `x` into `sizes` along `axis`, in the model's opset's form (the sizes
        are an attribute before opset 13, an input since)."""
        if opset < 13:
            return self.emit_many("Split", [x], len(sizes), what, axis=axis, split=sizes)
        return self.emit_many("Split", [x, self.constant("split", np.array(sizes, np.int64))], len(sizes), what,
                              axis=axis)

    def output(self, index: int) -> str | None:
        """The replaced node's output `index`, or None when absent or unnamed."""
        return self.node.output[index] if len(self.node.output) > index and self.node.output[index] else None
