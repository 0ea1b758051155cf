"""ONNX graph invariants, checked before anything else reads the model.

The rest of the importer (and the runtime after it) relies on these: every tensor has one
writer, nodes can be ordered so that each reads only what is already written, every
name a node reads or the graph outputs is produced by something, and every initializer
holds exactly the bytes its dims and dtype declare. A violation is a ModelError naming
the tensor or node, never a numpy or protobuf traceback later on.

onnx.checker is not used as the gate: it refuses unsorted nodes (which ONNX exporters
do produce and which we simply sort), refuses the com.microsoft quantized operators the
importer reads, and is itself C++ code handed a hostile protobuf. Its checks that matter
here are reimplemented below with messages that name what is wrong.
"""

from __future__ import annotations

import heapq
from typing import Iterable, Sequence

import onnx
from onnx import numpy_helper

from pocketnn.errors import ModelError
from pocketnn.format import spec

# Element types whose raw_data holds itemsize bytes per element and whose typed field
# holds one entry per element, so both lengths are checked without decoding.
_TYPED_FIELD: dict[int, str] = {
    onnx.TensorProto.FLOAT: "float_data",
    onnx.TensorProto.DOUBLE: "double_data",
    onnx.TensorProto.INT64: "int64_data",
    onnx.TensorProto.UINT32: "uint64_data",
    onnx.TensorProto.UINT64: "uint64_data",
    **{t: "int32_data" for t in (onnx.TensorProto.INT32, onnx.TensorProto.INT16, onnx.TensorProto.INT8,
                                 onnx.TensorProto.UINT16, onnx.TensorProto.UINT8, onnx.TensorProto.BOOL,
                                 onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)},
}
_ITEMSIZE: dict[int, int] = {
    onnx.TensorProto.FLOAT: 4, onnx.TensorProto.DOUBLE: 8, onnx.TensorProto.INT64: 8,
    onnx.TensorProto.UINT32: 4, onnx.TensorProto.UINT64: 8, onnx.TensorProto.INT32: 4,
    onnx.TensorProto.INT16: 2, onnx.TensorProto.INT8: 1, onnx.TensorProto.UINT16: 2,
    onnx.TensorProto.UINT8: 1, onnx.TensorProto.BOOL: 1, onnx.TensorProto.FLOAT16: 2,
    onnx.TensorProto.BFLOAT16: 2,
}
# numpy 1.x holds at most 32 dims (2.x: 64); the .pnn format stores rank <= 8 anyway.
_MAX_CONSTANT_RANK = 32
_DATA_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")


def _type_name(elem_type: int) -> str:
    try:
        return onnx.TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"type code {elem_type}"


def element_count(dims: Iterable[int]) -> int:
    """The product of `dims` as a Python int (no overflow)."""
    count = 1
    for d in dims:
        count *= int(d)
    return count


def check_tensor_data(tensor: onnx.TensorProto, what: str) -> None:
    """`tensor` (an initializer or a tensor attribute) holds exactly what its dims and
    dtype declare; raised as a ModelError naming `what` otherwise."""
    label = f"{what} '{tensor.name}'" if tensor.name else what
    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        raise ModelError(f"{label}: its data is stored in an external file, which is not loaded "
                         f"here; load the model with onnx.load(path) (external data next to the "
                         f"model) or convert from the .onnx path")
    if tensor.HasField("segment"):
        raise ModelError(f"{label}: segmented tensors are not supported")
    dims = list(tensor.dims)
    if len(dims) > _MAX_CONSTANT_RANK:
        raise ModelError(f"{label} has rank {len(dims)}; at most {_MAX_CONSTANT_RANK} is supported")
    if any(d < 0 for d in dims):
        raise ModelError(f"{label} has a negative dimension: dims {dims}")
    count = element_count(dims)
    elem_type = tensor.data_type
    if elem_type == onnx.TensorProto.UNDEFINED or _type_name(elem_type).startswith("type code"):
        raise ModelError(f"{label} has an undefined element type ({elem_type})")
    filled = [f for f in _DATA_FIELDS if len(getattr(tensor, f))]
    if tensor.HasField("raw_data") and filled or len(filled) > 1:
        raise ModelError(f"{label} stores its values in several fields "
                         f"({', '.join((['raw_data'] if tensor.HasField('raw_data') else []) + filled)})")
    itemsize = _ITEMSIZE.get(elem_type)
    if itemsize is not None:
        if tensor.HasField("raw_data"):
            have, want, unit = len(tensor.raw_data), count * itemsize, "bytes"
            where = "raw_data"
        else:
            where = _TYPED_FIELD[elem_type]
            if filled and filled[0] != where:
                raise ModelError(f"{label} of type {_type_name(elem_type)} stores its values in "
                                 f"{filled[0]}; expected {where} or raw_data")
            have, want, unit = len(getattr(tensor, where)), count, "values"
        if have != want:
            raise ModelError(f"{label} ({_type_name(elem_type)}, dims {dims}) needs {want} {unit} of "
                             f"{where}, has {have}")
        return
    # Other element types (strings, complex, sub-byte and 8-bit floats): decode and
    # compare, since their packing rules differ; the data is bounded by the file size.
    try:
        value = numpy_helper.to_array(tensor)
    except Exception as exc:  # onnx raises ValueError, TypeError, KeyError... for bad data
        raise ModelError(f"{label} ({_type_name(elem_type)}, dims {dims}): its data does not "
                         f"decode: {exc}") from exc
    if value.size != count:
        raise ModelError(f"{label} ({_type_name(elem_type)}, dims {dims}) needs {count} values, "
                         f"has {value.size}")


