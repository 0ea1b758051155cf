"""Graph inputs bound to values at convert time (`pocketnn convert --bind sr=16000`):
parsing them from the command line, and recording them in the .pnn's metadata
("bound_inputs") so that `pocketnn verify` feeds onnxruntime the same values."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np

# Bound values up to this many elements are recorded in the metadata; bigger ones are not.
RECORDED_BINDING_ELEMENTS = 4096


def bindings_metadata(bound: Mapping[str, np.ndarray]) -> str:
    """JSON of the bound inputs small enough to record: name -> dtype, shape, values."""
    return json.dumps({name: {"dtype": value.dtype.name, "shape": list(value.shape),
                              "values": value.ravel().tolist()}
                       for name, value in bound.items() if value.size <= RECORDED_BINDING_ELEMENTS},
                      separators=(",", ":"))


def recorded_bindings(text: str | None) -> dict[str, np.ndarray]:
    """The values `bindings_metadata` recorded."""
    if not text:
        return {}
    return {name: np.asarray(entry["values"], dtype=entry["dtype"]).reshape(entry["shape"])
            for name, entry in json.loads(text).items()}


def _number(text: str) -> int | float | bool:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(lowered, 0)
    except ValueError:
        return float(lowered)


def parse_bindings(items: Sequence[str]) -> dict[str, list[int | float | bool] | int | float | bool]:
    """``["sr=16000", "mask=1,1,0"]`` -> ``{"sr": 16000, "mask": [1, 1, 0]}`` (a list takes
    the input's declared shape when the element counts agree)."""
    bound: dict[str, list[int | float | bool] | int | float | bool] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name or not text:
            raise ValueError(f"--bind wants NAME=VALUE or NAME=V1,V2,..., got {item!r}")
        try:
            values = [_number(v) for v in text.split(",")]
        except ValueError:
            raise ValueError(f"--bind {name}: {text!r} is not a number or a comma-separated list of "
                             f"numbers") from None
        bound[name] = values[0] if len(values) == 1 else values
    return bound
