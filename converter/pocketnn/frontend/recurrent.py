"""ONNX LSTM, GRU and RNN unrolled over their (static) sequence into ops the runtime computes.

Once shape inference knows the sequence length, a recurrent node becomes, per direction:
one MatMul of the whole input sequence with the input weights (plus both biases), split
into time steps; then per step a Gemm (transB) of the previous hidden state with the recurrence
weights, the gate activations and the element-wise state update. The gate GEMMs thus run
on the runtime's SIMD GEMM kernels, and every step is an ordinary node the planner can
place. Semantics follow the ONNX spec (gate order i, o, f, c for LSTM and z, r, h for
GRU; peepholes; clip; activations with their alpha/beta; forward, reverse and
bidirectional; layout 0 and 1; initial states; Y, Y_h, Y_c).

Refused, with a message naming the node: `sequence_lens` that is not the full length for
every batch entry, LSTM `input_forget=1`, activations outside the list below, and weights
that are not constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from pocketnn.errors import ModelError, UnsupportedOpError
from pocketnn.frontend.node_writer import NodeWriter, onnx_attrs

RECURRENT_OPS = frozenset({"LSTM", "GRU", "RNN"})
# ONNX activation name -> (op type, attribute names its alpha/beta map to).
_ACTIVATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Sigmoid": ("Sigmoid", ()),
    "Tanh": ("Tanh", ()),
    "Relu": ("Relu", ()),
    "HardSigmoid": ("HardSigmoid", ("alpha", "beta")),
    "LeakyRelu": ("LeakyRelu", ("alpha",)),
    "Elu": ("Elu", ("alpha",)),
    "Softsign": ("Softsign", ()),
    "Softplus": ("Softplus", ()),
}
# ONNX's defaults of alpha/beta for the activations that take them.
_DEFAULT_PARAMS = {"HardSigmoid": (0.2, 0.5), "LeakyRelu": (0.01,), "Elu": (1.0,)}


@dataclass
class _Activation:
    op: str
    attrs: dict[str, float] = field(default_factory=dict)


@dataclass
class _Unroller(NodeWriter):
    """Emits ONNX nodes in the form of the model's opset (Split, Slice and Clip moved
    their parameters from attributes to inputs at opsets 13, 10 and 11)."""

    opset: int = 0
    layout: int = 0

    def slice_one(self, x: str, start: int, axis: int, what: str) -> str:
        """x[start:start + 1] along `axis`."""
        if self.opset < 10:
            return self.emit("Slice", [x], what, starts=[start], ends=[start + 1], axes=[axis])
        return self.emit("Slice", [x, self.constant("start", np.array([start], np.int64)),
                                   self.constant("end", np.array([start + 1], np.int64)),
                                   self.constant("axes", np.array([axis], np.int64))], what)

    def clip(self, x: str, bound: float | None) -> str:
        if bound is None:
            return x
        if self.opset < 11:
            return self.emit("Clip", [x], "clipped", min=-bound, max=bound)
        return self.emit("Clip", [x, self.constant("lo", np.array(-bound, np.float32)),
                                  self.constant("hi", np.array(bound, np.float32))], "clipped")

    def activate(self, act: _Activation, x: str, what: str) -> str:
        return self.emit(act.op, [x], what, **act.attrs)

    def reshape(self, x: str, shape: list[int], what: str) -> str:
        return self.emit("Reshape", [x, self.constant("shape", np.array(shape, np.int64))], what)


def _error(node: onnx.NodeProto, message: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"node '{node.name}' ({node.op_type}): {message}")


def _direction(attrs: dict[str, object]) -> str:
    value = attrs.get("direction", b"forward")
    return value.decode() if isinstance(value, bytes) else str(value)


def _activation_names(attrs: dict[str, object]) -> list[str]:
    """The `activations` attribute as given (empty when absent)."""
    return [n.decode() if isinstance(n, bytes) else str(n) for n in attrs.get("activations", [])]  # type: ignore[union-attr]


def _activations(node: onnx.NodeProto, attrs: dict[str, object], per_direction: int,
                 defaults: list[str], directions: int) -> list[list[_Activation]]:
    names = _activation_names(attrs) or defaults * directions
    if len(names) != per_direction * directions:
        raise ModelError(f"node '{node.name}' ({node.op_type}): {len(names)} activations given, "
                         f"{per_direction * directions} expected")
    alphas = list(attrs.get("activation_alpha", []))
    betas = list(attrs.get("activation_beta", []))
    result: list[_Activation] = []
    for name in names:
        if name not in _ACTIVATIONS:
            raise _error(node, f"activation {name} is not supported; supported: {', '.join(_ACTIVATIONS)}")
        op, params = _ACTIVATIONS[name]
        values = list(_DEFAULT_PARAMS.get(name, ()))
        # activation_alpha/beta list one value per activation that takes it, in order.
        if params and alphas:
            values[0] = float(alphas.pop(0))
        if len(params) > 1 and betas:
            values[1] = float(betas.pop(0))
        result.append(_Activation(op, dict(zip(params, values))))
    return [result[d * per_direction:(d + 1) * per_direction] for d in range(directions)]


def _constant_input(node: onnx.NodeProto, index: int, constants: dict[str, np.ndarray],
                    what: str) -> np.ndarray | None:
    if len(node.input) <= index or not node.input[index]:
        return None
    name = node.input[index]
    if name not in constants:
        raise _error(node, f"{what} '{name}' must be a constant")
    return np.asarray(constants[name], dtype=np.float32)


def _check_sequence_lens(node: onnx.NodeProto, constants: dict[str, np.ndarray], seq: int) -> None:
    if len(node.input) <= 4 or not node.input[4]:
        return
    lens = constants.get(node.input[4])
    if lens is None or not np.all(np.asarray(lens) == seq):
        raise _error(node, f"sequence_lens must be a constant equal to the sequence length ({seq}) "
                           f"for every batch entry; pocketnn runs whole sequences")


def _state_input(u: _Unroller, index: int, d: int, batch: int, hidden: int, what: str) -> str | None:
    """Direction d's slice [batch, hidden] of an initial-state input ([directions, batch,
    hidden], or [batch, directions, hidden] in layout 1), or None (zeros)."""
    node = u.node
    if len(node.input) <= index or not node.input[index]:
        return None
    return u.reshape(u.slice_one(node.input[index], d, u.layout, what), [batch, hidden], what)


def _input_projection(u: _Unroller, x_steps: str, w: np.ndarray, bias: np.ndarray,
                      seq: int, batch: int, size: int) -> list[str]:
    """X_t W^T + bias for every step, as `seq` tensors [batch, gates * hidden]."""
    projected = u.emit("MatMul", [x_steps, u.constant("w_t", np.ascontiguousarray(w.T))], "xw")
    projected = u.emit("Add", [projected, u.constant("bias", bias)], "xw_b")
    if seq == 1:
        return [u.reshape(projected, [batch, size], "xw_t")]
    return u.split(projected, [batch] * seq, 0, "xw_t", u.opset)


def _sequence_input(u: _Unroller, layout: int, seq: int, batch: int, size: int) -> str:
    """The input X as [seq * batch, input] rows, time-major."""
    x = u.node.input[0]
    if layout == 1:
        x = u.emit("Transpose", [x], "x_time_major", perm=[1, 0, 2])
    return u.reshape(x, [seq * batch, size], "x_rows")


def _recurrent_term(u: _Unroller, h: str | None, r: str, what: str) -> str | None:
    return None if h is None else _times_rows(u, h, r, what)


def _times_rows(u: _Unroller, h: str, r: str, what: str) -> str:
    """h R^T for a recurrence weight R [gates x hidden, hidden] as stored: a Gemm with
    transB reads R in place, and at batch 1 the runtime runs it as one matrix-vector
    product streaming R once (a MatMul with R^T would repack R at every step)."""
    return u.emit("Gemm", [h, r], what, transB=1)


def _add(u: _Unroller, a: str, b: str | None, what: str) -> str:
    return a if b is None else u.emit("Add", [a, b], what)


def _weights(u: _Unroller, d: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Direction d's W, R and the two biases Wb, Rb (zeros when B is absent); `size` is
    gates x hidden."""
    w = _constant_input(u.node, 1, u.constants, "W")[d]  # type: ignore[index]
    r = _constant_input(u.node, 2, u.constants, "R")[d]  # type: ignore[index]
    b_all = _constant_input(u.node, 3, u.constants, "B")
    if b_all is None:
        return w, r, np.zeros(size, np.float32), np.zeros(size, np.float32)
    return w, r, b_all[d, :size], b_all[d, size:]


