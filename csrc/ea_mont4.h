/* ea_mont4.h - (internal) 256-bit (4-limb) Montgomery product and square in x86-64 asm with
 * mulx and the two carry chains of adcx/adox (BMI2 + ADX): the kernel of the primality tests
 * of 256-bit hash-to-prime candidates (ea_prime.c) where cpuid reports both instructions
 * (ea_fast_paths: EA_PATH_MULX) and EDGEACC_PORTABLE is not set; GMP's mpz_powm and the
 * portable C product elsewhere. Header-only: a call would cost a tenth of a product.
 *
 * Both take n odd with n[3] != 0, inputs below n, ninv = -n^{-1} mod 2^64, and give the
 * reduced result r = a*b/2^256 mod n (r < n); r may alias a or b (ea_mont4_add and ea_mont4_sub:
 * r = a + b and a - b mod n, the additions of the tests, inline). EA_MONT4_COMPILED is
 * defined where the compiler takes the asm (GCC or Clang on x86-64) unless EA_NO_MULX is: one
 * switch for both mulx kernels, as it also clears EA_PATH_MULX (ea_mulx_usable). */
#ifndef EA_MONT4_H
#define EA_MONT4_H

#include <stdint.h>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(EA_NO_MULX)  /* ea_mulx.h's opt-out too */
#define EA_MONT4_COMPILED 1

/* One CIOS row: (A..E) += a * b[I]; then (A..F) += q * n with q = A * ninv, which clears A.
 * F receives the row's top carries; the caller renames the registers (A drops out). */
#define EA_MONT4_ROW(I, A, B, C, D, E, F) \
    "movq " #I "*8(%[b]), %%rdx\n\t" \
    "xorl %k[z], %k[z]\n\t" \
    "mulxq 0(%[a]), %[lo], %[hi]\n\t"  "adoxq %[lo], %[" #A "]\n\t" "adcxq %[hi], %[" #B "]\n\t" \
    "mulxq 8(%[a]), %[lo], %[hi]\n\t"  "adoxq %[lo], %[" #B "]\n\t" "adcxq %[hi], %[" #C "]\n\t" \
    "mulxq 16(%[a]), %[lo], %[hi]\n\t" "adoxq %[lo], %[" #C "]\n\t" "adcxq %[hi], %[" #D "]\n\t" \
    "mulxq 24(%[a]), %[lo], %[hi]\n\t" "adoxq %[lo], %[" #D "]\n\t" "adcxq %[hi], %[" #E "]\n\t" \
    "movl $0, %k[" #F "]\n\t" \
    "adoxq %[z], %[" #E "]\n\t" "adcxq %[z], %[" #F "]\n\t" "adoxq %[z], %[" #F "]\n\t" \
    "movq %[" #A "], %%rdx\n\t" \
    "imulq %[ninv], %%rdx\n\t" \
    "xorl %k[z], %k[z]\n\t" \
    "mulxq 0(%[n]), %[lo], %[hi]\n\t"  "adoxq %[lo], %[" #A "]\n\t" "adcxq %[hi], %[" #B "]\n\t" \
    "mulxq 8(%[n]), %[lo], %[hi]\n\t"  "adoxq %[lo], %[" #B "]\n\t" "adcxq %[hi], %[" #C "]\n\t" \
    "mulxq 16(%[n]), %[lo], %[hi]\n\t" "adoxq %[lo], %[" #C "]\n\t" "adcxq %[hi], %[" #D "]\n\t" \
    "mulxq 24(%[n]), %[lo], %[hi]\n\t" "adoxq %[lo], %[" #D "]\n\t" "adcxq %[hi], %[" #E "]\n\t" \
    "adoxq %[z], %[" #E "]\n\t" "adcxq %[z], %[" #F "]\n\t" "adoxq %[z], %[" #F "]\n\t"

/* r = (T0..T3) with top limb TOP (0 or 1), minus n unless that is below n (no branch). */
#define EA_MONT4_FINAL(T0, T1, T2, T3, TOP, S0, S1, S2, S3) \
    "movq %[" #T0 "], %[" #S0 "]\n\t" "subq 0(%[n]), %[" #S0 "]\n\t" \
    "movq %[" #T1 "], %[" #S1 "]\n\t" "sbbq 8(%[n]), %[" #S1 "]\n\t" \
    "movq %[" #T2 "], %[" #S2 "]\n\t" "sbbq 16(%[n]), %[" #S2 "]\n\t" \
    "movq %[" #T3 "], %[" #S3 "]\n\t" "sbbq 24(%[n]), %[" #S3 "]\n\t" \
    "sbbq $0, %[" #TOP "]\n\t" \
    "cmovncq %[" #S0 "], %[" #T0 "]\n\t" "cmovncq %[" #S1 "], %[" #T1 "]\n\t" \
    "cmovncq %[" #S2 "], %[" #T2 "]\n\t" "cmovncq %[" #S3 "], %[" #T3 "]\n\t"

