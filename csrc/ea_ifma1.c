/* ea_ifma1.c - single 2048-bit exponentiation on AVX-512 IFMA, radix 2^52.
 * A number is 40 limbs of 52 bits (2080 bits), five __m512i words. Values in the Montgomery
 * domain stay below 2N: with R = 2^2080 > 4N the almost-Montgomery product of two of them is
 * again below 2N, so the loop never subtracts; only the conversion out of the domain does. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ea_ifma1.h"
#include "ea_fastexp.h"
#include "ea_mont.h"

#define NL 40                       /* 52-bit limbs */
#define NV (NL / 8)                 /* 512-bit words */
#define NW 32                       /* 64-bit words of a value below 2^2048 */
#define MASK52 ((uint64_t)0xfffffffffffffULL)
#define MAX_WINDOW 7

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && GMP_NUMB_BITS == 64
#define EA_IFMA1_COMPILED 1
#endif

#ifdef EA_IFMA1_COMPILED
#include <immintrin.h>

#define ALIGNED __attribute__((aligned(64)))    /* a 512-bit load across cache lines costs 2 */

__extension__ typedef unsigned __int128 u128;

/* Per-thread context of the last modulus used by the thread (one modulus per accumulator, so
 * consecutive calls hit), freed when the thread ends. */
typedef struct {
    uint64_t m[NL] ALIGNED;         /* N */
    uint64_t r2[NL] ALIGNED;        /* R^2 mod N: amm(b, r2) = b R mod N */
    uint64_t k0;                    /* -N^{-1} mod 2^52 */
    mpz_t n;
} one_ctx;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static int key_ok;

static void ctx_free(void *p)
{
    one_ctx *c = p;
    if (c != NULL) {
        mpz_clear(c->n);
        free(c);
    }
}

static void key_init(void)
{
    key_ok = pthread_key_create(&ctx_key, ctx_free) == 0;
}

/* x (0 <= x < 2^2080) as 40 limbs of 52 bits. */
static void to52(uint64_t *out, const mpz_t x)
{
    ea_limbs52(out, 1, x, NL);
}

/* x = the value of 40 normalised 52-bit limbs; it must be below 2^2048 (an almost-Montgomery
 * result below 2N may not be: only from_mont's output goes through here). */
static void from52(mpz_t x, const uint64_t *in)
{
    uint64_t w[NW + 2] = {0};
    mp_limb_t *xp;
    size_t i, bit;
    for (i = 0, bit = 0; i < NL; i++, bit += 52) {
        size_t k = bit / 64, sh = bit % 64;
        w[k] |= in[i] << sh;
        if (sh > 12)
            w[k + 1] |= in[i] >> (64 - sh);
    }
    xp = mpz_limbs_write(x, NW);
    memcpy(xp, w, NW * sizeof(uint64_t));
    mpz_limbs_finish(x, NW);
}

static one_ctx *ctx_for(const mpz_t n)
{
    one_ctx *c;
    mpz_t t;
    pthread_once(&key_once, key_init);
    if (!key_ok)
        return NULL;
    c = pthread_getspecific(ctx_key);
    if (c == NULL) {
        void *p;                                /* 64-byte aligned, as the vectors */
        if (posix_memalign(&p, 64, sizeof *c) != 0)
            return NULL;
        c = memset(p, 0, sizeof *c);
        mpz_init(c->n);
        if (pthread_setspecific(ctx_key, c) != 0) {
            ctx_free(c);
            return NULL;
        }
    }
    if (mpz_sgn(c->n) != 0 && mpz_cmp(c->n, n) == 0)
        return c;
    to52(c->m, n);
    mpz_init_set_ui(t, 1);
    mpz_mul_2exp(t, t, 2 * 52 * NL);
    mpz_mod(t, t, n);
    to52(c->r2, t);
    mpz_clear(t);
    c->k0 = ea_neg_inv52(c->m[0]);
    mpz_set(c->n, n);
    return c;
}

/* r = a b / R mod N, almost: r < 2N for a, b < 2N; normalised 52-bit limbs. r may alias a or b.
 * Operand scanning over b's limbs. The quotient digit y of step i needs the exact limb i of the
 * running sum, which the scalar acc keeps; limb i + 1 comes from the vectors one step ahead
 * (s1: everything added to it before step i) plus this step's low products of a1 and m1, in
 * scalar, so no vector-to-scalar move stands between one digit and the next. The high
 * products of a step (H) join the sum at the next step, beside its low products. The same
 * terms are added as in the plain loop, so the limbs (and r) are the same. */
