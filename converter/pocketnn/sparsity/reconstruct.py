"""Post-pruning reconstruction (OBS/SparseGPT-flavoured least squares, layer by layer).

For a pruned layer with dense weights W0 (bias as an extra column on a row of ones) and
the kept units of each group fixed, the remaining weights of each group are refitted to

    minimize || W_S Xp_S - W0 Xd ||^2 + lambda ||W_S||^2

where Xd are the layer's inputs in the dense model and Xp its inputs in the model pruned
so far (sequential: later layers correct the error of earlier ones). Closed form per
group on its kept columns: W_S = (W0 P[:, S]) (H_SS + lambda I)^-1 with H = Xp Xp^T and
P = Xd Xp^T, accumulated over the calibration batches (kxk convolutions use im2col
rows), so memory is O(cols^2) whatever the data size. lambda = max(ridge, SAMPLE_DAMPING *
cols / samples) * mean(diag H): light where the samples far outnumber the columns.
The systems, one per distinct kept set, are solved by subset_solve.py (exact, from one
factorization of H per layer where few columns are pruned).

The kept units themselves (the mask) are chosen from the same sums by a method
(prune_layer): gradual activation-aware magnitude, gradual OBS saliency (obs_refit), the
better of the two per layer, or SparseGPT's one-pass sweep (sparsegpt.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.sparsity.calibration import capture
from pocketnn.sparsity.layers import Layer, set_weight_matrix, weight_matrix
from pocketnn.sparsity.prune import expand_mask, group_mask, n_groups
from pocketnn.sparsity.sparsegpt import sparsegpt_prune, unit_costs
from pocketnn.sparsity.subset_solve import SubsetSolver


def _node(graph: Graph, name: str) -> Node:
    return next(n for n in graph.nodes if n.name == name)


def im2col(x: np.ndarray, node: Node, kh: int, kw: int) -> np.ndarray:
    """x [N, C, H, W] -> [C*kh*kw, N*OH*OW] in the column order of W.reshape(M, -1)."""
    sh, sw = (int(v) for v in node.attrs.get("strides", [1, 1]))  # type: ignore[union-attr]
    dh, dw = (int(v) for v in node.attrs.get("dilations", [1, 1]))  # type: ignore[union-attr]
    pt, pl, pb, pr = (int(v) for v in node.attrs.get("pads", [0, 0, 0, 0]))  # type: ignore[union-attr]
    n, c, h, w = x.shape
    if kh == kw == sh == sw == 1 and not (pt or pl or pb or pr):
        return x.transpose(1, 0, 2, 3).reshape(c, -1)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - (dh * (kh - 1) + 1)) // sh + 1
    ow = (w + pl + pr - (dw * (kw - 1) + 1)) // sw + 1
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
            cols[:, i, j] = patch.transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def input_columns(graph: Graph, layer: Layer, x: np.ndarray) -> np.ndarray:
    """The layer's input value as the matrix its weight multiplies: [cols, samples]."""
    node = _node(graph, layer.node)
    if layer.kind in ("conv1x1", "convkxk"):
        w = graph.tensors[layer.weight].shape
        return im2col(x, node, w[2], w[3])
    return x.reshape(-1, layer.cols).T


def _bias_scale(graph: Graph, layer: Layer) -> float | None:
    """Pre-activation = W x + scale * bias_tensor; None when the bias cannot be refitted."""
    node = _node(graph, layer.node)
    if node.op == "Conv":
        return 1.0
    alpha = float(node.attrs.get("alpha", 1.0))  # type: ignore[arg-type]
    beta = float(node.attrs.get("beta", 1.0))  # type: ignore[arg-type]
    if node.op != "Gemm" or alpha == 0 or beta == 0:
        return None
    if layer.bias is not None:
        shape = graph.tensors[layer.bias].shape
        if shape not in ((layer.rows,), (1, layer.rows)):
            return None
    return beta / alpha


def bias_refittable(graph: Graph, layer: Layer) -> bool:
    return _bias_scale(graph, layer) is not None


def get_bias(graph: Graph, layer: Layer) -> np.ndarray:
    """The effective bias per output row (zeros when the layer has none)."""
    scale = _bias_scale(graph, layer) or 0.0
    if layer.bias is None:
        return np.zeros(layer.rows)
    data = graph.tensors[layer.bias].data
    assert data is not None
    return scale * data.reshape(-1).astype(np.float64)


