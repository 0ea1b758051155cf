"""Strict reader of .pnn files (docs/FORMAT.md): every field is checked before use.

It applies the same structural rules as the C loader (runtime/src/loader.c); op
semantics (shapes, attribute values) are the runtime's prepare functions' job.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from pocketnn.format import b1_delta, spec
from pocketnn.format.opcodes import OP_CODES
from pocketnn.ir import AttrValue, DType

OP_NAMES: dict[int, str] = {code: name for name, code in OP_CODES.items()}


class PnnFormatError(ValueError):
    """The bytes are not a valid .pnn file."""


class PnnVersionError(PnnFormatError):
    """The file's major version is not one this reader knows."""


class PnnChecksumError(PnnFormatError):
    """The stored CRC-32 does not match the file."""


@dataclass(frozen=True)
class PnnHeader:
    version_major: int
    version_minor: int
    checksum: int
    header_size: int
    file_size: int
    n_meta: int
    n_tensors: int
    n_nodes: int
    n_inputs: int
    n_outputs: int
    reserved: int
    data_offset: int
    data_size: int


@dataclass
class SparseData:
    """A group-sparse constant as stored (docs/FORMAT.md, "Group-sparse encoding")."""

    rows: int
    cols: int
    group: int
    group_nnz: np.ndarray  # [n_groups] uint32 (widened from u16 for encoding 2, counted for encoding 4)
    indices: np.ndarray  # [total_nnz] uint32, ascending within a group (widened likewise)
    values: np.ndarray  # [total_nnz, group] float32 or int8, the tensor's dtype

    @property
    def n_groups(self) -> int:
        return len(self.group_nnz)

    @property
    def total_nnz(self) -> int:
        return len(self.indices)


@dataclass
class PnnTensor:
    name: str
    dtype: DType
    encoding: int
    kind: int
    shape: tuple[int, ...]
    offset: int  # relative to the data section (constants)
    size: int
    data: np.ndarray | None = None  # read-only view for constants (uint8 for S4/B1); decoded dense when sparse
    sparse: SparseData | None = None  # the stored form of a group-sparse constant

    @property
    def is_constant(self) -> bool:
        return self.kind == spec.KIND_CONSTANT


@dataclass
class PnnNode:
    op: str
    op_code: int
    name: str
    inputs: list[int]  # -1 = absent optional input
    outputs: list[int]
    attrs: dict[str, AttrValue] = field(default_factory=dict)


@dataclass
class PnnFile:
    header: PnnHeader
    metadata: dict[str, str | int | float]
    tensors: list[PnnTensor]
    nodes: list[PnnNode]
    inputs: list[int]
    outputs: list[int]

    def tensor(self, name: str) -> PnnTensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)


