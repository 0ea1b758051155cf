"""pocketnn.conversion: ONNX model -> .pnn bytes (import, passes, pack)."""

from __future__ import annotations

import os
from pathlib import Path

from pocketnn.format.writer import write_pnn
from pocketnn.frontend.onnx_import import InputShapes, ModelSource, import_onnx
from pocketnn.passes import run_passes

PRODUCER = "pocketnn"


def convert(model: ModelSource, output: str | os.PathLike[str] | None = None,
            input_shapes: InputShapes | None = None) -> bytes:
    """Converts an ONNX model (path or ModelProto) to .pnn bytes, also written to
    `output` when given. `input_shapes` fixes symbolic input dims (others default to 1)."""
    graph = run_passes(import_onnx(model, input_shapes=input_shapes))
    graph.metadata = {"producer": PRODUCER, **graph.metadata}
    data = write_pnn(graph)
    if output is not None:
        Path(output).write_bytes(data)
    return data
