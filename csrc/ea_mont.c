/* ea_mont.c - Montgomery multiplication with REDC written on public mpn_ calls, or on the
 * mulx/adcx/adox rows of ea_mulx.c for 32-limb moduli (ea_mont.h). */
#include <stdlib.h>
#include "ea_mont.h"
#include "ea_fastexp.h"
#include "ea_group.h"
#include "ea_mulx.h"

int ea_mont_kernel(mp_size_t n_limbs)
{
    if (n_limbs == EA_MULX_LIMBS && (ea_fast_paths() & EA_PATH_MULX))
        return EA_MONT_MULX;
    return EA_MONT_GMP;
}

int ea_mont_init(ea_mont *ctx, const mpz_t n)
{
    int rc = ea_check_modulus(n);
    mpz_t t;
    if (rc != EA_OK)
        return rc;
    ctx->n = (mp_size_t)mpz_size(n);
    ctx->kernel = ea_mont_kernel(ctx->n);
    ctx->m = malloc((size_t)ctx->n * sizeof(mp_limb_t));
    ctx->one = malloc((size_t)ctx->n * sizeof(mp_limb_t));
    if (ctx->m == NULL || ctx->one == NULL) {
        free(ctx->m);
        free(ctx->one);
        return EA_ERR_NOMEM;
    }
    mpn_copyi(ctx->m, mpz_limbs_read(n), ctx->n);
    ctx->minv = ea_mont_neg_inv(ctx->m[0]);
    mpz_init_set(ctx->nz, n);
    mpz_init(ctx->r2);
    mpz_init_set_ui(t, 1);
    mpz_mul_2exp(t, t, (mp_bitcnt_t)(2 * ctx->n * GMP_NUMB_BITS));
    mpz_mod(ctx->r2, t, n);
    mpz_set_ui(t, 1);
    ea_mont_to(ctx->one, t, ctx);
    mpz_clear(t);
    return EA_OK;
}

void ea_mont_clear(ea_mont *ctx)
{
    free(ctx->m);
    free(ctx->one);
    ctx->m = ctx->one = NULL;
    mpz_clear(ctx->r2);
    mpz_clear(ctx->nz);
}

int ea_mont_work_init(ea_mont_work *w, const ea_mont *ctx)
{
    w->t = malloc(2 * (size_t)ctx->n * sizeof(mp_limb_t));
    w->ops.mul = w->ops.sqr = 0;
    return w->t == NULL ? EA_ERR_NOMEM : EA_OK;
}

void ea_mont_work_clear(ea_mont_work *w)
{
    free(w->t);
    w->t = NULL;
}

mp_limb_t *ea_mont_alloc(const ea_mont *ctx, size_t count)
{
    return calloc(count * (size_t)ctx->n + 1, sizeof(mp_limb_t));
}

/* r = t * R^{-1} mod N for t < N*R (2n limbs, destroyed). Carries of the n addmul_1 rows are
 * parked in the low half and added at the end, as GMP's own redc_1 does. */
static void redc(mp_limb_t *r, mp_limb_t *t, const ea_mont *ctx)
{
    mp_size_t i, n = ctx->n;
    mp_limb_t cy;
#ifdef EA_MULX_COMPILED
    if (ctx->kernel == EA_MONT_MULX) {
        ea_mulx_redc32(r, t, ctx->m, ctx->minv);
        return;
    }
#endif
    for (i = 0; i < n; i++)
        t[i] = mpn_addmul_1(t + i, ctx->m, n, t[i] * ctx->minv);
    cy = mpn_add_n(r, t + n, t, n);
    if (cy || mpn_cmp(r, ctx->m, n) >= 0)
        mpn_sub_n(r, r, ctx->m, n);
}

void ea_mont_mul(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, const ea_mont *ctx,
                 ea_mont_work *w)
{
    if (a == b) {
        ea_mont_sqr(r, a, ctx, w);
        return;
    }
#ifdef EA_MULX_COMPILED
    if (ctx->kernel == EA_MONT_MULX)
        ea_mulx_mul32(w->t, a, b);
    else
#endif
        mpn_mul_n(w->t, a, b, ctx->n);
    redc(r, w->t, ctx);
    w->ops.mul++;
}

void ea_mont_sqr(mp_limb_t *r, const mp_limb_t *a, const ea_mont *ctx, ea_mont_work *w)
{
#ifdef EA_MULX_COMPILED
    if (ctx->kernel == EA_MONT_MULX)
        ea_mulx_sqr32(w->t, a);
    else
#endif
        mpn_sqr(w->t, a, ctx->n);
    redc(r, w->t, ctx);
    w->ops.sqr++;
}

