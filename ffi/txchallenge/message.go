package txchallenge

import (
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
)

// Messages sets out[i] to l2.SignedMessage(chainID, txs[i]) for every i — the message an
// ML-DSA transaction (types 5, 6) signs, docs/protocol.md §6 — in two calls into the core over
// the whole batch: m1 = C(prefix, w0), then msg = C(m1, w1). out must be at least as long as
// txs. As for Fill, if the core refused an input the messages would be computed in Go.
func (h *Hasher) Messages(txs []*l2.Tx, out []fr.Element) {
	n := len(txs)
	if n == 0 {
		return
	}
	// Regions of n words: a: prefix, then msg (round 2 output); b: w0; c: w1; d: m1.
	region := 32 * n
	if cap(h.buf) < 4*region {
		h.buf = make([]byte, 4*region)
	}
	buf := h.buf[:4*region]
	a, b, c, d := buf[:region], buf[region:2*region], buf[2*region:3*region], buf[3*region:]
	for k, tx := range txs {
		w := tx.Words()
		*word(a, k) = h.prefix
		fr.BigEndian.PutElement(word(b, k), w[0])
		fr.BigEndian.PutElement(word(c, k), w[1])
	}
	err := ffi.Poseidon2CompressBatch(a, b, d)
	if err == nil {
		err = ffi.Poseidon2CompressBatch(d, c, a)
	}
	for k := range txs {
		if err != nil {
			out[k] = l2.SignedMessage(h.chainID, txs[k])
			continue
		}
		out[k].SetBytes(word(a, k)[:]) // canonical: an output of the core
	}
}
