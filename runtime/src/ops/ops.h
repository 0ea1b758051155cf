/* Operator entry points (docs/OPS.md): the families that ops.def names. */
#ifndef PNN_OPS_H
#define PNN_OPS_H

#include <string.h>

#include "../internal.h"

#define PNN_DECLARE_OP(fn)                                                            \
  pnn_status pnn_op_##fn##_prepare(pnn_model *model, pnn_node *node, pnn_error *error); \
  void pnn_op_##fn##_run(const pnn_model *model, const pnn_node *node,                \
                         const void *const *in, void *const *out,                     \
                         const pnn_run_context *ctx);

/* nn ops: conv.c, conv_transpose.c, gemm.c, matmul.c, batchnorm.c, pool.c */
PNN_DECLARE_OP(conv)
PNN_DECLARE_OP(conv_transpose)
PNN_DECLARE_OP(gemm)
PNN_DECLARE_OP(matmul)
PNN_DECLARE_OP(batchnorm)
PNN_DECLARE_OP(pool)         /* MaxPool, AveragePool */
PNN_DECLARE_OP(global_pool)  /* GlobalAveragePool, GlobalMaxPool */

/* element-wise and data-movement ops */
PNN_DECLARE_OP(unary)        /* codes 10..29: switch on node->op */
PNN_DECLARE_OP(binary)       /* codes 30..37 */
PNN_DECLARE_OP(concat)
PNN_DECLARE_OP(split)
PNN_DECLARE_OP(slice)
PNN_DECLARE_OP(reshape)
PNN_DECLARE_OP(transpose)
PNN_DECLARE_OP(pad)
PNN_DECLARE_OP(resize)
PNN_DECLARE_OP(softmax)
PNN_DECLARE_OP(reduce)       /* codes 58..61 */
PNN_DECLARE_OP(layernorm)
PNN_DECLARE_OP(gather)
PNN_DECLARE_OP(lrn)

/* operators on runtime values of any dtype (docs/OPS.md, codes 90..107) */
PNN_DECLARE_OP(value_binary) /* Equal..GreaterOrEqual, And, Or, Xor */
PNN_DECLARE_OP(where)
PNN_DECLARE_OP(cast)         /* Cast, Not */
PNN_DECLARE_OP(arg_reduce)   /* ArgMax, ArgMin */
PNN_DECLARE_OP(cumsum)
PNN_DECLARE_OP(expand)
PNN_DECLARE_OP(tile)
PNN_DECLARE_OP(topk)

/* integer operators (docs/OPS.md, codes 80..88) */
PNN_DECLARE_OP(qconv)        /* QConv */
PNN_DECLARE_OP(qgemm)        /* QGemm */
PNN_DECLARE_OP(qmatmul)      /* QMatMul: u8 x u8 */
PNN_DECLARE_OP(qelementwise) /* the others: switch on node->op */

/* dynamic quantization (docs/OPS.md, codes 110, 111, 116): dynquant.c */
PNN_DECLARE_OP(conv_integer)
PNN_DECLARE_OP(matmul_integer)
PNN_DECLARE_OP(dynamic_quantize)
/* recurrent layers (docs/OPS.md, codes 112..113): recurrent.c */
PNN_DECLARE_OP(recurrent)    /* LSTM, GRU */
/* binary operators (docs/OPS.md, codes 120..121) */
PNN_DECLARE_OP(bconv)        /* BConv2d, BGemm */

/* "<path>/<isa>" as a static string for the node's kernel field. The ISA names are
 * the ones the select functions return. */
#define PNN_KERNEL_NAME(path, isa)                                                     \
  (strcmp((isa), "avx512") == 0 ? path "/avx512"                                      \
   : strcmp((isa), "avx512vnni") == 0 ? path "/avx512vnni"                            \
   : strcmp((isa), "avx2") == 0 ? path "/avx2"                                        \
   : strcmp((isa), "neon") == 0 ? path "/neon"                                        \
   : strcmp((isa), "wasmsimd") == 0 ? path "/wasmsimd"                                \
   : strcmp((isa), "portable") == 0 ? path "/portable"                                \
                                    : path "/scalar")

#endif /* PNN_OPS_H */
