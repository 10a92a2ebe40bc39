// Package fraudtest makes fraud proofs for tests of the judge and of what runs it (L1, the
// challenger): every proof an honest party can build against a batch, and random mutations of
// proofs, field by field or byte by byte. Against an honest batch each of them must be rejected.
package fraudtest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
)

// HonestProofs returns every well-formed proof anyone can make against a posted batch (c, its
// data and published trace) that starts from pre, which is not changed: a step proof of each
// step from the true state before it, with true witnesses, then the final root proof and the
// withdrawal root proof. Against an honest batch the judge finds each "not fraud". keys gives
// the ML-DSA keys of the batch's ML-DSA senders: a step of a type 5/6 from an ML-DSA account
// carries its sender's key and its signature, as fraud.Build's do.
func HonestProofs(pre *l2.State, c *l2.Commitment, data []byte, trace []fr.Element, keys l2.KeyBook) ([]*fraud.Proof, error) {
	txs, err := fraud.CheckInputs(c, data, trace)
	if err != nil {
		return nil, err
	}
	n := len(txs)
	s := pre.Clone()
	out := make([]*fraud.Proof, 0, n+2)
	for k := range txs {
		p := &fraud.Proof{Kind: fraud.KindStep, Batch: c.BatchNumber, Step: uint64(k), PrevRoot: c.PrevRoot,
			NextRoot: trace[k], NextSiblings: l2.ListWitness(trace, k)}
		if k > 0 {
			p.PrevRoot, p.PrevSiblings = trace[k-1], l2.ListWitness(trace, k-1)
		}
		for _, i := range txs[k].Touches(s.Depth()) {
			w, err := s.AccountWitness(i)
			if err != nil {
				return nil, fmt.Errorf("fraudtest: step %d: %w", k, err)
			}
			p.Accounts = append(p.Accounts, w)
		}
		if a := p.Accounts; txs[k].Type.MLDSA() && len(a) > 0 && a[0].Exists && l2.IsMLDSAKey(a[0].Account.PubKey) && keys != nil {
			if pub, ok := keys.MLDSAKey(a[0].Account.PubKey.Y); ok {
				p.MLDSAPub, p.MLDSASig = pub, txs[k].MLDSASig
			}
		}
		out = append(out, p)
		s.Apply(&txs[k], l2.ApplyOptions{ChainID: c.ChainID, VerifySignatures: true, Keys: keys})
	}
	return append(out,
		&fraud.Proof{Kind: fraud.KindFinalRoot, Batch: c.BatchNumber, Step: uint64(n - 1), NextRoot: trace[n-1],
			NextSiblings: l2.ListWitness(trace, n-1)},
		&fraud.Proof{Kind: fraud.KindWithdrawalRoot, Batch: c.BatchNumber}), nil
}

// Mutate returns a copy of p with one field changed at random: the kind, the batch number or the
// step; a root replaced, or the roots swapped; a sibling of a trace witness changed, one bit
// flipped, or siblings swapped, dropped or added; an account witness's index, existence,
// balance, nonce, key or sibling changed; the account witnesses reordered, one dropped,
// repeated, or another index added; an ML-DSA step's key or signature changed, or both
// dropped. The copy encodes differently from p (unless p offers
// nothing to change, which no proof of fraudtest does). Most mutations still decode, so they
// reach the judge's checks rather than the decoder's.
func Mutate(rng *rand.Rand, p *fraud.Proof) *fraud.Proof {
	orig := p.Encode()
	for range 64 {
		q := clone(p)
		mutations[rng.IntN(len(mutations))](rng, q)
		if !bytes.Equal(q.Encode(), orig) {
			return q
		}
	}
	return clone(p)
}

// MutateBytes returns a copy of enc with one random change: a bit flipped, a byte replaced, a
// byte inserted or removed, or a 32-byte run overwritten with another part of the proof.
func MutateBytes(rng *rand.Rand, enc []byte) []byte {
	out := bytes.Clone(enc)
	if len(out) == 0 {
		return []byte{byte(rng.Uint32())}
	}
	i := rng.IntN(len(out))
	switch rng.IntN(5) {
	case 0:
		out[i] ^= 1 << rng.IntN(8)
	case 1:
		out[i] = byte(rng.Uint32())
	case 2:
		out = append(out[:i], append([]byte{byte(rng.Uint32())}, out[i:]...)...)
	case 3:
		out = append(out[:i], out[i+1:]...)
	default:
		if len(out) > 64 {
			src, dst := rng.IntN(len(out)-32), rng.IntN(len(out)-32)
			copy(out[dst:dst+32], enc[src:src+32])
		}
	}
	return out
}

