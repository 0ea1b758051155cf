"""Binary (1-bit) networks, the Larq Compute Engine contract (ARCHITECTURE.md, "Binary").

- ``simulate``: numpy operators bit-exact with the C kernels of kernels_c/b1-* (sign
  packing, binary convolution and GEMM with zero or one padding, float or bit-packed
  output) and the per-channel thresholds of a bit-packed output.
"""
