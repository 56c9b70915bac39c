/* ea_bytes.c - the byte-level API over the mpz core (ea_bytes.h), and a strict parser of the
 * ledger's inclusion proofs that applies the checks of ledger.protocol1.verify_inclusion in
 * the same order, so it gives the same verdict on every input. */
#define _DEFAULT_SOURCE /* getrandom */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/random.h>
#endif
#include <openssl/sha.h>
#include <gmp.h>
#include "ea_bytes.h"
#include "ea_batch.h"
#include "ea_check.h"
#include "ea_group.h"
#include "ea_nonmem.h"
#include "ea_poke.h"
#include "ea_prime.h"

#define LIT_LEN(s) (sizeof(s) - 1)
#define DIGEST EA_LEDGER_DIGEST_BYTES
#define WEIGHT_BYTES (EA_BATCH_SECURITY_BITS / 8)

/* ---- integers in and out ---- */

static int import_modulus(mpz_t n, const unsigned char *b, size_t len)
{
    if (b == NULL || len == 0 || len > EA_MAX_MODULUS_BYTES || b[0] == 0)
        return EA_ERR_MODULUS;
    mpz_import(n, len, 1, 1, 1, 0, b);
    if (mpz_even_p(n) || mpz_sizeinbase(n, 2) < EA_MIN_INSECURE_BITS)
        return EA_ERR_MODULUS;
    return EA_OK;
}

/* z = b as an unsigned big-endian integer of 1..max bytes, else `bad`. */
static int import_int(mpz_t z, const unsigned char *b, size_t len, size_t max, int bad)
{
    if (b == NULL)
        return EA_ERR_ARGUMENT;
    if (len == 0 || len > max)
        return bad;
    mpz_import(z, len, 1, 1, 1, 0, b);
    return EA_OK;
}

static int import_element(mpz_t y, const unsigned char *b, size_t len, const mpz_t n, size_t n_len)
{
    int rc = import_int(y, b, len, n_len, EA_ERR_ELEMENT);
    return rc == EA_OK ? ea_check_element(y, n) : rc;
}

static int import_exponent(mpz_t x, const unsigned char *b, size_t len)
{
    int rc = import_int(x, b, len, EA_MAX_MODULUS_BYTES, EA_ERR_EXPONENT);
    return rc == EA_OK ? ea_check_exponent(x, EA_RULE_ELEMENT) : rc;
}

/* out = z big-endian in exactly width bytes (z < 256^width, z >= 0). */
static void export_fixed(unsigned char *out, size_t width, const mpz_t z)
{
    size_t size = (mpz_sizeinbase(z, 2) + 7) / 8, count = 0;
    memset(out, 0, width);
    if (mpz_sgn(z) != 0)
        mpz_export(out + width - size, &count, 1, 1, 1, 0, z);
}

/* ---- hash-to-prime, generators, membership ---- */