def _check_text(proto: onnx.ModelProto) -> None:
    """Every string field the importer uses is valid UTF-8. protobuf hands an invalid
    one back as bytes (upb) or fails when it is read, so it would otherwise surface later
    as a UnicodeDecodeError or a bytes name."""
    graph = proto.graph

    def check(where: str, values: list[object]) -> None:
        bad = [v for v in values if not isinstance(v, str)]
        if bad:
            raise ModelError(f"{where}: name {bad[0]!r} is not valid UTF-8")
        with_nul = [v for v in values if isinstance(v, str) and "\0" in v]
        if with_nul:  # the .pnn format stores names as C strings
            raise ModelError(f"{where}: name {with_nul[0]!r} contains a NUL character")
        too_long = [v for v in values if isinstance(v, str) and len(v.encode()) > spec.MAX_STRING_BYTES]
        if too_long:
            raise ModelError(f"{where}: name {too_long[0][:40]!r}... is {len(too_long[0].encode())} bytes "
                             f"long; a .pnn string holds at most {spec.MAX_STRING_BYTES}")

    try:
        check("the model", [proto.producer_name, graph.name] + [imp.domain for imp in proto.opset_import])
        for kind, items in (("graph input", graph.input), ("graph output", graph.output),
                            ("initializer", graph.initializer)):
            for i, item in enumerate(items):
                check(f"{kind} #{i}", [item.name])
        for i, node in enumerate(graph.node):
            if len(node.input) > spec.MAX_NODE_INPUTS or len(node.output) > spec.MAX_NODE_OUTPUTS:
                raise ModelError(f"node #{i} has {len(node.input)} inputs and {len(node.output)} "
                                 f"outputs; a .pnn node has at most {spec.MAX_NODE_INPUTS} of each")
            check(f"node #{i}", [node.name, node.op_type, node.domain, *node.input, *node.output,
                                 *(a.name for a in node.attribute),
                                 *(a.ref_attr_name for a in node.attribute)])
    except UnicodeDecodeError as exc:  # the pure-Python protobuf decodes when a field is read
        raise ModelError(f"a name in the model is not valid UTF-8 ({exc})") from exc


def _check_names(graph: onnx.GraphProto) -> None:
    for kind, items in (("graph input", graph.input), ("graph output", graph.output),
                        ("initializer", graph.initializer)):
        for i, item in enumerate(items):
            if not item.name:
                raise ModelError(f"{kind} #{i} has no name")
    for i, node in enumerate(graph.node):
        if not node.op_type:
            raise ModelError(f"node #{i} ('{node.name}') has no op_type")


def _check_single_writers(graph: onnx.GraphProto) -> None:
    """Each name is defined once: by one graph input, one initializer (an initializer
    may also be listed as a graph input, its default value) or one node output."""
    initializers: set[str] = set()
    for tensor in graph.initializer:
        if tensor.name in initializers:
            raise ModelError(f"initializer '{tensor.name}' is defined twice")
        initializers.add(tensor.name)
    writers: dict[str, str] = {}
    for vi in graph.input:
        if vi.name in writers:
            raise ModelError(f"graph input '{vi.name}' is listed twice")
        writers[vi.name] = "graph input"
    for name in initializers:
        writers.setdefault(name, "initializer")
    for i, node in enumerate(graph.node):
        label = f"node '{node.name or f'#{i}'}' ({node.op_type})"
        for out in node.output:
            if not out:
                continue
            if out in writers:
                raise ModelError(f"tensor '{out}' has two writers: {writers[out]} and {label}; "
                                 f"ONNX requires one writer per tensor")
            writers[out] = label
    seen_outputs: set[str] = set()
    for vi in graph.output:
        if vi.name in seen_outputs:
            raise ModelError(f"graph output '{vi.name}' is listed twice")
        seen_outputs.add(vi.name)
        if vi.name not in writers:
            raise ModelError(f"graph output '{vi.name}' is produced by no node, input or initializer")