static inline void ea_mont4_mul(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *n,
                                uint64_t ninv)
{
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5, lo, hi, z;
    __asm__(
        EA_MONT4_ROW(0, t0, t1, t2, t3, t4, t5)
        EA_MONT4_ROW(1, t1, t2, t3, t4, t5, t0)
        EA_MONT4_ROW(2, t2, t3, t4, t5, t0, t1)
        EA_MONT4_ROW(3, t3, t4, t5, t0, t1, t2)
        EA_MONT4_FINAL(t4, t5, t0, t1, t2, lo, hi, z, t3)
        : [t0] "+&r"(t0), [t1] "+&r"(t1), [t2] "+&r"(t2), [t3] "+&r"(t3), [t4] "+&r"(t4),
          [t5] "=&r"(t5), [lo] "=&r"(lo), [hi] "=&r"(hi), [z] "=&r"(z)
        : [a] "r"(a), [b] "r"(b), [n] "r"(n), [ninv] "m"(ninv)
        : "rdx", "cc", "memory");  /* (it reads a, b, n: a clobber, not operands - at -O0 each
                                    * memory operand takes a register this asm does not have) */
    r[0] = t4; r[1] = t5; r[2] = t0; r[3] = t1;
}

/* One REDC round (as GMP's redc_1): (C0..C3) += q * n with q = C0 * ninv, which clears C0;
 * C0 then keeps the round's carry, owed one limb above C3 and added at the end. */
#define EA_MONT4_REDC(C0, C1, C2, C3) \
    "movq %[" #C0 "], %%rdx\n\t" "imulq %[ninv], %%rdx\n\t" "xorl %k[z], %k[z]\n\t" \
    "mulxq 0(%[n]), %[lo], %[hi]\n\t"  "adoxq %[lo], %[" #C0 "]\n\t" "adcxq %[hi], %[" #C1 "]\n\t" \
    "mulxq 8(%[n]), %[lo], %[hi]\n\t"  "adoxq %[lo], %[" #C1 "]\n\t" "adcxq %[hi], %[" #C2 "]\n\t" \
    "mulxq 16(%[n]), %[lo], %[hi]\n\t" "adoxq %[lo], %[" #C2 "]\n\t" "adcxq %[hi], %[" #C3 "]\n\t" \
    "mulxq 24(%[n]), %[lo], %[" #C0 "]\n\t" "adoxq %[lo], %[" #C3 "]\n\t" \
    "adcxq %[z], %[" #C0 "]\n\t" "adoxq %[z], %[" #C0 "]\n\t"

static inline void ea_mont4_sqr(uint64_t *r, const uint64_t *a, const uint64_t *n, uint64_t ninv)
{
    uint64_t c0, c1, c2, c3, c4, c5, c6, c7, lo, hi, z;
    __asm__(
        /* the cross products a_i a_j (i < j) into c1..c6 */
        "movq 0(%[a]), %%rdx\n\t"
        "mulxq 8(%[a]), %[c1], %[c2]\n\t"
        "mulxq 16(%[a]), %[lo], %[c3]\n\t"   "addq %[lo], %[c2]\n\t"
        "mulxq 24(%[a]), %[lo], %[c4]\n\t"   "adcq %[lo], %[c3]\n\t"   "adcq $0, %[c4]\n\t"
        "movq 8(%[a]), %%rdx\n\t"
        "xorl %k[z], %k[z]\n\t"
        "mulxq 16(%[a]), %[lo], %[hi]\n\t"   "adoxq %[lo], %[c3]\n\t"  "adcxq %[hi], %[c4]\n\t"
        "mulxq 24(%[a]), %[lo], %[c5]\n\t"   "adoxq %[lo], %[c4]\n\t"
        "adcxq %[z], %[c5]\n\t"              "adoxq %[z], %[c5]\n\t"
        "movq 16(%[a]), %%rdx\n\t"
        "mulxq 24(%[a]), %[lo], %[c6]\n\t"   "addq %[lo], %[c5]\n\t"   "adcq $0, %[c6]\n\t"
        /* doubled into c1..c7 */
        "xorl %k[c7], %k[c7]\n\t"
        "addq %[c1], %[c1]\n\t" "adcq %[c2], %[c2]\n\t" "adcq %[c3], %[c3]\n\t" "adcq %[c4], %[c4]\n\t"
        "adcq %[c5], %[c5]\n\t" "adcq %[c6], %[c6]\n\t" "adcq $0, %[c7]\n\t"
        /* plus the squares a_i^2 */
        "movq 0(%[a]), %%rdx\n\t"  "mulxq %%rdx, %[c0], %[hi]\n\t" "addq %[hi], %[c1]\n\t"
        "movq 8(%[a]), %%rdx\n\t"  "mulxq %%rdx, %[lo], %[hi]\n\t" "adcq %[lo], %[c2]\n\t" "adcq %[hi], %[c3]\n\t"
        "movq 16(%[a]), %%rdx\n\t" "mulxq %%rdx, %[lo], %[hi]\n\t" "adcq %[lo], %[c4]\n\t" "adcq %[hi], %[c5]\n\t"
        "movq 24(%[a]), %%rdx\n\t" "mulxq %%rdx, %[lo], %[hi]\n\t" "adcq %[lo], %[c6]\n\t" "adcq %[hi], %[c7]\n\t"
        EA_MONT4_REDC(c0, c1, c2, c3)
        EA_MONT4_REDC(c1, c2, c3, c4)
        EA_MONT4_REDC(c2, c3, c4, c5)
        EA_MONT4_REDC(c3, c4, c5, c6)
        /* (c4..c7) plus the carries (c0..c3), its top limb in z */
        "xorl %k[z], %k[z]\n\t"
        "addq %[c0], %[c4]\n\t" "adcq %[c1], %[c5]\n\t" "adcq %[c2], %[c6]\n\t" "adcq %[c3], %[c7]\n\t"
        "adcq $0, %[z]\n\t"
        EA_MONT4_FINAL(c4, c5, c6, c7, z, c0, c1, c2, c3)
        : [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3), [c4] "=&r"(c4),
          [c5] "=&r"(c5), [c6] "=&r"(c6), [c7] "=&r"(c7), [lo] "=&r"(lo), [hi] "=&r"(hi), [z] "=&r"(z)
        : [a] "r"(a), [n] "r"(n), [ninv] "m"(ninv)
        : "rdx", "cc", "memory");
    r[0] = c4; r[1] = c5; r[2] = c6; r[3] = c7;
}