void ea_mont_to(mp_limb_t *r, const mpz_t a, const ea_mont *ctx)
{
    mpz_t t;
    size_t k;
    mpz_init(t);
    mpz_mul_2exp(t, a, (mp_bitcnt_t)(ctx->n * GMP_NUMB_BITS));
    mpz_mod(t, t, ctx->nz);
    k = mpz_size(t);
    mpn_zero(r, ctx->n);
    if (k)
        mpn_copyi(r, mpz_limbs_read(t), (mp_size_t)k);
    mpz_clear(t);
}

void ea_mont_from(mpz_t r, const mp_limb_t *a, const ea_mont *ctx, ea_mont_work *w)
{
    mp_size_t n = ctx->n;
    mp_limb_t *rp;
    mpn_copyi(w->t, a, n);
    mpn_zero(w->t + n, n);
    rp = mpz_limbs_write(r, n);
    redc(rp, w->t, ctx);
    mpz_limbs_finish(r, n);
}

int ea_mont_is_pm_one(const mp_limb_t *a, const ea_mont *ctx)
{
    mp_size_t i;
    mp_limb_t carry = 0;
    if (mpn_cmp(a, ctx->one, ctx->n) == 0)
        return 1;
    /* -1 in Montgomery form is N - R mod N; a = -1 iff a + one = N exactly, checked limb by
     * limb with the carry (no scratch space, so no allocation that could fail). */
    for (i = 0; i < ctx->n; i++) {
        mp_limb_t s = a[i] + carry, c1 = s < carry, t = s + ctx->one[i];
        carry = c1 | (t < s);
        if (t != ctx->m[i])
            return 0;
    }
    return carry == 0;
}

void ea_mont_mul_into(mp_limb_t *acc, int *started, const mp_limb_t *x, const ea_mont *ctx,
                      ea_mont_work *w)
{
    if (*started)
        ea_mont_mul(acc, acc, x, ctx, w);
    else {
        mpn_copyi(acc, x, ctx->n);
        *started = 1;
    }
}

void ea_mont_bucket_combine(mp_limb_t *tot, int *ts, mp_limb_t *run, const mp_limb_t *bucket,
                            const unsigned char *used, size_t nb, const ea_mont *ctx,
                            ea_mont_work *w)
{
    int rs = 0;
    size_t d;
    for (d = nb - 1; d >= 1; d--) {
        if (used[d])
            ea_mont_mul_into(run, &rs, LIMB(bucket, d, ctx->n), ctx, w);
        if (rs)
            ea_mont_mul_into(tot, ts, run, ctx, w);
    }
}

int ea_mont_open(ea_mont *ctx, ea_mont_work *w, mp_limb_t **B, size_t count, const mpz_t n)
{
    int rc = ea_mont_init(ctx, n);
    if (rc != EA_OK)
        return rc;
    *B = ea_mont_alloc(ctx, count);
    if (*B == NULL || ea_mont_work_init(w, ctx) != EA_OK) {
        free(*B);
        *B = NULL;
        ea_mont_clear(ctx);
        return EA_ERR_NOMEM;
    }
    return EA_OK;
}

void ea_mont_close(ea_mont *ctx, ea_mont_work *w, mp_limb_t *B)
{
    ea_mont_work_clear(w);
    free(B);
    ea_mont_clear(ctx);
}

int ea_mont_raw_mul(mpz_t r, const mpz_t a, const mpz_t b, const mpz_t n, int kernel)
{
    ea_mont ctx;
    ea_mont_work w;
    mp_limb_t *B;
    mp_size_t k;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (mpz_sgn(a) < 0 || mpz_sgn(b) < 0 || mpz_size(a) > mpz_size(n) || mpz_size(b) > mpz_size(n))
        return EA_ERR_ARGUMENT;
    if ((rc = ea_mont_open(&ctx, &w, &B, 3, n)) != EA_OK)
        return rc;
    if (kernel >= 0 && kernel != EA_MONT_GMP && kernel != ctx.kernel) {
        ea_mont_close(&ctx, &w, B);
        return EA_ERR_ARGUMENT;
    }
    if (kernel >= 0)
        ctx.kernel = kernel;
    k = ctx.n;
    mpn_copyi(LIMB(B, 0, k), mpz_limbs_read(a), (mp_size_t)mpz_size(a));
    mpn_copyi(LIMB(B, 1, k), mpz_limbs_read(b), (mp_size_t)mpz_size(b));
    if (mpz_cmp(a, b) == 0)
        ea_mont_sqr(LIMB(B, 2, k), LIMB(B, 0, k), &ctx, &w);
    else
        ea_mont_mul(LIMB(B, 2, k), LIMB(B, 0, k), LIMB(B, 1, k), &ctx, &w);
    mpn_copyi(mpz_limbs_write(r, k), LIMB(B, 2, k), k);
    mpz_limbs_finish(r, k);
    ea_mont_close(&ctx, &w, B);
    return EA_OK;
}
