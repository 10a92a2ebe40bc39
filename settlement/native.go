package settlement

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// NativeL1 is the native L1 node as the adapters use it: *l1client.Client over QUIC, or
// node.Local in process (node.Node.Local).
type NativeL1 interface {
	ChainID() uint64
	Status(ctx context.Context) (l1api.Status, error)
	Account(ctx context.Context, a common.Address) (l1api.Account, error)
	Rollup(ctx context.Context, id uint64) (*l1api.Rollup, error)
	Batch(ctx context.Context, rollupID, number uint64) (*l1api.BatchRecord, error)
	Deposit(ctx context.Context, rollupID, index uint64) (*l1api.DepositEntry, error)
	Receipts(ctx context.Context, height uint64) ([]l1api.Receipt, error)
	SubmitTx(ctx context.Context, raw []byte) (common.Hash, error)
	// L2Key is the ML-DSA key registry (l1_l2Key): not the target's, but what the sequencer's
	// deposit source (l1source) reads beside the queue, so that one L1 handle serves both.
	L2Key(ctx context.Context, rollupID uint64, kh [32]byte) ([]byte, error)
}

// NativeTarget is the Target of the native L1. It signs submissions with the sequencer's
// ML-DSA-65 key.
type NativeTarget struct {
	l1       NativeL1
	key      *pqkey.PrivateKey
	rollupID uint64

	mu   sync.Mutex
	next uint64 // next nonce, at least the account's
}

// NewNativeTarget returns the adapter of rollup rollupID on l1: an *l1client.Client (the node
// over QUIC) or node.Node.Local() (in process).
func NewNativeTarget(l1 NativeL1, key *pqkey.PrivateKey, rollupID uint64) *NativeTarget {
	return &NativeTarget{l1: l1, key: key, rollupID: rollupID}
}

// Head implements Target.
func (t *NativeTarget) Head(ctx context.Context) (TargetHead, error) {
	st, err := t.l1.Status(ctx)
	if err != nil {
		return TargetHead{}, err
	}
	r, err := t.l1.Rollup(ctx, t.rollupID)
	if err != nil {
		return TargetHead{}, err
	}
	root, err := element(r.HeadRoot)
	if err != nil {
		return TargetHead{}, err
	}
	h := TargetHead{Height: st.Height, HeadNumber: r.HeadNumber, HeadRoot: root, FinalNumber: r.FinalNumber, VKHash: r.Config.VKHash}
	if p := r.Pending; p != nil && st.Height+1 >= p.ActivateAt {
		h.VKHash = p.Config.VKHash // the next block applies the config change first
	}
	if r.QueueLen > r.HeadConsumed {
		h.DepositWindow = r.Config.ForcedInclusionWindow
		if h.DepositDeadline, err = t.depositDeadline(ctx, r.HeadConsumed, r.Config.ForcedInclusionWindow); err != nil {
			return TargetHead{}, err
		}
		h.HasDeposit = true
	}
	return h, nil
}

// Batch implements Target.
func (t *NativeTarget) Batch(ctx context.Context, number uint64) (*PostedBatch, error) {
	r, err := t.l1.Rollup(ctx, t.rollupID)
	if err != nil {
		return nil, err
	}
	if number == 0 || number > r.HeadNumber {
		return nil, ErrNotPosted
	}
	rec, err := t.l1.Batch(ctx, t.rollupID, number)
	if errors.Is(err, l1api.ErrNotFound) {
		return nil, ErrNotPosted
	}
	if err != nil {
		return nil, err
	}
	c, err := rec.Commitment(r.Config.L2ChainID)
	if err != nil {
		return nil, err
	}
	return &PostedBatch{Mode: Mode(rec.Mode), Commitment: c}, nil
}

