"""The accuracy / size / latency front of a joint sparsity/bits search
(quantization.joint), as a self-contained HTML page (`pocketnn convert --compress-budget F
--report front.html`).

Every point the search evaluated is measured again on the calibration data: accuracy
when the data carries a 'labels' array (else top-1 agreement with the float model) and
the outputs' SQNR against the float model, on up to FRONT_SAMPLES samples; the packed
file's size; the latency of one run (thread CPU time, medians of runs interleaved over
all the points so that a loaded machine slows them alike). The plots are SVG written
here: no plotting library is needed.
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pocketnn.format.writer import write_pnn
from pocketnn.progress import step
from pocketnn.quantization.joint import JointResult, Point
from pocketnn.sparsity.calibration import CalibSource, load_calibration

FRONT_SAMPLES = 256
LABELS = "labels"


@dataclass(frozen=True)
class FrontRow:
    point: Point
    options: str            # per-layer options, e.g. "int8 70%, int4, ..."
    size_fraction: float    # file bytes / float32 weight bytes
    score: float            # accuracy or top-1 agreement, 0..1
    sqnr_db: float
    latency_ms: float
    on_front: bool          # no other point is at least as good on error, size and latency and better on one
    chosen: bool


def _labels(calib: CalibSource) -> np.ndarray | None:
    if isinstance(calib, Mapping):
        labels = calib.get(LABELS)
        return None if labels is None else np.asarray(labels).reshape(-1)
    with np.load(calib) as data:
        return data[LABELS].reshape(-1) if LABELS in data.files else None


def dominated(values: Sequence[tuple[float, ...]], index: int) -> bool:
    """Whether another entry is <= values[index] everywhere and < somewhere (all minimized)."""
    mine = values[index]
    return any(all(a <= b for a, b in zip(other, mine)) and other != mine
               for j, other in enumerate(values) if j != index)


def _run_all(data: bytes, feeds: Sequence[dict[str, np.ndarray]], output: str) -> np.ndarray:
    from pocketnn.runtime import Model

    model = Model(data)
    return np.concatenate([np.asarray(model.run(feed)[output], np.float64).reshape(len(feed[next(iter(feed))]), -1)
                           for feed in feeds])


def _latencies(models: Sequence[bytes], feed: dict[str, np.ndarray]) -> list[float]:
    from pocketnn.runtime import Model
    from pocketnn.sparsity.timing import interleaved_medians

    loaded = [Model(data) for data in models]
    runs: list[Callable[[], None]] = [lambda m=m: m.run(feed) and None for m in loaded]
    return interleaved_medians(runs, rounds=9, budget_s=0.05 * len(runs), sample_s=2e-3, clock=time.thread_time)


def measure_front(result: JointResult, calib: CalibSource) -> list[FrontRow]:
    """Every visited point of `result` measured (module doc)."""
    float_graph = result.float_graph
    feeds = load_calibration(calib, float_graph)
    batch = max(1, float_graph.tensors[float_graph.inputs[0]].shape[0] if float_graph.tensors[
        float_graph.inputs[0]].shape else 1)
    feeds = feeds[:max(1, FRONT_SAMPLES // batch)]
    output = float_graph.outputs[0]
    reference = _run_all(write_pnn(float_graph), feeds, output)
    labels = _labels(calib)
    if labels is not None:
        labels = labels[:reference.shape[0]]
    expected = labels if labels is not None else reference.argmax(axis=1)
    packed, scores, sqnrs = [], [], []
    with step("front report: measuring the visited points", total=len(result.points)) as advance:
        for point in result.points:
            data = write_pnn(result.build(point))
            out = _run_all(data, feeds, output)
            packed.append(data)
            scores.append(float(np.mean(out.argmax(axis=1) == expected)))
            noise = float(np.sum((out - reference) ** 2))
            sqnrs.append(10 * math.log10(float(np.sum(reference ** 2)) / noise) if noise > 0 else math.inf)
            advance()
    with step("front report: timing the visited points"):
        seconds = _latencies(packed, feeds[0])
    objectives = [(p.error, float(p.file_bytes), s) for p, s in zip(result.points, seconds)]
    return [FrontRow(p, ", ".join(o.label for o in result.options_of(p)), p.file_bytes / result.fp32_bytes,
                     score, sqnr, s * 1e3, not dominated(objectives, i), p == result.chosen)
            for i, (p, score, sqnr, s) in enumerate(zip(result.points, scores, sqnrs, seconds))]


# The plots: two panels sharing the score axis.
_W, _H, _PAD = 420, 300, 48


def _ticks(low: float, high: float) -> list[float]:
    step_ = 10 ** math.floor(math.log10(max(high - low, 1e-12)))
    for m in (1, 2, 5, 10):
        if (high - low) / (step_ * m) <= 6:
            step_ *= m
            break
    first = math.ceil(low / step_) * step_
    return [first + i * step_ for i in range(int((high - first) / step_ + 1e-9) + 1)]


def _panel(rows: Sequence[FrontRow], x_of: Callable[[FrontRow], float], x_label: str, y_label: str,
           x_line: float | None) -> str:
    xs = [x_of(r) for r in rows] + ([x_line] if x_line is not None else [])
    ys = [r.score for r in rows]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x0, x1 = (x0 - 0.05 * (x1 - x0 or 1), x1 + 0.05 * (x1 - x0 or 1))
    y0, y1 = (y0 - 0.05 * (y1 - y0 or 0.02), y1 + 0.05 * (y1 - y0 or 0.02))

    def sx(v: float) -> float:
        return _PAD + (v - x0) / (x1 - x0) * (_W - 1.5 * _PAD)

    def sy(v: float) -> float:
        return _H - _PAD - (v - y0) / (y1 - y0) * (_H - 1.5 * _PAD)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}">',
             f'<rect x="{_PAD}" y="{_PAD / 2}" width="{_W - 1.5 * _PAD}" height="{_H - 1.5 * _PAD}" '
             'fill="none" stroke="#888"/>']
    for t in _ticks(x0, x1):
        parts.append(f'<text x="{sx(t):.1f}" y="{_H - _PAD + 14}" font-size="10" text-anchor="middle">{t:g}</text>')
    for t in _ticks(y0, y1):
        parts.append(f'<text x="{_PAD - 4}" y="{sy(t) + 3:.1f}" font-size="10" text-anchor="end">{t:.3g}</text>')
    parts.append(f'<text x="{_PAD + (_W - 1.5 * _PAD) / 2}" y="{_H - 8}" font-size="11" '
                 f'text-anchor="middle">{html.escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{_H / 2}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {_H / 2})">{html.escape(y_label)}</text>')
    if x_line is not None:
        parts.append(f'<line x1="{sx(x_line):.1f}" y1="{_PAD / 2}" x2="{sx(x_line):.1f}" y2="{_H - _PAD}" '
                     'stroke="#c60" stroke-dasharray="4 3"><title>budget</title></line>')
    for i, r in sorted(enumerate(rows), key=lambda item: (item[1].chosen, item[1].on_front)):
        color = "#d00" if r.chosen else ("#1f5fbf" if r.on_front else "#aaa")
        radius = 6 if r.chosen else 3.5
        parts.append(f'<circle data-point="{i}" cx="{sx(x_of(r)):.1f}" cy="{sy(r.score):.1f}" r="{radius}" '
                     f'fill="{color}" fill-opacity="0.8"><title>#{i} {html.escape(r.point.origin)}: '
                     f'{html.escape(r.options)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def front_html(rows: Sequence[FrontRow], result: JointResult, score_name: str, model_name: str) -> str:
    """The page: both plots and the table of every point."""
    chosen = next(r for r in rows if r.chosen)
    head = ("<tr><th>#</th><th>origin</th><th>file / fp32 weights</th><th>file bytes</th>"
            f"<th>{html.escape(score_name)}</th><th>SQNR (dB)</th><th>latency (ms)</th><th>output error</th>"
            "<th>front</th><th>per-layer options</th></tr>")
    body = []
    for i, r in enumerate(rows):
        style = ' style="background:#fdd;font-weight:bold"' if r.chosen else ""
        body.append(f'<tr data-point="{i}"{style}><td>{i}</td><td>{html.escape(r.point.origin)}'
                    f'{" (chosen)" if r.chosen else ""}</td><td>{r.size_fraction:.4f}</td>'
                    f"<td>{r.point.file_bytes:,}</td><td>{r.score:.4f}</td><td>{r.sqnr_db:.1f}</td>"
                    f"<td>{r.latency_ms:.3f}</td><td>{r.point.error:.3g}</td><td>{'yes' if r.on_front else ''}</td>"
                    f"<td>{html.escape(r.options)}</td></tr>")
    gain = (f"with layers pruned alone the {result.method} refinement lowered the ILP pick's output error from "
            f"{result.ilp.error:.3g} to {result.found.error:.3g}" if result.found.error < result.ilp.error
            else f"with layers pruned alone the {result.method} refinement found no point better than the ILP's "
                 f"pick (output error {result.ilp.error:.3g})")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>pocketnn front: {html.escape(model_name)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:last-child{text-align:left}</style>",
        "</head><body>",
        f"<h1>Accuracy / size / latency front: {html.escape(model_name)}</h1>",
        f"<p>Compress budget {result.budget:g} of the float32 weights ({result.fp32_bytes:,} bytes). "
        f"{len(rows)} points visited; {gain}. Written (red): the {html.escape(chosen.point.origin)} point"
        f"{', pruned sequentially and recalibrated' if chosen.point.refit else ', layers pruned alone'}, "
        f"output error {chosen.point.error:.3g}, {chosen.size_fraction:.4f} of the "
        f"float32 weights, {html.escape(score_name)} {chosen.score:.4f}, {chosen.latency_ms:.3f} ms. "
        "Blue: on the front (error, size, latency); grey: dominated.</p>",
        _panel(rows, lambda r: r.size_fraction, "file / float32 weights", score_name, result.budget),
        _panel(rows, lambda r: r.latency_ms, "latency (ms, thread CPU)", score_name, None),
        f"<table><thead>{head}</thead><tbody>", *body, "</tbody></table>", "</body></html>"])


def write_front_report(path: str | os.PathLike[str], result: JointResult, calib: CalibSource,
                       model_name: str) -> list[FrontRow]:
    """Measures the front (measure_front) and writes the page to `path`; the rows."""
    rows = measure_front(result, calib)
    score_name = "accuracy" if _labels(calib) is not None else "top-1 agreement with float"
    with open(path, "w", encoding="utf-8") as f:
        f.write(front_html(rows, result, score_name, model_name))
    return rows
