"""--compress-budget on both digits CNNs (docs/BENCHMARKS.md, "Joint sparsity/bits search
under a file budget"): per budget, held-out accuracy, file against the ONNX, the ILP's and
the evolution's errors (layers pruned alone), the written picks' errors, the per-layer
choice and the conversion's CPU time (time.process_time).

    python bench/bench_joint_budget.py 0.12 0.15 0.17 0.2

With --model NAME (a 224x224 reference model, random weights) the same search runs on
scikit-image photo crops (bench_int8.photo_crops; --calib of them, 16 by default) and
is measured against the float model on --eval held-out crops (pocketnn.verify: worst
cosine, SQNR, top-1 agreement), beside `--sparsity 0.7 --quantize int8` on the same data.
It prints the front (every evaluated point: origin, error, file against the ONNX).

    python bench/bench_joint_budget.py --model mobilenet_v1 0.1
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


def photos(name: str, budgets: list[float], calib_count: int, eval_count: int) -> None:
    import onnx
    from bench_int8 import CALIB_PHOTOS, EVAL_PHOTOS, photo_crops
    from pocketnn.reference_models import MODELS
    from pocketnn.verify import verify

    model = MODELS[name]()
    onnx_bytes = len(model.SerializeToString())
    calib = {"input": photo_crops(CALIB_PHOTOS, calib_count, seed=0)}
    held_out = {"input": photo_crops(EVAL_PHOTOS, eval_count, seed=1)}

    def agreement(data: bytes) -> str:
        report = verify(model, data, held_out).outputs[0]
        return f"{report.cosine:.4f} / {report.sqnr_db:.1f} dB / {report.top1_agreement:.2f}"

    for budget in budgets:
        start = time.process_time()
        result = convert_model(onnx.load_from_string(model.SerializeToString()), calib=calib, quiet=True,
                               compress_budget=budget)
        cpu = time.process_time() - start
        joint = result.joint
        assert joint is not None
        print(f"| {name} | budget {budget} | {len(result.data) / onnx_bytes:.3f}x | {agreement(result.data)} | "
              f"{joint.chosen.origin} ({joint.method}) | {cpu:.0f} s CPU |", flush=True)
        for point in sorted(joint.points, key=lambda p: p.file_bytes):
            print(f"|  | {point.origin} | error {point.error:.4g} | {point.file_bytes / onnx_bytes:.3f}x |")
    start = time.process_time()
    data = pocketnn.convert(model, sparsity=0.7, quantize="int8", calib=calib, quiet=True)
    print(f"| {name} | --sparsity 0.7 --quantize int8 | {len(data) / onnx_bytes:.3f}x | {agreement(data)} | | "
          f"{time.process_time() - start:.0f} s CPU |", flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--model"]:
        photos(arguments[1], [float(b) for b in arguments[2:]] or [0.1], 16, 16)
    else:
        main([float(b) for b in arguments] or [0.12, 0.15, 0.17, 0.2])
