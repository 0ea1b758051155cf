"""Models the speed-up a pool of N threads would give on free cores, from a loaded host.

    python bench/pool_trace/model.py model.pnn [--threads 2] [--runs 15] [--top 12]

Builds bench/pool_trace/trace_run (the runtime with -DPNN_POOL_TRACE: each task's thread
CPU time and the caller's serial CPU time between parallel sections), runs the model
in a pool of N interleaved with a 1-thread session, and models each section as the
pool runs it on N free cores: tasks in index order, each to the thread free first (the
pool's shared counter). Thread CPU time does not see the other processes, so:
    modelled speed-up = 1-thread CPU time / sum over nodes of (serial + section makespans)
It leaves out the wake-up and join latency of each section (printed: the section count)
and memory bandwidth shared between cores, so it is an upper bound; its per-node losses
show where imbalance and serial work go. Medians over runs, per node.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class NodeRun:
    serial_ns: int = 0
    sections: list[list[int]] = field(default_factory=list)

    def work_ns(self) -> int:
        return self.serial_ns + sum(sum(tasks) for tasks in self.sections)

    def modelled_ns(self, threads: int) -> int:
        return self.serial_ns + sum(makespan(tasks, threads) for tasks in self.sections)


def makespan(tasks: list[int], threads: int) -> int:
    """When the last of `threads` free threads finishes, each taking the next task."""
    free = [0] * threads
    for t in tasks:
        i = free.index(min(free))
        free[i] += t
    return max(free)


def parse_trace(path: Path, nodes: int) -> list[list[NodeRun]]:
    """Runs, each a NodeRun per node. "N k s": node k starts, s = the serial tail of
    node k - 1 (for k = 0: time outside the run, dropped); "P s t...": a section of the
    current node after s ns of serial work, with its tasks' CPU times."""
    runs: list[list[NodeRun]] = []
    current: list[NodeRun] = []
    node = -1
    for line in path.read_text().splitlines():
        kind, *values = line.split()
        numbers = [int(v) for v in values]
        if kind == "N":
            if numbers[0] == 0:
                current = [NodeRun() for _ in range(nodes)]
            elif node >= 0:
                current[node].serial_ns += numbers[1]
            node = numbers[0]
            if node == nodes:
                runs.append(current)
                node = -1
        elif kind == "P" and node >= 0:
            current[node].serial_ns += numbers[0]
            current[node].sections.append(numbers[1:])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--top", type=int, default=12, help="nodes listed, largest modelled loss first")
    args = parser.parse_args()
    binary = subprocess.run([str(HERE / "build.sh")], check=True, capture_output=True, text=True).stdout.split()[-1]
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace"
        out = subprocess.run([binary, str(args.model), str(args.threads), str(args.runs)], check=True,
                             capture_output=True, text=True, env={**os.environ, "PNN_POOL_TRACE": str(trace)}).stdout
        labels = [" ".join(line.split()[2:]) for line in out.splitlines() if line.startswith("node ")]
        one_ns = int(out.split("one_thread_cpu_ns")[1].split()[0])
        runs = parse_trace(trace, len(labels))
    t = args.threads
    work = [statistics.median(r[n].work_ns() for r in runs) for n in range(len(labels))]
    modelled = [statistics.median(r[n].modelled_ns(t) for r in runs) for n in range(len(labels))]
    serial = [statistics.median(r[n].serial_ns for r in runs) for n in range(len(labels))]
    sections = sum(len(node.sections) for node in runs[0])
    print(f"{args.model.name}: {len(runs)} runs, load average {os.getloadavg()[0]:.1f}, {sections} parallel sections per run")
    print(f"1 thread {one_ns / 1e6:.2f} ms CPU; pool of {t}: work {sum(work) / 1e6:.2f} ms CPU, "
          f"serial {sum(serial) / 1e6:.2f} ms, modelled {sum(modelled) / 1e6:.2f} ms")
    print(f"modelled speed-up {one_ns / sum(modelled):.2f}x (ideal with this work: {one_ns / (sum(work) / t):.2f}x)")
    loss = sorted(range(len(labels)), key=lambda n: modelled[n] - work[n] / t, reverse=True)
    print("node  op / kernel                                   work us  modelled us  loss us  serial us")
    for n in loss[: args.top]:
        print(f"{n:4d}  {labels[n][:44]:44s} {work[n] / 1e3:8.1f} {modelled[n] / 1e3:12.1f} "
              f"{(modelled[n] - work[n] / t) / 1e3:8.1f} {serial[n] / 1e3:10.1f}")


if __name__ == "__main__":
    main()
