package prover

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"

	"github.com/pqbridge/pqbridge/l2"
)

// ErrNotProvable is returned for a batch the circuit cannot prove: a transaction without status
// ok or with an invalid signature (a batch for L1 contains only valid transactions, docs §8),
// more transactions than the circuit has slots, or witnesses that do not fit together.
var ErrNotProvable = errors.New("prover: batch not provable")

// AccountWitness is an account index with its Merkle witness (docs §4.3).
type AccountWitness struct {
	Index    uint32
	Exists   bool
	Account  l2.Account // zero when !Exists
	Siblings []fr.Element
}

// TxWitness holds the two accounts transaction k reads, both in the state before it (they
// verify against trace[k-1], or the batch's pre-state root for k = 0): the sender (index
// From: a deposit's target, index 0 for a no-op) and the recipient (index To of a transfer;
// for other types its value is not used).
type TxWitness struct {
	Sender, Recipient AccountWitness
}

// BatchTrace is the result of executing a batch with witnesses.
type BatchTrace struct {
	PrevRoot  fr.Element
	Statuses  []l2.Status
	PostRoots []fr.Element // trace[k], docs §8.2
	Witnesses []TxWitness
}

// WitnessSource executes a batch on the state it holds, advancing it, and returns the
// per-transaction witnesses the circuit needs. The settlement engine uses the Zig core
// (package prover/corewitness, kept apart so that verifiers of proofs do not link the core);
// the Go reference (ReferenceSource) cross-checks it.
type WitnessSource interface {
	ApplyBatchWitness(txs []l2.Tx) (*BatchTrace, error)
}

// ReferenceSource is a WitnessSource over the Go reference state transition.
type ReferenceSource struct {
	State   *l2.State
	Options l2.ApplyOptions
}

// ApplyBatchWitness implements WitnessSource. Like l2.State.ApplyBatch it panics on a
// structurally invalid transaction (every Tx from l2.DecodeBatch is valid).
func (r *ReferenceSource) ApplyBatchWitness(txs []l2.Tx) (*BatchTrace, error) {
	t := &BatchTrace{PrevRoot: r.State.Root(), Witnesses: make([]TxWitness, len(txs))}
	for k := range txs {
		tx := &txs[k]
		var err error
		if t.Witnesses[k].Sender, err = referenceWitness(r.State, tx.From); err != nil {
			return nil, err
		}
		to := tx.From
		if tx.Type == l2.TxTransfer {
			to = tx.To
		}
		if t.Witnesses[k].Recipient, err = referenceWitness(r.State, to); err != nil {
			return nil, err
		}
		st, _ := r.State.Apply(tx, r.Options)
		t.Statuses = append(t.Statuses, st)
		t.PostRoots = append(t.PostRoots, r.State.Root())
	}
	return t, nil
}

// referenceWitness is the witness of index i, or an index-only witness when i is beyond the tree.
func referenceWitness(s *l2.State, i uint32) (AccountWitness, error) {
	if uint64(i) >= uint64(1)<<s.Depth() {
		return AccountWitness{Index: i, Siblings: make([]fr.Element, s.Depth())}, nil
	}
	sib, err := s.Witness(i)
	if err != nil {
		return AccountWitness{}, err
	}
	acc, ok := s.Account(i)
	return AccountWitness{Index: i, Exists: ok, Account: acc, Siblings: sib}, nil
}

// Batch is a batch to prove: its transactions and what its commitment (docs §8.6) names
// besides the results of executing them.
type Batch struct {
	ChainID, BatchNumber uint64
	DepositsBefore       fr.Element // dq_before
	Txs                  []l2.Tx
}

// Assignment is a full assignment of the batch circuit and the commitment it proves.
type Assignment struct {
	Circuit    *BatchCircuit
	Commitment l2.Commitment
}