def _lstm_direction(u: _Unroller, d: int, reverse: bool, acts: list[_Activation], x_rows: str,
                    seq: int, batch: int, hidden: int, clip: float | None) -> tuple[list[str], str, str]:
    w, r, wb, rb = _weights(u, d, 4 * hidden)
    bias = wb + rb
    r_rows = u.constant("r", np.ascontiguousarray(r))  # one copy shared by every step
    p_all = _constant_input(u.node, 7, u.constants, "P")
    # P holds the i, o, f peepholes.
    peep = None if p_all is None else [u.constant("p", p_all[d, g * hidden:(g + 1) * hidden]) for g in range(3)]
    steps = _input_projection(u, x_rows, w, bias.astype(np.float32), seq, batch, 4 * hidden)
    h = _state_input(u, 5, d, batch, hidden, "h0")
    c = _state_input(u, 6, d, batch, hidden, "c0")
    f_act, g_act, h_act = acts
    outputs: list[str] = [""] * seq
    for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
        gates = _add(u, steps[t], _recurrent_term(u, h, r_rows, "hr"), "gates")
        i_pre, o_pre, f_pre, c_pre = u.split(gates, [hidden] * 4, 1, "gate", u.opset)
        if peep is not None and c is not None:
            i_pre = u.emit("Add", [i_pre, u.emit("Mul", [peep[0], c], "pi_c")], "i_peep")
            f_pre = u.emit("Add", [f_pre, u.emit("Mul", [peep[2], c], "pf_c")], "f_peep")
        i = u.activate(f_act, u.clip(i_pre, clip), "i")
        f = u.activate(f_act, u.clip(f_pre, clip), "f")
        candidate = u.activate(g_act, u.clip(c_pre, clip), "c_tilde")
        new_c = u.emit("Mul", [i, candidate], "i_c")
        if c is not None:
            new_c = u.emit("Add", [u.emit("Mul", [f, c], "f_c"), new_c], "c")
        c = new_c
        if peep is not None:
            o_pre = u.emit("Add", [o_pre, u.emit("Mul", [peep[1], c], "po_c")], "o_peep")
        o = u.activate(f_act, u.clip(o_pre, clip), "o")
        h = u.emit("Mul", [o, u.activate(h_act, c, "h_c")], "h")
        outputs[t] = h
    assert h is not None and c is not None
    return outputs, h, c


