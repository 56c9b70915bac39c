/* ea_check.c - argument rules with the index of the first failing item. */
#include "ea_check.h"
#include "ea_group.h"
#include "ea_ifma.h"
#include "ea_ifma1.h"
#include "ea_prime.h"

int ea_check_exponent(const mpz_t x, int rule)
{
    switch (rule) {
    case EA_RULE_NONNEG:
        return mpz_sgn(x) >= 0 ? EA_OK : EA_ERR_EXPONENT;
    case EA_RULE_POSITIVE:
        return mpz_sgn(x) > 0 ? EA_OK : EA_ERR_EXPONENT;
    case EA_RULE_ELEMENT:
        return mpz_cmp_ui(x, 3) >= 0 && mpz_odd_p(x) ? EA_OK : EA_ERR_EXPONENT;
    case EA_RULE_PRIME:
        return mpz_cmp_ui(x, 3) >= 0 && mpz_odd_p(x) && ea_is_probable_prime(x)
               ? EA_OK : EA_ERR_EXPONENT;
    default:
        return EA_ERR_ARGUMENT;
    }
}

int ea_check_exponents(size_t *first_bad, const mpz_t *xs, size_t count, int rule)
{
    size_t i;
    int rc = EA_OK;
    if (count > 0 && xs == NULL)
        return EA_ERR_ARGUMENT;
    if (rule < EA_RULE_NONNEG || rule > EA_RULE_PRIME)
        return EA_ERR_ARGUMENT;
    for (i = 0; i < count; i++)
        if ((rc = ea_check_exponent(xs[i], rule)) != EA_OK)
            break;
    if (first_bad != NULL)
        *first_bad = i;
    return rc;
}

int ea_check_bases(size_t *first_bad, const mpz_t *bs, size_t count, const mpz_t n)
{
    size_t i;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (count > 0 && bs == NULL)
        return EA_ERR_ARGUMENT;
    for (i = 0; i < count; i++)
        if (mpz_sgn(bs[i]) < 0 || mpz_cmp(bs[i], n) >= 0) {
            rc = EA_ERR_ELEMENT;
            break;
        }
    if (first_bad != NULL)
        *first_bad = i;
    return rc;
}

int ea_check_elements(size_t *first_bad, const mpz_t *ys, size_t count, const mpz_t n)
{
    mpz_t prod, lim;
    size_t i;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (count > 0 && ys == NULL)
        return EA_ERR_ARGUMENT;
    mpz_init_set_ui(prod, 1);
    mpz_init(lim);
    mpz_sub_ui(lim, n, 1);
    for (i = 0; i < count; i++)
        if (mpz_cmp_ui(ys[i], 1) <= 0 || mpz_cmp(ys[i], lim) >= 0) {
            rc = EA_ERR_ELEMENT;
            break;
        }
    /* the product is a unit iff every factor is; the IFMA product is off by a power of 2 */
    if (rc == EA_OK && count > 0
        && !(ea_ifma_apply(n) && ea_ifma1_unit_product(prod, ys, count, n)))
        for (i = 0; i < count; i++) {
            mpz_mul(prod, prod, ys[i]);
            mpz_mod(prod, prod, n);
        }
    if (rc == EA_OK && count > 0) {
        mpz_gcd(prod, prod, n);
        if (mpz_cmp_ui(prod, 1) != 0) {
            for (i = 0; i < count; i++)
                if (ea_check_element(ys[i], n) != EA_OK)
                    break;
            rc = EA_ERR_ELEMENT;
        }
    }
    if (first_bad != NULL)
        *first_bad = rc == EA_ERR_ELEMENT ? i : count;
    mpz_clear(prod);
    mpz_clear(lim);
    return rc;
}
