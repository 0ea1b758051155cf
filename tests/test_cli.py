"""The command line, end to end, on a small model."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from pocketnn.cli import main, parse_shape_bindings
from pocketnn.reference_models import mobilenet_v1
from support import run_onnxruntime


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, onnx.ModelProto]:
    model = mobilenet_v1(resolution=64, width=0.25, classes=10)
    path = tmp_path_factory.mktemp("cli") / "small.onnx"
    onnx.save(model, path)
    return str(path), model


def test_parse_shape_bindings() -> None:
    assert parse_shape_bindings(["input=1x3x224x224", "a:b=2"]) == {"input": (1, 3, 224, 224), "a:b": (2,)}


def test_convert_run_verify_inspect(small_model, tmp_path, capsys) -> None:
    onnx_path, model = small_model
    pnn = tmp_path / "small.pnn"
    assert main(["convert", onnx_path, "-o", str(pnn), "--input-shape", "input=1x3x64x64"]) == 0
    assert pnn.stat().st_size > 0

    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.npz"
    assert main(["run", str(pnn), "--input", f"input={tmp_path / 'x.npy'}", "--output", str(out)]) == 0
    produced = dict(np.load(out))
    expected = run_onnxruntime(model, {"input": x})[0]
    (value,) = produced.values()
    np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-5)

    assert main(["verify", onnx_path, str(pnn), "--samples", "2"]) == 0
    text = capsys.readouterr().out
    assert "cosine" in text and "max rel err" in text

    labels = np.array([0, 3])
    np.save(tmp_path / "labels.npy", labels)
    np.savez(tmp_path / "inputs.npz", input=np.concatenate([x, x * 0.5]))
    assert main(["verify", onnx_path, str(pnn), "--inputs", str(tmp_path / "inputs.npz"),
                 "--labels", str(tmp_path / "labels.npy")]) == 0

    assert main(["inspect", str(pnn)]) == 0
    text = capsys.readouterr().out
    assert "Conv" in text and "arena" in text


def test_errors_are_messages_not_tracebacks(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.pnn"
    bad.write_bytes(b"not a pnn file at all")
    assert main(["inspect", str(bad)]) == 2
    assert "error" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "missing.pnn")]) == 2


def test_demo_passes(capsys) -> None:
    assert main(["demo", "--model", "mobilenet_v1"]) == 0
    assert "PASS" in capsys.readouterr().out


def test_profile_times_every_node(small_model, tmp_path, capsys) -> None:
    import pocketnn
    from pocketnn.errors import PocketnnError

    onnx_path, model = small_model
    data = pocketnn.convert(model)
    profiled = pocketnn.Model(data, profile=True)
    x = {"input": np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)}
    assert profiled.profile() == ([0.0] * len(profiled.nodes), 0)
    plain = pocketnn.Model(data)
    np.testing.assert_array_equal(profiled.run(x)["gemm_221"], plain.run(x)["gemm_221"])
    profiled.run(x)
    times, runs = profiled.profile()
    assert runs == 2 and len(times) == len(profiled.nodes)
    assert all(t >= 0.0 for t in times) and sum(times) > 0.0
    with pytest.raises(PocketnnError, match="without profiling"):
        plain.profile()

    pnn = tmp_path / "p.pnn"
    pnn.write_bytes(data)
    assert main(["run", str(pnn), "--repeat", "3", "--profile"]) == 0
    text = capsys.readouterr().out
    assert "random normal inputs" in text and "mean of 3 run(s)" in text and "Conv" in text


def _scored_model(weight: float) -> onnx.ModelProto:
    """x [1, 8] -> one probability: sigmoid(sum(w * x)); the output has one value."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.full((8, 1), weight, np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["s"]), helper.make_node("Sigmoid", ["s"], ["p"])], "score",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 1])], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_verify_fails_a_wrong_model_naming_output_metric_and_threshold(tmp_path, capsys) -> None:
    onnx.save(_scored_model(0.25), tmp_path / "right.onnx")
    onnx.save(_scored_model(-0.25), tmp_path / "wrong.onnx")
    assert main(["convert", str(tmp_path / "wrong.onnx"), "-o", str(tmp_path / "wrong.pnn")]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "right.onnx"), str(tmp_path / "wrong.pnn"), "--samples", "8"]) == 1
    out = capsys.readouterr().out
    assert "FAIL output 'p': max relative error" in out and "> rtol 0.001" in out


def test_quantized_one_value_outputs_are_judged_by_sqnr_not_cosine() -> None:
    """The cosine of one value per sample is +-1 whatever the error; SQNR is not."""
    from pocketnn.verify import OutputReport, VerifyReport

    flipped = OutputReport("p", (1, 1), max_abs_error=0.6, max_rel_error=0.9, cosine=1.0, top1_agreement=None,
                           sqnr_db=0.6)
    close = OutputReport("p", (1, 1), max_abs_error=0.01, max_rel_error=0.02, cosine=1.0, top1_agreement=None,
                         sqnr_db=33.0)
    logits = OutputReport("logits", (1, 100), max_abs_error=0.5, max_rel_error=0.4, cosine=0.95,
                          top1_agreement=0.5, sqnr_db=10.0)
    report = VerifyReport(samples=4, outputs=[flipped, close, logits], quantized=True)
    failures = report.failures()
    assert failures == [
        "FAIL output 'p': SQNR 0.6 dB < 15 dB (quantized model; 1 value(s) per sample, so cosine says nothing)",
        "FAIL output 'logits': cosine 0.950000 < 0.99 (quantized model)"]
    assert VerifyReport(samples=4, outputs=[close], quantized=True).passed()


def test_a_missing_extra_is_named_not_a_traceback(small_model, tmp_path, capsys, monkeypatch) -> None:
    """A command whose extra is absent (the runtime-only install) says which extra to
    install; tests/test_runtime_wheel.py checks the same from a real wheel in a fresh venv."""
    import pocketnn.cli

    def convert_without_onnx(args) -> int:
        raise ModuleNotFoundError("No module named 'onnx'", name="onnx")

    monkeypatch.setattr(pocketnn.cli, "_cmd_convert", convert_without_onnx)
    assert main(["convert", small_model[0], "-o", str(tmp_path / "m.pnn")]) == 2
    out = capsys.readouterr().out
    assert "needs the [convert] extra" in out and "pip install 'pocketnn[convert]'" in out


def test_plain_console_prints_tables_and_escaped_text(capsys) -> None:
    from pocketnn.console import PlainConsole, escape, print_table

    console = PlainConsole()
    console.print("[bold red]error:[/] " + escape("needs the [convert] extra, shape [1, 3]"))
    print_table(console, "layers", ("#", "op"), [["0", "Conv"], ["12", "Relu"]], right=("#",))
    assert capsys.readouterr().out.splitlines() == [
        "error: needs the [convert] extra, shape [1, 3]", "layers", " #  op", "--  ----", " 0  Conv", "12  Relu"]