int ea_bytes_rsa2048(unsigned char *out, size_t out_len)
{
    static const char hex[] = EA_RSA2048_HEX;
    size_t i;
    if (out == NULL || out_len != EA_RSA2048_BYTES || LIT_LEN(hex) != 2 * EA_RSA2048_BYTES)
        return EA_ERR_ARGUMENT;
    for (i = 0; i < EA_RSA2048_BYTES; i++) {
        unsigned v = 0;
        int k;
        for (k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v = v << 4 | (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (unsigned char)v;
    }
    return EA_OK;
}

int ea_bytes_hash_to_prime(unsigned char x[EA_H2P_BYTES], uint32_t *nonce,
                           const unsigned char *data, size_t len)
{
    mpz_t z;
    uint32_t k = 0;
    int rc;
    if (x == NULL || nonce == NULL)
        return EA_ERR_ARGUMENT;
    mpz_init(z);
    rc = ea_hash_to_prime(z, &k, (const unsigned char *)EA_H2P_DOMAIN, LIT_LEN(EA_H2P_DOMAIN),
                          data, len, EA_H2P_BITS, EA_H2P_MAX_NONCE);
    if (rc == EA_OK) {
        export_fixed(x, EA_H2P_BYTES, z);
        *nonce = k;
    }
    mpz_clear(z);
    return rc;
}

int ea_bytes_check_representative(int *ok, const unsigned char *data, size_t len,
                                  const unsigned char *x, size_t x_len, uint32_t nonce)
{
    mpz_t z;
    int rc, holds = 0;
    if (ok == NULL)
        return EA_ERR_ARGUMENT;
    *ok = 0;
    if (data == NULL || len == 0 || x == NULL || x_len == 0 || x_len > EA_MAX_MODULUS_BYTES)
        return EA_ERR_ARGUMENT;
    if (nonce >= EA_H2P_MAX_NONCE)
        return EA_OK;   /* no representative has such a nonce */
    mpz_init(z);
    mpz_import(z, x_len, 1, 1, 1, 0, x);
    rc = ea_check_representative(&holds, z, nonce, (const unsigned char *)EA_H2P_DOMAIN,
                                 LIT_LEN(EA_H2P_DOMAIN), data, len, EA_H2P_BITS);
    mpz_clear(z);
    if (rc == EA_OK)
        *ok = holds;
    return rc;
}

int ea_bytes_generator(unsigned char *g, size_t g_len, const unsigned char *n, size_t n_len,
                       const unsigned char *chain_id, size_t id_len)
{
    mpz_t N, z;
    int rc;
    if (g == NULL)
        return EA_ERR_ARGUMENT;
    mpz_inits(N, z, NULL);
    rc = import_modulus(N, n, n_len);
    if (rc == EA_OK && g_len != n_len)
        rc = EA_ERR_ARGUMENT;
    if (rc == EA_OK)
        rc = ea_derive_generator(z, N, chain_id, id_len);
    if (rc == EA_OK)
        export_fixed(g, g_len, z);
    mpz_clears(N, z, NULL);
    return rc;
}

int ea_bytes_verify_membership(int *ok, const unsigned char *w, size_t w_len,
                               const unsigned char *x, size_t x_len, const unsigned char *v,
                               size_t v_len, const unsigned char *n, size_t n_len)
{
    mpz_t N, W, X, V;
    int rc, holds = 0;
    if (ok == NULL)
        return EA_ERR_ARGUMENT;
    *ok = 0;
    mpz_inits(N, W, X, V, NULL);
    rc = import_modulus(N, n, n_len);
    if (rc == EA_OK)
        rc = import_exponent(X, x, x_len);
    if (rc == EA_OK)
        rc = import_element(W, w, w_len, N, n_len);
    if (rc == EA_OK)
        rc = import_element(V, v, v_len, N, n_len);
    if (rc == EA_OK)
        rc = ea_verify_membership(W, X, V, N, &holds);
    mpz_clears(N, W, X, V, NULL);
    if (rc == EA_OK)
        *ok = holds;
    return rc;
}

/* ---- batch verification ---- */

/* len bytes from the OS (getrandom, else /dev/urandom); never a seeded generator. */
static int os_random(unsigned char *buf, size_t len)
{
    FILE *f;
    size_t got;
#if defined(__linux__)
    while (len > 0) {
        ssize_t r = getrandom(buf, len, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        buf += r;
        len -= (size_t)r;
    }
    if (len == 0)
        return EA_OK;
#endif
    f = fopen("/dev/urandom", "rb");
    if (f == NULL)
        return EA_ERR_RANDOM;
    got = fread(buf, 1, len, f);
    fclose(f);
    return got == len ? EA_OK : EA_ERR_RANDOM;
}

int ea_bytes_batch_verify(unsigned char *bad, int *all_ok, const unsigned char *ws,
                          const unsigned char *xs, size_t x_len, const unsigned char *vs,
                          size_t count, const unsigned char *n, size_t n_len, unsigned threads)
{
    mpz_t N, *z = NULL, *W, *X, *R, *vals;
    size_t *vidx = NULL, nvals = 0, inited = 0, j;
    unsigned char *flags = NULL, *weights = NULL;
    int rc;
    if (all_ok == NULL)
        return EA_ERR_ARGUMENT;
    *all_ok = 0;
    mpz_init(N);
    rc = import_modulus(N, n, n_len);
    if (rc != EA_OK || count == 0) {
        mpz_clear(N);
        if (rc == EA_OK)
            *all_ok = 1;
        return rc;
    }
    if (ws == NULL || xs == NULL || vs == NULL || x_len == 0 || x_len > EA_MAX_MODULUS_BYTES) {
        mpz_clear(N);
        return x_len == 0 || x_len > EA_MAX_MODULUS_BYTES ? EA_ERR_EXPONENT : EA_ERR_ARGUMENT;
    }
    /* every size below is at most count * max(4 * sizeof(mpz_t), n_len, x_len, WEIGHT_BYTES) */
    if (count > SIZE_MAX / (4 * sizeof(mpz_t)) || count > SIZE_MAX / n_len
        || count > SIZE_MAX / x_len || count > SIZE_MAX / WEIGHT_BYTES) {
        mpz_clear(N);
        return EA_ERR_ARGUMENT;
    }
    z = malloc(4 * count * sizeof(mpz_t));
    vidx = malloc(count * sizeof(size_t));
    flags = malloc(count);
    weights = malloc(count * WEIGHT_BYTES);
    if (z == NULL || vidx == NULL || flags == NULL || weights == NULL) {
        rc = EA_ERR_NOMEM;
        goto done;
    }
    W = z;
    X = z + count;
    R = z + 2 * count;
    vals = z + 3 * count;
    for (inited = 0; inited < 4 * count; inited++)
        mpz_init(z[inited]);
    rc = os_random(weights, count * WEIGHT_BYTES);
    for (j = 0; j < count && rc == EA_OK; j++) {
        mpz_import(W[j], n_len, 1, 1, 1, 0, ws + j * n_len);
        mpz_import(X[j], x_len, 1, 1, 1, 0, xs + j * x_len);
        mpz_import(R[j], WEIGHT_BYTES, 1, 1, 1, 0, weights + j * WEIGHT_BYTES);
        mpz_setbit(R[j], 0);    /* odd: an element of order 2 fails the batch as it fails alone */
        /* a value is checked before it can share the previous item's exponent sum */
        mpz_import(vals[nvals], n_len, 1, 1, 1, 0, vs + j * n_len);
        rc = ea_check_element(vals[nvals], N);
        if (rc == EA_OK && !(nvals > 0 && ea_equal_pm(vals[nvals], vals[nvals - 1], N)))
            nvals++;
        vidx[j] = nvals - 1;
    }
    if (threads == 0 || threads > EA_BYTES_MAX_THREADS)
        threads = threads == 0 ? 1 : EA_BYTES_MAX_THREADS;
    if (rc == EA_OK)    /* checks every w_j and x_j itself */
        rc = ea_batch_verify(flags, (const mpz_t *)W, (const mpz_t *)X, (const mpz_t *)R, vidx,
                             count, (const mpz_t *)vals, nvals, N, threads, NULL);
    if (rc == EA_OK) {
        *all_ok = 1;
        for (j = 0; j < count; j++)
            *all_ok &= !flags[j];
        if (bad != NULL)
            memcpy(bad, flags, count);
    }
done:
    for (j = 0; j < inited; j++)
        mpz_clear(z[j]);
    free(z);
    free(vidx);
    free(flags);
    free(weights);
    mpz_clear(N);
    return rc;
}

/* ---- the ledger's inclusion proofs ---- */

/* A bounds-checked cursor: the first failed read marks it bad and every later read fails. */
typedef struct {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} reader;

static const unsigned char *take(reader *r, size_t n)
{
    const unsigned char *out;
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    out = r->p + r->pos;
    r->pos += n;
    return out;
}

static uint64_t read_be(reader *r, size_t width)
{
    const unsigned char *b = take(r, width);
    uint64_t v = 0;
    size_t i;
    for (i = 0; b != NULL && i < width; i++)
        v = v << 8 | b[i];
    return v;
}

/* A field prefixed by its length (len_width bytes), at most limit bytes. */
static const unsigned char *read_field(reader *r, size_t len_width, uint64_t limit, size_t *len)
{
    uint64_t n = read_be(r, len_width);
    *len = 0;
    if (n > limit) {
        r->bad = 1;
        return NULL;
    }
    *len = (size_t)n;
    return take(r, (size_t)n);
}

static void read_magic(reader *r, const char magic[4], unsigned version)
{
    const unsigned char *b = take(r, 4);
    if (b == NULL || memcmp(b, magic, 4) != 0 || read_be(r, 1) != version)
        r->bad = 1;
}

static int complete(const reader *r)
{
    return !r->bad && r->pos == r->len;
}

/* ledger.encoding.check_chain_id: 1..64 characters of [a-z0-9-_.] (so ASCII: bytes = chars). */
static int valid_chain_id(const unsigned char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > EA_LEDGER_MAX_CHAIN_ID)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] == 0 || strchr(EA_LEDGER_CHAIN_ID_CHARS, s[i]) == NULL)
            return 0;
    return 1;
}

