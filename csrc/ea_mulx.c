/* ea_mulx.c - 32-limb Montgomery rows with mulx/adcx/adox (see ea_mulx.h). */
#include "ea_mulx.h"

#ifdef EA_MULX_COMPILED
#include <cpuid.h>
#include "ea_mulx_sqr.h"

int ea_mulx_usable(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, 0) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    (void)a; (void)c; (void)d;
    return (b >> 8 & 1) && (b >> 19 & 1);           /* CPUID.7.0:EBX bit 8 BMI2, bit 19 ADX */
}

/* A row: t[0..L-1] += q * b[0..L-1], returning the carry limb (the row's t[L] part).
 * Limb j: mulx gives q*b[j] = hi:lo; lo joins t[j] on the CF chain (adcx), the previous limb's
 * hi on the OF chain (adox). The two hi registers alternate so no mov sits between steps.
 * The carry (last hi + CF + OF) cannot overflow: t + q*b < 2^(64*(L+1)). */
#define EA_STEP(j, H, P)                                                  \
    "mulx " #j "*8(%[b]), %[lo], %[" H "]\n\t"                            \
    "adcx " #j "*8(%[t]), %[lo]\n\t"                                      \
    "adox %[" P "], %[lo]\n\t"                                            \
    "movq %[lo], " #j "*8(%[t])\n\t"
#define EA_PAIR(j, k) EA_STEP(j, "h1", "h0") EA_STEP(k, "h0", "h1")
/* EA_ROW(name, steps): the row function whose limbs 1..L-1 are `steps` (L even, so the last
 * hi is in h1). */
#define EA_ROW(name, steps)                                               \
    static inline mp_limb_t name(mp_limb_t *t, const mp_limb_t *b, mp_limb_t q) \
    {                                                                     \
        mp_limb_t lo, h0, h1;                                             \
        __asm__ __volatile__(                                             \
            "xorl %k[lo], %k[lo]\n\t"       /* CF = OF = 0 */              \
            "mulx (%[b]), %[lo], %[h0]\n\t"                                \
            "adcx (%[t]), %[lo]\n\t"                                       \
            "movq %[lo], (%[t])\n\t"                                       \
            steps                                                         \
            "movl $0, %k[lo]\n\t"           /* mov keeps the flags */      \
            "adcx %[lo], %[h1]\n\t"                                        \
            "adox %[lo], %[h1]\n\t"                                        \
            : [lo] "=&r"(lo), [h0] "=&r"(h0), [h1] "=&r"(h1)              \
            : [t] "r"(t), [b] "r"(b), "d"(q)                              \
            : "cc", "memory");                                            \
        return h1;                                                        \
    }

EA_ROW(row32, EA_PAIR(1, 2) EA_PAIR(3, 4) EA_PAIR(5, 6) EA_PAIR(7, 8)
              EA_PAIR(9, 10) EA_PAIR(11, 12) EA_PAIR(13, 14) EA_PAIR(15, 16)
              EA_PAIR(17, 18) EA_PAIR(19, 20) EA_PAIR(21, 22) EA_PAIR(23, 24)
              EA_PAIR(25, 26) EA_PAIR(27, 28) EA_PAIR(29, 30) EA_STEP(31, "h1", "h0"))
EA_ROW(row16, EA_PAIR(1, 2) EA_PAIR(3, 4) EA_PAIR(5, 6) EA_PAIR(7, 8)
              EA_PAIR(9, 10) EA_PAIR(11, 12) EA_PAIR(13, 14) EA_STEP(15, "h1", "h0"))

/* t (32 limbs) = a * b (16 limbs each) by rows. */
static void mul16(mp_limb_t *t, const mp_limb_t *a, const mp_limb_t *b)
{
    int i;
    for (i = 0; i < 16; i++)
        t[i] = 0;
    for (i = 0; i < 16; i++)
        t[i + 16] = row16(t + i, b, a[i]);
}

/* One Karatsuba step over 16-limb halves (X = 2^1024): a b = z2 X^2 + (z0 + z2 + s |a0 - a1|
 * |b1 - b0|) X + z0 with s the sign of (a0 - a1)(b1 - b0): 768 mulx instead of 1024 for a few
 * additions (measured 0.89x of 32 rows). The middle term a0 b1 + a1 b0 is >= 0. */
void ea_mulx_mul32(mp_limb_t *t, const mp_limb_t *a, const mp_limb_t *b)
{
    mp_limb_t da[16], db[16], p[32], w[32], c;
    int na = mpn_cmp(a, a + 16, 16) < 0, nb = mpn_cmp(b + 16, b, 16) < 0;
    if (na)
        mpn_sub_n(da, a + 16, a, 16);
    else
        mpn_sub_n(da, a, a + 16, 16);
    if (nb)
        mpn_sub_n(db, b, b + 16, 16);
    else
        mpn_sub_n(db, b + 16, b, 16);
    mul16(p, da, db);
    mul16(t, a, b);
    mul16(t + 32, a + 16, b + 16);
    c = mpn_add_n(w, t, t + 32, 32);
    if (na == nb)
        c += mpn_add_n(w, w, p, 32);
    else
        c -= mpn_sub_n(w, w, p, 32);
    c += mpn_add_n(t + 16, t + 16, w, 32);
    mpn_add_1(t + 48, t + 48, 16, c);
}

static void sqr16(mp_limb_t *t, const mp_limb_t *a)
{
    mp_limb_t lo, h0, h1, x0, x1, d;
    __asm__ __volatile__(EA_MULX_SQR16_ASM
        : [lo] "=&r"(lo), [h0] "=&r"(h0), [h1] "=&r"(h1), [x0] "=&r"(x0), [x1] "=&r"(x1),
          "=&d"(d)
        : [t] "r"(t), [a] "r"(a)
        : "cc", "memory");
}

/* The square by the Karatsuba step of ea_mulx_mul32: a^2 = z2 X^2 + (z0 + z2 - (a0 - a1)^2) X
 * + z0 with z0 = a0^2, z2 = a1^2; three 16-limb squares, 408 mulx (measured 0.78x of one
 * straight-line 32-limb square of 528). */
void ea_mulx_sqr32(mp_limb_t *t, const mp_limb_t *a)
{
    mp_limb_t da[16], p[32], w[32], c;
    if (mpn_cmp(a, a + 16, 16) < 0)
        mpn_sub_n(da, a + 16, a, 16);
    else
        mpn_sub_n(da, a, a + 16, 16);
    sqr16(p, da);
    sqr16(t, a);
    sqr16(t + 32, a + 16);
    c = mpn_add_n(w, t, t + 32, 32);
    c -= mpn_sub_n(w, w, p, 32);
    c += mpn_add_n(t + 16, t + 16, w, 32);
    mpn_add_1(t + 48, t + 48, 16, c);
}

void ea_mulx_redc32(mp_limb_t *r, mp_limb_t *t, const mp_limb_t *m, mp_limb_t minv)
{
    int i;
    mp_limb_t cy;
    /* Row i zeroes t[i]; its carry is parked there and added at the end, as in ea_mont.c. */
    for (i = 0; i < EA_MULX_LIMBS; i++)
        t[i] = row32(t + i, m, t[i] * minv);
    cy = mpn_add_n(r, t + EA_MULX_LIMBS, t, EA_MULX_LIMBS);
    if (cy || mpn_cmp(r, m, EA_MULX_LIMBS) >= 0)
        mpn_sub_n(r, r, m, EA_MULX_LIMBS);
}

#else

int ea_mulx_usable(void)
{
    return 0;
}

#endif
