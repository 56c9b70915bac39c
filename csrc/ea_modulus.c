/* ea_modulus.c - weak-modulus screens: trial division to 2^32, Fermat, perfect powers,
 * Fermat pseudoprimes, Pollard p-1. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "ea_modulus.h"
#include "ea_group.h"
#include "ea_mont.h"
#include "ea_prime.h"
#include "ea_thread.h"

#define SIEVE_LIMIT 65536u          /* primes below 2^16 sieve every number below 2^32 */
#define SEG_ODDS 32768u             /* odd numbers per sieve segment (32 KB: fits L1) */
#define TASK_ODDS ((uint64_t)1 << 22)   /* odd numbers per task; one gcd per task */
#define WHEEL 15015u                /* 3*5*7*11*13: these primes are pre-sieved by a pattern */
#define WHEEL_PRIMES 5

/* The odd primes below SIEVE_LIMIT (6541 of them); count in *count. */
static uint32_t *small_primes(size_t *count)
{
    unsigned char *composite = calloc(SIEVE_LIMIT, 1);
    uint32_t *primes = malloc(6542 * sizeof *primes);
    size_t k = 0;
    uint32_t i, j;
    if (composite == NULL || primes == NULL) {
        free(composite);
        free(primes);
        return NULL;
    }
    for (i = 3; i < SIEVE_LIMIT; i += 2) {
        if (composite[i])
            continue;
        primes[k++] = i;
        for (j = i * i; j < SIEVE_LIMIT && j >= i; j += 2 * i)
            composite[j] = 1;
    }
    free(composite);
    *count = k;
    return primes;
}

typedef struct {
    const ea_mont *ctx;
    mpz_srcptr n;
    const uint32_t *primes;
    size_t nprimes;
    uint64_t lo, hi;                /* odd numbers lo, lo+2, ... below hi */
    uint32_t *found;                /* per task: smallest prime factor in its range, or 0 */
    unsigned char wheel[WHEEL];     /* wheel[i] = 1 iff 2i+1 is coprime to 15015 */
    pthread_mutex_t lock;
    uint64_t stop_below;            /* lowest task start with a factor found (under lock) */
} trial_job;

/* Sieve the odd numbers [lo, lo + 2*count) (lo odd > SIEVE_LIMIT) into s (1 = prime);
 * next[i] is the index of the next odd multiple of primes[i] and is advanced. */
static void sieve_segment(unsigned char *s, uint64_t lo, size_t count, uint32_t *next,
                          const trial_job *job)
{
    size_t i, j, off = (size_t)((lo - 1) / 2 % WHEEL), run;
    for (j = 0; j < count; j += run) {          /* tile the pre-sieved pattern */
        run = WHEEL - off < count - j ? WHEEL - off : count - j;
        memcpy(s + j, job->wheel + off, run);
        off = 0;
    }
    for (i = WHEEL_PRIMES; i < job->nprimes; i++) {
        uint32_t p = job->primes[i];
        for (j = next[i]; j < count; j += p)
            s[j] = 0;
        next[i] = (uint32_t)(j - count);
    }
}

/* next[i] for a range starting at odd lo: index of the first odd multiple of p >= lo. */
static void first_multiples(uint32_t *next, uint64_t lo, const trial_job *job)
{
    size_t i;
    for (i = 0; i < job->nprimes; i++) {
        uint64_t p = job->primes[i], m = (lo + p - 1) / p * p;
        if (m % 2 == 0)
            m += p;
        next[i] = (uint32_t)((m - lo) / 2);
    }
}

/* Rescan a range known to hold a factor: the smallest prime of the range dividing n. */
static uint32_t first_divisor(const trial_job *job, uint64_t lo, uint64_t hi,
                              unsigned char *s, uint32_t *next)
{
    uint64_t base;
    size_t j;
    first_multiples(next, lo, job);
    for (base = lo; base < hi; base += 2 * (uint64_t)SEG_ODDS) {
        size_t count = (size_t)((hi - base + 1) / 2 < SEG_ODDS ? (hi - base + 1) / 2 : SEG_ODDS);
        sieve_segment(s, base, count, next, job);
        for (j = 0; j < count; j++)
            if (s[j] && mpz_divisible_ui_p(job->n, (unsigned long)(base + 2 * j)))
                return (uint32_t)(base + 2 * j);
    }
    return 0;
}

