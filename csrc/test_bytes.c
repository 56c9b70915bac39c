/* test_bytes.c - the byte API (ea_bytes.h) on hostile input: a valid ledger inclusion proof
 * built here is accepted, and every single-byte change, truncation, extension and random buffer
 * is rejected with EA_OK and ok = 0 (no crash, no read past a buffer: run it under valgrind or
 * -fsanitize=address to check the latter). GMP and SHA-256 only build the proof.
 * make -C csrc test */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gmp.h>
#include <openssl/sha.h>
#include "ea_bytes.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); return 1; } } while (0)
#define W EA_RSA2048_BYTES

static unsigned char buf[4096];
static size_t len;

static void put(const void *p, size_t n) { memcpy(buf + len, p, n); len += n; }
static void put_be(unsigned long long v, int width)
{
    while (width-- > 0)
        buf[len++] = (unsigned char)(v >> (8 * width));
}

static unsigned char n[W], acc[W], witness[W], tx[512], header[512], proof[2048];
static size_t tx_len, header_len, proof_len;

static int verify(const unsigned char *p, size_t plen, uint64_t height, ea_inclusion *r)
{
    return ea_bytes_verify_inclusion(r, p, plen, (const unsigned char *)"edge-0", 6, acc, W, height, n, W);
}

/* A one-transaction block 0 of chain edge-0: acc = g^x, the witness is g. */
static int build_proof(void)
{
    unsigned char g[W], x[EA_H2P_BYTES], root[32], data[256], leaf_in[600];
    uint32_t nonce;
    size_t content_len;
    mpz_t N, G, X, A;
    CHECK(ea_bytes_rsa2048(n, W) == EA_OK);
    CHECK(ea_bytes_generator(g, W, n, W, (const unsigned char *)"edge-0", 6) == EA_OK);
    len = 0;
    put("EATX\x01\x01", 6); put_be(6, 2); put("edge-0", 6); memset(buf + len, 7, 32); len += 32;
    put_be(1700000000000ULL, 8); put_be(1, 8); put_be(4, 4); put("data", 4); put_be(0, 1); put_be(0, 2);
    memset(buf + len, 9, 64); len += 64;
    memcpy(tx, buf, tx_len = len);
    leaf_in[0] = 0;
    memcpy(leaf_in + 1, tx, tx_len);
    SHA256(leaf_in, tx_len + 1, root);
    len = 0;
    put("EABH\x01", 5); put_be(6, 2); put("edge-0", 6); put_be(0, 8); memset(buf + len, 0, 32); len += 32;
    put_be(1700000000000ULL, 8); put(root, 32); put_be(1, 4);
    content_len = len;
    memcpy(data, EA_LEDGER_ELEMENT_DOMAIN, strlen(EA_LEDGER_ELEMENT_DOMAIN));
    memcpy(data + strlen(EA_LEDGER_ELEMENT_DOMAIN), buf, content_len);
    CHECK(ea_bytes_hash_to_prime(x, &nonce, data, strlen(EA_LEDGER_ELEMENT_DOMAIN) + content_len) == EA_OK);
    put(x, sizeof x); put_be(nonce, 4); put_be(0, 2);
    memcpy(header, buf, header_len = len);
    mpz_inits(N, G, X, A, NULL);
    mpz_import(N, W, 1, 1, 1, 0, n);
    mpz_import(G, W, 1, 1, 1, 0, g);
    mpz_import(X, sizeof x, 1, 1, 1, 0, x);
    mpz_powm(A, G, X, N);
    memset(acc, 0, W);
    mpz_export(acc + W - (mpz_sizeinbase(A, 2) + 7) / 8, NULL, 1, 1, 1, 0, A);
    mpz_sub(A, N, G);   /* the canonical witness: min(g, N - g) */
    if (mpz_cmp(A, G) > 0)
        mpz_set(A, G);
    memset(witness, 0, W);
    mpz_export(witness + W - (mpz_sizeinbase(A, 2) + 7) / 8, NULL, 1, 1, 1, 0, A);
    mpz_clears(N, G, X, A, NULL);
    len = 0;
    put("EAIP\x01", 5); put_be(6, 2); put("edge-0", 6); put_be(tx_len, 4); put(tx, tx_len);
    put_be(header_len, 4); put(header, header_len); put_be(0, 4); put_be(0, 2);
    put_be(W, 2); put(witness, W); put_be(0, 8);
    memcpy(proof, buf, proof_len = len);
    return 0;
}

