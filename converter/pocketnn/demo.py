"""`pocketnn demo`: the whole pipeline on a model built in code, checked against onnxruntime."""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from pocketnn.console import Console
from pocketnn.conversion import convert
from pocketnn.reference_models import MODELS
from pocketnn.report import print_inspection_summary, print_verify_report
from pocketnn.runtime import Model
from pocketnn.verify import verify


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def run_demo(console: Console, model_name: str = "mobilenet_v2", output: str | None = None) -> int:
    if model_name not in MODELS:
        console.print(f"[red]unknown model {model_name!r}; choose from {sorted(MODELS)}")
        return 2
    console.rule(f"pocketnn demo: {model_name} (224x224, random weights, seed 0)")
    onnx_model = MODELS[model_name]()
    onnx_bytes = onnx_model.SerializeToString()
    console.print(f"built ONNX model in code: {len(onnx_model.graph.node)} nodes, {len(onnx_bytes):,} bytes")
    with tempfile.TemporaryDirectory() as tmp:
        path = output or os.path.join(tmp, f"{model_name}.pnn")
        start = time.perf_counter()
        data = convert(onnx_model, path)
        console.print(f"converted to {path}: {len(data):,} bytes in {time.perf_counter() - start:.2f} s")
        model = Model(path)
        print_inspection_summary(console, model, data)
        report = verify(onnx_model, model, samples=3)
        print_verify_report(console, report)
        x = {i.name: np.random.default_rng(1).standard_normal(i.shape).astype(i.dtype) for i in model.inputs}
        model.run(x)
        console.print(f"pocketnn latency (1 thread, median of 5): {_median_ms(lambda: model.run(x), 5):.1f} ms")
    ok = report.passed(1e-3)
    console.print("[bold green]PASS[/]: matches onnxruntime" if ok else "[bold red]FAIL[/]: outputs differ")
    return 0 if ok else 1
