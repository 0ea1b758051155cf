"""Errors raised by the converter. Every conversion problem is a PocketnnError."""

from __future__ import annotations


class PocketnnError(Exception):
    """Base class of every error the converter raises on purpose."""


class UnsupportedOpError(PocketnnError):
    """An ONNX op, attribute value or data type that pocketnn cannot represent."""


class ShapeError(PocketnnError):
    """A tensor whose shape or type could not be made static."""


class ModelError(PocketnnError):
    """The model itself is malformed or outside the supported opset range."""


class LimitError(PocketnnError):
    """The conversion would exceed a size limit (a constant too large to fold, a
    dimension outside the .pnn range); the message names the node, shape and limit."""
