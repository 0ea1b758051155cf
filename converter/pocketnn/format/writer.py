"""Serializes a lowered IR Graph into .pnn bytes (format 1.x, docs/FORMAT.md).

A file is stamped with the lowest minor version its contents need: 1.0 unless a
tensor is stored group-sparse (1.1), a node is an integer operator (1.2) or an s8
tensor is stored group-sparse or a node is a QAveragePool (1.3), or a tensor is bool
or a node is a value-type operator, op codes 90 and up (1.4), and so on (spec.MINOR_*;
docs/FORMAT.md, version_minor): 1.7 when a tensor is stored group-sparse with 16-bit
indices, which the writer does whenever every index fits (at most 65535 columns),
1.8 when an s32 constant is stored as s8 or s16 values (encoding 3), which it does
whenever they fit, 1.9 when a group-sparse tensor is smallest as one bitmask per
group (encoding 4; at densities above about 1/16), 1.10 when a b1 constant is
smaller as tree deltas (encoding 5, format/b1_delta.py), 1.11 when a
DequantizeLinear reads a bias, 1.12 when an LSTM's W and R are s8, and 1.13 when a
Conv adds a residual input.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np

from pocketnn.format import b1_delta, spec
from pocketnn.format.opcodes import DYNAMIC_QUANT_OPS, OP_CODES
from pocketnn.ir import AttrValue, DType, Graph, Node, Tensor
from pocketnn.quantization.arith import pack_int4

# Dtypes a constant can be written in as dense little-endian data (S4: two values per
# byte, low nibble first; B1: bits from the low bit of each byte up, given as booleans).
WRITABLE_CONSTANT_DTYPES = (DType.F32, DType.F16, DType.S8, DType.U8, DType.S4, DType.B1, DType.S32,
                            DType.S64, DType.BOOL)
# The first integer operator code: nodes from here on need format 1.2.
_FIRST_INTEGER_OP = OP_CODES["QuantizeLinear"]
_FIRST_VALUE_OP = OP_CODES["Equal"]
_FIRST_BINARY_OP = OP_CODES["BConv2d"]


class _Buffer:
    """Little-endian byte builder for the structure sections."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def raw(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def pack(self, fmt: str, *values: int | float) -> None:
        self.raw(struct.pack("<" + fmt, *values))

    def string(self, text: str, what: str) -> None:
        encoded = text.encode("utf-8")
        if len(encoded) > spec.MAX_STRING_BYTES:
            raise ValueError(f"{what} is {len(encoded)} bytes long; the limit is {spec.MAX_STRING_BYTES}")
        self.pack("I", len(encoded))
        self.raw(encoded)

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def _check_int64(value: int, what: str) -> int:
    if not spec.INT64_MIN <= value <= spec.INT64_MAX:
        raise ValueError(f"{what}: {value} does not fit in int64")
    return value


def _float32(value: float, what: str) -> float:
    narrowed = float(np.float32(value))
    if math.isinf(narrowed) and not math.isinf(value):
        raise ValueError(f"{what}: {value} overflows float32")
    return narrowed


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (float, np.floating))


def _is_float(value: object) -> bool:
    return isinstance(value, (float, np.floating))


def _write_attr(buf: _Buffer, node: Node, name: str, value: AttrValue) -> None:
    what = f'node "{node.name}" ({node.op}): attribute "{name}"'
    buf.string(name, f"{what} name")
    if _is_int(value):
        buf.pack("Bq", spec.ATTR_INT, _check_int64(int(value), what))  # type: ignore[arg-type]
    elif _is_float(value):
        buf.pack("Bf", spec.ATTR_FLOAT, _float32(float(value), what))  # type: ignore[arg-type]
    elif isinstance(value, (list, tuple)):
        items: Sequence[object] = list(value)
        if len(items) > spec.MAX_ATTR_LIST:
            raise ValueError(f"{what} has {len(items)} entries; the limit is {spec.MAX_ATTR_LIST}")
        if all(_is_int(v) for v in items):
            buf.pack("BI", spec.ATTR_INTS, len(items))
            for v in items:
                buf.pack("q", _check_int64(int(v), what))  # type: ignore[call-overload]
        elif all(_is_int(v) or _is_float(v) for v in items):
            buf.pack("BI", spec.ATTR_FLOATS, len(items))
            for v in items:
                buf.pack("f", _float32(float(v), what))  # type: ignore[arg-type]
        else:
            raise ValueError(f"{what} is a list of unsupported values {items!r}")
    else:
        raise ValueError(f"{what} has unsupported type {type(value).__name__} (int, float or a list of them)")


