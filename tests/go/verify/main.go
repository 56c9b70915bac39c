// A Go program of another ledger project (e.g. Fabric chaincode) verifying edgeacc proofs
// through the C byte API only: cgo, pkg-config, no GMP header, the standard library only.
//
//	PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig go build -o verify . && ./verify capi_vectors.json
//
// It checks the vectors Python exported (tests/data/make_capi_vectors.py): generators,
// hash-to-prime, membership proofs, batches, and ledger inclusion proofs with their tampered
// variants; it prints one line per kind and exits 1 if any answer differs from Python's.
package main

/*
#cgo pkg-config: edgeacc
#include <stdlib.h>
#include <ea_bytes.h>
*/
import "C"

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"unsafe"
)

type expect struct {
	Verdict     string `json:"verdict"`
	Tx          string `json:"tx"`
	TxID        string `json:"tx_id"`
	Kind        int    `json:"kind"`
	Height      uint64 `json:"height"`
	Previous    string `json:"previous"`
	TimestampMs uint64 `json:"timestamp_ms"`
	MerkleRoot  string `json:"merkle_root"`
	TxCount     uint32 `json:"tx_count"`
}

type edit struct {
	Xor      []int   `json:"xor"`
	Truncate *int    `json:"truncate"`
	Append   *string `json:"append"`
	Expect   string  `json:"expect"`
}

type vectors struct {
	Moduli      map[string]string `json:"moduli"`
	HashToPrime []struct {
		Data  string `json:"data"`
		X     string `json:"x"`
		Nonce uint32 `json:"nonce"`
	} `json:"hash_to_prime"`
	Generators []struct {
		Modulus string `json:"modulus"`
		ChainID string `json:"chain_id"`
		G       string `json:"g"`
	} `json:"generators"`
	Membership []struct {
		Name    string `json:"name"`
		Modulus string `json:"modulus"`
		W       string `json:"w"`
		X       string `json:"x"`
		V       string `json:"v"`
		OK      bool   `json:"ok"`
	} `json:"membership"`
	Batches []struct {
		Name    string      `json:"name"`
		Modulus string      `json:"modulus"`
		Items   [][3]string `json:"items"`
		Bad     []int       `json:"bad"`
	} `json:"batches"`
	Inclusion []struct {
		Name      string `json:"name"`
		Modulus   string `json:"modulus"`
		Proof     string `json:"proof"`
		ChainID   string `json:"chain_id"`
		Acc       string `json:"acc"`
		AccHeight uint64 `json:"acc_height"`
		Expect    expect `json:"expect"`
		Edits     []edit `json:"edits"`
	} `json:"inclusion"`
}

var failures int

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad hex in the vectors:", err)
		os.Exit(2)
	}
	return b
}

// cbuf copies b into C memory (so C never holds a Go pointer); free it with C.free.
func cbuf(b []byte) *C.uchar {
	if len(b) == 0 {
		return (*C.uchar)(C.malloc(1))
	}
	return (*C.uchar)(C.CBytes(b))
}

func free(p *C.uchar) { C.free(unsafe.Pointer(p)) }

// cbufs copies each slice into C memory; the returned function frees them all.
func cbufs(bs ...[]byte) ([]*C.uchar, func()) {
	ps := make([]*C.uchar, len(bs))
	for i, b := range bs {
		ps[i] = cbuf(b)
	}
	return ps, func() {
		for _, p := range ps {
			free(p)
		}
	}
}

func check(what string, ok bool) {
	if !ok {
		failures++
		fmt.Println("DIFFERS:", what)
	}
}

func generator(n, chainID []byte) ([]byte, C.int) {
	p, done := cbufs(n, chainID, n)
	defer done()
	rc := C.ea_bytes_generator(p[2], C.size_t(len(n)), p[0], C.size_t(len(n)), p[1], C.size_t(len(chainID)))
	return C.GoBytes(unsafe.Pointer(p[2]), C.int(len(n))), rc
}

func hashToPrime(data []byte) ([]byte, uint32, C.int) {
	p, done := cbufs(data)
	defer done()
	var x [C.EA_H2P_BYTES]C.uchar
	var nonce C.uint32_t
	rc := C.ea_bytes_hash_to_prime(&x[0], &nonce, p[0], C.size_t(len(data)))
	return C.GoBytes(unsafe.Pointer(&x[0]), C.EA_H2P_BYTES), uint32(nonce), rc
}

func verifyMembership(w, x, v, n []byte) (bool, C.int) {
	p, done := cbufs(w, x, v, n)
	defer done()
	var ok C.int
	rc := C.ea_bytes_verify_membership(&ok, p[0], C.size_t(len(w)), p[1], C.size_t(len(x)), p[2],
		C.size_t(len(v)), p[3], C.size_t(len(n)))
	return ok == 1, rc
}

