"""Larq Compute Engine in a child process (run by bench_lce.py with the venv that
bench/b1/make_lce_venv.sh creates): builds a Keras BNN with larq, converts it with
`lce.convert_keras_model` and times LCE's interpreter, 1 thread. Protocol on
stdin/stdout: prints "ready <lce version> <setting>..." once, then answers each line
"run <setting>" with the milliseconds of one inference timed here (on the clock named by
argv[3]: "wall" or "cpu", this thread's CPU time).

    python lce_child.py conv <channels>x<size> <clock>   # QuantConv2D 3x3 + BatchNorm
    python lce_child.py quicknet 224 <clock>             # larq_zoo QuickNet, random weights
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # larq needs Keras 2 (tf-keras)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import larq  # noqa: E402
import larq_compute_engine as lce  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from larq_compute_engine.tflite.python.interpreter import Interpreter  # noqa: E402

SETTINGS = {"indirect_bgemm": {"use_indirect_bgemm": True}, "default": {}}


def conv_model(channels: int, size: int) -> tf.keras.Model:
    """The anchor layer: binarized input, 3x3 binary conv with one-padding (LCE's fast
    form), BatchNorm folded by LCE into the conv's output transform; float output."""
    x = tf.keras.Input((size, size, channels), batch_size=1)
    y = larq.layers.QuantConv2D(channels, 3, padding="same", pad_values=1.0, use_bias=False,
                                input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                                kernel_constraint="weight_clip")(x)
    y = tf.keras.layers.BatchNormalization(momentum=0.9)(y)
    return tf.keras.Model(x, y)


def quicknet_model(size: int) -> tf.keras.Model:
    import larq_zoo

    return larq_zoo.sota.QuickNet(input_shape=(size, size, 3), weights=None)


def randomize_batchnorm(model: tf.keras.Model, rng: np.random.Generator) -> None:
    """Non-trivial BN statistics so that nothing folds away as an identity."""
    draws = {"gamma": lambda n: rng.uniform(0.5, 1.5, n), "beta": lambda n: rng.normal(0, 0.5, n),
             "moving_mean": lambda n: rng.normal(0, 0.5, n), "moving_variance": lambda n: rng.uniform(0.5, 1.5, n)}
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            for weight in layer.weights:  # QuickNet has BNs without gamma or beta
                kind = weight.name.split("/")[-1].split(":")[0]
                weight.assign(draws[kind](weight.shape[0]).astype(np.float32))

def main() -> None:
    kind, shape, clock_name = sys.argv[1], sys.argv[2], sys.argv[3]
    clock = time.thread_time if clock_name == "cpu" else time.perf_counter
    rng = np.random.default_rng(0)
    if kind == "conv":
        channels, size = (int(v) for v in shape.split("x"))
        model = conv_model(channels, size)
    else:
        model = quicknet_model(int(shape))
    randomize_batchnorm(model, rng)
    flatbuffer = lce.convert_keras_model(model)
    x = rng.standard_normal(model.input_shape[1:]).astype(np.float32)[None]
    interpreters = {name: Interpreter(flatbuffer, num_threads=1, **options) for name, options in SETTINGS.items()}
    for interpreter in interpreters.values():
        interpreter.predict(x)
    print("ready", lce.__version__, *interpreters, flush=True)
    for line in sys.stdin:
        command = line.split()
        if len(command) != 2 or command[0] != "run":
            break
        interpreter = interpreters[command[1]]
        start = clock()
        interpreter.predict(x)
        print(f"{(clock() - start) * 1e3:.4f}", flush=True)


if __name__ == "__main__":
    main()