static int test_inclusion(void)
{
    static unsigned char edited[2048 + 1];
    ea_inclusion r;
    size_t at, cut, i;
    int mask, k;
    CHECK(build_proof() == 0);
    CHECK(verify(proof, proof_len, 0, &r) == EA_OK && r.ok && r.reason == EA_INCLUSION_OK);
    CHECK(r.tx == proof + 17 && r.tx_len == tx_len && r.height == 0 && r.tx_count == 1 && r.tx_kind == 1);
    CHECK(verify(proof, proof_len, 1, &r) == EA_OK && !r.ok && r.reason == EA_INCLUSION_WRONG_HEIGHT);
    CHECK(r.tx == NULL && r.tx_len == 0);
    for (at = 0; at < proof_len; at++)
        for (mask = 1; mask < 256; mask <<= 7) {
            memcpy(edited, proof, proof_len);
            edited[at] ^= (unsigned char)mask;
            CHECK(verify(edited, proof_len, 0, &r) == EA_OK && !r.ok && r.reason != EA_INCLUSION_OK);
        }
    for (cut = 0; cut < proof_len; cut++) {
        unsigned char *copy = malloc(cut + 1);     /* exactly cut bytes are readable */
        CHECK(copy != NULL);
        memcpy(copy, proof, cut);
        CHECK(verify(copy, cut, 0, &r) == EA_OK && r.reason == EA_INCLUSION_MALFORMED);
        free(copy);
    }
    memcpy(edited, proof, proof_len);
    edited[proof_len] = 0;
    CHECK(verify(edited, proof_len + 1, 0, &r) == EA_OK && r.reason == EA_INCLUSION_MALFORMED);
    srand(1);
    for (k = 0; k < 20000; k++) {   /* random bytes after a valid prefix of random length */
        size_t keep = (size_t)rand() % (proof_len + 1), total = keep + (size_t)rand() % 64;
        memcpy(edited, proof, keep);
        for (i = keep; i < total; i++)
            edited[i] = (unsigned char)rand();
        CHECK(verify(edited, total, 0, &r) == EA_OK && (!r.ok || total == proof_len));
    }
    return 0;
}

static int test_arguments(void)
{
    unsigned char out[W], x[EA_H2P_BYTES], bad[2];
    uint32_t nonce;
    int ok;
    CHECK(ea_bytes_hash_to_prime(x, &nonce, (const unsigned char *)"a", 1) == EA_OK);
    CHECK(ea_bytes_check_representative(&ok, (const unsigned char *)"a", 1, x, sizeof x, nonce) == EA_OK && ok);
    CHECK(ea_bytes_check_representative(&ok, (const unsigned char *)"a", 1, x, sizeof x,
                                        (uint32_t)EA_H2P_MAX_NONCE) == EA_OK && !ok);
    CHECK(ea_bytes_hash_to_prime(x, &nonce, (const unsigned char *)"", 0) == EA_ERR_ARGUMENT);
    CHECK(ea_bytes_hash_to_prime(NULL, &nonce, (const unsigned char *)"a", 1) == EA_ERR_ARGUMENT);
    CHECK(ea_bytes_check_representative(&ok, (const unsigned char *)"a", 1, x, 0, 0) == EA_ERR_ARGUMENT);
    CHECK(ea_bytes_generator(out, W, n, 0, (const unsigned char *)"a", 1) == EA_ERR_MODULUS);
    CHECK(ea_bytes_generator(out, W - 1, n, W, (const unsigned char *)"a", 1) == EA_ERR_ARGUMENT);
    CHECK(ea_bytes_generator(out, W, NULL, W, (const unsigned char *)"a", 1) == EA_ERR_MODULUS);
    CHECK(ea_bytes_generator(out, W, n, W, NULL, 0) == EA_ERR_ARGUMENT);
    CHECK(ea_bytes_verify_membership(&ok, NULL, 1, x, sizeof x, acc, W, n, W) == EA_ERR_ARGUMENT && !ok);
    CHECK(ea_bytes_verify_membership(&ok, acc, W, x, sizeof x, acc, W, n, W) == EA_OK && !ok);
    CHECK(ea_bytes_batch_verify(bad, &ok, acc, x, sizeof x, acc, (size_t)-1, n, W, 1) == EA_ERR_ARGUMENT && !ok);
    CHECK(ea_bytes_batch_verify(bad, &ok, witness, x, sizeof x, acc, 1, n, W, 1) == EA_OK && !ok && bad[0]);
    CHECK(ea_bytes_verify_inclusion(NULL, proof, proof_len, NULL, 0, acc, W, 0, n, W) == EA_ERR_ARGUMENT);
    CHECK(strcmp(ea_inclusion_reason_name(EA_INCLUSION_MERKLE), "merkle") == 0);
    CHECK(strcmp(ea_inclusion_reason_name(-1), "unknown") == 0);
    return 0;
}

int main(void)
{
    int failed = test_inclusion() || test_arguments();
    printf(failed ? "csrc bytes FAILED\n" : "csrc bytes ok\n");
    return failed;
}
