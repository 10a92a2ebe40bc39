package fraud

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// Case is what a fraud proof is judged against: a pending optimistic batch as the settlement
// layer stores it, and the proof. L1 (package l1/chain, whose FraudCase this is) fills it from
// its batch record; nothing in it comes from the challenger but Proof.
type Case struct {
	L2ChainID  uint64
	TreeDepth  int
	Commitment l2.Commitment
	Data       []byte // decompressed batch data (interleaved, docs §5.4), checked at submission
	Proof      []byte
}

// Judge is the fraud-proof verifier L1 runs (its chain.FraudJudge): it decides a proof against
// a Case with no state but the proof's witnesses. It holds nothing and is safe for concurrent use.
type Judge struct{}

// Judge decodes c.Proof and reports whether it proves the batch fraudulent (docs §11.3). An
// error means the proof is malformed or does not match the batch (a witness that does not
// verify, another batch, a step outside it); false with no error means a well-formed proof
// whose step, re-executed, agrees with the commitment. Only true lets L1 revert the batch. Any
// input gives an answer: Judge never panics.
func (Judge) Judge(c *Case) (bool, error) {
	p, err := Decode(c.Proof)
	if err != nil {
		return false, err
	}
	records, err := checkCase(c)
	if err != nil {
		return false, err
	}
	n := uint64(len(records) / l2.TxSize)
	if p.Batch != c.Commitment.BatchNumber {
		return false, fmt.Errorf("%w: proof against batch %d, this is batch %d", ErrMismatch, p.Batch, c.Commitment.BatchNumber)
	}
	switch p.Kind {
	case KindStep:
		return judgeStep(c, p, records, n)
	case KindFinalRoot:
		return judgeFinalRoot(c, p, n)
	default: // KindWithdrawalRoot: Decode admits no other kind
		return judgeWithdrawalRoot(c, records)
	}
}

// checkCase checks what L1 already guarantees of a case (the submission rules of docs/l1.md §5)
// as far as the judge relies on it, and returns the batch's records: the data without the
// signatures that follow its type 5/6 records (l2.SplitBatchData).
func checkCase(c *Case) ([]byte, error) {
	if c.TreeDepth < l2.MinTreeDepth || c.TreeDepth > l2.MaxTreeDepth {
		return nil, fmt.Errorf("%w: tree depth %d", ErrMismatch, c.TreeDepth)
	}
	if c.Commitment.ChainID != c.L2ChainID {
		return nil, fmt.Errorf("%w: commitment for chain %d, rollup chain %d", ErrMismatch, c.Commitment.ChainID, c.L2ChainID)
	}
	records, _, err := l2.SplitBatchData(c.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: batch data: %w", ErrMismatch, err)
	}
	if n := uint64(len(records) / l2.TxSize); n != c.Commitment.TxCount {
		return nil, fmt.Errorf("%w: %d records of batch data for %d transactions", ErrMismatch, n, c.Commitment.TxCount)
	}
	return records, nil
}

// inTrace reports whether root is trace[k] of the batch: its witness verifies against the
// commitment's trace root.
func inTrace(c *Case, k uint64, root fr.Element, siblings []fr.Element) bool {
	return l2.VerifyWitness(c.Commitment.TraceRoot, l2.ListDepth, uint32(k), root, siblings)
}

// judgeStep re-executes transaction k from the agreed root before it (docs §11.3).
func judgeStep(c *Case, p *Proof, records []byte, n uint64) (bool, error) {
	k := p.Step
	if k >= n {
		return false, fmt.Errorf("%w: step %d of a batch of %d transactions", ErrMismatch, k, n)
	}
	// The transaction is L1's own copy of record k: the data L1 checked against the data hash at
	// submission, so it needs no inclusion proof.
	tx, err := l2.DecodeTx(records[k*l2.TxSize : (k+1)*l2.TxSize])
	if err != nil {
		return false, fmt.Errorf("%w: record %d: %w", ErrMismatch, k, err)
	}
	if k == 0 {
		if !p.PrevRoot.Equal(&c.Commitment.PrevRoot) {
			return false, fmt.Errorf("%w: step 0 must start from the batch's previous root", ErrMismatch)
		}
	} else if !inTrace(c, k-1, p.PrevRoot, p.PrevSiblings) {
		return false, fmt.Errorf("%w: prev root is not trace[%d]", ErrMismatch, k-1)
	}
	if !inTrace(c, k, p.NextRoot, p.NextSiblings) {
		return false, fmt.Errorf("%w: next root is not trace[%d]", ErrMismatch, k)
	}
	if tx.Type == l2.TxRefund {
		if len(p.MLDSAPub) > 0 {
			return false, fmt.Errorf("%w: an ML-DSA key in the proof of a refund", ErrMismatch)
		}
		return judgeRefund(c, p, &tx)
	}
	touched := tx.Touches(c.TreeDepth)
	if len(p.Accounts) != len(touched) {
		return false, fmt.Errorf("%w: %d account witnesses, transaction %d touches %v", ErrMismatch, len(p.Accounts), k, touched)
	}
	for i, idx := range touched {
		if p.Accounts[i].Index != idx {
			return false, fmt.Errorf("%w: account witness %d is of index %d, want %d", ErrMismatch, i, p.Accounts[i].Index, idx)
		}
	}
	s, err := l2.NewPartialState(c.TreeDepth, p.PrevRoot, p.Accounts)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	keys, err := signerKey(p, &tx)
	if err != nil {
		return false, err
	}
	if st, _ := s.Apply(&tx, l2.ApplyOptions{ChainID: c.L2ChainID, VerifySignatures: true, Keys: keys}); st != l2.StatusOK {
		return true, nil // a batch on L1 holds only transactions that succeed (docs §8)
	}
	root := s.Root()
	return !root.Equal(&p.NextRoot), nil
}

