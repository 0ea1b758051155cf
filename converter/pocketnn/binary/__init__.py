"""Binary (1-bit) networks, the Larq Compute Engine contract (ARCHITECTURE.md, "Binary").

- ``simulate``: numpy operators bit-exact with the C kernels of kernels_c/b1-* (sign
  packing, binary convolution and GEMM with zero or one padding, float or bit-packed
  output) and the per-channel thresholds of a bit-packed output.
- ``mst``: the minimum-spanning-tree output-channel reordering of a binary layer (word
  costs, centre root, breadth-first order, the paper's saving) and the plan arrays of the
  tree-delta kernels (docs/BINARY.md, "MST output-channel reordering").
- ``mst_choice``: the converter's per-layer choice of the plain or tree-delta kernel
  (`--mst`), measured through the runtime and recorded in the node's attribute `mst`.
- ``mst_budget``: post-training flipping of latent weights' cheapest bits toward the
  tree's parents within an accuracy budget (`--mst-budget`); ``mst_report`` prints both.
"""