/* r = a + b mod n and r = a - b mod n (a, b < n; n as above; r may alias a or b), branch-free. */
static inline void ea_mont4_add(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *n)
{
    uint64_t t0, t1, t2, t3, top, s0, s1, s2, s3;
    __asm__(
        "movq 0(%[a]), %[t0]\n\t"  "addq 0(%[b]), %[t0]\n\t"
        "movq 8(%[a]), %[t1]\n\t"  "adcq 8(%[b]), %[t1]\n\t"
        "movq 16(%[a]), %[t2]\n\t" "adcq 16(%[b]), %[t2]\n\t"
        "movq 24(%[a]), %[t3]\n\t" "adcq 24(%[b]), %[t3]\n\t"
        "movl $0, %k[top]\n\t"     "adcq $0, %[top]\n\t"
        EA_MONT4_FINAL(t0, t1, t2, t3, top, s0, s1, s2, s3)
        : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [top] "=&r"(top),
          [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3)
        : [a] "r"(a), [b] "r"(b), [n] "r"(n)
        : "cc", "memory");
    r[0] = t0; r[1] = t1; r[2] = t2; r[3] = t3;
}

static inline void ea_mont4_sub(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *n)
{
    uint64_t t0, t1, t2, t3, m, s0, s1, s2;
    __asm__(
        "movq 0(%[a]), %[t0]\n\t"  "subq 0(%[b]), %[t0]\n\t"
        "movq 8(%[a]), %[t1]\n\t"  "sbbq 8(%[b]), %[t1]\n\t"
        "movq 16(%[a]), %[t2]\n\t" "sbbq 16(%[b]), %[t2]\n\t"
        "movq 24(%[a]), %[t3]\n\t" "sbbq 24(%[b]), %[t3]\n\t"
        "sbbq %[m], %[m]\n\t"                          /* all ones iff a < b: then add n */
        "movq 0(%[n]), %[s0]\n\t"  "andq %[m], %[s0]\n\t"  /* (and clears CF: masks first) */
        "movq 8(%[n]), %[s1]\n\t"  "andq %[m], %[s1]\n\t"
        "movq 16(%[n]), %[s2]\n\t" "andq %[m], %[s2]\n\t"
        "andq 24(%[n]), %[m]\n\t"
        "addq %[s0], %[t0]\n\t" "adcq %[s1], %[t1]\n\t" "adcq %[s2], %[t2]\n\t" "adcq %[m], %[t3]\n\t"
        : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [m] "=&r"(m),
          [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2)
        : [a] "r"(a), [b] "r"(b), [n] "r"(n)
        : "cc", "memory");
    r[0] = t0; r[1] = t1; r[2] = t2; r[3] = t3;
}

#undef EA_MONT4_ROW
#undef EA_MONT4_REDC
#undef EA_MONT4_FINAL
#endif
#endif