// mutations change one field of a proof in place; one that finds nothing to change leaves it.
var mutations = []func(rng *rand.Rand, q *fraud.Proof){
	func(rng *rand.Rand, q *fraud.Proof) { // an ML-DSA step's key or signature: a bit flipped, or both dropped
		switch b := [][]byte{q.MLDSAPub, q.MLDSASig}[rng.IntN(2)]; {
		case len(b) == 0:
		case rng.IntN(4) == 0:
			q.MLDSAPub, q.MLDSASig = nil, nil
		default:
			b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
		}
	},
	func(rng *rand.Rand, q *fraud.Proof) { q.Kind = fraud.Kind(rng.IntN(5)) }, // 0 and 4 are no kind
	func(rng *rand.Rand, q *fraud.Proof) { q.Batch = shift(rng, q.Batch) },
	func(rng *rand.Rand, q *fraud.Proof) { q.Step = shift(rng, q.Step) },
	func(rng *rand.Rand, q *fraud.Proof) { q.PrevRoot = other(rng, q.PrevRoot, q.NextRoot) },
	func(rng *rand.Rand, q *fraud.Proof) { q.NextRoot = other(rng, q.NextRoot, q.PrevRoot) },
	func(rng *rand.Rand, q *fraud.Proof) {
		q.PrevRoot, q.NextRoot = q.NextRoot, q.PrevRoot
		if rng.IntN(2) == 0 {
			q.PrevSiblings, q.NextSiblings = q.NextSiblings, q.PrevSiblings
		}
	},
	func(rng *rand.Rand, q *fraud.Proof) { q.PrevSiblings = siblings(rng, q.PrevSiblings) },
	func(rng *rand.Rand, q *fraud.Proof) { q.NextSiblings = siblings(rng, q.NextSiblings) },
	func(rng *rand.Rand, q *fraud.Proof) { // one field of one account witness
		if len(q.Accounts) == 0 {
			return
		}
		a := &q.Accounts[rng.IntN(len(q.Accounts))]
		switch rng.IntN(7) {
		case 0:
			a.Index ^= 1 << rng.IntN(len(a.Siblings)+1) // may leave the tree
		case 1:
			a.Exists = !a.Exists
			if rng.IntN(2) == 0 {
				a.Account = l2.Account{} // an empty leaf that decodes
			}
		case 2:
			a.Account.Balance = shift(rng, a.Account.Balance)
		case 3:
			a.Account.Nonce = shift(rng, a.Account.Nonce)
		case 4:
			a.Account.PubKey.X = other(rng, a.Account.PubKey.X, a.Account.PubKey.Y)
		case 5:
			a.Account.PubKey.X, a.Account.PubKey.Y = a.Account.PubKey.Y, a.Account.PubKey.X
		default:
			a.Siblings = siblings(rng, a.Siblings)
		}
	},
	func(rng *rand.Rand, q *fraud.Proof) { // the account witnesses as a list
		n := len(q.Accounts)
		switch {
		case n == 2 && rng.IntN(3) == 0:
			q.Accounts[0], q.Accounts[1] = q.Accounts[1], q.Accounts[0]
		case n > 0 && rng.IntN(2) == 0:
			q.Accounts = slices.Delete(q.Accounts, rng.IntN(n), rng.IntN(n)+1)
		case n > 0:
			a := q.Accounts[rng.IntN(n)]
			if rng.IntN(2) == 0 {
				a.Index ^= 1 << rng.IntN(max(len(a.Siblings), 1))
			}
			q.Accounts = append(q.Accounts, a)
		}
	},
}

// shift is v moved by a small amount either way, or a random value.
func shift(rng *rand.Rand, v uint64) uint64 {
	switch rng.IntN(4) {
	case 0:
		return v + 1
	case 1:
		return v - 1
	case 2:
		return v + 1 + rng.Uint64N(8)
	}
	return rng.Uint64()
}

// other is e with a bit flipped, e + 1, alt, zero, or a random element.
func other(rng *rand.Rand, e, alt fr.Element) fr.Element {
	switch rng.IntN(5) {
	case 0:
		return flip(rng, e)
	case 1:
		var one fr.Element
		one.SetOne()
		return *e.Add(&e, &one)
	case 2:
		return alt
	case 3:
		return fr.Element{}
	}
	var r fr.Element
	r.SetUint64(rng.Uint64())
	return r
}

// flip is e with one bit of its 32-byte form flipped (reduced modulo p if that leaves the field).
func flip(rng *rand.Rand, e fr.Element) fr.Element {
	b := e.Bytes()
	b[rng.IntN(32)] ^= 1 << rng.IntN(8)
	var out fr.Element
	out.SetBytes(b[:])
	return out
}

// siblings returns a changed copy of a witness: one sibling changed, two swapped, one dropped
// or one added.
func siblings(rng *rand.Rand, s []fr.Element) []fr.Element {
	s = slices.Clone(s)
	n := len(s)
	switch {
	case n == 0 || rng.IntN(6) == 0:
		return append(s, flip(rng, fr.Element{}))
	case rng.IntN(5) == 0:
		return s[:n-1]
	case n > 1 && rng.IntN(4) == 0:
		i, j := rng.IntN(n), rng.IntN(n)
		s[i], s[j] = s[j], s[i]
		return s
	}
	i := rng.IntN(n)
	s[i] = other(rng, s[i], s[(i+1)%n])
	return s
}

// clone deep-copies a proof.
func clone(p *fraud.Proof) *fraud.Proof {
	q := *p
	q.PrevSiblings = slices.Clone(p.PrevSiblings)
	q.NextSiblings = slices.Clone(p.NextSiblings)
	q.Accounts = slices.Clone(p.Accounts)
	q.MLDSAPub, q.MLDSASig = bytes.Clone(p.MLDSAPub), bytes.Clone(p.MLDSASig)
	for i := range q.Accounts {
		q.Accounts[i].Siblings = slices.Clone(p.Accounts[i].Siblings)
	}
	return &q
}
