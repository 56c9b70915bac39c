/* ea_nonmem.c - non-membership witnesses: creation, updates, batch creation and verification. */
#include <stdlib.h>
#include "ea_nonmem.h"
#include "ea_acc.h"
#include "ea_check.h"
#include "ea_group.h"
#include "ea_mexp.h"
#include "ea_thread.h"

/* r = prod bases[i]^exps[i] mod n for exponents of any sign (a negative one inverts its
 * base; bases are units, validated by the callers). */
static int signed_multi_exp(mpz_t r, const mpz_t *bases, const mpz_t *exps, size_t count,
                            const mpz_t n)
{
    mpz_t *B = malloc(count * sizeof(mpz_t)), *E = malloc(count * sizeof(mpz_t));
    size_t i, k = 0;
    int rc = EA_OK;
    if (B == NULL || E == NULL) {
        free(B);
        free(E);
        return EA_ERR_NOMEM;
    }
    for (i = 0; i < count; i++) {
        if (mpz_sgn(exps[i]) == 0)
            continue;
        mpz_init(B[k]);
        mpz_init(E[k]);
        mpz_abs(E[k], exps[i]);
        if (mpz_sgn(exps[i]) > 0)
            mpz_mod(B[k], bases[i], n);
        else if (!mpz_invert(B[k], bases[i], n))
            rc = EA_ERR_NOT_INVERTIBLE;
        k++;
    }
    if (rc == EA_OK && k == 0)
        mpz_set_ui(r, 1);
    else if (rc == EA_OK)
        rc = ea_multi_exp(r, (const mpz_t *)B, (const mpz_t *)E, k, n, EA_MEXP_AUTO, 0, 1, NULL);
    for (i = 0; i < k; i++) {
        mpz_clear(B[i]);
        mpz_clear(E[i]);
    }
    free(B);
    free(E);
    return rc;
}

/* (a, B) for the exponent Y against g^X: a = X^-1 mod Y, B = g^((1 - a X) / Y). */
static int create_for(mpz_t a, mpz_t B, const mpz_t g, const mpz_t X, const mpz_t Y,
                      const mpz_t n)
{
    mpz_t b[1], base[1];
    int rc = EA_OK;
    mpz_init(b[0]);
    mpz_init_set(base[0], g);
    if (!mpz_invert(a, X, Y)) {
        rc = EA_ERR_NOT_INVERTIBLE;
    } else {
        mpz_mul(b[0], a, X);
        mpz_ui_sub(b[0], 1, b[0]);
        mpz_divexact(b[0], b[0], Y);
        rc = signed_multi_exp(B, (const mpz_t *)base, (const mpz_t *)b, 1, n);
    }
    mpz_clears(b[0], base[0], NULL);
    return rc;
}

int ea_nonmem_create(mpz_t a, mpz_t B, const mpz_t g, const mpz_t X, const mpz_t y,
                     const mpz_t n)
{
    int rc;
    if ((rc = ea_check_element(g, n)) != EA_OK)
        return rc;
    if (mpz_sgn(X) <= 0 || ea_check_exponent(y, EA_RULE_ELEMENT) != EA_OK)
        return EA_ERR_EXPONENT;
    return create_for(a, B, g, X, y, n);
}

/* r = v^a * B^y * g^-w  (w = 1 for one statement, the weight sum for a batch). */
static int nonmem_residue(mpz_t r, const mpz_t g, const mpz_t v, const mpz_t y, const mpz_t a,
                          const mpz_t B, const mpz_t n)
{
    mpz_t bases[3], exps[3];
    int rc;
    mpz_init_set(bases[0], v);
    mpz_init_set(bases[1], B);
    mpz_init_set(bases[2], g);
    mpz_init_set(exps[0], a);
    mpz_init_set(exps[1], y);
    mpz_init_set_si(exps[2], -1);
    rc = signed_multi_exp(r, (const mpz_t *)bases, (const mpz_t *)exps, 3, n);
    mpz_clears(bases[0], bases[1], bases[2], exps[0], exps[1], exps[2], NULL);
    return rc;
}

static int is_pm_one(const mpz_t r, const mpz_t n)
{
    mpz_t one;
    int eq;
    mpz_init_set_ui(one, 1);
    eq = ea_equal_pm(r, one, n);
    mpz_clear(one);
    return eq;
}