/* Strict UTF-8, as Python's decoder: no overlong forms, surrogates or code points > 10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0, k, need;
    unsigned long cp, min;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < need)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* ledger.tx.Transaction.from_bytes */
typedef struct {
    const unsigned char *chain_id;
    size_t id_len, body_len;
    int kind;
} tx_view;

static int parse_tx(tx_view *t, const unsigned char *p, size_t len)
{
    reader r = {NULL, 0, 0, 0};
    const unsigned char *url;
    size_t payload_len, digest_len, url_len;
    r.p = p;
    r.len = len;
    read_magic(&r, EA_LEDGER_TX_MAGIC, EA_LEDGER_TX_VERSION);
    t->kind = (int)read_be(&r, 1);
    t->chain_id = read_field(&r, 2, 0xFFFF, &t->id_len);
    take(&r, DIGEST);           /* submitter fingerprint */
    read_be(&r, 8);             /* timestamp */
    read_be(&r, 8);             /* nonce */
    read_field(&r, 4, EA_LEDGER_MAX_PAYLOAD_BYTES, &payload_len);
    read_field(&r, 1, 0xFF, &digest_len);
    url = read_field(&r, 2, 0xFFFF, &url_len);
    t->body_len = r.pos;
    take(&r, EA_LEDGER_SIGNATURE_BYTES);
    return complete(&r) && t->kind >= 1 && t->kind <= EA_LEDGER_TX_KIND_MAX
           && valid_chain_id(t->chain_id, t->id_len)
           && (digest_len == 0 || digest_len == DIGEST) && valid_utf8(url, url_len)
           && (url_len != 0) == (digest_len != 0) && url_len <= EA_LEDGER_MAX_URL_BYTES;
}