def _gru_direction(u: _Unroller, d: int, reverse: bool, acts: list[_Activation], x_rows: str,
                   seq: int, batch: int, hidden: int, clip: float | None,
                   linear_before_reset: bool) -> tuple[list[str], str, str]:
    w, r, wb, rb = _weights(u, d, 3 * hidden)
    # z and r take both biases at once; h's recurrence bias depends on linear_before_reset.
    input_bias = wb + np.concatenate([rb[:2 * hidden], np.zeros(hidden, np.float32)])
    steps = _input_projection(u, x_rows, w, input_bias.astype(np.float32), seq, batch, 3 * hidden)
    # One copy of each recurrence weight, shared by every step.
    r_zr = u.constant("r_zr", np.ascontiguousarray(r[:2 * hidden]))
    r_h = u.constant("r_h", np.ascontiguousarray(r[2 * hidden:]))
    rb_h = u.constant("rb_h", rb[2 * hidden:].astype(np.float32))
    h = _state_input(u, 5, d, batch, hidden, "h0")
    f_act, g_act = acts
    one = u.constant("one", np.array(1.0, np.float32))
    outputs: list[str] = [""] * seq
    for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
        x_z, x_r, x_h = u.split(steps[t], [hidden] * 3, 1, "x_gate", u.opset)
        if h is None:
            z_pre, r_pre, h_rec = x_z, x_r, None
        else:
            h_zr = u.split(_times_rows(u, h, r_zr, "h_zr"), [hidden] * 2, 1, "h_gate", u.opset)
            z_pre = u.emit("Add", [x_z, h_zr[0]], "z_pre")
            r_pre = u.emit("Add", [x_r, h_zr[1]], "r_pre")
            h_rec = h
        z = u.activate(f_act, u.clip(z_pre, clip), "z")
        reset = u.activate(f_act, u.clip(r_pre, clip), "r")
        if h_rec is None:
            # H_{t-1} = 0: the recurrence term is the bias alone (times r when linear_before_reset).
            rec = u.emit("Mul", [reset, rb_h], "r_rb") if linear_before_reset else rb_h
        elif linear_before_reset:
            rec = u.emit("Mul", [reset, u.emit("Add", [_times_rows(u, h_rec, r_h, "h_rh"), rb_h], "h_rh_b")],
                         "r_h_rh")
        else:
            rec = u.emit("Add", [_times_rows(u, u.emit("Mul", [reset, h_rec], "r_h"), r_h, "rh_rh"), rb_h],
                         "rh_rh_b")
        candidate = u.activate(g_act, u.clip(u.emit("Add", [x_h, rec], "h_pre"), clip), "h_tilde")
        # H_t = (1 - z) * h~ + z * H_{t-1}
        new_h = u.emit("Mul", [u.emit("Sub", [one, z], "one_minus_z"), candidate], "keep")
        if h_rec is not None:
            new_h = u.emit("Add", [new_h, u.emit("Mul", [z, h_rec], "carry")], "h")
        h = new_h
        outputs[t] = h
    assert h is not None
    return outputs, h, h


