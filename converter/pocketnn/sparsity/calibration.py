"""Calibration data, and layer inputs captured by running the float model in pocketnn.

The calibration file (shared with quantization, issue 5): an ``.npz`` whose keys are the
model's input names, each array holding N samples concatenated along the batch axis
(an input of shape 1x3x224x224 takes an array N x 3 x 224 x 224); ``calib=`` in Python
also takes a dict of such arrays.

Activations come from pocketnn itself: the graph (weights stored dense) is packed with
the wanted intermediate tensors as extra graph outputs and run batch by batch. So every
op the runtime supports is supported here, and no second engine is involved.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Union

import numpy as np

from pocketnn.errors import PocketnnError
from pocketnn.ir import Graph
from pocketnn.passes.graph_utils import copy_graph

CalibSource = Union[str, "os.PathLike[str]", Mapping[str, np.ndarray]]


class CalibrationError(PocketnnError, ValueError):
    """Calibration data that does not fit the model."""


def _describe(graph: Graph) -> str:
    return ", ".join(f"{n!r}: N x {' x '.join(map(str, graph.tensors[n].shape[1:]))}" for n in graph.inputs)


def load_calibration(calib: CalibSource, graph: Graph) -> list[dict[str, np.ndarray]]:
    """Feeds of the graph's input shapes (the model's batch size per feed)."""
    if isinstance(calib, Mapping):
        arrays = {k: np.asarray(v) for k, v in calib.items()}
    else:
        path = Path(calib)
        try:
            with np.load(path) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"cannot read calibration file {path}: {exc} (want an .npz whose "
                                   f"keys are the model's input names: {_describe(graph)})") from exc
    missing = [n for n in graph.inputs if n not in arrays]
    if missing:
        raise CalibrationError(f"calibration data lacks input(s) {missing}; it has {sorted(arrays)}; "
                               f"want per input N samples along the batch axis: {_describe(graph)}")
    counts = set()
    for name in graph.inputs:
        shape = graph.tensors[name].shape
        a = arrays[name]
        if a.ndim != len(shape) or tuple(a.shape[1:]) != tuple(shape[1:]) or a.shape[0] % max(1, shape[0]):
            raise CalibrationError(f"calibration input {name!r} has shape {a.shape}; want N x "
                                   f"{' x '.join(map(str, shape[1:]))} with N a multiple of the "
                                   f"model's batch size {shape[0]}")
        counts.add(a.shape[0] // max(1, shape[0]))
    if len(counts) != 1 or 0 in counts:
        raise CalibrationError(f"calibration inputs hold different or zero sample counts: "
                               f"{ {n: arrays[n].shape[0] for n in graph.inputs} }")
    (batches,) = counts
    feeds = []
    for b in range(batches):
        feeds.append({n: np.ascontiguousarray(arrays[n][b * graph.tensors[n].shape[0]:
                                                        (b + 1) * graph.tensors[n].shape[0]], np.float32)
                      for n in graph.inputs})
    return feeds


def dense_copy(graph: Graph) -> Graph:
    """The graph with every weight stored dense (runs before the runtime reads sparse)."""
    g = copy_graph(graph)
    for t in g.tensors.values():
        t.sparse_group = 0
    return g


def capture(graph: Graph, tensors: list[str], feeds: list[dict[str, np.ndarray]]
            ) -> Iterator[dict[str, np.ndarray]]:
    """For each feed, the values of `tensors` (float32), by running the graph in pocketnn
    (graph inputs among them: the feed's own values)."""
    from pocketnn.format.writer import write_pnn
    from pocketnn.runtime import Model

    g = dense_copy(graph)
    g.outputs = list(dict.fromkeys(list(g.outputs) + [name for name in tensors if name not in graph.inputs]))
    model = Model(write_pnn(g))
    for feed in feeds:
        out = model.run(feed)
        yield {name: feed[name] if name in graph.inputs else out[name] for name in tensors}
