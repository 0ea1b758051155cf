"""pocketnn: compress ONNX models into compact .pnn files and run them fast on-device.

    import pocketnn
    pocketnn.convert("model.onnx", "model.pnn", input_shapes={"input": (1, 3, 224, 224)})
    m = pocketnn.Model("model.pnn")
    out = m.run({"input": x})

The converter (and with it onnx) is imported on first use of ``convert``, so running
a model needs only numpy and the native extension: ``pip install pocketnn`` is the
runtime; the extras ``[convert]`` and ``[verify]`` add the converter and verify.
"""

from __future__ import annotations

from typing import Any

from pocketnn.errors import PocketnnError, UnsupportedOpError
from pocketnn.runtime import InputError, Model, ModelPathError, NativeError, TensorInfo, runtime_isa, runtime_version

__all__ = [
    "InputError",
    "Model",
    "ModelPathError",
    "NativeError",
    "PocketnnError",
    "TensorInfo",
    "UnsupportedOpError",
    "convert",
    "runtime_isa",
    "runtime_version",
]
__version__ = "0.1.0"  # pyproject.toml's; tests/test_version.py keeps them and the C runtime's equal


def __getattr__(name: str) -> Any:
    if name == "convert":
        from pocketnn.extras import missing_extra

        try:
            from pocketnn.conversion import convert
        except ModuleNotFoundError as exc:
            raise missing_extra(exc, "pocketnn.convert", "convert") or exc
        return convert
    raise AttributeError(f"module 'pocketnn' has no attribute {name!r}")
