"""Shared state and helpers for lowering ONNX nodes to pocketnn ops (docs/OPS.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper

from pocketnn.errors import LimitError, ModelError, ShapeError, UnsupportedOpError
from pocketnn.frontend.folding import DEFAULT_MAX_CONSTANT_ELEMENTS, TensorInfo
from pocketnn.ir import AttrValue, DType, Node, Tensor


@dataclass
class OnnxNode:
    """An ONNX node with decoded attributes (strings as str)."""

    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]

    @classmethod
    def from_proto(cls, proto: onnx.NodeProto, name: str) -> OnnxNode:
        attrs: dict[str, Any] = {}
        for a in proto.attribute:
            try:
                value = helper.get_attribute_value(a)
                if isinstance(value, bytes):
                    value = value.decode("utf-8")
                elif isinstance(value, list) and value and isinstance(value[0], bytes):
                    value = [v.decode("utf-8") for v in value]
            except (ValueError, UnicodeDecodeError) as exc:
                raise ModelError(f"node '{name}' ({proto.op_type}): attribute '{a.name}' cannot be "
                                 f"read: {exc}") from exc
            attrs[a.name] = value
        return cls(name, proto.op_type, list(proto.input), list(proto.output), attrs)

    def input(self, index: int) -> str:
        """The name of input `index`, or "" when absent."""
        return self.inputs[index] if index < len(self.inputs) else ""

    def output(self, index: int) -> str:
        return self.outputs[index] if index < len(self.outputs) else ""

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def describe(self) -> str:
        return f"node '{self.name}' ({self.op_type})"


def onnx_to_dtype(elem_type: int) -> DType:
    if elem_type == 0:
        return DType.OTHER
    try:
        return DType.from_numpy(helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        return DType.OTHER


def unsupported_attr(node: OnnxNode, attr: str, value: Any, supported: str) -> UnsupportedOpError:
    return UnsupportedOpError(
        f"{node.describe()}: attribute {attr}={value!r} is not supported; supported: {supported}"
    )


def flag(node: OnnxNode, name: str, default: int = 0) -> int:
    """An ONNX boolean int attribute, which must be 0 or 1 (onnx's shape inference and
    the runtimes disagree on other values)."""
    value = int(node.attr(name, default))
    if value not in (0, 1):
        raise unsupported_attr(node, name, value, "0, 1")
    return value


def unsupported(node: OnnxNode, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{node.describe()}: {why}")


@dataclass
class LoweringContext:
    """Collects the lowered IR while ONNX nodes are visited in order."""

    infos: dict[str, TensorInfo]
    constants: dict[str, np.ndarray]
    opset: int
    max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    # Tensors read by some ONNX node or listed as graph outputs.
    used: set[str] = field(default_factory=set)
    _taken: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._taken.update(self.infos)
        self._taken.update(self.constants)

    # ---- queries -------------------------------------------------------------
    def is_used(self, name: str) -> bool:
        return bool(name) and name in self.used

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.tensors:
            return self.tensors[name].shape
        if name in self.constants:
            return tuple(int(d) for d in self.constants[name].shape)
        info = self.infos.get(name)
        if info is None or not info.is_static:
            raise ShapeError(f"tensor '{name}' has no static shape")
        return tuple(int(d) for d in info.shape)  # type: ignore[union-attr,arg-type]

    def rank(self, name: str) -> int:
        return len(self.shape(name))

    def dtype(self, name: str) -> DType:
        if name in self.tensors:
            return self.tensors[name].dtype
        if name in self.constants:
            return DType.from_numpy(self.constants[name].dtype)
        info = self.infos.get(name)
        return DType.OTHER if info is None else onnx_to_dtype(info.elem_type)

    def const(self, name: str) -> np.ndarray | None:
        if not name:
            return None
        t = self.tensors.get(name)
        if t is not None:
            return t.data
        return self.constants.get(name)

    def require_const(self, node: OnnxNode, index: int, what: str) -> np.ndarray:
        value = self.const(node.input(index))
        if value is None:
            raise unsupported(node, f"input {index} ({what}) must be a constant")
        return value

    # ---- building ------------------------------------------------------------
    def fresh_name(self, base: str) -> str:
        name, i = base, 1
        while name in self._taken or name in self.tensors:
            name = f"{base}_{i}"
            i += 1
        self._taken.add(name)
        return name

    def new_activation(self, base: str, shape: tuple[int, ...], dtype: DType = DType.F32) -> str:
        name = self.fresh_name(base)
        self.tensors[name] = Tensor(name, dtype, tuple(int(d) for d in shape))
        return name

    def check_constant_size(self, node: OnnxNode, what: str, shape: tuple[int, ...]) -> None:
        """A LimitError before a constant of `shape` is made for `node` beyond the limit."""
        count = 1
        for d in shape:
            count *= int(d)
        if count > self.max_constant_elements:
            raise LimitError(f"{node.describe()}: {what} of shape {list(shape)} would hold {count:,} "
                             f"elements, over the constant limit of {self.max_constant_elements:,} "
                             f"(max_constant_elements of pocketnn.convert)")

    def new_constant(self, base: str, value: np.ndarray) -> str:
        name = self.fresh_name(base)
        self.tensors[name] = Tensor(name, DType.from_numpy(value.dtype),
                                    tuple(int(d) for d in value.shape), value)
        return name

    def _ensure_tensor(self, name: str) -> None:
        if not name or name in self.tensors:
            return
        value = self.constants.get(name)
        if value is not None:
            self.tensors[name] = Tensor(name, DType.from_numpy(value.dtype),
                                        tuple(int(d) for d in value.shape), value)
            return
        self.tensors[name] = Tensor(name, self.dtype(name), self.shape(name))

    def emit(self, op: str, name: str, inputs: list[str], outputs: list[str],
             attrs: dict[str, AttrValue] | None = None) -> Node:
        for t in inputs + outputs:
            self._ensure_tensor(t)
        node = Node(op, name, list(inputs), list(outputs), dict(attrs or {}))
        self.nodes.append(node)
        return node


LowerFn = Callable[[LoweringContext, OnnxNode], None]


def resolve_axis(node: OnnxNode, axis: int, rank: int) -> int:
    """A non-negative axis, or an error naming the node."""
    resolved = axis + rank if axis < 0 else axis
    if not 0 <= resolved < max(rank, 1):
        raise unsupported(node, f"axis {axis} is out of range for rank {rank}")
    return resolved


def as_float32(node: OnnxNode, ctx: LoweringContext, name: str) -> str:
    """A float32 view of a constant input (e.g. an int64 Pow exponent); activations pass."""
    return as_operand_dtype(node, ctx, name, DType.F32)


def as_operand_dtype(node: OnnxNode, ctx: LoweringContext, name: str, dtype: DType) -> str:
    """A constant input converted to `dtype`, the dtype of the runtime operand it meets
    (float32 for float math, an integer dtype for shape arithmetic); activations pass."""
    value = ctx.const(name)
    if value is None or DType.from_numpy(value.dtype) == dtype:
        return name
    if not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
        raise unsupported(node, f"constant '{name}' of type {value.dtype} is not supported")
    if dtype not in (DType.F32, DType.S8, DType.U8, DType.S32, DType.S64, DType.BOOL):
        raise unsupported(node, f"constant '{name}' would need dtype {dtype.name}")
    converted = value.astype(dtype.to_numpy())
    if dtype != DType.F32 and not np.array_equal(converted, value):
        raise unsupported(node, f"constant '{name}' does not fit in {dtype.name}")
    return ctx.new_constant(f"{name}_{dtype.name.lower()}", converted)


def operand_dtype(ctx: LoweringContext, names: list[str]) -> DType:
    """The dtype of the first runtime (non-constant) operand: float32 unless shape
    arithmetic or a comparison runs on integer values."""
    for name in names:
        if name and ctx.const(name) is None:
            return ctx.dtype(name)
    return DType.F32
