package fraud

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// Build checks a posted optimistic batch the way a challenger does and returns the proof of its
// first fault, or ErrNoFraud. pre is the state the batch starts from (its root must be
// c.PrevRoot); Build executes the batch on it with the reference rules, signatures checked, so
// pass a Clone to keep it: on return it is the state before the faulty step, or after the batch.
// c is the commitment as L1 stores it (chain.BatchRecord.Commitment), data the decompressed
// batch data and trace the trace published with it (chain.Chain.BatchTrace), which L1 has checked
// against c.TraceRoot.
//
// The faults are looked for in the order of docs §11.4: the first step whose transaction fails
// or whose root is not trace[k] (KindStep), then a new root other than trace[n-1]
// (KindFinalRoot), then a wrong withdrawal root (KindWithdrawalRoot). An error other than
// ErrNoFraud means the inputs are not those of the batch (the challenger's state is not at the
// batch's previous root, the data or trace is not the committed one): nothing can be proven from
// them.
//
// keys gives the ML-DSA-65 public keys of the batch's ML-DSA senders (L1's registry, l1_l2Key):
// a type 5/6 step from an ML-DSA account whose key it does not know is an error, not a fault,
// and its step proof carries the key and the signature (docs §11.2).
func Build(pre *l2.State, c *l2.Commitment, data []byte, trace []fr.Element, keys l2.KeyBook) (*Proof, error) {
	return BuildFrom(pre, c, data, trace, 0, keys)
}

// BuildFrom is Build for a challenger that has already found steps 0 to from-1 right by other
// means (the native core, its signature checks): it looks for the first fault from step from
// on, by the same rules and in the same order. pre is the state before step from: its root must
// be trace[from-1] (c.PrevRoot for from = 0), and it is not read when from = n (no step left;
// it may be nil). pre may be a partial state (l2.NewPartialState) holding the paths of every
// account the steps from step from on touch (l2.Tx.Touches): BuildFrom reads no other, so a
// challenger needs no Go copy of the whole state.
func BuildFrom(pre *l2.State, c *l2.Commitment, data []byte, trace []fr.Element, from int, keys l2.KeyBook) (*Proof, error) {
	txs, err := CheckInputs(c, data, trace)
	if err != nil {
		return nil, err
	}
	n := len(txs)
	if from < 0 || from > n {
		return nil, fmt.Errorf("fraud: step %d outside a batch of %d", from, n)
	}
	if from < n {
		want := c.PrevRoot
		if from > 0 {
			want = trace[from-1]
		}
		if root := pre.Root(); !root.Equal(&want) {
			return nil, fmt.Errorf("fraud: the state is at root %x, step %d starts from %x", root.Bytes(), from, want.Bytes())
		}
	}
	opts := l2.ApplyOptions{ChainID: c.ChainID, VerifySignatures: true, Keys: keys}
	for k := from; k < n; k++ {
		if txs[k].Type == l2.TxRefund {
			p, err := refundStep(pre, c, trace, k, &txs[k])
			if p != nil || err != nil {
				return p, err
			}
			continue
		}
		var accounts []l2.AccountWitness
		for _, i := range txs[k].Touches(pre.Depth()) {
			w, err := pre.AccountWitness(i)
			if err != nil {
				return nil, fmt.Errorf("fraud: step %d: %w", k, err)
			}
			accounts = append(accounts, w)
		}
		pub, err := signerPub(&txs[k], accounts, keys)
		if err != nil {
			return nil, fmt.Errorf("fraud: step %d: %w", k, err)
		}
		st, _ := pre.Apply(&txs[k], opts)
		if root := pre.Root(); st == l2.StatusOK && root.Equal(&trace[k]) {
			continue
		}
		p := StepProof(c, trace, k, accounts)
		if pub != nil {
			p.MLDSAPub, p.MLDSASig = pub, txs[k].MLDSASig
		}
		return p, nil
	}
	if !trace[n-1].Equal(&c.NewRoot) {
		return &Proof{Kind: KindFinalRoot, Batch: c.BatchNumber, Step: uint64(n - 1), NextRoot: trace[n-1],
			NextSiblings: l2.ListWitness(trace, n-1)}, nil
	}
	if wr := withdrawalRoot(txs); !wr.Equal(&c.WithdrawalRoot) {
		return &Proof{Kind: KindWithdrawalRoot, Batch: c.BatchNumber}, nil
	}
	return nil, ErrNoFraud
}