class _Cursor:
    """Bounds-checked little-endian reads over [pos, end)."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.end - self.pos:
            raise PnnFormatError(f"truncated: {what} needs {n} bytes at offset {self.pos}, section ends at {self.end}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:  # type: ignore[type-arg]
        s = struct.Struct("<" + fmt)
        return s.unpack(self.take(s.size, what))

    def u8(self, what: str) -> int:
        return int(self.unpack("B", what)[0])

    def u32(self, what: str) -> int:
        return int(self.unpack("I", what)[0])

    def i32(self, what: str) -> int:
        return int(self.unpack("i", what)[0])

    def string(self, what: str) -> str:
        n = self.u32(f"{what} length")
        if n > spec.MAX_STRING_BYTES:
            raise PnnFormatError(f"{what} is {n} bytes long; the limit is {spec.MAX_STRING_BYTES}")
        raw = self.take(n, what)
        if b"\0" in raw:
            raise PnnFormatError(f"{what} contains a NUL byte")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PnnFormatError(f"{what} is not UTF-8") from e


def _check_count(value: int, limit: int, what: str) -> int:
    if value > limit:
        raise PnnFormatError(f"{what} is {value}; the limit is {limit}")
    return value


def _read_header(data: bytes) -> PnnHeader:
    if len(data) < spec.HEADER_SIZE:
        raise PnnFormatError(f"truncated: {len(data)} bytes, a .pnn header alone is {spec.HEADER_SIZE}")
    fields = spec.HEADER.unpack_from(data, 0)
    if fields[0] != spec.MAGIC:
        raise PnnFormatError(f"bad magic {fields[0]!r}, expected {spec.MAGIC!r}: not a .pnn file")
    header = PnnHeader(*fields[1:])
    if header.version_major != spec.VERSION_MAJOR:
        raise PnnVersionError(
            f"file format version {header.version_major}.{header.version_minor} is not supported; "
            f"this reader reads version {spec.VERSION_MAJOR}.x (up to {spec.VERSION_MAJOR}.{spec.VERSION_MINOR})"
        )
    if header.header_size != spec.HEADER_SIZE:
        raise PnnFormatError(f"header_size is {header.header_size}, expected {spec.HEADER_SIZE}")
    if header.file_size != len(data):
        raise PnnFormatError(f"file is {len(data)} bytes but its header says {header.file_size} (truncated or padded)")
    actual = spec.checksum(data)
    if actual != header.checksum:
        raise PnnChecksumError(f"checksum mismatch: stored {header.checksum:#010x}, computed {actual:#010x}")
    _check_count(header.n_meta, spec.MAX_META, "metadata count")
    _check_count(header.n_tensors, spec.MAX_TENSORS, "tensor count")
    _check_count(header.n_nodes, spec.MAX_NODES, "node count")
    _check_count(header.n_inputs, header.n_tensors, "graph input count")
    _check_count(header.n_outputs, header.n_tensors, "graph output count")
    if header.data_offset % spec.DATA_ALIGNMENT or header.data_offset < spec.HEADER_SIZE:
        raise PnnFormatError(f"data_offset {header.data_offset} is not a multiple of 64 after the header")
    if header.data_offset + header.data_size != header.file_size:
        raise PnnFormatError(
            f"data section [{header.data_offset}, +{header.data_size}) does not end at the file end {header.file_size}"
        )
    return header


def _read_metadata(cur: _Cursor, count: int) -> dict[str, str | int | float]:
    meta: dict[str, str | int | float] = {}
    for i in range(count):
        key = cur.string(f"metadata {i} key")
        if key in meta:
            raise PnnFormatError(f'metadata key "{key}" repeats')
        kind = cur.u8(f'metadata "{key}" type')
        if kind == spec.META_STRING:
            meta[key] = cur.string(f'metadata "{key}"')
        elif kind == spec.META_INT:
            meta[key] = int(cur.unpack("q", f'metadata "{key}"')[0])
        elif kind == spec.META_FLOAT:
            meta[key] = float(cur.unpack("d", f'metadata "{key}"')[0])
        else:
            raise PnnFormatError(f'metadata "{key}" has unknown type {kind}')
    return meta


def _read_tensor(cur: _Cursor, index: int, data: bytes, header: PnnHeader) -> PnnTensor:
    name = cur.string(f"tensor {index} name")
    what = f'tensor {index} "{name}"'
    if not name:
        raise PnnFormatError(f"tensor {index} has an empty name")
    dtype_code, encoding, kind, rank = cur.unpack("BBBB", what)
    if dtype_code not in DType._value2member_map_ or DType(dtype_code) not in spec.DTYPE_BITS:
        raise PnnFormatError(f"{what} has unknown dtype code {dtype_code}")
    dtype = DType(dtype_code)
    sparse = encoding in spec.SPARSE_ENCODINGS
    if encoding == spec.ENCODING_GROUP_SPARSE_BITMASK and header.version_minor < spec.MINOR_SPARSE_BITMASK:
        raise PnnFormatError(f"{what} is group-sparse with bitmasks, which a version 1.{header.version_minor} "
                             f"file cannot hold (1.{spec.MINOR_SPARSE_BITMASK}+)")
    if encoding == spec.ENCODING_GROUP_SPARSE16 and header.version_minor < spec.MINOR_SPARSE16:
        raise PnnFormatError(f"{what} is group-sparse with 16-bit indices, which a version 1.{header.version_minor} "
                             f"file cannot hold (1.{spec.MINOR_SPARSE16}+)")
    if encoding == spec.ENCODING_GROUP_SPARSE and header.version_minor < spec.MINOR_GROUP_SPARSE:
        raise PnnFormatError(f"{what} is group-sparse, which a version 1.{header.version_minor} file cannot hold (1.1+)")
    if (sparse and dtype in spec.SPARSE_VALUE_DTYPES
            and header.version_minor < spec.SPARSE_VALUE_DTYPES[dtype][2]):
        raise PnnFormatError(f"{what} is group-sparse {dtype.name}, which a version 1.{header.version_minor} file cannot "
                             f"hold (1.{spec.SPARSE_VALUE_DTYPES[dtype][2]}+)")
    if dtype == DType.BOOL and header.version_minor < spec.MINOR_VALUE_TYPES:
        raise PnnFormatError(f"{what} is bool, which a version 1.{header.version_minor} file cannot hold "
                             f"(1.{spec.MINOR_VALUE_TYPES}+)")
    if encoding == spec.ENCODING_NARROW_INT and header.version_minor < spec.MINOR_NARROW_INT:
        raise PnnFormatError(f"{what} holds narrowed integers, which a version 1.{header.version_minor} file cannot "
                             f"hold (1.{spec.MINOR_NARROW_INT}+)")
    if encoding == spec.ENCODING_B1_DELTA and header.version_minor < spec.MINOR_B1_DELTA:
        raise PnnFormatError(f"{what} holds b1 tree deltas, which a version 1.{header.version_minor} file cannot "
                             f"hold (1.{spec.MINOR_B1_DELTA}+)")
    if encoding not in (spec.ENCODING_DENSE, spec.ENCODING_NARROW_INT, spec.ENCODING_B1_DELTA) and not sparse:
        raise PnnFormatError(f"{what} has unknown encoding {encoding}")
    if kind not in (spec.KIND_ACTIVATION, spec.KIND_CONSTANT):
        raise PnnFormatError(f"{what} has unknown kind {kind}")
    if rank > spec.MAX_RANK:
        raise PnnFormatError(f"{what} has rank {rank}; the limit is {spec.MAX_RANK}")
    shape = tuple(int(d) for d in cur.unpack(f"{rank}q", f"{what} dims"))
    for d in shape:
        if not 1 <= d <= spec.MAX_DIM:
            raise PnnFormatError(f"{what} has dim {d} outside [1, {spec.MAX_DIM}]")
    nbytes = spec.dense_nbytes(dtype, math.prod(shape))
    if nbytes > spec.MAX_TENSOR_BYTES:
        raise PnnFormatError(f"{what} with shape {list(shape)} is too large")
    offset, size = (int(v) for v in cur.unpack("QQ", f"{what} data range"))
    tensor = PnnTensor(name, dtype, encoding, kind, shape, offset, size)
    if kind == spec.KIND_ACTIVATION:
        if encoding != spec.ENCODING_DENSE:
            raise PnnFormatError(f"{what} is an activation but not dense")
        if offset or size:
            raise PnnFormatError(f"{what} is an activation but has a data range")
        return tensor
    if sparse:
        if offset % spec.DATA_ALIGNMENT or offset > header.data_size or size > header.data_size - offset:
            raise PnnFormatError(f"{what} data [{offset}, +{size}) is not 64-aligned inside the data section ({header.data_size} bytes)")
        start = header.data_offset + offset
        tensor.sparse = _read_group_sparse(data[start : start + size], dtype, shape, what, encoding)
        tensor.data = decode_group_sparse(tensor.sparse, shape)
        return tensor
    if encoding == spec.ENCODING_NARROW_INT:
        tensor.data = _read_narrow_int(data, header, tensor, what)
        return tensor
    if encoding != spec.ENCODING_B1_DELTA and size != nbytes:
        raise PnnFormatError(f"{what} has {size} data bytes; shape {list(shape)} of {dtype.name} needs {nbytes}")
    if offset % spec.DATA_ALIGNMENT or offset > header.data_size or size > header.data_size - offset:
        raise PnnFormatError(f"{what} data [{offset}, +{size}) is not 64-aligned inside the data section ({header.data_size} bytes)")
    start = header.data_offset + offset
    if encoding == spec.ENCODING_B1_DELTA:
        tensor.data = _read_b1_delta(data[start:start + size], tensor, what)
        return tensor
    if spec.DTYPE_BITS[dtype] >= 8:
        view = np.frombuffer(data, dtype=np.dtype(dtype.to_numpy()).newbyteorder("<"), count=math.prod(shape), offset=start)
        tensor.data = view.reshape(shape)
    else:
        tensor.data = np.frombuffer(data, dtype=np.uint8, count=size, offset=start)
    return tensor


def _read_b1_delta(blob: bytes, tensor: PnnTensor, what: str) -> np.ndarray:
    """The dense bytes (uint8, as a dense b1 constant reads) of an encoding-5 constant."""
    if tensor.dtype != DType.B1 or len(tensor.shape) < 2:
        raise PnnFormatError(f"{what} holds b1 tree deltas but is {tensor.dtype.name} of rank {len(tensor.shape)}")
    words = b1_delta.row_words(tensor.shape)
    if words is None:
        raise PnnFormatError(f"{what} holds b1 tree deltas but its rows of "
                             f"{math.prod(tensor.shape) // tensor.shape[0]} bits are not whole words")
    try:
        decoded = b1_delta.decode(blob, tensor.shape[0], words)
    except b1_delta.DeltaFormatError as exc:
        raise PnnFormatError(f"{what}: {exc}") from None
    return decoded.astype("<u8").view(np.uint8).reshape(-1)


def _read_narrow_int(data: bytes, header: PnnHeader, tensor: PnnTensor, what: str) -> np.ndarray:
    """The s32 values of an encoding-3 constant (numel s8 or s16 values at any offset),
    with the C loader's rules (docs/FORMAT.md, "Narrowed integers")."""
    if tensor.dtype != DType.S32:
        raise PnnFormatError(f"{what} holds narrowed integers but is {tensor.dtype.name}, not S32")
    numel = math.prod(tensor.shape)
    if tensor.size not in (numel * width for width in spec.NARROW_INT_WIDTHS):
        raise PnnFormatError(f"{what} has {tensor.size} data bytes; its {numel} narrowed values need "
                             f"{' or '.join(str(numel * w) for w in spec.NARROW_INT_WIDTHS)}")
    if tensor.offset > header.data_size or tensor.size > header.data_size - tensor.offset:
        raise PnnFormatError(f"{what} data [{tensor.offset}, +{tensor.size}) is not inside the data section "
                             f"({header.data_size} bytes)")
    stored = np.frombuffer(data, dtype=spec.NARROW_INT_WIDTHS[tensor.size // numel], count=numel,
                           offset=header.data_offset + tensor.offset)
    return stored.astype(np.int32).reshape(tensor.shape)


def _read_group_sparse(blob: bytes, dtype: DType, shape: tuple[int, ...], what: str, encoding: int) -> SparseData:
    """Validates a group-sparse blob (u32 or u16 group_nnz and indices, or bitmasks) with
    the C loader's rules (docs/FORMAT.md)."""
    if dtype not in spec.SPARSE_VALUE_DTYPES:
        allowed = " or ".join(d.name for d in spec.SPARSE_VALUE_DTYPES)
        raise PnnFormatError(f"{what} is group-sparse with dtype {dtype.name}; only {allowed} can be")
    if len(shape) < 2:
        raise PnnFormatError(f"{what} is group-sparse with rank {len(shape)}; it needs rank >= 2")
    if len(blob) < spec.SPARSE_HEADER.size:
        raise PnnFormatError(f"{what}: group-sparse data is {len(blob)} bytes, its header alone is {spec.SPARSE_HEADER.size}")
    rows, cols, group, n_groups, total_nnz, value_dtype, reserved0, reserved1 = spec.SPARSE_HEADER.unpack_from(blob, 0)
    want_cols = math.prod(shape[1:])
    if rows != shape[0] or cols != want_cols:
        raise PnnFormatError(f"{what}: group-sparse header says {rows}x{cols}, the shape {list(shape)} is {shape[0]}x{want_cols}")
    if group not in spec.SPARSE_GROUPS:
        raise PnnFormatError(f"{what}: group size {group} is not one of {spec.SPARSE_GROUPS}")
    if n_groups != -(-rows // group):
        raise PnnFormatError(f"{what}: n_groups is {n_groups}, ceil({rows} / {group}) is {-(-rows // group)}")
    if value_dtype != int(dtype):
        raise PnnFormatError(f"{what}: group-sparse value dtype {value_dtype} differs from the tensor's {int(dtype)}")
    blocked = encoding in spec.BLOCK_ENCODINGS
    block = reserved0 if blocked else 1  # units of `block` columns
    if reserved1 or (not blocked and reserved0):
        raise PnnFormatError(f"{what}: reserved group-sparse header fields are not zero")
    if block == 0 or cols % block:
        raise PnnFormatError(f"{what}: column block {block} does not divide the {cols} columns")
    units = cols // block
    max_units = spec.SPARSE16_MAX_UNITS if encoding == spec.ENCODING_GROUP_SPARSE16 else spec.SPARSE_MAX_COLS
    if units > max_units:
        raise PnnFormatError(f"{what}: {units} column units; encoding {encoding} allows at most {max_units}")
    if total_nnz > n_groups * units:
        raise PnnFormatError(f"{what}: total_nnz {total_nnz} exceeds {n_groups} groups of {units} units")
    value_bytes, value_format, _ = spec.SPARSE_VALUE_DTYPES[dtype]
    if encoding == spec.ENCODING_GROUP_SPARSE_BITMASK:
        values_offset, size = spec.sparse_bitmask_layout(n_groups, units, total_nnz, group, value_bytes, block)
    else:
        values_offset, size = spec.sparse_layout(n_groups, total_nnz, group, value_bytes,
                                                 spec.SPARSE_INDEX_BYTES[encoding], block)
    if size != len(blob):
        raise PnnFormatError(f"{what}: group-sparse data is {len(blob)} bytes, its header needs {size}")
    pos = spec.SPARSE_HEADER.size
    if encoding == spec.ENCODING_GROUP_SPARSE_BITMASK:
        row_bytes = spec.bitmask_row_bytes(units)
        packed = np.frombuffer(blob, dtype=np.uint8, count=n_groups * row_bytes, offset=pos)
        bits = np.unpackbits(packed.reshape(n_groups, row_bytes), axis=1, bitorder="little").astype(bool)
        if bits[:, units:].any():
            raise PnnFormatError(f"{what}: a group's bitmask has bits set past its {units} units")
        group_nnz = bits.sum(axis=1).astype(np.uint32)
        indices = np.nonzero(bits)[1].astype(np.uint32)
        pos += n_groups * row_bytes
        if int(group_nnz.sum(dtype=np.uint64)) != total_nnz:
            raise PnnFormatError(f"{what}: the bitmasks hold {int(group_nnz.sum(dtype=np.uint64))} units, "
                                 f"total_nnz is {total_nnz}")
    else:
        index_bytes = spec.SPARSE_INDEX_BYTES[encoding]
        index_dtype = f"<u{index_bytes}"
        group_nnz = np.frombuffer(blob, dtype=index_dtype, count=n_groups, offset=pos).astype(np.uint32)
        pos += index_bytes * n_groups
        indices = np.frombuffer(blob, dtype=index_dtype, count=total_nnz, offset=pos).astype(np.uint32)
        pos += index_bytes * total_nnz
    if any(blob[pos:values_offset]):
        raise PnnFormatError(f"{what}: group-sparse padding before the values is not zero")
    if n_groups and int(group_nnz.max()) > units:
        raise PnnFormatError(f"{what}: a group has {int(group_nnz.max())} stored units, more than the {units} units")
    if int(group_nnz.sum(dtype=np.uint64)) != total_nnz:
        raise PnnFormatError(f"{what}: group nonzero counts add up to {int(group_nnz.sum(dtype=np.uint64))}, total_nnz is {total_nnz}")
    if total_nnz and int(indices.max()) >= units:
        raise PnnFormatError(f"{what}: an index is {int(indices.max())}, the tensor has {units} column units")
    group_of = np.repeat(np.arange(n_groups, dtype=np.int64), group_nnz.astype(np.int64))
    key = group_of * (units + 1) + indices.astype(np.int64)  # strictly increasing iff ascending within each group
    if total_nnz > 1 and not bool(np.all(np.diff(key) > 0)):
        raise PnnFormatError(f"{what}: column indices are not strictly ascending within a group")
    # In columns from here on (the form SparseData holds).
    group_nnz = group_nnz * np.uint32(block)
    indices = (indices[:, None] * np.uint32(block) + np.arange(block, dtype=np.uint32)).ravel()
    group_of = np.repeat(group_of, block)
    total_nnz *= block
    values = np.frombuffer(blob, dtype=value_format, count=total_nnz * group, offset=values_offset).reshape(total_nnz, group)
    tail = rows - (n_groups - 1) * group  # rows of the last group that exist
    if n_groups and tail < group and bool(np.any(values[group_of == n_groups - 1, tail:] != 0)):
        raise PnnFormatError(f"{what}: values of the rows past {rows} in the last group are not zero")
    return SparseData(rows, cols, group, group_nnz, indices, values)


def decode_group_sparse(sparse: SparseData, shape: tuple[int, ...]) -> np.ndarray:
    """The dense array (the values' dtype) of a validated group-sparse tensor."""
    blocks = np.zeros((sparse.n_groups, sparse.cols, sparse.group), dtype=sparse.values.dtype)
    group_of = np.repeat(np.arange(sparse.n_groups), sparse.group_nnz.astype(np.int64))
    blocks[group_of, sparse.indices.astype(np.int64)] = sparse.values
    dense = blocks.transpose(0, 2, 1).reshape(sparse.n_groups * sparse.group, sparse.cols)[: sparse.rows]
    return np.ascontiguousarray(dense).reshape(shape)


def _read_attr(cur: _Cursor, what: str) -> tuple[str, AttrValue]:
    name = cur.string(f"{what} attribute name")
    if not name:
        raise PnnFormatError(f"{what} has an attribute with an empty name")
    where = f'{what} attribute "{name}"'
    kind = cur.u8(f"{where} type")
    if kind == spec.ATTR_INT:
        return name, int(cur.unpack("q", where)[0])
    if kind == spec.ATTR_FLOAT:
        return name, float(cur.unpack("f", where)[0])
    if kind in (spec.ATTR_INTS, spec.ATTR_FLOATS):
        count = _check_count(cur.u32(f"{where} count"), spec.MAX_ATTR_LIST, f"{where} count")
        fmt = "q" if kind == spec.ATTR_INTS else "f"
        values = cur.unpack(f"{count}{fmt}", where)
        if kind == spec.ATTR_INTS:
            return name, [int(v) for v in values]
        return name, [float(v) for v in values]
    raise PnnFormatError(f"{where} has unknown type {kind}")


def _tensor_id(value: int, n_tensors: int, what: str, optional: bool) -> int:
    if (optional and value == -1) or 0 <= value < n_tensors:
        return value
    raise PnnFormatError(f"{what} refers to tensor id {value}; the file has {n_tensors} tensors")


def _read_node(cur: _Cursor, index: int, n_tensors: int) -> PnnNode:
    code = int(cur.unpack("H", f"node {index} op code")[0])
    name = cur.string(f"node {index} name")
    op = OP_NAMES.get(code)
    what = f'node {index} "{name}" ({op or code})'
    if op is None:
        raise PnnFormatError(f"{what} has unknown op code {code}")
    n_in = _check_count(cur.u32(f"{what} input count"), spec.MAX_NODE_INPUTS, f"{what} input count")
    inputs = [_tensor_id(cur.i32(f"{what} input"), n_tensors, f"{what} input {i}", True) for i in range(n_in)]
    n_out = _check_count(cur.u32(f"{what} output count"), spec.MAX_NODE_OUTPUTS, f"{what} output count")
    if n_out == 0:
        raise PnnFormatError(f"{what} has no outputs")
    outputs = [_tensor_id(cur.i32(f"{what} output"), n_tensors, f"{what} output {i}", False) for i in range(n_out)]
    n_attrs = _check_count(cur.u32(f"{what} attribute count"), spec.MAX_NODE_ATTRS, f"{what} attribute count")
    attrs: dict[str, AttrValue] = {}
    for _ in range(n_attrs):
        key, value = _read_attr(cur, what)
        if key in attrs:
            raise PnnFormatError(f'{what} repeats attribute "{key}"')
        attrs[key] = value
    return PnnNode(op, code, name, inputs, outputs, attrs)


def _check_graph(tensors: list[PnnTensor], nodes: list[PnnNode], inputs: list[int], outputs: list[int]) -> None:
    """Topological order and single assignment, the C loader's rules."""
    available = [t.is_constant for t in tensors]
    produced = [False] * len(tensors)
    if len(set(inputs)) != len(inputs) or len(set(outputs)) != len(outputs):
        raise PnnFormatError("graph inputs or outputs repeat a tensor")
    for tid in inputs:
        if tensors[tid].is_constant:
            raise PnnFormatError(f'graph input "{tensors[tid].name}" is a constant')
        available[tid] = True
    for index, node in enumerate(nodes):
        what = f'node {index} "{node.name}" ({node.op})'
        for i, tid in enumerate(node.inputs):
            if tid >= 0 and not available[tid]:
                raise PnnFormatError(f'{what} input {i} "{tensors[tid].name}" is not computed before the node')
        for i, tid in enumerate(node.outputs):
            t = tensors[tid]
            if tid in node.inputs:
                raise PnnFormatError(f'{what} output {i} "{t.name}" is also one of its inputs')
            if t.is_constant:
                raise PnnFormatError(f'{what} output {i} "{t.name}" is a constant')
            if available[tid]:
                raise PnnFormatError(f'{what} output {i} "{t.name}" is already computed (graph input or earlier node)')
            available[tid] = True
            produced[tid] = True
    for tid, t in enumerate(tensors):
        if not available[tid]:
            raise PnnFormatError(f'activation "{t.name}" is neither a graph input nor computed by a node')
    if not outputs:
        raise PnnFormatError("the graph has no outputs")
    for tid in outputs:
        if not produced[tid]:
            raise PnnFormatError(f'graph output "{tensors[tid].name}" is not computed by a node')


def _check_node_versions(header: PnnHeader, tensors: list[PnnTensor], nodes: list[PnnNode]) -> None:
    """Node features newer than the file's version (docs/FORMAT.md version table)."""
    for index, node in enumerate(nodes):
        if node.op == "DequantizeLinear" and len(node.inputs) == 2 and header.version_minor < spec.MINOR_DEQUANTIZE_BIAS:
            raise PnnFormatError(f'node {index} "{node.name}" (DequantizeLinear) has a bias input, which a version '
                                 f"1.{header.version_minor} file cannot hold (1.{spec.MINOR_DEQUANTIZE_BIAS}+)")
        if node.op == "LSTM" and len(node.inputs) > 1 and node.inputs[1] >= 0 \
                and tensors[node.inputs[1]].dtype == DType.S8 and header.version_minor < spec.MINOR_INT8_RECURRENCE:
            raise PnnFormatError(f'node {index} "{node.name}" (LSTM) has s8 weights, which a version '
                                 f"1.{header.version_minor} file cannot hold (1.{spec.MINOR_INT8_RECURRENCE}+)")
        if node.op == "Conv" and len(node.inputs) > 3 and node.inputs[3] >= 0 \
                and header.version_minor < spec.MINOR_CONV_RESIDUAL:
            raise PnnFormatError(f'node {index} "{node.name}" (Conv) has a residual input, which a version '
                                 f"1.{header.version_minor} file cannot hold (1.{spec.MINOR_CONV_RESIDUAL}+)")
        if node.op == "Mul" and "act" in node.attrs and header.version_minor < spec.MINOR_MUL_ACTIVATION:
            raise PnnFormatError(f'node {index} "{node.name}" (Mul) has a fused activation, which a version '
                                 f"1.{header.version_minor} file cannot hold (1.{spec.MINOR_MUL_ACTIVATION}+)")


def read_pnn(data: bytes | bytearray | memoryview) -> PnnFile:
    """Parses and validates a .pnn file; PnnFormatError (a ValueError) when malformed."""
    data = bytes(data)
    header = _read_header(data)
    cur = _Cursor(data, spec.HEADER_SIZE, header.data_offset)
    metadata = _read_metadata(cur, header.n_meta)
    tensors = [_read_tensor(cur, i, data, header) for i in range(header.n_tensors)]
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise PnnFormatError("tensor names repeat")
    nodes = [_read_node(cur, i, header.n_tensors) for i in range(header.n_nodes)]
    inputs = [_tensor_id(cur.i32("graph input"), header.n_tensors, f"graph input {i}", False) for i in range(header.n_inputs)]
    outputs = [_tensor_id(cur.i32("graph output"), header.n_tensors, f"graph output {i}", False) for i in range(header.n_outputs)]
    _check_graph(tensors, nodes, inputs, outputs)
    _check_node_versions(header, tensors, nodes)
    return PnnFile(header, metadata, tensors, nodes, inputs, outputs)