def set_bias(graph: Graph, layer: Layer, bias: np.ndarray) -> None:
    scale = _bias_scale(graph, layer)
    assert scale is not None
    node = _node(graph, layer.node)
    values = (bias / scale).astype(np.float32)
    if layer.bias is not None:
        t = graph.tensors[layer.bias]
        t.data = values.reshape(t.shape)
        return
    name = f"{node.name}_bias_refit"
    graph.tensors[name] = Tensor(name, DType.F32, (layer.rows,), values)
    while len(node.inputs) < 3:
        node.inputs.append("")
    node.inputs[2] = name


@dataclass
class Stats:
    """Sums over calibration samples of Xp Xp^T, Xd Xp^T and Xd Xd^T (augmented with a
    row of ones when the bias is refitted). Columns are buffered so the products run as
    a few large matrix multiplications; call `flush` before reading the sums."""
    h: np.ndarray
    p: np.ndarray
    d: np.ndarray
    augmented: bool
    pending: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    pending_cols: int = 0
    samples: int = 0  # columns of X seen (one per sample and output pixel)
    # Per damping, the solver of H + damp I on kept columns (its full inverse is reused
    # by every group, gradual step and allocation candidate of the layer).
    solvers: dict[float, SubsetSolver] = field(default_factory=dict)

    BUFFER_COLS = 16384

    @classmethod
    def empty(cls, cols: int, augmented: bool) -> Stats:
        k = cols + int(augmented)
        return cls(np.zeros((k, k)), np.zeros((k, k)), np.zeros((k, k)), augmented)

    def add(self, xd: np.ndarray, xp: np.ndarray) -> None:
        self.pending.append((xd, xp))
        self.pending_cols += xd.shape[1]
        self.samples += xd.shape[1]
        if self.pending_cols >= self.BUFFER_COLS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        xd = np.hstack([d for d, _ in self.pending]).astype(np.float64)
        xp = np.hstack([p for _, p in self.pending]).astype(np.float64)
        self.pending, self.pending_cols = [], 0
        self.solvers.clear()
        if self.augmented:
            ones = np.ones((1, xd.shape[1]))
            xd, xp = np.vstack([xd, ones]), np.vstack([xp, ones])
        self.h += xp @ xp.T
        self.p += xd @ xp.T
        self.d += xd @ xd.T

    def solver(self, damp: float) -> SubsetSolver:
        if damp not in self.solvers:
            self.solvers[damp] = SubsetSolver(self.h + damp * np.eye(len(self.h)))
        return self.solvers[damp]


def _quadratic(a: np.ndarray, m: np.ndarray, b: np.ndarray) -> float:
    """sum_ijk a_ij m_jk b_ik, as one matrix product (a three-operand einsum loops in C)."""
    return float(np.sum((a @ m) * b))


@dataclass(frozen=True)
class OutputError:
    """relative_error against one w0, with the terms of w0 alone computed once: each is
    a rows x cols^2 product (about a CPU second on a 4608-column layer)."""
    h: np.ndarray
    cross: np.ndarray  # w0 P
    reference: float   # ||w0 Xd||^2

    @classmethod
    def of(cls, w0: np.ndarray, stats: Stats) -> OutputError:
        return cls(stats.h, w0 @ stats.p, _quadratic(w0, stats.d, w0))

    def __call__(self, w: np.ndarray) -> float:
        err = _quadratic(w, self.h, w) - 2 * float(np.sum(self.cross * w)) + self.reference
        return max(err, 0.0) / self.reference if self.reference > 0 else 0.0


def relative_error(w: np.ndarray, w0: np.ndarray, stats: Stats) -> float:
    """||w Xp - w0 Xd||^2 / ||w0 Xd||^2 from the accumulated sums (augmented weights)."""
    return OutputError.of(w0, stats)(w)


# The refit's damping grows where a layer has few samples per weight column: a Gemm head
# sees one column of X per calibration sample (10x128 on 250 samples overfits at a light
# damping), a conv thousands (a heavy damping holds its refit back). docs/SPARSITY.md.
SAMPLE_DAMPING = 0.02


