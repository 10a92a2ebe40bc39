// Package corewitness is the Zig core's prover.WitnessSource: it executes batches in the core
// through ffi (one cgo call per batch) and converts the core's Merkle witnesses for the
// circuit's assignment (prover.Assign). It is a package of its own so that what only verifies
// proofs (the L1 node) does not link the core.
package corewitness

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
)

// Source is a prover.WitnessSource over a core. It reuses its output buffers between calls
// and is not safe for concurrent use.
type Source struct {
	Core *ffi.Core

	out ffi.BatchOutput
	w   ffi.BatchWitness
}

var _ prover.WitnessSource = (*Source)(nil)

// ApplyBatchWitness implements prover.WitnessSource: it applies txs to the core's state.
func (s *Source) ApplyBatchWitness(txs []l2.Tx) (*prover.BatchTrace, error) {
	prev, err := s.Core.Root()
	if err != nil {
		return nil, err
	}
	if err := s.Core.ApplyBatchWitness(l2.EncodeBatch(txs), &s.out, &s.w); err != nil {
		return nil, err
	}
	t := &prover.BatchTrace{
		Statuses:  make([]l2.Status, len(txs)),
		PostRoots: make([]fr.Element, len(txs)),
		Witnesses: make([]prover.TxWitness, len(txs)),
	}
	if t.PrevRoot, err = element(prev); err != nil {
		return nil, err
	}
	for k := range txs {
		t.Statuses[k] = l2.Status(s.out.Statuses[k])
		if t.PostRoots[k], err = element(s.out.PostRoot(k)); err != nil {
			return nil, err
		}
		if t.Witnesses[k].Sender, err = account(s.w.Sender(k)); err != nil {
			return nil, err
		}
		if t.Witnesses[k].Recipient, err = account(s.w.Recipient(k)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func element(b [32]byte) (fr.Element, error) {
	var e fr.Element
	if err := e.SetBytesCanonical(b[:]); err != nil {
		return e, fmt.Errorf("corewitness: word from the core: %w", err)
	}
	return e, nil
}

// account converts a core witness; its Siblings are copied (the core's are overwritten by the
// next call).
func account(w ffi.Witness) (prover.AccountWitness, error) {
	a := prover.AccountWitness{Index: w.Index, Exists: w.Exists, Siblings: make([]fr.Element, len(w.Siblings))}
	var err error
	if a.Account.PubKey.X, err = element(w.PubKeyX); err != nil {
		return a, err
	}
	if a.Account.PubKey.Y, err = element(w.PubKeyY); err != nil {
		return a, err
	}
	a.Account.Balance, a.Account.Nonce = w.Balance, w.Nonce
	for l := range w.Siblings {
		if a.Siblings[l], err = element(w.Siblings[l]); err != nil {
			return a, err
		}
	}
	return a, nil
}