// signerPub is the ML-DSA key of tx's sender when tx is a type 5/6 from an ML-DSA account
// (accounts[0], its witness before the step), which its step proof carries; nil otherwise. An
// unknown key is an error: the account's key was registered on L1 by the deposit that made it,
// so the caller's KeyBook is short of it, and without it no proof of the step is judged.
func signerPub(tx *l2.Tx, accounts []l2.AccountWitness, keys l2.KeyBook) ([]byte, error) {
	if !tx.Type.MLDSA() || len(accounts) == 0 || !accounts[0].Exists || !l2.IsMLDSAKey(accounts[0].Account.PubKey) {
		return nil, nil
	}
	kh := accounts[0].Account.PubKey.Y
	var pub []byte
	ok := false
	if keys != nil {
		pub, ok = keys.MLDSAKey(kh)
	}
	if got := l2.MLDSAKeyHash(pub); !ok || !got.Equal(&kh) {
		return nil, fmt.Errorf("the ML-DSA key of account %d (hash %x) is unknown", tx.From, kh.Bytes())
	}
	return pub, nil
}

// StepProof is the step proof (docs §11.2) that step k of a batch with commitment c and trace
// is wrong, with accounts the witnesses, in the root before the step, the judge needs.
func StepProof(c *l2.Commitment, trace []fr.Element, k int, accounts []l2.AccountWitness) *Proof {
	p := &Proof{Kind: KindStep, Batch: c.BatchNumber, Step: uint64(k), PrevRoot: c.PrevRoot,
		NextRoot: trace[k], NextSiblings: l2.ListWitness(trace, k), Accounts: accounts}
	if k > 0 {
		p.PrevRoot, p.PrevSiblings = trace[k-1], l2.ListWitness(trace, k-1)
	}
	return p
}

// refundStep checks refund k on the whole state before it and returns its step proof if it is
// wrong (nil if it is right): the witness of the index PlacementFor finds for a placeable
// deposit, else (the refund is valid but trace[k] moved the root) of index 0. A refund leaves
// the state unchanged, so a right one needs nothing applied.
func refundStep(pre *l2.State, c *l2.Commitment, trace []fr.Element, k int, tx *l2.Tx) (*Proof, error) {
	if pre.Partial() {
		return nil, fmt.Errorf("fraud: step %d is a refund: judging it needs the whole state, not a partial one", k)
	}
	j, placeable := pre.PlacementFor(tx.PubKey, tx.Amount)
	if root := pre.Root(); !placeable && root.Equal(&trace[k]) {
		return nil, nil
	}
	w, err := pre.AccountWitness(j)
	if err != nil {
		return nil, fmt.Errorf("fraud: step %d: %w", k, err)
	}
	return StepProof(c, trace, k, []l2.AccountWitness{w}), nil
}

// CheckInputs decodes a posted batch's data after checking it and the published trace against
// the commitment (data hash, transaction count, trace root), as Build does before anything
// else: an executor that re-executes the batch by other means checks its inputs the same way.
//
// data is the batch data as posted, interleaved (docs §5.4); the transactions returned carry
// their ML-DSA signatures, whose digests are checked against w2 as L1 did.
func CheckInputs(c *l2.Commitment, data []byte, trace []fr.Element) ([]l2.Tx, error) {
	records, sigs, err := l2.SplitBatchData(data)
	if err != nil {
		return nil, fmt.Errorf("fraud: batch data: %w", err)
	}
	txs, err := l2.DecodeBatch(records)
	if err != nil {
		return nil, fmt.Errorf("fraud: batch data: %w", err)
	}
	for k := range txs {
		txs[k].MLDSASig = sigs[k]
	}
	if err := l2.CheckSignatureDigests(txs, sigs); err != nil {
		return nil, fmt.Errorf("fraud: batch data: %w", err)
	}
	if dh := l2.TxsDataHash(txs); !dh.Equal(&c.DataHash) { // over the records only
		return nil, fmt.Errorf("fraud: the data is not the batch's (data hash)")
	}
	if uint64(len(txs)) != c.TxCount || len(trace) != len(txs) {
		return nil, fmt.Errorf("fraud: %d transactions and %d trace entries, commitment says %d", len(txs), len(trace), c.TxCount)
	}
	if tr := l2.ListRoot(trace); !tr.Equal(&c.TraceRoot) {
		return nil, fmt.Errorf("fraud: the trace is not the committed one (trace root)")
	}
	return txs, nil
}