def _rnn_direction(u: _Unroller, d: int, reverse: bool, acts: list[_Activation], x_rows: str,
                   seq: int, batch: int, hidden: int, clip: float | None) -> tuple[list[str], str, str]:
    w, r, wb, rb = _weights(u, d, hidden)
    bias = wb + rb
    r_rows = u.constant("r", np.ascontiguousarray(r))
    steps = _input_projection(u, x_rows, w, bias.astype(np.float32), seq, batch, hidden)
    h = _state_input(u, 5, d, batch, hidden, "h0")
    outputs: list[str] = [""] * seq
    for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
        pre = _add(u, steps[t], _recurrent_term(u, h, r_rows, "hr"), "pre")
        h = u.activate(acts[0], u.clip(pre, clip), "h")
        outputs[t] = h
    assert h is not None
    return outputs, h, h


def _stack(u: _Unroller, parts: list[str], shape: list[int], axis: int, out: str | None, what: str) -> str:
    """Each part reshaped to `shape`, concatenated along `axis` (into `out` when given)."""
    pieces = [u.reshape(p, shape, what) for p in parts]
    if len(pieces) == 1:
        return u.emit("Identity", pieces, what, out)
    return u.emit("Concat", pieces, what, out, axis=axis)


def unroll(node: onnx.NodeProto, x_shape: tuple[int, ...], constants: dict[str, np.ndarray],
           opset: int) -> list[onnx.NodeProto]:
    """The nodes computing `node` (an LSTM or GRU whose input X has static shape
    `x_shape`); new constants are added to `constants`."""
    attrs = onnx_attrs(node)
    layout = int(attrs.get("layout", 0))  # type: ignore[arg-type]
    if len(x_shape) != 3 or layout not in (0, 1):
        raise ModelError(f"node '{node.name}' ({node.op_type}): X must be 3-D (got {list(x_shape)}), layout 0 or 1")
    seq, batch, size = (x_shape[0], x_shape[1], x_shape[2]) if layout == 0 else (x_shape[1], x_shape[0], x_shape[2])
    direction = _direction(attrs)
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ModelError(f"node '{node.name}' ({node.op_type}): direction '{direction}' is not an ONNX direction")
    directions = 2 if direction == "bidirectional" else 1
    hidden = int(attrs.get("hidden_size", 0))  # type: ignore[arg-type]
    w = _constant_input(node, 1, constants, "W")
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[node.op_type]
    if w is None or w.ndim != 3 or w.shape[0] != directions or w.shape[2] != size \
            or (hidden and w.shape[1] != gates * hidden) or w.shape[1] % gates:
        raise ModelError(f"node '{node.name}' ({node.op_type}): W has shape "
                         f"{None if w is None else list(w.shape)}, expected [{directions}, {gates} x hidden, {size}]")
    hidden = hidden or w.shape[1] // gates
    if node.op_type == "LSTM" and int(attrs.get("input_forget", 0)):  # type: ignore[arg-type]
        raise _error(node, "input_forget=1 (coupled input and forget gates) is not supported")
    _check_sequence_lens(node, constants, seq)
    clip_attr = attrs.get("clip")
    clip = None if clip_attr is None else float(clip_attr)  # type: ignore[arg-type]
    u = _Unroller(node, constants, opset=opset, layout=layout)
    x_rows = _sequence_input(u, layout, seq, batch, size)
    defaults = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}[node.op_type]
    per_direction = len(defaults)
    acts = _activations(node, attrs, per_direction, defaults, directions)
    results = []
    for d in range(directions):
        reverse = direction == "reverse" or d == 1
        if node.op_type == "LSTM":
            results.append(_lstm_direction(u, d, reverse, acts[d], x_rows, seq, batch, hidden, clip))
        elif node.op_type == "RNN":
            results.append(_rnn_direction(u, d, reverse, acts[d], x_rows, seq, batch, hidden, clip))
        else:
            lbr = bool(int(attrs.get("linear_before_reset", 0)))  # type: ignore[arg-type]
            results.append(_gru_direction(u, d, reverse, acts[d], x_rows, seq, batch, hidden, clip, lbr))
    outs = list(node.output) + [""] * (3 - len(node.output))
    if outs[0]:
        per_dir = [_stack(u, steps, [1, 1, batch, hidden], 0, None, "y_dir") for steps, _, _ in results]
        if layout == 0:
            _stack(u, per_dir, [seq, 1, batch, hidden], 1, outs[0], "y")
        else:
            y = _stack(u, per_dir, [seq, 1, batch, hidden], 1, None, "y_time_major")
            u.emit("Transpose", [y], "y", outs[0], perm=[2, 0, 1, 3])
    for index, pick in ((1, 1), (2, 2)):
        if index < len(node.output) and outs[index]:
            if index == 2 and node.op_type != "LSTM":
                raise ModelError(f"node '{node.name}' ({node.op_type}) has a third output; it has two")
            shape = [1, batch, hidden] if layout == 0 else [batch, 1, hidden]
            _stack(u, [res[pick] for res in results], shape, 0 if layout == 0 else 1, outs[index],
                   "y_h" if index == 1 else "y_c")
    return u.nodes


