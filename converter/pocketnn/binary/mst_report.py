"""The tables `pocketnn convert` prints for --mst and --mst-budget."""

from __future__ import annotations

from pocketnn.binary.mst_budget import BudgetReport
from pocketnn.binary.mst_choice import MstReport
from pocketnn.console import Console, print_table

MST_COLUMNS = ("layer", "op", "bit-op saving", "words touched", "roots", "ms plain", "ms mst", "mst / plain",
               "choice")


def print_mst_report(console: Console, report: MstReport) -> None:
    rows = [[layer.node, layer.op, *layer.cells()] for layer in report.layers]
    print_table(console, f"MST per binary layer (--mst {report.mode}; 1 thread, thread CPU time, medians)",
                MST_COLUMNS, rows, right=MST_COLUMNS[2:8])


def print_budget_report(console: Console, report: BudgetReport) -> None:
    rows = [[layer.node, f"{layer.words_touched_before:.1%}", f"{layer.words_touched_after:.1%}",
             str(layer.bits_flipped)] for layer in report.layers]
    print_table(console, f"MST bit flipping within {report.points:g} points",
                ("layer", "words touched before", "after", "bits flipped"), rows,
                right=("words touched before", "after", "bits flipped"))
    console.print(f"{report.words_flipped} of {report.candidates} child words made equal to their parent's; "
                  f"calibration {report.metric} on {report.samples} samples {report.score_before:.2f}% -> "
                  f"{report.score_after:.2f}%")
    if report.ms_before is not None and report.ms_after is not None:
        console.print(f"whole model, 1 thread: {report.ms_before:.4f} ms before, {report.ms_after:.4f} ms after "
                      f"(x{report.ms_after / report.ms_before:.3f}; thread CPU time, interleaved medians)")
