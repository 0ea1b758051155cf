"""Operator codes of the .pnn graph section (docs/OPS.md; runtime/src/op_table.c)."""

OP_CODES: dict[str, int] = {
    "Conv": 1,
    "ConvTranspose": 2,
    "Gemm": 3,
    "MatMul": 4,
    "BatchNormalization": 5,
    "Relu": 10,
    "Clip": 11,
    "LeakyRelu": 12,
    "Sigmoid": 13,
    "HardSigmoid": 14,
    "HardSwish": 15,
    "Tanh": 16,
    "Erf": 17,
    "Gelu": 18,
    "Exp": 19,
    "Sqrt": 20,
    "Abs": 21,
    "Neg": 22,
    "Log": 23,
    "Reciprocal": 24,
    "Softplus": 25,
    "Elu": 26,
    "Floor": 27,
    "Ceil": 28,
    "Identity": 29,
    "Add": 30,
    "Sub": 31,
    "Mul": 32,
    "Div": 33,
    "Pow": 34,
    "Max": 35,
    "Min": 36,
    "PRelu": 37,
    "Sign": 38,  # format 1.6, docs/BINARY.md
    "MaxPool": 40,
    "AveragePool": 41,
    "GlobalAveragePool": 42,
    "GlobalMaxPool": 43,
    "Concat": 50,
    "Split": 51,
    "Slice": 52,
    "Reshape": 53,
    "Transpose": 54,
    "Pad": 55,
    "Resize": 56,
    "Softmax": 57,
    "ReduceMean": 58,
    "ReduceSum": 59,
    "ReduceMax": 60,
    "ReduceMin": 61,
    "LayerNormalization": 62,
    "Gather": 63,
    "LRN": 64,
    # Integer operators (format 1.2, docs/QUANTIZATION.md).
    "QuantizeLinear": 80,
    "DequantizeLinear": 81,
    "QConv": 82,
    "QGemm": 83,
    "QAdd": 84,
    "QLookup": 85,
    "QGlobalAveragePool": 86,
    "QMaxPool": 87,
    "QAveragePool": 88,  # format 1.3
    # Operators on runtime values of any dtype (format 1.4, docs/OPS.md "Value types").
    "Equal": 90,
    "Less": 91,
    "Greater": 92,
    "LessOrEqual": 93,
    "GreaterOrEqual": 94,
    "Not": 95,
    "And": 96,
    "Or": 97,
    "Xor": 98,
    "Where": 99,
    "Cast": 100,
    "ArgMax": 101,
    "ArgMin": 102,
    "CumSum": 103,
    "Expand": 104,
    "Tile": 105,
    "TopK": 107,
    "QMatMul": 108,  # format 1.6: u8 x u8 (attention), docs/OPS.md "Integer operators"
    # Dynamic quantization (format 1.6, docs/OPS.md "Dynamic quantization").
    "ConvInteger": 110,
    "MatMulInteger": 111,
    "DynamicQuantizeLinear": 116,
    # Whole recurrent layers (format 1.7, docs/OPS.md "Recurrent operators").
    "LSTM": 112,
    "GRU": 113,
    # Binary operators (format 1.6, docs/OPS.md "Binary operators").
    "BConv2d": 120,
    "BGemm": 121,
}

# Fused activation codes (attribute "act"), docs/OPS.md.
ACTIVATIONS: dict[str, int] = {
    "none": 0,
    "relu": 1,
    "clip": 2,
    "leaky_relu": 3,
    "sigmoid": 4,
    "hard_sigmoid": 5,
    "hard_swish": 6,
    "tanh": 7,
    "swish": 8,
}

# Operators that compute on u8 activations (docs/OPS.md "Integer operators"); the
# model-edge QuantizeLinear/DequantizeLinear are not among them.
INTEGER_COMPUTE_OPS = frozenset({"QConv", "QGemm", "QAdd", "QLookup", "QGlobalAveragePool", "QMaxPool",
                                 "QAveragePool", "QMatMul"})

# Operators of onnxruntime's quantize_dynamic output (format 1.6).
DYNAMIC_QUANT_OPS = frozenset({"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"})

# Bit-packed binary operators (format 1.6, docs/BINARY.md).
BINARY_OPS = frozenset({"BConv2d", "BGemm"})
