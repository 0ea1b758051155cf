"""The `pocketnn` command line: convert, run, verify, inspect, demo."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from pocketnn.console import escape, make_console
from pocketnn.errors import PocketnnError
from pocketnn.extras import missing_extra

if TYPE_CHECKING:
    from pocketnn.quantization.joint import JointResult

console = make_console()


def parse_shape_bindings(items: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """``["input=1x3x224x224"]`` -> ``{"input": (1, 3, 224, 224)}``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"--input-shape wants NAME=DxDxD, got {item!r}")
        try:
            shapes[name] = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"--input-shape wants NAME=DxDxD, got {item!r}") from None
    return shapes


def _cmd_convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pocketnn.conversion import convert_model, sparsity_options
    from pocketnn.frontend.bindings import parse_bindings
    from pocketnn.frontend.folding import DEFAULT_MAX_CONSTANT_ELEMENTS
    from pocketnn.sparsity.report import print_sparsity_report

    max_constant_elements = args.max_constant_elements
    if max_constant_elements is None:
        max_constant_elements = DEFAULT_MAX_CONSTANT_ELEMENTS
    elif max_constant_elements < 1:
        raise ValueError(f"--max-constant-elements must be >= 1, got {max_constant_elements}")
    if args.report is not None and args.compress_budget is None:
        raise ValueError("--report writes the front of the --compress-budget search: give --compress-budget")
    options = sparsity_options(args.sparsity, args.sparsity_pattern, args.recipe)
    with warnings.catch_warnings():  # the sparsity report below prints them
        warnings.simplefilter("ignore", UserWarning)
        result = convert_model(args.model, parse_shape_bindings(args.input_shape), options, args.calib,
                               args.quantize, args.calib_method, args.size_budget, args.latency_budget,
                               first_last_int8=not args.int4_first_last,
                               max_constant_elements=max_constant_elements,
                               bind=parse_bindings(args.bind), quiet=args.quiet, rounding=args.rounding,
                               binarize=args.binarize, mst=args.mst, mst_budget=args.mst_budget,
                               keep_names=args.keep_names, compress_budget=args.compress_budget)
    Path(args.output).write_bytes(result.data)
    if result.joint is not None:
        _joint_summary(result.joint, args.report, args.calib, args.model, args.quiet)
    if result.sparsity.layers:
        print_sparsity_report(console, result.sparsity)
    if not args.quiet and (result.mst_budget is not None or result.mst is not None):
        from pocketnn.binary.mst_report import print_budget_report, print_mst_report

        if result.mst_budget is not None:
            print_budget_report(console, result.mst_budget)
        if result.mst is not None and result.mst.layers:
            print_mst_report(console, result.mst)
    console.print(f"wrote {args.output} ({len(result.data):,} bytes)")
    return 0


def _joint_summary(joint: JointResult, report: str | None, calib: str, model: str, quiet: bool) -> None:
    """What --compress-budget chose, and the front page when asked."""
    from pocketnn.progress import reporting

    chosen = joint.chosen
    console.print(f"compress budget {joint.budget:g}: {chosen.file_bytes / joint.fp32_bytes:.4f} of the float32 "
                  f"weights, output error {chosen.error:.3g} as written ({chosen.origin}); layers pruned alone: "
                  f"ILP pick {joint.ilp.error:.3g}, {joint.method} best {joint.found.error:.3g} "
                  f"({len(joint.points)} points)")
    console.print("  " + ", ".join(f"{layer.name}: {option.label}"
                                   for layer, option in zip(joint.layers, joint.options_of(chosen))))
    if report is not None:
        from pocketnn.front_report import write_front_report

        with reporting(quiet):
            write_front_report(report, joint, calib, model)
        console.print(f"wrote {report} (the front of {len(joint.points)} points)")


