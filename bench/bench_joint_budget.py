"""--compress-budget on both digits CNNs (docs/BENCHMARKS.md, "Joint sparsity/bits search
under a file budget"): per budget, held-out accuracy, file against the ONNX, the ILP's and
the evolution's errors (layers pruned alone), the written picks' errors, the per-layer
choice and the conversion's CPU time (time.process_time).

    python bench/bench_joint_budget.py 0.12 0.15 0.17 0.2
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pocketnn
from pocketnn.conversion import convert_model
from pocketnn.datasets import accuracy, load_digits_fixture
from pocketnn.quantization.activations import QuantizationError

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def main(budgets: list[float]) -> None:
    images, labels = load_digits_fixture("test", FIXTURES)
    calib, _ = load_digits_fixture("calib", FIXTURES)
    for name in ("digits_cnn", "digits_conv3x3"):
        model = FIXTURES / f"{name}.onnx"
        for budget in budgets:
            start = time.process_time()
            try:
                result = convert_model(str(model), calib={"input": calib}, quiet=True, compress_budget=budget)
            except QuantizationError as exc:
                print(f"| {name} | {budget} | {exc} |", flush=True)
                continue
            cpu = time.process_time() - start
            runner = pocketnn.Model(result.data)
            acc = accuracy(lambda x: runner.run({"input": x})["logits"], images, labels)
            joint = result.joint
            assert joint is not None
            written = ", ".join(f"{p.origin} {p.error:.3g}" for p in joint.points if p.refit)
            picks = ", ".join(o.label for o in joint.options_of(joint.chosen))
            print(f"| {name} | {budget} | {acc:.1%} | {len(result.data) / model.stat().st_size:.3f}x | "
                  f"{joint.ilp.error:.3g} -> {joint.found.error:.3g} ({joint.method}) | {written} | "
                  f"{joint.chosen.origin} | {picks} | {cpu:.1f} s |", flush=True)


if __name__ == "__main__":
    main([float(b) for b in sys.argv[1:]] or [0.12, 0.15, 0.17, 0.2])