/* Bit i = byte i of the 64 bytes at s (each 0 or 1). */
static uint64_t survivors64(const unsigned char *s)
{
    uint64_t bits = 0, w;
    int k;
    for (k = 0; k < 8; k++) {
        memcpy(&w, s + 8 * k, 8);
        bits |= ((w * (uint64_t)0x0102040810204080u) >> 56) << (8 * k);
    }
    return bits;
}

static int lowest_bit(uint64_t x)
{
#if defined(__GNUC__)
    return __builtin_ctzll(x);
#else
    int i = 0;
    while (!(x & 1)) {
        x >>= 1;
        i++;
    }
    return i;
#endif
}

/* 1 if a task below the one starting at lo already found a factor (so this one is moot). */
static int stopped(trial_job *job, uint64_t lo)
{
    int r;
    pthread_mutex_lock(&job->lock);
    r = job->stop_below <= lo;
    pthread_mutex_unlock(&job->lock);
    return r;
}

/* block *= p, first folding a full block (n limbs, so < R) into acc. */
static void block_mul(mp_limb_t *acc, mp_limb_t *block, mp_size_t *used, mp_limb_t p,
                      const ea_mont *ctx, ea_mont_work *w)
{
    if (*used == ctx->n) {
        ea_mont_mul(acc, acc, block, ctx, w);
        mpn_zero(block, ctx->n);
        block[0] = 1;
        *used = 1;
    }
    block[*used] = mpn_mul_1(block, block, *used, p);
    if (block[*used])
        (*used)++;
}

/* One task: multiply every prime of the range into acc (Montgomery products of n-limb
 * blocks of prime pairs; R is a unit mod n, so gcd(acc, n) is unchanged by it), then one gcd. */
static int trial_task(void *arg, size_t t)
{
    trial_job *job = arg;
    const ea_mont *ctx = job->ctx;
    mp_size_t nl = ctx->n, used = 1;
    uint64_t lo = job->lo + 2 * TASK_ODDS * t, hi = lo + 2 * TASK_ODDS, base;
    unsigned char *s = malloc(SEG_ODDS + 64);
    uint32_t *next = malloc(job->nprimes * sizeof *next);
    mp_limb_t *acc = ea_mont_alloc(ctx, 2), *block, pending = 0;
    ea_mont_work w;
    mpz_t g, a;
    size_t j;
    if (hi > job->hi)
        hi = job->hi;
    if (s == NULL || next == NULL || acc == NULL || ea_mont_work_init(&w, ctx) != EA_OK) {
        free(s); free(next); free(acc);
        return EA_ERR_NOMEM;
    }
    block = acc + nl;
    mpn_copyi(acc, ctx->one, nl);
    block[0] = 1;
    first_multiples(next, lo, job);
    for (base = lo; base < hi && !stopped(job, lo); base += 2 * (uint64_t)SEG_ODDS) {
        size_t count = (size_t)((hi - base + 1) / 2 < SEG_ODDS ? (hi - base + 1) / 2 : SEG_ODDS);
        sieve_segment(s, base, count, next, job);
        memset(s + count, 0, SEG_ODDS + 64 - count);
        for (j = 0; j < count; j += 64) {
            uint64_t bits = survivors64(s + j);
            while (bits) {              /* each set bit is a prime base + 2*(j + bit) */
                mp_limb_t p = (mp_limb_t)(base + 2 * (j + (size_t)lowest_bit(bits)));
                bits &= bits - 1;
                if (pending == 0) {     /* pair primes: p1 * p2 < 2^64 */
                    pending = p;
                    continue;
                }
                block_mul(acc, block, &used, p * pending, ctx, &w);
                pending = 0;
            }
        }
    }
    if (pending)
        block_mul(acc, block, &used, pending, ctx, &w);
    ea_mont_mul(acc, acc, block, ctx, &w);
    mpz_init(g);
    mpz_init(a);
    mpz_import(a, (size_t)nl, -1, sizeof(mp_limb_t), 0, 0, acc);
    mpz_gcd(g, a, job->n);
    job->found[t] = 0;
    if (mpz_cmp_ui(g, 1) != 0 && (job->found[t] = first_divisor(job, lo, hi, s, next)) != 0) {
        pthread_mutex_lock(&job->lock);
        if (lo < job->stop_below)
            job->stop_below = lo;
        pthread_mutex_unlock(&job->lock);
    }
    mpz_clear(g);
    mpz_clear(a);
    ea_mont_work_clear(&w);
    free(s); free(next); free(acc);
    return EA_OK;
}

