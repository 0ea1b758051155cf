"""Peak resident memory: pocketnn vs onnxruntime running the same model once.

Each engine runs in its own fresh Python process (1 thread); we report the peak RSS
of the process and the part above what the interpreter held after importing the
engine (the model's own cost: weights, arena, engine buffers).

    python bench/bench_memory.py [--models mobilenet_v1,resnet18]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from rich.console import Console
from rich.table import Table

import pocketnn
from pocketnn.reference_models import MODELS

# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would inherit
# this (large) process's peak.
_CHILD = r"""
import json, sys
import numpy as np
def hwm_kib():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
engine, path, input_path = sys.argv[1:4]
x = np.load(input_path)
if engine == "pocketnn":
    from pocketnn.runtime import Model
    base = hwm_kib()
    model = Model(path)
    run = lambda: model.run({model.inputs[0].name: x})
else:
    import onnxruntime as ort
    base = hwm_kib()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    run = lambda: session.run(None, {session.get_inputs()[0].name: x})
run()
peak = hwm_kib()
print(json.dumps({"base_kib": base, "peak_kib": peak}))
"""


def measure(engine: str, path: str, input_path: str) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", _CHILD, engine, path, input_path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    table = Table(title="peak RSS, one run, 1 thread (MiB): whole process / above the imported engine")
    for column in ("model", "onnx file", ".pnn file", "pocketnn", "onnxruntime"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            model = MODELS[name]()
            onnx_path, pnn_path, x_path = (os.path.join(tmp, f"{name}{ext}") for ext in (".onnx", ".pnn", ".npy"))
            onnx.save(model, onnx_path)
            pocketnn.convert(model, pnn_path)
            np.save(x_path, np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32))
            row = [name, f"{os.path.getsize(onnx_path) / 2**20:.1f}", f"{os.path.getsize(pnn_path) / 2**20:.1f}"]
            for engine, path in (("pocketnn", pnn_path), ("onnxruntime", onnx_path)):
                m = measure(engine, path, x_path)
                row.append(f"{m['peak_kib'] / 1024:.0f} / {(m['peak_kib'] - m['base_kib']) / 1024:.0f}")
            table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
