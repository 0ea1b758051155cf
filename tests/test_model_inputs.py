"""What a caller hands pocketnn.Model is checked, not guessed: input dtypes and shapes
must match exactly (cast=True converts and reshapes on request), model paths must name
regular files, and the load options (max_memory, isa) reach the native loader."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import pocketnn
from pocketnn.datasets import digits_model_path, load_digits_fixture
from pocketnn.format.writer import write_pnn
from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.runtime import InputError, ModelPathError, NativeError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def digits_pnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("digits") / "digits.pnn"
    pocketnn.convert(str(digits_model_path(FIXTURES)), path)
    return path


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    images, _ = load_digits_fixture("test", FIXTURES)
    return np.ascontiguousarray(images[3:4])  # float32 (1, 1, 28, 28)


@pytest.fixture(scope="module")
def digits_model(digits_pnn: Path) -> pocketnn.Model:
    return pocketnn.Model(digits_pnn)


def logits(model: pocketnn.Model, x: object, cast: bool = False) -> np.ndarray:
    return model.run({"input": x}, cast=cast)["logits"]


# ---- dtypes and shapes ---------------------------------------------------------------


def test_the_fixture_input_is_what_the_model_expects(digits_model: pocketnn.Model, digit: np.ndarray) -> None:
    info = digits_model.inputs[0]
    assert (info.name, info.shape, info.dtype) == ("input", (1, 1, 28, 28), np.dtype(np.float32))
    assert digit.dtype == np.float32 and digit.shape == info.shape


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.float16])
def test_a_wrong_dtype_is_refused(digits_model: pocketnn.Model, digit: np.ndarray, dtype: type) -> None:
    with pytest.raises(InputError, match=rf"'input' is {np.dtype(dtype).name}, the model expects float32"):
        logits(digits_model, digit.astype(dtype))


@pytest.mark.parametrize("shape", [(1, 28, 28, 1), (784,), (1, 784), (28, 28)])
def test_a_same_size_wrong_shape_is_refused(digits_model: pocketnn.Model, digit: np.ndarray,
                                            shape: tuple[int, ...]) -> None:
    with pytest.raises(InputError, match=r"has shape .*expects \(1, 1, 28, 28\).*cast=True"):
        logits(digits_model, digit.reshape(shape))


def test_a_wrong_size_is_refused_even_with_cast(digits_model: pocketnn.Model, digit: np.ndarray) -> None:
    with pytest.raises(InputError, match=r"shape \(1, 1, 28, 27\)"):
        logits(digits_model, digit[..., :27], cast=True)


def test_errors_are_value_errors_and_pocketnn_errors(digits_model: pocketnn.Model, digit: np.ndarray) -> None:
    with pytest.raises(ValueError):
        logits(digits_model, digit.astype(np.float64))
    with pytest.raises(pocketnn.PocketnnError):
        logits(digits_model, digit.reshape(784))


def test_unknown_and_missing_inputs_are_named(digits_model: pocketnn.Model, digit: np.ndarray) -> None:
    with pytest.raises(InputError, match=r"unknown input\(s\) \['image'\]"):
        digits_model.run({"input": digit, "image": digit})
    with pytest.raises(InputError, match=r"missing input\(s\) 'input' float32 \(1, 1, 28, 28\)"):
        digits_model.run({})


def test_cast_converts_dtypes(digits_model: pocketnn.Model, digit: np.ndarray) -> None:
    expected = logits(digits_model, digit)
    # float64 holding exactly the float32 values converts back to them.
    assert np.array_equal(logits(digits_model, digit.astype(np.float64), cast=True), expected)
    whole = np.round(digit * 4)  # integral values: exact in int32 and in float32
    assert np.array_equal(logits(digits_model, whole.astype(np.int32), cast=True),
                          logits(digits_model, whole.astype(np.float32)))
    # A different result for a different input: the comparisons above can fail.
    assert not np.array_equal(logits(digits_model, whole.astype(np.float32)), expected)


def test_cast_refuses_a_conversion_across_kinds(digits_pnn: Path, digit: np.ndarray) -> None:
    model = pocketnn.Model(digits_pnn)
    with pytest.raises(InputError, match="complex128"):
        logits(model, digit.astype(np.complex128), cast=True)


@pytest.mark.parametrize("shape", [(1, 28, 28, 1), (784,)])
def test_cast_reshapes_a_same_size_array(digits_model: pocketnn.Model, digit: np.ndarray,
                                         shape: tuple[int, ...]) -> None:
    # Reshaping keeps the element order (it is not a transpose): the same run.
    assert np.array_equal(logits(digits_model, digit.reshape(shape), cast=True), logits(digits_model, digit))


def test_non_contiguous_arrays_are_copied(digits_model: pocketnn.Model, digit: np.ndarray) -> None:
    wide = np.zeros((1, 1, 56, 56), np.float32)
    wide[:, :, ::2, ::2] = digit
    strided = wide[:, :, ::2, ::2]
    assert not strided.flags.c_contiguous
    transposed = np.ascontiguousarray(digit[0, 0].T).T[None, None]
    assert not transposed.flags.c_contiguous
    expected = logits(digits_model, digit)
    assert np.array_equal(logits(digits_model, strided), expected)
    assert np.array_equal(logits(digits_model, transposed), expected)


# ---- paths --------------------------------------------------------------------------


def refused_within(seconds: float, source: object, match: str) -> None:
    """Model(source) raises ModelPathError matching `match`, in a thread that must finish
    within `seconds` (opening a FIFO would block it forever)."""
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            pocketnn.Model(source)  # type: ignore[arg-type]
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    start = time.monotonic()
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"Model({source!r}) still blocked after {seconds} s"
    assert outcome and isinstance(outcome[0], ModelPathError), f"Model({source!r}) gave {outcome!r}"
    assert match in str(outcome[0]), str(outcome[0])
    assert time.monotonic() - start < seconds


def test_a_path_with_a_nul_byte_is_refused(digits_pnn: Path) -> None:
    # The C string would end at the NUL and load the file before it.
    refused_within(10, f"{digits_pnn}\0x", "contains a NUL byte")
    refused_within(10, Path(f"{digits_pnn}\0x"), "contains a NUL byte")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    refused_within(10, tmp_path, "is a directory")


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "model.pnn"
    os.mkfifo(fifo)
    refused_within(10, fifo, "is a FIFO")


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_is_refused(device: str) -> None:
    refused_within(10, device, "is a character device")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    refused_within(10, tmp_path / "absent.pnn", "does not exist")


def test_a_regular_file_path_loads(digits_pnn: Path, digit: np.ndarray) -> None:
    by_path = pocketnn.Model(str(digits_pnn))
    by_bytes = pocketnn.Model(digits_pnn.read_bytes())
    assert np.array_equal(logits(by_path, digit), logits(by_bytes, digit))


# ---- max_memory ---------------------------------------------------------------------


def relu_file(elements: int) -> bytes:
    """A valid, tiny .pnn: one Relu on an f32 vector of `elements` values."""
    tensors = {"x": Tensor("x", DType.F32, (elements,)), "y": Tensor("y", DType.F32, (elements,))}
    return write_pnn(Graph(tensors, [Node("Relu", "relu", ["x"], ["y"])], ["x"], ["y"]))


def test_a_small_limit_refuses_the_model_naming_bytes(digits_pnn: Path) -> None:
    with pytest.raises(NativeError, match=r"\d+ bytes") as caught:
        pocketnn.Model(digits_pnn, max_memory=4096)
    assert caught.value.status == "PNN_ERR_LIMIT"
    assert "4096" in caught.value.message


def test_a_big_enough_limit_loads(digits_pnn: Path, digit: np.ndarray) -> None:
    default = pocketnn.Model(digits_pnn)
    limited = pocketnn.Model(digits_pnn, max_memory=default.arena_bytes + (1 << 20))
    assert np.array_equal(logits(limited, digit), logits(default, digit))


@pytest.mark.parametrize("elements", [1 << 28, (1 << 31) - 1])
def test_the_default_limit_refuses_a_tiny_file_asking_for_gigabytes(elements: int) -> None:
    data = relu_file(elements)
    assert len(data) < 1024
    with pytest.raises(NativeError, match=r"bytes") as caught:
        pocketnn.Model(data)
    assert caught.value.status == "PNN_ERR_LIMIT"
    assert str(1 << 30) in caught.value.message  # the default limit, named


def test_the_limit_is_not_a_size_cap_on_small_files() -> None:
    model = pocketnn.Model(relu_file(1000), max_memory=1 << 20)
    x = np.linspace(-1, 1, 1000, dtype=np.float32)
    assert np.array_equal(model.run({"x": x})["y"], np.maximum(x, 0))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "1GB", True])
def test_max_memory_must_be_a_positive_byte_count(digits_pnn: Path, bad: object) -> None:
    with pytest.raises(ValueError, match="max_memory"):
        pocketnn.Model(digits_pnn, max_memory=bad)  # type: ignore[arg-type]


# ---- isa ----------------------------------------------------------------------------


def test_isa_scalar_picks_scalar_kernels(digits_pnn: Path, digit: np.ndarray) -> None:
    scalar = pocketnn.Model(digits_pnn, isa="scalar")
    default = pocketnn.Model(digits_pnn)
    kernels = [node.kernel for node in scalar.nodes]
    computing = [k for k in kernels if k != "copy"]
    assert computing and all("scalar" in k for k in computing), kernels
    np.testing.assert_allclose(logits(scalar, digit), logits(default, digit), rtol=1e-4, atol=1e-4)


def test_an_unknown_isa_is_refused_listing_the_names(digits_pnn: Path) -> None:
    with pytest.raises(NativeError) as caught:
        pocketnn.Model(digits_pnn, isa="sse9")
    assert caught.value.status == "PNN_ERR_INVALID_ARGUMENT"
    for name in ("sse9", "scalar", "avx2", "avx512", "neon"):
        assert name in caught.value.message, caught.value.message


# ---- the command line ---------------------------------------------------------------


def test_cli_run_refuses_a_float64_npy_unless_cast(digits_pnn: Path, digit: np.ndarray, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from pocketnn.cli import main

    np.save(tmp_path / "x64.npy", digit.astype(np.float64))
    np.save(tmp_path / "x32.npy", digit)
    common = ["run", str(digits_pnn), "--input"]
    assert main(common + [str(tmp_path / "x64.npy")]) == 2
    assert "is float64, the model expects float32" in capsys.readouterr().out
    assert main(common + [str(tmp_path / "x64.npy"), "--cast", "--output", str(tmp_path / "cast.npz")]) == 0
    assert main(common + [str(tmp_path / "x32.npy"), "--output", str(tmp_path / "plain.npz")]) == 0
    assert np.array_equal(np.load(tmp_path / "cast.npz")["logits"], np.load(tmp_path / "plain.npz")["logits"])


def test_cli_run_passes_the_load_options(digits_pnn: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pocketnn.cli import main

    assert main(["run", str(digits_pnn), "--isa", "scalar"]) == 0
    capsys.readouterr()
    assert main(["run", str(digits_pnn), "--max-memory", "0.004"]) == 2
    assert "PNN_ERR_LIMIT" in capsys.readouterr().out


def test_outputs_in_place_and_inputs_filled_in_place(digits_pnn: Path, digit: np.ndarray) -> None:
    """run(copy=False) hands back read-only views of the session's output, which the
    next run overwrites; input_buffer is the session's own input, used without a copy
    and kept between runs. Both give what the copying run gives."""
    model = pocketnn.Model(digits_pnn)
    images, _ = load_digits_fixture("test", FIXTURES)
    other = np.ascontiguousarray(images[7:8])
    copied = {name: model.run({"input": image})["logits"] for name, image in (("a", digit), ("b", other))}
    assert not np.array_equal(copied["a"], copied["b"])
    view = model.run({"input": digit}, copy=False)["logits"]
    assert not view.flags.writeable
    np.testing.assert_array_equal(view, copied["a"])
    model.run({"input": other}, copy=False)
    np.testing.assert_array_equal(view, copied["b"])  # the same memory, rewritten
    buffer = model.input_buffer("input")
    assert buffer.shape == digit.shape and buffer.flags.writeable
    buffer[...] = digit
    for _ in range(2):
        np.testing.assert_array_equal(model.run({"input": buffer})["logits"], copied["a"])
    np.testing.assert_array_equal(buffer, digit)
    with pytest.raises(InputError):
        model.input_buffer("nope")