// Assign builds the circuit assignment of batch b from its execution trace. It fails with
// ErrNotProvable if the batch has more transactions than the circuit has slots, a transaction
// whose status is not ok or whose signature is invalid, or witnesses that do not verify against
// the trace: nothing the circuit would reject is sent to the (slow) prover.
func Assign(p Params, b *Batch, t *BatchTrace) (*Assignment, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	n := len(b.Txs)
	switch {
	case n == 0 || n > p.BatchSize:
		return nil, fmt.Errorf("%w: %d transactions for %d slots", ErrNotProvable, n, p.BatchSize)
	case len(t.Statuses) != n || len(t.PostRoots) != n || len(t.Witnesses) != n:
		return nil, fmt.Errorf("%w: trace of %d/%d/%d entries for %d transactions", ErrNotProvable, len(t.Statuses), len(t.PostRoots), len(t.Witnesses), n)
	}
	c := NewCircuit(p)
	com := l2.Commitment{
		ChainID: b.ChainID, BatchNumber: b.BatchNumber, PrevRoot: t.PrevRoot, NewRoot: t.PostRoots[n-1],
		DepositsBefore: b.DepositsBefore, DepositsAfter: b.DepositsBefore, TxCount: uint64(n),
	}
	wleaves := make([]fr.Element, n)
	root := t.PrevRoot
	for k := range b.Txs {
		tx := &b.Txs[k]
		if t.Statuses[k] != l2.StatusOK {
			return nil, fmt.Errorf("%w: transaction %d has status %v", ErrNotProvable, k, t.Statuses[k])
		}
		if tx.Type == l2.TxRefund {
			// No circuit-sized witness shows that no index can take a deposit (docs §8.7).
			return nil, fmt.Errorf("%w: transaction %d is a refund, which only the optimistic mode settles", ErrNotProvable, k)
		}
		if err := assignSlot(p, &c.Slots[k], tx, b.ChainID, &t.Witnesses[k], root, t.PostRoots[k]); err != nil {
			return nil, fmt.Errorf("transaction %d: %w", k, err)
		}
		switch tx.Type {
		case l2.TxDeposit:
			com.DepositsAfter = l2.NextDepositChain(com.DepositsAfter, l2.DepositHash(tx.PubKey, tx.Amount))
		case l2.TxWithdraw:
			wleaves[k] = l2.WithdrawalLeaf(tx.Address, tx.Amount)
		}
		root = t.PostRoots[k]
	}
	for k := n; k < p.BatchSize; k++ {
		assignPadding(&c.Slots[k])
	}
	var err error
	if com.DataHash, err = l2.DataHash(l2.EncodeBatch(b.Txs)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotProvable, err)
	}
	com.TraceRoot = l2.ListRoot(t.PostRoots)
	com.WithdrawalRoot = l2.ListRoot(wleaves)
	c.ChainID, c.BatchNumber = b.ChainID, b.BatchNumber
	c.PrevRoot, c.DepositsBefore = felt(t.PrevRoot), felt(b.DepositsBefore)
	c.CommitmentHash = felt(com.Hash())
	return &Assignment{Circuit: c, Commitment: com}, nil
}

func felt(e fr.Element) *big.Int { return e.BigInt(new(big.Int)) }

