"""Make tests/data/core_vectors.json independently of the code under test.

Everything here is computed with gmpy2 (its own bundled GMP) and hashlib, following
DESIGN.md section 2 directly; edgeacc is not imported. Run from the repository root:

    python tests/data/make_vectors.py > tests/data/core_vectors.json
"""
import hashlib
import json
import sys

import gmpy2

RSA_2048 = int(
    "2519590847565789349402718324004839857142928212620403202777713783604366202070"
    "7595556264018525880784406918290641249515082189298559149176184502808489120072"
    "8449926873928072877767359714183472702618963750149718246911650776133798590957"
    "0009733045974880842840179742910064245869181719511874612151517265463228221686"
    "9987549182422433637259085141865462043576798423387184774447920739934236584823"
    "8242811981638150106748104516603773060562016196762561338441436038339044149526"
    "3443219011465754445417842402092461651572335077870774981712577246796292638635"
    "6373289912154831438167899885040445364023527381951378636564391212010397122822"
    "120720357"
)


def h2p(data, domain=b"edgeacc/h2p", bits=256):
    k = 0
    while True:
        d = hashlib.sha256(bytes([len(domain)]) + domain + data + k.to_bytes(4, "big")).digest()
        c = int.from_bytes(d[: bits // 8], "big") | (1 << (bits - 1)) | 1
        if gmpy2.is_prime(c, 30):
            return c, k
        k += 1


def hash_to_group(n, dom, msg):
    nbytes = (n.bit_length() + 7) // 8 + 16
    out, counter = b"", 0
    while len(out) < nbytes:
        out += hashlib.sha256(bytes([len(dom)]) + dom + counter.to_bytes(4, "big") + msg).digest()
        counter += 1
    h = int.from_bytes(out[:nbytes], "big") % n
    return int(gmpy2.powmod(h, 2, n))


def generator(n, chain_id):
    return hash_to_group(n, b"edgeacc/gen", chain_id)


def toy_modulus():
    # Two 256-bit primes from fixed seeds: a 512-bit test-only modulus (factors known).
    p = gmpy2.next_prime(int.from_bytes(hashlib.sha256(b"edgeacc toy p").digest(), "big") | (1 << 255))
    q = gmpy2.next_prime(int.from_bytes(hashlib.sha256(b"edgeacc toy q").digest(), "big") | (1 << 255))
    return int(p * q)


def accumulator_case(n, insecure, chain_id, datas):
    g = generator(n, chain_id)
    reps = [h2p(d) for d in datas]
    values, v = [], g
    for x, _ in reps:
        v = int(gmpy2.powmod(v, x, n))
        values.append(v)
    witnesses = []
    for i in range(len(reps)):
        e = 1
        for j, (x, _) in enumerate(reps):
            if j != i:
                e *= x
        w = int(gmpy2.powmod(g, e, n))
        witnesses.append(min(w, n - w))
    return {
        "n": hex(n),
        "insecure": insecure,
        "chain_id": chain_id.hex(),
        "generator": hex(g),
        "data": [d.hex() for d in datas],
        "representatives": [[hex(x), k] for x, k in reps],
        "values": [hex(v) for v in values],
        "canonical_witnesses": [hex(w) for w in witnesses],
    }


def main():
    datas = [b"a", b"edgeacc", bytes(range(32)), b"x" * 1000, b"\x00"]
    doc = {
        "generated_by": "tests/data/make_vectors.py (gmpy2 %s, %s)" % (gmpy2.version(), gmpy2.mp_version()),
        "hash_to_prime": [{"data": d.hex(), "x": hex(x), "nonce": k}
                          for d in datas + [b"block-%d" % i for i in range(20)]
                          for x, k in [h2p(d)]],
        "accumulators": [
            accumulator_case(RSA_2048, False, b"edgeacc-test", datas),
            accumulator_case(toy_modulus(), True, b"sub-1", datas[:3]),
        ],
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
