/* ea_protocol.h - the protocol constants: the one place that defines them. The Python package
 * reads them from its extension (edgeacc._core), the byte API (ea_bytes.h) applies them, and
 * tests/test_capi_vectors.py checks the ledger's own layout constants (the ledger modules, which
 * owns its format) against the EA_LEDGER_* copies here. Macros only: no GMP header needed. */
#ifndef EA_PROTOCOL_H
#define EA_PROTOCOL_H

/* Hash-to-prime representatives (DESIGN.md 2): x = the first candidate
 * SHA-256(u8(len domain) || domain || data || be32(k)), top and low bit set, that is prime. */
#define EA_H2P_DOMAIN "edgeacc/h2p"
#define EA_H2P_BITS 256
#define EA_H2P_BYTES (EA_H2P_BITS / 8)
/* Candidates are ~1/89 prime before sieving; 2^20 tries failing has probability ~e^-11800. */
#define EA_H2P_MAX_NONCE (1UL << 20)

/* Per-chain generators: g = (H mod N)^2 mod N, H = the first |N| + 16 bytes of
 * SHA-256(u8(len domain) || domain || be32(counter) || chain id), counter = 0, 1, ... */
#define EA_GENERATOR_DOMAIN "edgeacc/gen"
#define EA_GENERATOR_EXTRA_BYTES 16

/* Moduli: the default public one, and the size floors (the insecure floor is for tests). */
#define EA_MIN_SECURE_BITS 2048
#define EA_MIN_INSECURE_BITS 256
#define EA_MAX_MODULUS_BYTES 1024
/* RSA-2048 of the RSA Factoring Challenge (RSA Laboratories, 1991); nobody has its factors. */
#define EA_RSA2048_BYTES 256
#define EA_RSA2048_HEX \
    "c7970ceedcc3b0754490201a7aa613cd73911081c790f5f1a8726f463550bb5b" \
    "7ff0db8e1ea1189ec72f93d1650011bd721aeeacc2acde32a04107f0648c2813" \
    "a31f5b0b7765ff8b44b4b6ffc93384b646eb09c7cf5e8592d40ea33c80039f35" \
    "b4f14a04b51f7bfd781be4d1673164ba8eb991c2c4d730bbbe35f592bdef524a" \
    "f7e8daefd26c66fc02c479af89d64d373f442709439de66ceb955f3ea37d5159" \
    "f6135809f85334b5cb1813addc80cd05609f10ac6a95ad65872c909525bdad32" \
    "bc729592642920f24c61dc5b3c3b7923e56b16a4d9d373d8721f24a3fc0f1b31" \
    "31f55615172866bccc30f95054c824e733a5eb6817f7bc16399d48c6361cc7e5"

/* Element and membership-proof encodings (edgeacc.encoding): an element is min(y, N - y),
 * big-endian, in exactly the width of N; a proof is
 * magic | u8 version | be32 nonce | EA_H2P_BYTES element | witness element. */
#define EA_MEMBERSHIP_PROOF_MAGIC "EAMP"
#define EA_MEMBERSHIP_PROOF_VERSION 1

/* Batch verification: odd random weights of this many bits from the OS (edgeacc.batch). */
#define EA_BATCH_SECURITY_BITS 128

/* The ledger's layouts (ledger/encoding.py, block.py, tx.py, merkle.py, protocol1.py; the
 * ledger owns them, tests/test_capi_vectors.py checks these copies). */
#define EA_LEDGER_PROOF_MAGIC "EAIP"
#define EA_LEDGER_PROOF_VERSION 1
#define EA_LEDGER_HEADER_MAGIC "EABH"
#define EA_LEDGER_BLOCK_VERSION 1
#define EA_LEDGER_TX_MAGIC "EATX"
#define EA_LEDGER_TX_VERSION 1
#define EA_LEDGER_TX_KIND_MAX 3
#define EA_LEDGER_ELEMENT_DOMAIN "edgeacc/block/v1"
#define EA_LEDGER_DIGEST_BYTES 32
#define EA_LEDGER_SIGNATURE_BYTES 64
#define EA_LEDGER_MAX_CHAIN_ID 64
#define EA_LEDGER_CHAIN_ID_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-_."
#define EA_LEDGER_MAX_PROOF_PART (1UL << 24)
#define EA_LEDGER_MAX_PAYLOAD_BYTES (1UL << 20)
#define EA_LEDGER_MAX_URL_BYTES 2048
#define EA_LEDGER_MAX_ELEMENT_BYTES 1024
#define EA_LEDGER_REPRESENTATIVE_BYTES 32

/* PoKE2 and the accumulator's other proofs (ea_poke.h; edgeacc.poke, edgeacc.nonmem): the
 * challenge domains and sizes, and the magic numbers of their fixed-width encodings. */
#define EA_POKE2_DOMAIN "edgeacc/poke2"
#define EA_POKE2_BASE_DOMAIN "edgeacc/poke2/base"
#define EA_POKE2_ALPHA_DOMAIN "edgeacc/poke2/alpha"
#define EA_POKE2_CHALLENGE_BITS 128
#define EA_POKE2_ALPHA_BITS 128
#define EA_POKE2_MAX_CONTEXT 4096
#define EA_POKE2_PROOF_MAGIC "EAK2"
#define EA_NONMEM_PROOF_MAGIC "EANM"
#define EA_NONMEM_SET_PROOF_MAGIC "EANS"
#define EA_UPDATE_PROOF_MAGIC "EAUP"
#define EA_UPDATE_CONTEXT "edgeacc/update"
#define EA_UPDATE_ADD 1
#define EA_UPDATE_DELETE 2
#define EA_ACC_PROOF_VERSION 1

#endif