int ea_nonmem_verify(int *ok, const mpz_t g, const mpz_t v, const mpz_t y, const mpz_t a,
                     const mpz_t B, const mpz_t n)
{
    mpz_t r;
    int rc;
    if (ok == NULL)
        return EA_ERR_ARGUMENT;
    *ok = 0;
    if ((rc = ea_check_element(g, n)) != EA_OK || (rc = ea_check_element(v, n)) != EA_OK
        || (rc = ea_check_element(B, n)) != EA_OK)
        return rc;
    if (ea_check_exponent(y, EA_RULE_ELEMENT) != EA_OK)
        return EA_ERR_EXPONENT;
    if (mpz_sgn(a) < 0 || mpz_cmp(a, y) >= 0)
        return EA_OK;   /* only the canonical a is a witness: one encoding per witness */
    mpz_init(r);
    rc = nonmem_residue(r, g, v, y, a, B, n);
    if (rc == EA_OK)
        *ok = is_pm_one(r, n);
    mpz_clear(r);
    return rc;
}

/* Below this many elements a node's two halves are not split over threads. */
#define PAR_MIN 8

/* One half of a node: its elements, outputs and witness (A, B) for their product. */
typedef struct {
    mpz_t *as, *Bs;
    const mpz_t *ys;
    size_t count;
    mpz_t A, B;
    mpz_srcptr v, n;
    unsigned threads;
} half;

static int descend(mpz_t *as, mpz_t *Bs, mpz_srcptr v, const mpz_t *ys, size_t count, mpz_srcptr A,
                   mpz_srcptr B, mpz_srcptr n, unsigned threads);

static int descend_half(void *arg, size_t i)
{
    half *h = (half *)arg + i;
    return descend(h->as, h->Bs, h->v, h->ys, h->count, h->A, h->B, h->n, h->threads);
}

/* Descend from the witness (A, B) of prod ys[0..count) to one witness per element; the two
 * halves of a node run on threads/2 threads each while threads > 1. */
static int descend(mpz_t *as, mpz_t *Bs, mpz_srcptr v, const mpz_t *ys, size_t count, mpz_srcptr A,
                   mpz_srcptr B, mpz_srcptr n, unsigned threads)
{
    mpz_t Y[2], bases[2], exps[2];
    half h[2];
    size_t mid = count / 2, side;
    int rc = EA_OK;
    if (count == 1) {
        mpz_set(as[0], A);
        mpz_set(Bs[0], B);
        return EA_OK;
    }
    mpz_inits(Y[0], Y[1], bases[0], bases[1], exps[0], exps[1], NULL);
    if ((rc = ea_product(Y[0], ys, mid)) == EA_OK)
        rc = ea_product(Y[1], ys + mid, count - mid);
    mpz_set(bases[0], v);
    mpz_set(bases[1], B);
    for (side = 0; side < 2; side++) {
        h[side].as = as + (side ? mid : 0);
        h[side].Bs = Bs + (side ? mid : 0);
        h[side].ys = ys + (side ? mid : 0);
        h[side].count = side ? count - mid : mid;
        h[side].v = v;
        h[side].n = n;
        h[side].threads = threads > 1 ? threads / 2 : 1;
        mpz_inits(h[side].A, h[side].B, NULL);
        if (rc != EA_OK)
            continue;
        /* this half: A = A_h + k*Y_h, so A_h*X + (k*X + b*Y_other)*Y_h = 1 */
        mpz_fdiv_qr(exps[0], h[side].A, A, Y[side]);
        mpz_set(exps[1], Y[1 - side]);
        rc = signed_multi_exp(h[side].B, (const mpz_t *)bases, (const mpz_t *)exps, 2, n);
    }
    if (rc == EA_OK)
        rc = ea_parallel_run(descend_half, h, 2, threads > 1 && count >= PAR_MIN ? 2 : 1);
    for (side = 0; side < 2; side++)
        mpz_clears(h[side].A, h[side].B, NULL);
    mpz_clears(Y[0], Y[1], bases[0], bases[1], exps[0], exps[1], NULL);
    return rc;
}