__attribute__((target("avx512f,avx512ifma")))
static void amm(uint64_t *r, const uint64_t *a, const uint64_t *b, const one_ctx *c)
{
    __m512i A[NV], M[NV], S[NV], H[NV];
    const __m512i zero = _mm512_setzero_si512();
    const uint64_t a0 = a[0], a1 = a[1], m0 = c->m[0], m1 = c->m[1], k0 = c->k0;
    uint64_t acc = 0, s1 = 0, out[NL], carry = 0;
    int i, j;
#pragma GCC unroll 8
    for (j = 0; j < NV; j++) {
        A[j] = _mm512_loadu_si512((const void *)(a + 8 * j));
        M[j] = _mm512_loadu_si512((const void *)(c->m + 8 * j));
        S[j] = zero;
        H[j] = zero;
    }
    for (i = 0; i < NL; i++) {
        const uint64_t bi = b[i];
        const u128 p = (u128)a0 * bi + acc, q = (u128)a1 * bi;
        const uint64_t y = ((uint64_t)p * k0) & MASK52;
        /* limb i of p + m0 y is 0; its carry is 1 unless limb i of p is 0 (then y = 0) */
        const uint64_t base = (uint64_t)(p >> 52) + (((uint64_t)p & MASK52) != 0) + s1 + ((uint64_t)q & MASK52);
        const u128 r0 = (u128)m0 * y, r1 = (u128)m1 * y;
        const __m512i B = _mm512_set1_epi64((long long)bi), Y = _mm512_set1_epi64((long long)y);
        acc = base + (uint64_t)(r0 >> 52) + ((uint64_t)r1 & MASK52);
#pragma GCC unroll 8
        for (j = 0; j < NV; j++) {
            __m512i t = _mm512_add_epi64(S[j], _mm512_madd52lo_epu64(H[j], A[j], B));
            S[j] = _mm512_madd52lo_epu64(t, M[j], Y);
            H[j] = _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(zero, A[j], B), M[j], Y);
        }
        /* drop limb i and shift the sum down one limb */
#pragma GCC unroll 8
        for (j = 0; j < NV - 1; j++)
            S[j] = _mm512_alignr_epi64(S[j + 1], S[j], 1);
        S[NV - 1] = _mm512_alignr_epi64(zero, S[NV - 1], 1);
        s1 = (uint64_t)_mm_extract_epi64(_mm512_castsi512_si128(_mm512_add_epi64(S[0], H[0])), 1);
    }
#pragma GCC unroll 8
    for (j = 0; j < NV; j++)
        _mm512_storeu_si512((void *)(out + 8 * j), _mm512_add_epi64(S[j], H[j]));
    out[0] = acc;                               /* limb 0's high products are in acc already */
    for (j = 0; j < NL; j++) {
        uint64_t v = out[j] + carry;
        r[j] = v & MASK52;
        carry = v >> 52;
    }
}

/* The sliding window for a bits-bit exponent: table of 2^(w-1) odd powers vs one product per
 * w + 1 bits on average. */
static unsigned window_for(size_t bits)
{
    unsigned w, best = 1;
    double bc = (double)bits;
    for (w = 2; w <= MAX_WINDOW; w++) {
        double v = (double)(1u << (w - 1)) + (double)bits / (w + 1);
        if (v < bc) {
            bc = v;
            best = w;
        }
    }
    return best;
}

/* r = x / R mod N: amm(x, 1) lies in [0, N], N only for x = 0 mod N. */
static void from_mont(mpz_t r, const uint64_t *x, const one_ctx *c)
{
    uint64_t one[NL] ALIGNED = {1}, y[NL];
    amm(y, x, one, c);
    from52(r, y);
    if (mpz_cmp(r, c->n) >= 0)
        mpz_sub(r, r, c->n);
}

int ea_ifma1_to_mont(uint64_t *out, const mpz_t b, const mpz_t n)
{
    uint64_t x[NL];
    one_ctx *c = ctx_for(n);
    if (c == NULL)
        return 0;
    to52(x, b);
    amm(out, x, c->r2, c);
    return 1;
}

int ea_ifma1_from_mont(mpz_t r, const uint64_t *x, const mpz_t n)
{
    one_ctx *c = ctx_for(n);
    if (c == NULL)
        return 0;
    from_mont(r, x, c);
    return 1;
}

