"""pocketnn: compress ONNX models into compact .pnn files and run them fast on-device.

    import pocketnn
    pocketnn.convert("model.onnx", "model.pnn", input_shapes={"input": (1, 3, 224, 224)})
    m = pocketnn.Model("model.pnn")
    out = m.run({"input": x})
"""

from pocketnn.convert import convert
from pocketnn.errors import PocketnnError, UnsupportedOpError
from pocketnn.runtime import Model, NativeError, TensorInfo

__all__ = [
    "Model",
    "PocketnnError",
    "NativeError",
    "TensorInfo",
    "UnsupportedOpError",
    "convert",
]
__version__ = "0.1.0"
