/* ea_fastexp.c - OpenSSL single exponentiations and crypto_mb lanes, chosen at run time. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include "ea_fastexp.h"
#include "ea_ifma.h"
#include "ea_ifma1.h"
#include "ea_mont4.h"
#if defined(__GNUC__) && defined(__x86_64__)
#include <cpuid.h>
#endif
#ifdef EA_HAVE_CRYPTO_MB
#include <crypto_mb/exp.h>
#endif

#define LANE_WORDS (EA_LANE_MOD_BITS / 64)

static pthread_once_t paths_once = PTHREAD_ONCE_INIT;
static unsigned paths;          /* written once under paths_once, read-only afterwards */
static pthread_key_t cache_key;

/* Per-thread OpenSSL state: the Montgomery context of the last modulus used by the thread
 * (one modulus per accumulator, so consecutive calls hit), freed when the thread ends. */
typedef struct {
    mpz_t n;
    BIGNUM *bn, *bb, *be, *br;
    BN_MONT_CTX *mont;
    BN_CTX *ctx;
} bn_cache;

static void cache_free(void *p)
{
    bn_cache *c = p;
    if (c == NULL)
        return;
    mpz_clear(c->n);
    BN_free(c->bn); BN_free(c->bb); BN_free(c->be); BN_free(c->br);
    BN_MONT_CTX_free(c->mont);
    BN_CTX_free(c->ctx);
    free(c);
}

static int cpu_has_ifma(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
#else
    return 0;
#endif
}

/* cpuid leaf 7: BMI2 (mulx) and ADX (adcx, adox), for ea_mont4.h. */
static int cpu_has_mulx_adx(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b >> 8 & 1) && (b >> 19 & 1);
#else
    return 0;
#endif
}

static void paths_init(void)
{
    const char *env = getenv("EDGEACC_PORTABLE");
    unsigned p = 0;
#ifdef EA_HAVE_CRYPTO_MB
    p |= EA_PATH_LANES_COMPILED;
#endif
    if (cpu_has_ifma())
        p |= EA_PATH_LANES_CPU;
    if (env != NULL && env[0] != '\0' && strcmp(env, "0") != 0)
        p |= EA_PATH_PORTABLE;
    if (!(p & EA_PATH_PORTABLE) && pthread_key_create(&cache_key, cache_free) == 0)
        p |= EA_PATH_OPENSSL;
    if ((p & EA_PATH_LANES_COMPILED) && (p & EA_PATH_LANES_CPU) && !(p & EA_PATH_PORTABLE))
        p |= EA_PATH_LANES;
#ifdef EA_IFMA_COMPILED
    if ((p & EA_PATH_LANES_CPU) && !(p & EA_PATH_PORTABLE))
        p |= EA_PATH_IFMA;
#endif
#ifdef EA_MONT4_COMPILED
    if (cpu_has_mulx_adx() && !(p & EA_PATH_PORTABLE))
        p |= EA_PATH_MULX;
#endif
    paths = p;
}

unsigned ea_fast_paths(void)
{
    pthread_once(&paths_once, paths_init);
    return paths;
}

/* The calling thread's cache, set up for modulus n; NULL on allocation failure. */
static bn_cache *cache_for(const mpz_t n)
{
    bn_cache *c = pthread_getspecific(cache_key);
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return NULL;
        mpz_init(c->n);
        c->bb = BN_new(); c->be = BN_new(); c->br = BN_new();
        c->ctx = BN_CTX_new();
        if (c->bb == NULL || c->be == NULL || c->br == NULL || c->ctx == NULL
            || pthread_setspecific(cache_key, c) != 0) {
            cache_free(c);
            return NULL;
        }
    }
    if (c->mont == NULL || mpz_cmp(c->n, n) != 0) {
        BN_MONT_CTX_free(c->mont);
        c->mont = BN_MONT_CTX_new();
        c->bn = BN_lebin2bn((const unsigned char *)mpz_limbs_read(n),
                            (int)(mpz_size(n) * sizeof(mp_limb_t)), c->bn);
        if (c->mont == NULL || c->bn == NULL || !BN_MONT_CTX_set(c->mont, c->bn, c->ctx)) {
            BN_MONT_CTX_free(c->mont);
            c->mont = NULL;
            return NULL;
        }
        mpz_set(c->n, n);
    }
    return c;
}

static BIGNUM *to_bn(BIGNUM *out, const mpz_t z)
{
    return BN_lebin2bn((const unsigned char *)mpz_limbs_read(z),
                       (int)(mpz_size(z) * sizeof(mp_limb_t)), out);
}

/* r = b^e mod n by OpenSSL; 0 if OpenSSL failed (the caller falls back to GMP). */
static int openssl_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t n)
{
    bn_cache *c = cache_for(n);
    size_t limbs = mpz_size(n);
    mp_limb_t *rp;
    if (c == NULL || to_bn(c->bb, b) == NULL || to_bn(c->be, e) == NULL
        || !BN_mod_exp_mont(c->br, c->bb, c->be, c->bn, c->ctx, c->mont))
        return 0;
    rp = mpz_limbs_write(r, (mp_size_t)limbs);
    if (BN_bn2lebinpad(c->br, (unsigned char *)rp, (int)(limbs * sizeof(mp_limb_t))) < 0)
        return 0;
    mpz_limbs_finish(r, (mp_size_t)limbs);
    return 1;
}