int ea_trial_factor(uint32_t *p, const mpz_t n, uint64_t bound, unsigned threads)
{
    ea_mont ctx;
    trial_job job;
    uint32_t *primes;
    size_t nprimes, i, ntasks;
    int rc;
    *p = 0;
    if (bound > EA_TRIAL_BOUND_MAX)
        return EA_ERR_ARGUMENT;
    if (mpz_sgn(n) > 0 && mpz_even_p(n)) {
        *p = bound > 2 ? 2 : 0;
        return EA_OK;
    }
    if ((rc = ea_check_modulus(n)) != EA_OK)
        return rc;
    if ((primes = small_primes(&nprimes)) == NULL)
        return EA_ERR_NOMEM;
    for (i = 0; i < nprimes && primes[i] < bound; i++)
        if (mpz_divisible_ui_p(n, primes[i])) {
            *p = primes[i];
            free(primes);
            return EA_OK;
        }
    if (bound <= SIEVE_LIMIT + 1) {
        free(primes);
        return EA_OK;
    }
    if ((rc = ea_mont_init(&ctx, n)) != EA_OK) {
        free(primes);
        return rc;
    }
    job.ctx = &ctx;
    job.n = n;
    job.primes = primes;
    job.nprimes = nprimes;
    job.lo = SIEVE_LIMIT + 1;
    job.hi = bound;
    for (i = 0; i < WHEEL; i++)
        job.wheel[i] = (2 * i + 1) % 3 && (2 * i + 1) % 5 && (2 * i + 1) % 7
                       && (2 * i + 1) % 11 && (2 * i + 1) % 13;
    ntasks = (size_t)((bound - job.lo + 2 * TASK_ODDS - 1) / (2 * TASK_ODDS));
    job.stop_below = UINT64_MAX;
    job.found = calloc(ntasks, sizeof *job.found);
    if (job.found == NULL || pthread_mutex_init(&job.lock, NULL) != 0) {
        rc = EA_ERR_NOMEM;
    } else {
        rc = ea_parallel_run(trial_task, &job, ntasks, threads);
        pthread_mutex_destroy(&job.lock);
        for (i = 0; rc == EA_OK && i < ntasks; i++)
            if (job.found[i]) {
                *p = job.found[i];
                break;
            }
    }
    free(job.found);
    ea_mont_clear(&ctx);
    free(primes);
    return rc;
}

int ea_fermat_factor(mpz_t factor, const mpz_t n, unsigned long steps)
{
    mpz_t a, b2, r;
    unsigned long i;
    int rc = ea_check_modulus(n);
    mpz_set_ui(factor, 0);
    if (rc != EA_OK)
        return rc;
    mpz_inits(a, b2, r, NULL);
    mpz_sqrtrem(a, r, n);
    if (mpz_sgn(r) != 0)
        mpz_add_ui(a, a, 1);
    mpz_mul(b2, a, a);
    mpz_sub(b2, b2, n);                 /* b2 = a^2 - n, kept up to date as a grows */
    for (i = 0; i < steps; i++) {
        if (mpz_perfect_square_p(b2)) {
            mpz_sqrt(r, b2);
            mpz_sub(r, a, r);
            if (mpz_cmp_ui(r, 1) > 0) {
                mpz_set(factor, r);
                break;
            }
        }
        mpz_addmul_ui(b2, a, 2);
        mpz_add_ui(b2, b2, 1);
        mpz_add_ui(a, a, 1);
    }
    mpz_clears(a, b2, r, NULL);
    return EA_OK;
}

#define PM1_CHUNK_BITS 4096        /* exponent bits per exponentiation (then one gcd) */

static unsigned long bit_length(unsigned long x)
{
    unsigned long k = 0;
    for (; x; x >>= 1)
        k++;
    return k;
}

/* a^e mod n for e = the prime powers q of primes in [lo, hi), then g = gcd(a - 1, n). */
static void pm1_step(mpz_t a, mpz_t g, const unsigned char *composite, unsigned long lo,
                     unsigned long hi, unsigned long bound, mpz_t e, const mpz_t n)
{
    unsigned long p, q;
    mpz_set_ui(e, 1);
    for (p = lo; p < hi; p++) {
        if (composite[p])
            continue;
        for (q = p; q <= bound / p; q *= p)
            ;
        mpz_mul_ui(e, e, q);
    }
    mpz_powm(a, a, e, n);
    mpz_sub_ui(g, a, 1);
    mpz_gcd(g, g, n);
}

