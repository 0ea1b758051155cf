/* The one definition of PNN_ALWAYS_INLINE for headers that do not include
 * pnn_x86_act.h (whose identical definition it matches). */
#ifndef PNN_ALWAYS_INLINE
#if defined(__GNUC__)
#define PNN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define PNN_ALWAYS_INLINE inline
#endif
#endif
