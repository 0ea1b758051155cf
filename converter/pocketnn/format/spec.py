"""Byte-level constants of the .pnn format 1.x shared by the writer and the reader.

docs/FORMAT.md is the normative description; runtime/src/loader.c mirrors these values.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from pocketnn.ir import DType

MAGIC = b"PNN\0"
VERSION_MAJOR = 1
VERSION_MINOR = 14
# The oldest minor version that can hold each feature: the writer stamps a file with the
# lowest version its contents need, so files without 1.1 features stay readable by 1.0.
MINOR_GROUP_SPARSE = 1
MINOR_INTEGER_OPS = 2  # op codes 80-87 (docs/OPS.md "Integer operators")
MINOR_SPARSE_S8 = 3  # group-sparse tensors of dtype s8
MINOR_QAVERAGE_POOL = 3  # op code 88
MINOR_VALUE_TYPES = 4  # bool tensors; op codes 90-107 (docs/OPS.md "Value types")
MINOR_QGEMM_ROWS = 5  # QGemm with X of rank >= 3 (rows of K)
MINOR_QMATMUL = 6  # op code 108, u8 x u8
MINOR_DYNAMIC_QUANT = 6  # op codes 110, 111, 116 (docs/OPS.md "Dynamic quantization")
MINOR_BINARY = 6  # op codes 120-121, b1 weights and activations (docs/OPS.md "Binary operators")
MINOR_SIGN = 6  # op code 38, Sign (docs/BINARY.md)
MINOR_RECURRENT = 7  # op codes 112-113, LSTM and GRU (docs/OPS.md "Recurrent operators")
MINOR_SPARSE16 = 7  # encoding 2: group-sparse with u16 group_nnz and indices
MINOR_NARROW_INT = 8  # encoding 3: s32 constants stored as s8 / s16
MINOR_SPARSE_BITMASK = 9  # encoding 4: group-sparse with a bitmask per group
MINOR_B1_DELTA = 10  # encoding 5: b1 rows stored as tree deltas
MINOR_DEQUANTIZE_BIAS = 11  # DequantizeLinear (op code 81) with a bias input
MINOR_INT8_RECURRENCE = 12  # LSTM (op code 112) with s8 W and R, their scales and zero points
MINOR_CONV_RESIDUAL = 13  # Conv (op code 1) with a residual input R added before the activation
MINOR_MUL_ACTIVATION = 14  # Mul (op code 32) with a fused activation (act, act_alpha, act_beta)

# magic, major, minor, checksum, header_size, file_size, n_meta, n_tensors, n_nodes,
# n_inputs, n_outputs, reserved, data_offset, data_size
HEADER = struct.Struct("<4sHHIIQIIIIIIQQ")
HEADER_SIZE = 64
CHECKSUM_OFFSET = 8
DATA_ALIGNMENT = 64

# Limits every reader enforces (they bound allocations made from untrusted counts).
MAX_STRING_BYTES = 4096
MAX_RANK = 8
MAX_DIM = 2**31 - 1
MAX_TENSOR_BYTES = 2**48
MAX_NODE_INPUTS = 1024
MAX_NODE_OUTPUTS = 1024
MAX_NODE_ATTRS = 64
MAX_ATTR_LIST = 65536
MAX_META = 65536
MAX_TENSORS = 2**24
MAX_NODES = 2**24

META_STRING = 1
META_INT = 2
META_FLOAT = 3

ATTR_INT = 1
ATTR_FLOAT = 2
ATTR_INTS = 3
ATTR_FLOATS = 4

ENCODING_DENSE = 0
ENCODING_GROUP_SPARSE = 1  # since 1.1: docs/FORMAT.md, "Group-sparse encoding"
ENCODING_GROUP_SPARSE16 = 2  # since 1.7: the same with 16-bit group_nnz and indices
ENCODING_NARROW_INT = 3  # since 1.8: an s32 constant stored as s8 or s16, any offset
ENCODING_GROUP_SPARSE_BITMASK = 4  # since 1.9: group-sparse, each group's units as a bitmask
ENCODING_B1_DELTA = 5  # since 1.10: b1 rows as a forest of xor deltas (format/b1_delta.py)
KIND_ACTIVATION = 0
KIND_CONSTANT = 1

# Element sizes in bits of the dtypes a .pnn may carry.
DTYPE_BITS: dict[DType, int] = {
    DType.F32: 32,
    DType.F16: 16,
    DType.S8: 8,
    DType.U8: 8,
    DType.S4: 4,
    DType.B1: 1,
    DType.S32: 32,
    DType.S64: 64,
    DType.BOOL: 8,
}

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def dense_nbytes(dtype: DType, numel: int) -> int:
    """Bytes of a dense tensor: sub-byte types pack from the low bits up, rounded up."""
    return (numel * DTYPE_BITS[dtype] + 7) // 8


def align(value: int, alignment: int = DATA_ALIGNMENT) -> int:
    return (value + alignment - 1) // alignment * alignment


def checksum(data: bytes | bytearray | memoryview) -> int:
    """CRC-32 (zlib) of the whole file with the 4 checksum bytes read as zero."""
    view = memoryview(data)
    crc = zlib.crc32(view[:CHECKSUM_OFFSET])
    crc = zlib.crc32(b"\0\0\0\0", crc)
    return zlib.crc32(view[CHECKSUM_OFFSET + 4 :], crc) & 0xFFFFFFFF


# ---- group-sparse encoding (format 1.1; s8 values 1.3) -----------------------------------------------
# rows, cols, group, n_groups, total_nnz, value_dtype, reserved, reserved (8 x u32)
SPARSE_HEADER = struct.Struct("<8I")
SPARSE_GROUPS = (1, 2, 4, 8)
SPARSE_MAX_COLS = 2**31 - 1  # indices are u32 but kernels may hold them in int32
SPARSE_MAX_NNZ = 2**32 - 1
SPARSE16_MAX_UNITS = 2**16 - 1  # encoding 2: every index and group_nnz (in column units) fits in u16
# encoding -> bytes of one group_nnz or index entry (the bitmask encoding has neither)
SPARSE_INDEX_BYTES = {ENCODING_GROUP_SPARSE: 4, ENCODING_GROUP_SPARSE16: 2}
SPARSE_ENCODINGS = (ENCODING_GROUP_SPARSE, ENCODING_GROUP_SPARSE16, ENCODING_GROUP_SPARSE_BITMASK)
# The encodings whose header word 6 is a column block (units of `block` columns).
BLOCK_ENCODINGS = (ENCODING_GROUP_SPARSE16, ENCODING_GROUP_SPARSE_BITMASK)
# value dtype -> (bytes per value, little-endian numpy dtype, oldest minor version)
SPARSE_VALUE_DTYPES: dict[DType, tuple[int, str, int]] = {
    DType.F32: (4, "<f4", MINOR_GROUP_SPARSE),
    DType.S8: (1, "i1", MINOR_SPARSE_S8),
}


def sparse_encoding(cols: int) -> int:
    """The index encoding the writer may use: 16-bit indices when every one fits
    (counting single columns: a column block only lowers the count)."""
    return ENCODING_GROUP_SPARSE16 if cols <= SPARSE16_MAX_UNITS else ENCODING_GROUP_SPARSE


def bitmask_row_bytes(units: int) -> int:
    """Bytes of one group's bitmask over `units` column units (encoding 4)."""
    return -(-units // 8)


def sparse_bitmask_layout(n_groups: int, units: int, total_nnz: int, group: int, value_bytes: int,
                          block: int = 1) -> tuple[int, int]:
    """(values_offset, size) of an encoding-4 blob: the header, n_groups bitmasks of
    `units` bits each, zeros to 64, then `total_nnz` stored units of `block` columns."""
    values_offset = align(SPARSE_HEADER.size + n_groups * bitmask_row_bytes(units))
    return values_offset, values_offset + total_nnz * block * group * value_bytes


def sparse_layout(n_groups: int, total_nnz: int, group: int, value_bytes: int,
                  index_bytes: int = 4, block: int = 1) -> tuple[int, int]:
    """(values_offset, size) of a group-sparse blob, both relative to its start;
    `total_nnz` stored units of `block` columns (encoding 1: block 1)."""
    values_offset = align(SPARSE_HEADER.size + index_bytes * (n_groups + total_nnz))
    return values_offset, values_offset + total_nnz * block * group * value_bytes


# ---- narrowed integers (encoding 3, format 1.8) -----------------------------------------------
# bytes per stored value -> little-endian numpy dtype; narrowest first
NARROW_INT_WIDTHS = {1: "i1", 2: "<i2"}


def narrow_int_width(values: np.ndarray) -> int | None:
    """Bytes per value of the narrowest encoding-3 storage of s32 `values`, None when
    they need all 32 bits."""
    for width, dtype in NARROW_INT_WIDTHS.items():
        info = np.iinfo(dtype)
        if values.size == 0 or (values.min() >= info.min and values.max() <= info.max):
            return width
    return None