def damping_fraction(ridge: float, cols: int, samples: int) -> float:
    """lambda / mean diag(H): max(ridge, SAMPLE_DAMPING x weight columns / samples)."""
    return max(ridge, SAMPLE_DAMPING * cols / max(1, samples))


def ridge_damping(stats: Stats, cols: int, ridge: float) -> float:
    """lambda = damping_fraction x the mean of the weight columns' diagonal of H (never 0)."""
    mean = float(np.mean(np.diag(stats.h)[:cols])) if cols else 0.0
    damp = damping_fraction(ridge, cols, stats.samples) * mean
    return damp if damp > 0 else 1e-8


def _shared_masks(masks: np.ndarray, rows: int, group: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(output rows, kept mask) for each distinct per-group mask in masks [n_groups, ...]:
    groups that keep the same units share one solve (every group at the first step)."""
    distinct, which = np.unique(masks, axis=0, return_inverse=True)
    row_mask = np.asarray(which).reshape(-1)[np.arange(rows) // group]
    for index, kept in enumerate(distinct):
        yield np.flatnonzero(row_mask == index), kept


def refit(w0: np.ndarray, keep: np.ndarray, group: int, stats: Stats, ridge: float) -> np.ndarray:
    """New augmented weights [rows, cols(+1)]: zero outside `keep` ([rows, cols] element
    mask, identical within a group), least squares inside."""
    rows = w0.shape[0]
    cols = keep.shape[1]
    solver = stats.solver(ridge_damping(stats, cols, ridge))
    projected = w0 @ stats.p
    out = np.zeros_like(w0)
    for r, kept in _shared_masks(keep[::group], rows, group):
        s = np.flatnonzero(kept)
        if stats.augmented:
            s = np.append(s, cols)
        if len(s) == 0:
            continue
        out[np.ix_(r, s)] = solver.solve(s, projected[np.ix_(r, s)])[0]
    return out


def obs_refit(w0: np.ndarray, mask: np.ndarray, layer: Layer, group: int, stats: Stats, ridge: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """refit's weights for the kept units `mask` [n_groups, channels], and the Optimal
    Brain Surgeon saliency of each kept unit [rows, channels] (0 where pruned): the
    objective's growth if its columns S were removed next and the rest refitted,
    w_S^T ([A^-1]_SS)^-1 w_S with A the group's dampened Hessian on its kept columns."""
    rows, k = w0.shape[0], layer.kernel
    solver = stats.solver(ridge_damping(stats, layer.cols, ridge))
    projected = w0 @ stats.p
    out = np.zeros_like(w0)
    saliency = np.zeros((rows, layer.channels))
    for r, kept in _shared_masks(mask, rows, group):
        channels = np.flatnonzero(kept)
        s = (channels[:, None] * k + np.arange(k)).reshape(-1)
        if stats.augmented:
            s = np.append(s, layer.cols)
        if len(s) == 0:
            continue
        unit_cols = len(channels) * k
        weights, blocks = solver.solve(s, projected[np.ix_(r, s)], k, unit_cols)
        out[np.ix_(r, s)] = weights
        if len(channels):
            saliency[np.ix_(r, channels)] = unit_costs(weights[:, :unit_cols].reshape(-1, len(channels), k), blocks)
    return out, saliency


@dataclass(frozen=True)
class LayerResult:
    node: str
    error_before: float  # relative output error of the pruned weights, before the refit
    error_after: float


@dataclass
class Pruned:
    """A layer to prune: its dense weights and effective bias, and the units kept
    ([n_groups, channels]); `mask` None = choose it here from the calibration data."""
    layer: Layer
    dense: np.ndarray       # [rows, cols] before pruning
    dense_bias: np.ndarray  # [rows] effective bias before pruning
    sparsity: float
    group: int
    mask: np.ndarray | None = None
    refit_only: bool = False  # a dense layer downstream of pruned ones: refit, keep all

    @classmethod
    def dense_refit(cls, layer: Layer, dense: np.ndarray, bias: np.ndarray) -> Pruned:
        return cls(layer, dense, bias, 0.0, layer.rows, np.ones((1, layer.channels), dtype=bool), True)


def activation_scores(matrix: np.ndarray, layer: Layer, col_energy: np.ndarray) -> np.ndarray:
    """[rows, channels]: each unit's contribution to the output energy, sqrt(sum_k
    w_k^2 E[x_k^2]) (magnitude times input scale, as Wanda): after BN folding, input
    channels differ in scale by orders of magnitude, so weights alone mislead."""
    w = matrix.astype(np.float64) ** 2 * np.maximum(col_energy, 0.0)[None, :]
    return np.sqrt(w.reshape(layer.rows, layer.channels, layer.kernel).sum(axis=2))


def input_energy(dense: Graph, layers: list[Layer], feeds: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per layer, the mean square of each input column over the calibration data."""
    names = {layer.node: _node(dense, layer.node).inputs[0] for layer in layers}
    sums: dict[str, np.ndarray] = {}
    count: dict[str, int] = {}
    for values in capture(dense, list(dict.fromkeys(names.values())), feeds):
        for layer in layers:
            cols = input_columns(dense, layer, values[names[layer.node]]).astype(np.float64)
            sums[layer.node] = sums.get(layer.node, 0.0) + np.sum(cols * cols, axis=1)
            count[layer.node] = count.get(layer.node, 0) + cols.shape[1]
    return {k: v / max(1, count[k]) for k, v in sums.items()}


DENSE_CACHE_BYTES = 256 << 20


@dataclass
class Depthwise:
    """A depthwise conv downstream of pruned layers, refitted densely per channel."""
    node: str


def _depthwise_refit(graph: Graph, dense: Graph, node_name: str, pairs: Iterator[tuple[np.ndarray, np.ndarray]],
                     ridge: float) -> LayerResult:
    """Per channel c: least squares of its kh*kw weights and bias on its own im2col rows."""
    node = _node(graph, node_name)
    w_t = graph.tensors[node.inputs[1]]
    assert w_t.data is not None
    c, _, kh, kw = w_t.shape
    k = kh * kw + 1
    h = np.zeros((c, k, k))
    p = np.zeros((c, k, k))
    d = np.zeros((c, k, k))
    pending: list[tuple[np.ndarray, np.ndarray]] = []

    def flush() -> None:
        cd = np.concatenate([a for a, _ in pending], axis=2)
        cp = np.concatenate([b for _, b in pending], axis=2)
        pending.clear()
        ones = np.ones((c, 1, cd.shape[2]))
        cd, cp = np.concatenate([cd, ones], axis=1), np.concatenate([cp, ones], axis=1)
        # Batched over channels: one small matrix product each (BLAS), not einsum loops.
        h[:] += cp @ cp.transpose(0, 2, 1)
        p[:] += cd @ cp.transpose(0, 2, 1)
        d[:] += cd @ cd.transpose(0, 2, 1)

    cols = samples = 0
    for xd, xp in pairs:
        pending.append((im2col(xd, node, kh, kw).reshape(c, kh * kw, -1).astype(np.float64),
                        im2col(xp, node, kh, kw).reshape(c, kh * kw, -1).astype(np.float64)))
        cols += pending[-1][0].shape[2]
        samples += pending[-1][0].shape[2]
        if cols >= 8192:
            flush()
            cols = 0
    if pending:
        flush()
    has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
    bias = graph.constant(node.inputs[2]) if has_bias else None
    w0 = np.concatenate([w_t.data.reshape(c, -1), (np.zeros((c, 1)) if bias is None else bias.reshape(c, 1))],
                        axis=1).astype(np.float64)
    fraction = damping_fraction(ridge, kh * kw, samples)
    damp = fraction * np.mean(np.diagonal(h, axis1=1, axis2=2)[:, :-1], axis=1) + 1e-12
    rhs = np.einsum("ck,ckl->cl", w0, p)
    w = np.linalg.solve(h + damp[:, None, None] * np.eye(k)[None], rhs[:, :, None])[:, :, 0]

    def err(v: np.ndarray) -> float:
        ref = float(np.einsum("ck,ckl,cl->", w0, d, w0))
        e = float(np.einsum("ck,ckl,cl->", v, h, v)) - 2 * float(np.einsum("ck,ckl,cl->", w0, p, v)) + ref
        return max(e, 0.0) / ref if ref > 0 else 0.0
    before, after = err(w0), err(w)
    if after < before:
        w_t.data = w[:, :-1].reshape(w_t.shape).astype(np.float32)
        name = node.inputs[2] if has_bias else f"{node.name}_bias_refit"
        graph.tensors[name] = Tensor(name, DType.F32, (c,), w[:, -1].astype(np.float32))
        while len(node.inputs) < 3:
            node.inputs.append("")
        node.inputs[2] = name
    return LayerResult(node_name, before, min(before, after))


def _select_mask(item: Pruned, w0: np.ndarray, stats: Stats, ridge: float, steps: int, method: str
                 ) -> np.ndarray:
    """Gradual selection: prune to sparsity*t/steps by the scores of the weights
    refitted at the previous step (units once pruned stay pruned), so weights that take
    over a pruned unit's role are seen as important. Scores: OBS saliency ("obs") or
    activation-aware magnitude ("magnitude")."""
    layer = item.layer
    energy = np.diag(stats.h)[:layer.cols]
    mask = np.ones((-(-layer.rows // item.group), layer.channels), dtype=bool)
    w = w0
    for t in range(1, steps + 1):
        if method == "obs":
            w, saliency = obs_refit(w0, mask, layer, item.group, stats, ridge)
            scores = np.sqrt(np.maximum(saliency, 0.0))
        else:
            scores = activation_scores(w[:, :layer.cols], layer, energy)
        # A unit still kept outranks every pruned one, even when its weights are zero.
        scores = (scores + 1e-30) * np.repeat(mask, item.group, axis=0)[:layer.rows]
        mask = group_mask(scores, item.group, item.sparsity * t / steps) & mask
        if t < steps and method != "obs":
            w = refit(w0, expand_mask(mask, layer.rows, item.group, layer.kernel), item.group, stats, ridge)
    return mask


def _sparsegpt_mask(item: Pruned, w0: np.ndarray, stats: Stats, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """(kept units, weights) by SparseGPT against the ridge objective's Hessian, from its
    dense optimum (sparsegpt.py)."""
    layer = item.layer
    target = refit(w0, np.ones((layer.rows, layer.cols), dtype=bool), layer.rows, stats, ridge)
    solver = stats.solver(ridge_damping(stats, layer.cols, ridge))
    return sparsegpt_prune(target, solver, layer, item.group, item.sparsity)


# Gradual OBS solves one kept-column system per group and step: about groups x cols^3.
# Above this (e.g. a 1000x1024 Gemm head in G = 1 masks, 4x MobileNet V1's widest 1x1
# conv at G = 4) the mask comes from SparseGPT's one sweep (cols^3) instead.
OBS_COST_LIMIT = 256.0 * 1024.0 ** 3


def prune_layer(item: Pruned, stats: Stats, ridge: float = 0.001, steps: int = 8, method: str = "obs",
                exact: bool = True) -> tuple[np.ndarray, float, float]:
    """(weights [rows, cols (+1 bias column when stats.augmented)], relative error of
    the masked dense weights, relative error of the weights) for one layer: fills
    item.mask by `method` when it is None (reconstruct's doc; "obs" on layers costing
    more than OBS_COST_LIMIT: "sparsegpt"), then refits. exact False keeps a SparseGPT
    mask's own weights without the refit: one kept-set solve per group is most of a
    wide layer's cost (a 512x4608 conv: 128 Cholesky factors of ~1400 columns), and
    the sweep's weights come close (docs/SPARSITY.md), enough to rank sparsities."""
    if item.mask is None and method == "best":
        trials = [Pruned(item.layer, item.dense, item.dense_bias, item.sparsity, item.group) for _ in range(2)]
        results = [prune_layer(t, stats, ridge, steps, m, exact) for t, m in zip(trials, ("obs", "magnitude"))]
        best = min(range(2), key=lambda i: results[i][2])
        item.mask = trials[best].mask
        return results[best]
    layer = item.layer
    w0 = item.dense.astype(np.float64)
    if stats.augmented:
        w0 = np.hstack([w0, item.dense_bias[:, None]])
    if method == "obs" and n_groups(layer.rows, item.group) * float(layer.cols) ** 3 > OBS_COST_LIMIT:
        method = "sparsegpt"
    candidates: list[np.ndarray] = []
    if item.mask is None and method == "sparsegpt":
        item.mask, obs_weights = _sparsegpt_mask(item, w0, stats, ridge)
        candidates.append(obs_weights)
    elif item.mask is None:
        item.mask = _select_mask(item, w0, stats, ridge, steps, method)
    keep = expand_mask(item.mask, layer.rows, item.group, layer.kernel)
    current = np.where(keep, item.dense, 0.0)
    if stats.augmented:
        current = np.hstack([current, item.dense_bias[:, None]])
    error = OutputError.of(w0, stats)
    before = error(current)
    if not exact and candidates:
        w, after = candidates[0], error(candidates[0])
    else:
        w = refit(w0, keep, item.group, stats, ridge)
        after = error(w)
        for candidate in candidates:
            candidate_error = error(candidate)
            if candidate_error < after:
                w, after = candidate, candidate_error
    if after > before:  # ill-conditioned data: keep the plain pruned weights
        w, after = current, before
    return w, before, after


def _input_pairs(dense: Graph, pruned: Graph | None, x_name: str, feeds: list[dict[str, np.ndarray]],
                 cached: list[np.ndarray] | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(dense input, pruned input) of one tensor per feed; pruned None: the dense one twice."""
    dense_values = iter(cached) if cached is not None else (v[x_name] for v in capture(dense, [x_name], feeds))
    pruned_values = (v[x_name] for v in capture(pruned, [x_name], feeds)) if pruned is not None else None
    for xd in dense_values:
        yield xd, (next(pruned_values) if pruned_values is not None else xd)


def reconstruct(dense: Graph, pruned: Graph, layers: list[Pruned | Depthwise], feeds: list[dict[str, np.ndarray]],
                ridge: float = 0.001, sequential: bool = True, steps: int = 8, method: str = "obs"
                ) -> tuple[Graph, list[LayerResult]]:
    """Prunes and refits `layers` in graph order in `pruned` (in place, returned), with
    results per layer; fills each item's mask when it is None. `dense` is the same graph
    before pruning. Sequential: layer i's inputs come from the graph with layers < i
    already pruned and refitted. Depthwise items are refitted densely (sequential only).
    Masks are chosen by SparseGPT (`method` "sparsegpt") or in `steps` gradual steps
    of activation-aware magnitude (`method` "magnitude", _select_mask); the kept weights
    are then refitted by least squares (SparseGPT's own weights where they fit better)."""

    def name_of(item: Pruned | Depthwise) -> str:
        return item.node if isinstance(item, Depthwise) else item.layer.node

    results: list[LayerResult] = []
    order = {n.name: i for i, n in enumerate(pruned.nodes)}
    todo = sorted((i for i in layers if sequential or isinstance(i, Pruned)), key=lambda i: order[name_of(i)])
    names = list(dict.fromkeys(_node(dense, name_of(i)).inputs[0] for i in todo))
    per_feed = sum(int(np.prod(dense.tensors[n].shape)) * 4 for n in names)
    dense_inputs: dict[str, list[np.ndarray]] | None = None
    if not sequential or per_feed * len(feeds) <= DENSE_CACHE_BYTES:
        dense_inputs = {}
        for values in capture(dense, names, feeds):
            for k, v in values.items():
                dense_inputs.setdefault(k, []).append(v)
    for item in todo:
        x_name = _node(pruned, name_of(item)).inputs[0]
        cached = dense_inputs[x_name] if dense_inputs is not None else None
        pairs = _input_pairs(dense, pruned if sequential else None, x_name, feeds, cached)
        if isinstance(item, Depthwise):
            results.append(_depthwise_refit(pruned, dense, item.node, pairs, ridge))
            continue
        layer = item.layer
        augmented = bias_refittable(pruned, layer)
        stats = Stats.empty(layer.cols, augmented)
        for xd, xp in pairs:
            stats.add(input_columns(pruned, layer, xd), input_columns(pruned, layer, xp))
        stats.flush()
        w, before, after = prune_layer(item, stats, ridge, steps, method)
        keep = expand_mask(item.mask, layer.rows, item.group, layer.kernel)
        set_weight_matrix(pruned, layer, np.where(keep, w[:, :layer.cols], 0.0))
        if augmented:
            set_bias(pruned, layer, w[:, layer.cols])
        results.append(LayerResult(layer.node, before, after))
    return pruned, results


__all__ = [
    "LayerResult",
    "Pruned",
    "Stats",
    "get_bias",
    "im2col",
    "obs_refit",
    "prune_layer",
    "input_columns",
    "reconstruct",
    "refit",
    "relative_error",
    "weight_matrix",
]
