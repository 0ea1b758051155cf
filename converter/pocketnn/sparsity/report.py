"""The per-layer sparsity table `pocketnn convert` prints."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pocketnn.sparsity.pipeline import SparsityReport


def print_sparsity_report(console: Console, report: SparsityReport) -> None:
    table = Table(title="sparsity", title_justify="left")
    for column in ("layer", "kind", "shape", "zeros", "G", "error before -> after", "why"):
        table.add_column(column)
    for r in report.layers:
        error = "" if r.error_before is None else f"{r.error_before:.3f} -> {r.error_after:.3f}"
        table.add_row(r.node, r.kind, f"{r.rows}x{r.cols}", f"{r.sparsity:.1%}", str(r.group or "dense"), error,
                      r.reason)
    console.print(table)
    if any(r.reason.startswith("pruned") for r in report.layers):
        console.print(f"pruned layers: {report.pruned_fraction:.1%} of their weights are zero")
    if report.permuted:
        console.print(f"channels rearranged at {len(report.permuted)} layer(s)")
    if report.refitted:
        console.print(f"dense layers refitted downstream: {len(report.refitted)}")
    for message in report.warnings:
        console.print(f"[yellow]warning:[/] {message}", highlight=False)
