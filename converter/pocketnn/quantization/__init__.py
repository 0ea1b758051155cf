"""Integer-only quantization (docs/QUANTIZATION.md).

- ``arith``: the arithmetic contract shared with the C kernels (dyadic multipliers, the
  one rounding rule, Add parameters) and the quantization of values (activation
  qparams, per-channel weights, int4 packing, int32 bias, Quantize/DequantizeLinear).
- ``calibrate``: observers that pick an activation range from calibration batches.
- ``simulate``: numpy operators bit-exact with the C kernels.
- ``activations``: activation ranges observed on calibration data run in pocketnn.
- ``quantize_graph``: the static quantization pass (float IR -> integer operators).
- ``simulate_graph``: runs a quantized IR graph with ``simulate`` (bit-exact).
- ``mixed``: int4 / int8 per weighted layer chosen by an integer linear program.
- ``gptq``: GPTQ rounding of a weight matrix against its inputs' Hessian; bias correction.
- ``rounding``: nearest or GPTQ weight rounding for quantize_graph, and the calibration
  input statistics GPTQ uses.
- ``sparse_storage``: which pruned layers keep group-sparse (s8) storage once quantized.
"""
