/* One core's AVX2 FMA peak, the yardstick for per-layer GF/s on the AVX2 path:
 * 12 independent ymm FMA chains (FMA latency 4 x 2 pipes needs at least 8), thread CPU time.
 *     cc -O2 -o /tmp/fma_peak bench/avx2_host/fma_peak.c && /tmp/fma_peak
 * (x86-64 only; 116 GF/s on the Zen 4 EPYC of 2026-12-06.) */
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static void run(long iters){
  __asm__ volatile(
    "vxorps %%ymm14, %%ymm14, %%ymm14\n"
    "vxorps %%ymm15, %%ymm15, %%ymm15\n"
    "1:\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm0\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm1\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm2\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm3\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm4\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm5\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm6\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm7\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm8\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm9\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm10\n"
    "vfmadd231ps %%ymm14, %%ymm15, %%ymm11\n"
    "dec %0\n"
    "jnz 1b\n"
    : "+r"(iters) : : "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm14","xmm15","cc");
}
int main(void){
  const long iters=100000000; double best=1e9;
  for(int r=0;r<9;++r){double t=now();run(iters);t=now()-t;if(t<best)best=t;}
  printf("AVX2 FMA peak: %.1f GF/s (1 thread, best of 9)\n", iters*12.0*16/best/1e9);
  return 0;
}
