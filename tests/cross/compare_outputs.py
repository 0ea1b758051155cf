"""Compares raw float32 output files of a cross-target run with the x86 references.

    python3 tests/cross/compare_outputs.py REF.bin GOT.bin [--tolerance 1e-4]

Error measure: max |got - ref| / max |ref| (relative to the output's scale, so
near-zero entries do not dominate). Prints one line; exits 1 above the tolerance,
on a size mismatch or on a non-finite value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def relative_max_error(ref: np.ndarray, got: np.ndarray) -> float:
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    diff = float(np.max(np.abs(got.astype(np.float64) - ref))) if ref.size else 0.0
    return diff / max(scale, 1e-30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", type=Path)
    parser.add_argument("got", type=Path)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    ref = np.fromfile(args.ref, dtype="<f4")
    got = np.fromfile(args.got, dtype="<f4") if args.got.exists() else None
    if got is None or got.shape != ref.shape:
        size = "missing" if got is None else f"{got.size} values"
        print(f"FAIL {args.got.name}: {size}, expected {ref.size}")
        return 1
    if not np.all(np.isfinite(got)):
        print(f"FAIL {args.got.name}: non-finite values")
        return 1
    error = relative_max_error(ref.astype(np.float64), got)
    ok = error <= args.tolerance
    print(f"{'ok  ' if ok else 'FAIL'} {args.got.name}: {ref.size} values, "
          f"relative max error {error:.2e} (tolerance {args.tolerance:.0e})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
