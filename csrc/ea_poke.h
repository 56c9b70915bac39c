/* ea_poke.h - Boneh-Bunz-Fisch non-interactive PoKE2: a proof of knowledge of an integer x
 * with u^x = +-w (mod n), of constant size however large x is.
 *
 * Base: h = ea_hash_to_group(EA_POKE2_BASE_DOMAIN, SHA-256(N in its width) || g || u || w ||
 * context), not the chain's generator g itself. PoKE2 is sound only if the prover knows no
 * discrete-log relation between h and u; every accumulator value is u = g^X with X public,
 * and with u = g^X, w = g^W anyone "proves" u^x = w for any W. A base hashed from the
 * statement has no known relation to u or w.
 *
 * Proof: z = h^x; the challenge prime l (EA_POKE2_CHALLENGE_BITS bits) and alpha
 * (EA_POKE2_ALPHA_BITS bits) hash (N, g, u, w, z, context) as below; q = x div l, r = x mod l,
 * Q = (u h^alpha)^q. Proof (z, Q, r); check r < l and Q^l (u h^alpha)^r = +-w z^alpha.
 *
 * Challenge: data = SHA-256(N in its width) || g || u || w || z (each min(y, N - y) big-endian
 * in the width of N) || context; l = hash-to-prime of data under EA_POKE2_DOMAIN
 * (EA_POKE2_CHALLENGE_BITS bits, nonces < EA_H2P_MAX_NONCE); alpha = the first 16 bytes of
 * SHA-256(u8(len EA_POKE2_ALPHA_DOMAIN) || EA_POKE2_ALPHA_DOMAIN || data || l in 16 bytes).
 * The context names the statement (a batch update's kind and commitment), so a proof of one
 * statement is no proof of another. Callers own every mpz_t. */
#ifndef EA_POKE_H
#define EA_POKE_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"
#include "ea_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* ea_poke2_base(h, g, u, w, ctx, ctx_len, n): the statement's base h above. */
int ea_poke2_base(mpz_t h, const mpz_t g, const mpz_t u, const mpz_t w, const unsigned char *ctx,
                  size_t ctx_len, const mpz_t n);

/* ea_poke2_challenge(l, alpha, g, u, w, z, ctx, ctx_len, n): the challenge above; g, u, w, z
 * valid elements, ctx_len <= EA_POKE2_MAX_CONTEXT (ctx may be NULL when ctx_len = 0). */
int ea_poke2_challenge(mpz_t l, mpz_t alpha, const mpz_t g, const mpz_t u, const mpz_t w,
                       const mpz_t z, const unsigned char *ctx, size_t ctx_len, const mpz_t n);

/* ea_poke2_prove(z, Q, r, g, u, w, x, ctx, ctx_len, n): the proof that u^x = w; x of more than
 * EA_POKE2_CHALLENGE_BITS bits (else EA_ERR_EXPONENT: a small x is shown directly). The prover
 * is trusted to pass w = u^x (a false w gives a proof that does not verify). */
int ea_poke2_prove(mpz_t z, mpz_t Q, mpz_t r, const mpz_t g, const mpz_t u, const mpz_t w,
                   const mpz_t x, const unsigned char *ctx, size_t ctx_len, const mpz_t n);

/* ea_poke2_verify(&ok, g, u, w, z, Q, r, ctx, ctx_len, n): ok = (0 <= r < l and
 * Q^l (u h^alpha)^r = +-w z^alpha). g, u, w, z, Q valid elements (else EA_ERR_ELEMENT). */
int ea_poke2_verify(int *ok, const mpz_t g, const mpz_t u, const mpz_t w, const mpz_t z,
                    const mpz_t Q, const mpz_t r, const unsigned char *ctx, size_t ctx_len,
                    const mpz_t n);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
