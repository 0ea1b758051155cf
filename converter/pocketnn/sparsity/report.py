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
    if report.allocation_errors:
        print_allocation(console, report)
    if report.permuted:
        console.print(f"channels rearranged at {len(report.permuted)} layer(s)")
    if report.refitted:
        console.print(f"dense layers refitted downstream: {len(report.refitted)}")
    for message in report.warnings:
        console.print(f"[yellow]warning:[/] {message}", highlight=False)


def print_allocation(console: Console, report: SparsityReport) -> None:
    """Allocation "sensitivity": each layer's measured output error per candidate
    sparsity, the chosen one in bold."""
    chosen = {r.node: r.sparsity for r in report.layers}
    candidates = sorted({s for errors in report.allocation_errors.values() for s in errors})
    table = Table(title="sparsity allocation: model output error with the layer alone pruned", title_justify="left")
    table.add_column("layer")
    for s in candidates:
        table.add_column(f"{s:.0%}", justify="right")
    for node, errors in report.allocation_errors.items():
        best = min(candidates, key=lambda s: abs(s - chosen.get(node, -1.0)))
        table.add_row(node, *(("[bold]" if s == best else "") + f"{errors[s]:.2e}" if s in errors else ""
                              for s in candidates))
    console.print(table)
