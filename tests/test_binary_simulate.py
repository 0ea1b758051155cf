"""pocketnn.binary.simulate against the C binary kernels (kernels_c/b1-*), bit for bit.

The kernels are compiled here into a small cffi module (API mode, FMA contraction
allowed: the float transform must not depend on it) and driven on float data the
simulator sees as is: the packed layouts, the integer dot of every output (float output
with multiplier 1 and bias 0), a float affine transform with a clamp, and the bit-packed
output by the simulator's thresholds, all equal exactly, for the scalar reference and the
variant this CPU selects. The simulator's dot is checked on its own against a loop over taps."""

from __future__ import annotations

import glob
import importlib.util
import itertools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pocketnn.binary import simulate as sim

cffi = pytest.importorskip("cffi")

REPO = Path(__file__).resolve().parent.parent

CDEF = """
typedef struct pnn_cpu_features { ...; } pnn_cpu_features;
void pnn_cpu_detect(pnn_cpu_features *f);
typedef struct pnn_conv2d_geometry {
  size_t channels; size_t in_h, in_w, out_h, out_w;
  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w; size_t pad_top, pad_left;
} pnn_conv2d_geometry;
typedef struct pnn_b1_output {
  float *y; size_t y_stride_m, y_stride_n; const float *multiplier; const float *bias; float lo, hi;
  uint64_t *bits; size_t ld_bits; const int32_t *threshold; const uint64_t *negate;
} pnn_b1_output;
enum pnn_b1_padding { PNN_B1_PAD_ZERO = 0, PNN_B1_PAD_ONE = 1 };
typedef struct pnn_b1_gemm_kernel {
  const char *name;
  size_t (*gemm_scratch_size)(size_t kw);
  void (*gemm)(size_t M, size_t N, size_t kw, size_t K, size_t m_begin, size_t m_end, const uint64_t *W,
               const uint64_t *X, size_t ldx, const pnn_b1_output *out, void *scratch);
  size_t (*conv_scratch_size)(const pnn_conv2d_geometry *g);
  void (*conv)(const pnn_conv2d_geometry *g, enum pnn_b1_padding padding, size_t M, size_t m_begin,
               size_t m_end, const uint64_t *W, const int32_t *tap_pop, const uint64_t *x, size_t ldx,
               const pnn_b1_output *out, void *scratch);
  ...; /* the tree-delta (MST) entries, not used here */
} pnn_b1_gemm_kernel;
extern const pnn_b1_gemm_kernel pnn_b1_gemm_scalar;
const pnn_b1_gemm_kernel *pnn_b1_gemm_select(const pnn_cpu_features *cpu);
void pnn_b1_pack_scalar(size_t channels, size_t pixels, const float *x, size_t cs, size_t ps,
                        uint64_t *out, size_t ldo);
void pnn_b1_pack_conv_weights(size_t M, size_t C, size_t kh, size_t kw, const float *w,
                              uint64_t *packed, int32_t *tap_pop);
"""


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    sources = [str(REPO / "kernels_c" / "cpu.c")]
    sources += sorted(glob.glob(str(REPO / "kernels_c" / "b1-*" / "*.c")))
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_pnn_b1_kernels", '#include "pnn_kernels.h"\n', sources=sources,
                   include_dirs=[str(REPO / "kernels_c" / "include")],
                   extra_compile_args=["-std=c11", "-O3", "-ffp-contract=fast", "-Wall", "-Wextra", "-Werror"])
    folder = tmp_path_factory.mktemp("b1_cffi")
    try:
        library = ffi.compile(tmpdir=str(folder))
    except Exception as error:  # a host without a C compiler cannot run this module
        pytest.skip(f"cannot build the binary kernels: {error}")
    spec = importlib.util.spec_from_file_location("_pnn_b1_kernels", library)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cpu = module.ffi.new("pnn_cpu_features *")
    module.lib.pnn_cpu_detect(cpu)
    kernels = [module.lib.pnn_b1_gemm_scalar, module.lib.pnn_b1_gemm_select(cpu)[0]]
    return SimpleNamespace(ffi=module.ffi, lib=module.lib, kernels=kernels)


def ptr(native: SimpleNamespace, ctype: str, array: np.ndarray):
    assert array.flags.c_contiguous
    return native.ffi.cast(ctype, native.ffi.from_buffer(array))


