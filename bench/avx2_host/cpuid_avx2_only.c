/* LD_PRELOAD library that makes this process see an AVX2-only x86-64 CPU.
 *
 * Why: the AVX2 targets compare pocketnn's AVX2 path with onnxruntime's AVX2 path, but
 * onnxruntime has no switch to cap its ISA. Linux's CPUID faulting (ARCH_SET_CPUID,
 * flag `cpuid_fault` in /proc/cpuinfo) makes every CPUID instruction trap; the handler
 * below answers it from the real CPU with the AVX-512 and AVX-VNNI feature bits cleared,
 * so every library (onnxruntime's MLAS, numpy, pocketnn) dispatches as on an AVX2 host.
 * The instructions still run at native speed. Benchmark and test use only.
 *
 * Libraries that install their own SIGSEGV handler (Python's faulthandler, which pytest
 * enables) would take the trap away and die on the first CPUID, so sigaction() is
 * interposed: their handler is kept aside and called for real faults only. The
 * sanitizers install theirs by system call, so run.sh turns their SIGSEGV handling off. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef ARCH_SET_CPUID
#define ARCH_SET_CPUID 0x1012
#endif

/* Leaf 7 subleaf 0: EBX AVX512F/DQ/IFMA/PF/ER/CD/BW/VL; ECX VBMI/VBMI2/GFNI-on-zmm is
 * separate (GFNI kept), VNNI/BITALG/VPOPCNTDQ; EDX 4VNNIW/4FMAPS/VP2INTERSECT/FP16. */
#define LEAF7_EBX_AVX512 ((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31))
#define LEAF7_ECX_AVX512 ((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14))
#define LEAF7_EDX_AVX512 ((1u << 2) | (1u << 3) | (1u << 8) | (1u << 23))
/* Leaf 7 subleaf 1: EAX AVX-VNNI (4) and AVX512_BF16 (5); EDX AVX10 (19). */
#define LEAF7_1_EAX_MASKED ((1u << 4) | (1u << 5))
#define LEAF7_1_EDX_MASKED (1u << 19)

static long cpuid_faulting(int on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction;
static int masking;                   /* our SIGSEGV handler is installed */
static struct sigaction program_segv; /* what the program asked for SIGSEGV (SIG_DFL first) */

static sigaction_fn next_sigaction(void) {
    if (!real_sigaction) real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    return real_sigaction;
}

/* Interposed: once masking, SIGSEGV stays ours; the program's handler is recorded. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig != SIGSEGV || !masking) return next_sigaction()(sig, act, old);
    if (old) *old = program_segv;
    if (act) program_segv = *act;
    return 0;
}

/* Interposed too: glibc's signal() does not go through the sigaction symbol (cc1 uses it). */
sighandler_t signal(int sig, sighandler_t handler) {
    if (sig != SIGSEGV || !masking) {
        struct sigaction act, old;
        memset(&act, 0, sizeof act);
        act.sa_handler = handler;
        act.sa_flags = SA_RESTART;
        sigemptyset(&act.sa_mask);
        return next_sigaction()(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
    }
    const sighandler_t previous = (program_segv.sa_flags & SA_SIGINFO) ? SIG_DFL : program_segv.sa_handler;
    memset(&program_segv, 0, sizeof program_segv);
    program_segv.sa_handler = handler;
    return previous;
}

/* A fault that is not CPUID: hand it to the program's handler, or die as it would have. */
static void forward_fault(int sig, siginfo_t *info, void *context) {
    if (program_segv.sa_flags & SA_SIGINFO) {
        program_segv.sa_sigaction(sig, info, context);
    } else if (program_segv.sa_handler != SIG_DFL && program_segv.sa_handler != SIG_IGN) {
        program_segv.sa_handler(sig);
    } else {
        struct sigaction fallback;
        memset(&fallback, 0, sizeof fallback);
        fallback.sa_handler = SIG_DFL;
        masking = 0;
        next_sigaction()(SIGSEGV, &fallback, NULL); /* the faulting instruction reruns and kills */
    }
}

static void answer_cpuid(int sig, siginfo_t *info, void *context) {
    greg_t *regs = ((ucontext_t *)context)->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
    if (sig != SIGSEGV || ip[0] != 0x0f || ip[1] != 0xa2) {
        forward_fault(sig, info, context);
        return;
    }
    unsigned leaf = (unsigned)regs[REG_RAX], sub = (unsigned)regs[REG_RCX];
    unsigned a, b, c, d;
    cpuid_faulting(0);
    __cpuid_count(leaf, sub, a, b, c, d);
    cpuid_faulting(1);
    if (leaf == 7 && sub == 0) {
        b &= ~LEAF7_EBX_AVX512;
        c &= ~LEAF7_ECX_AVX512;
        d &= ~LEAF7_EDX_AVX512;
    } else if (leaf == 7 && sub == 1) {
        a &= ~LEAF7_1_EAX_MASKED;
        d &= ~LEAF7_1_EDX_MASKED;
    }
    regs[REG_RAX] = a;
    regs[REG_RBX] = b;
    regs[REG_RCX] = c;
    regs[REG_RDX] = d;
    regs[REG_RIP] += 2;
}

__attribute__((constructor)) static void start_masking(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = answer_cpuid;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    memset(&program_segv, 0, sizeof program_segv);
    program_segv.sa_handler = SIG_DFL;
    if (next_sigaction()(SIGSEGV, &action, NULL) != 0 || cpuid_faulting(1) != 0) {
        fprintf(stderr, "cpuid_avx2_only: this kernel/CPU has no CPUID faulting; cannot pose as AVX2-only\n");
        exit(3);
    }
    masking = 1;
}
