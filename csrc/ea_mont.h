/* ea_mont.h - (internal) Montgomery arithmetic modulo an odd N on GMP's public mpn_ layer, or
 * for 32-limb (1985..2048-bit) moduli on the mulx/adcx/adox rows of ea_mulx.h where cpuid
 * reports BMI2 and ADX and EDGEACC_PORTABLE is not set (the kernel is chosen in ea_mont_init,
 * kept in the context; both give the same limbs for every input).
 * A context is read-only after ea_mont_init, so threads may share one; every function that
 * needs scratch space takes an ea_mont_work owned by the calling thread. */
#ifndef EA_MONT_H
#define EA_MONT_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    mp_size_t n;        /* limbs of N */
    mp_limb_t *m;       /* N, n limbs */
    mp_limb_t minv;     /* -N^{-1} mod 2^GMP_NUMB_BITS */
    mp_limb_t *one;     /* R mod N (Montgomery form of 1), n limbs */
    mpz_t r2;           /* R^2 mod N */
    mpz_t nz;           /* N as an mpz */
    int kernel;         /* EA_MONT_GMP or EA_MONT_MULX, set by ea_mont_init */
} ea_mont;

enum { EA_MONT_GMP = 0, EA_MONT_MULX = 1 };

/* Per-thread scratch: a 2n-limb product buffer and the operation counter. */
typedef struct {
    mp_limb_t *t;
    ea_opcount ops;
} ea_mont_work;

/* ea_mont_init(ctx, n): set up Montgomery arithmetic modulo odd n >= 3. */
int ea_mont_init(ea_mont *ctx, const mpz_t n);
/* ea_mont_kernel(n_limbs): the kernel ea_mont_init picks for a modulus of n_limbs limbs in this
 * process: EA_MONT_MULX for 32 limbs where ea_fast_paths() has EA_PATH_MULX, else EA_MONT_GMP. */
int ea_mont_kernel(mp_size_t n_limbs);
/* ea_mont_raw_mul(r, a, b, n, kernel): r = a*b*R^{-1} reduced as ea_mont_mul does (r < R and
 * r = a*b*R^{-1} mod n; r < n when a*b < R*n), on the given kernel (EA_MONT_MULX where it is
 * not usable: EA_ERR_ARGUMENT; -1: ea_mont_init's choice), a == b by value as ea_mont_sqr; 0 <= a, b < R (else EA_ERR_ARGUMENT).
 * For tests of the two kernels against each other and gmpy2. */
int ea_mont_raw_mul(mpz_t r, const mpz_t a, const mpz_t b, const mpz_t n, int kernel);
/* ea_mont_clear(ctx): free the context. */
void ea_mont_clear(ea_mont *ctx);
/* ea_mont_work_init(w, ctx) / ea_mont_work_clear(w): per-thread scratch. */
int ea_mont_work_init(ea_mont_work *w, const ea_mont *ctx);
void ea_mont_work_clear(ea_mont_work *w);

/* ea_mont_to(r, a, ctx): r (n limbs) = a*R mod N; 0 <= a < N. */
void ea_mont_to(mp_limb_t *r, const mpz_t a, const ea_mont *ctx);
/* ea_mont_from(r, a, ctx, w): r = a*R^{-1} mod N as an mpz. */
void ea_mont_from(mpz_t r, const mp_limb_t *a, const ea_mont *ctx, ea_mont_work *w);
/* ea_mont_mul(r, a, b, ctx, w): r = a*b*R^{-1} mod N; r may alias a or b. */
void ea_mont_mul(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, const ea_mont *ctx,
                 ea_mont_work *w);
/* ea_mont_sqr(r, a, ctx, w): r = a^2*R^{-1} mod N; r may alias a. */
void ea_mont_sqr(mp_limb_t *r, const mp_limb_t *a, const ea_mont *ctx, ea_mont_work *w);
/* ea_mont_is_pm_one(a, ctx): 1 if a is the Montgomery form of +1 or -1 mod N, else 0; a < N.
 * Allocates nothing, so the answer is never a failure in disguise. */
int ea_mont_is_pm_one(const mp_limb_t *a, const ea_mont *ctx);
/* ea_mont_alloc(ctx, count): count*n zeroed limbs (NULL on failure); free with free(). */
mp_limb_t *ea_mont_alloc(const ea_mont *ctx, size_t count);

/* ea_mont_open(ctx, w, &B, count, n): ea_mont_init + count zeroed n-limb numbers in *B + one
 * work scratch; on failure nothing is left allocated. Close with ea_mont_close. */
int ea_mont_open(ea_mont *ctx, ea_mont_work *w, mp_limb_t **B, size_t count, const mpz_t n);
/* ea_mont_close(ctx, w, B): undo ea_mont_open. */
void ea_mont_close(ea_mont *ctx, ea_mont_work *w, mp_limb_t *B);

/* LIMB(p, i, n): the i-th n-limb number of an array of them. */
#define LIMB(p, i, n) ((p) + (size_t)(i) * (size_t)(n))

/* ea_mont_mul_into(acc, &started, x, ctx, w): acc <- acc * x, or acc <- x while acc is still
 * empty (*started = 0; set to 1). */
void ea_mont_mul_into(mp_limb_t *acc, int *started, const mp_limb_t *x, const ea_mont *ctx,
                      ea_mont_work *w);

/* ea_mont_bucket_combine(tot, &ts, run, bucket, used, nb, ctx, w): tot = prod_d bucket[d]^d
 * over the used buckets 1 <= d < nb, by running products (run is scratch) from the top
 * bucket down: Pippenger's combination step. *ts stays 0 (tot untouched) if none is used. */
void ea_mont_bucket_combine(mp_limb_t *tot, int *ts, mp_limb_t *run, const mp_limb_t *bucket,
                            const unsigned char *used, size_t nb, const ea_mont *ctx,
                            ea_mont_work *w);

/* ea_mont_neg_inv(m0): -m0^{-1} mod 2^GMP_NUMB_BITS for odd m0, the REDC factor of a modulus
 * whose low limb is m0 (Newton's iteration doubles the correct low bits: 1, 2, 4, ..., 128). */
static inline mp_limb_t ea_mont_neg_inv(mp_limb_t m0)
{
    mp_limb_t inv = 1;
    int i;
    for (i = 0; i < 7; i++)
        inv *= 2 - m0 * inv;
    return (mp_limb_t)0 - inv;
}

/* ea_exp_bits(e, pos, c): bits [pos, pos + c) of e >= 0, c <= 16 (exponent digit scanning). */
static inline unsigned ea_exp_bits(const mpz_t e, size_t pos, unsigned c)
{
    size_t li = pos / GMP_NUMB_BITS, sh = pos % GMP_NUMB_BITS;
    mp_limb_t v = mpz_getlimbn(e, (mp_size_t)li) >> sh;
    if (sh + c > GMP_NUMB_BITS)
        v |= mpz_getlimbn(e, (mp_size_t)li + 1) << (GMP_NUMB_BITS - sh);
    return (unsigned)(v & (((mp_limb_t)1 << c) - 1));
}

#ifdef __cplusplus
}
#endif
#endif
