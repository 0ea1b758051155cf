"""Binary 3x3 convolution (issue 13's anchor: 256 -> 256 channels at 56x56, stride 1,
zero padding 1, 1 thread) against onnxruntime's fp32 Conv of the same shape, interleaved
in one process, medians.

The binary kernels are compiled here into a small shared library (bench_bconv.c plus
kernels_c/, the extension's -O3) and driven through ctypes: each variant this CPU can run,
from bit-packed input, with float (NCHW) or bit-packed output. The pack of a float input
is timed on its own. Run `bench/avx2_host/run.sh python bench/b1/bench_bconv.py` for the
AVX2 figures (every engine on its AVX2 path).

    python bench/b1/bench_bconv.py [--runs 30] [--size 56] [--channels 256] [--clock cpu|wall]
                                   [--variants avx2,avx512vpopcnt]
`--clock cpu` times each call by the calling thread's CPU time (every engine computes in
it at 1 thread): steadier than wall time (the default) on a loaded machine.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from timing import host_banner, interleaved, ort_session  # noqa: E402

VARIANTS = ("scalar", "avx2", "avx512bw", "avx512vpopcnt")


def build_library(folder: str) -> ctypes.CDLL:
    sources = [os.path.join(ROOT, "bench", "b1", "bench_bconv.c"), os.path.join(ROOT, "kernels_c", "cpu.c")]
    sources += sorted(glob.glob(os.path.join(ROOT, "kernels_c", "b1-*", "*.c")))
    path = os.path.join(folder, "bench_bconv.so")
    command = ["cc", "-std=c11", "-O3", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror"]
    command += ["-I" + os.path.join(ROOT, "kernels_c", "include"), *sources, "-o", path]
    # Without bench/avx2_host's CPUID-masking preload: the compiler itself breaks under it.
    env = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}
    subprocess.run(command, check=True, env=env)
    lib = ctypes.CDLL(path)
    lib.bconv_bench_create.restype = ctypes.c_void_p
    lib.bconv_bench_create.argtypes = [ctypes.c_char_p] + [ctypes.c_size_t] * 4 + [ctypes.c_int]
    lib.bconv_bench_run.restype = lib.bconv_bench_pack.restype = None  # timed by the --clock
    lib.bconv_bench_run.argtypes = [ctypes.c_void_p]
    lib.bconv_bench_pack.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.bconv_bench_free.argtypes = [ctypes.c_void_p]
    return lib


def fp32_conv_model(channels: int, size: int) -> bytes:
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((channels, channels, 3, 3)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "conv3x3",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, size, size])],
        [helper.make_tensor("w", TensorProto.FLOAT, weight.shape, weight.ravel())],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def anchor_arguments(doc: str, runs: int) -> argparse.Namespace:
    """--runs, --size, --channels of the anchor conv; prints the host and the shape."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="wall")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS))
    args = parser.parse_args()
    c, s = args.channels, args.size
    print(host_banner())
    print(f"3x3 conv {c}->{c} at {s}x{s}, stride 1, zero padding 1, 1 thread, median of {args.runs}, "
          f"clock {args.clock}", flush=True)
    return args


def clock_of(args: argparse.Namespace) -> Callable[[], float]:
    return time.thread_time if args.clock == "cpu" else time.perf_counter


def main() -> None:
    args = anchor_arguments(__doc__, runs=30)
    c, s = args.channels, args.size
    ops = 2.0 * c * s * s * c * 9  # a multiply-add counts two, as for the float conv
    with tempfile.TemporaryDirectory() as folder:
        lib = build_library(folder)
        session = ort_session(fp32_conv_model(c, s), threads=1)
        x = np.random.default_rng(1).standard_normal((1, c, s, s)).astype(np.float32)
        contexts: dict[str, int] = {}
        fns = {"onnxruntime fp32": lambda: session.run(None, {"x": x})}
        for variant in args.variants.split(","):
            for bits_out in (0, 1):
                ctx = lib.bconv_bench_create(variant.encode(), c, s, s, c, bits_out)
                if not ctx:
                    print(f"SKIPPED {variant}: this CPU cannot run it")
                    break
                label = f"b1 {variant} -> {'bits' if bits_out else 'f32'}"
                contexts[label] = ctx
                fns[label] = lambda ctx=ctx: lib.bconv_bench_run(ctx)
        first = next(iter(contexts.values()))
        fns["b1 pack f32 input (scalar)"] = lambda: lib.bconv_bench_pack(first, 0)
        fns["b1 pack f32 input (selected)"] = lambda: lib.bconv_bench_pack(first, 1)
        medians = interleaved(fns, runs=args.runs, warmup=2, clock=clock_of(args))
        reference = medians["onnxruntime fp32"]
        print(f"{'engine':32s} {'ms':>8s} {'GOPS':>8s} {'vs ort fp32':>12s}")
        for label, ms in medians.items():
            gops = "" if "pack" in label else f"{ops / ms / 1e6:8.1f}"
            print(f"{label:32s} {ms:8.2f} {gops:>8s} {reference / ms:11.2f}x")
        for ctx in contexts.values():
            lib.bconv_bench_free(ctx)


if __name__ == "__main__":
    main()