int ea_nonmem_batch_create(mpz_t *as, mpz_t *Bs, const mpz_t g, const mpz_t v, const mpz_t X,
                           const mpz_t *ys, size_t count, const mpz_t n, unsigned threads)
{
    mpz_t Y, A, B;
    size_t bad;
    int rc;
    if (count == 0 || as == NULL || Bs == NULL || ys == NULL)
        return EA_ERR_ARGUMENT;
    if ((rc = ea_check_element(g, n)) != EA_OK || (rc = ea_check_element(v, n)) != EA_OK)
        return rc;
    if (mpz_sgn(X) <= 0 || ea_check_exponents(&bad, ys, count, EA_RULE_ELEMENT) != EA_OK)
        return EA_ERR_EXPONENT;
    mpz_inits(Y, A, B, NULL);
    rc = ea_product(Y, ys, count);
    if (rc == EA_OK)
        rc = create_for(A, B, g, X, Y, n);
    if (rc == EA_OK)
        rc = descend(as, Bs, v, ys, count, A, B, n, threads == 0 ? 1 : threads);
    mpz_clears(Y, A, B, NULL);
    return rc;
}

static int check_update_args(const mpz_t a, const mpz_t B, const mpz_t y, const mpz_t e,
                             const mpz_t n)
{
    int rc;
    if ((rc = ea_check_element(B, n)) != EA_OK)
        return rc;
    if (ea_check_exponent(y, EA_RULE_ELEMENT) != EA_OK
        || ea_check_exponent(e, EA_RULE_ELEMENT) != EA_OK)
        return EA_ERR_EXPONENT;
    if (mpz_sgn(a) < 0 || mpz_cmp(a, y) >= 0)
        return EA_ERR_ARGUMENT;
    return EA_OK;
}

int ea_nonmem_update_add(mpz_t a2, mpz_t B2, const mpz_t a, const mpz_t B, const mpz_t y,
                         const mpz_t v_old, const mpz_t v_new, const mpz_t Z, const mpz_t n)
{
    mpz_t c, ac, bases[3], exps[3];
    int rc;
    if ((rc = check_update_args(a, B, y, Z, n)) != EA_OK)
        return rc;
    if ((rc = ea_check_element(v_old, n)) != EA_OK || (rc = ea_check_element(v_new, n)) != EA_OK)
        return rc;
    mpz_inits(c, ac, NULL);
    if (!mpz_invert(c, Z, y)) {
        mpz_clears(c, ac, NULL);
        return EA_ERR_NOT_INVERTIBLE;
    }
    mpz_init_set(bases[0], B);
    mpz_init_set(bases[1], v_new);
    mpz_init_set(bases[2], v_old);
    mpz_init_set_ui(exps[0], 1);
    mpz_init(exps[1]);
    mpz_init(exps[2]);
    mpz_mul(ac, a, c);
    mpz_fdiv_qr(exps[1], a2, ac, y);        /* q = a*c div y, a2 = a*c mod y */
    mpz_mul(exps[2], Z, c);
    mpz_sub_ui(exps[2], exps[2], 1);
    mpz_divexact(exps[2], exps[2], y);      /* d = (Z*c - 1) / y */
    mpz_mul(exps[2], exps[2], a);
    mpz_neg(exps[2], exps[2]);              /* -a*d */
    rc = signed_multi_exp(B2, (const mpz_t *)bases, (const mpz_t *)exps, 3, n);
    mpz_clears(c, ac, bases[0], bases[1], bases[2], exps[0], exps[1], exps[2], NULL);
    return rc;
}

int ea_nonmem_update_delete(mpz_t a2, mpz_t B2, const mpz_t a, const mpz_t B, const mpz_t y,
                            const mpz_t v_new, const mpz_t D, const mpz_t n)
{
    mpz_t ad, bases[2], exps[2];
    int rc;
    if ((rc = check_update_args(a, B, y, D, n)) != EA_OK)
        return rc;
    if ((rc = ea_check_element(v_new, n)) != EA_OK)
        return rc;
    mpz_init(ad);
    mpz_gcd(ad, D, y);
    if (mpz_cmp_ui(ad, 1) != 0) {   /* y was deleted, so it was a member: no witness to update */
        mpz_clear(ad);
        return EA_ERR_NOT_INVERTIBLE;
    }
    mpz_init_set(bases[0], B);
    mpz_init_set(bases[1], v_new);
    mpz_init_set_ui(exps[0], 1);
    mpz_init(exps[1]);
    mpz_mul(ad, a, D);
    mpz_fdiv_qr(exps[1], a2, ad, y);        /* a*D = a2 + q*y: b2 = b + q*(X/D) */
    rc = signed_multi_exp(B2, (const mpz_t *)bases, (const mpz_t *)exps, 2, n);
    mpz_clears(ad, bases[0], bases[1], exps[0], exps[1], NULL);
    return rc;
}

