"""ONNX front end: load, make shapes static, fold constants, lower to pocketnn ops."""

from pocketnn.frontend.onnx_import import import_onnx, load_model

__all__ = ["import_onnx", "load_model"]
