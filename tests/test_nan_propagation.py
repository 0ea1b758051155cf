"""NaN and infinities through the float ops, in every x86 kernel variant the host runs.

Each model gets inputs with NaN, +inf and -inf at chosen positions (first element,
vector tails, last element) and runs once per instruction-set cap (PNN_ISA=scalar,
avx2, avx512). pocketnn's NaN, +inf and -inf positions must equal onnxruntime's and
the finite values must be close. Where onnxruntime 1.32 is inconsistent (MaxPool and
GlobalMaxPool drop a NaN unless it is the window's last tap and turn a window of -inf
into -FLT_MAX; ReduceMax and ReduceMin drop a NaN unless it comes first), pocketnn
propagates them: the expected output is onnxruntime's with those windows set to NaN /
-inf, the windows found by onnxruntime itself over 0/1 indicator tensors (docs/OPS.md,
"NaN and infinities")."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import helper

from support import make_model, run_onnxruntime

ISAS = ("scalar", "avx2", "avx512")

Feeds = dict[str, np.ndarray]


@pytest.fixture(params=ISAS)
def isa(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Caps kernel selection at one instruction set for the models loaded in the test."""
    name: str = request.param
    monkeypatch.setenv("PNN_ISA", name)
    probe = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (1, 4)}, ["y"])
    try:
        pocketnn.Model(pocketnn.convert(probe, input_shapes={"x": (1, 4)}))
    except pocketnn.NativeError as error:
        pytest.skip(f"PNN_ISA={name}: this host cannot run the {name} kernels ({error})")
    yield name


def with_specials(shape: tuple[int, ...], seed: int, positions: list[tuple[int, float]]) -> np.ndarray:
    """Uniform values in [-2, 2) with the given flat positions (negative from the end)
    set to the given special values."""
    x = np.random.default_rng(seed).uniform(-2.0, 2.0, shape).astype(np.float32)
    flat = x.reshape(-1)
    for position, value in positions:
        flat[position] = value
    return x


NAN, INF = float("nan"), float("inf")
# First element, inside the first vector, past 8 and 16 lanes (tails), the last three.
SPREAD = [(0, NAN), (5, INF), (9, -INF), (17, NAN), (-3, INF), (-2, -INF), (-1, NAN)]


def assert_same_specials(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        mismatch = np.argwhere(test(got) != test(want))
        assert mismatch.size == 0, (
            f"{what}: {name} positions differ at {mismatch[:5].tolist()} "
            f"(got {got[tuple(mismatch[0])]}, expected {want[tuple(mismatch[0])]})")
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-4, atol=1e-5, err_msg=what)


def run_pocketnn(model: onnx.ModelProto, feeds: Feeds, isa: str) -> tuple[list[np.ndarray], list[str]]:
    packed = pocketnn.convert(model, input_shapes={k: v.shape for k, v in feeds.items()})
    runtime = pocketnn.Model(packed)
    outputs = runtime.run(feeds)
    return [outputs[o.name] for o in model.graph.output], [n.kernel for n in runtime.nodes]


def check(model: onnx.ModelProto, feeds: Feeds, isa: str,
          expect: Callable[[Feeds, list[np.ndarray]], list[np.ndarray]] | None = None,
          require_nan: bool = True) -> None:
    """pocketnn under PNN_ISA=isa against onnxruntime (or `expect`, which adjusts
    onnxruntime's outputs where pocketnn deliberately differs)."""
    want = run_onnxruntime(model, feeds)
    if expect is not None:
        want = expect(feeds, want)
    got, kernels = run_pocketnn(model, feeds, isa)
    # The cap took effect: no kernel of a wider instruction set ran.
    wider = {"scalar": ("avx2", "avx512"), "avx2": ("avx512",), "avx512": ()}[isa]
    assert not [k for k in kernels if any(w in k for w in wider)], f"PNN_ISA={isa} ran {kernels}"
    for index, (g, w) in enumerate(zip(got, want)):
        assert_same_specials(g, w, f"PNN_ISA={isa} output {index} (kernels {kernels})")
    if require_nan:
        assert any(np.isnan(w).any() for w in want), "the case must produce a NaN"


