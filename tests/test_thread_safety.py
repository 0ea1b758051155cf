"""One pocketnn.Model called from many Python threads at once gives the outputs of serial
runs, for float and int8 models and native pools of 1 and 2 threads, and never hangs.

The stress runs in a child process (this file run as a script) under a timeout, so a
deadlock fails the test instead of stalling the suite. Run by hand:
    python tests/test_thread_safety.py POOL_THREADS PY_THREADS RUNS model.pnn [model.pnn ...]
"""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
STRESS_TIMEOUT_S = 240


def stress(pool_threads: int, python_threads: int, runs: int, paths: list[str]) -> int:
    """Serial reference outputs first, then `python_threads` threads each running every
    model `runs` times on rotating inputs, all sharing one Model per file. Prints a
    summary; returns the number of outputs that differ from the serial ones."""
    import pocketnn
    from pocketnn.datasets import load_digits_fixture

    images, _ = load_digits_fixture("test", FIXTURES)
    inputs = [np.ascontiguousarray(images[i:i + 1]) for i in range(6)]
    models = [pocketnn.Model(path, threads=pool_threads) for path in paths]
    expected = [[model.run({"input": x})["logits"] for x in inputs] for model in models]
    for per_model in expected:  # the inputs lead to different outputs: mix-ups are visible
        assert not np.array_equal(per_model[0], per_model[1])
    mismatches = [0] * python_threads
    errors: list[str] = []
    start = threading.Barrier(python_threads)

    def worker(index: int) -> None:
        try:
            start.wait()
            for r in range(runs):
                for m, model in enumerate(models):
                    k = (index + r + m) % len(inputs)
                    if not np.array_equal(model.run({"input": inputs[k]})["logits"], expected[m][k]):
                        mismatches[index] += 1
        except Exception as exc:  # noqa: BLE001 - reported by the parent
            errors.append(f"thread {index}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(python_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = python_threads * runs * len(models)
    print(f"pool {pool_threads}, {python_threads} Python threads, {len(models)} shared models: "
          f"{sum(mismatches)} of {total} outputs differ from serial runs; {len(errors)} errors")
    for line in errors:
        print(line)
    return sum(mismatches) + len(errors)


def _digits_models(tmp_path: Path) -> list[str]:
    """The digits CNN as float32 and as int8 (calibrated on the fixture's calibration
    digits), written to tmp_path."""
    import pocketnn
    from pocketnn.datasets import digits_model_path, load_digits_fixture

    source = str(digits_model_path(FIXTURES))
    calib, _ = load_digits_fixture("calib", FIXTURES)
    f32, int8 = tmp_path / "digits_f32.pnn", tmp_path / "digits_int8.pnn"
    pocketnn.convert(source, f32)
    pocketnn.convert(source, int8, calib={"input": calib[:100]}, quantize="int8")
    assert any(node.op.startswith("Q") for node in pocketnn.Model(int8).nodes)
    return [str(f32), str(int8)]


def _run_stress(pool_threads: int, python_threads: int, runs: int, paths: list[str]) -> str:
    try:
        done = subprocess.run([sys.executable, __file__, str(pool_threads), str(python_threads), str(runs), *paths],
                              capture_output=True, text=True, timeout=STRESS_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"pool {pool_threads}, {python_threads} threads: no result within "
                             f"{STRESS_TIMEOUT_S} s (a hang); output so far: {exc.stdout!r}") from None
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_many_threads_share_models_with_pools_of_1_and_2(tmp_path: Path) -> None:
    paths = _digits_models(tmp_path)
    for pool_threads, python_threads in ((1, 8), (2, 4)):
        out = _run_stress(pool_threads, python_threads, 50, paths)
        assert " 0 of " in out and "0 errors" in out, out


def test_each_thread_gets_its_own_session_freed_with_the_thread(tmp_path: Path) -> None:
    import pocketnn

    model = pocketnn.Model(pocketnn.convert(str(FIXTURES / "digits_cnn.onnx")))
    x = np.zeros((1, 1, 28, 28), np.float32)
    main_session = model._local.session
    seen: list[weakref.ref] = []

    def worker() -> None:
        model.run({"input": x})
        session = model._local.session
        assert session is not main_session
        seen.append(weakref.ref(session))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    gc.collect()
    assert len(seen) == 1 and seen[0]() is None, "the thread's session outlived the thread"
    main_ref = weakref.ref(main_session)
    del main_session, model
    gc.collect()
    assert main_ref() is None, "a session outlived its Model"


def test_profile_reports_the_calling_threads_runs(tmp_path: Path) -> None:
    import pocketnn

    model = pocketnn.Model(pocketnn.convert(str(FIXTURES / "digits_cnn.onnx")), profile=True)
    x = np.zeros((1, 1, 28, 28), np.float32)
    model.run({"input": x})
    other: list[int] = []

    def worker() -> None:
        for _ in range(3):
            model.run({"input": x})
        other.append(model.profile()[1])

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert other == [3]
    assert model.profile()[1] == 1


if __name__ == "__main__":
    sys.exit(1 if stress(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]) else 0)
