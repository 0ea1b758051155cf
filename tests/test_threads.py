"""Thread count never changes results: every op splits its output into fixed parts,
so a model gives bit-identical outputs with 1, 2 or 3 threads."""

from __future__ import annotations

import numpy as np
import pytest

import pocketnn
from pocketnn.reference_models import MODELS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_threads_bit_identical(name: str) -> None:
    packed = pocketnn.convert(MODELS[name]())
    x = np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32)
    outputs = []
    for threads in (1, 2, 3):
        model = pocketnn.Model(packed, threads=threads)
        outputs.append(model.run({"input": x})[model.outputs[0].name])
    for other in outputs[1:]:
        assert np.array_equal(outputs[0], other)


def test_threads_must_be_positive() -> None:
    packed = pocketnn.convert(MODELS["mobilenet_v2"]())
    with pytest.raises(ValueError):
        pocketnn.Model(packed, threads=0)
