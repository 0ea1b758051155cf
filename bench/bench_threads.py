"""Throughput of one shared pocketnn.Model called from several Python threads (each
gets its own session over the shared weights) against one thread, and against one
thread driving a native pool of the same size.

    python bench/bench_threads.py [--model mobilenet_v2] [--seconds 5] [--threads 2] [--int8] [--runs 40]

Prints runs/s for: 1 Python thread (pool of 1); N Python threads sharing one Model
(pools of 1); 1 Python thread with a native pool of N. Then the native pool of N
against a pool of 1 run in turn (interleaved medians of --runs runs, the figure to
quote on a machine whose load changes). --int8 runs the int8 model (calibrated on
random images: the speed does not depend on them). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

import pocketnn
from pocketnn.reference_models import MODELS
from timing import interleaved


def throughput(model: pocketnn.Model, feeds: dict[str, np.ndarray], python_threads: int, seconds: float) -> float:
    """Runs per second over all threads, for `seconds` after one warm-up run each."""
    counts = [0] * python_threads
    barrier = threading.Barrier(python_threads + 1)
    stop = threading.Event()

    def worker(index: int) -> None:
        model.run(feeds)  # creates this thread's session, pages in the weights
        barrier.wait()
        while not stop.is_set():
            model.run(feeds)
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(python_threads)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilenet_v2", choices=sorted(MODELS))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--int8", action="store_true", help="the int8 model instead of f32")
    parser.add_argument("--runs", type=int, default=40, help="interleaved runs of each pool size")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    if args.int8:
        calib = rng.standard_normal((4, 3, 224, 224)).astype(np.float32)
        data = pocketnn.convert(MODELS[args.model](), quantize="int8", calib={"input": calib}, calib_method="minmax")
    else:
        data = pocketnn.convert(MODELS[args.model]())
    shared = pocketnn.Model(data)
    feeds = {shared.inputs[0].name: x}
    n = args.threads
    print(f"{args.model} 224x224 {'int8' if args.int8 else 'f32'}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    one = throughput(shared, feeds, 1, args.seconds)
    print(f"1 Python thread, pool of 1:                {one:7.1f} runs/s")
    many = throughput(shared, feeds, n, args.seconds)
    print(f"{n} Python threads, one shared Model:       {many:7.1f} runs/s ({many / one:.2f}x)")
    pool = pocketnn.Model(data, threads=n)
    pooled = throughput(pool, feeds, 1, args.seconds)
    print(f"1 Python thread, native pool of {n}:         {pooled:7.1f} runs/s ({pooled / one:.2f}x)")
    ms = interleaved({"1": lambda: shared.run(feeds), "n": lambda: pool.run(feeds)}, args.runs, warmup=3)
    print(f"pool of {n} against pool of 1, interleaved medians: {ms['n']:.2f} vs {ms['1']:.2f} ms "
          f"({ms['1'] / ms['n']:.2f}x)")


if __name__ == "__main__":
    main()