func batchVerify(items [][3]string, n []byte) ([]int, C.int) {
	var ws, xs, vs []byte
	for _, it := range items {
		ws = append(ws, unhex(it[0])...)
		xs = append(xs, unhex(it[1])...)
		vs = append(vs, unhex(it[2])...)
	}
	p, done := cbufs(ws, xs, vs, n, make([]byte, len(items)))
	defer done()
	var allOK C.int
	rc := C.ea_bytes_batch_verify(p[4], &allOK, p[0], p[1], C.size_t(len(xs)/len(items)), p[2],
		C.size_t(len(items)), p[3], C.size_t(len(n)), 2)
	flags := C.GoBytes(unsafe.Pointer(p[4]), C.int(len(items)))
	failed := []int{}
	for j, f := range flags {
		if f != 0 {
			failed = append(failed, j)
		}
	}
	if (allOK == 1) != (len(failed) == 0) {
		failures++
		fmt.Println("DIFFERS: batch all_ok disagrees with its flags")
	}
	return failed, rc
}

// verifyInclusion returns what the proof proves, in the vectors' shape.
func verifyInclusion(proof []byte, chainID string, acc []byte, height uint64, n []byte) (expect, C.int) {
	p, done := cbufs(proof, []byte(chainID), acc, n)
	defer done()
	var r C.ea_inclusion
	rc := C.ea_bytes_verify_inclusion(&r, p[0], C.size_t(len(proof)), p[1], C.size_t(len(chainID)), p[2],
		C.size_t(len(acc)), C.uint64_t(height), p[3], C.size_t(len(n)))
	out := expect{Verdict: C.GoString(C.ea_inclusion_reason_name(r.reason))}
	if r.ok == 1 {
		out.Tx = hex.EncodeToString(C.GoBytes(unsafe.Pointer(r.tx), C.int(r.tx_len)))
		out.TxID = hex.EncodeToString(C.GoBytes(unsafe.Pointer(&r.tx_id[0]), 32))
		out.Kind = int(r.tx_kind)
		out.Height = uint64(r.height)
		out.Previous = hex.EncodeToString(C.GoBytes(unsafe.Pointer(&r.previous[0]), 32))
		out.TimestampMs = uint64(r.timestamp_ms)
		out.MerkleRoot = hex.EncodeToString(C.GoBytes(unsafe.Pointer(&r.merkle_root[0]), 32))
		out.TxCount = uint32(r.tx_count)
	}
	return out, rc
}

func applyEdit(proof []byte, e edit) []byte {
	out := append([]byte{}, proof...)
	switch {
	case e.Xor != nil:
		out[e.Xor[0]] ^= byte(e.Xor[1])
	case e.Truncate != nil:
		out = out[:*e.Truncate]
	default:
		out = append(out, unhex(*e.Append)...)
	}
	return out
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: verify capi_vectors.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		fmt.Fprintln(os.Stderr, "bad vectors:", err)
		os.Exit(2)
	}
	moduli := map[string][]byte{}
	for label, h := range v.Moduli {
		moduli[label] = unhex(h)
	}

	for _, g := range v.Generators {
		got, rc := generator(moduli[g.Modulus], unhex(g.ChainID))
		check("generator "+g.ChainID, rc == C.EA_OK && bytes.Equal(got, unhex(g.G)))
	}
	for _, h := range v.HashToPrime {
		x, nonce, rc := hashToPrime(unhex(h.Data))
		check("hash_to_prime "+h.Data, rc == C.EA_OK && bytes.Equal(x, unhex(h.X)) && nonce == h.Nonce)
	}
	fmt.Printf("generators: %d, hash-to-prime: %d\n", len(v.Generators), len(v.HashToPrime))

	accepted := 0
	for _, m := range v.Membership {
		ok, rc := verifyMembership(unhex(m.W), unhex(m.X), unhex(m.V), moduli[m.Modulus])
		check("membership "+m.Name, rc == C.EA_OK && ok == m.OK)
		if ok {
			accepted++
		}
	}
	fmt.Printf("membership proofs: %d, accepted %d, rejected %d\n", len(v.Membership), accepted,
		len(v.Membership)-accepted)

	for _, b := range v.Batches {
		failed, rc := batchVerify(b.Items, moduli[b.Modulus])
		check("batch "+b.Name, rc == C.EA_OK && fmt.Sprint(failed) == fmt.Sprint(b.Bad))
	}
	fmt.Printf("batches: %d\n", len(v.Batches))

	proofs, good, rejected, edits := 0, 0, 0, 0
	for _, c := range v.Inclusion {
		proof, n, acc := unhex(c.Proof), moduli[c.Modulus], unhex(c.Acc)
		got, rc := verifyInclusion(proof, c.ChainID, acc, c.AccHeight, n)
		check("inclusion "+c.Name, rc == C.EA_OK && got == c.Expect)
		proofs++
		if got.Verdict == "ok" {
			good++
		} else {
			rejected++
		}
		for _, e := range c.Edits {
			want := expect{Verdict: e.Expect}
			if e.Expect == "ok" { // an edit of the header's own (unproven) accumulator value
				want = c.Expect
			}
			got, rc := verifyInclusion(applyEdit(proof, e), c.ChainID, acc, c.AccHeight, n)
			check(fmt.Sprintf("inclusion %s edit %v", c.Name, e), rc == C.EA_OK && got == want)
			edits++
		}
	}
	fmt.Printf("inclusion proofs: %d, accepted %d, rejected %d; tampered variants: %d\n", proofs, good,
		rejected, edits)
	fmt.Printf("edgeacc %s from Go: %d differences from Python\n", C.GoString(C.ea_version()), failures)
	if failures > 0 {
		os.Exit(1)
	}
}
