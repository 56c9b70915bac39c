/* ea_acc.c - accumulator updates and witnesses. */
#include "ea_acc.h"
#include "ea_fastexp.h"
#include "ea_group.h"

/* Below this many factors a running product is as fast as a tree. */
#define EA_PRODUCT_LEAF 8

static void product_range(mpz_t r, const mpz_t *xs, size_t lo, size_t hi)
{
    if (hi - lo <= EA_PRODUCT_LEAF) {
        size_t i;
        mpz_set(r, xs[lo]);
        for (i = lo + 1; i < hi; i++)
            mpz_mul(r, r, xs[i]);
    } else {
        size_t mid = lo + (hi - lo) / 2;
        mpz_t right;
        mpz_init(right);
        product_range(r, xs, lo, mid);
        product_range(right, xs, mid, hi);
        mpz_mul(r, r, right);
        mpz_clear(right);
    }
}

int ea_product(mpz_t r, const mpz_t *xs, size_t count)
{
    size_t i;
    if (count > 0 && xs == NULL)
        return EA_ERR_ARGUMENT;
    for (i = 0; i < count; i++)
        if (mpz_sgn(xs[i]) <= 0)
            return EA_ERR_EXPONENT;
    if (count == 0)
        mpz_set_ui(r, 1);
    else
        product_range(r, xs, 0, count);
    return EA_OK;
}

int ea_powm_product(mpz_t r, const mpz_t base, const mpz_t *xs, size_t count, const mpz_t n)
{
    mpz_t e;
    int rc = ea_check_base(base, n);
    if (rc != EA_OK)
        return rc;
    mpz_init(e);
    rc = ea_product(e, xs, count);
    if (rc == EA_OK)
        ea_fast_powm(r, base, e, n);
    mpz_clear(e);
    return rc;
}