# ---- element-wise activations --------------------------------------------------------

SCALAR = np.float32

UNARY_CASES: dict[str, tuple[str, dict[str, object], dict[str, np.ndarray]]] = {
    "relu": ("Relu", {}, {}),
    "relu6": ("Clip", {}, {"lo": np.array(0, SCALAR), "hi": np.array(6, SCALAR)}),
    "clip_high_only": ("Clip", {}, {"hi": np.array(0.5, SCALAR)}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.1}, {}),
    "sigmoid": ("Sigmoid", {}, {}),
    "hard_sigmoid": ("HardSigmoid", {"alpha": 0.25, "beta": 0.4}, {}),
    "hard_swish": ("HardSwish", {}, {}),
    "tanh": ("Tanh", {}, {}),
    # The polynomial kinds of the SIMD unary kernels (kernels_c/include/pnn_vmath.h).
    "exp": ("Exp", {}, {}),
    "log": ("Log", {}, {}),
    "erf": ("Erf", {}, {}),
    "softplus": ("Softplus", {}, {}),
    "elu": ("Elu", {"alpha": 0.7}, {}),
    "sqrt": ("Sqrt", {}, {}),
    "reciprocal": ("Reciprocal", {}, {}),
    "abs": ("Abs", {}, {}),
    "neg": ("Neg", {}, {}),
    "floor": ("Floor", {}, {}),
    "ceil": ("Ceil", {}, {}),
    "sign": ("Sign", {}, {}),
}


@pytest.mark.parametrize("case", sorted(UNARY_CASES))
@pytest.mark.parametrize("shape", [(1,), (1, 3, 5, 7), (2, 33)])
def test_unary_op(case: str, shape: tuple[int, ...], isa: str) -> None:
    op, attrs, bounds = UNARY_CASES[case]
    inputs = ["x", "lo" if "lo" in bounds else "", "hi" if "hi" in bounds else ""] if op == "Clip" else ["x"]
    while inputs[-1] == "":
        inputs.pop()
    model = make_model([helper.make_node(op, inputs, ["y"], **attrs)], {"x": shape}, ["y"], bounds)
    size = int(np.prod(shape))
    positions = [(p, v) for p, v in SPREAD if -size <= p < size] if size > 1 else [(0, NAN)]
    check(model, {"x": with_specials(shape, 1, positions)}, isa)


# ---- pools ---------------------------------------------------------------------------

def ort_any(model: onnx.ModelProto, feeds: Feeds, indicator: np.ndarray) -> np.ndarray:
    """Outputs of a max model (MaxPool, ReduceMax) whose window holds an element where
    indicator is 1: onnxruntime's max over the 0/1 indicator, which holds no NaN."""
    (flags,) = run_onnxruntime(model, {"x": indicator.astype(np.float32)})
    return flags > 0.5


def propagating_max(model: onnx.ModelProto) -> Callable[[Feeds, list[np.ndarray]], list[np.ndarray]]:
    """onnxruntime's max-pool output with NaN where any tap is NaN, -inf where all are."""
    def expect(feeds: Feeds, want: list[np.ndarray]) -> list[np.ndarray]:
        x = feeds["x"]
        y = want[0].copy()
        y[ort_any(model, feeds, ~np.isneginf(x)) == 0] = -INF
        y[ort_any(model, feeds, np.isnan(x))] = NAN
        return [y]
    return expect


MAX_POOLS = {
    "2x2_s2": dict(kernel_shape=[2, 2], strides=[2, 2]),
    "3x3_s1_pad1": dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    "3x3_s2_pad1": dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "1x5_dilated": dict(kernel_shape=[1, 5], dilations=[1, 2]),
}


