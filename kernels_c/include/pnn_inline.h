/* The one definition of PNN_ALWAYS_INLINE (the act and vhooks headers include it). */
#ifndef PNN_ALWAYS_INLINE
#if defined(__GNUC__)
#define PNN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define PNN_ALWAYS_INLINE inline
#endif
#endif
