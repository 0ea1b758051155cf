"""MNN timing child for bench_sparse.py, run with the Python of a venv that has `mnn`.

    <venv>/bin/python bench/mnn/child.py model.mnn input.npy threads

Loads the model, prints "ready <version>", then for every line "run" on stdin runs one
inference and prints its milliseconds; "out" saves the output to <input>.out.npy;
EOF ends it. The parent interleaves these runs with its own engines.
"""

from __future__ import annotations

import sys
import time

import MNN  # type: ignore[import-not-found]
import numpy as np


def main() -> None:
    path, input_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    x = np.load(input_path).astype(np.float32)
    interpreter = MNN.Interpreter(path)
    session = interpreter.createSession({"numThread": threads, "backend": "CPU", "precision": "high"})
    inp = interpreter.getSessionInput(session)
    tmp = MNN.Tensor(x.shape, MNN.Halide_Type_Float, x, MNN.Tensor_DimensionType_Caffe)
    version = getattr(MNN, "version", lambda: "?")()
    print(f"ready {version}", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "run":
            start = time.perf_counter()
            inp.copyFrom(tmp)
            interpreter.runSession(session)
            out = interpreter.getSessionOutput(session)
            host = MNN.Tensor(out.getShape(), MNN.Halide_Type_Float,
                              np.zeros(out.getShape(), np.float32), MNN.Tensor_DimensionType_Caffe)
            out.copyToHostTensor(host)
            print(f"{(time.perf_counter() - start) * 1e3:.4f}", flush=True)
        elif cmd == "out":
            out = interpreter.getSessionOutput(session)
            host = MNN.Tensor(out.getShape(), MNN.Halide_Type_Float,
                              np.zeros(out.getShape(), np.float32), MNN.Tensor_DimensionType_Caffe)
            out.copyToHostTensor(host)
            np.save(input_path + ".out.npy", np.array(host.getData(), np.float32).reshape(out.getShape()))
            print("saved", flush=True)


if __name__ == "__main__":
    main()
