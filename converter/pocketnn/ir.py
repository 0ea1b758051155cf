"""The converter's intermediate representation: a static-shape dataflow graph.

Between import and packing, every pass takes a Graph and returns a Graph. After the
``lower`` pass the nodes use pocketnn's operator contract (docs/OPS.md) and the packer
writes them as they are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Union

import numpy as np

AttrValue = Union[int, float, list[int], list[float]]


class DType(enum.IntEnum):
    """Tensor element types; the values are the .pnn dtype codes (docs/FORMAT.md)."""

    F32 = 1
    F16 = 2
    S8 = 3
    U8 = 4
    S4 = 5
    B1 = 6
    S32 = 7
    S64 = 8
    BOOL = 9  # one byte per element, 0 or 1 (format 1.4)
    # Types that only exist during conversion (folded away or refused before packing).
    F64 = 101
    OTHER = 102

    @classmethod
    def from_numpy(cls, dtype: np.dtype) -> DType:
        return _FROM_NUMPY.get(np.dtype(dtype), cls.OTHER)

    def to_numpy(self) -> np.dtype:
        return _TO_NUMPY[self]


_FROM_NUMPY: dict[np.dtype, DType] = {
    np.dtype(np.float32): DType.F32,
    np.dtype(np.float16): DType.F16,
    np.dtype(np.int8): DType.S8,
    np.dtype(np.uint8): DType.U8,
    np.dtype(np.int32): DType.S32,
    np.dtype(np.int64): DType.S64,
    np.dtype(np.bool_): DType.BOOL,
    np.dtype(np.float64): DType.F64,
}
_TO_NUMPY: dict[DType, np.dtype] = {v: k for k, v in _FROM_NUMPY.items()}


@dataclass
class Tensor:
    """A named value. ``data`` is set for constants (initializers and folded values)."""

    name: str
    dtype: DType
    shape: tuple[int, ...]
    data: np.ndarray | None = None
    # For a constant 2-D-able weight [M, K, ...]: 0 = stored dense; G in {1, 2, 4, 8} =
    # stored group-sparse, G consecutive output rows sharing one input mask
    # (docs/FORMAT.md, "Group-sparse encoding"). The data stays dense here; the
    # writer encodes it.
    sparse_group: int = 0

    @property
    def is_constant(self) -> bool:
        return self.data is not None


@dataclass
class Node:
    """One operation. ``inputs`` uses "" for an absent optional input."""

    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, AttrValue] = field(default_factory=dict)


@dataclass
class Graph:
    """Nodes in topological order; every tensor a node touches is in ``tensors``."""

    tensors: dict[str, Tensor]
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    metadata: dict[str, str | int | float] = field(default_factory=dict)
    # Values an imported QDQ model rounds (a QuantizeLinear -> DequantizeLinear pair):
    # passes keep them observable, folding no bias and fusing no activation other than a
    # clamp (ReLU, Clip: exact on the rounded value) across them.
    rounding_points: frozenset[str] = frozenset()

    def consumers(self, tensor_name: str) -> list[Node]:
        return [n for n in self.nodes if tensor_name in n.inputs]

    def producer(self, tensor_name: str) -> Node | None:
        for n in self.nodes:
            if tensor_name in n.outputs:
                return n
        return None

    def constant(self, name: str) -> np.ndarray | None:
        """The value of a constant input, or None (also for an absent input "")."""
        t = self.tensors.get(name) if name else None
        return None if t is None else t.data