int ea_pm1_factor(mpz_t factor, const mpz_t n, unsigned long bound)
{
    unsigned char *composite;
    unsigned long i, j, lo, hi;
    mpz_t a, saved, g, e;
    int rc = ea_check_modulus(n);
    mpz_set_ui(factor, 0);
    if (rc != EA_OK)
        return rc;
    if (bound > EA_PM1_BOUND_MAX)
        return EA_ERR_ARGUMENT;
    if (bound < 2)
        return EA_OK;
    if ((composite = calloc(bound + 1, 1)) == NULL)
        return EA_ERR_NOMEM;
    for (i = 2; i * i <= bound; i++)
        if (!composite[i])
            for (j = i * i; j <= bound; j += i)
                composite[j] = 1;
    mpz_inits(a, saved, g, e, NULL);
    mpz_set_ui(a, 2);
    for (lo = 2; lo <= bound && mpz_sgn(factor) == 0; lo = hi) {
        unsigned long bits = 0;
        for (hi = lo; hi <= bound && bits < PM1_CHUNK_BITS; hi++)
            if (!composite[hi])
                bits += bit_length(bound);      /* q <= bound */
        mpz_set(saved, a);
        pm1_step(a, g, composite, lo, hi, bound, e, n);
        if (mpz_cmp_ui(g, 1) == 0)
            continue;
        if (mpz_cmp(g, n) == 0) {       /* every factor at once: retry prime by prime */
            mpz_set(a, saved);
            for (i = lo; i < hi; i++) {
                pm1_step(a, g, composite, i, i + 1, bound, e, n);
                if (mpz_cmp_ui(g, 1) != 0)
                    break;
            }
        }
        mpz_set(factor, g);
    }
    mpz_clears(a, saved, g, e, NULL);
    free(composite);
    return EA_OK;
}

/* 1 if a^(n-1) = 1 (mod n) for one of the bases 2..13: a Fermat pseudoprime. */
static int fermat_pseudoprime(const mpz_t n)
{
    static const unsigned long bases[] = {2, 3, 5, 7, 11, 13};
    mpz_t e, r;
    size_t i;
    int found = 0;
    mpz_init(r);
    mpz_init(e);
    mpz_sub_ui(e, n, 1);
    for (i = 0; i < sizeof bases / sizeof bases[0] && !found; i++) {
        mpz_set_ui(r, bases[i]);
        mpz_powm(r, r, e, n);
        found = mpz_cmp_ui(r, 1) == 0;
    }
    mpz_clear(r);
    mpz_clear(e);
    return found;
}

/* The screens in order; *weakness = the first that finds N weak, EA_WEAK_NONE if none. */
static int run_screens(int *weakness, mpz_t factor, const mpz_t n, uint64_t bound,
                       unsigned long steps, unsigned threads)
{
    uint32_t p = 0;
    int rc;
    if (mpz_perfect_power_p(n)) {
        *weakness = EA_WEAK_PERFECT_POWER;
        return EA_OK;
    }
    if (ea_is_probable_prime(n)) {
        *weakness = EA_WEAK_PRIME;
        return EA_OK;
    }
    if ((rc = ea_fermat_factor(factor, n, steps)) != EA_OK || mpz_sgn(factor) > 0) {
        *weakness = EA_WEAK_NEAR_SQUARE;
        return rc;
    }
    if ((rc = ea_trial_factor(&p, n, bound, threads)) != EA_OK || p) {
        *weakness = EA_WEAK_SMALL_FACTOR;
        mpz_set_ui(factor, p);
        return rc;
    }
    if (fermat_pseudoprime(n)) {
        *weakness = EA_WEAK_PSEUDOPRIME;
        return EA_OK;
    }
    rc = ea_pm1_factor(factor, n, bound >= EA_TRIAL_BOUND_MAX ? EA_SCREEN_PM1_BOUND
                                                              : EA_SCREEN_PM1_BOUND >> 4);
    *weakness = rc != EA_OK || mpz_sgn(factor) > 0 ? EA_WEAK_SMOOTH_ORDER : EA_WEAK_NONE;
    return rc;
}

int ea_screen_modulus(int *weakness, mpz_t factor, const mpz_t n, uint64_t bound,
                      unsigned long steps, unsigned threads)
{
    int rc = ea_check_modulus(n);
    *weakness = EA_WEAK_NOT_SCREENED;
    mpz_set_ui(factor, 0);
    if (rc == EA_OK)
        rc = run_screens(weakness, factor, n, bound, steps, threads);
    if (rc != EA_OK) {          /* a failed screen is never a verdict, least of all "passed" */
        *weakness = EA_WEAK_NOT_SCREENED;
        mpz_set_ui(factor, 0);
    }
    return rc;
}