/* ledger.block.BlockHeader.from_bytes */
typedef struct {
    const unsigned char *chain_id, *previous, *merkle_root, *element;
    size_t id_len, content_len;
    uint64_t height, timestamp_ms;
    uint32_t tx_count, nonce;
} header_view;

static int parse_header(header_view *h, const unsigned char *p, size_t len)
{
    reader r = {NULL, 0, 0, 0};
    size_t value_len;
    r.p = p;
    r.len = len;
    read_magic(&r, EA_LEDGER_HEADER_MAGIC, EA_LEDGER_BLOCK_VERSION);
    h->chain_id = read_field(&r, 2, 0xFFFF, &h->id_len);
    h->height = read_be(&r, 8);
    h->previous = take(&r, DIGEST);
    h->timestamp_ms = read_be(&r, 8);
    h->merkle_root = take(&r, DIGEST);
    h->tx_count = (uint32_t)read_be(&r, 4);
    h->content_len = r.pos;
    h->element = take(&r, EA_LEDGER_REPRESENTATIVE_BYTES);
    h->nonce = (uint32_t)read_be(&r, 4);
    read_field(&r, 2, EA_LEDGER_MAX_ELEMENT_BYTES, &value_len);
    return complete(&r) && valid_chain_id(h->chain_id, h->id_len);
}

/* ledger.protocol1.InclusionProof.from_bytes (the witness checked by the caller) */
typedef struct {
    const unsigned char *chain_id, *tx, *header, *path, *witness;
    size_t id_len, tx_len, header_len, path_len, witness_len;
    uint32_t position;
    uint64_t against_height;
} proof_view;

