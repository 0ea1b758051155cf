/* The loops shared by the x86 channel-lane f32 GEMMs (pnn_f32_gemm_pt_avx2 / _avx512;
 * contract in pnn_kernels_nn.h): channel blocks, pixel panels cut in strips of nearly
 * equal height, the bias and the scalar activation pass. Included after pb_driver.h and
 * the ISA's hooks:
 *   PT_MR          most pixels of a strip (one broadcast each per k)
 *   PT_CHANNELS    channels of a tile (a 32-channel panel or half of one)
 *   pt_strip(nr, K, at, b, ldb, c, ldc, channels, bias_lo, bias_hi, ep)
 *       nr pixels (b[k * ldb + i]) x `channels` channels (at[k * NR + j]) of the whole K
 *       sum, plus the bias vectors, activated, into the channel rows of c */
#ifndef PNN_F32_GEMM_PT_DRIVER_H
#define PNN_F32_GEMM_PT_DRIVER_H

_Static_assert(PNN_GEMM_PB_NR % PT_CHANNELS == 0, "channel tiles split a channel panel");

/* Channel m0's block of the weight panels At. */
static const float *pt_channel_block(const float *At, size_t K, size_t m0) {
  return At + (m0 / PNN_GEMM_PB_NR) * PNN_GEMM_PB_NR * K + m0 % PNN_GEMM_PB_NR;
}

/* B: packed panels (panel_step K * NR, ldb NR) or rows of X (panel_step NR, ldb its row
 * stride): panel p's row k at B + p * panel_step + k * ldb. */
static void gemm_pt(size_t M, size_t N, size_t K, const float *At, const float *B, size_t panel_step, size_t ldb,
                    float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  if (M == 0 || N == 0) return;
  pb_epilogue ep;
  ep.prefetch = 0;
  ep.kind = act.kind;
  ep.activate = 1;
  ep.alpha = pb_set1(act.alpha);
  ep.beta = pb_set1(act.beta);
  for (size_t m0 = 0; m0 < M; m0 += PT_CHANNELS) {
    const size_t channels = M - m0 < PT_CHANNELS ? M - m0 : PT_CHANNELS;
    const pb_mask mlo = pb_tail_mask(channels), mhi = pb_tail_mask(channels > PB_LANES ? channels - PB_LANES : 0);
    const pb_vec bias_lo = row_bias ? pb_load_tail(mlo, row_bias + m0) : pb_zero();
    const pb_vec bias_hi = row_bias ? pb_load_tail(mhi, row_bias + m0 + PB_LANES) : pb_zero();
    const float *at = pt_channel_block(At, K, m0);
    const uintptr_t next_block =
        m0 + PT_CHANNELS < M ? (uintptr_t)(pt_channel_block(At, K, m0 + PT_CHANNELS) - at) * sizeof(float) : 0;
    /* The channel block (K x PT_CHANNELS floats) stays in L1/L2 while every pixel strip passes. */
    for (size_t n0 = 0; n0 < N; n0 += PNN_GEMM_PB_NR) {
      const size_t panel_width = N - n0 < PNN_GEMM_PB_NR ? N - n0 : PNN_GEMM_PB_NR;
      const float *panel = B + (n0 / PNN_GEMM_PB_NR) * panel_step;
      /* Strips of nearly equal height (32 = 11 + 11 + 10 for 14 rows, not 14 + 14 + 4): a
       * short strip has too few FMAs per weight load to keep the FMA units busy. */
      const size_t strips = (panel_width + PT_MR - 1) / PT_MR;
      for (size_t s = 0, index = 0; index < strips; ++index) {
        const size_t nr = panel_width / strips + (index < panel_width % strips);
        /* The block's first strip prefetches the next block's weights, row for row: a
         * layer's weights are cold (other layers' data passed through the caches since)
         * and without it the FMAs waited on them (AVX2: 512 x 512 x 196 ran 11%,
         * 1024 x 1024 x 49 24% slower with cold weights than with hot ones). */
        ep.prefetch = n0 == 0 && index == 0 ? next_block : 0;
        pt_strip(nr, K, at, panel + s, ldb, C + m0 * ldc + n0 + s, ldc, channels, bias_lo, bias_hi, &ep);
        s += nr;
      }
    }
  }
  if (pnn_act_needs_scalar_pass(act.kind)) {
    for (size_t m = 0; m < M; ++m) PB_ACTIVATE_PASS(C + m * ldc, N, act);
  }
}

#endif /* PNN_F32_GEMM_PT_DRIVER_H */