def _cmd_run(args: argparse.Namespace) -> int:
    from pocketnn.runtime import Model

    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    max_memory = None if args.max_memory is None else int(args.max_memory * (1 << 20))
    model = Model(args.model, threads=args.threads, profile=args.profile, max_memory=max_memory, isa=args.isa)
    feeds: dict[str, np.ndarray] = {}
    for item in args.input:
        name, sep, path = item.partition("=")
        if not sep:
            if len(model.inputs) != 1:
                raise PocketnnError("--input wants NAME=file.npy when the model has several inputs")
            name, path = model.inputs[0].name, item
        feeds[name] = np.load(path)
    if not args.input:
        # Timing and profiling need no real data: seeded random inputs, said out loud.
        rng = np.random.default_rng(0)
        feeds = {i.name: rng.standard_normal(i.shape).astype(i.dtype) for i in model.inputs}
        console.print("no --input given: random normal inputs (seed 0)")
    outputs = model.run(feeds, cast=args.cast)
    for _ in range(args.repeat - 1):
        model.run(feeds, cast=args.cast)
    if args.profile:
        from pocketnn.report import print_profile

        print_profile(console, model)
    if args.output:
        np.savez(args.output, **outputs)
        console.print(f"wrote {args.output}")
    for name, value in outputs.items():
        console.print(f"{name}: shape {value.shape}, min {value.min():.6g}, max {value.max():.6g}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from pocketnn.report import print_verify_report
    from pocketnn.verify import verify

    inputs = dict(np.load(args.inputs)) if args.inputs else None
    labels = np.load(args.labels) if args.labels else None
    report = verify(args.onnx_model, args.model, inputs=inputs, samples=args.samples, labels=labels)
    print_verify_report(console, report)
    failures = report.failures(args.rtol, args.min_cosine, args.min_sqnr)
    for line in failures:
        console.print(f"[bold red]{line}[/]", highlight=False)
    if not failures:
        console.print("[bold green]PASS[/]")
    return 1 if failures else 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from pocketnn.report import print_inspection

    print_inspection(console, args.model)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pocketnn.demo import run_demo

    return run_demo(console, args.model, args.output)


class _PrintVersion(argparse.Action):
    """--version as one unwrapped line (argparse's own action wraps it to the terminal)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(_version_text())
        parser.exit()


def _version_text() -> str:
    import pocketnn
    from pocketnn.format.spec import VERSION_MAJOR, VERSION_MINOR
    from pocketnn.runtime import runtime_isa, runtime_version

    return (f"pocketnn {pocketnn.__version__} (native runtime {runtime_version()}, .pnn format "
            f"{VERSION_MAJOR}.{VERSION_MINOR}, kernels on this CPU: {runtime_isa()})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pocketnn", description=__doc__)
    parser.add_argument("--version", action=_PrintVersion, nargs=0, help="show the versions and the kernel path, then exit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="ONNX -> .pnn")
    p.add_argument("model", help="input .onnx file")
    p.add_argument("-o", "--output", required=True, help="output .pnn file")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=DxD...",
                   help="bind an input's shape (symbolic dims default to 1)")
    p.add_argument("--sparsity", type=float, metavar="S",
                   help="prune every group-1 Conv and Gemm/MatMul but the first conv to this fraction "
                        "of zeros overall (e.g. 0.7), with --calib shared out between the layers by measured "
                        "sensitivity (recipe \"allocation\": \"uniform\" for S everywhere; \"scope\": "
                        "\"pointwise\" for 1x1 convs and Gemm only)")
    p.add_argument("--sparsity-pattern", default="auto", choices=["auto", "1", "2", "4", "8"],
                   help="output channels per group sharing one input mask; auto: per layer from "
                        "measured speed (default auto)")
    p.add_argument("--calib", metavar="CALIB.npz",
                   help="calibration inputs (.npz: per input name, N samples along the batch axis): "
                        "activation ranges for --quantize; least-squares reconstruction after pruning")
    p.add_argument("--quantize", choices=["int8", "int4", "mixed"],
                   help="integer model (needs --calib, 100-500 samples): int8, int4 weights except "
                        "the first and last weighted layers, or mixed: int4/int8 per layer within "
                        "--size-budget / --latency-budget")
    p.add_argument("--size-budget", type=float, default=0.5, metavar="F",
                   help="--quantize mixed: weight bytes at most this fraction of all-int8's (default 0.5)")
    p.add_argument("--latency-budget", type=float, metavar="F",
                   help="--quantize mixed / --compress-budget: measured latency at most this fraction of all-int8's")
    p.add_argument("--int4-first-last", action="store_true",
                   help="--quantize mixed: let the first and last weighted layers be int4 too (by "
                        "default they stay int8, the most sensitive ones); needed for budgets below "
                        "what the other layers alone can save")
    p.add_argument("--compress-budget", type=float, metavar="F",
                   help="choose every layer's sparsity (0/50/70/90%%) and bits (int4/int8) together so the "
                        ".pnn is at most this fraction of the float32 weights' bytes (e.g. 0.15; needs --calib, "
                        "replaces --quantize / --sparsity; with --latency-budget also the measured layer "
                        "latency at most that fraction of int8's)")
    p.add_argument("--report", metavar="FRONT.html",
                   help="--compress-budget: write the accuracy / size / latency front of every point the "
                        "search evaluated, the chosen one marked, as a self-contained HTML page (accuracy "
                        "when --calib has a 'labels' array, else top-1 agreement with the float model)")
    p.add_argument("--calib-method", default="percentile", choices=["percentile", "mse", "minmax"],
                   help="how --quantize picks activation ranges from --calib (default percentile)")
    p.add_argument("--recipe", metavar="RECIPE.json", help="per-layer sparsity targets (docs/SPARSITY.md)")
    p.add_argument("--rounding", choices=("auto", "gptq", "nearest"), default="auto",
                   help="--quantize: how weights become integers: gptq (against the Hessian of each "
                        "layer's calibration inputs, with bias correction), nearest, or auto (default: "
                        "gptq for int4 and mixed, nearest for int8)")
    p.add_argument("--binarize", choices=("auto", "off"), default="auto",
                   help="binary layers (docs/BINARY.md) as 1-bit BConv2d/BGemm (auto, default) or kept in "
                        "float (off; also keeps ONNX Sign(0) = 0 exact)")
    p.add_argument("--mst", choices=("auto", "on", "off"),
                   help="binary layers: time the plain and the tree-delta (MST) kernels on this machine and "
                        "record the faster (auto), the tree wherever valid (on) or plain (off); default: "
                        "nothing recorded, the runtime decides at load (docs/BINARY.md)")
    p.add_argument("--mst-budget", type=float, metavar="POINTS",
                   help="binary layers with latent float weights: flip the cheapest bits so child "
                        "channels repeat their parent's 64-bit words, keeping --calib accuracy (its "
                        "'labels' array) or top-1 agreement within POINTS percentage points; implies "
                        "--mst auto unless given")
    p.add_argument("--keep-names", action="store_true",
                   help="store every tensor's name (default: only the graph inputs' and outputs'; the "
                        "others are stored under their id, which saves about 20 bytes each)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress display (shown on stderr for steps over about a second, when it is a terminal)")
    p.add_argument("--bind", action="append", default=[], metavar="NAME=VALUE",
                   help="freeze a graph input to a value (a number, or V1,V2,... in its declared shape): "
                        "it leaves the model's inputs and what depends on it folds, an If on it included")
    p.add_argument("--max-constant-elements", type=int, metavar="N",
                   help="largest tensor constant folding may make (default 2^27 elements); a bigger one "
                        "is left to the runtime or refused naming the node")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("run", help="run a .pnn model on .npy inputs")
    p.add_argument("model")
    p.add_argument("--input", action="append", default=[], metavar="NAME=file.npy")
    p.add_argument("--output", help="write the outputs to this .npz")
    p.add_argument("--threads", type=int, default=1, help="native threads (default 1)")
    p.add_argument("--repeat", type=int, default=1, help="run this many times (default 1)")
    p.add_argument("--profile", action="store_true", help="time every node; print the slowest and a summary")
    p.add_argument("--cast", action="store_true",
                   help="convert .npy inputs to the model's dtype and reshape same-size arrays to its shape "
                        "(by default a dtype or shape that differs is an error)")
    p.add_argument("--max-memory", type=float, metavar="MIB",
                   help="refuse a model needing more than this many MiB of activations and scratch "
                        "(default 1024)")
    p.add_argument("--isa", help="cap the kernels to an instruction set: scalar, avx2, avx512, neon "
                                 "(default: the best this CPU has, or $PNN_ISA)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("verify", help="compare a .pnn against its ONNX model in onnxruntime")
    p.add_argument("onnx_model")
    p.add_argument("model")
    p.add_argument("--inputs", help=".npz: per input name, N samples concatenated along the batch axis")
    p.add_argument("--labels", help=".npy of N integer labels (adds accuracy)")
    p.add_argument("--samples", type=int, default=4, help="random samples when --inputs is absent")
    p.add_argument("--rtol", type=float, default=1e-3,
                   help="max relative error for exit status 0 (float models)")
    p.add_argument("--min-cosine", type=float, default=0.99,
                   help="quantized models: least cosine similarity of each output of >= 16 values per sample")
    p.add_argument("--min-sqnr", type=float, default=15.0, metavar="DB",
                   help="quantized models: least SQNR of each smaller output (a score, a probability)")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("inspect", help="ops, tensors, sizes and memory plan of a .pnn")
    p.add_argument("model")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("demo", help="build a MobileNet, convert it, verify it against onnxruntime")
    p.add_argument("--model", default="mobilenet_v2", help="mobilenet_v1, mobilenet_v2 or resnet18")
    p.add_argument("--output", help="keep the .pnn here")
    p.set_defaults(func=_cmd_demo)
    return parser


# The pyproject.toml extra each command needs beyond the runtime (run, inspect: none).
_EXTRA_OF_COMMAND = {"convert": "convert", "verify": "verify", "demo": "all"}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        try:
            return int(args.func(args))
        except ModuleNotFoundError as exc:
            raise missing_extra(exc, f"pocketnn {args.command}", _EXTRA_OF_COMMAND.get(args.command, "all")) or exc
    except (PocketnnError, ValueError, OSError) as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