// judgeRefund decides a refund step (docs §11.3): the proof's one account witness, of any index
// in prev_root, shows the deposit placeable (an empty leaf, or the deposit's key with room for
// the amount), or the step moved the root, which a refund never does.
func judgeRefund(c *Case, p *Proof, tx *l2.Tx) (bool, error) {
	if len(p.Accounts) != 1 {
		return false, fmt.Errorf("%w: %d account witnesses, a refund step takes one", ErrMismatch, len(p.Accounts))
	}
	if _, err := l2.NewPartialState(c.TreeDepth, p.PrevRoot, p.Accounts); err != nil {
		return false, fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	return l2.RefundDisproved(&p.Accounts[0], tx.PubKey, tx.Amount) || !p.NextRoot.Equal(&p.PrevRoot), nil
}

// judgeFinalRoot compares trace[n-1] with the commitment's new root.
func judgeFinalRoot(c *Case, p *Proof, n uint64) (bool, error) {
	if p.Step != n-1 {
		return false, fmt.Errorf("%w: final root proof names step %d, the last is %d", ErrMismatch, p.Step, n-1)
	}
	if !inTrace(c, p.Step, p.NextRoot, p.NextSiblings) {
		return false, fmt.Errorf("%w: next root is not trace[%d]", ErrMismatch, p.Step)
	}
	return !p.NextRoot.Equal(&c.Commitment.NewRoot), nil
}

// signerKey checks the ML-DSA fields of a step proof (docs §11.3) and returns the KeyBook of the
// step's re-execution. A type 5/6 whose sender (the first witness) is an ML-DSA account needs
// the sender's key, of hash pk.y, and the signature of digest w2, which it sets in tx; every
// other step takes neither.
func signerKey(p *Proof, tx *l2.Tx) (l2.KeyBook, error) {
	mldsaSender := tx.Type.MLDSA() && len(p.Accounts) > 0 && p.Accounts[0].Exists && l2.IsMLDSAKey(p.Accounts[0].Account.PubKey)
	if !mldsaSender {
		if len(p.MLDSAPub) > 0 {
			return nil, fmt.Errorf("%w: an ML-DSA key in the proof of a %s whose sender is not an ML-DSA account", ErrMismatch, tx.Type)
		}
		return nil, nil
	}
	if len(p.MLDSAPub) == 0 {
		return nil, fmt.Errorf("%w: the proof of a %s from an ML-DSA account carries no key and signature", ErrMismatch, tx.Type)
	}
	kh := p.Accounts[0].Account.PubKey.Y
	if got := l2.MLDSAKeyHash(p.MLDSAPub); !got.Equal(&kh) {
		return nil, fmt.Errorf("%w: the ML-DSA key is not the sender's (its hash is not the leaf's pk.y)", ErrMismatch)
	}
	if d := l2.MLDSASigDigest(p.MLDSASig); !d.Equal(&tx.SigDigest) {
		return nil, fmt.Errorf("%w: the ML-DSA signature is not the batch's (its digest is not w2)", ErrMismatch)
	}
	tx.MLDSASig = p.MLDSASig
	return l2.KeyMap{kh: p.MLDSAPub}, nil
}

// judgeWithdrawalRoot recomputes the withdrawal root from the batch's records.
func judgeWithdrawalRoot(c *Case, records []byte) (bool, error) {
	txs, err := l2.DecodeBatch(records)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	root := withdrawalRoot(txs)
	return !root.Equal(&c.Commitment.WithdrawalRoot), nil
}

// withdrawalRoot is the withdrawal root of docs §8.3 for a batch in which every transaction
// succeeds: the leaf of each withdraw and refund, 0 for every other transaction. A batch whose committed
// root differs is fraudulent either way: if every transaction succeeds its root is this one, and
// if one fails the batch may not be on L1 at all (docs §11.3).
func withdrawalRoot(txs []l2.Tx) fr.Element {
	return l2.ListRoot(l2.WithdrawalLeaves(txs))
}