def random_signs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values including both zeros (which count as +1)."""
    choices = np.array([-1.5, -0.25, -0.0, 0.0, 0.5, 3.0], dtype=np.float32)
    return choices[rng.integers(0, len(choices), size=shape)]


def random_transform(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
    multiplier = rng.uniform(-2, 2, m).astype(np.float32)
    multiplier[::5] = 0.0
    return multiplier, rng.uniform(-30, 30, m).astype(np.float32)


CONVS = [
    # C, H, W, M, kernel, strides, dilations, pads (t, l, b, r)
    (1, 5, 6, 3, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    (65, 9, 8, 67, (3, 3), (1, 2), (2, 2), (2, 2, 2, 2)),
    (64, 6, 6, 64, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
    (5, 6, 7, 9, (5, 3), (2, 1), (1, 2), (3, 0, 1, 4)),
    (3, 1, 1, 5, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    (130, 4, 4, 130, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
]


def run_conv(native: SimpleNamespace, kernel, x: np.ndarray, w: np.ndarray, geometry: sim.ConvGeometry,
             padding: sim.Padding, transform: dict) -> np.ndarray:
    channels, height, width = x.shape
    out_channels = w.shape[0]
    kh, kw = geometry.kernel
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = geometry.strides, geometry.dilations, geometry.pads
    out_h, out_w = sim.output_size(height, kh, sh, dh, pt, pb), sim.output_size(width, kw, sw, dw, pl, pr)
    pixels, cw = out_h * out_w, sim.words(channels)
    xp = np.zeros((height * width, cw), np.uint64)
    native.lib.pnn_b1_pack_scalar(channels, height * width, ptr(native, "float *", x), height * width, 1,
                                  ptr(native, "uint64_t *", xp), cw)
    wp = np.zeros((out_channels, kh * kw * cw), np.uint64)
    tap_pop = np.zeros((out_channels, kh * kw), np.int32)
    native.lib.pnn_b1_pack_conv_weights(out_channels, channels, kh, kw, ptr(native, "float *", w),
                                        ptr(native, "uint64_t *", wp), ptr(native, "int32_t *", tap_pop))
    packed_w, packed_pop = sim.pack_conv_weights(w)
    np.testing.assert_array_equal(xp, sim.pack_activations(x))
    np.testing.assert_array_equal(wp, packed_w)
    np.testing.assert_array_equal(tap_pop, packed_pop)
    fields = [channels, height, width, out_h, out_w, kh, kw, sh, sw, dh, dw, pt, pl]
    g = native.ffi.new("pnn_conv2d_geometry *", fields)
    out = native.ffi.new("pnn_b1_output *")
    keep = []  # arrays the output descriptor points into
    if "threshold" in transform:
        result = np.zeros((pixels, sim.words(out_channels)), np.uint64)
        keep += [np.ascontiguousarray(transform["threshold"], np.int32),
                 sim.pack_bits(np.asarray(transform["negate"], bool))]
        out.bits, out.ld_bits = ptr(native, "uint64_t *", result), result.shape[1]
        out.threshold, out.negate = ptr(native, "int32_t *", keep[0]), ptr(native, "uint64_t *", keep[1])
    else:
        result = np.zeros((out_channels, pixels), np.float32)
        keep += [np.ascontiguousarray(transform["multiplier"], np.float32),
                 np.ascontiguousarray(transform["bias"], np.float32)]
        out.y, out.y_stride_m, out.y_stride_n = ptr(native, "float *", result), pixels, 1
        out.multiplier, out.bias = ptr(native, "float *", keep[0]), ptr(native, "float *", keep[1])
        out.lo, out.hi = transform["lo"], transform["hi"]
    scratch = np.zeros(kernel.conv_scratch_size(g) // 8 + 16, np.uint64)
    aligned = native.ffi.cast("void *", (scratch.ctypes.data + 63) // 64 * 64)
    kernel.conv(g, int(padding), out_channels, 0, out_channels, ptr(native, "uint64_t *", wp),
                ptr(native, "int32_t *", tap_pop), ptr(native, "uint64_t *", xp), cw, out, aligned)
    return result


@pytest.mark.parametrize("case", CONVS, ids=lambda c: f"C{c[0]}_{c[1]}x{c[2]}_M{c[3]}_k{c[4][0]}x{c[4][1]}")
@pytest.mark.parametrize("padding", list(sim.Padding), ids=lambda p: p.name.lower())
def test_conv_matches_kernels(native: SimpleNamespace, case: tuple, padding: sim.Padding) -> None:
    channels, height, width, out_channels, kernel_shape, strides, dilations, pads = case
    rng = np.random.default_rng(channels * 1000 + out_channels)
    x = random_signs(rng, (channels, height, width))
    w = random_signs(rng, (out_channels, channels, *kernel_shape))
    geometry = sim.ConvGeometry(kernel_shape, strides, dilations, pads)
    dot = sim.conv_dot(x, w, geometry, padding)
    multiplier, bias = random_transform(rng, out_channels)
    threshold, negate = sim.thresholds(multiplier, bias)
    ones, zeros = np.ones(out_channels, np.float32), np.zeros(out_channels, np.float32)
    for kernel in native.kernels:
        probe = run_conv(native, kernel, x, w, geometry, padding,
                         {"multiplier": ones, "bias": zeros, "lo": -np.inf, "hi": np.inf})
        np.testing.assert_array_equal(probe, dot.astype(np.float32), err_msg=native.ffi.string(kernel.name))
        affine = run_conv(native, kernel, x, w, geometry, padding,
                          {"multiplier": multiplier, "bias": bias, "lo": -20.0, "hi": 25.0})
        np.testing.assert_array_equal(affine, sim.float_output(dot, multiplier, bias, -20.0, 25.0))
        bits = run_conv(native, kernel, x, w, geometry, padding, {"threshold": threshold, "negate": negate})
        np.testing.assert_array_equal(bits, sim.bit_output(dot, threshold, negate))


def test_conv_dot_against_tap_loop() -> None:
    rng = np.random.default_rng(7)
    x, w = random_signs(rng, (3, 5, 4)), random_signs(rng, (2, 3, 3, 2))
    geometry = sim.ConvGeometry((3, 2), (2, 1), (1, 2), (1, 2, 2, 0))
    for padding in sim.Padding:
        dot = sim.conv_dot(x, w, geometry, padding)
        out_h = sim.output_size(5, 3, 2, 1, 1, 2)
        out_w = sim.output_size(4, 2, 1, 2, 2, 0)
        want = np.zeros((2, out_h * out_w), np.int64)
        taps = itertools.product(range(2), range(out_h), range(out_w), range(3), range(3), range(2))
        for m, oy, ox, c, i, j in taps:
            iy, ix = oy * 2 - 1 + i, ox - 2 + j * 2
            ws = -1 if w[m, c, i, j] < 0 else 1
            if 0 <= iy < 5 and 0 <= ix < 4:
                want[m, oy * out_w + ox] += ws * (-1 if x[c, iy, ix] < 0 else 1)
            elif padding == sim.Padding.ONE:
                want[m, oy * out_w + ox] += ws
        np.testing.assert_array_equal(dot, want)


def test_thresholds_give_the_sign_of_the_affine_output() -> None:
    rng = np.random.default_rng(3)
    multiplier, bias = random_transform(rng, 200)
    multiplier[1], bias[1] = 0.5, -3.0  # -b / a an integer: dot = 6 is not negative
    threshold, negate = sim.thresholds(multiplier, bias)
    dots = np.arange(-80, 81, dtype=np.int32)[None, :].repeat(200, axis=0)
    want = multiplier.astype(np.float64)[:, None] * dots + bias.astype(np.float64)[:, None] < 0
    got = (dots < threshold[:, None]) ^ negate[:, None]
    np.testing.assert_array_equal(got, want)


def test_gemm_matches_kernels(native: SimpleNamespace) -> None:
    rng = np.random.default_rng(11)
    for n, m, k in [(1, 3, 1), (5, 67, 65), (17, 64, 63), (4, 130, 40 * 64)]:
        x, w = random_signs(rng, (n, k)), random_signs(rng, (m, k))
        xp, wp = sim.pack_bits(x < 0), sim.pack_bits(w < 0)
        dot = sim.gemm_dot(x, w)
        multiplier, bias = random_transform(rng, m)
        for kernel in native.kernels:
            y = np.zeros((n, m), np.float32)  # dense layout [N, M]
            out = native.ffi.new("pnn_b1_output *")
            out.y, out.y_stride_m, out.y_stride_n = ptr(native, "float *", y), 1, m
            out.multiplier, out.bias = ptr(native, "float *", multiplier), ptr(native, "float *", bias)
            out.lo, out.hi = -np.inf, np.inf
            scratch = np.zeros(kernel.gemm_scratch_size(wp.shape[1]) // 8 + 16, np.uint64)
            aligned = native.ffi.cast("void *", (scratch.ctypes.data + 63) // 64 * 64)
            w_ptr, x_ptr = ptr(native, "uint64_t *", wp), ptr(native, "uint64_t *", xp)
            kernel.gemm(m, n, wp.shape[1], k, 0, m, w_ptr, x_ptr, xp.shape[1], out, aligned)
            np.testing.assert_array_equal(y, sim.float_output(dot, multiplier, bias).T)
