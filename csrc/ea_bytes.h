/* ea_bytes.h - the byte-level API: big-endian byte buffers (pointer + length) in, an
 * ea_status code out, no GMP types, so Go, Rust or C# callers need only this header (it
 * includes no GMP header). Every input is treated as hostile: lengths are checked before use
 * and no buffer is read past its length.
 *
 * Conventions:
 * - A modulus N is given in exactly its width: 1..EA_MAX_MODULUS_BYTES bytes, no leading zero
 *   byte, odd, at least EA_MIN_INSECURE_BITS bits (else EA_ERR_MODULUS). The byte API does not
 *   screen N (edgeacc.Params does): it is the caller's chain parameter.
 * - A group element (witness, accumulator value) is an integer of 1..width(N) bytes with
 *   1 < y < N-1 and gcd(y, N) = 1 (else EA_ERR_ELEMENT); leading zeros are allowed.
 * - An exponent x is an integer of 1..EA_MAX_MODULUS_BYTES bytes; an accumulator element must
 *   be odd and >= 3 (else EA_ERR_EXPONENT).
 * - Outputs are written only on EA_OK (a verdict flag is set to 0 first). A verdict (ok = 0/1)
 *   is a result, not an error: a false or malformed proof gives EA_OK with ok = 0.
 * - Array arguments must hold the bytes their lengths say (C cannot check a pointer); every
 *   size computed from them is checked for overflow. */
#ifndef EA_BYTES_H
#define EA_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include "ea_api.h"
#include "ea_status.h"
#include "ea_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* ea_bytes_rsa2048(out, out_len): the RSA-2048 challenge modulus, EA_RSA2048_BYTES bytes. */
int ea_bytes_rsa2048(unsigned char *out, size_t out_len);

/* ea_bytes_hash_to_prime(x, &nonce, data, len): x = the EA_H2P_BYTES-byte prime representative
 * of data (len > 0) and its nonce (edgeacc.hash_to_prime). */
int ea_bytes_hash_to_prime(unsigned char x[EA_H2P_BYTES], uint32_t *nonce,
                           const unsigned char *data, size_t len);

/* ea_bytes_check_representative(&ok, data, len, x, x_len, nonce): ok = (x is candidate `nonce`
 * of data and a probable prime; nonce < EA_H2P_MAX_NONCE) - one test, no search
 * (edgeacc.check_representative). */
int ea_bytes_check_representative(int *ok, const unsigned char *data, size_t len,
                                  const unsigned char *x, size_t x_len, uint32_t nonce);

/* ea_bytes_generator(g, g_len, n, n_len, chain_id, id_len): g = the generator of chain_id
 * (id_len > 0) under N, g_len = n_len bytes (edgeacc.Params.generator). */
int ea_bytes_generator(unsigned char *g, size_t g_len, const unsigned char *n, size_t n_len,
                       const unsigned char *chain_id, size_t id_len);

/* ea_bytes_verify_membership(&ok, w, w_len, x, x_len, v, v_len, n, n_len):
 * ok = (w^x = +-v mod N) (edgeacc.verify_membership). */
int ea_bytes_verify_membership(int *ok, const unsigned char *w, size_t w_len,
                               const unsigned char *x, size_t x_len, const unsigned char *v,
                               size_t v_len, const unsigned char *n, size_t n_len);

/* ea_bytes_batch_verify(bad, &all_ok, ws, xs, x_len, vs, count, n, n_len, threads):
 * item j is (w_j, x_j, v_j) with w_j = ws[j*n_len .. +n_len], v_j = vs[j*n_len .. +n_len],
 * x_j = xs[j*x_len .. +x_len] (fixed widths, leading zeros allowed). bad[j] = 1 for the items
 * with w_j^x_j != +-v_j, all_ok = 1 iff none (edgeacc.batch_verify): the verifier draws its own
 * odd EA_BATCH_SECURITY_BITS-bit weights from the OS (EA_ERR_RANDOM if it cannot), so a false
 * item passes with probability about 2^-127. bad may be NULL (then only all_ok). Every w_j, v_j
 * is checked as an element, every x_j as an accumulator element; count = 0 gives all_ok = 1.
 * `threads` (0 = 1, at most EA_BYTES_MAX_THREADS) threads check parts of the batch in parallel. */
#define EA_BYTES_MAX_THREADS 64
int ea_bytes_batch_verify(unsigned char *bad, int *all_ok, const unsigned char *ws,
                          const unsigned char *xs, size_t x_len, const unsigned char *vs,
                          size_t count, const unsigned char *n, size_t n_len, unsigned threads);

/* Why a ledger inclusion proof was rejected: the first failing check, in the order of
 * ledger.protocol1.verify_inclusion (ea_inclusion_reason_name gives its ProofRejected code). */
enum {
    EA_INCLUSION_OK = 0,
    EA_INCLUSION_MALFORMED = 1,       /* the proof, its transaction or its header does not decode */
    EA_INCLUSION_WRONG_CHAIN = 2,     /* the proof, block or transaction names another chain */
    EA_INCLUSION_WRONG_HEIGHT = 3,    /* the proof is against another accumulator height */
    EA_INCLUSION_NOT_INTERLOCKED = 4, /* the block is after the accumulated height */
    EA_INCLUSION_MERKLE = 5,          /* the Merkle path does not lead to the block's root */
    EA_INCLUSION_ACCUMULATOR = 6      /* element not the block's representative, or not a member */
};