int ea_ifma1_sqr(uint64_t *x, unsigned times, const mpz_t n)
{
    one_ctx *c = ctx_for(n);
    unsigned i;
    if (c == NULL)
        return 0;
    for (i = 0; i < times; i++)
        amm(x, x, x, c);
    return 1;
}

int ea_ifma1_horner(uint64_t *x, const uint64_t *S, size_t k, unsigned c, const mpz_t n)
{
    one_ctx *ctx = ctx_for(n);
    unsigned i;
    if (ctx == NULL)
        return 0;
    while (k-- > 0) {
        for (i = 0; i < c; i++)
            amm(x, x, x, ctx);
        amm(x, x, S + k * NL, ctx);
    }
    return 1;
}

int ea_ifma1_unit_product(mpz_t p, const mpz_t *ys, size_t count, const mpz_t n)
{
    uint64_t acc[NL] ALIGNED, y[NL];
    one_ctx *c = ctx_for(n);
    size_t j;
    if (c == NULL)
        return 0;
    to52(acc, ys[0]);
    for (j = 1; j < count; j++) {
        to52(y, ys[j]);
        amm(acc, acc, y, c);
    }
    from_mont(p, acc, c);                       /* below N: acc may need 2049 bits */
    return 1;
}

int ea_ifma1_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t n)
{
    uint64_t tab[(1u << (MAX_WINDOW - 1)) * NL] ALIGNED, x[NL] ALIGNED, sq[NL] ALIGNED;
    one_ctx *c = ctx_for(n);
    size_t bits = mpz_sizeinbase(e, 2), k;
    unsigned w;
    long i;
    int started = 0;
    if (c == NULL || mpz_sgn(b) < 0 || mpz_cmp(b, n) >= 0)   /* GMP reduces such a base */
        return 0;
    if (mpz_sgn(e) == 0) {
        mpz_set_ui(r, 1);
        return 1;
    }
    w = window_for(bits);
    to52(x, b);
    amm(tab, x, c->r2, c);                      /* b R mod N */
    if (w > 1) {
        amm(sq, tab, tab, c);
        for (k = 1; k < (1u << (w - 1)); k++)
            amm(tab + k * NL, tab + (k - 1) * NL, sq, c);
    }
    for (i = (long)bits - 1; i >= 0;) {
        long j;
        unsigned val;
        if (!mpz_tstbit(e, (mp_bitcnt_t)i)) {
            amm(x, x, x, c);
            i--;
            continue;
        }
        j = i - (long)w + 1 > 0 ? i - (long)w + 1 : 0;
        while (!mpz_tstbit(e, (mp_bitcnt_t)j))
            j++;
        val = ea_exp_bits(e, (size_t)j, (unsigned)(i - j + 1));
        if (started) {
            for (k = 0; k < (size_t)(i - j + 1); k++)
                amm(x, x, x, c);
            amm(x, x, tab + (val >> 1) * NL, c);
        } else {
            memcpy(x, tab + (val >> 1) * NL, sizeof x);
            started = 1;
        }
        i = j - 1;
    }
    from_mont(r, x, c);
    return 1;
}
#endif

int ea_ifma1_apply(const mpz_t n)
{
#ifdef EA_IFMA1_COMPILED
    size_t bits = mpz_sizeinbase(n, 2);
    return (ea_fast_paths() & EA_PATH_IFMA) && bits >= EA_IFMA1_MIN_BITS
           && bits <= EA_IFMA1_MAX_BITS;
#else
    (void)n;
    return 0;
#endif
}

#ifndef EA_IFMA1_COMPILED
int ea_ifma1_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t n)
{
    (void)r; (void)b; (void)e; (void)n;
    return 0;
}

int ea_ifma1_to_mont(uint64_t *out, const mpz_t b, const mpz_t n)
{
    (void)out; (void)b; (void)n;
    return 0;
}

int ea_ifma1_from_mont(mpz_t r, const uint64_t *x, const mpz_t n)
{
    (void)r; (void)x; (void)n;
    return 0;
}

int ea_ifma1_sqr(uint64_t *x, unsigned times, const mpz_t n)
{
    (void)x; (void)times; (void)n;
    return 0;
}

int ea_ifma1_horner(uint64_t *x, const uint64_t *S, size_t k, unsigned c, const mpz_t n)
{
    (void)x; (void)S; (void)k; (void)c; (void)n;
    return 0;
}

int ea_ifma1_unit_product(mpz_t p, const mpz_t *ys, size_t count, const mpz_t n)
{
    (void)p; (void)ys; (void)count; (void)n;
    return 0;
}
#endif
