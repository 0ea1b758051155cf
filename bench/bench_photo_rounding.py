"""Weight rounding on a 224x224 reference model and real photos (issue 14): agreement of
int8 and mixed int4/int8 with the float model, round to nearest against GPTQ, each with
bias correction off and on (docs/QUANTIZATION.md, "Weight rounding").

The reference models have random weights, so this measures agreement with the float
model, not accuracy: worst cosine, SQNR and top-1 agreement (pocketnn.verify) on
held-out scikit-image photo crops (bench_int8.photo_crops, photos the calibration never
sees). Mixed uses bench_int8's size budget for a .pnn of at most --mixed-target x the
float ONNX file. Calibration: percentile (the default), --calib crops.

    python bench/bench_photo_rounding.py [--model mobilenet_v1] [--calib 16] [--eval 16]
"""

from __future__ import annotations

import argparse
import time

import onnx
from bench_int8 import CALIB_PHOTOS, EVAL_PHOTOS, mixed_budget, photo_crops
from bench_quant_methods import METHODS

from pocketnn.conversion import convert_model
from pocketnn.format.writer import write_pnn
from pocketnn.frontend.onnx_import import import_onnx
from pocketnn.passes import run_passes
from pocketnn.quantization.mixed import quantize_mixed
from pocketnn.quantization.quantize_graph import quantize_static
from pocketnn.reference_models import MODELS
from pocketnn.verify import verify

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilenet_v1", choices=sorted(MODELS))
    parser.add_argument("--calib", type=int, default=16)
    parser.add_argument("--eval", type=int, default=16)
    parser.add_argument("--mixed-target", type=float, default=0.16)
    args = parser.parse_args()
    model = MODELS[args.model]()
    float_size = len(model.SerializeToString())
    calib = {"input": photo_crops(CALIB_PHOTOS, args.calib, seed=0)}
    held_out = {"input": photo_crops(EVAL_PHOTOS, args.eval, seed=1)}
    graph = run_passes(import_onnx(onnx.load_from_string(model.SerializeToString())))
    int8_packed = convert_model(onnx.load_from_string(model.SerializeToString()), quantize="int8", calib=calib,
                                quiet=True).data
    budget, first_last_int8 = mixed_budget(int8_packed, float_size, args.mixed_target)
    builds = {
        "int8": lambda r, b: quantize_static(graph, calib, "int8", rounding=r, bias_correction=b),
        f"mixed, size budget {budget:.3f}": lambda r, b: quantize_mixed(
            graph, calib, budget, first_last_int8=first_last_int8, rounding=r, bias_correction=b)[0],
    }
    print(f"{args.model}: {args.calib} calibration crops, {args.eval} held-out crops; "
          f"worst cosine / SQNR dB / top-1 agreement with float; CPU seconds of the quantization")
    print("| configuration | method | .pnn / ONNX | worst cosine | SQNR | top-1 agreement | CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, build in builds.items():
        for method, (rounding, bias_correction) in METHODS.items():
            start = time.process_time()
            data = write_pnn(build(rounding, bias_correction))
            seconds = time.process_time() - start
            report = verify(model, data, held_out).outputs[0]
            print(f"| {label} | {method} | {len(data) / float_size:.3f}x | {report.cosine:.4f} | "
                  f"{report.sqnr_db:.1f} dB | {report.top1_agreement:.2f} | {seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
