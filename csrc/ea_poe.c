/* ea_poe.c - proof of exponentiation (Wesolowski; Boneh-Bunz-Fisch NI-PoE). */
#include "ea_poe.h"
#include "ea_fastexp.h"
#include "ea_group.h"
#include "ea_multiexp.h"

int ea_poe_prove(mpz_t Q, const mpz_t w, const mpz_t X, const mpz_t l, const mpz_t n)
{
    mpz_t q;
    int rc = ea_check_element(w, n);
    if (rc != EA_OK)
        return rc;
    if (mpz_cmp_ui(l, 2) <= 0 || mpz_cmp(X, l) < 0)
        return EA_ERR_EXPONENT;
    mpz_init(q);
    mpz_fdiv_q(q, X, l);
    ea_fast_powm(Q, w, q, n);
    mpz_clear(q);
    return EA_OK;
}

int ea_poe_verify(int *ok, const mpz_t w, const mpz_t X, const mpz_t v, const mpz_t Q,
                  const mpz_t l, const mpz_t n)
{
    mpz_t B[2], E[2], r;
    int rc;
    *ok = 0;
    if ((rc = ea_check_element(w, n)) != EA_OK || (rc = ea_check_element(v, n)) != EA_OK
        || (rc = ea_check_element(Q, n)) != EA_OK)
        return rc;
    if (mpz_sgn(X) <= 0 || mpz_cmp_ui(l, 2) <= 0)
        return EA_ERR_EXPONENT;
    mpz_inits(B[0], B[1], E[0], E[1], r, NULL);
    mpz_set(B[0], Q);
    mpz_set(E[0], l);
    mpz_set(B[1], w);
    mpz_fdiv_r(E[1], X, l);
    rc = ea_multi_exp(r, (const mpz_t *)B, (const mpz_t *)E, 2, n, EA_MEXP_AUTO, 0, 1, NULL);
    if (rc == EA_OK)
        *ok = ea_equal_pm(r, v, n);
    mpz_clears(B[0], B[1], E[0], E[1], r, NULL);
    return rc;
}