// Submit implements Target.
func (t *NativeTarget) Submit(ctx context.Context, s *Submission) (TxRef, error) {
	c := &s.Commitment
	p := &l1api.SubmitBatch{RollupID: t.rollupID, Mode: uint8(s.Mode), Number: c.BatchNumber,
		PrevRoot: c.PrevRoot.Bytes(), NewRoot: c.NewRoot.Bytes(), DepositsBefore: c.DepositsBefore.Bytes(),
		DepositsAfter: c.DepositsAfter.Bytes(), WithdrawalRoot: c.WithdrawalRoot.Bytes(), DataHash: c.DataHash.Bytes(),
		TraceRoot: c.TraceRoot.Bytes(), TxCount: c.TxCount, Data: s.Frame, Proof: s.Proof}
	for k := range s.Trace {
		p.Trace = append(p.Trace, s.Trace[k].Bytes())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	acct, err := t.l1.Account(ctx, t.key.Address())
	if err != nil {
		return TxRef{}, err
	}
	nonce := max(acct.Nonce, t.next)
	raw, err := l1api.SignTx(t.key, l1api.TxSubmitBatch, t.l1.ChainID(), nonce, p)
	if err != nil {
		return TxRef{}, err
	}
	st, err := t.l1.Status(ctx)
	if err != nil {
		return TxRef{}, err
	}
	fee, err := t.cost(ctx, st.Fees, raw, p, acct.Balance)
	if err != nil {
		return TxRef{}, fmt.Errorf("settlement: sending batch %d: %w", c.BatchNumber, err)
	}
	hash, err := t.l1.SubmitTx(ctx, raw)
	if err != nil && !errors.Is(err, l1api.ErrKnownTx) {
		return TxRef{}, fmt.Errorf("settlement: sending batch %d: %w", c.BatchNumber, err)
	}
	t.next = nonce + 1
	return TxRef{Hash: hash, Nonce: nonce, Height: st.Height, Fee: fee}, nil
}

// cost is the L1 fee of the signed submission raw of p; it fails before sending if balance
// cannot pay it and, for an optimistic batch on a rollup whose stake is not locked by this
// sequencer, the stake the batch locks (the node would refuse it or the block fail it).
func (t *NativeTarget) cost(ctx context.Context, fees l1api.Fees, raw []byte, p *l1api.SubmitBatch, balance uint64) (uint64, error) {
	fee, err := fees.Fee(len(raw), len(p.Data)+32*len(p.Trace))
	if err != nil {
		return 0, err
	}
	var bond uint64
	if p.Mode == l1api.ModeOptimistic {
		r, err := t.l1.Rollup(ctx, t.rollupID)
		if err != nil {
			return 0, err
		}
		if r.Stake == 0 || r.Staker != t.key.Address() {
			bond = r.Config.SequencerBond
		}
	}
	if fee > balance || bond > balance-fee {
		return 0, fmt.Errorf("the sequencer's L1 balance %d cannot pay the fee %d plus the stake %d", balance, fee, bond)
	}
	return fee, nil
}

// Outcome implements Target: the transaction is done once the account's nonce passed it (every
// included transaction with the right nonce consumes it, docs/l1.md §3); its receipt is looked
// for in the blocks since it was sent.
func (t *NativeTarget) Outcome(ctx context.Context, ref TxRef) (Outcome, error) {
	acct, err := t.l1.Account(ctx, t.key.Address())
	if err != nil {
		return Outcome{}, err
	}
	st, err := t.l1.Status(ctx)
	if err != nil {
		return Outcome{}, err
	}
	for h := ref.Height + 1; h <= st.Height; h++ {
		rs, err := t.l1.Receipts(ctx, h)
		if err != nil {
			return Outcome{}, err
		}
		for _, r := range rs {
			if r.TxHash == ref.Hash {
				return Outcome{Done: true, OK: r.OK, Error: r.Error}, nil
			}
		}
	}
	if acct.Nonce > ref.Nonce {
		// Another transaction took the nonce (a restart reused it): this one can never apply.
		return Outcome{Done: true, Error: "nonce used by another transaction"}, nil
	}
	return Outcome{}, nil
}

func element(b [32]byte) (fr.Element, error) {
	var e fr.Element
	if err := e.SetBytesCanonical(b[:]); err != nil {
		return e, fmt.Errorf("settlement: non-canonical field element: %w", err)
	}
	return e, nil
}