# The ops the runtime computes whole (docs/OPS.md "Recurrent operators") when `fusable`.
FUSED_OPS = frozenset({"LSTM", "GRU"})
_FUSED_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


def _is_constant(node: onnx.NodeProto, index: int, constants: dict[str, np.ndarray]) -> bool:
    return len(node.input) > index and node.input[index] in constants


def fusable(node: onnx.NodeProto, x_shape: tuple[int, ...], constants: dict[str, np.ndarray]) -> bool:
    """Whether the runtime's whole-layer LSTM/GRU computes `node`: layout 0 or 1, the default
    activations, constant weights, no peepholes or coupled gates, whole sequences, and
    the ONNX shapes. Anything else is unrolled (or refused there with its reason)."""
    if node.op_type not in FUSED_OPS or node.domain not in ("", "ai.onnx") or len(x_shape) != 3:
        return False
    attrs = onnx_attrs(node)
    direction = _direction(attrs)
    layout = int(attrs.get("layout", 0))  # type: ignore[arg-type]
    if direction not in ("forward", "reverse", "bidirectional") or layout not in (0, 1):
        return False
    seq = x_shape[1] if layout else x_shape[0]
    directions = 2 if direction == "bidirectional" else 1
    names = _activation_names(attrs)
    if names and names != _FUSED_ACTIVATIONS[node.op_type] * directions:
        return False
    if int(attrs.get("input_forget", 0)):  # type: ignore[arg-type]
        return False
    clip = attrs.get("clip")
    if clip is not None and not 0.0 < float(clip) < 3.4e38:  # type: ignore[arg-type]
        return False
    if not (_is_constant(node, 1, constants) and _is_constant(node, 2, constants)):
        return False
    if len(node.input) > 3 and node.input[3] and not _is_constant(node, 3, constants):
        return False
    if len(node.input) > 4 and node.input[4]:
        lens = constants.get(node.input[4])
        if lens is None or not np.all(np.asarray(lens) == seq):
            return False
    if len(node.input) > 7 and node.input[7]:
        peepholes = constants.get(node.input[7])
        if peepholes is None or np.any(peepholes):
            return False
    gates = 4 if node.op_type == "LSTM" else 3
    w, r = constants[node.input[1]], constants[node.input[2]]
    hidden = int(attrs.get("hidden_size", 0)) or (w.shape[1] // gates if w.ndim == 3 else 0)  # type: ignore[arg-type]
    return hidden > 0 and w.shape == (directions, gates * hidden, x_shape[2]) \
        and r.shape == (directions, gates * hidden, hidden)


def unroll_recurrent(nodes: list[onnx.NodeProto], x_shapes: dict[str, tuple[int, ...] | None],
                     constants: dict[str, np.ndarray], opset: int) -> tuple[list[onnx.NodeProto], bool]:
    """Replaces every LSTM/GRU whose input shape is known (`x_shapes`: static shapes by
    tensor name) and that the runtime cannot compute whole (`fusable`) by its unrolled
    nodes; returns the nodes and whether any was unrolled."""
    result: list[onnx.NodeProto] = []
    changed = False
    for node in nodes:
        shape = x_shapes.get(node.input[0]) if node.input else None
        if node.op_type in RECURRENT_OPS and node.domain in ("", "ai.onnx") and shape is not None \
                and not fusable(node, shape, constants):
            result.extend(unroll(node, shape, constants, opset))
            changed = True
        else:
            result.append(node)
    return result, changed
