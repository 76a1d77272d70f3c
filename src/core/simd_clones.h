// Hot loops compiled twice, for AVX2 and for the baseline x86-64 target, and picked at load time (GCC
// target_clones). AVX2 without FMA: the same per-element operations in the same order, so both versions give
// identical bits and results do not depend on the machine.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BOUNDSEG_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BOUNDSEG_SIMD_CLONES
#endif