@pytest.mark.parametrize("case", sorted(MAX_POOLS))
def test_max_pool(case: str, isa: str) -> None:
    shape = (1, 3, 9, 37)  # rows past a 16- and 32-wide vector, odd tails
    model = make_model([helper.make_node("MaxPool", ["x"], ["y"], **MAX_POOLS[case])], {"x": shape}, ["y"])
    x = with_specials(shape, 2, SPREAD)
    x[0, 1, 4, 20] = NAN   # an interior window, NaN not the last tap
    x[0, 1, 4, 30] = NAN   # NaN then larger values in the same row
    x[0, 1, 4, 31] = 5.0
    x[0, 2, :3, :8] = -INF  # windows of -inf only
    x[0, 2, 0, 10] = -INF
    check(model, {"x": x}, isa, propagating_max(model))


def test_global_max_pool(isa: str) -> None:
    shape = (1, 5, 4, 9)
    model = make_model([helper.make_node("GlobalMaxPool", ["x"], ["y"])], {"x": shape}, ["y"])
    x = with_specials(shape, 3, [])
    x[0, 0, 0, 0] = NAN      # NaN first, larger values after it
    x[0, 0, 1, 1] = 7.0
    x[0, 1, 2, 4] = NAN      # NaN in the middle
    x[0, 2, 1, 3] = INF
    x[0, 3] = -INF           # a plane of -inf
    x[0, 4, 3, 8] = NAN      # NaN last
    check(model, {"x": x}, isa, propagating_max(model))


@pytest.mark.parametrize("op,attrs", [
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("AveragePool", dict(kernel_shape=[2, 2], count_include_pad=1, pads=[0, 0, 1, 1])),
    ("GlobalAveragePool", {}),
])
def test_average_pool(op: str, attrs: dict[str, object], isa: str) -> None:
    shape = (1, 3, 7, 19)
    model = make_model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": shape}, ["y"])
    x = with_specials(shape, 4, [(0, NAN), (40, INF), (60, -INF), (-1, NAN)])
    x[0, 2, 3, 3] = INF
    x[0, 2, 3, 4] = -INF  # +inf and -inf in one window: NaN
    check(model, {"x": x}, isa)


# ---- activations fused into Conv / Gemm ----------------------------------------------