static int parse_proof(proof_view *v, const unsigned char *p, size_t len)
{
    reader r = {NULL, 0, 0, 0};
    r.p = p;
    r.len = len;
    read_magic(&r, EA_LEDGER_PROOF_MAGIC, EA_LEDGER_PROOF_VERSION);
    v->chain_id = read_field(&r, 2, 0xFFFF, &v->id_len);
    v->tx = read_field(&r, 4, EA_LEDGER_MAX_PROOF_PART, &v->tx_len);
    v->header = read_field(&r, 4, EA_LEDGER_MAX_PROOF_PART, &v->header_len);
    v->position = (uint32_t)read_be(&r, 4);
    v->path_len = (size_t)read_be(&r, 2);
    v->path = take(&r, v->path_len * DIGEST);
    v->witness = read_field(&r, 2, 0xFFFF, &v->witness_len);
    v->against_height = read_be(&r, 8);
    return complete(&r) && valid_chain_id(v->chain_id, v->id_len);
}

/* out = SHA-256(prefix || a || b) (out may alias a or b). */
static void hash3(unsigned char out[DIGEST], unsigned char prefix, const unsigned char *a,
                  size_t alen, const unsigned char *b, size_t blen)
{
    SHA256_CTX ctx;
    unsigned char digest[DIGEST];
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, &prefix, 1);
    SHA256_Update(&ctx, a, alen);
    SHA256_Update(&ctx, b, blen);
    SHA256_Final(digest, &ctx);
    memcpy(out, digest, DIGEST);
}

/* ledger.merkle.root_from_path: 1 and root = the root the path implies, 0 if it has the wrong
 * shape (leaves H(0x00 || tx), nodes H(0x01 || left || right), an odd last node promoted). */
static int root_from_path(unsigned char root[DIGEST], const unsigned char *tx, size_t tx_len,
                          uint64_t index, uint64_t size, const unsigned char *path, size_t npath)
{
    size_t used = 0;
    if (index >= size)
        return 0;
    hash3(root, 0x00, tx, tx_len, tx, 0);
    while (size > 1) {
        if ((index ^ 1) < size) {
            const unsigned char *sibling;
            if (used >= npath)
                return 0;
            sibling = path + used * DIGEST;
            if (index & 1)
                hash3(root, 0x01, sibling, DIGEST, root, DIGEST);
            else
                hash3(root, 0x01, root, DIGEST, sibling, DIGEST);
            used++;
        }
        index /= 2;
        size = (size + 1) / 2;
    }
    return used == npath;
}

/* ledger.block.check_element: the element is the representative of the block's content. */
static int element_is_representative(const header_view *h, const unsigned char *header)
{
    unsigned char data[LIT_LEN(EA_LEDGER_ELEMENT_DOMAIN) + 256];
    mpz_t x;
    int ok = 0;
    if (h->nonce >= EA_H2P_MAX_NONCE || h->content_len > sizeof data - LIT_LEN(EA_LEDGER_ELEMENT_DOMAIN))
        return 0;
    memcpy(data, EA_LEDGER_ELEMENT_DOMAIN, LIT_LEN(EA_LEDGER_ELEMENT_DOMAIN));
    memcpy(data + LIT_LEN(EA_LEDGER_ELEMENT_DOMAIN), header, h->content_len);
    mpz_init(x);
    mpz_import(x, EA_LEDGER_REPRESENTATIVE_BYTES, 1, 1, 1, 0, h->element);
    if (ea_check_representative(&ok, x, h->nonce, (const unsigned char *)EA_H2P_DOMAIN,
                                LIT_LEN(EA_H2P_DOMAIN), data,
                                LIT_LEN(EA_LEDGER_ELEMENT_DOMAIN) + h->content_len,
                                EA_H2P_BITS) != EA_OK)
        ok = 0;
    mpz_clear(x);
    return ok;
}

