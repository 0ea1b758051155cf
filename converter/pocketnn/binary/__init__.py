"""Binary (1-bit) networks, the Larq Compute Engine contract (ARCHITECTURE.md, "Binary").

- ``simulate``: numpy operators bit-exact with the C kernels of kernels_c/b1-* (sign
  packing, binary convolution and GEMM with zero or one padding, float or bit-packed
  output) and the per-channel thresholds of a bit-packed output.
- ``mst``: the minimum-spanning-tree output-channel reordering of a binary layer (word
  costs, centre root, breadth-first order, the paper's saving) and the plan arrays of the
  tree-delta kernels (docs/BINARY.md, "MST output-channel reordering").
"""
