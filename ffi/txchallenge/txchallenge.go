// Package txchallenge computes the EdDSA challenges of many L2 transaction signatures at once
// (docs/protocol.md §6) with the native core's batched Poseidon2: seven compressions per
// signature in five calls into the core per batch, never one per signature, about seven times
// cheaper than l2.Challenge in Go. The sequencer (before admission) and the challenger's core
// executor (on each posted batch) use it ahead of l2.VerifyTxBatch. It is a package of its own
// so that l2, the independent reference, never links the core.
package txchallenge

import (
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
)

// Hasher computes challenges for one chain. It keeps its buffers between calls, so that in
// steady state it allocates nothing, and is not safe for concurrent use.
type Hasher struct {
	chainID uint64
	prefix  [32]byte // H(TAG_TX, chain_id): the part of every signed message that is the same
	buf     []byte
}

// NewHasher returns a Hasher of the challenges of transactions signed for chainID.
func NewHasher(chainID uint64) *Hasher {
	var chain fr.Element
	chain.SetUint64(chainID)
	prefix := l2.HashMD(l2.TagTx, chain)
	return &Hasher{chainID: chainID, prefix: prefix.Bytes()}
}

// Fill sets checks[i].Challenge to l2.Challenge(checks[i].PubKey, chainID, checks[i].Tx) for
// every i. The rounds, each one call into the core over the whole batch (2n or n pairs), are
//
//	1: m1 = C(prefix, w0)  and  c1 = C(0, R.x)
//	2: msg = C(m1, w1)     and  c2 = C(c1, R.y)
//	3: c3 = C(c2, pk.x)    4: c4 = C(c3, pk.y)    5: c = C(c4, msg)
//
// that is HashMD(R.x, R.y, pk.x, pk.y, HashMD(TAG_TX, chain_id, w0, w1)). Every input is the
// byte form of a field element, so the core cannot refuse it; if it did, the challenges would
// be computed with l2.Challenge.
func (h *Hasher) Fill(checks []l2.SignatureCheck) {
	n := len(checks)
	if n == 0 {
		return
	}
	// Five regions of 2n words, inputs laid out so that each round's output is the next one's
	// left input where it is used, with no copy between rounds:
	//
	//	a: prefix | 0       (round 1 left)    then msg | c2 (round 2 output)
	//	b: w0 | R.x         (round 1 right)   then c (round 5 output, first half)
	//	c: w1 | R.y         (round 2 right)
	//	d: pk.x | pk.y      (rounds 3 and 4 right)
	//	e: m1 | c1          (round 1 output)  then c3 | c4 (rounds 3 and 4 output)
	region := 2 * 32 * n
	if cap(h.buf) < 5*region {
		h.buf = make([]byte, 5*region)
	}
	buf := h.buf[:5*region]
	a, b, c, d, e := buf[:region], buf[region:2*region], buf[2*region:3*region], buf[3*region:4*region], buf[4*region:]
	for k := range checks {
		tx, pk := checks[k].Tx, &checks[k].PubKey
		w := tx.Words()
		*word(a, k) = h.prefix
		*word(a, n+k) = [32]byte{}
		fr.BigEndian.PutElement(word(b, k), w[0])
		fr.BigEndian.PutElement(word(b, n+k), tx.Sig.RX)
		fr.BigEndian.PutElement(word(c, k), w[1])
		fr.BigEndian.PutElement(word(c, n+k), tx.Sig.RY)
		fr.BigEndian.PutElement(word(d, k), pk.X)
		fr.BigEndian.PutElement(word(d, n+k), pk.Y)
	}
	half := region / 2
	err := ffi.Poseidon2CompressBatch(a, b, e)
	if err == nil {
		err = ffi.Poseidon2CompressBatch(e, c, a)
	}
	if err == nil {
		err = ffi.Poseidon2CompressBatch(a[half:], d[:half], e[:half])
	}
	if err == nil {
		err = ffi.Poseidon2CompressBatch(e[:half], d[half:], e[half:])
	}
	if err == nil {
		err = ffi.Poseidon2CompressBatch(e[half:], a[:half], b[:half])
	}
	for k := range checks {
		if err != nil {
			checks[k].Challenge = l2.Challenge(checks[k].PubKey, h.chainID, checks[k].Tx)
			continue
		}
		checks[k].Challenge.SetBytes(word(b, k)[:]) // canonical: an output of the core
	}
}

// word is the k-th 32-byte word of b.
func word(b []byte, k int) *[32]byte {
	return (*[32]byte)(b[32*k : 32*k+32])
}
