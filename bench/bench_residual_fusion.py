"""Residual Adds folded into their Convs (format 1.13) against the same model converted
without that pass, and onnxruntime, interleaved in one process; medians of the calling
thread's CPU time (1 thread), steady on a loaded host.

    python bench/bench_residual_fusion.py resnet18 mobilenet_v2 /work/tfmodels/keras_resnet50_nhwc.onnx [--runs 15]

A name is a reference model (pocketnn.reference_models, 1x3x224x224 input); anything else
an ONNX file (symbolic dims 1). Prefix bench/avx2_host/run.sh for the AVX2 paths.
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np
import onnx
import pocketnn
import pocketnn.conversion
from bench_onnx_file import input_shapes, random_input
from pocketnn.reference_models import MODELS
from timing import host_banner, interleaved, ort_session


def unfused(model: onnx.ModelProto) -> bytes:
    """The model converted with the residual pass skipped (as before format 1.13)."""
    with mock.patch.object(pocketnn.conversion, "fuse_residual_add", lambda graph: graph):
        return pocketnn.convert(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(host_banner())
    for name in args.models:
        model = MODELS[name]() if name in MODELS else onnx.load(name)
        rng = np.random.default_rng(0)
        feeds = {n: random_input(rng, model, n, shape) for n, shape in input_shapes(model, {}).items()}
        fused, plain = pocketnn.Model(pocketnn.convert(model)), pocketnn.Model(unfused(model))
        adds = sum(node.op == "Add" for node in plain.nodes) - sum(node.op == "Add" for node in fused.nodes)
        theirs = ort_session(model.SerializeToString(), 1)
        t = interleaved({"ort": lambda: theirs.run(None, feeds), "unfused": lambda: plain.run(feeds),
                         "fused": lambda: fused.run(feeds)}, args.runs, 2, clock=time.thread_time)
        print(f"{name}: {adds} Adds folded; onnxruntime {t['ort']:.2f} ms, pocketnn unfused {t['unfused']:.2f} ms "
              f"({t['unfused'] / t['ort']:.3f}), fused {t['fused']:.2f} ms ({t['fused'] / t['ort']:.3f}); "
              f"fused / unfused {t['fused'] / t['unfused']:.3f} (medians of {args.runs}, CPU time, 1 thread)")


if __name__ == "__main__":
    main()