// assignSlot fills slot s with transaction tx, its witness w in the state of root before, and
// checks the witness against before and after.
func assignSlot(p Params, s *Slot, tx *l2.Tx, chainID uint64, w *TxWitness, before, after fr.Element) error {
	words := tx.Words()
	for j := range words {
		s.Words[j] = felt(words[j])
	}
	s.Padding = 0
	s.Type, s.From, s.To, s.Amount, s.Nonce = uint8(tx.Type), tx.From, tx.To, tx.Amount, tx.Nonce
	zeroSender(&s.Sender)
	zeroRecipient(&s.Recipient)
	if tx.Type == l2.TxNoop {
		if !after.Equal(&before) {
			return fmt.Errorf("%w: a no-op changes the root", ErrNotProvable)
		}
		return nil
	}

	a := &w.Sender
	if a.Index != tx.From || len(a.Siblings) != p.Depth {
		return fmt.Errorf("%w: sender witness of index %d with %d siblings", ErrNotProvable, a.Index, len(a.Siblings))
	}
	oldLeaf := fr.Element{}
	if a.Exists {
		oldLeaf = a.Account.Leaf()
	}
	if !l2.VerifyWitness(before, p.Depth, tx.From, oldLeaf, a.Siblings) {
		return fmt.Errorf("%w: sender witness does not verify against the root before the transaction", ErrNotProvable)
	}
	acc := a.Account
	switch tx.Type {
	case l2.TxDeposit:
		acc.PubKey = tx.PubKey // a new account gets the deposit's key; an existing one holds it
		acc.Balance += tx.Amount
	default:
		if !a.Exists || !l2.VerifyTx(acc.PubKey, chainID, tx) {
			return fmt.Errorf("%w: invalid signature", ErrNotProvable)
		}
		acc.Balance -= tx.Amount
		acc.Nonce++
	}
	s.Sender.Empty = boolInt(!a.Exists)
	s.Sender.PubKeyX, s.Sender.PubKeyY = felt(acc.PubKey.X), felt(acc.PubKey.Y)
	s.Sender.Balance, s.Sender.Nonce = a.Account.Balance, a.Account.Nonce
	for l := range a.Siblings {
		s.Sender.Siblings[l] = felt(a.Siblings[l])
	}
	// The sender's path after its update: path[l] is its node at level l.
	path := make([]fr.Element, p.Depth+1)
	path[0] = acc.Leaf()
	for l := range p.Depth {
		if tx.From>>l&1 == 0 {
			path[l+1] = l2.Compress(path[l], a.Siblings[l])
		} else {
			path[l+1] = l2.Compress(a.Siblings[l], path[l])
		}
	}
	mid := path[p.Depth]
	if tx.Type != l2.TxTransfer {
		if !mid.Equal(&after) {
			return fmt.Errorf("%w: the sender's update does not give the trace root", ErrNotProvable)
		}
		return nil
	}

	// The recipient in the mid state (after the sender's update). Its witness from the source
	// is in the state before the transaction: the sibling where its path meets the sender's
	// is the sender's updated node; for a transfer to oneself it is the updated sender.
	b := &w.Recipient
	if b.Index != tx.To || len(b.Siblings) != p.Depth || !b.Exists {
		return fmt.Errorf("%w: recipient witness of index %d with %d siblings", ErrNotProvable, b.Index, len(b.Siblings))
	}
	recipient := b.Account
	siblings := make([]fr.Element, p.Depth)
	copy(siblings, b.Siblings)
	if tx.To == tx.From {
		recipient = acc
	} else {
		m := bits.Len32(tx.From^tx.To) - 1
		siblings[m] = path[m]
	}
	if !l2.VerifyWitness(mid, p.Depth, tx.To, recipient.Leaf(), siblings) {
		return fmt.Errorf("%w: recipient witness does not verify against the mid state", ErrNotProvable)
	}
	s.Recipient.KeyHash = felt(l2.HashMD(recipient.PubKey.X, recipient.PubKey.Y))
	s.Recipient.Balance, s.Recipient.Nonce = recipient.Balance, recipient.Nonce
	for l := range siblings {
		s.Recipient.Siblings[l] = felt(siblings[l])
	}
	recipient.Balance += tx.Amount
	if !l2.VerifyWitness(after, p.Depth, tx.To, recipient.Leaf(), siblings) {
		return fmt.Errorf("%w: the recipient's update does not give the trace root", ErrNotProvable)
	}
	return nil
}

// assignPadding fills a slot after the batch's last transaction: an all-zero no-op.
func assignPadding(s *Slot) {
	for j := range s.Words {
		s.Words[j] = 0
	}
	s.Padding = 1
	s.Type, s.From, s.To, s.Amount, s.Nonce = 0, 0, 0, 0, 0
	zeroSender(&s.Sender)
	zeroRecipient(&s.Recipient)
}

func zeroSender(a *SenderWitness) {
	a.Empty, a.PubKeyX, a.PubKeyY, a.Balance, a.Nonce = 0, 0, 0, 0, 0
	zeroVars(a.Siblings)
}

func zeroRecipient(b *RecipientWitness) {
	b.KeyHash, b.Balance, b.Nonce = 0, 0, 0
	zeroVars(b.Siblings)
}

func zeroVars(v []frontend.Variable) {
	for i := range v {
		v[i] = 0
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