/* What a verified inclusion proof proves (all zero unless ok): the transaction (a pointer into
 * the proof buffer), its id and kind, and the block content its accumulator element binds.
 * The header's own accumulator value and digest are not proved, so they are not given. */
typedef struct {
    int ok;
    int reason;                         /* EA_INCLUSION_* */
    const unsigned char *tx;            /* the transaction's canonical bytes */
    size_t tx_len;
    unsigned char tx_id[EA_LEDGER_DIGEST_BYTES];   /* SHA-256 of the body (all but the signature) */
    int tx_kind;                        /* 1 record, 2 sub-chain status, 3 main-chain status */
    uint64_t height;
    unsigned char previous[EA_LEDGER_DIGEST_BYTES];
    uint64_t timestamp_ms;
    unsigned char merkle_root[EA_LEDGER_DIGEST_BYTES];
    uint32_t tx_count;
} ea_inclusion;

/* ea_bytes_verify_inclusion(&result, proof, proof_len, chain_id, id_len, acc, acc_len,
 * acc_height, n, n_len): ledger.protocol1.verify_inclusion on the proof's canonical encoding
 * (InclusionProof.to_bytes): the proof must decode strictly (canonical, bounded, no trailing
 * bytes, the witness a canonical element), be for chain_id at acc_height, its block at or below
 * acc_height, its Merkle path lead to the block's root, the block's element be the
 * representative of its content at the nonce it carries, and the witness show the element in
 * acc (the chain's accumulator after block acc_height). A rejection is EA_OK with result.ok = 0
 * and result.reason; a bad N or acc is a status (EA_ERR_MODULUS, EA_ERR_ELEMENT). */
int ea_bytes_verify_inclusion(ea_inclusion *result, const unsigned char *proof, size_t proof_len,
                              const unsigned char *chain_id, size_t id_len,
                              const unsigned char *acc, size_t acc_len, uint64_t acc_height,
                              const unsigned char *n, size_t n_len);

/* ea_inclusion_reason_name(reason): "ok", "malformed", "wrong-chain", "wrong-height",
 * "not-interlocked", "merkle", "accumulator" (the ledger's ProofRejected codes), or "unknown". */
const char *ea_inclusion_reason_name(int reason);

/* ea_bytes_verify_nonmembership(&ok, g, g_len, v, v_len, y, y_len, nw, nw_len, n, n_len):
 * ok = (nw, a non-membership witness as edgeacc.NonMembershipWitness.to_bytes encodes it:
 * EA_NONMEM_PROOF_MAGIC | u8 version | 32-byte a | B canonical in N's width, shows that y is
 * not accumulated in v under generator g: 0 <= a < y and v^a B^y = +-g). A malformed or
 * non-canonical nw is ok = 0; bad g, v (EA_ERR_ELEMENT) or y (EA_ERR_EXPONENT) a status. */
int ea_bytes_verify_nonmembership(int *ok, const unsigned char *g, size_t g_len,
                                  const unsigned char *v, size_t v_len, const unsigned char *y,
                                  size_t y_len, const unsigned char *nw, size_t nw_len,
                                  const unsigned char *n, size_t n_len);

/* ea_bytes_verify_poke2(&ok, proof, proof_len, g, g_len, u, u_len, w, w_len, ctx, ctx_len, n,
 * n_len): ok = (proof, EA_POKE2_PROOF_MAGIC | u8 version | z | Q | 16-byte r with z, Q
 * canonical, is a PoKE2 that its maker knows x with u^x = +-w, in context ctx; ea_poke.h). */
int ea_bytes_verify_poke2(int *ok, const unsigned char *proof, size_t proof_len,
                          const unsigned char *g, size_t g_len, const unsigned char *u,
                          size_t u_len, const unsigned char *w, size_t w_len,
                          const unsigned char *ctx, size_t ctx_len, const unsigned char *n,
                          size_t n_len);

/* What a verified batch-update proof states (all zero unless ok). */
typedef struct {
    int kind;                                           /* EA_UPDATE_ADD or EA_UPDATE_DELETE */
    uint32_t count;                                     /* elements in the batch */
    unsigned char commitment[EA_LEDGER_DIGEST_BYTES];   /* edgeacc.poe.commit_exponent(X) */
} ea_update;

/* ea_bytes_verify_update(&ok, &update, proof, proof_len, g, g_len, v_old, old_len, v_new,
 * new_len, n, n_len): the light client's check of an edgeacc.updates.BatchUpdateProof
 * (EA_UPDATE_PROOF_MAGIC | u8 version | u8 kind | be32 count > 0 | 32-byte commitment | PoE Q |
 * PoKE2 z | Q | 16-byte r, elements canonical): ok = the PoKE2 shows that its maker knows an
 * e with v_old^e = +-v_new (add: every member of v_old stays one) or v_new^e = +-v_old
 * (delete), in the context of the proof's kind, count and commitment. The PoE (that e is
 * exactly the committed batch) needs the elements and is checked by edgeacc.verify_update. */
int ea_bytes_verify_update(int *ok, ea_update *update, const unsigned char *proof, size_t proof_len,
                           const unsigned char *g, size_t g_len, const unsigned char *v_old,
                           size_t old_len, const unsigned char *v_new, size_t new_len,
                           const unsigned char *n, size_t n_len);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