def _tensor_order(graph: Graph) -> list[str]:
    """Names of every tensor the graph uses, in the order of graph.tensors."""
    used: set[str] = set(graph.inputs) | set(graph.outputs)
    for node in graph.nodes:
        used.update(name for name in node.inputs if name)
        used.update(node.outputs)
    for name in sorted(used):
        if name not in graph.tensors:
            raise ValueError(f'tensor "{name}" is used by the graph but missing from graph.tensors')
    return [name for name in graph.tensors if name in used]


def _check_tensor(tensor: Tensor) -> None:
    if tensor.dtype not in spec.DTYPE_BITS:
        raise ValueError(f'tensor "{tensor.name}" has dtype {tensor.dtype.name}, which a .pnn cannot hold')
    if len(tensor.shape) > spec.MAX_RANK:
        raise ValueError(f'tensor "{tensor.name}" has rank {len(tensor.shape)}; the limit is {spec.MAX_RANK}')
    for d in tensor.shape:
        if not _is_int(d) or not 1 <= int(d) <= spec.MAX_DIM:
            raise ValueError(f'tensor "{tensor.name}" has shape {tensor.shape}: every dim must be in [1, {spec.MAX_DIM}]')
    numel = math.prod(int(d) for d in tensor.shape)
    if spec.dense_nbytes(tensor.dtype, numel) > spec.MAX_TENSOR_BYTES:
        raise ValueError(f'tensor "{tensor.name}" with shape {tensor.shape} is too large')


def _constant_bytes(tensor: Tensor) -> bytes:
    assert tensor.data is not None
    if tensor.dtype not in WRITABLE_CONSTANT_DTYPES:
        supported = ", ".join(d.name for d in WRITABLE_CONSTANT_DTYPES)
        raise ValueError(f'constant "{tensor.name}" has dtype {tensor.dtype.name}; writable dtypes: {supported}')
    data = np.asarray(tensor.data)
    if tuple(data.shape) != tuple(int(d) for d in tensor.shape):
        raise ValueError(f'constant "{tensor.name}": data shape {data.shape} differs from tensor shape {tensor.shape}')
    if tensor.dtype == DType.S4:
        if data.dtype.kind not in "iu":
            raise ValueError(f'constant "{tensor.name}": S4 data must be integers, not {data.dtype}')
        try:
            return pack_int4(data).tobytes()
        except ValueError as exc:
            raise ValueError(f'constant "{tensor.name}": values do not fit in S4 ({exc})') from None
    if tensor.dtype == DType.B1:
        if data.dtype != np.bool_:
            raise ValueError(f'constant "{tensor.name}": B1 data must be booleans, not {data.dtype}')
        return np.packbits(data.reshape(-1), bitorder="little").tobytes()
    target = np.dtype(tensor.dtype.to_numpy()).newbyteorder("<")
    cast = data.astype(target)
    if np.issubdtype(target, np.integer) and not np.array_equal(cast, data):
        raise ValueError(f'constant "{tensor.name}": values do not fit in {tensor.dtype.name}')
    return np.ascontiguousarray(cast).tobytes()


