/* The op table: op code -> name, prepare, run. Codes are docs/OPS.md's and
 * converter/pocketnn/format/opcodes.py's (a test checks the two agree). */
#include "ops/ops.h"

#define OP(code, name, fn) {code, name, pnn_op_##fn##_prepare, pnn_op_##fn##_run}

static const pnn_op_def OP_TABLE[] = {
    OP(1, "Conv", conv),
    OP(2, "ConvTranspose", conv_transpose),
    OP(3, "Gemm", gemm),
    OP(4, "MatMul", matmul),
    OP(5, "BatchNormalization", batchnorm),
    OP(10, "Relu", unary),
    OP(11, "Clip", unary),
    OP(12, "LeakyRelu", unary),
    OP(13, "Sigmoid", unary),
    OP(14, "HardSigmoid", unary),
    OP(15, "HardSwish", unary),
    OP(16, "Tanh", unary),
    OP(17, "Erf", unary),
    OP(18, "Gelu", unary),
    OP(19, "Exp", unary),
    OP(20, "Sqrt", unary),
    OP(21, "Abs", unary),
    OP(22, "Neg", unary),
    OP(23, "Log", unary),
    OP(24, "Reciprocal", unary),
    OP(25, "Softplus", unary),
    OP(26, "Elu", unary),
    OP(27, "Floor", unary),
    OP(28, "Ceil", unary),
    OP(29, "Identity", unary),
    OP(30, "Add", binary),
    OP(31, "Sub", binary),
    OP(32, "Mul", binary),
    OP(33, "Div", binary),
    OP(34, "Pow", binary),
    OP(35, "Max", binary),
    OP(36, "Min", binary),
    OP(37, "PRelu", binary),
    OP(40, "MaxPool", pool),
    OP(41, "AveragePool", pool),
    OP(42, "GlobalAveragePool", global_pool),
    OP(43, "GlobalMaxPool", global_pool),
    OP(50, "Concat", concat),
    OP(51, "Split", split),
    OP(52, "Slice", slice),
    OP(53, "Reshape", reshape),
    OP(54, "Transpose", transpose),
    OP(55, "Pad", pad),
    OP(56, "Resize", resize),
    OP(57, "Softmax", softmax),
    OP(58, "ReduceMean", reduce),
    OP(59, "ReduceSum", reduce),
    OP(60, "ReduceMax", reduce),
    OP(61, "ReduceMin", reduce),
    OP(62, "LayerNormalization", layernorm),
    OP(63, "Gather", gather),
    OP(64, "LRN", lrn),
    OP(80, "QuantizeLinear", qelementwise),
    OP(81, "DequantizeLinear", qelementwise),
    OP(82, "QConv", qconv),
    OP(83, "QGemm", qgemm),
    OP(84, "QAdd", qelementwise),
    OP(85, "QLookup", qelementwise),
    OP(86, "QGlobalAveragePool", qelementwise),
    OP(87, "QMaxPool", qelementwise),
    OP(88, "QAveragePool", qelementwise),
};

const pnn_op_def *pnn_op_lookup(uint16_t code) {
  for (size_t i = 0; i < sizeof(OP_TABLE) / sizeof(OP_TABLE[0]); ++i) {
    if (OP_TABLE[i].code == code) return &OP_TABLE[i];
  }
  return NULL;
}
