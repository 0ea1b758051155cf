"""pocketnn's binary path against Larq Compute Engine, 1 thread, interleaved, medians.

`--model conv`: the binary 3x3 convolution (issue 13's anchor: 256 -> 256 channels at
56x56) in pocketnn (one BConv2d op, float NCHW in and out, zero padding), in onnxruntime
fp32 (Conv) and in Larq Compute Engine 0.16 (larq QuantConv2D + BatchNorm converted by
`lce.convert_keras_model`, one-padding, its fast form; its interpreter with
`use_indirect_bgemm=True` and with its default kernel).

`--model quicknet`: a whole BNN at 224x224: pocketnn and onnxruntime fp32 run the
QuickNet-like ONNX of pocketnn.reference_models.quicknet_like (random weights), LCE runs larq_zoo's QuickNet
(random weights) converted by `lce.convert_keras_model`.

LCE runs in a child process (lce_child.py) with its own venv, made once by
    bash bench/b1/make_lce_venv.sh            # -> /work/venvs/s21-lce-tf
then, from the project venv:
    python bench/b1/bench_lce.py [--model conv|quicknet] [--runs 20] [--clock cpu|wall] [--lce-python PATH]
    bench/avx2_host/run.sh python bench/b1/bench_lce.py   # every engine on its AVX2 path
`--clock cpu` (the default) times each call by its thread's CPU time (all three engines
compute in the calling thread at 1 thread): steadier than wall time on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import pocketnn
from pocketnn.reference_models import quicknet_like

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from bench_bconv_op import conv_model  # noqa: E402
from timing import host_banner, interleaved, ort_session  # noqa: E402

DEFAULT_LCE_PYTHON = "/work/venvs/s21-lce-tf/bin/python"


class LceChild:
    """LCE's interpreter in a child process: "run <setting>" -> the ms it measured."""

    def __init__(self, python: str, kind: str, shape: str, clock: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self.proc = subprocess.Popen([python, os.path.join(HERE, "lce_child.py"), kind, shape, clock],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the LCE child failed to start (see its stderr)")
            words = line.split()
            if words and words[0] == "ready":
                self.version, self.settings = words[1], words[2:]
                return

    def run(self, setting: str) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"run {setting}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def arguments(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--model", choices=("conv", "quicknet"), default="conv")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--lce-python", default=DEFAULT_LCE_PYTHON)
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)
    c, s = args.channels, args.size
    print(host_banner())
    if args.model == "conv":
        print(f"3x3 conv {c}->{c} at {s}x{s}, 1 thread, median of {args.runs}, clock {args.clock}", flush=True)
        x = np.random.default_rng(1).standard_normal((1, c, s, s)).astype(np.float32)
        binary, fp32 = conv_model(c, s, 1, True), conv_model(c, s, 1, False)
        lce = LceChild(args.lce_python, "conv", f"{c}x{s}", args.clock)
    else:
        print(f"QuickNet-like BNN at 224x224, 1 thread, median of {args.runs}, clock {args.clock}", flush=True)
        x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
        binary = fp32 = quicknet_like()
        lce = LceChild(args.lce_python, "quicknet", "224", args.clock)
    runtime = pocketnn.Model(pocketnn.convert(binary, quiet=True))
    name = runtime.inputs[0].name
    buffer = runtime.input_buffer(name)
    buffer[...] = x
    session = ort_session(fp32.SerializeToString(), threads=1)
    fns = {"onnxruntime fp32": lambda: session.run(None, {name: x}),
           "pocketnn": lambda: runtime.run({name: x}),
           # input and output in the session's memory, as a C API user has them
           # (bench_bconv_op.py)
           "pocketnn in place": lambda: runtime.run({name: buffer}, copy=False)}
    for setting in lce.settings:
        fns[f"LCE {lce.version} {setting}"] = lambda setting=setting: lce.run(setting)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    medians = interleaved(fns, runs=args.runs, warmup=2, clock=clock)
    lce.close()
    pnn_ms = medians["pocketnn"]
    binary_nodes = [n for n in runtime.nodes if n.op in ("BConv2d", "BGemm")]
    print(f"pocketnn: {len(binary_nodes)} binary nodes of {len(runtime.nodes)}, "
          f"kernels {sorted({n.kernel for n in binary_nodes})}")
    print(f"{'engine':32} {'ms':>9} {'pocketnn is':>12}")
    for label, ms in medians.items():
        print(f"{label:32} {ms:9.2f} {ms / pnn_ms:11.2f}x")


if __name__ == "__main__":
    main()
