/* The inlining attributes of the kernels: one definition for every family (the same
 * tokens as the older local copies, so a file may still see both). */
#ifndef PNN_INLINE_H
#define PNN_INLINE_H

#if defined(__GNUC__)
#define PNN_ALWAYS_INLINE inline __attribute__((always_inline))
#define PNN_NOINLINE __attribute__((noinline))
#else
#define PNN_ALWAYS_INLINE inline
#define PNN_NOINLINE
#endif

#endif /* PNN_INLINE_H */
