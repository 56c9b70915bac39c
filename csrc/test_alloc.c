/* test_alloc.c - allocation failure is an error status, never a verdict (glibc only: the
 * test interposes malloc/calloc and fails the k-th call made by the library, for every k).
 * GMP's own allocations go straight to glibc, since GMP cannot report failure.
 * make -C csrc test */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "edgeacc.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); return 1; } } while (0)

#ifdef __GLIBC__
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static long fail_at = -1;   /* fail the allocation with this number (-1: never) */
static long calls = 0;

static int should_fail(void)
{
    if (fail_at >= 0 && calls++ == fail_at) {
        errno = ENOMEM;             /* as glibc does (pthread_create asserts it) */
        return 1;
    }
    return 0;
}

void *malloc(size_t n) { return should_fail() ? NULL : __libc_malloc(n); }
void *calloc(size_t k, size_t n) { return should_fail() ? NULL : __libc_calloc(k, n); }

static void *gmp_alloc(size_t n) { return __libc_malloc(n); }
static void *gmp_realloc(void *p, size_t old, size_t n) { (void)old; return __libc_realloc(p, n); }
static void gmp_free(void *p, size_t n) { (void)n; __libc_free(p); }

enum { M = 12 };

int main(void)
{
    gmp_randstate_t rs;
    mpz_t n, p, q, g, v, xs[M], ws[M], rs_[M], r, e;
    size_t vidx[M], i;
    unsigned char bad[M];
    long k;
    int rc, failures = 0;
    uint32_t factor;
    mp_set_memory_functions(gmp_alloc, gmp_realloc, gmp_free);
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 7);
    mpz_inits(n, p, q, g, v, r, e, NULL);
    mpz_urandomb(p, rs, 256); mpz_setbit(p, 255); mpz_nextprime(p, p);
    mpz_urandomb(q, rs, 256); mpz_setbit(q, 255); mpz_nextprime(q, q);
    mpz_mul(n, p, q);
    mpz_set_ui(g, 4);
    for (i = 0; i < M; i++) {
        mpz_init(xs[i]); mpz_init(ws[i]); mpz_init(rs_[i]);
        mpz_urandomb(xs[i], rs, 64); mpz_setbit(xs[i], 63); mpz_nextprime(xs[i], xs[i]);
        mpz_urandomb(rs_[i], rs, 64); mpz_setbit(rs_[i], 0);
        vidx[i] = 0;
    }
    CHECK(ea_powm_product(v, g, (const mpz_t *)xs, M, n) == EA_OK);
    CHECK(ea_root_factory(ws, g, (const mpz_t *)xs, M, n, 0, 1) == EA_OK);
    mpz_sub(ws[3], n, ws[3]);          /* -w: still true; the weighted product is then -1 */
    /* Every statement is true: whichever allocation fails, the answer is NOMEM or "all hold". */
    for (k = 0; k < 200; k++) {
        for (i = 0; i < M; i++)
            bad[i] = 0;
        calls = 0;
        fail_at = k;
        rc = ea_batch_verify(bad, (const mpz_t *)ws, (const mpz_t *)xs, (const mpz_t *)rs_, vidx, M,
                             (const mpz_t *)&v, 1, n, 2, NULL);
        fail_at = -1;
        CHECK(rc == EA_OK || rc == EA_ERR_NOMEM);
        failures += rc == EA_ERR_NOMEM;
        for (i = 0; i < M; i++)
            CHECK(bad[i] == (rc != EA_OK));     /* a failure reports every item false */
        if (calls <= k)
            break;                      /* no allocation left to fail */
    }
    CHECK(failures > 0);
    /* Root factory, multi-exponentiation and the modulus screen: NOMEM or the right answer. */
    for (k = 0; k < 200; k++) {
        calls = 0;
        fail_at = k;
        rc = ea_root_factory(ws, g, (const mpz_t *)xs, M, n, 0, 2);
        fail_at = -1;
        CHECK(rc == EA_OK || rc == EA_ERR_NOMEM);
        if (rc == EA_OK)
            for (i = 0; i < M; i++) {
                int ok = 0;
                CHECK(ea_verify_membership(ws[i], xs[i], v, n, &ok) == EA_OK && ok);
            }
        if (calls <= k)
            break;
    }
    CHECK(ea_root_factory(ws, g, (const mpz_t *)xs, M, n, 0, 1) == EA_OK);
    for (k = 0; k < 50; k++) {
        calls = 0;
        fail_at = k;
        rc = ea_trial_factor(&factor, n, (uint64_t)1 << 24, 2);
        fail_at = -1;
        CHECK(rc == EA_ERR_NOMEM || (rc == EA_OK && factor == 0));
        if (calls <= k)
            break;
    }
    for (k = 0; k < 20; k++) {             /* the screens with Pollard p-1: a verdict or NOMEM */
        int weakness = -1;
        calls = 0;
        fail_at = k;
        rc = ea_screen_modulus(&weakness, r, n, (uint64_t)1 << 20, 16, 1);
        fail_at = -1;
        CHECK((rc == EA_ERR_NOMEM && weakness == EA_WEAK_NOT_SCREENED)
              || (rc == EA_OK && weakness == EA_WEAK_NONE));
        if (calls <= k)
            break;
    }
    for (i = 0; i < M; i++) { mpz_clear(xs[i]); mpz_clear(ws[i]); mpz_clear(rs_[i]); }
    mpz_clears(n, p, q, g, v, r, e, NULL);
    gmp_randclear(rs);
    puts("csrc alloc ok");
    return 0;
}
#else
int main(void)
{
    puts("csrc alloc skipped (needs glibc)");
    return 0;
}
#endif
