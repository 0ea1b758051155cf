/* Run-time CPU feature detection for picking kernel variants.
 *
 * A feature is usable only if the CPU implements it (CPUID) AND the OS saves the
 * wider register state on context switches (XCR0 via XGETBV); otherwise the first
 * AVX instruction faults. On non-x86 targets every flag is zero. */
#include "pnn_kernels.h"

#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)

#if defined(_MSC_VER) && !defined(__clang__)
#include <immintrin.h>
#include <intrin.h>

static void cpuid_query(unsigned leaf, unsigned subleaf, unsigned regs[4]) {
  int out[4];
  __cpuidex(out, (int)leaf, (int)subleaf);
  for (int i = 0; i < 4; ++i) regs[i] = (unsigned)out[i];
}

static unsigned long long read_xcr0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>

static void cpuid_query(unsigned leaf, unsigned subleaf, unsigned regs[4]) {
  regs[0] = regs[1] = regs[2] = regs[3] = 0;
  if (leaf > (unsigned)__get_cpuid_max(0, NULL)) return; /* leaf not implemented: all zero */
  __cpuid_count(leaf, subleaf, regs[0], regs[1], regs[2], regs[3]);
}

/* Inline asm rather than _xgetbv() so this file needs no -mxsave flag. */
static unsigned long long read_xcr0(void) {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}
#endif

/* CPUID.1:ECX */
#define PNN_CPUID1_FMA (1u << 12)
#define PNN_CPUID1_OSXSAVE (1u << 27)
#define PNN_CPUID1_AVX (1u << 28)
/* CPUID.(7,0):EBX */
#define PNN_CPUID7_AVX2 (1u << 5)
#define PNN_CPUID7_AVX512F (1u << 16)
#define PNN_CPUID7_AVX512BW (1u << 30)
#define PNN_CPUID7_AVX512VL (1u << 31)
/* CPUID.(7,0):ECX */
#define PNN_CPUID7_ECX_AVX512VNNI (1u << 11)
#define PNN_CPUID7_ECX_AVX512VPOPCNTDQ (1u << 14)
/* CPUID.(7,1):EAX */
#define PNN_CPUID71_EAX_AVXVNNI (1u << 4)
/* XCR0 state components: SSE|AVX (XMM, YMM upper) and opmask|ZMM_Hi256|Hi16_ZMM. */
#define PNN_XCR0_YMM 0x06ull
#define PNN_XCR0_ZMM 0xE6ull

void pnn_cpu_detect(pnn_cpu_features *f) {
  memset(f, 0, sizeof *f);
  unsigned leaf1[4], leaf7[4], leaf71[4];
  cpuid_query(1, 0, leaf1);
  if (!(leaf1[2] & PNN_CPUID1_OSXSAVE)) return; /* XGETBV itself is unavailable */
  unsigned long long xcr0 = read_xcr0();
  int ymm_enabled = (xcr0 & PNN_XCR0_YMM) == PNN_XCR0_YMM;
  int zmm_enabled = (xcr0 & PNN_XCR0_ZMM) == PNN_XCR0_ZMM;
  cpuid_query(7, 0, leaf7);
  int has_avx = (leaf1[2] & PNN_CPUID1_AVX) != 0;
  int has_fma = (leaf1[2] & PNN_CPUID1_FMA) != 0;
  int has_avx2 = (leaf7[1] & PNN_CPUID7_AVX2) != 0;
  int has_avx512f = (leaf7[1] & PNN_CPUID7_AVX512F) != 0;
  f->avx2_fma = ymm_enabled && has_avx && has_avx2 && has_fma;
  /* The AVX-512 kernels also use AVX2/FMA code paths for tails, so require both. */
  f->avx512f = f->avx2_fma && zmm_enabled && has_avx512f;
  f->avx512bw = f->avx512f && (leaf7[1] & PNN_CPUID7_AVX512BW) && (leaf7[1] & PNN_CPUID7_AVX512VL);
  f->avx512vnni = f->avx512bw && (leaf7[2] & PNN_CPUID7_ECX_AVX512VNNI);
  f->avx512vpopcntdq = f->avx512bw && (leaf7[2] & PNN_CPUID7_ECX_AVX512VPOPCNTDQ);
  cpuid_query(7, 1, leaf71);
  f->avxvnni = f->avx2_fma && (leaf71[0] & PNN_CPUID71_EAX_AVXVNNI);
}

#elif defined(__aarch64__) && defined(__linux__)

#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

void pnn_cpu_detect(pnn_cpu_features *f) {
  memset(f, 0, sizeof *f);
  f->neon_dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
}

#elif defined(__aarch64__) && defined(__APPLE__)

#include <sys/sysctl.h>

/* Not every Apple arm64 chip has dotprod (A11 and A12 lack it): ask the kernel. */
void pnn_cpu_detect(pnn_cpu_features *f) {
  memset(f, 0, sizeof *f);
  int value = 0;
  size_t size = sizeof(value);
  if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, NULL, 0) == 0 && size == sizeof(value)) {
    f->neon_dotprod = value != 0;
  }
}

#else

void pnn_cpu_detect(pnn_cpu_features *f) { memset(f, 0, sizeof *f); }

#endif

enum pnn_cpu_cap_result pnn_cpu_cap(pnn_cpu_features *f, const char *isa) {
  if (isa[0] == '\0') return PNN_CPU_CAP_OK;
  if (strcmp(isa, "scalar") == 0) {
#if defined(__x86_64__) || defined(_M_X64)
    memset(f, 0, sizeof *f);
    return PNN_CPU_CAP_OK;
#else
    /* NEON and SIMD128 are the baseline of their builds: no path without them. */
    return PNN_CPU_CAP_UNKNOWN;
#endif
  }
#if defined(__x86_64__) || defined(_M_X64)
  if (strcmp(isa, "avx2") == 0) {
    if (!f->avx2_fma) return PNN_CPU_CAP_UNAVAILABLE;
    f->avx512f = f->avx512bw = f->avx512vnni = f->avx512vpopcntdq = 0; /* AVX-VNNI is a 256-bit extension: kept */
    return PNN_CPU_CAP_OK;
  }
  if (strcmp(isa, "avx512") == 0) return f->avx512f ? PNN_CPU_CAP_OK : PNN_CPU_CAP_UNAVAILABLE;
#elif defined(__aarch64__)
  if (strcmp(isa, "neon") == 0) {
    f->neon_dotprod = 0;
    return PNN_CPU_CAP_OK;
  }
#else
  (void)f; /* wasm32: SIMD128 is the only path */
#endif
  return PNN_CPU_CAP_UNKNOWN;
}

const char *pnn_cpu_best_isa(const pnn_cpu_features *f) {
#if defined(__x86_64__) || defined(_M_X64)
  if (f->avx512f) return "avx512";
  return f->avx2_fma ? "avx2" : "scalar";
#elif defined(__aarch64__)
  return f->neon_dotprod ? "neondot" : "neon";
#elif defined(__wasm_simd128__)
  (void)f;
  return "wasmsimd";
#else
  (void)f;
  return "scalar";
#endif
}