/* ok = the weighted check over the statements [lo, hi). */
static int weighted_check(int *ok, const mpz_t g, const mpz_t v, const mpz_t *ys,
                          const mpz_t *as, const mpz_t *Bs, const mpz_t *rs, size_t lo,
                          size_t hi, const mpz_t n)
{
    size_t k = hi - lo, i, m = k + 2;
    mpz_t *bases = malloc(m * sizeof(mpz_t)), *exps = malloc(m * sizeof(mpz_t)), r;
    int rc;
    if (bases == NULL || exps == NULL) {
        free(bases);
        free(exps);
        return EA_ERR_NOMEM;
    }
    for (i = 0; i < m; i++)
        mpz_init(exps[i]);
    mpz_init_set(bases[0], v);
    mpz_init_set(bases[1], g);
    for (i = 0; i < k; i++) {
        mpz_init_set(bases[i + 2], Bs[lo + i]);
        mpz_mul(exps[i + 2], ys[lo + i], rs[lo + i]);
        mpz_addmul(exps[0], as[lo + i], rs[lo + i]);
        mpz_sub(exps[1], exps[1], rs[lo + i]);
    }
    mpz_init(r);
    rc = signed_multi_exp(r, (const mpz_t *)bases, (const mpz_t *)exps, m, n);
    *ok = rc == EA_OK && is_pm_one(r, n);
    for (i = 0; i < m; i++) {
        mpz_clear(bases[i]);
        mpz_clear(exps[i]);
    }
    mpz_clear(r);
    free(bases);
    free(exps);
    return rc;
}

/* Mark the false statements of [lo, hi); known_bad: the range is known to fail. */
static int bisect(unsigned char *bad, const mpz_t g, const mpz_t v, const mpz_t *ys,
                  const mpz_t *as, const mpz_t *Bs, const mpz_t *rs, size_t lo, size_t hi,
                  int known_bad, const mpz_t n)
{
    size_t mid;
    int ok = 0, rc;
    if (!known_bad) {
        if ((rc = weighted_check(&ok, g, v, ys, as, Bs, rs, lo, hi, n)) != EA_OK)
            return rc;
        if (ok)
            return EA_OK;
    }
    if (hi - lo == 1) {
        bad[lo] = 1;
        return EA_OK;
    }
    mid = lo + (hi - lo) / 2;
    if ((rc = weighted_check(&ok, g, v, ys, as, Bs, rs, lo, mid, n)) != EA_OK)
        return rc;
    if (ok)     /* the left half holds, so the right half is the one that fails */
        return bisect(bad, g, v, ys, as, Bs, rs, mid, hi, 1, n);
    if ((rc = bisect(bad, g, v, ys, as, Bs, rs, lo, mid, 1, n)) != EA_OK)
        return rc;
    return bisect(bad, g, v, ys, as, Bs, rs, mid, hi, 0, n);
}

int ea_nonmem_batch_verify(unsigned char *bad, const mpz_t g, const mpz_t v, const mpz_t *ys,
                           const mpz_t *as, const mpz_t *Bs, const mpz_t *rs, size_t count,
                           const mpz_t n)
{
    size_t i, first;
    int rc = EA_OK;
    if (bad == NULL || (count > 0 && (ys == NULL || as == NULL || Bs == NULL || rs == NULL)))
        return EA_ERR_ARGUMENT;
    for (i = 0; i < count; i++)
        bad[i] = 1;
    if ((rc = ea_check_element(g, n)) != EA_OK || (rc = ea_check_element(v, n)) != EA_OK
        || (rc = ea_check_elements(&first, Bs, count, n)) != EA_OK)
        return rc;
    if (ea_check_exponents(&first, ys, count, EA_RULE_ELEMENT) != EA_OK
        || ea_check_exponents(&first, rs, count, EA_RULE_POSITIVE) != EA_OK)
        return EA_ERR_EXPONENT;
    for (i = 0; i < count; i++)
        bad[i] = 0;
    for (i = 0; i < count; i++)     /* a non-canonical a is false on its own */
        if (mpz_sgn(as[i]) < 0 || mpz_cmp(as[i], ys[i]) >= 0)
            bad[i] = 1;
    /* the weighted test over the runs of well-formed statements */
    for (i = 0; i < count && rc == EA_OK;) {
        size_t j = i;
        while (j < count && !bad[j])
            j++;
        if (j > i)
            rc = bisect(bad, g, v, ys, as, Bs, rs, i, j, 0, n);
        i = j + 1;
    }
    if (rc != EA_OK)
        for (i = 0; i < count; i++)
            bad[i] = 1;
    return rc;
}