def sorted_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """The nodes in an order where each reads only names already defined (the original
    order when it already is one); a ModelError for a name nobody defines or a cycle."""
    defined = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    producer: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for out in node.output:
            if out:
                producer[out] = i
    nodes: Sequence[onnx.NodeProto] = graph.node
    waiting_on: list[int] = [0] * len(nodes)
    readers: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        deps: set[int] = set()
        for name in node.input:
            if not name or name in defined:
                continue
            if name not in producer:
                raise ModelError(f"node '{node.name or f'#{i}'}' ({node.op_type}) reads '{name}', "
                                 f"which no node, graph input or initializer produces")
            deps.add(producer[name])
        waiting_on[i] = len(deps)
        for d in deps:
            readers.setdefault(d, []).append(i)
    # Kahn's algorithm, always taking the lowest index ready: a sorted graph keeps its order.
    ready = [i for i, n in enumerate(waiting_on) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers.get(i, ()):
            waiting_on[r] -= 1
            if waiting_on[r] == 0:
                heapq.heappush(ready, r)
    if len(order) != len(nodes):
        stuck = [i for i, n in enumerate(waiting_on) if n > 0]
        names = ", ".join(f"'{nodes[i].name or f'#{i}'}' ({nodes[i].op_type})" for i in stuck[:6])
        more = f" and {len(stuck) - 6} more" if len(stuck) > 6 else ""
        raise ModelError(f"the graph has a cycle: nodes {names}{more} wait on each other's outputs")
    return [nodes[i] for i in order]


def _tensor_attributes(node: onnx.NodeProto) -> Iterable[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.TENSOR or attr.HasField("t"):
            yield attr.t
        yield from attr.tensors


def _default_opset(proto: onnx.ModelProto) -> int | None:
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return None


def _check_against_schema(node: onnx.NodeProto, label: str, opset: int) -> None:
    """Input and output counts and attribute types of a default-domain node, as its ONNX
    schema at `opset` declares them. Unknown ops are left to the importer (which names
    what is supported)."""
    if node.domain not in ("", "ai.onnx"):
        return
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, "")
    except Exception:  # onnx's SchemaError: no such op at this opset
        return
    n_in, n_out = len(node.input), len(node.output)
    if not schema.min_input <= n_in <= schema.max_input:
        raise ModelError(f"{label} has {n_in} inputs; {node.op_type}-{schema.since_version} takes "
                         f"{schema.min_input}..{schema.max_input}")
    if not schema.min_output <= n_out <= schema.max_output:
        raise ModelError(f"{label} has {n_out} outputs; {node.op_type}-{schema.since_version} makes "
                         f"{schema.min_output}..{schema.max_output}")
    seen: set[str] = set()
    for attr in node.attribute:
        if attr.name in seen:
            raise ModelError(f"{label}: attribute '{attr.name}' is given twice")
        seen.add(attr.name)
        declared = schema.attributes.get(attr.name)
        if declared is None:
            continue  # onnx.checker refuses these; onnxruntime ignores them, and so do we
        if attr.ref_attr_name:
            continue  # a function attribute reference, resolved by inlining
        expected = int(declared.type.value)
        if attr.type != expected:
            raise ModelError(f"{label}: attribute '{attr.name}' has type "
                             f"{onnx.AttributeProto.AttributeType.Name(attr.type)}, "
                             f"{node.op_type}-{schema.since_version} declares "
                             f"{onnx.AttributeProto.AttributeType.Name(expected)}")
    for name, declared in schema.attributes.items():
        if declared.required and name not in seen:
            raise ModelError(f"{label}: required attribute '{name}' is missing")


def validate_model(proto: onnx.ModelProto) -> None:
    """Checks the invariants of the module doc and puts the nodes in topological order
    (in place). Raises ModelError naming the offending tensor or node."""
    if not proto.HasField("graph"):
        raise ModelError("the model has no graph")
    graph = proto.graph
    _check_text(proto)
    _check_names(graph)
    if not graph.output:
        raise ModelError("the graph has no outputs")
    for tensor in graph.initializer:
        check_tensor_data(tensor, "initializer")
    opset = _default_opset(proto)
    for i, node in enumerate(graph.node):
        label = f"node '{node.name or f'#{i}'}' ({node.op_type})"
        for tensor in _tensor_attributes(node):
            check_tensor_data(tensor, f"{label} tensor attribute")
        if opset is not None:
            _check_against_schema(node, label, opset)
    _check_single_writers(graph)
    order = sorted_nodes(graph)
    if any(a is not b for a, b in zip(order, graph.node)):
        copies = [onnx.NodeProto() for _ in order]
        for copy, node in zip(copies, order):
            copy.CopyFrom(node)
        del graph.node[:]
        graph.node.extend(copies)

