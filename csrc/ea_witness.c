/* ea_witness.c - witness update and aggregation (Shamir's trick); RootFactory is in
 * ea_rootfactory.c. */
#include <stdlib.h>
#include "ea_witness.h"
#include "ea_check.h"
#include "ea_fastexp.h"
#include "ea_group.h"
#include "ea_mexp.h"
#include "ea_thread.h"

typedef struct {
    mpz_t *out;
    const mpz_t *bases;
    const mpz_srcptr e, n;
    size_t count, parts;
} many_job;

static int many_task(void *arg, size_t k)
{
    many_job *job = arg;
    size_t i, lo = job->count * k / job->parts, hi = job->count * (k + 1) / job->parts;
    for (i = lo; i < hi; i++)
        ea_fast_powm(job->out[i], job->bases[i], job->e, job->n);
    return EA_OK;
}

int ea_powm_many_bases(mpz_t *out, const mpz_t *bases, size_t count, const mpz_t e,
                       const mpz_t n, unsigned threads)
{
    many_job job = { out, bases, e, n, count, 1 };
    size_t i;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (mpz_sgn(e) <= 0)
        return EA_ERR_EXPONENT;
    if (count > 0 && (out == NULL || bases == NULL))
        return EA_ERR_ARGUMENT;
    for (i = 0; i < count; i++)
        if (mpz_sgn(bases[i]) <= 0 || mpz_cmp(bases[i], n) >= 0)
            return EA_ERR_ELEMENT;
    if (threads < 1)
        threads = 1;
    job.parts = threads < count ? threads : (count ? count : 1);
    return ea_parallel_run(many_task, &job, job.parts, threads);
}

int ea_shamir_trick(mpz_t r, const mpz_t wa, const mpz_t xa, const mpz_t wb, const mpz_t xb,
                    const mpz_t n)
{
    mpz_t g, a, b, B[2], E[2];
    int rc;
    if ((rc = ea_check_element(wa, n)) != EA_OK || (rc = ea_check_element(wb, n)) != EA_OK)
        return rc;
    if ((rc = ea_check_exponent(xa, EA_RULE_ELEMENT)) != EA_OK
        || (rc = ea_check_exponent(xb, EA_RULE_ELEMENT)) != EA_OK)
        return rc;
    mpz_inits(g, a, b, B[0], B[1], E[0], E[1], NULL);
    mpz_gcdext(g, a, b, xa, xb);                 /* a*xa + b*xb = g */
    if (mpz_cmp_ui(g, 1) != 0) {
        rc = EA_ERR_NOT_INVERTIBLE;
    } else {
        /* r = wa^b * wb^a; a negative exponent inverts its base (units: gcd(w, n) = 1). */
        mpz_set(B[0], wa);
        mpz_set(B[1], wb);
        mpz_abs(E[0], b);
        mpz_abs(E[1], a);
        /* units after ea_check_element, so the inverses exist; checked all the same */
        if ((mpz_sgn(b) < 0 && !mpz_invert(B[0], B[0], n))
            || (mpz_sgn(a) < 0 && !mpz_invert(B[1], B[1], n)))
            rc = EA_ERR_NOT_INVERTIBLE;
        else
            rc = ea_multi_exp(r, (const mpz_t *)B, (const mpz_t *)E, 2, n, EA_MEXP_AUTO, 0, 1,
                              NULL);
    }
    mpz_clears(g, a, b, B[0], B[1], E[0], E[1], NULL);
    return rc;
}

static int aggregate_range(mpz_t r, mpz_t X, const mpz_t *ws, const mpz_t *xs, size_t lo,
                           size_t hi, const mpz_t n)
{
    mpz_t rr, XR;
    size_t mid;
    int rc;
    if (hi - lo == 1) {
        mpz_set(r, ws[lo]);
        mpz_set(X, xs[lo]);
        return EA_OK;
    }
    mid = lo + (hi - lo) / 2;
    mpz_init(rr);
    mpz_init(XR);
    rc = aggregate_range(r, X, ws, xs, lo, mid, n);
    if (rc == EA_OK)
        rc = aggregate_range(rr, XR, ws, xs, mid, hi, n);
    if (rc == EA_OK)
        rc = ea_shamir_trick(r, r, X, rr, XR, n);
    if (rc == EA_OK)
        mpz_mul(X, X, XR);
    mpz_clear(rr);
    mpz_clear(XR);
    return rc;
}

int ea_aggregate(mpz_t r, mpz_t X, const mpz_t *ws, const mpz_t *xs, size_t count,
                 const mpz_t n)
{
    size_t i;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (count == 0 || ws == NULL || xs == NULL)
        return EA_ERR_ARGUMENT;
    for (i = 0; i < count; i++)
        if ((rc = ea_check_element(ws[i], n)) != EA_OK)
            return rc;
    if ((rc = ea_check_exponents(NULL, xs, count, EA_RULE_ELEMENT)) != EA_OK)
        return rc;
    return aggregate_range(r, X, ws, xs, 0, count, n);
}