def weights(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


def activation_nodes(kind: str, source: str, inits: dict[str, np.ndarray]) -> list[onnx.NodeProto]:
    if kind == "Relu6":
        inits["lo"], inits["hi"] = np.array(0, SCALAR), np.array(6, SCALAR)
        return [helper.make_node("Clip", [source, "lo", "hi"], ["y"])]
    if kind == "LeakyRelu":
        return [helper.make_node("LeakyRelu", [source], ["y"], alpha=0.2)]
    if kind == "Swish":  # fused by the converter as the activation "swish"
        return [helper.make_node("Sigmoid", [source], ["sig"]), helper.make_node("Mul", [source, "sig"], ["y"])]
    return [helper.make_node(kind, [source], ["y"])]


CONVS = {
    "3x3_pad1": dict(out=8, group=1, kernel=3, attrs=dict(pads=[1, 1, 1, 1])),
    "3x3_s2": dict(out=12, group=1, kernel=3, attrs=dict(strides=[2, 2], pads=[1, 1, 1, 1])),
    "1x1": dict(out=19, group=1, kernel=1, attrs={}),
    "5x5": dict(out=4, group=1, kernel=5, attrs=dict(pads=[2, 2, 2, 2])),
    "depthwise_3x3": dict(out=6, group=6, kernel=3, attrs=dict(pads=[1, 1, 1, 1])),
    "depthwise_3x3_s2": dict(out=6, group=6, kernel=3, attrs=dict(strides=[2, 2], pads=[1, 1, 1, 1])),
}
FUSED = ["Relu", "Relu6", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Swish"]


def special_image(shape: tuple[int, ...], seed: int, values: tuple[float, ...]) -> np.ndarray:
    """An image with the specials at a corner, an interior pixel and the last pixel of
    different channels (one special per channel plane, so each output sees a few)."""
    x = with_specials(shape, seed, [])
    n, c, h, w = shape
    spots = [(0, 0, 0), (c - 1, h // 2, w // 2), (c // 2, h - 1, w - 1), (c - 1, 1, w - 2)]
    for (ch, yy, xx), value in zip(spots, values * 2):
        x[0, ch, yy, xx] = value
    return x


@pytest.mark.parametrize("act", FUSED)
@pytest.mark.parametrize("conv", sorted(CONVS))
@pytest.mark.parametrize("values", [(NAN,), (INF,), (-INF,), (NAN, INF, -INF)], ids=["nan", "inf", "-inf", "mixed"])
def test_conv_fused_activation(conv: str, act: str, values: tuple[float, ...], isa: str) -> None:
    spec = CONVS[conv]
    channels = 6 if spec["group"] > 1 else 5
    shape = (1, channels, 11, 21)
    k = spec["kernel"]
    inits = {"w": weights(5, spec["out"], channels // spec["group"], k, k), "b": weights(6, spec["out"])}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["t"], group=spec["group"], **spec["attrs"])]
    nodes += activation_nodes(act, "t", inits)
    model = make_model(nodes, {"x": shape}, ["y"], inits)
    # +inf or -inf alone may leave no NaN (Relu of -inf, Sigmoid of +inf).
    check(model, {"x": special_image(shape, 7, values)}, isa, require_nan=NAN in values)


@pytest.mark.parametrize("act", ["none", "Relu"])
@pytest.mark.parametrize("values", [(NAN,), (INF,), (-INF,), (NAN, INF, -INF)], ids=["nan", "inf", "-inf", "mixed"])
def test_winograd_conv(values: tuple[float, ...], act: str, isa: str) -> None:
    """A 3x3 stride-1 conv with enough channels and tiles for x86's Winograd F(2x2, 3x3),
    whose input transform would turn an infinity into inf - inf = NaN: two images, the
    specials in the second only."""
    shape = (2, 16, 11, 21)
    inits = {"w": weights(20, 16, 16, 3, 3), "b": weights(21, 16)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["t" if act != "none" else "y"], pads=[1, 1, 1, 1])]
    if act != "none":
        nodes += activation_nodes(act, "t", inits)
    model = make_model(nodes, {"x": shape}, ["y"], inits)
    x = np.concatenate([with_specials((1,) + shape[1:], 22, []), special_image((1,) + shape[1:], 23, values)])
    if isa != "scalar":
        _, kernels = run_pocketnn(model, {"x": x}, isa)
        assert kernels[0].startswith("winograd"), kernels
    check(model, {"x": x}, isa, require_nan=NAN in values)


@pytest.mark.parametrize("act", ["Sigmoid", "Relu", "Relu6", "HardSwish", "Swish"])
@pytest.mark.parametrize("rows", [1, 3, 17])
def test_gemm_fused_activation(act: str, rows: int, isa: str) -> None:
    inits = {"w": weights(8, 37, 29), "b": weights(9, 29)}
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["t"])] + activation_nodes(act, "t", inits)
    model = make_model(nodes, {"x": (rows, 37)}, ["y"], inits)
    x = with_specials((rows, 37), 10, [(0, NAN), (-1, INF)] + ([(40, -INF)] if rows > 1 else []))
    check(model, {"x": x}, isa)


def small_cnn(reference: bool = False) -> onnx.ModelProto:
    """Conv+Relu, MaxPool, depthwise+Relu6, 1x1 Conv+HardSwish, GlobalAveragePool,
    Gemm, Sigmoid: each fused activation and pool of a mobile CNN once. The reference
    form computes the 2x2 max pool as a ReduceMax over reshaped windows, which
    onnxruntime runs with NaN propagating (its MaxPool drops NaN)."""
    inits = {
        "w1": weights(11, 8, 3, 3, 3), "b1": weights(12, 8),
        "wd": weights(13, 8, 1, 3, 3), "bd": weights(14, 8),
        "w2": weights(15, 16, 8, 1, 1), "b2": weights(16, 16),
        "wf": weights(17, 16, 10), "bf": weights(18, 10),
        "lo": np.array(0, SCALAR), "hi": np.array(6, SCALAR), "flat": np.array([1, 16], np.int64),
        "windows": np.array([1, 8, 8, 2, 8, 2], np.int64),
    }
    pool = ([helper.make_node("Reshape", ["r1", "windows"], ["rw"]),
             helper.make_node("ReduceMax", ["rw"], ["p1"], axes=[3, 5], keepdims=0)] if reference
            else [helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2])])
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        *pool,
        helper.make_node("Conv", ["p1", "wd", "bd"], ["c2"], group=8, pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
        helper.make_node("Conv", ["r2", "w2", "b2"], ["c3"]),
        helper.make_node("HardSwish", ["c3"], ["r3"]),
        helper.make_node("GlobalAveragePool", ["r3"], ["g"]),
        helper.make_node("Reshape", ["g", "flat"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["l"]),
        helper.make_node("Sigmoid", ["l"], ["y"]),
    ]
    return make_model(nodes, {"x": (1, 3, 16, 16)}, ["y"], inits)


@pytest.mark.parametrize("values", [(NAN,), (NAN, INF, -INF)], ids=["nan", "mixed"])
def test_small_cnn(values: tuple[float, ...], isa: str) -> None:
    x = special_image((1, 3, 16, 16), 19, values)
    reference = small_cnn(reference=True)
    check(small_cnn(), {"x": x}, isa, lambda feeds, _: run_onnxruntime(reference, feeds))


# ---- max / min as reductions and element-wise ------------------------------------------

@pytest.mark.parametrize("op,attrs", [("ReduceMax", dict(axes=[1], keepdims=0)),
                                      ("ReduceMin", dict(axes=[1], keepdims=0)),
                                      ("ReduceMax", dict(axes=[0], keepdims=1))])
def test_reduce_max_min(op: str, attrs: dict[str, object], isa: str) -> None:
    """onnxruntime's ReduceMax / ReduceMin keep a NaN only when it comes first in the
    row: the expected output is NaN wherever the reduced elements hold one (found by
    onnxruntime's ReduceMax over an indicator)."""
    model = make_model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": (4, 37)}, ["y"])
    any_of = make_model([helper.make_node("ReduceMax", ["x"], ["y"], **attrs)], {"x": (4, 37)}, ["y"])
    x = with_specials((4, 37), 11, [(0, NAN), (40, INF), (80, -INF), (100, NAN), (-1, NAN)])
    x[2, :] = -INF if op == "ReduceMax" else INF  # a row of infinities only

    def expect(feeds: Feeds, want: list[np.ndarray]) -> list[np.ndarray]:
        y = want[0].copy()
        y[ort_any(any_of, feeds, np.isnan(feeds["x"]))] = NAN
        return [y]
    check(model, {"x": x}, isa, expect)


@pytest.mark.parametrize("op", ["Max", "Min"])
@pytest.mark.parametrize("constant_shape", [(4, 37), (37,), ()])
def test_elementwise_max_min(op: str, constant_shape: tuple[int, ...], isa: str) -> None:
    """NaN on either side wins, in the vector-vector, vector-row and vector-scalar loops."""
    constant = with_specials(constant_shape or (1,), 12, [(-1, NAN)] if constant_shape else []).reshape(constant_shape)
    for order in (["x", "c"], ["c", "x"]):
        model = make_model([helper.make_node(op, order, ["y"])], {"x": (4, 37)}, ["y"], {"c": constant})
        x = with_specials((4, 37), 13, SPREAD)
        check(model, {"x": x}, isa)