def _sparse_group(tensor: Tensor) -> int:
    """The tensor's validated sparse_group: 0 (dense) or G in spec.SPARSE_GROUPS."""
    group = tensor.sparse_group
    if not _is_int(group) or (int(group) != 0 and int(group) not in spec.SPARSE_GROUPS):
        raise ValueError(f'tensor "{tensor.name}": sparse_group is {group!r}; expected 0 (dense) or one of {spec.SPARSE_GROUPS}')
    group = int(group)
    if group == 0:
        return 0
    if not tensor.is_constant:
        raise ValueError(f'tensor "{tensor.name}": sparse_group={group} but only constants can be stored group-sparse')
    if tensor.dtype not in spec.SPARSE_VALUE_DTYPES:
        allowed = " or ".join(d.name for d in spec.SPARSE_VALUE_DTYPES)
        raise ValueError(f'constant "{tensor.name}": sparse_group={group} needs dtype {allowed}, not {tensor.dtype.name}')
    if len(tensor.shape) < 2:
        raise ValueError(f'constant "{tensor.name}": sparse_group={group} needs rank >= 2, the shape is {tensor.shape}')
    return group


def _sparse_blocks(tensor: Tensor, group: int) -> tuple[np.ndarray, np.ndarray]:
    """(blocks [n_groups, cols, group] in the value dtype, mask [n_groups, cols]): column c
    is in group g's mask when any of the group's rows is nonzero there."""
    assert tensor.data is not None
    data = np.asarray(tensor.data)
    if tuple(data.shape) != tuple(int(d) for d in tensor.shape):
        raise ValueError(f'constant "{tensor.name}": data shape {data.shape} differs from tensor shape {tensor.shape}')
    rows = int(tensor.shape[0])
    cols = math.prod(int(d) for d in tensor.shape[1:])
    n_groups = -(-rows // group)
    _, value_dtype, _ = spec.SPARSE_VALUE_DTYPES[tensor.dtype]
    if np.issubdtype(np.asarray(data).dtype, np.integer) and (data.min(initial=0) < -128 or data.max(initial=0) > 127):
        raise ValueError(f'constant "{tensor.name}": values do not fit in {tensor.dtype.name}')
    padded = np.zeros((n_groups * group, cols), dtype=value_dtype)
    padded[:rows] = data.astype(value_dtype).reshape(rows, cols)
    blocks = padded.reshape(n_groups, group, cols).transpose(0, 2, 1)  # [group index, column, row in group]
    return blocks, (blocks != 0).any(axis=2)


def _sparse_size(mask: np.ndarray, group: int, value_bytes: int, encoding: int, block: int) -> int | None:
    """Bytes of the blob of `mask` in `encoding` with units of `block` columns; None when
    that encoding cannot hold it."""
    n_groups, cols = mask.shape
    units = cols // block
    if encoding not in spec.BLOCK_ENCODINGS and block != 1:
        return None
    if units > (spec.SPARSE16_MAX_UNITS if encoding == spec.ENCODING_GROUP_SPARSE16 else spec.SPARSE_MAX_COLS):
        return None
    nnz = int(mask.reshape(n_groups, units, block).any(axis=2).sum())
    if encoding == spec.ENCODING_GROUP_SPARSE_BITMASK:
        return spec.sparse_bitmask_layout(n_groups, units, nnz, group, value_bytes, block)[1]
    return spec.sparse_layout(n_groups, nnz, group, value_bytes, spec.SPARSE_INDEX_BYTES[encoding], block)[1]


def _smallest_storage(mask: np.ndarray, shape: tuple[int, ...], group: int, value_bytes: int,
                      encodings: Sequence[int]) -> tuple[int, int] | None:
    """(encoding, column block) of the smallest blob among `encodings` (earlier ones win
    ties) with units of single columns or of whole kernel windows (the product of
    dims[2:]; kxk pruning keeps or drops whole windows, docs/SPARSITY.md); None when no
    encoding can hold the mask."""
    window = math.prod(int(d) for d in shape[2:])
    options = [(e, b) for e in encodings for b in dict.fromkeys((window, 1))]
    sizes = [_sparse_size(mask, group, value_bytes, e, b) for e, b in options]
    fits = [(size, i) for i, size in enumerate(sizes) if size is not None]
    return options[min(fits)[1]] if fits else None


def sparse_encodings(sparse16: bool = True, bitmask: bool = True) -> tuple[int, ...]:
    """The group-sparse encodings a writer may choose from, in order of preference on
    ties: 16-bit indices (1.7), the bitmask (1.9), 32-bit indices (1.1)."""
    if not sparse16:
        return (spec.ENCODING_GROUP_SPARSE,)
    preferred = (spec.ENCODING_GROUP_SPARSE16, spec.ENCODING_GROUP_SPARSE_BITMASK) if bitmask else (
        spec.ENCODING_GROUP_SPARSE16,)
    return (*preferred, spec.ENCODING_GROUP_SPARSE)


def encode_group_sparse(tensor: Tensor, group: int, encoding: int = spec.ENCODING_GROUP_SPARSE) -> bytes:
    """The group-sparse blob of a constant F32 or S8 tensor viewed as [dims[0], rest]:
    u32 (encoding 1) or u16 (encoding 2, at most 65535 column units) group_nnz and
    indices, or one bitmask per group (encoding 4).

    Exact zeros define the mask: column c is in group g's mask when any of the group's
    rows is nonzero there; the other rows' values at c are stored even when zero. In
    encodings 2 and 4 the mask holds units of `block` columns (the smaller blob), so a
    kept unit may also store zero columns.
    """
    blocks, mask = _sparse_blocks(tensor, group)
    choice = _smallest_storage(mask, tensor.shape, group, spec.SPARSE_VALUE_DTYPES[tensor.dtype][0], (encoding,))
    # No fit: single columns, which _encode_blocks refuses with the encoding's limit.
    return _encode_blocks(tensor, group, encoding, blocks, mask, choice[1] if choice else 1)


def _encode_blocks(tensor: Tensor, group: int, encoding: int, blocks: np.ndarray, mask: np.ndarray,
                   block: int) -> bytes:
    """encode_group_sparse's blob from the tensor's blocks and mask (_sparse_blocks) with
    units of `block` columns."""
    rows = int(tensor.shape[0])
    cols = math.prod(int(d) for d in tensor.shape[1:])
    units_per_group = cols // block
    max_units = spec.SPARSE16_MAX_UNITS if encoding == spec.ENCODING_GROUP_SPARSE16 else spec.SPARSE_MAX_COLS
    if units_per_group > max_units:
        raise ValueError(f'constant "{tensor.name}": {units_per_group} column units; encoding {encoding} allows at '
                         f'most {max_units}')
    value_bytes, value_dtype, _ = spec.SPARSE_VALUE_DTYPES[tensor.dtype]
    n_groups = mask.shape[0]
    unit_mask = mask.reshape(n_groups, units_per_group, block).any(axis=2)
    group_of, units = np.nonzero(unit_mask)  # row-major: by group, units ascending
    total_nnz = len(units)
    if total_nnz > spec.SPARSE_MAX_NNZ:
        raise ValueError(f'constant "{tensor.name}": {total_nnz} stored columns; the limit is {spec.SPARSE_MAX_NNZ}')
    columns = (units[:, None] * block + np.arange(block)).ravel()
    values = blocks[np.repeat(group_of, block), columns]  # [total_nnz * block, group]
    header_block = block if encoding in spec.BLOCK_ENCODINGS else 0
    out = bytearray(spec.SPARSE_HEADER.pack(rows, cols, group, n_groups, total_nnz, int(tensor.dtype), header_block, 0))
    if encoding == spec.ENCODING_GROUP_SPARSE_BITMASK:
        values_offset, size = spec.sparse_bitmask_layout(n_groups, units_per_group, total_nnz, group, value_bytes,
                                                         block)
        row_bits = 8 * spec.bitmask_row_bytes(units_per_group)
        bits = np.zeros((n_groups, row_bits), dtype=bool)
        bits[:, :units_per_group] = unit_mask
        out += np.packbits(bits, axis=1, bitorder="little").tobytes()
    else:
        index_dtype = f"<u{spec.SPARSE_INDEX_BYTES[encoding]}"
        values_offset, size = spec.sparse_layout(n_groups, total_nnz, group, value_bytes,
                                                 spec.SPARSE_INDEX_BYTES[encoding], block)
        out += unit_mask.sum(axis=1).astype(index_dtype).tobytes()
        out += units.astype(index_dtype).tobytes()
    out += b"\0" * (values_offset - len(out))
    out += np.ascontiguousarray(values, dtype=value_dtype).tobytes()
    assert len(out) == size
    return bytes(out)


def smallest_group_sparse(tensor: Tensor, group: int, encodings: Sequence[int] = sparse_encodings()
                          ) -> tuple[int, bytes]:
    """(encoding, blob) of the smallest group-sparse storage of `tensor` among `encodings`."""
    value_bytes = spec.SPARSE_VALUE_DTYPES[tensor.dtype][0]
    blocks, mask = _sparse_blocks(tensor, group)
    choice = _smallest_storage(mask, tensor.shape, group, value_bytes, encodings)
    if choice is None:
        raise ValueError(f'constant "{tensor.name}": {mask.shape[1]} columns; encodings {list(encodings)} cannot '
                         f'hold them')
    encoding, block = choice
    return encoding, _encode_blocks(tensor, group, encoding, blocks, mask, block)


def _narrow_width(tensor: Tensor, blob: bytes) -> int | None:
    """Bytes per value of an s32 constant's narrowed storage (encoding 3), None to keep
    it dense."""
    if tensor.dtype != DType.S32:
        return None
    return spec.narrow_int_width(np.frombuffer(blob, "<i4"))


def _b1_delta_blob(tensor: Tensor, blob: bytes) -> bytes | None:
    """A b1 constant's rows as tree deltas (encoding 5) when that is smaller, else None."""
    words = b1_delta.row_words(tensor.shape) if tensor.dtype == DType.B1 and len(tensor.shape) >= 2 else None
    if words is None:
        return None
    return b1_delta.encode(np.frombuffer(blob, "<u8").reshape(int(tensor.shape[0]), words))


def _write_metadata(buf: _Buffer, metadata: dict[str, str | int | float]) -> None:
    for key, value in metadata.items():
        buf.string(key, f'metadata key "{key}"')
        if isinstance(value, str):
            buf.pack("B", spec.META_STRING)
            buf.string(value, f'metadata "{key}"')
        elif _is_int(value):
            buf.pack("Bq", spec.META_INT, _check_int64(int(value), f'metadata "{key}"'))
        elif _is_float(value):
            buf.pack("Bd", spec.META_FLOAT, float(value))
        else:
            raise ValueError(f'metadata "{key}" has unsupported type {type(value).__name__}')


def _write_node(buf: _Buffer, node: Node, ids: dict[str, int]) -> None:
    code = OP_CODES.get(node.op)
    if code is None:
        raise ValueError(f'node "{node.name}": unknown op "{node.op}" (not in the operator contract, docs/OPS.md)')
    if len(node.inputs) > spec.MAX_NODE_INPUTS or not 1 <= len(node.outputs) <= spec.MAX_NODE_OUTPUTS:
        raise ValueError(f'node "{node.name}" ({node.op}): {len(node.inputs)} inputs, {len(node.outputs)} outputs out of range')
    if len(node.attrs) > spec.MAX_NODE_ATTRS:
        raise ValueError(f'node "{node.name}" ({node.op}): {len(node.attrs)} attributes; the limit is {spec.MAX_NODE_ATTRS}')
    buf.pack("H", code)
    buf.string(node.name, f'node "{node.name}" name')
    buf.pack("I", len(node.inputs))
    for name in node.inputs:
        buf.pack("i", ids[name] if name else -1)
    buf.pack("I", len(node.outputs))
    for name in node.outputs:
        if not name:
            raise ValueError(f'node "{node.name}" ({node.op}): an output has an empty name')
        buf.pack("i", ids[name])
    buf.pack("I", len(node.attrs))
    for attr_name, value in node.attrs.items():
        _write_attr(buf, node, attr_name, value)


_ENCODING_MINOR = {spec.ENCODING_GROUP_SPARSE16: spec.MINOR_SPARSE16,
                   spec.ENCODING_GROUP_SPARSE_BITMASK: spec.MINOR_SPARSE_BITMASK}
# Ops that need a later minor than their code range's (docs/FORMAT.md version table).
_OP_MINOR = {"Sign": spec.MINOR_SIGN, "QMatMul": spec.MINOR_QMATMUL,
             "LSTM": spec.MINOR_RECURRENT, "GRU": spec.MINOR_RECURRENT,
             **{op: spec.MINOR_DYNAMIC_QUANT for op in DYNAMIC_QUANT_OPS}}


def short_tensor_names(graph: Graph, order: list[str]) -> dict[str, str]:
    """Stored name of each tensor when names are shortened: graph inputs and outputs keep
    theirs (the API finds them by name), every other tensor is named by its id in hex,
    made unique against the kept names."""
    kept = set(graph.inputs) | set(graph.outputs)
    names = {}
    for index, name in enumerate(order):
        short = f"{index:x}"
        while short in kept:
            short += "_"
        names[name] = name if name in kept else short
    return names


def write_pnn(graph: Graph, sparse16: bool = True, narrow_ints: bool = True, short_names: bool = False,
              sparse_bitmask: bool = True, b1_deltas: bool = True) -> bytes:
    """The .pnn bytes of a lowered graph; ValueError when the graph cannot be written.
    Each group-sparse tensor takes the smallest of 16-bit indices (encoding 2, 1.7) and
    one bitmask per group (encoding 4, 1.9; not with `sparse_bitmask=False`).
    `sparse16=False` keeps u32 indices in group-sparse tensors (encoding 1), which
    readers older than 1.7 load; `narrow_ints=False` keeps s32 constants 4 bytes a value
    (encoding 3 stores those whose values fit in s8 or s16 narrower, format 1.8).
    `short_names` stores the tensors other than graph inputs and outputs under their id
    (short_tensor_names); node names are kept. A b1 constant whose rows are stored
    smaller as tree deltas takes encoding 5 (1.10; not with `b1_deltas=False`)."""
    order = _tensor_order(graph)
    if len(graph.metadata) > spec.MAX_META or len(order) > spec.MAX_TENSORS or len(graph.nodes) > spec.MAX_NODES:
        raise ValueError("graph has too many metadata entries, tensors or nodes for format 1.x")
    if len(set(graph.inputs)) != len(graph.inputs) or len(set(graph.outputs)) != len(graph.outputs):
        raise ValueError("graph inputs and outputs must not repeat a tensor")
    ids = {name: i for i, name in enumerate(order)}
    for name in graph.inputs:
        if graph.tensors[name].is_constant:
            raise ValueError(f'graph input "{name}" is a constant')
    for node in graph.nodes:
        for name in node.outputs:
            if graph.tensors[name].is_constant:
                raise ValueError(f'node "{node.name}" ({node.op}) writes constant "{name}"')

    structure = _Buffer()
    _write_metadata(structure, graph.metadata)

    # Constants: (encoding, bytes) in table order. Aligned ones come first in the data
    # section, each at a multiple of 64; narrowed integers are copied at load, so they
    # follow packed without alignment.
    stored: list[tuple[int, bytes | None]] = []
    minor = 0
    encodings = sparse_encodings(sparse16, sparse_bitmask)
    for name in order:
        tensor = graph.tensors[name]
        _check_tensor(tensor)
        group = _sparse_group(tensor)
        encoding = spec.ENCODING_DENSE
        if tensor.dtype == DType.BOOL:
            minor = max(minor, spec.MINOR_VALUE_TYPES)
        blob = None
        if group:
            encoding, blob = smallest_group_sparse(tensor, group, encodings)
            minor = max(minor, spec.SPARSE_VALUE_DTYPES[tensor.dtype][2], _ENCODING_MINOR.get(encoding, 0))
        elif tensor.is_constant:
            blob = _constant_bytes(tensor)
            width = _narrow_width(tensor, blob) if narrow_ints and not group else None
            delta = _b1_delta_blob(tensor, blob) if b1_deltas else None
            if width is not None:
                encoding = spec.ENCODING_NARROW_INT
                blob = np.frombuffer(blob, "<i4").astype(spec.NARROW_INT_WIDTHS[width]).tobytes()
                minor = max(minor, spec.MINOR_NARROW_INT)
            elif delta is not None:
                encoding, blob = spec.ENCODING_B1_DELTA, delta
                minor = max(minor, spec.MINOR_B1_DELTA)
        stored.append((encoding, blob))
    aligned = [blob for encoding, blob in stored if blob is not None and encoding != spec.ENCODING_NARROW_INT]
    offset_of_narrow = sum(spec.align(len(blob)) for blob in aligned)
    data_size = narrow_size = 0
    blobs: list[bytes] = []
    narrow: list[bytes] = []
    stored_names = short_tensor_names(graph, order) if short_names else {name: name for name in order}
    for name, (encoding, blob) in zip(order, stored):
        tensor = graph.tensors[name]
        structure.string(stored_names[name], f'tensor "{name}" name')
        kind = spec.KIND_CONSTANT if tensor.is_constant else spec.KIND_ACTIVATION
        structure.pack("BBBB", int(tensor.dtype), encoding, kind, len(tensor.shape))
        for d in tensor.shape:
            structure.pack("q", int(d))
        if blob is None:
            structure.pack("QQ", 0, 0)
        elif encoding == spec.ENCODING_NARROW_INT:
            structure.pack("QQ", offset_of_narrow + narrow_size, len(blob))
            narrow.append(blob)
            narrow_size += len(blob)
        else:
            structure.pack("QQ", data_size, len(blob))
            padded = spec.align(len(blob))
            blobs.append(blob + b"\0" * (padded - len(blob)))
            data_size += padded
    packed = b"".join(narrow)
    blobs.append(packed + b"\0" * (spec.align(len(packed)) - len(packed)))
    data_size += spec.align(len(packed))

    for node in graph.nodes:
        _write_node(structure, node, ids)
        minor = max(minor, _OP_MINOR.get(node.op, 0))
        if OP_CODES[node.op] >= _FIRST_BINARY_OP:
            minor = max(minor, spec.MINOR_BINARY)
        elif OP_CODES[node.op] >= _FIRST_VALUE_OP:
            minor = max(minor, spec.MINOR_VALUE_TYPES)
        elif OP_CODES[node.op] >= _FIRST_INTEGER_OP:
            minor = max(minor, spec.MINOR_QAVERAGE_POOL if node.op == "QAveragePool" else spec.MINOR_INTEGER_OPS)
            if node.op == "QGemm" and len(graph.tensors[node.inputs[0]].shape) > 2:
                minor = max(minor, spec.MINOR_QGEMM_ROWS)
            if node.op == "DequantizeLinear" and len(node.inputs) > 1:
                minor = max(minor, spec.MINOR_DEQUANTIZE_BIAS)
        if node.op == "LSTM" and graph.tensors[node.inputs[1]].dtype == DType.S8:
            minor = max(minor, spec.MINOR_INT8_RECURRENCE)
        if node.op == "Conv" and len(node.inputs) > 3 and node.inputs[3]:
            minor = max(minor, spec.MINOR_CONV_RESIDUAL)
        if node.op == "Mul" and "act" in node.attrs:
            minor = max(minor, spec.MINOR_MUL_ACTIVATION)
    for name in graph.inputs:
        structure.pack("i", ids[name])
    for name in graph.outputs:
        structure.pack("i", ids[name])

    body = structure.getvalue()
    data_offset = spec.align(spec.HEADER_SIZE + len(body))
    file_size = data_offset + data_size
    header = spec.HEADER.pack(
        spec.MAGIC, spec.VERSION_MAJOR, minor, 0, spec.HEADER_SIZE, file_size,
        len(graph.metadata), len(order), len(graph.nodes), len(graph.inputs), len(graph.outputs),
        0, data_offset, data_size,
    )
    out = bytearray(header + body)
    out += b"\0" * (data_offset - len(out))
    for blob in blobs:
        out += blob
    struct.pack_into("<I", out, spec.CHECKSUM_OFFSET, spec.checksum(out))
    return bytes(out)