static int same_id(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The verdict on a decoded proof, in the order of verify_inclusion; fills r when it holds. */
static int inclusion_verdict(ea_inclusion *r, const proof_view *p, const unsigned char *chain_id,
                             size_t id_len, const mpz_t acc, uint64_t acc_height, const mpz_t N)
{
    tx_view t;
    header_view h;
    unsigned char root[DIGEST];
    mpz_t w, x;
    int member = 0;
    if (!same_id(p->chain_id, p->id_len, chain_id, id_len))
        return EA_INCLUSION_WRONG_CHAIN;
    if (p->against_height != acc_height)
        return EA_INCLUSION_WRONG_HEIGHT;
    if (!parse_tx(&t, p->tx, p->tx_len) || !parse_header(&h, p->header, p->header_len))
        return EA_INCLUSION_MALFORMED;
    if (!same_id(h.chain_id, h.id_len, chain_id, id_len) || !same_id(t.chain_id, t.id_len, chain_id, id_len))
        return EA_INCLUSION_WRONG_CHAIN;
    if (h.height > acc_height)
        return EA_INCLUSION_NOT_INTERLOCKED;
    if (!root_from_path(root, p->tx, p->tx_len, p->position, h.tx_count, p->path, p->path_len)
        || memcmp(root, h.merkle_root, DIGEST) != 0)
        return EA_INCLUSION_MERKLE;
    if (!element_is_representative(&h, p->header))
        return EA_INCLUSION_ACCUMULATOR;
    mpz_inits(w, x, NULL);
    mpz_import(w, p->witness_len, 1, 1, 1, 0, p->witness);
    mpz_import(x, EA_LEDGER_REPRESENTATIVE_BYTES, 1, 1, 1, 0, h.element);
    if (ea_verify_membership(w, x, acc, N, &member) != EA_OK)
        member = 0;
    mpz_clears(w, x, NULL);
    if (!member)
        return EA_INCLUSION_ACCUMULATOR;
    r->tx = p->tx;
    r->tx_len = p->tx_len;
    SHA256(p->tx, t.body_len, r->tx_id);
    r->tx_kind = t.kind;
    r->height = h.height;
    memcpy(r->previous, h.previous, DIGEST);
    r->timestamp_ms = h.timestamp_ms;
    memcpy(r->merkle_root, h.merkle_root, DIGEST);
    r->tx_count = h.tx_count;
    return EA_INCLUSION_OK;
}

/* edgeacc.decode_element: exactly the width of N, a valid element, min(y, N - y). */
static int canonical_element(mpz_t y, const unsigned char *b, size_t len, const mpz_t N, size_t n_len)
{
    mpz_t t;
    int ok;
    if (len != n_len)
        return 0;
    mpz_import(y, len, 1, 1, 1, 0, b);
    if (ea_check_element(y, N) != EA_OK)
        return 0;
    mpz_init(t);
    mpz_sub(t, N, y);
    ok = mpz_cmp(y, t) <= 0;
    mpz_clear(t);
    return ok;
}

int ea_bytes_verify_inclusion(ea_inclusion *result, const unsigned char *proof, size_t proof_len,
                              const unsigned char *chain_id, size_t id_len,
                              const unsigned char *acc, size_t acc_len, uint64_t acc_height,
                              const unsigned char *n, size_t n_len)
{
    proof_view p;
    mpz_t N, A, w;
    int rc;
    if (result == NULL)
        return EA_ERR_ARGUMENT;
    memset(result, 0, sizeof *result);
    result->reason = EA_INCLUSION_MALFORMED;
    if (proof == NULL || (chain_id == NULL && id_len > 0))
        return EA_ERR_ARGUMENT;
    mpz_inits(N, A, w, NULL);
    rc = import_modulus(N, n, n_len);
    if (rc == EA_OK)
        rc = import_element(A, acc, acc_len, N, n_len);
    if (rc == EA_OK) {
        if (parse_proof(&p, proof, proof_len) && canonical_element(w, p.witness, p.witness_len, N, n_len))
            result->reason = inclusion_verdict(result, &p, chain_id, id_len, A, acc_height, N);
        result->ok = result->reason == EA_INCLUSION_OK;
    }
    mpz_clears(N, A, w, NULL);
    return rc;
}

const char *ea_inclusion_reason_name(int reason)
{
    static const char *const names[] = {"ok", "malformed", "wrong-chain", "wrong-height",
                                        "not-interlocked", "merkle", "accumulator"};
    if (reason < 0 || reason >= (int)(sizeof names / sizeof names[0]))
        return "unknown";
    return names[reason];
}

/* ---- non-membership witnesses, PoKE2 and batch-update proofs (ea_nonmem.h, ea_poke.h) ---- */

#define MAGIC_VERSION_BYTES 5
#define R_BYTES (EA_POKE2_CHALLENGE_BITS / 8)
#define NONMEM_A_BYTES EA_H2P_BYTES
#define UPDATE_HEAD_BYTES (MAGIC_VERSION_BYTES + 1 + 4 + EA_LEDGER_DIGEST_BYTES)

static int has_header(const unsigned char *b, const char magic[4])
{
    return memcmp(b, magic, 4) == 0 && b[4] == EA_ACC_PROOF_VERSION;
}

/* z | Q | r: two canonical elements and a 16-byte r (edgeacc.poke.PoKE2Proof.encode_fields). */
static int poke2_fields(mpz_t z, mpz_t Q, mpz_t r, const unsigned char *b, const mpz_t N, size_t n_len)
{
    if (!canonical_element(z, b, n_len, N, n_len) || !canonical_element(Q, b + n_len, n_len, N, n_len))
        return 0;
    mpz_import(r, R_BYTES, 1, 1, 1, 0, b + 2 * n_len);
    return 1;
}

/* N and the group elements of a statement (each 1..width(N) bytes, a valid element). */
static int import_statement(mpz_t N, mpz_t *ys, const unsigned char *const *bs, const size_t *lens,
                            size_t count, const unsigned char *n, size_t n_len)
{
    size_t i;
    int rc = import_modulus(N, n, n_len);
    for (i = 0; i < count && rc == EA_OK; i++)
        rc = import_element(ys[i], bs[i], lens[i], N, n_len);
    return rc;
}

int ea_bytes_verify_nonmembership(int *ok, const unsigned char *g, size_t g_len,
                                  const unsigned char *v, size_t v_len, const unsigned char *y,
                                  size_t y_len, const unsigned char *nw, size_t nw_len,
                                  const unsigned char *n, size_t n_len)
{
    const unsigned char *bs[2] = {g, v};
    const size_t lens[2] = {g_len, v_len};
    mpz_t N, E[2], Y, A, B;     /* E = g, v */
    int rc, holds = 0;
    if (ok == NULL)
        return EA_ERR_ARGUMENT;
    *ok = 0;
    if (nw == NULL)
        return EA_ERR_ARGUMENT;
    mpz_inits(N, E[0], E[1], Y, A, B, NULL);
    rc = import_statement(N, E, bs, lens, 2, n, n_len);
    if (rc == EA_OK)
        rc = import_exponent(Y, y, y_len);
    if (rc == EA_OK && nw_len == MAGIC_VERSION_BYTES + NONMEM_A_BYTES + n_len && has_header(nw, EA_NONMEM_PROOF_MAGIC)
        && canonical_element(B, nw + MAGIC_VERSION_BYTES + NONMEM_A_BYTES, n_len, N, n_len)) {
        mpz_import(A, NONMEM_A_BYTES, 1, 1, 1, 0, nw + MAGIC_VERSION_BYTES);
        rc = ea_nonmem_verify(&holds, E[0], E[1], Y, A, B, N);
    }
    mpz_clears(N, E[0], E[1], Y, A, B, NULL);
    if (rc == EA_OK)
        *ok = holds;
    return rc;
}

/* The PoKE2 check of u^x = w on the fields at b (2 n_len + R_BYTES bytes); 0 if malformed. */
static int poke2_holds(int *holds, const unsigned char *b, const mpz_t G, const mpz_t U, const mpz_t W,
                       const unsigned char *ctx, size_t ctx_len, const mpz_t N, size_t n_len)
{
    mpz_t z, Q, r;
    int rc = EA_OK;
    *holds = 0;
    mpz_inits(z, Q, r, NULL);
    if (poke2_fields(z, Q, r, b, N, n_len))
        rc = ea_poke2_verify(holds, G, U, W, z, Q, r, ctx, ctx_len, N);
    mpz_clears(z, Q, r, NULL);
    return rc;
}

int ea_bytes_verify_poke2(int *ok, const unsigned char *proof, size_t proof_len,
                          const unsigned char *g, size_t g_len, const unsigned char *u,
                          size_t u_len, const unsigned char *w, size_t w_len,
                          const unsigned char *ctx, size_t ctx_len, const unsigned char *n,
                          size_t n_len)
{
    const unsigned char *bs[3] = {g, u, w};
    const size_t lens[3] = {g_len, u_len, w_len};
    mpz_t N, E[3];              /* E = g, u, w */
    int rc, holds = 0;
    if (ok == NULL)
        return EA_ERR_ARGUMENT;
    *ok = 0;
    if (proof == NULL || (ctx == NULL && ctx_len > 0) || ctx_len > EA_POKE2_MAX_CONTEXT)
        return EA_ERR_ARGUMENT;
    mpz_inits(N, E[0], E[1], E[2], NULL);
    rc = import_statement(N, E, bs, lens, 3, n, n_len);
    if (rc == EA_OK && proof_len == MAGIC_VERSION_BYTES + 2 * n_len + R_BYTES
        && has_header(proof, EA_POKE2_PROOF_MAGIC))
        rc = poke2_holds(&holds, proof + MAGIC_VERSION_BYTES, E[0], E[1], E[2], ctx, ctx_len, N, n_len);
    mpz_clears(N, E[0], E[1], E[2], NULL);
    if (rc == EA_OK)
        *ok = holds;
    return rc;
}

int ea_bytes_verify_update(int *ok, ea_update *update, const unsigned char *proof, size_t proof_len,
                           const unsigned char *g, size_t g_len, const unsigned char *v_old,
                           size_t old_len, const unsigned char *v_new, size_t new_len,
                           const unsigned char *n, size_t n_len)
{
    unsigned char ctx[LIT_LEN(EA_UPDATE_CONTEXT) + UPDATE_HEAD_BYTES - MAGIC_VERSION_BYTES];
    const unsigned char *bs[3] = {g, v_old, v_new};
    const size_t lens[3] = {g_len, old_len, new_len};
    mpz_t N, E[3], Q;           /* E = g, v_old, v_new */
    int rc, holds = 0, kind;
    if (ok == NULL || update == NULL)
        return EA_ERR_ARGUMENT;
    *ok = 0;
    memset(update, 0, sizeof *update);
    if (proof == NULL)
        return EA_ERR_ARGUMENT;
    mpz_inits(N, E[0], E[1], E[2], Q, NULL);
    rc = import_statement(N, E, bs, lens, 3, n, n_len);
    if (rc == EA_OK && proof_len == UPDATE_HEAD_BYTES + 3 * n_len + R_BYTES
        && has_header(proof, EA_UPDATE_PROOF_MAGIC)
        && (proof[5] == EA_UPDATE_ADD || proof[5] == EA_UPDATE_DELETE)
        && (proof[6] | proof[7] | proof[8] | proof[9]) != 0
        && canonical_element(Q, proof + UPDATE_HEAD_BYTES, n_len, N, n_len)) {
        kind = proof[5];
        memcpy(ctx, EA_UPDATE_CONTEXT, LIT_LEN(EA_UPDATE_CONTEXT));
        memcpy(ctx + LIT_LEN(EA_UPDATE_CONTEXT), proof + MAGIC_VERSION_BYTES, sizeof ctx - LIT_LEN(EA_UPDATE_CONTEXT));
        /* add: v_old^e = v_new; delete: v_new^e = v_old */
        rc = poke2_holds(&holds, proof + UPDATE_HEAD_BYTES + n_len, E[0], E[kind == EA_UPDATE_ADD ? 1 : 2],
                         E[kind == EA_UPDATE_ADD ? 2 : 1], ctx, sizeof ctx, N, n_len);
        if (rc == EA_OK && holds) {
            update->kind = kind;
            update->count = (uint32_t)proof[6] << 24 | (uint32_t)proof[7] << 16 | (uint32_t)proof[8] << 8 | proof[9];
            memcpy(update->commitment, proof + 10, EA_LEDGER_DIGEST_BYTES);
        }
    }
    mpz_clears(N, E[0], E[1], E[2], Q, NULL);
    if (rc == EA_OK)
        *ok = holds;
    return rc;
}
