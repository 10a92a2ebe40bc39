// Package corewitness is the Zig core's prover.WitnessSource: it executes batches in the core
// through ffi (one cgo call per batch) and converts the core's Merkle witnesses for the
// circuit's assignment (prover.Assign). It is a package of its own so that what only verifies
// proofs (the L1 node) does not link the core.
package corewitness

import (
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
	if t.PrevRoot, err = ffi.Element(prev); err != nil {
		return nil, err
	}
	for k := range txs {
		t.Statuses[k] = l2.Status(s.out.Statuses[k])
		if t.PostRoots[k], err = ffi.Element(s.out.PostRoot(k)); err != nil {
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

// account converts a core witness; its Siblings are copied (the core's are overwritten by the
// next call).
func account(w ffi.Witness) (prover.AccountWitness, error) {
	x, y, siblings, err := w.Elements()
	if err != nil {
		return prover.AccountWitness{}, err
	}
	return prover.AccountWitness{Index: w.Index, Exists: w.Exists, Siblings: siblings,
		Account: l2.Account{PubKey: l2.PublicKey{X: x, Y: y}, Balance: w.Balance, Nonce: w.Nonce}}, nil
}