void ea_fast_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t n)
{
    if (mpz_sgn(e) > 0 && ea_ifma1_apply(n) && ea_ifma1_powm(r, b, e, n))
        return;
    if ((ea_fast_paths() & EA_PATH_OPENSSL) && mpz_sgn(e) > 0 && openssl_powm(r, b, e, n))
        return;
    mpz_powm(r, b, e, n);
}

int ea_fast_lanes_apply(const mpz_t n)
{
    return (ea_fast_paths() & EA_PATH_LANES) && mpz_sizeinbase(n, 2) == EA_LANE_MOD_BITS;
}

#ifdef EA_HAVE_CRYPTO_MB
static void put_words(int64u *dst, const mpz_t z)
{
    size_t k = mpz_size(z);
    memset(dst, 0, LANE_WORDS * sizeof(int64u));
    memcpy(dst, mpz_limbs_read(z), k * sizeof(mp_limb_t));
}

/* Items idx[0..m) (1 <= m <= 8) in one lane call; lanes past m repeat item idx[0]. done[i] = 1
 * for each item computed: an item whose lane failed is left for the caller. */
static void lane_call(mpz_t *out, const mpz_t *bases, const mpz_t *exps, const size_t *idx,
                      size_t m, const mpz_t n, int64u *words, int8u *buf, int buflen,
                      unsigned char *done)
{
    int64u *op[EA_LANES];
    const int64u *bp[EA_LANES], *ep[EA_LANES], *mp[EA_LANES];
    size_t l, bits = 1;
    mbx_status st;
    for (l = 0; l < m; l++)
        if (mpz_sizeinbase(exps[idx[l]], 2) > bits)
            bits = mpz_sizeinbase(exps[idx[l]], 2);
    put_words(words, n);
    for (l = 0; l < EA_LANES; l++) {
        size_t i = idx[l < m ? l : 0];
        int64u *w = words + LANE_WORDS * (1 + 3 * l);
        put_words(w, bases[i]);
        put_words(w + LANE_WORDS, exps[i]);
        bp[l] = w;
        ep[l] = w + LANE_WORDS;
        op[l] = w + 2 * LANE_WORDS;
        mp[l] = words;
    }
    st = mbx_exp2048_mb8(op, bp, ep, (int)bits, mp, EA_LANE_MOD_BITS, buf, buflen);
    for (l = 0; l < m; l++) {
        mp_limb_t *rp;
        if (MBX_GET_STS(st, l) != MBX_STATUS_OK)
            continue;
        rp = mpz_limbs_write(out[idx[l]], LANE_WORDS);
        memcpy(rp, op[l], LANE_WORDS * sizeof(int64u));
        mpz_limbs_finish(out[idx[l]], LANE_WORDS);
        done[idx[l]] = 1;
    }
}

/* Every item with an exponent that fits goes through lanes, 8 at a time; done[i] = 1 for the
 * items computed. 0 on allocation failure. */
static int lanes_powm(mpz_t *out, const mpz_t *bases, const mpz_t *exps, size_t count,
                      const mpz_t n, unsigned char *done)
{
    int buflen = mbx_exp_BufferSize(EA_LANE_MOD_BITS);
    int64u *words = malloc((1 + 3 * EA_LANES) * LANE_WORDS * sizeof(int64u));
    int8u *buf = buflen > 0 ? malloc((size_t)buflen) : NULL;
    size_t idx[EA_LANES], m = 0, i;
    if (words == NULL || buf == NULL) {
        free(words); free(buf);
        return 0;
    }
    for (i = 0; i < count; i++) {
        if (mpz_sgn(exps[i]) <= 0 || mpz_sizeinbase(exps[i], 2) > EA_LANE_EXP_BITS)
            continue;
        idx[m++] = i;
        if (m == EA_LANES) {
            lane_call(out, bases, exps, idx, m, n, words, buf, buflen, done);
            m = 0;
        }
    }
    if (m >= (ea_ifma1_apply(n) ? EA_LANE_MIN_ITEMS : 2u))
        lane_call(out, bases, exps, idx, m, n, words, buf, buflen, done);
    free(words); free(buf);
    return 1;
}
#endif

int ea_fast_powm_many(mpz_t *out, const mpz_t *bases, const mpz_t *exps, size_t count,
                      const mpz_t n)
{
    unsigned char *done = calloc(count ? count : 1, 1);
    size_t i;
    if (done == NULL)
        return EA_ERR_NOMEM;
#ifdef EA_HAVE_CRYPTO_MB
    if (count >= 2 && ea_fast_lanes_apply(n) && !lanes_powm(out, bases, exps, count, n, done)) {
        free(done);
        return EA_ERR_NOMEM;
    }
#endif
    for (i = 0; i < count; i++)
        if (!done[i])
            ea_fast_powm(out[i], bases[i], exps[i], n);
    free(done);
    return EA_OK;
}
